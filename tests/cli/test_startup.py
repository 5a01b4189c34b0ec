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
# read-side records, the terminal-escaping tables (plain ASCII names) and frame ranges (no --frames);
# and the signal module, whose constants become enums at import (the handlers come from _signal), and the
# queue module (its SimpleQueue comes from _queue), and gettext (argparse's messages are not translated).
NOT_AT_START = {
    "logging", "tomllib", "unicodedata", "signal", "queue", "gettext",
    "vfxcopy.core.tree", "vfxcopy.core.writers.fanout", "vfxcopy.core.journal.rows", "vfxcopy.core.frames",
}
# Loaded by a verified copy before, not needed to write its manifest and report.
NOT_FOR_THE_MANIFEST = {
    "vfxcopy.core.verify.destination", "vfxcopy.core.verify.checksums", "html", "html.entities", "secrets",
    "random", "hmac",
}
# Not needed by a verified copy with the defaults, also not when a second job continues the history the
# first wrote: the reference library and what it brings (0.1 s), ElementTree (the XML is written as text,
# read with expat), OpenSSL's hashlib (C4 ids use _sha512), the csv module, base64 (no thumbnail of data
# files), the real inspect (a stand-in: dataclasses imports it, nothing calls it) with ast, dis, tokenize, and
# the real bz2 and lzma (stand-ins: shutil only probes them), and typing (the modules a copy runs import
# their types for type checkers only: 14 M instructions of a start), and the sqlite3 package with datetime
# (the journal takes the C module _sqlite3: core/sqlite.py).
NOT_FOR_A_DEFAULT_COPY = {
    "_bz2", "_lzma", "_compression", "typing", "sqlite3", "sqlite3.dbapi2", "datetime",
    "ascmhl", "ascmhl.history", "lxml", "lxml.etree", "click", "pathspec", "dateutil", "xml.etree.ElementTree",
    "xml.dom.minidom", "hashlib", "_hashlib", "csv", "base64", "ast", "dis", "tokenize", "email", "uuid", "socket",
    "platform", "getpass",
}
# The history a job reads back: the second job of a run finds it in memory, so nothing parses XML.
XML_READERS = {"pyexpat", "xml.parsers.expat"}


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
    # Without a journal nothing needs SQLite; without --json nothing needs the JSON encoder; without
    # a hash nothing needs xxhash.
    assert not {"sqlite3", "json", "xxhash"} & modules


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


@pytest.mark.parametrize(("text", "by_tomllib"), [
    ('[copy]\nverify = "none"\n', False),  # as `config set` writes it: read without tomllib (5 ms)
    ('[copy]\nverify = "none"  # no manifest, please\n', True),  # hand-edited: tomllib reads it
])
def test_a_settings_file_is_still_read(
    tmp_path: Path, cli_imports: Any, frames: Path, text: str, by_tomllib: bool
) -> None:
    home = tmp_path / "home"
    settings = home / ".config" / "vfxcopy" / "vfxcopy.toml"
    settings.parent.mkdir(parents=True)
    settings.write_text(text, encoding="utf-8")
    dest = tmp_path / "dest"
    code, modules = cli_imports("copy", str(frames), str(dest), "-q", "--no-journal", env=as_user(tmp_path, home))
    assert code == 0
    assert ("tomllib" in modules) is by_tomllib
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
        JobResult("abc", JobState.COMPLETED, message="ok"), item,
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


def test_the_records_with_a_shared_init_take_what_the_compiled_one_takes() -> None:
    """Records made with datamethods.record (no compiled __init__, start-up): constructed from the same
    arguments, positional or named, each has the values a plain @dataclass's __init__ gives; defaults
    and fresh factory values fill the rest; what that __init__ refuses (a missing, an extra, an
    unknown or a doubled argument) is refused with TypeError."""
    import dataclasses
    import inspect

    from vfxcopy.core.datamethods import _shared_init
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

    seq = Sequence("/src", "plate.", ".exr", 4, (1001, 1002))
    st = os.stat(".")
    calls: list[tuple[type, tuple[Any, ...], dict[str, Any]]] = [
        # __init__ written out (records made per frame): the same parameters as the compiled one.
        (FrameResult, ("abc", 0, 1001, "/s", "/d", FrameStatus.DONE), {"size": 3, "dest_stat": (3, 4)}),
        (PlannedItem, ("/s", "/d", 3, "write"), {}), (Item, (0, 1001, "/s", "plate.1001.exr"), {"lst": st}),
        (Written, (), {}), (Written, ("ab", "xxh3"), {"source": st}),
        (CopyOptions, (), {}), (CopyOptions, (), {"bwlimit": 5, "fsync": False}),
        (ConvertOptions, ("jpg", None, None, 90), {"channels": ["R"]}),
        (JobSpec, (seq, "/dst"), {"job_id": "abc"}), (JobSpec, (seq, "/dst"), {}),
        (Progress, ("abc", JobState.RUNNING, 2), {"eta_s": 1.5}), (LogMessage, ("abc", "info", "hi"), {}),
        (JobResult, ("abc", JobState.COMPLETED), {"message": "ok"}),
        (JobPlan, (JobSpec(seq, "/dst", job_id="abc"),), {"bytes_to_write": 5}), (Shortfall, ("/dst", 10, 3), {}),
    ]
    for cls, args, kwargs in calls:
        assert "__create_fn__" not in cls.__init__.__qualname__  # not compiled for the class
        reference = dataclasses.make_dataclass(cls.__name__, [
            (f.name, f.type, dataclasses.field(default=f.default, default_factory=f.default_factory))
            for f in dataclasses.fields(cls)])
        ours, theirs = cls(*args, **kwargs), reference(*args, **kwargs)
        for f in dataclasses.fields(cls):
            mine, expected = getattr(ours, f.name), getattr(theirs, f.name)
            if f.default_factory is dataclasses.MISSING or f.name in kwargs or f.name == "time":
                assert mine == expected or f.name == "time", (cls, f.name)
            else:  # a fresh value from the factory: equal in kind, never shared between records
                assert type(mine) is type(expected) and mine is not getattr(cls(*args, **kwargs), f.name)
        names = [p for p in inspect.signature(reference).parameters]
        if cls.__init__ is not _shared_init:  # written out: its parameters, their order and defaults
            assert [(p.name, p.kind, p.default) for p in inspect.signature(cls).parameters.values()] == [
                (p.name, p.kind, p.default) for p in inspect.signature(reference).parameters.values()], cls
        assert ours == cls(**{n: getattr(ours, n) for n in names})  # all named
        assert ours == cls(*[getattr(ours, n) for n in names])  # all positional
        required = [f.name for f in dataclasses.fields(cls)
                    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
        refused: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
            ((*[getattr(ours, n) for n in names], "extra"), {}), ((), {**kwargs, "unknown": 1}),
        ]
        if required:
            refused += [((), {}), (args, {required[0]: getattr(ours, required[0])})]
        for bad_args, bad_kwargs in refused:
            for maker in (cls, reference):
                with pytest.raises(TypeError):
                    maker(*bad_args, **bad_kwargs)


def test_a_sequence_is_the_value_its_frozen_dataclass_was() -> None:
    """Sequence is written out, not made by @dataclass (start-up of `vfxcopy ls`): it must print,
    compare, hash, refuse changes, copy, pickle and replace as the frozen dataclass it was, whose
    `total_size` (field(compare=False)) takes no part in == and hash."""
    import copy
    import dataclasses
    import pickle

    from vfxcopy.core.sequence import Sequence

    reference = dataclasses.make_dataclass("Sequence", [
        ("directory", str), ("head", str), ("tail", str), ("padding", int), ("frames", tuple),
        ("total_size", Any, dataclasses.field(default=None, compare=False)),
    ], frozen=True)
    values = ("/src", "plate.", ".exr", 4, (1001, 1002))
    ours, theirs = Sequence(*values, total_size=7), reference(*values, total_size=7)
    assert repr(ours) == repr(theirs)
    assert repr(Sequence(*values)) == repr(reference(*values))
    assert hash(ours) == hash(theirs) == hash(Sequence(*values))
    assert ours == Sequence(*values) and ours != theirs  # another class: never equal
    for i, changed in enumerate(["/other", "shot.", ".dpx", 3, (1,)]):
        mine = Sequence(*values[:i], changed, *values[i + 1:])  # type: ignore[arg-type]
        assert (mine == ours) is (reference(*values[:i], changed, *values[i + 1:]) == theirs) is False
    for name in ("directory", "frames", "total_size"):
        with pytest.raises(AttributeError):
            setattr(ours, name, None)
        with pytest.raises(AttributeError):
            delattr(ours, name)
    with pytest.raises(AttributeError):
        ours.unknown = 1  # type: ignore[attr-defined]
    for twin in (copy.copy(ours), copy.deepcopy(ours), pickle.loads(pickle.dumps(ours))):
        assert twin == ours and repr(twin) == repr(ours) and type(twin) is Sequence
    moved = ours.replace(directory="/mnt/src")
    assert moved == Sequence("/mnt/src", *values[1:]) and moved.total_size == 7 and ours.directory == "/src"
    assert repr(moved) == repr(dataclasses.replace(theirs, directory="/mnt/src"))
    with pytest.raises(TypeError):
        ours.replace(name="x")
    assert Sequence.from_dict(ours.to_dict()) == ours


def test_a_default_copy_of_one_sequence_loads_no_reader_and_no_reference_library(
        tmp_path: Path, cli_imports: Any) -> None:
    make_byte_sequence(tmp_path / "src", count=10, size=2048)
    dest = tmp_path / "dest"
    code, modules = cli_imports("copy", str(tmp_path / "src"), str(dest), "-q", env=as_user(tmp_path, tmp_path / "home"))
    assert code == 0
    assert sorted(p.suffix for p in (dest / "ascmhl").iterdir()) == [".csv", ".html", ".mhl", ".xml"]
    assert "vfxcopy.core.journal.store" in modules  # the defaults: journalled, verified
    assert not (NOT_FOR_A_DEFAULT_COPY | XML_READERS | NOT_AT_START | NOT_FOR_THE_MANIFEST) & modules
    from vfxcopy.core.verify import load_history

    assert len(load_history(dest).records) == 10


def test_the_second_job_of_a_run_continues_the_history_without_reading_it_back(
        tmp_path: Path, cli_imports: Any) -> None:
    """A folder of a sequence and a text file: two jobs, two generations; the second does not parse the first."""
    src = tmp_path / "src"
    make_byte_sequence(src, count=10, size=2048)
    (src / "notes.txt").write_text("notes\n")
    dest = tmp_path / "dest"
    env = as_user(tmp_path, tmp_path / "home")
    code, modules = cli_imports("copy", str(src), str(dest), "-q", env=env)
    assert code == 0
    assert len(list((dest / "ascmhl").glob("*.mhl"))) == 2
    assert not (NOT_FOR_A_DEFAULT_COPY | XML_READERS | NOT_AT_START | NOT_FOR_THE_MANIFEST) & modules
    from vfxcopy.core.verify import load_history

    history = load_history(dest)
    assert len(history.records) == 11 and [n for n, *_ in history.chain] == [1, 2]
    assert {r.generation for r in history.records.values()} == {1, 2}
    # A later run into the same folder reads the history from disk, with expat, still without ascmhl.
    (src / "more.txt").write_text("more\n")
    code, modules = cli_imports("copy", str(src), str(dest), "-q", env=env)
    assert code == 0
    assert XML_READERS & modules and not NOT_FOR_A_DEFAULT_COPY & modules
    assert [n for n, *_ in load_history(dest).chain] == [1, 2, 3, 4, 5]


_DEFERRED = """
import json, sys, threading
import vfxcopy.cli.common
from vfxcopy import deferred
out = {"deferred": deferred.is_deferred("inspect"), "ast": "ast" in sys.modules}
import dataclasses

@dataclasses.dataclass
class NoDoc:
    x: int

out["doc"] = NoDoc.__doc__  # dataclass asked inspect for the signature: the real module was loaded
out["after"] = deferred.is_deferred("inspect")
import inspect
out["real"] = type(inspect).__name__ == "module" and inspect.signature(len) is not None
out["same"] = dataclasses.inspect.signature is inspect.signature
import shutil
out["probed"] = [deferred.is_deferred("bz2"), deferred.is_deferred("lzma"), shutil._BZ2_SUPPORTED,
                 shutil._LZMA_SUPPORTED, "_bz2" in sys.modules]
import bz2, lzma
out["bz2"] = bz2.decompress(bz2.compress(b"frames")) == lzma.decompress(lzma.compress(b"frames")) == b"frames"
print(json.dumps(out))
"""

_DEFERRED_THREADS = """
import json, sys, threading
import vfxcopy.cli.common
import dataclasses
stand_in = dataclasses.inspect
seen = []
go = threading.Barrier(8)
def ask():
    go.wait()
    seen.append(stand_in.getmodule)
threads = [threading.Thread(target=ask) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"one": len({id(f) for f in seen}) == 1, "n": len(seen),
                  "real": sys.modules["inspect"].getmodule is seen[0]}))
"""


def test_inspect_bz2_and_lzma_are_loaded_only_when_something_asks_for_them() -> None:
    proc = subprocess.run([sys.executable, "-c", _DEFERRED], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == {"deferred": True, "ast": False, "doc": "NoDoc(x: int)", "after": False, "real": True,
                    "same": True, "probed": [True, True, True, True, False], "bz2": True}
    proc = subprocess.run([sys.executable, "-c", _DEFERRED_THREADS], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"one": True, "n": 8, "real": True}


_GETTEXT = r"""
import json, sys
from vfxcopy.cli import build_parser
parser = build_parser(["copy"])
out = {"loaded": "gettext" in sys.modules}
try:
    parser.parse_args(["copy", "--frames"])
except SystemExit:
    pass
import argparse, gettext
out["real"] = type(gettext).__name__ == "module" and callable(gettext.translation)
out["own"] = gettext.ngettext("a", "b", 2) == "b" and argparse.ngettext is not gettext.ngettext
print(json.dumps(out))
"""


def test_argparse_is_imported_without_gettext_which_stays_whole_for_others() -> None:
    """argparse's own messages are not translated (CPython ships no catalog for them), so the
    parser is built without loading gettext; gettext imported afterwards is the real module."""
    proc = subprocess.run([sys.executable, "-c", _GETTEXT], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1]) == {"loaded": False, "real": True, "own": True}
    assert "argument --frames: expected one argument" in proc.stderr


def test_slot_records_show_and_compare_as_dataclasses_of_their_slots() -> None:
    """The ASC MHL records are plain classes on datamethods.SlotRecord (no @dataclass at start-up):
    each prints, compares and refuses hashing as a @dataclass of its __slots__ would."""
    import copy
    import dataclasses

    from vfxcopy.core.verify.mhl_read import DirectoryRecord, ManifestRecord
    from vfxcopy.core.verify.mhl_write import ManifestEntry

    for ours in (ManifestRecord("a/b.exr", "xxh128", "ff", 5, 1), DirectoryRecord("a", "c4", "x", None, 2),
                 ManifestEntry("a/b.exr", 5, 1.5, "xxh128", "ff")):
        names = type(ours).__slots__
        reference = dataclasses.make_dataclass(type(ours).__name__, list(names))
        theirs = reference(*(getattr(ours, n) for n in names))
        assert repr(ours) == repr(theirs)
        assert ours == copy.copy(ours) and ours != theirs
        for name in names:
            other = copy.copy(ours)
            setattr(other, name, "other")
            assert ours != other
        with pytest.raises(TypeError):
            hash(ours)


def test_the_journal_s_sqlite_is_the_package_s_classes_and_errors() -> None:
    """core/sqlite.py gives the C module: its classes are the very ones `import sqlite3` gives, so an
    error raised through one is caught by `except` clauses written with the other."""
    import sqlite3 as package

    from vfxcopy.core.sqlite import sqlite3

    for name in ("connect", "Connection", "Error", "DatabaseError", "OperationalError", "IntegrityError"):
        assert getattr(sqlite3, name) is getattr(package, name)
    conn = sqlite3.connect(":memory:")
    with pytest.raises(package.OperationalError):
        conn.execute("SELECT * FROM missing")
    conn.close()
