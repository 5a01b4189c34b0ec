"""Sequence scanning: grouping, padding, gaps, negative frames, strays, patterns, frame ranges."""

from __future__ import annotations

import os
import random
import tracemalloc
from pathlib import Path

import pytest

from vfxcopy.core import seqfind as sequence_module
from vfxcopy.core.framenames import frame_runs, parse_frames, split_frame
from vfxcopy.core.frames import FrameSet, parse_frame_set
from vfxcopy.core.jobs import temp_name
from vfxcopy.core.seqfind import SourceError, find_sequence, from_pattern, parse_pattern, resolve, scan
from vfxcopy.core.sequence import Sequence


def touch(folder: Path, *names: str, size: int = 3) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"x" * size)


def by_name(seqs: list[Sequence]) -> dict[str, Sequence]:
    return {s.nuke_name(): s for s in seqs}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("shot_010.1001.exr", ("shot_010.", "1001", ".exr")),
        ("name_1001.exr", ("name_", "1001", ".exr")),
        ("name1001.exr", ("name", "1001", ".exr")),
        ("shot_v003.1001.exr", ("shot_v003.", "1001", ".exr")),
        ("clip.0001.mp4", ("clip.", "0001", ".mp4")),
        ("img.0001.jp2", ("img.", "0001", ".jp2")),
        ("name.1001", ("name.", "1001", "")),
        ("shot.-0001.exr", ("shot.", "-0001", ".exr")),
        ("shot_-001.exr", ("shot_", "-001", ".exr")),
        ("plate-0001.exr", ("plate-", "0001", ".exr")),
        ("beauty.1001_denoised.exr", ("beauty.", "1001", "_denoised.exr")),
        ("a.0001.tar.gz", ("a.", "0001", ".tar.gz")),
        ("0001.exr", ("", "0001", ".exr")),
        ("-001.exr", ("", "-001", ".exr")),
        ("frame0001", ("frame", "0001", "")),
        ("noframe.exr", None),
        ("take.v2", None),
    ],
)
def test_split_frame_takes_last_digit_group_before_extension(name: str, expected: tuple[str, str, str] | None) -> None:
    assert split_frame(name) == expected


def test_scan_groups_frames_keeps_padding_and_lists_gaps(tmp_path: Path) -> None:
    frames = [f for f in range(1001, 1021) if f not in (1005, 1010, 1011, 1012)]
    touch(tmp_path, *(f"shot_010.{f:04d}.exr" for f in frames), size=10)
    [seq] = scan([tmp_path], stat=True)
    assert seq.directory == str(tmp_path)
    assert (seq.head, seq.tail, seq.padding) == ("shot_010.", ".exr", 4)
    assert seq.frames == tuple(frames)
    assert seq.range_str() == "1001-1020"
    assert seq.missing() == [1005, 1010, 1011, 1012]
    assert seq.missing_str() == "1005,1010-1012"
    assert seq.missing_count() == 4
    assert seq.total_size == 10 * len(frames)
    assert seq.pattern("nuke") == str(tmp_path / "shot_010.####.exr")
    assert seq.pattern("houdini") == str(tmp_path / "shot_010.$F4.exr")
    assert seq.pattern("printf") == str(tmp_path / "shot_010.%04d.exr")
    assert [p.name for p in seq.paths()] == [f"shot_010.{f:04d}.exr" for f in frames]


def test_scan_without_stat_leaves_size_unknown(tmp_path: Path) -> None:
    touch(tmp_path, "a.0001.exr", "a.0002.exr")
    [seq] = scan([tmp_path])
    assert seq.total_size is None


def test_several_sequences_and_strays_in_one_folder_sorted_naturally(tmp_path: Path) -> None:
    touch(tmp_path, *(f"shot2.{f:04d}.exr" for f in range(1, 4)))
    touch(tmp_path, *(f"shot10.{f:04d}.exr" for f in range(1, 4)))
    touch(tmp_path, *(f"shot2.{f:04d}.dpx" for f in range(5, 7)))
    touch(tmp_path, "readme.txt", "notes_2.txt", "ref_v003.mov", "ref_v004.mov", "ref_v005.mov")
    seqs = scan([tmp_path])
    assert [s.name() for s in seqs] == [
        "notes_2.txt",
        "readme.txt",
        "ref_v003.mov",
        "ref_v004.mov",
        "ref_v005.mov",
        "shot2.####.dpx",
        "shot2.####.exr",
        "shot10.####.exr",
    ]
    singles = [s for s in seqs if s.is_single]
    assert all(s.frames == () and s.padding == 0 for s in singles)


def test_numbered_non_images_need_three_members_unknown_ext(tmp_path: Path) -> None:
    touch(tmp_path, "cache_1.foo", "cache_2.foo")
    seqs = by_name(scan([tmp_path]))
    # two members of an unknown extension stay single files; three make a sequence
    assert "cache_1.foo" in seqs and "cache_2.foo" in seqs
    touch(tmp_path, "cache_3.foo")
    seqs = by_name(scan([tmp_path]))
    assert seqs["cache_#.foo"].frames == (1, 2, 3)


def test_lone_numbered_image_is_a_one_frame_sequence(tmp_path: Path) -> None:
    touch(tmp_path, "still.0042.png")
    [seq] = scan([tmp_path])
    assert not seq.is_single and seq.frames == (42,) and seq.padding == 4


def test_negative_frames(tmp_path: Path) -> None:
    touch(tmp_path, *(f"neg.{'-' if f < 0 else ''}{abs(f):04d}.exr" for f in range(-3, 3)))
    touch(tmp_path, "n3.-001.exr", "n3.000.exr", "n3.001.exr")
    seqs = by_name(scan([tmp_path]))
    assert seqs["neg.####.exr"].frames == (-3, -2, -1, 0, 1, 2)
    assert seqs["neg.####.exr"].name(-2) == "neg.-0002.exr"
    assert seqs["n3.###.exr"].frames == (-1, 0, 1)


def test_mixed_padding_makes_separate_sequences(tmp_path: Path) -> None:
    touch(tmp_path, "1.exr", "2.exr", "10.exr", "100.exr", "0001.exr", "0002.exr", "0999.exr", "1000.exr")
    seqs = by_name(scan([tmp_path]))
    assert seqs["#.exr"].frames == (1, 2, 10, 100)
    assert seqs["####.exr"].frames == (1, 2, 999, 1000)
    assert [p.name for p in seqs["####.exr"].paths()] == ["0001.exr", "0002.exr", "0999.exr", "1000.exr"]
    assert [p.name for p in seqs["#.exr"].paths()] == ["1.exr", "2.exr", "10.exr", "100.exr"]


def test_unpadded_1001_range_reads_as_four_digits(tmp_path: Path) -> None:
    touch(tmp_path, *(f"render_{f}.tif" for f in (998, 999, 1000, 1001)))
    [seq] = scan([tmp_path])
    # 998 and 1000 have different lengths and no leading zero: the padding is the shortest
    assert seq.padding == 3 and seq.frames == (998, 999, 1000, 1001)
    assert all(p.exists() for p in seq.paths())


def test_hidden_files_temporaries_and_subfolders_ignored(tmp_path: Path) -> None:
    touch(tmp_path, "a.0001.exr", "a.0002.exr", ".a.0003.exr", temp_name("abc123", 3), ".DS_Store")
    (tmp_path / "a.0004.exr").mkdir()
    [seq] = scan([tmp_path])
    assert seq.frames == (1, 2)


def test_recursive_scan_walks_subfolders(tmp_path: Path) -> None:
    touch(tmp_path / "one", "a.0001.exr", "a.0002.exr")
    touch(tmp_path / "two", "b.0001.exr")
    assert scan([tmp_path]) == []
    seqs = scan([tmp_path], recursive=True)
    assert [(Path(s.directory).name, s.nuke_name()) for s in seqs] == [("one", "a.####.exr"), ("two", "b.####.exr")]


def test_scan_mix_of_files_and_folders(tmp_path: Path) -> None:
    touch(tmp_path / "plates", *(f"p.{f:04d}.dpx" for f in range(1, 6)))
    touch(tmp_path / "other", *(f"o.{f:04d}.exr" for f in range(1, 6)))
    picked = [tmp_path / "other" / f"o.{f:04d}.exr" for f in (2, 3)]
    # the folder's own file named again is not counted twice
    seqs = scan([tmp_path / "plates", tmp_path / "plates" / "p.0001.dpx", *picked])
    assert [(s.nuke_name(), s.frames) for s in seqs] == [("o.####.exr", (2, 3)), ("p.####.dpx", (1, 2, 3, 4, 5))]


def test_scan_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan([tmp_path / "nope"])


def test_find_sequence_brings_the_whole_sequence_from_one_frame(tmp_path: Path) -> None:
    touch(tmp_path, *(f"shot_v003.{f:04d}.exr" for f in range(995, 1005)), size=5)
    touch(tmp_path, *(f"shot_v004.{f:04d}.exr" for f in range(1001, 1003)))
    touch(tmp_path, "shot_v003.1.exr", "shot_v003.2.exr")  # same head, other padding
    seq = find_sequence(tmp_path / "shot_v003.1003.exr", stat=True)
    assert (seq.head, seq.padding, seq.frames) == ("shot_v003.", 4, tuple(range(995, 1005)))
    assert seq.total_size == 50
    assert find_sequence(tmp_path / "shot_v003.2.exr").frames == (1, 2)


def test_find_sequence_of_a_single_file_and_missing_path(tmp_path: Path) -> None:
    touch(tmp_path, "notes_2.txt", "readme")
    seq = find_sequence(tmp_path / "notes_2.txt", stat=True)
    assert seq.is_single and seq.name() == "notes_2.txt" and seq.total_size == 3
    assert find_sequence(tmp_path / "readme").is_single
    with pytest.raises(FileNotFoundError):
        find_sequence(tmp_path / "gone.0001.exr")


def test_patterns_in_the_three_syntaxes(tmp_path: Path) -> None:
    touch(tmp_path, *(f"shot.{f:04d}.exr" for f in range(1, 4)), "shot.7.exr", "shot.8.exr")
    for text in ("shot.####.exr", "shot.%04d.exr", "shot.$F4.exr", "shot.@@@@.exr"):
        assert parse_pattern(tmp_path / text) == (str(tmp_path), "shot.", ".exr", 4)
        assert from_pattern(tmp_path / text).frames == (1, 2, 3)
    assert from_pattern(tmp_path / "shot.#.exr").frames == (7, 8)
    assert parse_pattern(tmp_path / "shot.0001.exr") is None
    with pytest.raises(FileNotFoundError):
        from_pattern(tmp_path / "other.####.exr")


def test_parse_frames() -> None:
    assert parse_frames("1001-1005,1010") == [1001, 1002, 1003, 1004, 1005, 1010]
    assert parse_frames("1-10x3 20") == [1, 4, 7, 10, 20]
    assert parse_frames("-3--1,0:1") == [-3, -2, -1, 0, 1]
    assert parse_frames("5,5,4") == [4, 5]
    for bad in ("", "a-b", "10-1", "1-5x0", "1-999999999999"):
        with pytest.raises(ValueError):
            parse_frames(bad)


def test_sequence_round_trips_through_dict(tmp_path: Path) -> None:
    touch(tmp_path, "a.0001.exr", "a.0003.exr")
    [seq] = scan([tmp_path], stat=True)
    assert Sequence.from_dict(seq.to_dict()) == seq
    assert os.path.isabs(seq.directory)


def test_agrees_with_fileseq_on_ordinary_image_sequences(tmp_path: Path) -> None:
    """The reference library and our scanner see the same sequences where the rules coincide."""
    fileseq = pytest.importorskip("fileseq")
    touch(tmp_path, *(f"shot_010.{f:04d}.exr" for f in range(1001, 1031) if f % 7))
    touch(tmp_path, *(f"bg_{f:03d}.dpx" for f in range(1, 6)))
    touch(tmp_path, *(f"name{f}.tif" for f in range(1001, 1004)))
    touch(tmp_path, *(f"ver_v003_{f:05d}.png" for f in (10, 11, 12, 20)))
    theirs = {
        (s.basename(), s.extension(), s.zfill(), tuple(s.frameSet()))
        for s in fileseq.findSequencesOnDisk(str(tmp_path))
        if s.frameSet()
    }
    ours = {(s.head, s.tail, s.padding, s.frames) for s in scan([tmp_path])}
    assert ours == theirs


def test_every_file_is_listed_exactly_once_under_its_own_name(tmp_path: Path) -> None:
    """Whatever the names, the sequences and singles found name exactly the files there are."""
    names = [
        "shot.1001.exr", "shot.1002.exr", "shot.1003.EXR", "shot.-001.exr", "shot.0000.exr",
        "1.exr", "10.exr", "0001.exr", "0002.exr", "clip.0001.mp4", "clip.0002.mp4", "img.0001.jp2",
        "name.1001", "name.1002", "name.1003", "take.v2", "a.0001.tar.gz", "beauty.1001_dn.exr",
        "beauty.1002_dn.exr", "plate-0001.exr", "plate-0002.exr", "frame0001", "frame0002", "x",
        "notes_2.txt", "ref_v003.mov", "v01.abc", "v02.abc", "v1.abc", "dots...1.exr", "sp ace 01.png",
        "-1.exr", "-2.exr", "0.exr", "00.exr", "000.exr", "big_12345678901234567890.exr",
    ]
    touch(tmp_path, *names)
    seqs = scan([tmp_path])
    listed = [p.name for s in seqs for p in s.paths()]
    assert sorted(listed) == sorted(names)
    for seq in seqs:
        assert seq.frames == tuple(sorted(set(seq.frames)))
        if not seq.is_single:
            assert find_sequence(seq.path(seq.frames[-1])) == seq


# -- frame sets as ranges ------------------------------------------------------------


def test_frame_set_agrees_with_the_expanded_list_on_random_frame_lists() -> None:
    rng = random.Random(12)
    for _ in range(1500):
        parts = []
        for _ in range(rng.randint(1, 6)):
            first = rng.randint(-30, 60)
            last = first + rng.randint(0, 60)
            parts.append(f"{first}-{last}x{rng.randint(1, 7)}" if rng.random() < 0.7 else str(first))
        text = ",".join(parts)
        frames = parse_frames(text)
        fs = parse_frame_set(text)
        assert len(fs) == len(frames), text
        assert list(fs) == frames, text
        assert [f for f in range(-40, 130) if f in fs] == frames, text
        assert fs.select(range(-40, 130)) == frames, text


def test_frame_set_parts_merge_and_print_back() -> None:
    fs = parse_frame_set("1-4 5,1-10x3,20,20")
    assert str(fs) == "1-5,1-10x3,20"
    assert len(fs) == 8  # 1 2 3 4 5 7 10 20
    assert parse_frame_set(str(fs)) == fs
    assert FrameSet.of([3, 1, 2]) == parse_frame_set("1-3")
    for bad in ("", "a-b", "10-1", "1-5x0"):
        with pytest.raises(ValueError):
            parse_frame_set(bad)


def test_a_huge_frame_range_on_a_short_sequence_allocates_nothing_per_frame() -> None:
    tracemalloc.start()
    try:
        fs = parse_frame_set("1-10000000")
        chosen = fs.select(range(1001, 1011))
        count = len(fs)
        assert 5_000_000 in fs and 10_000_001 not in fs
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert chosen == list(range(1001, 1011))
    assert count == 10_000_000
    assert peak < 64 * 1024, f"peak {peak} bytes"  # the list of frames took 715 MB
    # Even a range far beyond what a list could ever hold.
    assert len(parse_frame_set("1-1000000000000,5-20x5")) == 1_000_000_000_000


# -- sources: each folder read once --------------------------------------------------


def count_reads(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Folder reads (scandir or listdir) by folder path."""
    reads: dict[str, int] = {}
    real_scandir, real_listdir = os.scandir, os.listdir

    def note(path: object) -> None:
        key = os.path.realpath(f"/proc/self/fd/{path}") if isinstance(path, int) else os.fspath(path)  # type: ignore[arg-type]
        reads[key] = reads.get(key, 0) + 1

    def scandir(path: object = ".") -> object:
        note(path)
        return real_scandir(path)  # type: ignore[arg-type]

    def listdir(path: object = ".") -> list[str]:
        note(path)
        return real_listdir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(sequence_module.os, "scandir", scandir)
    monkeypatch.setattr(sequence_module.os, "listdir", listdir)
    return reads


def test_resolve_reads_each_folder_once_however_many_paths_name_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    touch(tmp_path / "a", *(f"shot.{f:04d}.exr" for f in range(1, 6)), *(f"bg.{f:04d}.dpx" for f in range(1, 4)))
    touch(tmp_path / "b", *(f"fg.{f:04d}.exr" for f in range(1, 4)), *(f"mt.{f:04d}.exr" for f in range(1, 4)))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    reads = count_reads(monkeypatch)
    seqs = resolve(
        [a, f"{a}/shot.0002.exr", f"{a}/bg.####.dpx", f"{b}/fg.0001.exr", f"{b}/mt.%04d.exr"], stat=True
    )
    assert reads == {a: 1, b: 1}
    assert {(s.head, s.frames, s.total_size) for s in seqs} == {
        ("shot.", (1, 2, 3, 4, 5), 15), ("bg.", (1, 2, 3), 9), ("fg.", (1, 2, 3), 9), ("mt.", (1, 2, 3), 9)
    }
    # A frame named alone reads only its folder, once.
    reads.clear()
    [seq] = resolve([f"{b}/fg.0003.exr"])
    assert seq.frames == (1, 2, 3) and reads == {b: 1}


def test_resolve_groups_named_frames_and_says_what_is_wrong(tmp_path: Path) -> None:
    touch(tmp_path, *(f"shot.{f:04d}.exr" for f in range(1, 6)))
    [seq] = resolve([tmp_path / "shot.0002.exr", tmp_path / "shot.0004.exr"])
    assert seq.frames == (2, 4)  # a glob of some frames is just those frames
    with pytest.raises(SourceError, match="no such file or folder"):
        resolve([tmp_path / "nope.exr"])
    with pytest.raises(SourceError, match="no frames match the pattern"):
        resolve([tmp_path / "other.####.exr"])


def test_listing_by_folder_descriptor_and_by_scandir_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    touch(tmp_path, *(f"shot.{f:04d}.exr" for f in range(1, 6)), "notes.txt", ".hidden.0001.exr", size=7)
    (tmp_path / "sub").mkdir()
    touch(tmp_path / "sub", "x.0001.exr")
    os.symlink(tmp_path / "missing", tmp_path / "dangling.0009.exr")
    fast = scan([tmp_path], stat=True, recursive=True)
    monkeypatch.setattr(sequence_module, "_STAT_AT", False)
    slow = scan([tmp_path], stat=True, recursive=True)
    assert fast == slow
    assert [s.total_size for s in fast] == [s.total_size for s in slow]
    assert by_name(fast)["shot.####.exr"].total_size == 35


def test_runs_gaps_and_compact_lists_agree_with_a_frame_by_frame_walk() -> None:
    rng = random.Random(5)
    for _ in range(1000):
        frames = tuple(sorted({rng.randint(-20, 80) for _ in range(rng.randint(0, 60))}))
        seq = Sequence("/x", "a.", ".exr", 4, frames)
        have = set(frames)
        gaps = [f for f in range(frames[0], frames[-1] + 1) if f not in have] if frames else []
        assert [f for a, b in seq.missing_ranges() for f in range(a, b + 1)] == gaps
        assert seq.missing_count() == len(gaps)
        assert sorted(parse_frames(seq.frame_set_str())) == list(frames) if frames else seq.frame_set_str() == ""
        assert [f for a, b in frame_runs(frames) for f in range(a, b + 1)] == list(frames)
        assert all(b[0] - a[1] > 1 for a, b in zip(frame_runs(frames), frame_runs(frames)[1:], strict=False))


@pytest.mark.parametrize("directory", ["", ".", "./", "shots", "shots/", "shots//010/./comp/", "./shots/.",
                                       "/", "//", "///", "//mnt/x", "///mnt//x/", "/mnt/../x/", " a/.. /b",
                                       "/a\nb/c", ".hidden/.x"])
def test_the_paths_of_a_sequence_are_the_paths_pathlib_makes(directory: str) -> None:
    """path_strs spells its paths without pathlib (not imported by a copy's start): each is
    exactly str(path()), the Path of that frame, whatever the form of the folder's name."""
    numbered = Sequence(directory, "plate.", ".exr", 4, (-2, 7, 1001))
    assert numbered.path_strs() == [str(numbered.path(f)) for f in numbered.frames]
    assert numbered.path_strs([12]) == [str(numbered.path(12))]
    single = Sequence(directory, "notes.txt", "", 0, ())
    assert single.path_strs() == [str(single.path())]
