"""`vfxcopy config get|set|unset|list|path`: the settings file the window and the command line share."""

from __future__ import annotations

import argparse
import json

from vfxcopy.cli.common import EXIT_OK, EXIT_USAGE, error, print_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "config",
        help="show or change the settings the window and the command line share",
        description=(
            "Settings live in one TOML file (vfxcopy config path says where; $VFXCOPY_CONFIG_DIR moves it). "
            "vfxcopy copy and convert take their defaults from it and their flags override it; the window's "
            "Settings dialog writes the same file."
        ),
        epilog=(
            "Examples: vfxcopy config set copy.verify full; vfxcopy config set notify.urls "
            "'[\"mailto://user:pass@example.com\", \"json://localhost:8080/hook\"]'; "
            "vfxcopy config unset copy.bwlimit"
        ),
    )
    # The keys as choices: argparse names them on a typo, and shell completion offers them.
    from vfxcopy.core.config import KEYS

    keys = list(KEYS)
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION")
    p = actions.add_parser("list", help="every setting with its value (default: marks the built-in ones)")
    p.add_argument("--json", action="store_true", help="print the settings as one JSON object")
    p = actions.add_parser("get", help="one setting's value")
    p.add_argument("key", metavar="KEY", choices=keys)
    p.add_argument("--json", action="store_true", help="print the value as JSON")
    p = actions.add_parser("set", help="change a setting (lists: a TOML array, or one item)")
    p.add_argument("key", metavar="KEY", choices=keys)
    p.add_argument("value", metavar="VALUE")
    p = actions.add_parser("unset", help="go back to the built-in default")
    p.add_argument("key", metavar="KEY", choices=keys)
    actions.add_parser("path", help="where the settings file is")
    parser.set_defaults(func=run)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def run(args: argparse.Namespace) -> int:
    from vfxcopy.core import config
    from vfxcopy.core.homes import NoHomeError

    action = args.config_action or "list"
    try:
        if action == "path":
            print(config.config_path())
            return EXIT_OK
        if action == "set":
            config.set_value(args.key, config.parse_text(args.key, args.value))
            return EXIT_OK
        if action == "unset":
            config.unset(args.key)
            return EXIT_OK
        settings = config.load()
        for problem in settings.problems:
            error("config", f"warning: {problem}")
        if action == "get":
            value = settings.get(args.key)
            if args.json:
                print(json.dumps(value))
            else:
                print(_shown(value))
            return EXIT_OK
        if getattr(args, "json", False):
            print_json(dict(settings.items()))
            return EXIT_OK
        from vfxcopy.core.notify import redacted

        width = max(len(name) for name in config.KEYS)
        for name, value in settings.items():
            mark = "" if settings.is_set(name) else "  (default)"
            if name == "notify.urls" and isinstance(value, list):
                value = [redacted(url) for url in value]  # passwords stay out of a listing (`get` shows them)
            print(f"{name:<{width}}  {_shown(value)}{mark}")
        return EXIT_OK
    except config.ConfigError as exc:
        error("config", str(exc))
        return EXIT_USAGE
    except NoHomeError as exc:  # no per-user folder for the settings file (see core/homes.py)
        error("config", f"no settings file: {exc}")
        return EXIT_USAGE
    except OSError as exc:
        error("config", f"cannot write the settings file: {exc}")
        return EXIT_USAGE
