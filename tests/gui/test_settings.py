"""AppSettings persistence and the settings dialog, against a temporary config folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDialog, QLabel, QLineEdit, QPushButton, QSpinBox

from vfxcopy.core.jobs import ConflictPolicy, HashAlgo, VerifyMode
from vfxcopy.gui.dialogs.settings_dialog import SettingsDialog
from vfxcopy.gui.settings import AppSettings, format_bwlimit, parse_bwlimit


def test_defaults_on_a_fresh_config() -> None:
    settings = AppSettings()
    assert settings.jobs_at_once == 2
    assert settings.default_verify is VerifyMode.TRANSFER
    assert settings.default_hash is HashAlgo.XXH3
    assert settings.default_conflict is ConflictPolicy.SKIP_IDENTICAL
    assert settings.fsync is True
    assert settings.confirm_cancel is True
    assert settings.confirm_overwrite is True
    assert settings.bwlimit is None
    assert settings.recent_destinations == []


def test_values_persist_in_the_config_folder_across_instances() -> None:
    settings = AppSettings()
    settings.jobs_at_once = 5
    settings.default_verify = VerifyMode.FULL
    settings.default_hash = HashAlgo.MD5
    settings.default_conflict = ConflictPolicy.OVERWRITE
    settings.fsync = False
    settings.confirm_cancel = False
    settings.bwlimit = 50 * 1024 * 1024
    settings.set_value("window/header", b"\x00\x01state")

    ini = Path(os.environ["VFXCOPY_CONFIG_DIR"]) / "vfxcopy.ini"
    assert Path(settings.file_name) == ini
    assert ini.is_file()
    # the defaults a copy starts from live in the settings file the command line reads
    toml = Path(os.environ["VFXCOPY_CONFIG_DIR"]) / "vfxcopy.toml"
    assert Path(settings.config_file_name) == toml
    assert "at_once = 5" in toml.read_text() and "jobs" not in ini.read_text()

    again = AppSettings()
    assert again.jobs_at_once == 5
    assert again.default_verify is VerifyMode.FULL
    assert again.default_hash is HashAlgo.MD5
    assert again.default_conflict is ConflictPolicy.OVERWRITE
    assert again.fsync is False
    assert again.confirm_cancel is False
    assert again.confirm_overwrite is True
    assert again.bwlimit == 50 * 1024 * 1024
    assert bytes(again.value("window/header")) == b"\x00\x01state"
    assert again.value("window/missing", "fallback") == "fallback"
    opts = again.copy_options()
    assert (opts.verify, opts.hash_algo, opts.on_conflict, opts.fsync, opts.bwlimit) == (
        VerifyMode.FULL, HashAlgo.MD5, ConflictPolicy.OVERWRITE, False, 50 * 1024 * 1024
    )


def test_recent_destinations_most_recent_first_unique_and_capped(tmp_path: Path) -> None:
    settings = AppSettings()
    settings.add_recent_destination(str(tmp_path / "only"))
    # One entry must survive the ini round trip as a list, not a bare string.
    assert AppSettings().recent_destinations == [str(tmp_path / "only")]
    for i in range(12):
        settings.add_recent_destination(str(tmp_path / f"d{i}"))
    settings.add_recent_destination(str(tmp_path / "d5"))
    recent = AppSettings().recent_destinations
    assert recent[0] == str(tmp_path / "d5")
    assert recent[1] == str(tmp_path / "d11")
    assert len(recent) == 10
    assert len(set(recent)) == 10
    assert str(tmp_path / "only") not in recent


def test_a_damaged_ini_falls_back_to_defaults() -> None:
    ini = Path(os.environ["VFXCOPY_CONFIG_DIR"]) / "vfxcopy.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    ini.write_text("[copy]\nverify=sometimes\nfsync=perhaps\n[jobs]\nat_once=lots\n[recent]\ndestinations=not json\n")
    settings = AppSettings()
    assert settings.default_verify is VerifyMode.TRANSFER
    assert settings.fsync is True
    assert settings.jobs_at_once == 2
    assert settings.recent_destinations == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", None), ("0", None), ("50M", 50 << 20), ("50m", 50 << 20), ("1.5G", 3 << 29), ("512k", 512 << 10),
     ("100MB", 100 << 20), ("2048", 2048), (" 10 M ", 10 << 20), ("20MiB/s", 20 << 20)],
)
def test_parse_bwlimit(text: str, expected: int | None) -> None:
    assert parse_bwlimit(text) == expected


@pytest.mark.parametrize("text", ["fast", "-5M", "50X", "M"])
def test_parse_bwlimit_rejects_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match="bandwidth"):
        parse_bwlimit(text)


def test_format_bwlimit_round_trips() -> None:
    for value in (50 << 20, 3 << 29, 512 << 10, 2048, 1000):
        assert parse_bwlimit(format_bwlimit(value)) == value
    assert format_bwlimit(None) == ""


def test_dont_ask_again_key_is_the_confirm_cancel_setting() -> None:
    # prompts.ask stores "don't ask again" under the same key the settings dialog shows.
    from vfxcopy.gui import prompts

    settings = AppSettings()
    assert prompts.should_ask("confirm_cancel", settings)
    settings.set_value("confirm_cancel", False)
    assert AppSettings().confirm_cancel is False
    settings.confirm_cancel = True
    assert prompts.should_ask("confirm_cancel", AppSettings())


def click_check(qtbot, check) -> None:
    """Click on the box itself: a check box only reacts to clicks on its indicator and label."""
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(6, check.height() // 2))


def _dialog(qtbot) -> SettingsDialog:
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _choose(qtbot, combo: QComboBox, data: object) -> None:
    """Open the combo's list and click the entry, as a user does."""
    index = combo.findData(data)
    assert index >= 0
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible)
    rect = view.visualRect(view.model().index(index, combo.modelColumn()))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible())
    assert combo.currentData() == data


def test_settings_dialog_round_trip_through_the_ini(qtbot) -> None:
    dialog = _dialog(qtbot)
    assert dialog.objectName() == "settingsDialog"
    jobs = dialog.findChild(QSpinBox, "jobsAtOnceSpin")
    assert jobs.value() == 2
    jobs.selectAll()
    qtbot.keyClicks(jobs, "4")
    _choose(qtbot, dialog.findChild(QComboBox, "verifyCombo"), VerifyMode.FULL)
    _choose(qtbot, dialog.findChild(QComboBox, "hashCombo"), HashAlgo.XXH64)
    _choose(qtbot, dialog.findChild(QComboBox, "conflictCombo"), ConflictPolicy.FAIL)
    click_check(qtbot, dialog.findChild(QCheckBox, "fsyncCheck"))
    click_check(qtbot, dialog.findChild(QCheckBox, "confirmCancelCheck"))
    qtbot.keyClicks(dialog.findChild(QLineEdit, "bwlimitEdit"), "80M")
    qtbot.mouseClick(dialog.findChild(QPushButton, "okButton"), Qt.MouseButton.LeftButton)
    assert dialog.result() == QDialog.DialogCode.Accepted

    toml = Path(os.environ["VFXCOPY_CONFIG_DIR"]) / "vfxcopy.toml"
    assert 'hash = "xxh64"' in toml.read_text()
    saved = AppSettings()
    assert saved.jobs_at_once == 4
    assert saved.default_verify is VerifyMode.FULL
    assert saved.default_hash is HashAlgo.XXH64
    assert saved.default_conflict is ConflictPolicy.FAIL
    assert saved.fsync is False
    assert saved.confirm_cancel is False
    assert saved.confirm_overwrite is True
    assert saved.bwlimit == 80 * 1024 * 1024

    again = _dialog(qtbot)
    assert again.findChild(QSpinBox, "jobsAtOnceSpin").value() == 4
    assert again.findChild(QComboBox, "conflictCombo").currentData() == ConflictPolicy.FAIL
    assert not again.findChild(QCheckBox, "fsyncCheck").isChecked()
    assert not again.findChild(QCheckBox, "confirmCancelCheck").isChecked()
    assert again.findChild(QLineEdit, "bwlimitEdit").text() == "80M"


def test_settings_dialog_cancel_changes_nothing(qtbot) -> None:
    dialog = _dialog(qtbot)
    jobs = dialog.findChild(QSpinBox, "jobsAtOnceSpin")
    jobs.selectAll()
    qtbot.keyClicks(jobs, "7")
    click_check(qtbot, dialog.findChild(QCheckBox, "fsyncCheck"))
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert AppSettings().jobs_at_once == 2
    assert AppSettings().fsync is True


def test_settings_dialog_refuses_a_bad_bandwidth_limit(qtbot) -> None:
    dialog = _dialog(qtbot)
    qtbot.keyClicks(dialog.findChild(QLineEdit, "bwlimitEdit"), "lots")
    ok = dialog.findChild(QPushButton, "okButton")
    assert not ok.isEnabled()
    assert "Bandwidth limit" in dialog.findChild(QLabel, "errorLabel").text()
    qtbot.mouseClick(ok, Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert AppSettings().bwlimit is None


def test_the_old_qsettings_defaults_are_migrated_once_and_reach_the_command_line(tmp_path: Path) -> None:
    from PySide6.QtCore import QSettings

    from vfxcopy.cli import main

    ini = Path(os.environ["VFXCOPY_CONFIG_DIR"]) / "vfxcopy.ini"
    ini.parent.mkdir(parents=True, exist_ok=True)
    old = QSettings(str(ini), QSettings.Format.IniFormat)  # as an earlier vfxcopy wrote them
    old.setValue("jobs/at_once", 3)
    old.setValue("copy/verify", "full")
    old.setValue("copy/hash", "md5")
    old.setValue("copy/fsync", False)
    old.setValue("copy/bwlimit", 20 * 1024 * 1024)
    old.sync()
    settings = AppSettings()
    assert (settings.jobs_at_once, settings.default_verify, settings.default_hash, settings.fsync,
            settings.bwlimit) == (3, VerifyMode.FULL, HashAlgo.MD5, False, 20 * 1024 * 1024)
    settings.default_hash = HashAlgo.XXH64  # changed in the window afterwards: not migrated over again
    assert AppSettings().default_hash is HashAlgo.XXH64
    from vfxcopy.core.config import load

    assert load().copy_options().hash_algo is HashAlgo.XXH64  # what `vfxcopy copy` starts from
    assert main(["config", "get", "copy.bwlimit"]) == 0
