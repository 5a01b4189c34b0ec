"""Submission files for farm managers this project cannot install: Deadline 10 and OpenCue.

Deadline 10: a job info and a plugin info file per step (Plugin=CommandLine; its
`<STARTFRAME>`/`<ENDFRAME>` tokens become the chunk's range), and a `submit.sh`
that submits them with `deadlinecommand -SubmitMultipleJobs -dependent` (each job
waits for the one before; the merge job comes last). OpenCue: a PyOutline script
with one Shell layer per step (`#FRAME_START#-#FRAME_END#` per chunk) and a merge
layer that depends on all of them.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from vfxcopy.core.farm.plan import MERGE_STEP, FarmJob, Step
from vfxcopy.core.framenames import format_frames
from vfxcopy.core.outfile import replace_file


def _frame_list(job: FarmJob, step: Step) -> list[int]:
    try:
        return job.spec(step.name).selected_frames()
    except (OSError, ValueError, KeyError):
        return sorted({f for c in step.chunks for f in range(c.first, c.last + 1)})


def _frames(job: FarmJob, step: Step) -> str:
    """The step's frames as a frame list both managers read ('1001-1200', '1-3,5'); gaps stay gaps."""
    return format_frames(_frame_list(job, step))


def _chunk_size(step: Step) -> int:
    # Both managers cut the frame list into runs of this many frames: the same chunks as split_frames.
    return max(c.count for c in step.chunks)


def _info(lines: dict[str, str]) -> str:
    return "".join(f"{k}={v}\n" for k, v in lines.items())


def deadline10_files(job: FarmJob, folder: str | Path, *, pool: str | None = None, group: str | None = None,
                     machine_limit: int | None = None) -> list[Path]:
    """Write job/plugin info files per step plus submit.sh into `folder`; returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    pairs: list[tuple[Path, Path]] = []
    exe, *pre = job.command
    for step in [*job.steps, None]:
        name = step.name if step is not None else MERGE_STEP
        info = {
            "Plugin": "CommandLine",
            "Name": f"vfxcopy {job.name} [{name}]",
            "BatchName": f"vfxcopy {job.job_id}",
            "Comment": f"vfxcopy farm job {job.job_id}; results in {job.folder}",
            "Frames": _frames(job, step) if step is not None else "0",
            "ChunkSize": str(_chunk_size(step)) if step is not None else "1",
            "OutputDirectory0": job.dest_dir,
        }
        if pool:
            info["Pool"] = pool
        if group:
            info["Group"] = group
        if machine_limit:
            info["MachineLimit"] = str(machine_limit)
        if step is not None:
            args = [*pre, "farm", "task", "--spec", str(job.folder / step.spec_file), "--step", step.name,
                    *job.map_args(), "--frames"]
            arguments = shlex.join(args) + " <STARTFRAME>-<ENDFRAME>"
        else:
            arguments = shlex.join([*pre, "farm", "merge", *job.map_args(), str(job.job_file)])
        plugin = {"Executable": exe, "Arguments": arguments, "Shell": "default", "ShellExecute": "False",
                  "StartupDirectory": str(job.folder)}
        job_path, plugin_path = out / f"{name}.job", out / f"{name}.plugin"
        replace_file(job_path, _info(info).encode("utf-8"))
        replace_file(plugin_path, _info(plugin).encode("utf-8"))
        pairs.append((job_path, plugin_path))
        written += [job_path, plugin_path]
    submit = out / "submit.sh"
    parts = ["deadlinecommand", "-SubmitMultipleJobs", "-dependent"]
    for job_path, plugin_path in pairs:
        parts += ["-job", str(job_path), str(plugin_path)]
    replace_file(submit, ("#!/bin/sh\n# Each job waits for the one before it; the merge job comes last.\nexec "
                          + shlex.join(parts) + "\n").encode("utf-8"), mode=0o755)
    written.append(submit)
    return written


def opencue_outline(job: FarmJob, *, show: str = "vfxcopy", shot: str = "farm") -> str:
    """A PyOutline script (run it with OpenCue's Python: it launches the job on the cuebot)."""
    exe = job.command
    lines = [
        f'"""vfxcopy farm job {job.job_id} as an OpenCue outline (generated)."""',
        "from outline import Outline, cuerun",
        "from outline.modules.shell import Shell",
        "",
        f"ol = Outline({job.job_id!r}, show={show!r}, shot={shot!r})",
    ]
    for step in job.steps:
        cmd = [*exe, "farm", "task", "--spec", str(job.folder / step.spec_file), "--step", step.name,
               *job.map_args(), "--frames", "#FRAME_START#-#FRAME_END#"]
        var = f"layer_{step.name}"
        lines.append(f"{var} = Shell({step.name!r}, command={cmd!r}, range={_frames(job, step)!r}, "
                     f"chunk={_chunk_size(step)})")
        for dep in step.depends_on:
            lines.append(f"{var}.depend_all(layer_{dep})")
        lines.append(f"ol.add_layer({var})")
    merge = [*exe, "farm", "merge", *job.map_args(), str(job.job_file)]
    lines.append(f"layer_{MERGE_STEP} = Shell({MERGE_STEP!r}, command={merge!r}, range='1')")
    for step in job.steps:
        lines.append(f"layer_{MERGE_STEP}.depend_all(layer_{step.name})")
    lines += [f"ol.add_layer(layer_{MERGE_STEP})", "", "if __name__ == '__main__':",
              "    cuerun.launch(ol, use_pycuerun=False)", ""]
    return "\n".join(lines)
