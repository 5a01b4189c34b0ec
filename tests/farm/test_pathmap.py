"""Path mapping: a job submitted with one computer's paths runs on workers that mount the storage elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vfxcopy.core.farm import openjd
from vfxcopy.core.farm.pathmap import PathMap
from vfxcopy.core.farm.plan import FarmJob


def test_rules_match_whole_components_longest_first(tmp_path: Path) -> None:
    view = PathMap.from_pairs(["/mnt/show=/data/show", "/mnt/show/plates=/fast/plates"])
    assert view.apply("/mnt/show/shot/a.exr") == "/data/show/shot/a.exr"
    assert view.apply("/mnt/show/plates/a.exr") == "/fast/plates/a.exr"
    assert view.apply("/mnt/showreel/a.exr") == "/mnt/showreel/a.exr"  # not a component match
    assert view.apply("/mnt/show") == "/data/show"
    win = PathMap.from_pairs(["Z:\\Show=/mnt/show"])
    assert win.apply("z:/show/shot/a.exr") == "/mnt/show/shot/a.exr"
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"version": "pathmapping-1.0", "path_mapping_rules": [
        {"source_path_format": "POSIX", "source_path": "/a/b", "destination_path": "/c"}]}))
    assert PathMap.from_openjd_file(rules).apply("/a/b/x") == "/c/x"
    (tmp_path / "empty.json").write_text("{}")
    assert not PathMap.from_openjd_file(tmp_path / "empty.json")
    with pytest.raises(ValueError):
        PathMap.from_pairs(["no-equals-sign"])


def test_openjd_runtime_path_mapping_reaches_the_tasks_and_the_merge(
        small_exrs: Path, tmp_path: Path, farm) -> None:
    real = tmp_path / "storage"
    src = real / "src"
    src.mkdir(parents=True)
    for frame in sorted(small_exrs.iterdir())[:6]:
        (src / frame.name).write_bytes(frame.read_bytes())
    job = farm.farm_job(farm.convert_spec(src, real / "out"), chunk=3)
    # The submitter mounts the storage at /studio/...: the job's files say so.
    studio = "/studio/vfxcopy-pathmap-test"
    for name in ("job.json", "spec-main.json"):
        path = job.folder / name
        path.write_text(path.read_text().replace(str(real), studio))
    seen = FarmJob.load(job.folder)
    assert seen.dest_dir.startswith(studio)
    assert json.loads((job.folder / "spec-main.json").read_text())["source"]["directory"] == f"{studio}/src"
    params = {"JobDir": f"{studio}/out/.vfxcopy-farm/{job.job_id}", "VfxcopyExe": job.command[0]}
    runner = openjd.LocalRunner(openjd.job_template(seen), params, path_mapping=[(studio, str(real))])
    runs = runner.run()
    assert [r.state for r in runs] == ["success"] * 3, [r.status for r in runs]
    out = real / "out"
    assert sorted(p.name for p in out.glob("*.jpg")) == [f"shot_010.{n}.jpg" for n in range(1001, 1007)]
    assert not Path(studio).exists()
    check = farm.ascmhl_verify(out)
    assert check.returncode == 0, check.stdout + check.stderr


def test_path_rules_travel_with_slurm_and_deadline10_commands(small_exrs: Path, tmp_path: Path, farm) -> None:
    from vfxcopy.core.farm.files import deadline10_files
    from vfxcopy.core.farm.plan import plan_job

    job = plan_job([("main", farm.convert_spec(small_exrs, tmp_path / "out"), [])], chunk=6,
                   path_rules=[f"{tmp_path}=/render/mnt"])
    again = FarmJob.load(job.folder)
    assert again.path_rules == [f"{tmp_path}=/render/mnt"]
    assert again.task_argv(again.steps[0], "1001-1006")[-4:] == [
        "--path-map", f"{tmp_path}=/render/mnt", "--frames", "1001-1006"]
    plugin = deadline10_files(again, tmp_path / "d10")[1].read_text()
    assert f"--path-map {tmp_path}=/render/mnt --frames <STARTFRAME>-<ENDFRAME>" in plugin
    with pytest.raises(RuntimeError):
        again.mapped(PathMap.from_pairs([f"{tmp_path}=/x"])).save()
