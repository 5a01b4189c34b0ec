"""A user with no home folder (a farm task in a container, run as a user id the system does not
know): the settings and the journal say what to set, and a copy runs on without them."""

from __future__ import annotations

import os

import pytest

from vfxcopy.core import config
from vfxcopy.core.homes import NoHomeError, home
from vfxcopy.core.journal import Journal, data_dir


@pytest.fixture
def homeless(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HOME", "VFXCOPY_CONFIG_DIR", "VFXCOPY_DATA_DIR", "XDG_CONFIG_HOME", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # the password database knows no home
    monkeypatch.setattr("sys.platform", "linux")


def test_home_is_home_when_it_is_an_absolute_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/artist")
    assert home() == "/home/artist"
    monkeypatch.setenv("HOME", "artist")
    with pytest.raises(NoHomeError, match="HOME is not an absolute path \\('artist'\\)"):
        home()


@pytest.mark.usefixtures("homeless")
def test_no_home_is_said_with_what_to_set() -> None:
    with pytest.raises(NoHomeError) as info:
        home()
    assert isinstance(info.value, OSError)  # every command turns an OSError into a message
    assert "HOME is not set" in str(info.value) and "VFXCOPY_DATA_DIR" in str(info.value)


@pytest.mark.usefixtures("homeless")
def test_without_a_home_the_settings_are_the_defaults_with_a_problem_said() -> None:
    settings = config.load()
    assert settings.path is None and settings.values == {}
    assert settings.copy_options() == config.Config().copy_options()
    assert len(settings.problems) == 1 and "the defaults apply" in settings.problems[0]
    with pytest.raises(NoHomeError):
        config.set_value("copy.verify", "full")  # nowhere to write: said, nothing written


@pytest.mark.usefixtures("homeless")
def test_without_a_home_the_journal_cannot_be_opened(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    with pytest.raises(NoHomeError):
        data_dir()
    with pytest.raises(OSError, match="HOME is not set"):
        Journal()
    monkeypatch.setenv("XDG_DATA_HOME", "relative/share")  # XDG: a relative path is ignored
    with pytest.raises(NoHomeError):
        data_dir()
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/share")
    assert data_dir() == "/srv/share/vfxcopy"


@pytest.mark.usefixtures("homeless")
def test_without_a_home_the_built_in_presets_still_work() -> None:
    from vfxcopy.core import presets

    listed = presets.list_output_presets()
    assert listed and all(presets.is_builtin(name) for name in listed)
    with pytest.raises(NoHomeError):
        presets.save_user_outputs("mine", listed[next(iter(listed))])  # nowhere to keep it: said


def test_the_presets_live_beside_the_settings_file(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    from vfxcopy.core import presets

    monkeypatch.delenv("VFXCOPY_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/srv/xdg")
    assert presets.presets_path().parent == Path(config.config_path()).parent == Path("/srv/xdg/vfxcopy")
