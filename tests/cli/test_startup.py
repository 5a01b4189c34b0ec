"""Start-up of `vfxcopy copy`: what a run of a few frames loads only on first use, checked in fresh interpreters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.core.samples import make_byte_sequence

# Loaded by every copy before this round, used by none of a plain run of a folder of frames:
# the logging package (the queue's error paths), the TOML parser (no settings file), the
# folder-tree scanner (no sub-folder), the fan-out of several destinations, the journal's
# read-side records, the terminal-escaping tables (plain ASCII names) and frame ranges (no --frames).
NOT_AT_START = {
    "logging", "tomllib", "unicodedata",
    "vfxcopy.core.tree", "vfxcopy.core.writers.fanout", "vfxcopy.core.journal.rows", "vfxcopy.core.frames",
}
# Loaded by a verified copy before, not needed to write its manifest and report.
NOT_FOR_THE_MANIFEST = {
    "vfxcopy.core.verify.destination", "vfxcopy.core.verify.checksums", "html", "html.entities", "secrets",
    "random", "hmac",
}


def as_user(tmp_path: Path, home: Path) -> dict[str, str]:
    """The environment of a user with an empty home (no settings file) and the test's data folder."""
    env = {k: v for k, v in os.environ.items() if k not in ("VFXCOPY_CONFIG_DIR", "XDG_CONFIG_HOME")}
    env["HOME"] = str(home)
    env["VFXCOPY_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    make_byte_sequence(tmp_path / "src", count=4, size=2048)
    return tmp_path / "src"


def test_a_plain_copy_loads_no_module_it_does_not_use(tmp_path: Path, cli_imports: Any, frames: Path) -> None:
    home = tmp_path / "home"
    dest = tmp_path / "dest"
    code, modules = cli_imports("copy", str(frames), str(dest), "--no-journal", "--verify", "none",
                                "--no-fsync", env=as_user(tmp_path, home))
    assert code == 0
    assert sorted(p.name for p in dest.iterdir()) == [f"plate.{n}.exr" for n in range(1001, 1005)]
    assert not NOT_AT_START & modules
    # Without a journal nothing needs SQLite; without --json nothing needs the JSON encoder.
    assert not {"sqlite3", "json"} & modules


def test_a_copy_with_the_journal_writes_it_without_its_read_side(tmp_path: Path, cli_imports: Any, frames: Path) -> None:
    code, modules = cli_imports("copy", str(frames), str(tmp_path / "dest"), "-q", "--verify", "none",
                                env=as_user(tmp_path, tmp_path / "home"))
    assert code == 0
    assert "vfxcopy.core.journal.store" in modules  # the journal was really written
    assert not NOT_AT_START & modules
    code, modules = cli_imports("jobs", "--json", env=as_user(tmp_path, tmp_path / "home"))
    assert code == 0
    assert "vfxcopy.core.journal.rows" in modules  # reading it back makes its records


def test_a_verified_copy_writes_its_manifest_and_report_with_what_they_need(tmp_path: Path, cli_imports: Any, frames: Path) -> None:
    dest = tmp_path / "dest"
    code, modules = cli_imports("copy", str(frames), str(dest), "-q", env=as_user(tmp_path, tmp_path / "home"))
    assert code == 0
    written = sorted(p.suffix for p in (dest / "ascmhl").iterdir())
    assert written == [".csv", ".html", ".mhl", ".xml"]
    assert "vfxcopy.core.verify.mhl_write" in modules and "vfxcopy.core.report" in modules
    assert not (NOT_AT_START | NOT_FOR_THE_MANIFEST) & modules
    page = next((dest / "ascmhl").glob("*.html")).read_text(encoding="utf-8")
    assert "plate.1001.exr" in page and "&lt;" not in page


def test_a_run_without_a_settings_file_leaves_the_settings_folder_alone(tmp_path: Path, cli_imports: Any, frames: Path) -> None:
    """No settings file and no old ini to migrate: nothing to lock, so no folder or lock file appears."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the settings folder is spelled from $HOME on Linux only")
    home = tmp_path / "home"
    code, _ = cli_imports("copy", str(frames), str(tmp_path / "dest"), "-q", "--no-journal", env=as_user(tmp_path, home))
    assert code == 0
    assert not (home / ".config" / "vfxcopy").exists()


def test_a_settings_file_is_still_read(tmp_path: Path, cli_imports: Any, frames: Path) -> None:
    home = tmp_path / "home"
    settings = home / ".config" / "vfxcopy" / "vfxcopy.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text('[copy]\nverify = "none"\n', encoding="utf-8")
    dest = tmp_path / "dest"
    code, modules = cli_imports("copy", str(frames), str(dest), "-q", "--no-journal", env=as_user(tmp_path, home))
    assert code == 0
    assert "tomllib" in modules
    assert not (dest / "ascmhl").exists()  # copy.verify = none: no manifest


def test_a_folder_with_a_sub_folder_is_still_one_tree_job(tmp_path: Path, cli_imports: Any, frames: Path) -> None:
    (frames / "notes").mkdir()
    (frames / "notes" / "readme.txt").write_text("hello\n")
    dest = tmp_path / "dest"
    code, modules = cli_imports("copy", str(frames), str(dest), "-q", "--no-journal", "--verify", "none",
                                env=as_user(tmp_path, tmp_path / "home"))
    assert code == 0
    assert "vfxcopy.core.tree" in modules
    assert (dest / "notes" / "readme.txt").read_text() == "hello\n"  # the tree's layout, under DEST


def test_the_verify_package_loads_its_rooms_on_first_use() -> None:
    script = (
        "import json, sys\n"
        "import vfxcopy.core.verify as v\n"
        "before = [m for m in sys.modules if m.startswith('vfxcopy.core.verify.')]\n"
        "from vfxcopy.core.verify import LOCK_FILE, mhl_write, write_generation\n"
        "after = sorted(m for m in sys.modules if m.startswith('vfxcopy.core.verify.'))\n"
        "missing = [n for n in v.__all__ if not hasattr(v, n)]\n"
        "print(json.dumps({'before': before, 'after': after, 'missing': missing, 'lock': LOCK_FILE,\n"
        "                  'room': mhl_write.__name__, 'same': write_generation is mhl_write.write_generation,\n"
        "                  'listed': sorted(set(v.__all__) - set(dir(v)))}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["before"] == []  # importing the package loads no room
    assert "vfxcopy.core.verify.checksums" not in data["after"]  # writing a manifest needs no checksum list
    assert data["missing"] == [] and data["listed"] == []
    assert data["lock"] == ".vfxcopy-mhl.lock" and data["room"] == "vfxcopy.core.verify.mhl_write" and data["same"]
    proc = subprocess.run([sys.executable, "-c", "from vfxcopy.core.verify import nothing_like_this"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "ImportError" in proc.stderr


def test_the_journal_records_are_one_class_wherever_imported_from() -> None:
    from vfxcopy.core import journal
    from vfxcopy.core.journal import records, rows

    assert journal.JournalJob is records.JournalJob is rows.JournalJob
    assert journal.JournalFrame is records.JournalFrame is rows.JournalFrame
    with pytest.raises(AttributeError):
        _ = records.NoSuchRecord  # type: ignore[attr-defined]


def test_the_records_show_compare_and_hash_as_the_dataclasses_they_were() -> None:
    """Records made with repr=False, eq=False on core/datamethods.py's Record or FrozenRecord (start-up):
    each must print, compare and hash (or refuse to) exactly as a plain @dataclass of the same fields."""
    import dataclasses

    from vfxcopy.core.jobs import (
        ConvertOptions,
        CopyOptions,
        FrameResult,
        FrameStatus,
        JobResult,
        JobSpec,
        JobState,
        LogMessage,
        Progress,
    )
    from vfxcopy.core.preview import JobPlan, PlannedItem, Shortfall
    from vfxcopy.core.sequence import Sequence
    from vfxcopy.core.writers.base import Item, Written

    seq = Sequence("/src", "plate.", ".exr", 4, (1001, 1002), total_size=7)
    item = PlannedItem("/src/a", "/dst/a", 5, "write")
    samples: list[Any] = [
        CopyOptions(bwlimit=5), ConvertOptions(to="jpg", channels=["R", "G"]), JobSpec(seq, "/dst", job_id="abc"),
        FrameResult("abc", 0, 1001, "/src/a", "/dst/a", FrameStatus.DONE, 5, "ff", "xxh3"),
        Progress("abc", JobState.RUNNING, 2, eta_s=1.5), LogMessage("abc", "info", "hi", time=1.0),
        JobResult("abc", JobState.COMPLETED, message="ok"), seq, item,
        JobPlan(JobSpec(seq, "/dst", job_id="abc"), [item], bytes_to_write=5), Shortfall("/dst", 10, 3),
        Item(0, 1001, "/src/a", "a", 5), Written("ff", "xxh3"),
    ]
    for ours in samples:
        cls = type(ours)
        spec = []
        for f in dataclasses.fields(cls):
            kw: dict[str, Any] = {"repr": f.repr, "compare": f.compare, "hash": f.hash}
            if f.default is not dataclasses.MISSING:
                kw["default"] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                kw["default_factory"] = f.default_factory
            spec.append((f.name, f.type, dataclasses.field(**kw)))
        frozen = cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        reference = dataclasses.make_dataclass(cls.__name__, spec, frozen=frozen)  # a plain @dataclass
        theirs = reference(**{f.name: getattr(ours, f.name) for f in dataclasses.fields(cls)})
        assert repr(ours) == repr(theirs)
        assert ours == dataclasses.replace(ours) and theirs == dataclasses.replace(theirs)
        for f in dataclasses.fields(cls):  # every field: equal again, or not, as dataclass decides
            assert (ours == dataclasses.replace(ours, **{f.name: "other"})) is (
                theirs == dataclasses.replace(theirs, **{f.name: "other"}))
        assert ours != theirs  # another class: never equal, as dataclass's __eq__
        if frozen:
            assert hash(ours) == hash(theirs)
            with pytest.raises(dataclasses.FrozenInstanceError):
                ours.head = "x"
        else:
            for obj in (ours, theirs):
                with pytest.raises(TypeError):
                    hash(obj)
