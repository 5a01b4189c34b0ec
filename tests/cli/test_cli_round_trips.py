"""How often `vfxcopy copy` looks at its destination: on network storage every look is a round trip to the server.

A new folder is made and filled without being listed (nothing can be in it yet); a missing
destination is probed a few times (the command's safety check and plan, the engine's own safety
check), not once per check and module; an existing folder is listed once by the engine, for its
sweep of dead runs' temporaries and for the conflict checks together; the ASC MHL folder once per
generation. The counts are of our own calls (os.stat, lstat, listdir, scandir, statvfs on a path
under the destination), the same on any file system.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from vfxcopy.cli import main

LOOKS = ("stat", "lstat", "listdir", "scandir", "statvfs")


def _where(path: object, dir_fd: object) -> str | None:
    """The path a call looks at: an open folder (an fd, or a name relative to `dir_fd`) by its /proc link."""
    try:
        if isinstance(path, int):
            return os.readlink(f"/proc/self/fd/{path}")
        text = os.fsdecode(os.fspath(path))  # type: ignore[call-overload]
        if isinstance(dir_fd, int):
            return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), text)
        return os.path.abspath(text)
    except (OSError, TypeError):
        return None


def count_looks(monkeypatch: pytest.MonkeyPatch, dest: Path) -> collections.Counter[tuple[str, str]]:
    """(call, path relative to `dest`, "." for itself) -> how many times, for paths at or under `dest`
    and, for statvfs (asked of the folder it will be made in), anywhere."""
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    root = str(dest)

    def wrap(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def look(path: object = ".", *args: object, **kwargs: object) -> object:
            text = _where(path, kwargs.get("dir_fd"))
            if text is not None and (text == root or text.startswith(root + os.sep) or name == "statvfs"):
                seen[(name, os.path.relpath(text, root))] += 1
            return real(path, *args, **kwargs)
        return look

    for name in LOOKS:
        monkeypatch.setattr(os, name, wrap(name, getattr(os, name)))
    return seen


def test_a_copy_into_a_new_folder_never_lists_it_and_probes_it_a_few_times(
    byte_seq: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "show" / "shot010" / "plates"
    looks = count_looks(monkeypatch, dest)
    assert main(["copy", "-q", "--verify", "none", "--no-fsync", str(byte_seq[0].parent), str(dest)]) == 0
    looks = looks.copy()  # the command's, not this test's looks below
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in byte_seq)
    listings = {k: n for k, n in looks.items() if k[0] in ("listdir", "scandir")}
    assert listings == {}, "a folder this run made holds nothing: not listed"
    probes = sum(n for (call, rel), n in looks.items() if rel == "." and call in ("stat", "lstat"))
    # The command's check that it is not a file (1), its safety check (2: the path and its real
    # path), the plan's free-space anchor (1), the engine's own safety check (2), and once it is made,
    # its file system type (1). It was 12 before the plan and the engine shared what they found.
    assert probes <= 7, looks
    assert sum(n for (call, _rel), n in looks.items() if call == "statvfs") == 1, looks  # free space: asked once


def test_an_existing_folder_is_listed_once_by_the_run_and_its_manifest_folder_once(
    byte_seq: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "plates"
    dest.mkdir()
    (dest / "notes.txt").write_text("theirs")
    # A dead run's private temp folder (no lock held): the run's sweep removes it from the same listing.
    dead = dest / ".vfxcopy-0123456789ab-deadbeef.part"
    dead.mkdir()
    (dead / "0.part").write_bytes(b"partial")
    looks = count_looks(monkeypatch, dest)
    assert main(["copy", "-q", "--no-fsync", str(byte_seq[0].parent), str(dest)]) == 0
    looks = looks.copy()
    assert not dead.exists() and (dest / "notes.txt").read_text() == "theirs"
    assert all((dest / p.name).read_bytes() == p.read_bytes() for p in byte_seq)
    # The command's plan (its conflict check) and the engine (sweep and conflicts together) list the
    # destination; the manifest lists it for the frames in place and for the folder's hash.
    assert looks[("listdir", ".")] + looks[("scandir", ".")] <= 4, looks
    ascmhl = looks[("listdir", "ascmhl")] + looks[("scandir", "ascmhl")]
    assert ascmhl == 1, looks  # one listing for the sweep of leftovers and the generation's number
    # A second run: a second generation, numbered from that one listing.
    assert main(["copy", "-q", "--no-fsync", "--on-conflict", "overwrite", str(byte_seq[0].parent), str(dest)]) == 0
    assert sorted(p.name for p in (dest / "ascmhl").glob("*.mhl"))[-1].startswith("0002_")


def test_a_tree_copied_into_a_new_folder_lists_none_of_its_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vfxcopy.core.samples import make_byte_sequence

    src = tmp_path / "delivery"
    make_byte_sequence(src / "plates", count=4, size=1000)
    make_byte_sequence(src / "renders" / "v001", head="comp.", count=3, size=1000)
    (src / "notes.txt").write_text("notes")
    dest = tmp_path / "show" / "delivery"
    looks = count_looks(monkeypatch, dest)
    assert main(["copy", "-q", "--verify", "none", "--no-fsync", str(src), str(dest)]) == 0
    looks = looks.copy()
    assert (dest / "notes.txt").read_text() == "notes" and len(list((dest / "renders" / "v001").iterdir())) == 3
    assert {k: n for k, n in looks.items() if k[0] in ("listdir", "scandir")} == {}, looks


def test_a_source_folder_is_listed_once(byte_seq: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command asks whether a source folder holds sub-folders (a tree job) and scans its frames
    from the same listing: on network storage each listing is several round trips."""
    src = byte_seq[0].parent
    looks = count_looks(monkeypatch, src)
    assert main(["copy", "-q", "--verify", "none", "--no-fsync", str(src), str(tmp_path / "out")]) == 0
    looks = looks.copy()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in byte_seq)
    assert looks[("listdir", ".")] + looks[("scandir", ".")] == 1, looks
