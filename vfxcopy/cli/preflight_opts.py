"""`--preflight POLICY` for the commands that make jobs (copy, convert): parsed here, checked by the engine."""

from __future__ import annotations

import argparse

from vfxcopy.cli.common import UsageError


def add_preflight_arguments(parser: argparse.ArgumentParser) -> None:
    """`--preflight POLICY` for a command that makes jobs (copy, convert)."""
    parser.add_argument(
        "--preflight", metavar="POLICY",
        help="check the source first and refuse, warn or ignore per finding kind, e.g. "
        "'truncated=refuse,outlier=warn' ('default': empty, truncated and undecodable frames refuse the "
        "job, gaps and outliers warn, duplicates are not looked for); kinds as in 'vfxcopy check --help'",
    )


def preflight_policy_from_args(args: argparse.Namespace) -> dict[str, str] | None:
    """JobSpec.preflight from --preflight: None without it, {} for 'default'. Raises UsageError."""
    text = getattr(args, "preflight", None)
    if text is None:
        return None
    if text.strip().lower() == "default":
        return {}
    from vfxcopy.core.preflight import parse_policy

    try:
        return parse_policy(text)
    except ValueError as exc:
        raise UsageError(f"--preflight: {exc}") from None
