"""core.specs.build_specs: sources plus one set of options -> JobSpecs (CLI and New job dialog)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vfxcopy.core.jobs import ConflictPolicy, ConvertOptions, CopyOptions, Operation
from vfxcopy.core.samples import make_byte_sequence
from vfxcopy.core.seqfind import find_sequence
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.specs import JobOptions, SpecError, build_specs


def two_sources(tmp_path: Path) -> tuple[Sequence, Sequence]:
    a = make_byte_sequence(tmp_path / "src", head="a.", count=5, size=8)  # 1001-1005
    b = make_byte_sequence(tmp_path / "src", head="b.", start=1004, count=5, size=8)  # 1004-1008
    return find_sequence(a[0]), find_sequence(b[0])


def test_one_spec_per_source_with_frames_offset_and_options(tmp_path: Path) -> None:
    a, b = two_sources(tmp_path)
    options = JobOptions(frames=[1004, 1005, 1006], offset=-1000,
                         copy=CopyOptions(on_conflict=ConflictPolicy.RENAME), origin="gui")
    built = build_specs([a, b], str(tmp_path / "out"), options)
    assert [s.source.head for s in built.specs] == ["a.", "b."]
    assert [s.frames for s in built.specs] == [[1004, 1005], [1004, 1005, 1006]]
    assert all(s.offset == -1000 and s.origin == "gui" and s.dest_dir == str(tmp_path / "out") for s in built.specs)
    assert built.notes == [f"{a.pattern()}: 1 of the chosen frames do not exist and are left out"]
    # Each job owns its options: changing one job never changes another (or the request).
    built.specs[0].copy.on_conflict = ConflictPolicy.OVERWRITE
    assert built.specs[1].copy.on_conflict is ConflictPolicy.RENAME
    assert options.copy.on_conflict is ConflictPolicy.RENAME


def test_sources_without_the_chosen_frames_are_left_out_with_a_note(tmp_path: Path) -> None:
    a, b = two_sources(tmp_path)
    single = tmp_path / "src" / "notes.txt"
    single.write_text("x")
    built = build_specs([a, b, find_sequence(single)], str(tmp_path / "out"), JobOptions(frames=[1007, 1008]))
    assert [s.source.head for s in built.specs] == ["b."]
    assert any("a.####" in n and "none of the chosen frames" in n for n in built.notes)
    assert any("notes.txt" in n and "not a sequence" in n for n in built.notes)
    with pytest.raises(SpecError, match="nothing to do"):
        build_specs([a], str(tmp_path / "out"), JobOptions(frames=[2000]))


def test_a_new_head_needs_exactly_one_source_sequence(tmp_path: Path) -> None:
    a, b = two_sources(tmp_path)
    [spec] = build_specs([a], str(tmp_path / "out"), JobOptions(rename_head="shot_020.")).specs
    assert spec.rename_head == "shot_020."
    with pytest.raises(SpecError, match="exactly one source sequence"):
        build_specs([a, b], str(tmp_path / "out"), JobOptions(rename_head="shot_020."))


def test_a_conversion_carries_its_own_copy_of_the_options(tmp_path: Path) -> None:
    a, b = two_sources(tmp_path)
    convert = ConvertOptions(to="jpg", quality=80)
    built = build_specs([a, b], str(tmp_path / "out"), JobOptions(operation=Operation.CONVERT, convert=convert))
    assert all(s.operation is Operation.CONVERT and s.convert == convert for s in built.specs)
    assert built.specs[0].convert is not built.specs[1].convert
    with pytest.raises(SpecError, match="target format"):
        build_specs([a], str(tmp_path / "out"), JobOptions(operation=Operation.CONVERT))
