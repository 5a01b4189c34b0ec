"""`vfxcopy copy TREE DEST` through the real command: layout, rules, links out, dry run, free space, kill and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vfxcopy.core.jobs import is_temp_name
from vfxcopy.core.samples import make_byte_sequence


def vfxcopy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True, timeout=120)


def diff_r(a: Path, b: Path, *excludes: str) -> subprocess.CompletedProcess[str]:
    """GNU diff: same names, same bytes, links compared as links (not followed)."""
    args = ["diff", "-r", "--no-dereference"]
    for pattern in excludes:
        args += ["-x", pattern]
    return subprocess.run([*args, str(a), str(b)], capture_output=True, text=True)


def all_paths(root: Path) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, n), root) for d, dirs, files in os.walk(root) for n in dirs + files)


def test_copy_tree_keeps_layout_byte_for_byte(delivery_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    proc = vfxcopy("copy", str(delivery_tree), str(dest), "--json")
    assert proc.returncode == 0, proc.stderr
    same = diff_r(delivery_tree, dest, ".DS_Store", "._*", "ascmhl")
    assert same.returncode == 0, same.stdout + same.stderr
    assert not (dest / ".DS_Store").exists() and (dest / ".vendor_settings").exists()
    assert (dest / "empty" / "nested_empty").is_dir()
    assert (dest / "shot_020" / "plates_link").is_symlink()
    [job] = json.loads(proc.stdout)["jobs"]  # the whole tree is one job
    assert job["state"] == "completed" and job["frames_done"] == 25 and job["spec"]["tree"]
    assert not any(is_temp_name(n) for n in all_paths(dest))
    # `vfxcopy verify` agrees with what was written (a link to a folder has no content to list).
    check = vfxcopy("verify", str(dest), "--json")
    report = json.loads(check.stdout)
    assert report["missing"] == [] and report["altered"] == []


def test_include_exclude_rules_in_order(delivery_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    proc = vfxcopy("copy", str(delivery_tree), str(dest), "-q", "--verify", "none",
                   "--exclude", "/shot_010/ref/", "--include", "*/", "--include", "*.exr", "--exclude", "*")
    assert proc.returncode == 0, proc.stderr
    got = [p for p in all_paths(dest) if not p.endswith("/") and os.path.isfile(dest / p)]
    assert got and all(p.endswith(".exr") for p in got)
    assert len(got) == 15 and not (dest / "shot_010" / "ref").exists()
    assert (dest / "empty" / "nested_empty").is_dir()  # folders are included by '*/'
    bad = vfxcopy("copy", str(delivery_tree), str(tmp_path / "d2"), "--include", "x", "--flat")
    assert bad.returncode == 2 and "cannot be used with --flat" in bad.stderr


def test_links_out_of_the_tree_are_refused_before_anything_is_written(delivery_tree: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(str(tmp_path / "secret.txt"), delivery_tree / "shot_010" / "escape.txt")
    dest = tmp_path / "dest"
    proc = vfxcopy("copy", str(delivery_tree), str(dest))
    assert proc.returncode == 2
    assert f"{delivery_tree / 'shot_010' / 'escape.txt'} -> {tmp_path / 'secret.txt'}" in proc.stderr
    assert "--follow-symlinks" in proc.stderr and not dest.exists()
    followed = vfxcopy("copy", str(delivery_tree), str(dest), "-q", "--follow-symlinks")
    assert followed.returncode == 0, followed.stderr
    assert (dest / "shot_010" / "escape.txt").read_text() == "secret" and not (dest / "shot_010" / "escape.txt").is_symlink()
    excluded = vfxcopy("copy", str(delivery_tree), str(tmp_path / "d3"), "-q", "--exclude", "escape.txt")
    assert excluded.returncode == 0, excluded.stderr


def test_dry_run_prints_the_plan_and_writes_nothing(delivery_tree: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    fresh = vfxcopy("copy", str(delivery_tree), str(dest), "--dry-run")
    assert fresh.returncode == 0, fresh.stderr
    assert not dest.exists()
    assert "  write      shot_010/plates/bg01/plate.1001.exr" in fresh.stdout
    assert "  mkdir      empty/nested_empty/" in fresh.stdout
    assert "  link       shot_010/current.cdl" in fresh.stdout
    assert "  contains   shot_010/plates/bg01/plate.####.exr 1001-1006  (6 items" in fresh.stdout
    assert "dry run: nothing was written" in fresh.stdout
    # Against a destination with conflicts: what the policy will do, item by item; nothing changes.
    (dest / "shot_010" / "ref").mkdir(parents=True)
    (dest / "shot_010" / "ref" / "sync.wav").write_bytes(b"another take")
    before = {p: (dest / p).stat().st_mtime_ns for p in all_paths(dest)}
    proc = vfxcopy("copy", str(delivery_tree), str(dest), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["dry_run"] and plan["exit_code"] == 0
    [job] = plan["jobs"]
    by_dest = {os.path.relpath(i["dest"], dest): i for i in job["items"]}
    assert by_dest["shot_010/ref/sync.wav"]["action"] == "fail" and "another size" in by_dest["shot_010/ref/sync.wav"]["note"]
    assert by_dest["shot_010/ref/edit_ref.mov"]["action"] == "write" and job["conflicts"] == 1
    contents = {c["label"]: c for c in job["contents"]}
    assert contents["shot_020/comp/v003/shot_020_comp_v003.####.exr 1001-1005"]["items"] == 5
    [where] = plan["destinations"]
    assert where["bytes_to_write"] >= sum(i["size"] for i in job["items"] if i["action"] == "write")
    assert where["free"] > 0 and where["shortfall"] == 0
    assert {p: (dest / p).stat().st_mtime_ns for p in all_paths(dest)} == before
    overwrite = json.loads(vfxcopy("copy", str(delivery_tree), str(dest), "--dry-run", "--json",
                                   "--on-conflict", "overwrite").stdout)
    assert {i["action"] for i in overwrite["jobs"][0]["items"] if i["dest"].endswith("sync.wav")} == {"overwrite"}


def test_not_enough_free_space_is_refused_with_the_shortfall(tmp_path: Path, tmpfs_mount) -> None:  # type: ignore[no-untyped-def]
    small = tmpfs_mount("2m")
    src = tmp_path / "src"
    make_byte_sequence(src / "a" / "plates", count=8, size=400 * 1024)  # 3.2 MB for 2 MiB
    (src / "b").mkdir()
    dest = small / "dest"
    proc = vfxcopy("copy", str(src), str(dest), "--json")
    assert proc.returncode == 2
    out = json.loads(proc.stdout)
    [short] = out["shortfalls"]
    assert short["needed"] > 8 * 400 * 1024 and short["missing"] == short["needed"] - short["free"] > 0
    assert f"short by {short['missing']} bytes" in proc.stderr and "not enough free space" in proc.stderr
    assert os.listdir(small) == []  # nothing at all: not even the destination folder
    dry = json.loads(vfxcopy("copy", str(src), str(dest), "--dry-run", "--json").stdout)
    assert dry["exit_code"] == 2 and dry["destinations"][0]["shortfall"] == short["missing"]
    fits = vfxcopy("copy", str(src / "a" / "plates" / "plate.1001.exr"), str(dest), "--frames", "1001-1002", "-q")
    assert fits.returncode == 0, fits.stderr  # what fits still goes


def test_verify_source_flag(delivery_tree: Path, tmp_path: Path) -> None:
    proc = vfxcopy("copy", str(delivery_tree), str(tmp_path / "dest"), "--verify-source", "-v")
    assert proc.returncode == 0, proc.stderr
    assert "source verified: 23 files read again, all identical" in proc.stderr  # 25 items, two of them links
    bad = vfxcopy("copy", str(delivery_tree), str(tmp_path / "d2"), "--verify-source", "--verify", "none")
    assert bad.returncode == 2 and "--verify-source" in bad.stderr


@pytest.mark.slow
def test_killed_tree_job_resumes_to_the_full_layout(delivery_tree: Path, tmp_path: Path) -> None:
    from vfxcopy.core.journal import Journal

    big = delivery_tree / "shot_030" / "plates"
    make_byte_sequence(big, count=12, size=512 * 1024, seed=9)
    dest = tmp_path / "dest"
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "copy", str(delivery_tree), str(dest), "--bwlimit", "4M",
                             "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            done = list((dest / "shot_030" / "plates").glob("plate.*.exr")) if (dest / "shot_030" / "plates").exists() else []
            if len(done) >= 3:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the copy never got to the big plates")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert diff_r(delivery_tree, dest, ".DS_Store", "._*", "ascmhl").returncode != 0  # really unfinished
    with Journal() as journal:
        [job] = journal.jobs()
    resumed = vfxcopy("jobs", "resume", job.job_id[:8], "-q")
    assert resumed.returncode == 0, resumed.stderr
    same = diff_r(delivery_tree, dest, ".DS_Store", "._*", "ascmhl")
    assert same.returncode == 0, same.stdout
    assert not any(n.startswith(".vfxcopy-") for n in all_paths(dest))


def test_a_card_with_an_ascmhl_history_is_checked_against_it_and_continued(tmp_path: Path) -> None:
    card = tmp_path / "A001"
    frames = make_byte_sequence(card / "CLIPS" / "A001C003", head="A001C003.", count=6, size=50_000, seed=4)
    (card / "A001C003.xml").write_text("<clip/>\n")
    bin_dir = os.path.dirname(sys.executable)
    made = subprocess.run([os.path.join(bin_dir, "ascmhl"), "create", str(card), "-h", "xxh128"],
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    # The card was offloaded once (generation 1); since then one frame changed on it, same size.
    data = bytearray(frames[2].read_bytes())
    data[4096] ^= 0x01
    frames[2].write_bytes(data)
    bad = vfxcopy("copy", str(card), str(tmp_path / "shuttle"), "--verify-source", "--json")
    assert bad.returncode == 1
    [job] = json.loads(bad.stdout)["jobs"]
    [failed] = job["failed"]
    assert failed["source"] == str(frames[2]) and "ASC MHL history (generation 1" in failed["error"]
    data[4096] ^= 0x01
    frames[2].write_bytes(data)
    good = vfxcopy("copy", str(card), str(tmp_path / "shuttle2"), "--verify-source")
    assert good.returncode == 0, good.stderr
    history = sorted(p.name[:4] for p in (tmp_path / "shuttle2" / "ascmhl").glob("*.mhl"))
    assert history == ["0001", "0002"]  # the card's generation, then this copy's
    check = subprocess.run([os.path.join(bin_dir, "ascmhl-debug"), "verify", str(tmp_path / "shuttle2")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def temps_under(root: Path) -> list[str]:
    return [p for p in all_paths(root) if os.path.basename(p).startswith(".vfxcopy-")] if root.exists() else []


def test_two_destinations_one_fills_up_while_the_other_completes(tmp_path: Path, tmpfs_mount) -> None:  # type: ignore[no-untyped-def]
    small = tmpfs_mount("6m")
    src = tmp_path / "src"
    make_byte_sequence(src / "plates", count=10, size=400 * 1024)  # 4 MB: fits when the copy starts
    (src / "edl").mkdir()
    (src / "edl" / "cut.edl").write_text("TITLE: cut\n")
    good, full = tmp_path / "good", small / "full"
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "copy", str(src), str(good), "--also", str(full),
                             "--bwlimit", "4M", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((full / "plates").glob("plate.*.exr")):
            time.sleep(0.01)
        # Another program takes the room that was free at the start.
        with open(small / "filler.bin", "wb") as f:
            try:
                f.write(b"\0" * (6 << 20))
            except OSError:
                pass
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    jobs = {Path(j["dest_dir"]): j for j in json.loads(out)["jobs"]}
    assert jobs[good]["state"] == "completed" and jobs[good]["frames_done"] == 11
    assert jobs[full]["state"] == "failed" and jobs[full]["frames_failed"] >= 1
    assert "no space left" in (jobs[full]["message"] + err).lower() or "full" in jobs[full]["message"].lower()
    assert diff_r(src, good, "ascmhl").returncode == 0
    assert temps_under(full) == [] and temps_under(good) == []
    for name in os.listdir(full / "plates"):
        assert (full / "plates" / name).read_bytes() == (src / "plates" / name).read_bytes()  # only whole files


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_cancel_mid_file_with_three_destinations_leaves_nothing_partial(tmp_path: Path, sig: signal.Signals) -> None:
    src = tmp_path / "src"
    make_byte_sequence(src / "plates", count=6, size=3 * 1024 * 1024)
    (src / "docs").mkdir()
    (src / "docs" / "readme.txt").write_text("hello\n")
    dests = [tmp_path / f"d{i}" for i in range(3)]
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "copy", str(src), str(dests[0]), "--also", str(dests[1]),
                             "--also", str(dests[2]), "--bwlimit", "6M", "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(temps_under(d) for d in dests) and any(list((d / "plates").glob("plate.*")) for d in dests
                                                          if (d / "plates").exists()):
                break
            time.sleep(0.01)
        else:
            pytest.fail("the copies never got going")
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + int(sig), err
    report = json.loads(out)
    assert report["cancelled"] and len(report["jobs"]) == 3
    for dest in dests:
        assert temps_under(dest) == [], dest
        for rel in all_paths(dest):
            if (dest / rel).is_file():
                assert (dest / rel).read_bytes() == (src / rel).read_bytes(), rel


def test_fifos_and_sockets_in_a_tree_are_left_out_and_said(delivery_tree: Path, tmp_path: Path) -> None:
    """No hang on a FIFO, nothing made in their place, the rest copied, and the user told which
    items were left out and why (they were left out silently before)."""
    import socket

    os.mkfifo(delivery_tree / "shot_010" / "plates" / "bg01" / "plate.1099.exr")  # named like a frame
    bound = socket.socket(socket.AF_UNIX)
    try:
        bound.bind(str(delivery_tree / "render.sock"))
        dest = tmp_path / "dest"
        proc = vfxcopy("copy", str(delivery_tree), str(dest), "--verify", "none", "--json")
    finally:
        bound.close()
    assert proc.returncode == 0, proc.stderr
    assert ("2 items are not a file or a folder and are not copied: render.sock (a socket), "
            "shot_010/plates/bg01/plate.1099.exr (a FIFO)") in proc.stderr
    assert json.loads(proc.stdout)["notes"][0].endswith("shot_010/plates/bg01/plate.1099.exr (a FIFO)")
    assert not os.path.lexists(dest / "render.sock")
    assert not os.path.lexists(dest / "shot_010" / "plates" / "bg01" / "plate.1099.exr")
    assert (dest / "shot_010" / "plates" / "bg01" / "plate.1001.exr").is_file()


def test_also_through_a_link_to_the_same_folder_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """`--also LINK` where LINK points at the destination (made now or not yet) is one folder given
    twice: two jobs placed the same frames side by side and wrote two generations. Refused, exit 2,
    as the same path given twice is; from either side, and through a link to a folder not made yet."""
    src = make_byte_sequence(tmp_path / "src", count=3, size=1000)[0].parent
    os.symlink("later", tmp_path / "later_link")  # the folder does not exist yet
    (tmp_path / "now").mkdir()
    os.symlink("now", tmp_path / "now_link")
    for dest, also in (("later", "later_link"), ("later_link", "later"), ("now", "now_link"), ("now_link", "now")):
        done = subprocess.run([sys.executable, "-m", "vfxcopy", "copy", str(src), str(tmp_path / dest),
                               "--also", str(tmp_path / also), "-q"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert f"--also {tmp_path / also}: the same folder as another destination" in done.stderr
    assert not (tmp_path / "later").exists() and os.listdir(tmp_path / "now") == []
