"""Deadline 10 / OpenCue submission files against expected output, and the `vfxcopy farm` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vfxcopy.core.farm.files import deadline10_files, opencue_outline
from vfxcopy.core.farm.plan import plan_job
from vfxcopy.core.jobs import ConvertOptions, JobSpec, Operation
from vfxcopy.core.sequence import Sequence

EXE = "/opt/vfxcopy/bin/vfxcopy"


def _gappy_job(dest: Path):  # type: ignore[no-untyped-def]
    frames = (*range(1001, 1051), *range(1061, 1071))  # 60 frames, a gap at 1051-1060
    plates = JobSpec(Sequence("/plates", "plate.", ".exr", 4, frames), str(dest), Operation.CONVERT,
                     convert=ConvertOptions(to="jpg"), job_id="abc123def456")
    movie = JobSpec(Sequence(str(dest), "plate.", ".jpg", 4, frames), str(dest) + "_review", Operation.CONVERT,
                    convert=ConvertOptions(to="mp4"))
    return plan_job([("main", plates, []), ("movie", movie, ["main"])], chunk=20, command=[EXE])


def test_deadline10_job_and_plugin_files(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    job = _gappy_job(dest)
    jf = job.folder
    paths = deadline10_files(job, tmp_path / "d10", pool="vfx", machine_limit=4)
    names = [p.name for p in paths]
    assert names == ["main.job", "main.plugin", "movie.job", "movie.plugin", "merge.job", "merge.plugin", "submit.sh"]
    text = {p.name: p.read_text() for p in paths}
    assert text["main.job"] == (
        "Plugin=CommandLine\n"
        "Name=vfxcopy plate.####.exr 1001-1070 [main]\n"  # the job name: Sequence.display()
        "BatchName=vfxcopy abc123def456\n"
        f"Comment=vfxcopy farm job abc123def456; results in {jf}\n"
        "Frames=1001-1050,1061-1070\n"
        "ChunkSize=20\n"
        f"OutputDirectory0={dest}\n"
        "Pool=vfx\n"
        "MachineLimit=4\n"
    )
    assert text["main.plugin"] == (
        f"Executable={EXE}\n"
        f"Arguments=farm task --spec {jf}/spec-main.json --step main --frames <STARTFRAME>-<ENDFRAME>\n"
        "Shell=default\n"
        "ShellExecute=False\n"
        f"StartupDirectory={jf}\n"
    )
    assert "Frames=1001-1050,1061-1070\nChunkSize=60\n" in text["movie.job"]  # a movie is one task
    assert f"Arguments=farm merge {jf}/job.json\n" in text["merge.plugin"]
    assert "Frames=0\nChunkSize=1\n" in text["merge.job"]
    d10 = tmp_path / "d10"
    assert text["submit.sh"].splitlines()[-1] == (
        f"exec deadlinecommand -SubmitMultipleJobs -dependent -job {d10}/main.job {d10}/main.plugin "
        f"-job {d10}/movie.job {d10}/movie.plugin -job {d10}/merge.job {d10}/merge.plugin")


def test_opencue_outline(tmp_path: Path) -> None:
    job = _gappy_job(tmp_path / "out")
    jf = job.folder
    script = opencue_outline(job, show="demo")
    compile(script, "outline.py", "exec")  # valid Python
    assert script.splitlines()[1:] == [
        "from outline import Outline, cuerun",
        "from outline.modules.shell import Shell",
        "",
        "ol = Outline('abc123def456', show='demo', shot='farm')",
        f"layer_main = Shell('main', command=['{EXE}', 'farm', 'task', '--spec', '{jf}/spec-main.json', '--step', "
        "'main', '--frames', '#FRAME_START#-#FRAME_END#'], range='1001-1050,1061-1070', chunk=20)",
        "ol.add_layer(layer_main)",
        f"layer_movie = Shell('movie', command=['{EXE}', 'farm', 'task', '--spec', '{jf}/spec-movie.json', '--step', "
        "'movie', '--frames', '#FRAME_START#-#FRAME_END#'], range='1001-1050,1061-1070', chunk=60)",
        "layer_movie.depend_all(layer_main)",
        "ol.add_layer(layer_movie)",
        f"layer_merge = Shell('merge', command=['{EXE}', 'farm', 'merge', '{jf}/job.json'], range='1')",
        "layer_merge.depend_all(layer_main)",
        "layer_merge.depend_all(layer_movie)",
        "ol.add_layer(layer_merge)",
        "",
        "if __name__ == '__main__':",
        "    cuerun.launch(ol, use_pycuerun=False)",
    ]


def _vfxcopy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vfxcopy", *args], capture_output=True, text=True, timeout=300)


def test_cli_submit_run_local_with_movie_then_status_json(small_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    proc = _vfxcopy("farm", "submit", str(small_exrs), str(dest), "--to", "jpg", "--to-space", "sRGB - Display",
                    "--chunk", "5", "--movie", "mp4", "--backend", "openjd", "--run-local", "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)["jobs"]
    assert entry["task_count"] == 4  # three chunks of frames and the movie
    assert [t["step"] for t in entry["tasks"]] == ["main", "main", "main", "movie", "merge"]
    assert all(t["state"] == "success" for t in entry["tasks"])
    assert (Path(entry["bundle"]) / "template.json").exists()
    assert (tmp_path / "out_review" / "shot_010.mp4").stat().st_size > 0
    status = _vfxcopy("farm", "status", entry["folder"], "--json")
    assert status.returncode == 0, status.stderr
    state = json.loads(status.stdout)
    assert state["state"] == "completed" and state["merged"]
    assert [c["state"] for c in state["chunks"]] == ["completed"] * 4
    assert state["frames"]["total"] == 24  # 12 frames converted, 12 encoded into the movie
    for folder in (dest, tmp_path / "out_review"):
        check = farm.ascmhl_verify(folder)
        assert check.returncode == 0, check.stdout + check.stderr
    plain = _vfxcopy("farm", "status", entry["folder"])
    assert "completed: 24/24 frames done" in plain.stdout


def test_cli_refuses_rename_policy_and_unknown_job(small_exrs: Path, tmp_path: Path) -> None:
    proc = _vfxcopy("farm", "submit", str(small_exrs), str(tmp_path / "out"), "--on-conflict", "rename",
                    "--backend", "deadline10", "--json")
    assert proc.returncode == 2
    assert "rename" in json.loads(proc.stdout)["error"]
    missing = _vfxcopy("farm", "status", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "not a farm job" in missing.stderr


def test_cli_submit_deadline10_writes_files_and_cancel_says_where(small_exrs: Path, tmp_path: Path) -> None:
    proc = _vfxcopy("farm", "submit", str(small_exrs), str(tmp_path / "out"), "--backend", "deadline10",
                    "--chunk", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    (entry,) = json.loads(proc.stdout)["jobs"]
    assert [Path(p).name for p in entry["files"]][-1] == "submit.sh"
    assert "ChunkSize=4\n" in Path(entry["files"][0]).read_text()
    cancel = _vfxcopy("farm", "cancel", entry["folder"])
    assert cancel.returncode == 1 and "monitor" in cancel.stderr


def test_odd_names_on_the_farm_are_escaped_in_its_files_or_refused_before_anything_is_written(
        tmp_path: Path) -> None:
    """A source named with bytes that are not UTF-8 and a line break runs on the farm: the job's
    name is shown escaped in the scheduler's files (OpenJD takes only valid text; it was a
    traceback). A destination so named cannot be named in those files: refused, exit 2, before
    any file or folder is made (it was a traceback after the job's folder was made)."""
    src = os.fsdecode(bytes(tmp_path) + b"/src\xff\nx")
    os.mkdir(src)
    for frame in range(1, 7):
        with open(os.fsencode(src) + b"/pl\xfe.%04d.exr" % frame, "wb") as f:
            f.write(os.urandom(1000))
    dest = tmp_path / "out"
    proc = _vfxcopy("farm", "submit", src, str(dest), "--chunk", "3", "--backend", "openjd", "--run-local", "--json")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    (entry,) = json.loads(proc.stdout)["jobs"]
    assert [t["state"] for t in entry["tasks"]] == ["success", "success", "success"]
    template = json.loads((Path(entry["bundle"]) / "template.json").read_text("utf-8"))
    assert template["name"] == "vfxcopy pl\\xfe.####.exr 1-6"
    assert len([n for n in os.listdir(dest / "ascmhl") if n.endswith(".mhl")]) == 1
    frames = sorted(n for n in os.listdir(os.fsencode(dest)) if n.endswith(b".exr"))
    assert frames == [b"pl\xfe.%04d.exr" % f for f in range(1, 7)]
    odd = os.fsdecode(bytes(tmp_path) + b"/out\xff")
    for backend in ("openjd", "slurm", "deadline10", "opencue"):
        refused = _vfxcopy("farm", "submit", src, odd, "--chunk", "3", "--backend", backend)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
        assert "out\\xff: the destination folder is not valid UTF-8 text" in refused.stderr
        assert not os.path.lexists(odd)
