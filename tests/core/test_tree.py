"""Folder trees through the engine: layout kept, rules, links, planted links, cancel, resume, source verification, plan."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import (
    CancelToken,
    ConflictPolicy,
    CopyOptions,
    FrameResult,
    FrameStatus,
    JobState,
    LogMessage,
    Progress,
    is_temp_name,
)
from vfxcopy.core.preview import plan_job, shortfalls
from vfxcopy.core.resume import resume_job
from vfxcopy.core.tree import is_litter, make_rules, scan_tree, tree_job

LEFT_OUT = {".DS_Store", "._edit_ref.mov"}  # the litter the default skips


def snapshot(root: Path, skip: set[str] = frozenset(), skip_dirs: set[str] = frozenset({"ascmhl"})) -> dict[str, object]:
    """Every path below `root` -> its bytes (files), ('link', target) or 'dir'; links are not followed."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in list(dirnames):
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if name in skip_dirs and rel_dir == ".":
                dirnames.remove(name)
            elif os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
            else:
                out[rel] = "dir"
        for name in filenames:
            if name in skip:
                continue
            full = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            out[rel] = ("link", os.readlink(full)) if os.path.islink(full) else Path(full).read_bytes()
    return out


def leftovers(root: Path) -> list[str]:
    return [os.path.join(d, n) for d, dirs, files in os.walk(root) for n in dirs + files if is_temp_name(n)
            or n.startswith(".vfxcopy-")]


def test_rules_first_match_wins_folders_anchors_double_star_and_litter(delivery_tree: Path) -> None:
    only_exr = scan_tree(str(delivery_tree), make_rules([(True, "*/"), (True, "*.exr"), (False, "*")]))
    assert {e.path.rsplit(".", 1)[-1] for e in only_exr.items} == {"exr"}
    assert len(only_exr.items) == 6 + 4 + 5
    assert {s.head for s in only_exr.sequences} == {"plate.", "fg01_", "shot_020_comp_v003."}
    assert {s.directory for s in only_exr.sequences} == {"shot_010/plates/bg01", "shot_010/plates/fg01",
                                                         "shot_020/comp/v003"}
    # An anchored folder rule leaves the folder out and is not entered; '**' crosses folders.
    no_ref = scan_tree(str(delivery_tree), make_rules([(False, "/shot_010/ref/"), (False, "shot_020/**/*.exr")]))
    paths = {e.path for e in no_ref.entries}
    assert "shot_010/ref" not in paths and not any(p.startswith("shot_010/ref/") for p in paths)
    assert not any(p.startswith("shot_020/comp/v003/") for p in paths) and "shot_020/comp/v003" in paths
    assert "shot_010/plates/bg01/plate.1001.exr" in paths  # not under shot_020
    # Defaults: litter out, other hidden files in; a rule that names litter wins.
    default = {e.path for e in scan_tree(str(delivery_tree)).entries}
    assert ".vendor_settings" in default and ".DS_Store" not in default and "shot_010/._edit_ref.mov" not in default
    assert "empty/nested_empty" in default and "shot_020/odd\nname.txt" in default
    kept = {e.path for e in scan_tree(str(delivery_tree), make_rules([(True, ".DS_Store")])).entries}
    assert ".DS_Store" in kept and "shot_010/._edit_ref.mov" not in kept
    assert is_litter("Thumbs.db") and is_litter("._x") and not is_litter(".vendor_settings")


def test_tree_job_keeps_the_layout_byte_for_byte(delivery_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    events: list[object] = []
    tree = scan_tree(str(delivery_tree))
    spec = tree_job(str(delivery_tree), str(dest), tree)
    result = run_job(spec, CancelToken(), events.append)
    assert result.state is JobState.COMPLETED, result.message
    assert snapshot(dest) == snapshot(delivery_tree, LEFT_OUT)
    assert os.readlink(dest / "shot_010" / "current.cdl") == "plates/bg01/bg01.cdl"  # a link, not a copy
    assert (dest / "empty" / "nested_empty").is_dir()
    assert len(result.frames) == len(tree.items) and all(f.status is FrameStatus.DONE for f in result.frames)
    assert leftovers(dest) == []
    # The manifest lists the files under their relative paths.
    mhl = next((dest / "ascmhl").glob("0001_*.mhl")).read_text()
    assert "shot_010/plates/bg01/plate.1003.exr" in mhl and "shot_010/ref/sync.wav" in mhl
    # One job: the last progress counts every item of the tree.
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert last.frames_total == len(tree.items) and last.frames_done == len(tree.items)
    # A second run finds everything in place: skipped, nothing replaced, the history continues.
    again = run_job(tree_job(str(delivery_tree), str(dest), scan_tree(str(delivery_tree))), CancelToken())
    assert again.state is JobState.COMPLETED, again.message
    assert all(f.status is FrameStatus.SKIPPED for f in again.frames)
    assert len(list((dest / "ascmhl").glob("000?_*.mhl"))) == 2


def test_links_out_of_the_tree_are_listed_and_never_reproduced(delivery_tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    os.symlink(str(outside), delivery_tree / "shot_010" / "escape.txt")
    os.symlink("../../outside.txt", delivery_tree / "relative_escape.txt")
    tree = scan_tree(str(delivery_tree))
    assert sorted(rel for rel, _ in tree.links_out) == ["relative_escape.txt", "shot_010/escape.txt"]
    assert not any(e.path.endswith("escape.txt") for e in tree.entries)
    # Allowed: what they point to is copied as a plain file.
    followed = scan_tree(str(delivery_tree), follow_links_out=True)
    dest = tmp_path / "dest"
    result = run_job(tree_job(str(delivery_tree), str(dest), followed,
                              copy=CopyOptions(follow_symlinks=True)), CancelToken())
    assert result.state is JobState.COMPLETED, result.message
    assert not (dest / "shot_010" / "escape.txt").is_symlink()
    assert (dest / "shot_010" / "escape.txt").read_text() == "secret"
    # A link swapped to point out after the scan fails its item instead of being written.
    dest2 = tmp_path / "dest2"
    spec = tree_job(str(delivery_tree), str(dest2), tree)
    os.remove(delivery_tree / "shot_010" / "current.cdl")
    os.symlink(str(outside), delivery_tree / "shot_010" / "current.cdl")
    swapped = run_job(spec, CancelToken())
    [bad] = swapped.failed
    assert bad.source.endswith("current.cdl") and "outside the tree" in (bad.error or "")
    assert not os.path.lexists(dest2 / "shot_010" / "current.cdl")


def test_a_link_planted_at_a_destination_folder_is_refused_not_followed(delivery_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dest.mkdir()
    os.symlink(str(elsewhere), dest / "shot_010")
    result = run_job(tree_job(str(delivery_tree), str(dest), scan_tree(str(delivery_tree))), CancelToken())
    assert result.state is JobState.FAILED
    assert f"{dest / 'shot_010'}: exists and is not a folder" in result.message
    assert list(elsewhere.iterdir()) == []
    assert leftovers(dest) == []


def test_names_with_dot_dot_are_refused_before_any_byte_moves(delivery_tree: Path, tmp_path: Path) -> None:
    spec = tree_job(str(delivery_tree), str(tmp_path / "dest"), scan_tree(str(delivery_tree)))
    assert spec.tree is not None
    spec.tree.append({"path": "../escaped.txt", "kind": "file", "size": 1})
    result = run_job(spec, CancelToken())
    assert result.state is JobState.FAILED and "'..'" in result.message
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "dest").exists()


def test_cancel_mid_tree_leaves_nothing_partial(delivery_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    token = CancelToken()
    placed: list[FrameResult] = []

    def report(event: object) -> None:
        if isinstance(event, FrameResult) and event.status is FrameStatus.DONE:
            placed.append(event)
            if len(placed) == 8:
                token.cancel()

    # 200 KB/s: the tree's 400 KB take 2 s, so the cancel after 8 files comes well before the end
    # even when a loaded machine reports the 8th file late (at 2 MB/s, all were placed by then).
    spec = tree_job(str(delivery_tree), str(dest), scan_tree(str(delivery_tree)),
                    copy=CopyOptions(bwlimit=200_000))
    result = run_job(spec, token, report)
    assert result.state is JobState.CANCELLED
    assert leftovers(dest) == []
    got = snapshot(dest)
    want = snapshot(delivery_tree, LEFT_OUT)
    files = {k: v for k, v in got.items() if v != "dir"}
    assert 8 <= len(files) < len([v for v in want.values() if v != "dir"])
    for rel, content in files.items():
        assert want[rel] == content, rel  # whatever is there is complete
    assert not (dest / "ascmhl").exists()  # no manifest for a cancelled job


def test_resume_finishes_a_cancelled_tree_job(delivery_tree: Path, tmp_path: Path) -> None:
    from vfxcopy.core.journal import Journal

    dest = tmp_path / "dest"
    token = CancelToken()
    count = [0]

    def report(event: object) -> None:
        if isinstance(event, FrameResult):
            count[0] += 1
            if count[0] == 5:
                token.cancel()

    with Journal() as journal:
        spec = tree_job(str(delivery_tree), str(dest), scan_tree(str(delivery_tree)))
        first = run_job(spec, token, report, journal=journal)
        assert first.state is JobState.CANCELLED
        events: list[object] = []
        result = resume_job(spec.job_id, journal, CancelToken(), events.append)
        assert result.state is JobState.COMPLETED, result.message
    assert snapshot(dest) == snapshot(delivery_tree, LEFT_OUT)
    assert leftovers(dest) == []
    assert len(result.frames) == len(scan_tree(str(delivery_tree)).items)


def test_source_verification_catches_a_bit_flipped_after_the_copy(delivery_tree: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core import source_check

    victim = delivery_tree / "shot_010" / "plates" / "bg01" / "plate.1003.exr"
    real_verify = source_check.verify_sources

    flipped: list[bool] = []

    def flip_then_verify(*args: object, **kw: object) -> list[FrameResult]:
        if flipped:
            return real_verify(*args, **kw)  # type: ignore[arg-type]
        flipped.append(True)
        # The copy is complete and in place; now the card "goes bad": one bit flips, same size, same mtime.
        data = bytearray(victim.read_bytes())
        data[777] ^= 0x10
        st = victim.stat()
        with open(victim, "r+b") as f:
            f.write(data)
        os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns))
        return real_verify(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(source_check, "verify_sources", flip_then_verify)
    dest = tmp_path / "dest"
    events: list[object] = []
    spec = tree_job(str(delivery_tree), str(dest), scan_tree(str(delivery_tree)), copy=CopyOptions(verify_source=True))
    result = run_job(spec, CancelToken(), events.append)
    assert result.state is JobState.FAILED and result.exit_code == 1
    [bad] = result.failed
    assert bad.source == str(victim) and "reads back differently after the copy" in (bad.error or "")
    assert "1 of" in result.message and "source verification" in result.message
    assert any(isinstance(e, FrameResult) and e.status is FrameStatus.FAILED and e.source == str(victim) for e in events)
    assert not (dest / "ascmhl").exists()  # a failed job writes no manifest
    # Untouched, the same check passes and says so (the source is read as it is now).
    clean = run_job(tree_job(str(delivery_tree), str(tmp_path / "dest2"), scan_tree(str(delivery_tree)),
                             copy=CopyOptions(verify_source=True)), CancelToken(), events.append)
    assert clean.state is JobState.COMPLETED, clean.message
    assert any(isinstance(e, LogMessage) and e.text.startswith("source verified") for e in events)


def test_source_with_an_ascmhl_history_is_checked_against_it_and_the_history_continues(
    delivery_tree: Path, tmp_path: Path
) -> None:
    ascmhl = shutil.which("ascmhl") or os.path.join(os.path.dirname(os.sys.executable), "ascmhl")  # type: ignore[attr-defined]
    # The reference tool cannot hash a link to a folder, nor find a name with a newline again.
    for name in ("shot_010/current.cdl", "shot_020/plates_link", "shot_020/odd\nname.txt"):
        os.remove(delivery_tree / name)
    subprocess.run([ascmhl, "create", str(delivery_tree), "-h", "xxh128"], check=True, capture_output=True)
    # The card changed since it was first offloaded (same size): the copy reads what is there now.
    victim = delivery_tree / "shot_020" / "comp" / "v003" / "shot_020_comp_v003.1002.exr"
    data = bytearray(victim.read_bytes())
    data[10] ^= 1
    victim.write_bytes(data)
    dest = tmp_path / "dest"
    result = run_job(tree_job(str(delivery_tree), str(dest), scan_tree(str(delivery_tree)),
                              copy=CopyOptions(verify_source=True)), CancelToken())
    [bad] = result.failed
    assert bad.source == str(victim) and "differs from the source's ASC MHL history (generation 1" in (bad.error or "")
    # Put back, the copy passes and the destination continues the source's history (generation 2).
    data[10] ^= 1
    victim.write_bytes(data)
    dest2 = tmp_path / "dest2"
    ok = run_job(tree_job(str(delivery_tree), str(dest2), scan_tree(str(delivery_tree)),
                          copy=CopyOptions(verify_source=True)), CancelToken())
    assert ok.state is JobState.COMPLETED, ok.message
    gens = sorted(p.name[:4] for p in (dest2 / "ascmhl").glob("*.mhl"))
    assert gens == ["0001", "0002"]
    assert (dest2 / "shot_010" / "._edit_ref.mov").exists()  # listed by the history: copied, litter or not
    check = subprocess.run([os.path.join(os.path.dirname(ascmhl), "ascmhl-debug"), "verify", str(dest2)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_plan_names_conflicts_and_space_without_writing(delivery_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    (dest / "shot_010" / "ref").mkdir(parents=True)
    (dest / "shot_010" / "ref" / "sync.wav").write_bytes(b"other")  # another size: fails under skip-identical
    same = delivery_tree / "delivery.edl"
    shutil.copy2(same, dest / "delivery.edl")
    before = snapshot(dest)
    spec = tree_job(str(delivery_tree), str(dest), scan_tree(str(delivery_tree)))
    plan = plan_job(spec)
    actions = {os.path.relpath(i.dest, dest): i.action for i in plan.items}
    assert actions["shot_010/ref/sync.wav"] == "fail" and actions["delivery.edl"] == "skip-if-identical"
    assert actions["shot_010/current.cdl"] == "link" and actions["shot_010/ref/edit_ref.mov"] == "write"
    assert "shot_020/comp/v003" in plan.folders and "shot_010/ref" not in plan.folders
    assert plan.bytes_to_write >= sum(i.size for i in plan.items if i.action == "write")
    overwrite = plan_job(tree_job(str(delivery_tree), str(dest), scan_tree(str(delivery_tree)),
                                  copy=CopyOptions(on_conflict=ConflictPolicy.OVERWRITE)))
    assert {i.action for i in overwrite.items if os.path.relpath(i.dest, dest) == "shot_010/ref/sync.wav"} == {"overwrite"}
    assert snapshot(dest) == before  # planning wrote nothing
    assert shortfalls([plan]) == []


def test_tree_items_run_concurrently_with_another_job_into_the_same_folder(delivery_tree: Path, tmp_path: Path) -> None:
    """Two tree jobs into one destination at once: each places only its own items, both complete."""
    dest = tmp_path / "dest"
    other = tmp_path / "other"
    shutil.copytree(delivery_tree / "shot_020", other / "shot_030", symlinks=True)
    results = []

    def run(root: Path) -> None:
        results.append(run_job(tree_job(str(root), str(dest), scan_tree(str(root))), CancelToken()))

    threads = [threading.Thread(target=run, args=(root,)) for root in (delivery_tree, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.state for r in results] == [JobState.COMPLETED, JobState.COMPLETED], [r.message for r in results]
    assert (dest / "shot_030" / "comp" / "v003" / "shot_020_comp_v003.1001.exr").read_bytes() == (
        delivery_tree / "shot_020" / "comp" / "v003" / "shot_020_comp_v003.1001.exr").read_bytes()
    assert leftovers(dest) == []


@pytest.mark.parametrize(("pattern", "path", "is_dir", "matches"), [
    ("a/**/b", "a/b", False, True),
    ("a/**/b", "a/x/y/b", False, True),
    ("a/**/b", "ab", False, False),
    ("*.ex?", "shot/plate.1001.exr", False, True),  # no '/': the name at any depth
    ("*.exr", "shot/plate.1001.exr.bak", False, False),
    ("plates/*.exr", "plates/p.exr", False, True),  # a '/': from the root
    ("plates/*.exr", "shot/plates/p.exr", False, False),
    ("/p.exr", "p.exr", False, True),
    ("/p.exr", "sub/p.exr", False, False),
    ("**/plates/*.exr", "shot/plates/p.exr", False, True),
    ("cache/", "cache", True, True),
    ("cache/", "cache", False, False),  # folders only
    ("[!.]*", ".hidden", False, False),
    ("[!.]*", "shown", False, True),
    ("naïve ☃.txt", "x/naïve ☃.txt", False, True),
    ("odd?name.txt", "odd\nname.txt", False, True),
])
def test_glob_rules(pattern: str, path: str, is_dir: bool, matches: bool) -> None:
    [rule] = make_rules([(False, pattern)])
    assert rule.matches(path, is_dir) is matches


def _deep_folder(root: Path, depth: int = 20) -> int:
    """Folders of 250-character names, `depth` deep, made relative to each other (the whole path is
    past what the system opens by name); returns the path's length."""
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d" * 250, dir_fd=fd)
            inner = os.open("d" * 250, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        out = os.open("plate.1001.exr", os.O_WRONLY | os.O_CREAT, dir_fd=fd)
        os.close(out)
    finally:
        os.close(fd)
    return len(str(root)) + depth * 251


def test_a_path_past_the_systems_limit_is_named_in_one_short_line(tmp_path: Path) -> None:
    """A tree holding a path longer than the system opens by name is refused before copying, in a
    line a user can read: the path shortened, the limit, what to do (it printed 5,000 characters)."""
    root = tmp_path / "delivery"
    (root / "deep").mkdir(parents=True)
    (root / "plate.1001.exr").write_bytes(b"x")
    length = _deep_folder(root / "deep")
    assert length > 4096
    tree = scan_tree(str(root))
    assert len(tree.unreadable) == 1
    message = tree.unreadable[0]
    assert len(message) < 400, message
    assert message.startswith(str(root / "deep"))
    assert "4,096 bytes at most" in message and "--exclude" in message
    assert "characters)" in message
    kept = scan_tree(str(root), make_rules([(False, "deep/")]))
    assert not kept.unreadable and [e.path for e in kept.items] == ["plate.1001.exr"]


def test_a_name_too_long_and_a_path_too_long_are_told_apart() -> None:
    import errno

    from vfxcopy.core.errors import explain

    long_name = explain(OSError(errno.ENAMETOOLONG, "File name too long"), "/out/" + "n" * 300, "destination")
    assert "file name too long (255 bytes at most)" in long_name
    deep = "/out" + "/" + "/".join(["d" * 250] * 20) + "/plate.1001.exr"
    long_path = explain(OSError(errno.ENAMETOOLONG, "File name too long"), deep, "source")
    assert "the path is too long (4,096 bytes at most)" in long_path and "shorten its folder names" in long_path
    assert len(long_path) < 450 and long_path.startswith("/out/ddd") and "plate.1001.exr" in long_path
