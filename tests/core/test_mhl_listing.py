"""One listing of each destination folder for writing an ASC MHL generation (core/verify/mhl_listing.py):
the nested histories found as os.walk found them, each folder listed once, and where asking a
file's kind costs a call to the file system, the looks made several at a time."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from vfxcopy.core.roundtrips import AHEAD_MIN as STAT_AHEAD_MIN
from vfxcopy.core.verify import ManifestEntry, hash_path, load_history, mhl_listing, write_generation
from vfxcopy.core.verify.mhl_listing import TreeListing


def _tree(root: Path) -> None:
    for folder in ("ascmhl", "a/ascmhl", "a/b/ascmhl", "c/d/ascmhl", "c/x/y", "f/real", "g", "h/i/j/ascmhl"):
        (root / folder).mkdir(parents=True)
    (root / "g" / "ascmhl").write_text("a file, not a history")
    (root / "e").symlink_to(root / "c", target_is_directory=True)  # a link to a folder: not entered
    (root / "f" / "ascmhl").symlink_to(root / "f" / "real", target_is_directory=True)  # counts as a folder
    (root / "k").symlink_to(root / "missing")  # a dangling link: a file
    for i in range(5):
        (root / f"shot.{1001 + i}.exr").write_bytes(b"x")
        (root / "c" / "x" / f"p.{i}.dpx").write_bytes(b"y")


def _nested(walk: object, top: str) -> list[str]:
    """The search for nested histories as the history's reading makes it (pruned below each found)."""
    found = []
    for dirpath, dirnames, _files in walk:  # type: ignore[attr-defined]
        if dirpath != top and "ascmhl" in dirnames:
            found.append(dirpath)
            dirnames.clear()
    return found


def test_the_walk_is_os_walk_in_name_order(tmp_path: Path) -> None:
    root = tmp_path / "delivery"
    _tree(root)
    ours = list(TreeListing(str(root)).walk(str(root)))
    theirs = [(d, sorted(ds), sorted(fs)) for d, ds, fs in os.walk(root)]
    assert sorted(ours) == sorted(theirs)
    assert [d for d, _, _ in ours] == sorted(d for d, _, _ in theirs)  # top-down, depth first, in name order
    for top in (root, root / "c"):
        assert _nested(TreeListing(str(root)).walk(str(top)), str(top)) == sorted(
            _nested(os.walk(top), str(top)))
    assert _nested(TreeListing(str(root)).walk(str(root)), str(root)) == [
        str(root / n) for n in ("a", "c/d", "f", "h/i/j")]


def test_writing_a_generation_lists_each_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading the history (its search for nested ones) and the folder hashes share one listing."""
    root = tmp_path / "delivery"

    def deliver(batch: int) -> None:
        entries = []
        for i in range(10):
            path = root / "plates" / f"p{batch}.{1001 + i}.exr"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(bytes([batch, i]) * 30)
            entries.append(ManifestEntry(f"plates/{path.name}", 60, 1.7e9, "xxh128", hash_path(str(path), "xxh128")))
        write_generation(root, entries, now=1.7e9)

    deliver(0)
    listed: list[str] = []
    real = os.scandir

    def counting(path: str) -> object:
        listed.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", counting)
    deliver(1)
    assert sorted(listed) == sorted([str(root), str(root / "ascmhl"), str(root / "plates")])
    text = sorted((root / "ascmhl").glob("0002_*.mhl"))[0].read_text()
    assert "<roothash>" in text and ">plates</path>" in text  # the folder hashes were made from it
    assert len(load_history(root).records) == 20


def test_where_a_kind_costs_a_call_the_listing_is_looked_up_several_at_a_time(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """sshfs lists a folder it listed before without the kinds: each kind would be a call to the
    server one after the other. The listing's entries are then looked up by several threads, and
    what the search and the folder hashes ask afterwards is what those looks left."""
    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(STAT_AHEAD_MIN + 36):
        (folder / f"f.{i:04d}").write_bytes(b"z" * i)
    (folder / "sub").mkdir()
    monkeypatch.setattr(TreeListing, "network", lambda self: True)
    looks: list[str] = []

    def profile(frame: object, event: str, arg: object) -> None:
        if event == "c_call" and getattr(arg, "__name__", "") == "stat" and isinstance(
                getattr(arg, "__self__", None), os.DirEntry):
            looks.append(threading.current_thread().name)

    for costly, expected in ((False, []), (True, ["vfxcopy-ahead"] * (STAT_AHEAD_MIN + 37))):
        monkeypatch.setattr(mhl_listing, "_kinds_cost_a_call", lambda items, costly=costly: costly)
        listing = TreeListing(str(tmp_path))
        looks.clear()
        threading.setprofile(profile)
        try:
            assert listing.entries(str(folder)) and looks == []  # a caller that asks no kinds: nothing looked up
            entries = listing.entries(str(folder), kinds=True)
        finally:
            threading.setprofile(None)  # type: ignore[arg-type]
        assert looks == expected
        assert listing.looked_up(str(folder)) is costly
        assert [e.name for e in entries] == sorted(os.listdir(folder))
        assert listing.entries(str(folder), kinds=True) is entries  # listed once, looked up once
        assert looks == expected
        assert {e.name: e.stat(follow_symlinks=False).st_size for e in entries if e.is_file()} == {
            f"f.{i:04d}": i for i in range(STAT_AHEAD_MIN + 36)}
        assert [e.name for e in entries if e.is_dir()] == ["sub"]


def test_a_folder_that_cannot_be_listed_is_skipped_by_the_search_and_asked_again(tmp_path: Path) -> None:
    root = tmp_path / "delivery"
    _tree(root)
    listing = TreeListing(str(root))
    with pytest.raises(OSError):
        listing.entries(str(root / "gone"))
    (root / "gone" / "ascmhl").mkdir(parents=True)
    assert [e.name for e in listing.entries(str(root / "gone"))] == ["ascmhl"]  # a failure is not kept
    assert list(listing.walk(str(root / "k"))) == []  # a dangling link: nothing, no error
    assert list(listing.walk(str(root / "shot.1001.exr"))) == []  # a file: nothing, no error
