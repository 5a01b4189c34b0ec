"""The New job dialog's choices as plain data, checked and turned into JobSpecs through core's one spec builder."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field, replace

from vfxcopy.core.jobs import ConvertOptions, CopyOptions, JobSpec, Operation, new_job_id
from vfxcopy.core.presets import PresetOutput
from vfxcopy.core.safety import same_folder
from vfxcopy.core.sequence import Sequence
from vfxcopy.core.specs import JobOptions, SpecError, build_specs
from vfxcopy.core.units import format_size, plural
from vfxcopy.gui.dialogs.job_options import (
    dest_inside_source,
    free_space,
    name_problem,
    parse_frame_text,
    sentence,
)


@dataclass
class Choices:
    """What the dialog's fields say (raw text where the user types)."""

    sequences: list[Sequence]
    destination: str
    frames_text: str = ""
    rename_text: str = ""
    numbering: str = "keep"  # keep | offset | start
    number: int = 0
    operation: Operation = Operation.COPY
    copy: CopyOptions = field(default_factory=CopyOptions)
    convert: ConvertOptions | None = None


@dataclass
class Planned:
    """The jobs, and what the user should know about them (frames left out…)."""

    specs: list[JobSpec]
    notes: list[str] = field(default_factory=list)


def check_destination(dest: str, sequences: list[Sequence]) -> str:
    """The destination folder, or ValueError saying what is wrong with it."""
    if not dest:
        raise ValueError("Choose a destination folder.")
    if not os.path.isabs(dest):
        raise ValueError(f"Give the full path of the destination folder ({dest} is relative).")
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ValueError(f"The destination {dest} is a file, not a folder.")
    for seq in sequences:
        message = dest_inside_source(dest, seq.directory or ".")
        if message:
            raise ValueError(message)
    return dest


def _rename(text: str, sequences: list[Sequence]) -> str | None:
    if not text.strip():
        return None
    problem = name_problem(text)
    if problem:
        raise ValueError(problem)
    tails = [s.tail for s in sequences]
    if len(set(tails)) < len(tails):
        raise ValueError("Renaming several sequences with the same extension to one head would "
                         "make them overwrite each other: queue them one at a time.")
    return text


def plan_jobs(choices: Choices) -> Planned:
    """One JobSpec per ticked sequence; ValueError with a sentence the dialog shows when impossible."""
    checked = choices.sequences
    if not checked:
        raise ValueError("Tick at least one sequence to queue.")
    dest = check_destination(choices.destination, checked)
    try:
        frames = parse_frame_text(choices.frames_text)
    except ValueError as exc:
        text = str(exc).rstrip(".")
        message = sentence(text) if "frame" in text.lower() else f"Frame range: {text}"
        raise ValueError(f"{message}.") from exc
    rename = _rename(choices.rename_text, checked)
    specs: list[JobSpec] = []
    notes: list[str] = []
    for seq in checked:
        # Each sequence on its own: "renumber from" gives each its own offset, and a new head is
        # checked above against the extensions (several sequences may share one head).
        wanted = frames if not seq.is_single else None
        first = next((f for f in seq.frames if wanted is None or f in wanted), seq.frames[0] if seq.frames else 0)
        offset = {"offset": choices.number, "start": choices.number - first}.get(choices.numbering, 0)
        options = JobOptions(operation=choices.operation, frames=wanted, rename_head=rename, offset=offset,
                             copy=choices.copy, convert=choices.convert, origin="gui")
        try:
            built = build_specs([seq], dest, options)
        except SpecError as exc:
            if wanted is not None:
                raise ValueError(f"Frame range: none of the frames asked for are in {seq.nuke_name()} "
                                 f"({seq.frame_set_str()}).") from exc
            raise ValueError(sentence(str(exc)) + ".") from exc
        specs.extend(built.specs)
        notes.extend(built.notes)
    return Planned(specs, notes)


def new_group_id() -> str:
    """A fresh JobSpec.group: the jobs that read one source once."""
    return uuid.uuid4().hex


def check_also(main: str, also: list[str], source_dirs: list[str]) -> list[str]:
    """The "Also copy to" folders, checked as the command line checks --also (cli/copy_cmd._fan_out):
    a destination that is a file, or the same folder as another destination, is refused (ValueError)."""
    extra: list[str] = []
    for raw in also:
        if not raw:
            raise ValueError("An “Also copy to” row is empty: choose a folder for it, or remove it.")
        if not os.path.isabs(raw):
            raise ValueError(f"Give the full path of each destination ({raw} is relative).")
        if os.path.exists(raw) and not os.path.isdir(raw):
            raise ValueError(f"The destination {raw} is a file, not a folder.")
        # Same path as written, or the same folder through a link or a bind mount.
        twin = next((d for d in [main, *extra] if d and same_folder(raw, d)), None)
        if twin is not None:
            same = "is given twice" if twin == raw else f"is the same folder as {twin}"
            raise ValueError(f"The destination {raw} {same}: each copy needs a folder of its own; "
                             "remove the row or choose another folder.")
        for source_dir in source_dirs:
            message = dest_inside_source(raw, source_dir)
            if message:
                raise ValueError(message)
        extra.append(raw)
    return extra


def fan_out(specs: list[JobSpec], extra: list[str]) -> list[JobSpec]:
    """Each job once more per extra destination (checked by `check_also`): its own job id, options and
    answers, and one fresh group id shared by the copies of one source, which read it once."""
    if not extra:
        return specs
    out: list[JobSpec] = []
    for spec in specs:
        first = replace(spec, group=new_group_id())
        out.append(first)
        for path in extra:
            out.append(replace(first, dest_dir=path, job_id=new_job_id(), copy=replace(first.copy), names=None,
                               conflict_choices=dict(first.conflict_choices) if first.conflict_choices else None))
    return out


def plan_renditions(choices: Choices, outputs: list[PresetOutput]) -> Planned:
    """A conversion of several outputs (renditions): one job per output and ticked sequence, each into
    its output's folder (relative folders inside the destination), the renditions of one sequence
    sharing a fresh group id (each frame decoded once for all of them). ValueError when one cannot go."""
    if len(outputs) == 1 and not outputs[0].folder:
        return plan_jobs(replace(choices, convert=outputs[0].options))
    main = check_destination(choices.destination, choices.sequences)
    per_output: list[list[JobSpec]] = []
    notes: list[str] = []
    for n, output in enumerate(outputs, start=1):
        dest = output.dest_dir(main)
        if not os.path.isabs(dest):
            raise ValueError(f"Rendition {n}: give a folder inside the destination or a full path ({dest}).")
        try:
            planned = plan_jobs(replace(choices, destination=dest, convert=output.options))
        except ValueError as exc:
            raise ValueError(f"Rendition {n} ({output.options.to.upper()} into {dest}): {exc}") from exc
        per_output.append(planned.specs)
        notes = notes or planned.notes
    if len(outputs) == 1:
        return Planned(per_output[0], notes)
    specs: list[JobSpec] = []
    for jobs in zip(*per_output, strict=True):
        group = new_group_id()
        _refuse_same_names(list(jobs))
        specs.extend(replace(spec, group=group) for spec in jobs)
    return Planned(specs, notes)


def _refuse_same_names(jobs: list[JobSpec]) -> None:
    """Two renditions of one sequence must not write the same file into the same folder."""
    from vfxcopy.core.naming import planned_names

    seen: dict[tuple[str, str], int] = {}
    for n, spec in enumerate(jobs, start=1):
        folder = os.path.realpath(spec.dest_dir)
        for name in planned_names(spec):
            other = seen.setdefault((folder, name), n)
            if other != n:
                raise ValueError(f"Renditions {other} and {n} would both write {name} into {spec.dest_dir}: "
                                 "give one of them another folder (Write into) or format.")


def job_size(spec: JobSpec, sizes: dict[int, int | None]) -> int:
    """The bytes `spec` reads: its tree's, or its share of its sequence's size (`sizes`: by id of the
    sequence, as the list measured them)."""
    if spec.tree is not None:
        return sum(int(e.get("size") or 0) for e in spec.tree)
    whole = sizes.get(id(spec.source)) or 0
    count = len(spec.source.frames) or 1
    return whole * (len(spec.selected_frames()) or 1) // count


def summarise(planned: Planned, sizes: dict[int, int | None]) -> tuple[str, list[str]]:
    """The summary line under the list ("3 jobs · 300 frames · 1.2 GiB"), and the warnings: a
    destination short of space, and what the plan left out (frames a sequence does not have)."""
    specs = planned.specs
    if not specs:
        return "", []
    size_at: dict[str, int] = {}
    for spec in specs:
        size_at[spec.dest_dir] = size_at.get(spec.dest_dir, 0) + job_size(spec, sizes)
    reads = len({spec.group or spec.job_id for spec in specs})
    frames = sum(len(spec.selected_frames()) or 1 for spec in specs) * reads // len(specs)
    size = sum(size_at.values()) * reads // len(specs)
    text = f"{plural(len(specs), 'job')} · {plural(frames, 'frame')} · {format_size(size)}"
    members = len(specs) // reads
    if members > 1 and specs[0].operation is Operation.CONVERT:
        text += f" · {members} renditions, each frame decoded once"
    elif members > 1:
        text += f" · to {members} destinations, read once"
    warnings = []
    if specs[0].operation is Operation.COPY:
        # Each destination on its own: a small backup drive beside a big working one.
        for dest, need in size_at.items():
            free = free_space(dest)
            if free is not None and need > free:
                where = "at the destination" if len(size_at) == 1 else f"at {dest}"
                warnings.append(f"Only {format_size(free)} free {where} for {format_size(need)}.")
    return text, [*warnings, *(sentence(n) + "." for n in planned.notes if n)]
