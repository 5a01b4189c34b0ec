"""The settings file: defaults, checked values, all-or-nothing writes, hand edits, the old ini migrated once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import tomllib

from vfxcopy.core import config, config_legacy
from vfxcopy.core.jobs import ConflictPolicy, HashAlgo, VerifyMode


def test_no_file_gives_the_built_in_defaults() -> None:
    settings = config.load()
    assert not Path(config.config_path()).exists()  # reading writes nothing when there is nothing to migrate
    options = settings.copy_options()
    assert (options.verify, options.hash_algo, options.on_conflict, options.fsync, options.bwlimit) == (
        VerifyMode.TRANSFER, HashAlgo.XXH3, ConflictPolicy.SKIP_IDENTICAL, True, None)
    assert settings.number("jobs.at_once") == 2 and settings.strings("notify.urls") == []
    assert not settings.is_set("copy.verify")


def test_values_set_are_written_as_toml_and_read_back() -> None:
    config.set_value("copy.verify", "full")
    config.update({"copy.bwlimit": "50M", "copy.fsync": False, "notify.urls": ["json://127.0.0.1:9/x"]})
    path = Path(config.config_path())
    data = tomllib.loads(path.read_text())
    assert data["copy"] == {"verify": "full", "fsync": False, "bwlimit": "50M"}
    assert data["notify"]["urls"] == ["json://127.0.0.1:9/x"]
    options = config.load().copy_options()
    assert options.verify is VerifyMode.FULL and options.bwlimit == 50 << 20 and options.fsync is False
    config.unset("copy.verify")
    assert config.load().get("copy.verify") == "transfer"
    assert "verify" not in tomllib.loads(path.read_text())["copy"]


@pytest.mark.parametrize("name,value", [
    ("copy.verify", "sometimes"), ("copy.fsync", "yes"), ("jobs.at_once", 0), ("jobs.at_once", True),
    ("copy.bwlimit", "fast"), ("notify.urls", "mailto://a"), ("no.such", "x"),
])
def test_a_wrong_value_is_refused_and_nothing_is_written(name: str, value: object) -> None:
    config.set_value("copy.hash", "md5")
    before = Path(config.config_path()).read_bytes()
    with pytest.raises(config.ConfigError) as info:
        config.update({"copy.verify": "full", name: value})  # type: ignore[dict-item]
    assert name in str(info.value)
    assert Path(config.config_path()).read_bytes() == before


def test_text_from_the_command_line_takes_each_type() -> None:
    assert config.parse_text("copy.fsync", "off") is False
    assert config.parse_text("jobs.at_once", " 4 ") == 4
    assert config.parse_text("notify.urls", "mailto://u@h") == ["mailto://u@h"]
    assert config.parse_text("notify.urls", '["a://x", "b://y,z"]') == ["a://x", "b://y,z"]
    assert config.parse_text("notify.urls", "") == []
    with pytest.raises(config.ConfigError, match="whole number"):
        config.parse_text("jobs.at_once", "many")


def test_a_hand_edited_file_with_a_bad_value_keeps_the_good_ones() -> None:
    path = Path(config.config_path())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[copy]\nverify = "full"\nhash = "sha1"\nfsync = "no"\n[future]\nthing = 1\n')
    settings = config.load()
    assert settings.get("copy.verify") == "full"
    assert settings.get("copy.hash") == "xxh3" and settings.get("copy.fsync") is True
    assert len(settings.problems) == 3 and all("the default applies" in p for p in settings.problems)
    path.write_text("[copy\nverify = ")
    broken = config.load()
    assert broken.get("copy.verify") == "transfer" and "not a valid TOML file" in broken.problems[0]


# What QSettings(IniFormat) wrote for the window before the settings file existed.
OLD_INI = """[General]
confirm_cancel=false

[copy]
verify=full
hash=md5
conflict=rename
fsync=false
bwlimit=52428800

[jobs]
at_once=3

[recent]
destinations="[\\"/mnt/a\\"]"
"""


def test_the_windows_old_ini_is_migrated_once() -> None:
    folder = Path(config.config_dir())
    folder.mkdir(parents=True, exist_ok=True)
    (folder / config.LEGACY_INI).write_text(OLD_INI)
    settings = config.load()
    options = settings.copy_options()
    assert (options.verify, options.hash_algo, options.on_conflict, options.fsync, options.bwlimit) == (
        VerifyMode.FULL, HashAlgo.MD5, ConflictPolicy.RENAME, False, 50 << 20)
    assert settings.number("jobs.at_once") == 3
    data = tomllib.loads(Path(config.config_path()).read_text())
    assert data["meta"]["migrated_from"] == str(folder / config.LEGACY_INI)
    assert data["copy"]["bwlimit"] == "50M"
    # Once: a later change to the ini (the window of an older version) is not taken again,
    # and a setting changed since stays changed.
    config.set_value("copy.verify", "none")
    (folder / config.LEGACY_INI).write_text(OLD_INI.replace("hash=md5", "hash=xxh64"))
    again = config.load()
    assert again.get("copy.hash") == "md5" and again.get("copy.verify") == "none"
    assert tomllib.loads(Path(config.config_path()).read_text())["meta"]["migrated_from"]  # kept by later writes


def test_bad_values_in_the_old_ini_are_left_out(tmp_path: Path) -> None:
    ini = tmp_path / "old.ini"
    ini.write_text("[copy]\nverify=maybe\nbwlimit=abc\n[jobs]\nat_once=9999\n")
    assert config_legacy.legacy_values(ini) == {}


def test_the_folder_comes_from_platformdirs_unless_the_environment_says(monkeypatch: pytest.MonkeyPatch,
                                                                      tmp_path: Path) -> None:
    monkeypatch.delenv("VFXCOPY_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr("sys.platform", "linux")
    assert Path(config.config_path()) == tmp_path / "xdg" / "vfxcopy" / "vfxcopy.toml"
    monkeypatch.setenv("VFXCOPY_CONFIG_DIR", str(tmp_path / "mine"))
    assert Path(config.config_path()) == tmp_path / "mine" / "vfxcopy.toml"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux rule is spelled without platformdirs")
@pytest.mark.parametrize("xdg", ["", "relative/dir", "/abs/xdg"])
def test_the_folder_on_linux_is_platformdirs_own_answer(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                        xdg: str) -> None:
    from platformdirs import user_config_dir

    monkeypatch.delenv("VFXCOPY_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Path(config.config_dir()) == Path(user_config_dir("vfxcopy", appauthor=False, roaming=True))


def test_the_handover_pdf_is_the_windows_default_and_asked_for_on_the_command_line() -> None:
    from vfxcopy.core import config

    settings = config.load()
    assert settings.copy_options(window=True).pdf_report is True
    assert settings.copy_options().pdf_report is False  # fpdf2 costs ~0.6 s: not in every farm task
    always = config.set_value("report.pdf", "always")
    assert always.copy_options().pdf_report is True
    never = config.set_value("report.pdf", "never")
    assert never.copy_options(window=True).pdf_report is False
