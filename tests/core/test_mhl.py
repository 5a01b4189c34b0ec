"""ASC MHL manifests written by a verified copy, checked with the reference implementation (`ascmhl`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vfxcopy.core import verify
from vfxcopy.core.engine import run_job
from vfxcopy.core.jobs import CopyOptions, FrameStatus, HashAlgo, JobSpec, JobState, VerifyMode
from vfxcopy.core.samples import make_byte_sequence, make_exr_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.verify import MHL_DIR_NS, MHL_NS, c4_id, load_history, verify_destination

REPO = Path(__file__).resolve().parents[2]
XSD = REPO / "tests" / "data" / "ascmhl_xsd"
BIN = Path(sys.executable).parent


def ascmhl(*args: str | os.PathLike[str], tool: str = "ascmhl-debug") -> subprocess.CompletedProcess[str]:
    exe = BIN / tool
    if not exe.exists():
        pytest.skip(f"{tool} is not installed next to {sys.executable}")
    env = os.environ.copy()
    # The reference CLI asks GitHub for a newer version on start: point it at a closed port
    # so no test ever talks to the network (it shrugs the failure off).
    env.update(HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9", NO_PROXY="")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, env=env, timeout=120)


def copy_job(src: list[Path], dest: Path, algo: HashAlgo = HashAlgo.XXH3, **kw: object) -> tuple[JobSpec, object]:
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(dest),
                   copy=CopyOptions(hash_algo=algo, **kw))  # type: ignore[arg-type]
    result = run_job(spec)
    assert result.state is JobState.COMPLETED, result.message
    return spec, result


def generations(dest: Path) -> list[Path]:
    return sorted((dest / "ascmhl").glob("*.mhl"))


@pytest.mark.parametrize("algo", [HashAlgo.XXH3, HashAlgo.XXH64, HashAlgo.MD5])
def test_reference_tools_accept_our_manifest_and_catch_one_changed_byte(tmp_path: Path, algo: HashAlgo) -> None:
    src = make_byte_sequence(tmp_path / "src", count=6, size=40_000)
    dest = tmp_path / "delivery"
    spec, _ = copy_job(src, dest, algo)

    gens = generations(dest)
    assert [g.name[:12] for g in gens] == ["0001_deliver"]
    assert (dest / "ascmhl" / "ascmhl_chain.xml").exists()
    fmt = verify.MHL_FORMAT[algo.value]
    assert fmt == {"xxh3": "xxh128", "xxh64": "xxh64", "md5": "md5"}[algo.value]
    root = ET.parse(gens[0]).getroot()
    assert len(root.findall(f"./{{{MHL_NS}}}hashes/{{{MHL_NS}}}hash/{{{MHL_NS}}}{fmt}")) == 6
    # The job wrote the whole folder: its root hash (content and structure) is recorded too.
    assert len(root.findall(f"./{{{MHL_NS}}}processinfo/{{{MHL_NS}}}roothash/*/{{{MHL_NS}}}{fmt}")) == 2

    check = ascmhl("xsd-schema-check", "-xsd", XSD / "ASCMHL.xsd", gens[0])
    assert check.returncode == 0, check.stdout + check.stderr
    check = ascmhl("xsd-schema-check", "-df", "-xsd", XSD / "ASCMHLDirectory__combined.xsd",
                   dest / "ascmhl" / "ascmhl_chain.xml")
    assert check.returncode == 0, check.stdout + check.stderr

    untouched = ascmhl("verify", dest)
    assert untouched.returncode == 0, untouched.stdout + untouched.stderr
    assert verify_destination(dest).passed

    # `ascmhl create` re-hashes everything and compares with our generation; run it on a copy
    # so the altered case below still starts from our own history only.
    twin = tmp_path / "twin"
    shutil.copytree(dest, twin)
    created = ascmhl("create", twin, "-h", fmt, tool="ascmhl")
    assert created.returncode == 0, created.stdout + created.stderr
    assert len(generations(twin)) == 2

    victim = dest / "plate.1003.exr"
    data = bytearray(victim.read_bytes())
    data[20_000] ^= 0x01
    stat = victim.stat()
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime: only the hash can tell
    altered = ascmhl("verify", dest)
    assert altered.returncode != 0
    assert "plate.1003.exr" in altered.stdout + altered.stderr
    recreated = ascmhl("create", dest, "-h", fmt, tool="ascmhl")
    assert recreated.returncode != 0
    ours = verify_destination(dest)
    assert not ours.passed
    assert [m.path for m in ours.altered] == ["plate.1003.exr"]


def test_manifest_is_built_from_the_copy_hashes_without_reading_frames_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = make_byte_sequence(tmp_path / "src", count=4, size=10_000)

    def no_second_read(*args: object, **kw: object) -> str:
        raise AssertionError("a frame was read again to build the manifest")

    monkeypatch.setattr(verify.mhl_entries, "hash_path", no_second_read)
    spec, result = copy_job(src, tmp_path / "dst")
    hashes = {f.dest.rsplit("/", 1)[-1]: f.hash for f in result.frames}  # type: ignore[attr-defined]
    history = load_history(tmp_path / "dst")
    assert {rel: rec.hash for rel, rec in history.records.items()} == hashes


def test_no_manifest_without_verification_or_when_cancelled(tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=3, size=1000)
    copy_job(src, tmp_path / "plain", verify=VerifyMode.NONE)
    assert not (tmp_path / "plain" / "ascmhl").exists()

    from vfxcopy.core.jobs import CancelToken

    token = CancelToken()
    token.cancel()
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(tmp_path / "cancelled"))
    assert run_job(spec, token).state is JobState.CANCELLED
    assert not (tmp_path / "cancelled" / "ascmhl").exists()


def test_second_job_into_the_same_folder_appends_a_generation(tmp_path: Path) -> None:
    a = make_byte_sequence(tmp_path / "a", head="bg.", count=3, size=5000)
    b = make_byte_sequence(tmp_path / "b", head="fg.", count=2, size=5000)
    dest = tmp_path / "dst"
    copy_job(a, dest)
    copy_job(b, dest)
    gens = generations(dest)
    assert [g.name[:5] for g in gens] == ["0001_", "0002_"]
    chain = ET.parse(dest / "ascmhl" / "ascmhl_chain.xml").getroot()
    items = chain.findall(f"{{{MHL_DIR_NS}}}hashlist")
    assert [i.get("sequencenr") for i in items] == ["1", "2"]
    assert [i.findtext(f"{{{MHL_DIR_NS}}}c4") for i in items] == [c4_id(g.read_bytes()) for g in gens]
    assert ascmhl("verify", dest).returncode == 0
    assert len(load_history(dest).records) == 5


def test_c4_matches_the_reference_implementation(tmp_path: Path) -> None:
    hasher = pytest.importorskip("ascmhl.hasher")  # library module only: the CLI package goes online
    for size in (0, 1, 1000, 70_000):
        f = tmp_path / f"f{size}"
        f.write_bytes(os.urandom(size))
        assert c4_id(f.read_bytes()) == hasher.hash_file(str(f), "c4")
        assert verify.hash_path(str(f), "c4") == c4_id(f.read_bytes())


def test_an_edited_manifest_is_refused(tmp_path: Path) -> None:
    src = make_byte_sequence(tmp_path / "src", count=2, size=1000)
    dest = tmp_path / "dst"
    copy_job(src, dest)
    gen = generations(dest)[0]
    gen.write_text(gen.read_text().replace("plate.1002", "plate.1009"))
    with pytest.raises(verify.JobError, match="modified"):
        verify_destination(dest)
    assert ascmhl("verify", dest).returncode != 0


def test_names_xml_cannot_carry_are_left_out_and_reported(tmp_path: Path) -> None:
    src_dir = Path(os.fsdecode(os.fsencode(tmp_path) + b"/src"))
    src = make_byte_sequence(src_dir, head=os.fsdecode(b"pl\xffte."), count=2, size=1000)
    events: list[object] = []
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(tmp_path / "dst"))
    result = run_job(spec, report=events.append)
    assert result.state is JobState.COMPLETED
    assert all(f.status is FrameStatus.DONE for f in result.frames)
    warnings = [e.text for e in events if getattr(e, "level", "") == "warning"]  # type: ignore[attr-defined]
    assert len(warnings) == 2 and all("an XML manifest cannot hold this name" in w for w in warnings)
    gen = generations(tmp_path / "dst")[0]
    assert ascmhl("xsd-schema-check", "-xsd", XSD / "ASCMHL.xsd", gen).returncode == 0


def test_job_report_beside_the_manifest(tmp_path: Path) -> None:
    src = make_exr_sequence(tmp_path / "src", count=5)
    spec, result = copy_job(src, tmp_path / "dst")
    html = (tmp_path / "dst" / "ascmhl" / f"vfxcopy_report_{spec.job_id}.html").read_text()
    csv_text = (tmp_path / "dst" / "ascmhl" / f"vfxcopy_report_{spec.job_id}.csv").read_text()
    assert str(tmp_path / "src" / "shot_010.####.exr") in html
    assert str(tmp_path / "dst") in html
    assert "0001_dst_" in html and "passed" in html
    for f in result.frames:  # type: ignore[attr-defined]
        assert f.hash in html and f.hash in csv_text
    assert html.count("data:image/png;base64,") == 5  # a thumbnail per frame (five frames)
    assert "http://" not in html and "https://" not in html  # self-contained
    lines = csv_text.splitlines()
    assert lines[0].startswith("index,frame,status,source,dest,size")
    assert len(lines) == 6 and all(",done," in line for line in lines[1:])
    # The report lives inside ascmhl/, which the reference tool ignores: still no "new file".
    assert ascmhl("verify", tmp_path / "dst").returncode == 0


def test_our_tests_folder_cannot_collide_with_ascmhl_tests(tmp_path: Path) -> None:
    """ascmhl installs a top-level `tests` package into site-packages; ours is not a package at all.

    pytest imports our test files by path (--import-mode=importlib, no __init__.py),
    so even with ascmhl's `tests` imported first our files and conftest still load.
    """
    assert not list((REPO / "tests").rglob("__init__.py")), "tests/ must stay a plain folder"
    assert "--import-mode=importlib" in (REPO / "pyproject.toml").read_text()
    assert Path(__file__).resolve().is_relative_to(REPO / "tests")
    code = (
        "import importlib.util, sys, pytest\n"
        "spec = importlib.util.find_spec('tests')\n"
        "if spec is not None: import tests; print('preloaded', tests.__file__)\n"
        f"sys.exit(pytest.main([{str(REPO / 'tests/core/test_journal.py')!r} + '::test_kv_namespaces',"
        " '-q', '-p', 'no:cacheprovider']))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "preloaded" in run.stdout and "site-packages" in run.stdout  # ascmhl's tests really were loaded first


@pytest.mark.parametrize("fmt", ["xxh3", "sha1", "c4"])
def test_we_verify_manifests_the_reference_tool_made(tmp_path: Path, fmt: str) -> None:
    root = tmp_path / "card"
    make_byte_sequence(root / "A001" / "frames", count=3, size=3000)
    (root / "notes.txt").write_text("camera report")
    made = ascmhl("create", root, "-h", fmt, tool="ascmhl")
    assert made.returncode == 0, made.stdout + made.stderr
    report = verify_destination(root)
    assert report.passed and len(report.ok) == 4
    with open(root / "A001" / "frames" / "plate.1002.exr", "r+b") as fh:
        fh.seek(10)
        fh.write(b"#")
    report = verify_destination(root)
    assert [(m.path, m.hash_format) for m in report.altered] == [("A001/frames/plate.1002.exr", fmt)]


def test_report_thumbnails_are_valid_pngs(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    oiio = pytest.importorskip("OpenImageIO")
    from vfxcopy.core.report import png_bytes

    rng = np.random.default_rng(7)
    for channels in (3, 4):
        pixels = rng.integers(0, 256, (23, 37, channels), dtype=np.uint8)
        if channels == 4:
            pixels[..., 3] = 255  # opaque: readers may premultiply anything else
        path = tmp_path / f"t{channels}.png"
        path.write_bytes(png_bytes(37, 23, channels, pixels.tobytes()))
        back = oiio.ImageBuf(str(path)).get_pixels(oiio.UINT8)
        assert back.shape == pixels.shape and (back == pixels).all()


# -- interoperability with histories the reference tool wrote (issue 11, item 4) --------------------------


def nested_card(root: Path) -> None:
    """A camera card with a nested history (A001 sealed on its own first), as offload tools leave them."""
    make_byte_sequence(root / "A001" / "clips", head="A001C001.", count=3, size=3000, tail=".mov")
    make_byte_sequence(root / "B002", head="sound.", count=1, size=500, tail=".wav")
    (root / "report.txt").write_text("camera report")
    for folder in (root / "A001", root):
        made = ascmhl("create", folder, "-h", "xxh128", tool="ascmhl")
        assert made.returncode == 0, made.stdout + made.stderr


def test_nested_histories_agree_with_the_reference_tool(tmp_path: Path) -> None:
    root = tmp_path / "card"
    nested_card(root)
    assert (root / "A001" / "ascmhl").is_dir()
    assert ascmhl("verify", root).returncode == 0
    report = verify_destination(root)
    assert report.passed, report.to_dict()
    assert len(report.ok) == 5 and report.extra == [] and report.nested == ["A001"]

    clip = root / "A001" / "clips" / "A001C001.1002.mov"
    with open(clip, "r+b") as fh:
        fh.seek(100)
        fh.write(b"!")
    reference = ascmhl("verify", root)
    assert reference.returncode != 0 and "A001/clips/A001C001.1002.mov" in reference.stdout + reference.stderr
    report = verify_destination(root)
    assert [m.path for m in report.altered] == ["A001/clips/A001C001.1002.mov"] and report.extra == []

    clip.unlink()
    (root / "A001" / "clips" / "new.mov").write_bytes(b"not in any history")
    assert ascmhl("verify", root).returncode != 0
    report = verify_destination(root)
    assert report.missing == ["A001/clips/A001C001.1002.mov"] and report.extra == ["A001/clips/new.mov"]


def _flip(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.seek(7)
        byte = fh.read(1)
        fh.seek(7)
        fh.write(bytes([byte[0] ^ 1]))


CARD_CHANGES = {
    "untouched": lambda root: None,
    "byte in nested history": lambda root: _flip(root / "A001" / "clips" / "A001C001.1003.mov"),
    "byte at the root": lambda root: _flip(root / "B002" / "sound.1001.wav"),
    "file gone from nested": lambda root: (root / "A001" / "clips" / "A001C001.1001.mov").unlink(),
    "new file in nested": lambda root: (root / "A001" / "clips" / "extra.mov").write_bytes(b"?"),
    "ignored litter": lambda root: (root / "A001" / "clips" / ".DS_Store").write_bytes(b"finder"),
}


@pytest.mark.parametrize("change", list(CARD_CHANGES))
def test_our_verdict_is_the_reference_tools_verdict(tmp_path: Path, change: str) -> None:
    root = tmp_path / "card"
    nested_card(root)
    CARD_CHANGES[change](root)
    reference = ascmhl("verify", root)
    ours = verify_destination(root)
    assert ours.passed == (reference.returncode == 0), (reference.stdout + reference.stderr, ours.to_dict())
    assert ours.passed == (change in ("untouched", "ignored litter"))
    for name in ours.missing + ours.extra + [m.path for m in ours.altered]:
        assert name in reference.stdout + reference.stderr  # the same files named


def test_a_rename_the_reference_tool_recorded_still_verifies(tmp_path: Path) -> None:
    root = tmp_path / "r"
    make_byte_sequence(root / "sub", count=2, size=2000)
    assert ascmhl("create", root, "-h", "md5", tool="ascmhl").returncode == 0
    (root / "sub" / "plate.1002.exr").rename(root / "sub" / "plate_v2.1002.exr")
    renamed = ascmhl("create", root, "-h", "md5", "-dr", tool="ascmhl")
    assert renamed.returncode == 0 and "renamed" in renamed.stdout, renamed.stdout + renamed.stderr
    assert ascmhl("verify", root).returncode == 0
    report = verify_destination(root)
    assert report.passed and sorted(report.ok) == ["sub/plate.1001.exr", "sub/plate_v2.1002.exr"]
    with open(root / "sub" / "plate_v2.1002.exr", "r+b") as fh:
        fh.write(b"#")
    assert ascmhl("verify", root).returncode != 0
    assert [m.path for m in verify_destination(root).altered] == ["sub/plate_v2.1002.exr"]


def test_a_frame_replaced_with_overwrite_is_checked_against_its_newest_hash(tmp_path: Path) -> None:
    from vfxcopy.core.jobs import ConflictPolicy

    dest = tmp_path / "dst"
    copy_job(make_byte_sequence(tmp_path / "v1", count=3, size=4000, seed=1), dest)
    v2 = make_byte_sequence(tmp_path / "v2", count=3, size=4000, seed=2)  # a re-delivery, new content
    _, result = copy_job(v2, dest, on_conflict=ConflictPolicy.OVERWRITE)
    assert [p.read_bytes() for p in v2] == [(dest / p.name).read_bytes() for p in v2]
    gen2 = generations(dest)[1].read_text()
    assert gen2.count('action="original"') == 3 + 2 and 'action="failed"' not in gen2  # 3 files + root hash
    report = verify_destination(dest)
    assert report.passed and len(report.ok) == 3, report.to_dict()
    history = load_history(dest)
    assert {rel: rec.generation for rel, rec in history.records.items()} == {p.name: 2 for p in v2}

    with open(dest / "plate.1002.exr", "r+b") as fh:  # real damage after the re-delivery is still caught
        fh.write(b"#")
    (altered,) = verify_destination(dest).altered
    assert altered.path == "plate.1002.exr"
    assert altered.expected == next(f.hash for f in result.frames if f.frame == 1002)  # type: ignore[attr-defined]


def test_a_damaged_frame_found_in_place_is_recorded_failed_and_stays_altered(tmp_path: Path) -> None:
    from vfxcopy.core.jobs import ConflictPolicy

    src = make_byte_sequence(tmp_path / "src", count=2, size=3000)
    dest = tmp_path / "dst"
    copy_job(src, dest)
    with open(dest / "plate.1001.exr", "r+b") as fh:
        fh.write(b"#")
    # A job that skips what is in place (no rehash of its own) hashes the frame for its manifest.
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(dest),
                   copy=CopyOptions(on_conflict=ConflictPolicy.SKIP))
    run_job(spec)
    gen2 = generations(dest)[1].read_text()
    assert 'action="failed"' in gen2
    assert [m.path for m in verify_destination(dest).altered] == ["plate.1001.exr"]  # a failed hash is no reference


def plate_entries(root: Path, pattern: str = "*") -> list[verify.ManifestEntry]:
    entries = []
    for path in sorted(p for p in root.rglob(pattern) if p.is_file() and "ascmhl" not in p.parts):
        st = path.stat()
        entries.append(verify.ManifestEntry(str(path.relative_to(root)), st.st_size, st.st_mtime, "xxh128",
                                            verify.hash_path(str(path), "xxh128")))
    return entries


def test_directory_hashes_agree_with_the_reference_tool(tmp_path: Path) -> None:
    root = tmp_path / "delivery"
    make_byte_sequence(root / "shot010" / "plates", count=3, size=2000)
    make_byte_sequence(root / "shot020" / "plates", count=2, size=2000, seed=3)
    (root / "shot020" / "empty").mkdir()
    result = verify.write_generation(root, plate_entries(root))
    # The root, shot010, its plates, shot020 and its plates (the empty folder is inside shot020's hashes).
    assert result.directories == 5
    check = ascmhl("xsd-schema-check", "-xsd", XSD / "ASCMHL.xsd", result.path)
    assert check.returncode == 0, check.stdout + check.stderr
    dirs = ascmhl("verify", "-dh", "-v", root)
    assert dirs.returncode == 0, dirs.stdout + dirs.stderr
    assert "shot010/plates OK" in dirs.stdout and "shot020 OK" in dirs.stdout
    assert "root folder   OK (generation 0001)" in dirs.stdout

    # A second job delivers an EDL: generation 1's hashes make the whole tree known without reading it again.
    (root / "edl").mkdir()
    (root / "edl" / "cut.edl").write_text("TITLE: cut")
    result = verify.write_generation(root, plate_entries(root, "*.edl"))
    assert result.directories == 2 and "<roothash>" in Path(result.path).read_text()  # edl/ and the root
    dirs = ascmhl("verify", "-dh", "-v", root)
    assert "edl OK (generation 0002)" in dirs.stdout and "root folder   OK (generation 0002)" in dirs.stdout

    # Same bytes under another name: the content hash holds, the structure hash catches it.
    (root / "shot010" / "plates" / "plate.1003.exr").rename(root / "shot010" / "plates" / "plate.1004.exr")
    dirs = ascmhl("verify", "-dh", root)
    assert dirs.returncode != 0 and "structure hash mismatch for shot010/plates" in dirs.stdout + dirs.stderr


def test_folders_holding_files_that_are_not_the_jobs_get_no_directory_hash(tmp_path: Path) -> None:
    root = tmp_path / "delivery"
    make_byte_sequence(root / "shot010" / "plates", count=2, size=2000)
    (root / "shot010" / "notes.txt").write_text("someone else's")
    result = verify.write_generation(root, plate_entries(root, "*.exr"))
    text = Path(result.path).read_text()
    assert result.directories == 1 and ">shot010/plates</path>" in text
    assert "<roothash>" not in text and ">shot010</path>" not in text


def test_a_folder_whose_recorded_file_changed_size_gets_no_directory_hash(tmp_path: Path) -> None:
    """Folder hashes come from recorded hashes, not from reading the files again: a recorded file
    (or one found in place) whose size is no longer the recorded one makes its folders go without."""
    root = tmp_path / "delivery"
    make_byte_sequence(root / "shot010" / "plates", count=2, size=2000)
    make_byte_sequence(root / "shot020", count=2, size=2000, seed=5)
    verify.write_generation(root, plate_entries(root))
    (root / "shot010" / "plates" / "plate.1001.exr").write_bytes(b"truncated")  # after it was recorded
    (root / "edl").mkdir()
    (root / "edl" / "cut.edl").write_text("TITLE: cut")
    text = Path(verify.write_generation(root, plate_entries(root, "*.edl")).path).read_text()
    assert ">edl</path>" in text and ">shot020</path>" not in text  # shot020 holds nothing new
    assert "<roothash>" not in text  # the root holds the changed plate
    # A file found in place (not fresh) is held to the size this job measured, as a recorded one is.
    entry = plate_entries(root, "*.edl")[0]
    found = verify.ManifestEntry(entry.path, entry.size + 1, entry.mtime, entry.hash_format, entry.hash, fresh=False)
    text = Path(verify.write_generation(root / "edl", [verify.ManifestEntry("cut.edl", found.size, found.mtime,
                                                                            found.hash_format, found.hash,
                                                                            fresh=False)]).path).read_text()
    assert "<roothash>" not in text
    fresh = verify.ManifestEntry("cut.edl", found.size, found.mtime, found.hash_format, found.hash, fresh=True)
    text = Path(verify.write_generation(root / "edl", [fresh]).path).read_text()
    assert "<roothash>" in text  # as this job measured it: believed

@pytest.mark.parametrize("algo, tool", [("md5", "md5sum"), ("xxh128", "xxhsum"), ("xxh64", "xxhsum")])
def test_checksum_lists_are_accepted_by_md5sum_and_xxhsum(tmp_path: Path, algo: str, tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    dest = tmp_path / "dst"
    spec, result = copy_job(make_byte_sequence(tmp_path / "src", count=3, size=5000), dest)
    odd = dest / "odd name \\ with\nnewline.exr"
    odd.write_bytes(b"odd")
    entries, _ = verify.entries_from_frames(str(dest), result.frames)  # type: ignore[attr-defined]
    entries.append(verify.ManifestEntry(odd.name, 3, 0.0, "md5", verify.hash_path(str(odd), "md5")))
    path = verify.write_checksum_list(dest, entries, algo, name="delivery")
    assert path == dest / "ascmhl" / f"delivery.{algo}"
    checked = subprocess.run([tool, "-c", os.path.relpath(path, dest)], cwd=dest, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert verify.verify_checksum_list(path, dest).passed

    with open(dest / "plate.1002.exr", "r+b") as fh:
        fh.write(b"#")
    checked = subprocess.run([tool, "-c", os.path.relpath(path, dest)], cwd=dest, capture_output=True, text=True)
    assert checked.returncode != 0 and "plate.1002.exr: FAILED" in checked.stdout
    report = verify.verify_checksum_list(path, dest)
    assert [m.path for m in report.altered] == ["plate.1002.exr"] and len(report.ok) == 3
    with pytest.raises(verify.ManifestError):
        verify.write_checksum_list(dest, entries, algo, name="delivery")  # never replaces a list


def test_a_copy_continues_a_history_the_reference_tool_started(tmp_path: Path) -> None:
    dest = tmp_path / "delivery"
    nested_card(dest)  # a card sealed with `ascmhl create`, a nested history in A001/
    spec, _ = copy_job(make_byte_sequence(tmp_path / "src", count=3, size=2000, seed=9), dest)
    gens = generations(dest)
    assert len(gens) == 2 and gens[1].name.startswith("0002_delivery_")
    check = ascmhl("xsd-schema-check", "-df", "-xsd", XSD / "ASCMHLDirectory__combined.xsd",
                   dest / "ascmhl" / "ascmhl_chain.xml")
    assert check.returncode == 0, check.stdout + check.stderr
    reference = ascmhl("verify", dest)
    assert reference.returncode == 0, reference.stdout + reference.stderr
    report = verify_destination(dest)
    assert report.passed and len(report.ok) == 5 + 3
    _flip(dest / "plate.1002.exr")
    assert ascmhl("verify", dest).returncode != 0
    assert [m.path for m in verify_destination(dest).altered] == ["plate.1002.exr"]


def test_files_under_a_nested_history_go_into_that_history(tmp_path: Path) -> None:
    root = tmp_path / "card"
    nested_card(root)
    make_byte_sequence(root / "A001" / "clips", head="A001C002.", count=2, size=1500, tail=".mov", seed=5)
    make_byte_sequence(root / "VFX", head="comp.", count=2, size=1500, seed=6)
    new = [p for p in plate_entries(root) if "C002" in p.path or p.path.startswith("VFX/")]
    result = verify.write_generation(root, new)
    assert result.entries == 4 and [Path(n.path).parent.parent.name for n in result.nested] == ["A001"]
    assert result.nested[0].generation == 3  # A001 had generations 1 (its own) and 2 (the card's seal)
    child = Path(result.nested[0].path).read_text()
    assert "<path" in child and ">clips/A001C002.1001.mov</path>" in child and "VFX" not in child
    assert "A001C002" not in Path(result.path).read_text()
    reference = ascmhl("verify", root)
    assert reference.returncode == 0, reference.stdout + reference.stderr
    report = verify_destination(root)
    assert report.passed and len(report.ok) == 5 + 4
    resealed = ascmhl("create", root, "-h", "xxh128", tool="ascmhl")  # the reference tool carries on from ours
    assert resealed.returncode == 0, resealed.stdout + resealed.stderr


# -- our own reader (mhl_read): the reference library's view of the same history ------------


def reference_view(root: Path) -> dict[str, object]:
    """What the reference library (`ascmhl.history`) reads from `root`: each file's newest original hash
    (format, hash, generation), each folder's directory hashes, the chain and the generation files."""
    from ascmhl.history import MHLHistory

    history = MHLHistory.load_from_path(str(root))
    records: dict[str, tuple[str, str, int]] = {}
    folders: dict[str, tuple[str, str, str | None]] = {}
    names: list[str] = []
    for hist in reversed(list(MHLHistory.walk_child_histories(history))):  # parents first
        base = os.path.relpath(hist.get_root_path(), root)
        prefix = "" if base == "." else base + "/"
        for hash_list in hist.hash_lists:
            names.append(os.path.basename(hash_list.file_path))
            for media in hash_list.media_hashes:
                entry = media.hash_entries[0]
                if media.is_directory:
                    folders[prefix + media.path] = (entry.hash_format, entry.hash_string, entry.structure_hash_string)
                elif entry.action in (None, "original"):
                    records[prefix + media.path] = (entry.hash_format, entry.hash_string, hash_list.generation_number)
    chain = [(int(g.generation_number), g.ascmhl_filename, g.hash_format, g.hash_string)
             for g in history.chain.generations]
    return {"records": records, "folders": folders, "chain": chain, "generations": names}


def our_view(history: verify.History) -> dict[str, object]:
    return {
        "records": {rel: (r.hash_format, r.hash, r.generation) for rel, r in history.records.items()},
        "folders": {rel: (d.hash_format, d.content, d.structure) for rel, d in history.directories.items()},
        "chain": [tuple(item) for item in history.chain],
        "generations": [os.path.basename(p) for p in history.generations],
    }


# Reads a history in a new interpreter: nothing remembered from the process that wrote it.
_FRESH_READ = """
import json, os, sys
from vfxcopy.core.verify import load_history
h = load_history(sys.argv[1])
print(json.dumps({"records": {k: [r.hash_format, r.hash, r.generation] for k, r in h.records.items()},
                  "folders": {k: [d.hash_format, d.content, d.structure] for k, d in h.directories.items()},
                  "chain": h.chain, "generations": [os.path.basename(p) for p in h.generations], "nested": h.nested,
                  "ascmhl": "ascmhl" in sys.modules}))
"""


def fresh_view(root: Path) -> dict[str, object]:
    run = subprocess.run([sys.executable, "-c", _FRESH_READ, str(root)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data.pop("ascmhl") is False  # read without the reference library
    return {"records": {k: tuple(v) for k, v in data["records"].items()},
            "folders": {k: tuple(v) for k, v in data["folders"].items()},
            "chain": [tuple(item) for item in data["chain"]], "generations": data["generations"]}


def test_three_generations_written_by_vfxcopy_read_as_the_reference_library_reads_them(tmp_path: Path) -> None:
    dest = tmp_path / "delivery"
    plates = make_byte_sequence(tmp_path / "plates", count=4, size=3000, seed=1)
    copy_job(plates, dest)  # generation 1
    copy_job(make_byte_sequence(tmp_path / "roto", head="roto.", count=2, size=2000, seed=2), dest)  # 2
    copy_job(plates, dest)  # 3: the same frames found in place, "verified"
    ours = our_view(load_history(dest))  # in this process: what the three jobs remembered
    reference = reference_view(dest)
    assert ours == reference == fresh_view(dest)
    records = ours["records"]
    assert isinstance(records, dict) and sorted(records) == sorted(
        [p.name for p in plates] + ["roto.1001.exr", "roto.1002.exr"])
    assert {rel: gen for rel, (_f, _h, gen) in records.items()} == {
        **{p.name: 1 for p in plates}, "roto.1001.exr": 2, "roto.1002.exr": 2}
    assert [n for n, *_ in ours["chain"]] == [1, 2, 3]  # type: ignore[misc]
    assert generations(dest)[2].read_text().count('action="verified"') == 4
    assert ascmhl("verify", dest).returncode == 0
    # The reference tool carries the chain on from ours, and we from its generation.
    assert ascmhl("create", dest, "-h", "xxh128", tool="ascmhl").returncode == 0
    copy_job(make_byte_sequence(tmp_path / "more", head="fx.", count=1, size=100, seed=3), dest)
    ours = our_view(load_history(dest))
    assert ours == reference_view(dest) == fresh_view(dest)
    assert [n for n, *_ in ours["chain"]] == [1, 2, 3, 4, 5]  # type: ignore[misc]
    assert ascmhl("verify", dest).returncode == 0


def test_a_history_the_reference_tool_made_is_read_as_it_reads_it_and_continued(tmp_path: Path) -> None:
    root = tmp_path / "card"
    nested_card(root)  # `ascmhl create` twice: A001 first (a nested history), then the card
    (root / "B002" / "take2.wav").write_bytes(b"second take")
    assert ascmhl("create", root, "-h", "xxh128", tool="ascmhl").returncode == 0  # a second generation
    ours = load_history(root)
    assert our_view(ours) == reference_view(root) == fresh_view(root)
    assert ours.nested == ["A001"] and len(ours.records) == 6 and ours.warnings == []
    assert sorted(ours.directories) == sorted(["A001", "A001/clips", "B002"])  # the reference tool's folder hashes
    for rel, record in ours.records.items():
        assert record.hash == verify.hash_path(str(root / rel), record.hash_format)
    copy_job(make_byte_sequence(tmp_path / "src", count=2, size=700, seed=4), root)
    after = load_history(root)
    assert our_view(after) == reference_view(root) == fresh_view(root)
    assert [n for n, *_ in after.chain] == [1, 2, 3] and len(after.records) == 8
    reference = ascmhl("verify", root)
    assert reference.returncode == 0, reference.stdout + reference.stderr


def test_a_generation_edited_after_this_process_wrote_it_is_still_refused(tmp_path: Path) -> None:
    """What a process wrote is remembered by file identity: an edit (even one keeping size and mtime) is seen."""
    dest = tmp_path / "dst"
    copy_job(make_byte_sequence(tmp_path / "src", count=2, size=1000), dest)
    load_history(dest)  # remembered
    gen = generations(dest)[0]
    stat = gen.stat()
    text = gen.read_text()
    gen.write_text(text.replace("plate.1002", "plate.1009"))  # same length
    os.utime(gen, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert gen.stat().st_size == stat.st_size
    with pytest.raises(verify.ManifestError, match="modified after it was written"):
        load_history(dest)
    more = make_byte_sequence(tmp_path / "more", head="more.", count=1, size=100)
    result = run_job(JobSpec(source=find_sequence(more[0]), dest_dir=str(dest)))
    assert result.state is JobState.FAILED and "modified after it was written" in result.message
    assert len(generations(dest)) == 1  # no generation added to a damaged history


def test_a_generation_another_tool_adds_between_two_jobs_is_read(tmp_path: Path) -> None:
    dest = tmp_path / "dst"
    copy_job(make_byte_sequence(tmp_path / "a", head="a.", count=2, size=500), dest)
    (dest / "readme.txt").write_text("added by hand")
    assert ascmhl("create", dest, "-h", "xxh128", tool="ascmhl").returncode == 0
    copy_job(make_byte_sequence(tmp_path / "b", head="b.", count=2, size=500), dest)
    history = load_history(dest)
    assert history.records["readme.txt"].generation == 2 and history.records["b.1001.exr"].generation == 3
    assert [n for n, *_ in history.chain] == [1, 2, 3]
    assert ascmhl("verify", dest).returncode == 0


def test_damaged_histories_are_refused_by_our_reader_with_what_to_do(tmp_path: Path) -> None:
    dest = tmp_path / "dst"
    copy_job(make_byte_sequence(tmp_path / "src", count=2, size=1000), dest)
    gen = generations(dest)[0]
    good = gen.read_bytes()
    gen.write_bytes(good[: len(good) // 2])  # cut short: the chain's C4 id no longer matches
    with pytest.raises(verify.ManifestError, match="modified after it was written.*restore it from a backup"):
        load_history(dest)
    gen.unlink()
    with pytest.raises(verify.ManifestError, match="a manifest listed in ascmhl_chain.xml is missing"):
        load_history(dest)
    gen.write_bytes(good)
    chain = dest / "ascmhl" / "ascmhl_chain.xml"
    chain.write_bytes(chain.read_bytes().replace(b'sequencenr="1"', b'sequencenr="one"'))
    with pytest.raises(verify.ManifestError, match="is not a number"):
        load_history(dest)
    chain.write_bytes(b"<ascmhldirectory><hashlist>")
    with pytest.raises(verify.ManifestError, match=f"{chain}: not valid XML"):
        load_history(dest)
    chain.unlink()
    with pytest.raises(verify.ManifestError, match="ascmhl_chain.xml missing"):
        load_history(dest)


def test_names_with_markup_and_line_breaks_round_trip_through_the_xml(tmp_path: Path) -> None:
    """Written as text (not through ElementTree): &, <, > and a carriage return come back as they were."""
    dest = tmp_path / "dst"
    names = ["a & b <c>.exr", "tab\there.exr", 'quote".exr', "cr\rname.exr", "lf\nname.exr"]
    dest.mkdir()
    for i, name in enumerate(names):
        (dest / name).write_bytes(bytes([i]) * 10)
    entries = plate_entries(dest)
    verify.write_generation(dest, entries, comment='job "x" & <y>')
    assert ET.parse(generations(dest)[0]).getroot() is not None  # well-formed
    assert sorted(fresh_view(dest)["records"]) == sorted(names)  # type: ignore[arg-type]
    assert sorted(load_history(dest).records) == sorted(names)
    check = ascmhl("xsd-schema-check", "-xsd", XSD / "ASCMHL.xsd", generations(dest)[0])
    assert check.returncode == 0, check.stdout + check.stderr
    assert verify_destination(dest).passed


def test_manifest_dates_are_the_local_time_datetime_would_write(tmp_path: Path) -> None:
    code = (
        "import datetime as dt, json, sys\n"
        "from vfxcopy.core.stamps import iso_time\n"
        "stamps = [0, 1e9, 1e9 + 0.4, 1e9 + 0.9999996, 1.7e9 + 0.5, -86400.25, 4e9]\n"
        "print(json.dumps([[iso_time(t), dt.datetime.fromtimestamp(t, dt.timezone.utc).astimezone()"
        ".isoformat(timespec='seconds')] for t in stamps]))\n"
    )
    for tz in ("UTC", "America/St_Johns", "Europe/Paris", "Asia/Kolkata", "Pacific/Chatham"):
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                             env={**os.environ, "TZ": tz})
        assert run.returncode == 0, run.stderr
        for ours, theirs in json.loads(run.stdout):
            assert ours == theirs, tz


def test_the_report_csv_is_what_the_csv_module_writes(tmp_path: Path) -> None:
    import csv
    import io

    from vfxcopy.core.jobs import FrameResult
    from vfxcopy.core.report import CSV_FIELDS, csv_text

    frames = [
        FrameResult("j", 1, 1002, '/src/a,"b".exr', "/dst/a\nb.exr", FrameStatus.FAILED, 5, None, None,
                    error="read failed, retry"),
        FrameResult("j", 0, 1001, "/src/é x.exr", "/dst/é x.exr", FrameStatus.DONE, 7, "ab" * 16, "xxh3"),
        FrameResult("j", 2, None, "/src/notes.txt", "/dst/c\rd.txt", FrameStatus.SKIPPED, 0, None, None),
    ]
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(CSV_FIELDS)
    for f in sorted(frames, key=lambda r: r.index):
        writer.writerow([f.index, f.frame, f.status.value, f.source, f.dest, f.size,
                         verify.MHL_FORMAT.get(f.hash_algo or "", f.hash_algo or ""), f.hash or "", f.error or ""])
    assert csv_text(frames) == buf.getvalue()
    assert list(csv.reader(io.StringIO(csv_text(frames), newline="")))[2][4] == "/dst/a\nb.exr"


def test_what_the_reader_remembers_stays_bounded_and_right(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vfxcopy.core.verify import mhl_read

    monkeypatch.setattr(mhl_read, "_KEEP_ENTRIES", 25)
    dest = tmp_path / "dst"
    for i in range(4):
        copy_job(make_byte_sequence(tmp_path / f"s{i}", head=f"s{i}.", count=10, size=100, seed=i), dest)
        assert sum(len(h.media) for _ident, h in mhl_read._hash_lists.values()) <= 25
    history = load_history(dest)
    assert len(history.records) == 40 and our_view(history) == fresh_view(dest) == reference_view(dest)
    copy_job(make_byte_sequence(tmp_path / "big", head="big.", count=30, size=10), dest)  # above the bound
    assert str(generations(dest)[-1]) not in mhl_read._hash_lists
    assert len(load_history(dest).records) == 70


@pytest.mark.parametrize("which", ["chain", "generation"])
@pytest.mark.parametrize("attack", ["entities", "external"])
def test_a_history_file_with_a_doctype_is_refused_before_any_entity_is_expanded(
    tmp_path: Path, which: str, attack: str
) -> None:
    """No ASC MHL file has a DTD; one can only declare entities: a billion laughs, or an external
    entity naming a local file. Either is refused at its <!DOCTYPE>, naming the file."""
    src = make_byte_sequence(tmp_path / "src", count=2, size=500)
    dest = tmp_path / "out"
    copy_job(src, dest)
    target = dest / "ascmhl" / "ascmhl_chain.xml" if which == "chain" else generations(dest)[0]
    declare = ('<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
               '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY x "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
               if attack == "entities" else '<!ENTITY x SYSTEM "file:///etc/hostname">')
    text = target.read_text("utf-8")
    body = text.split("?>", 1)[1]
    old_c4 = c4_id(target.read_bytes())
    target.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE r [{declare}]>{body.replace("</", "&x;</", 1)}',
                      "utf-8")
    if which == "generation":  # the chain vouches for the edited generation: its XML is what is read
        chain = dest / "ascmhl" / "ascmhl_chain.xml"
        chain.write_text(chain.read_text("utf-8").replace(old_c4, c4_id(target.read_bytes())), "utf-8")
    with pytest.raises(verify.ManifestError, match=r"holds a document type declaration \(<!DOCTYPE>\)") as caught:
        load_history(dest)
    assert f"{target.name}: holds a document type declaration" in str(caught.value)


@pytest.mark.parametrize("fmt", ["xxh128", "xxh3", "xxh64", "md5", "c4"])
def test_folder_hashes_hash_small_inputs_in_one_call_as_a_hasher_does(fmt: str) -> None:
    """A folder's hash hashes one name and digest per child: those few bytes go through one-shot
    functions, which must give what the streaming hashers (and so ascmhl) give."""
    from vfxcopy.core.verify.hashes import hash_bytes, mhl_hasher

    for data in (b"", b"plate.1001.exr", os.urandom(48), os.urandom(5000)):
        if fmt == "c4":
            assert hash_bytes(fmt, data) == c4_id(data)
            continue
        hasher = mhl_hasher(fmt)
        hasher.update(data)
        assert hash_bytes(fmt, data) == hasher.hexdigest()


@pytest.mark.parametrize("others", [0, 3000])  # a new folder: listed once; a big one: each frame looked at
def test_the_manifest_records_each_frame_as_it_is_on_disk_and_names_one_gone_before_it(
        tmp_path: Path, others: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest's size and modification date of each copied frame are the file's (taken from
    the copy, not a stat per frame); a frame removed between the copy and the manifest is named,
    not recorded. Into a folder that holds many more files than the job placed, the frames are
    looked at one by one instead of listing the folder."""
    from datetime import datetime

    from vfxcopy.core.engine import finish_outputs
    from vfxcopy.core.jobs import CancelToken, LogMessage
    from vfxcopy.core.pipeline import run_pipeline

    (tmp_path / "dst").mkdir()
    for i in range(others):
        (tmp_path / "dst" / f"earlier_delivery.{i:05d}.dpx").write_bytes(b"")
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path=".": listed.append(str(path)) or real_listdir(path))
    src = make_byte_sequence(tmp_path / "src", count=40, size=1234)
    for n, path in enumerate(src):
        os.utime(path, ns=(1_600_000_000_123_456_789 + n, 1_600_000_000_987_654_321 + n * 10**9))
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(tmp_path / "dst"), copy=CopyOptions())
    result = run_pipeline(spec, CancelToken(), lambda e: None)
    assert result.state is JobState.COMPLETED, result.message
    gone = tmp_path / "dst" / src[2].name
    gone.unlink()  # by someone else, before the manifest is written
    said: list[str] = []
    listed.clear()
    finish_outputs(spec, result, result.frames, lambda e: said.append(e.text) if isinstance(e, LogMessage) else None,
                   CancelToken())
    assert any(str(gone) in line and "not in place for the manifest" in line for line in said), said
    assert listed.count(str(tmp_path / "dst")) == (0 if others else 1)
    root = ET.parse(generations(tmp_path / "dst")[0]).getroot()
    recorded = {p.text: p for p in root.iter(f"{{{MHL_NS}}}path") if p.get("size") is not None}
    assert set(recorded) == {p.name for p in src} - {gone.name}
    for name, element in recorded.items():
        st = os.stat(tmp_path / "dst" / name)
        assert int(element.get("size") or -1) == st.st_size == 1234
        when = datetime.fromisoformat(element.get("lastmodificationdate") or "")
        assert int(when.timestamp()) == int(st.st_mtime) == int((tmp_path / "src" / name).stat().st_mtime)


def test_a_cancel_while_the_job_report_is_written_says_the_manifest_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cancel after the manifest (during the report's thumbnails, or while its PDF waits for its
    turn) ends the job cancelled, and says the manifest is written, not "none written"."""
    from vfxcopy.core import report
    from vfxcopy.core.engine import finish_outputs
    from vfxcopy.core.errors import Cancelled
    from vfxcopy.core.jobs import CancelToken
    from vfxcopy.core.pipeline import run_pipeline

    src = make_byte_sequence(tmp_path / "src", count=3, size=1000)
    spec = JobSpec(source=find_sequence(src[0]), dest_dir=str(tmp_path / "dst"), copy=CopyOptions())
    result = run_pipeline(spec, CancelToken(), lambda e: None)

    def cancelled_report(*args: object, **kw: object) -> None:
        raise Cancelled()

    monkeypatch.setattr(report, "write_job_report", cancelled_report)
    finish_outputs(spec, result, result.frames, lambda e: None, CancelToken())
    (generation,) = generations(tmp_path / "dst")
    assert result.state is JobState.CANCELLED
    assert result.message == f"cancelled while writing the job report; the ASC MHL manifest {generation.name} is written"


@pytest.mark.parametrize("patterns", [
    [],  # ascmhl's defaults
    [".DS_Store", "ascmhl", "ascmhl/"],
    ["*.tmp", "Thumbs.db", "cache/", "shot*v0*.exr", ".vfxcopy-*.part"],
    ["a b", "x.*", "*_old", "build/"],
])
def test_plain_name_ignore_patterns_match_as_ascmhls_pathspec_does(patterns: list[str]) -> None:
    """`vfxcopy verify` matches plain name patterns (`*` at most, `/` for folders) itself, without
    importing ascmhl and pathspec: every path, file or folder, at every depth, under an absolute or
    a relative root, gets the reference's answer."""
    import random
    import warnings

    from ascmhl import ignore as mhl_ignore

    from vfxcopy.core.verify.mhl_read import IGNORE_PATTERNS, NameSpec, ignore_spec

    ours = ignore_spec(patterns)
    assert isinstance(ours, NameSpec)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        reference = mhl_ignore.MHLIgnoreSpec(list(patterns) or None,
                                             [p for p in IGNORE_PATTERNS if p not in patterns]).get_path_spec()
    names = ["ascmhl", ".DS_Store", "x.tmp", ".tmp", "tmp", "cache", "caches", "Thumbs.db", "shot_v001.exr",
             "shotv0.exr", "shot/v0.exr", ".vfxcopy-1a2b.part", ".vfxcopy-.part", "a b", "a  b", "x.", "x.y",
             "y_old", "_old", "build", "plate.1001.exr", "é", "sub dir"]
    rng = random.Random(12)
    paths = {"/", "", "./x.tmp", "./ascmhl/"}
    for _ in range(3000):
        parts = [rng.choice(names) for _ in range(rng.randint(1, 4))]
        path = ("/" if rng.random() < 0.7 else "./" if rng.random() < 0.5 else "") + "/".join(parts)
        paths.add(path + ("/" if rng.random() < 0.3 else ""))
    differ = [p for p in sorted(paths) if ours.match_file(p) != bool(reference.match_file(p))]
    assert differ == []


@pytest.mark.parametrize("pattern", ["*", "**/x", "!keep.tmp", "a/b", "/rooted", "x?.tmp", "[ab].exr", "#note",
                                     " padded", "\\#literal", ""])
def test_ignore_patterns_beyond_plain_names_go_to_pathspec(pattern: str) -> None:
    from vfxcopy.core.verify.mhl_read import NameSpec, ignore_spec

    assert NameSpec.of([pattern]) is None
    assert not isinstance(ignore_spec([pattern]), NameSpec)
