"""OpenJD: templates validated by openjd-model and executed for real by openjd-sessions; Deadline Cloud stubbed."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import OpenImageIO as oiio

from vfxcopy.core.farm import openjd
from vfxcopy.core.farm.backends import results_status
from vfxcopy.core.farm.plan import plan_job
from vfxcopy.core.farm.task import read_chunk_results
from vfxcopy.core.jobs import FrameStatus, JobState


def test_template_is_valid_openjd_with_steps_chunks_and_merge(small_exrs: Path, tmp_path: Path, farm) -> None:
    proxies = farm.convert_spec(small_exrs, tmp_path / "out")
    movie = farm.convert_spec(small_exrs, tmp_path / "out", to="mp4")
    job = plan_job([("proxies", proxies, []), ("movie", movie, ["proxies"])], chunk=5)
    template = openjd.job_template(job)
    instance = openjd.validate(template, openjd.job_parameters(job))  # raises if openjd-model disagrees
    assert [s.name for s in instance.steps] == ["proxies", "movie", "merge"]
    proxies_step = template["steps"][0]
    assert proxies_step["parameterSpace"]["taskParameterDefinitions"][0]["range"] == "1001-1011:5"
    assert template["steps"][1]["dependencies"] == [{"dependsOn": "proxies"}]
    assert template["steps"][2]["dependencies"] == [{"dependsOn": "proxies"}, {"dependsOn": "movie"}]
    cancel = proxies_step["script"]["actions"]["onRun"]["cancelation"]
    assert cancel == {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": 30}
    bundle = openjd.write_bundle(job)
    assert json.loads((bundle / "template.json").read_text()) == template
    values = json.loads((bundle / "parameter_values.json").read_text())["parameterValues"]
    assert {v["name"]: v["value"] for v in values}["JobDir"] == str(job.folder)


def test_range_expressions() -> None:
    assert openjd.range_expr([5]) == "5"
    assert openjd.range_expr([1, 2, 3]) == "1-3"
    assert openjd.range_expr([1001, 1021, 1041]) == "1001-1041:20"
    assert openjd.range_expr([1, 5, 6]) == "1,5,6"


def test_openjd_sessions_runs_the_job_progress_only_rises(small_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(small_exrs, dest), chunk=5)
    runner = openjd.LocalRunner(openjd.job_template(job), openjd.job_parameters(job))
    runs = runner.run()
    assert [(r.step, r.params.get("ChunkStart"), r.state) for r in runs] == [
        ("main", "1001", "success"), ("main", "1006", "success"), ("main", "1011", "success"), ("merge", None, "success")]
    for run in runs[:3]:
        assert run.progress and run.progress[-1] == 100.0
        assert run.progress == sorted(set(run.progress)), run.progress
    assert len(list(dest.glob("*.jpg"))) == 12
    assert not farm.partials(dest)
    check = farm.ascmhl_verify(dest)
    assert check.returncode == 0, check.stdout + check.stderr


def test_cancel_mid_chunk_notify_then_terminate_leaves_nothing_partial(big_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(big_exrs, dest, to="exr"), chunk=30)
    runner: openjd.LocalRunner

    def on_update(run: openjd.TaskRun) -> None:
        if run.progress and run.cancel_sent is None and run.progress[-1] < 100.0:
            runner.cancel(grace=30)  # notify (SIGTERM); terminate only after 30 s

    runner = openjd.LocalRunner(openjd.job_template(job), openjd.job_parameters(job), on_update=on_update)
    (run,) = runner.run()  # the merge step never starts after a cancel
    assert run.state == "canceled", run
    assert run.cancel_sent is not None
    latency = run.ended - run.cancel_sent
    assert latency < 10  # well inside the grace period: the task itself stopped
    assert not farm.partials(dest)
    (rec,) = read_chunk_results(job.folder)
    assert rec.state is JobState.CANCELLED
    done = [f for f in rec.frames if f.status is FrameStatus.DONE]
    assert 0 < len(done) < 30
    assert sorted(p.name for p in dest.glob("*.exr")) == sorted(Path(f.dest).name for f in done)
    print(f"OpenJD notify to task end: {latency * 1000:.0f} ms")


def test_killed_task_retried_completes_and_finished_frames_keep_their_inode(
        big_exrs: Path, tmp_path: Path, farm) -> None:
    dest = tmp_path / "out"
    job = farm.farm_job(farm.convert_spec(big_exrs, dest, to="exr"), chunk=30)
    template, params = openjd.job_template(job), openjd.job_parameters(job)
    killed_pid: list[int] = []

    def on_update(run: openjd.TaskRun) -> None:
        if run.progress and not killed_pid and 0 < run.progress[-1] < 100.0:
            # A node dies: SIGKILL to the task process (its pid is in its chunk record), no clean-up.
            (rec,) = read_chunk_results(job.folder)
            killed_pid.append(rec.pid)
            os.kill(rec.pid, signal.SIGKILL)

    runner = openjd.LocalRunner(template, params, on_update=on_update)
    (killed,) = runner.run()
    assert killed_pid and killed.state == "failed" and killed.exit_code == -signal.SIGKILL
    before = {p.name: p.stat().st_ino for p in dest.glob("*.exr")}
    assert 0 < len(before) < 30
    # The killed task left a "running" record; its process is gone, so the status says so.
    assert [c["state"] for c in results_status(job)["chunks"]] == ["interrupted"]
    retry = openjd.LocalRunner(template, params)
    runs = retry.run()
    assert [r.state for r in runs] == ["success", "success"]
    assert len(list(dest.glob("*.exr"))) == 30
    for name, ino in before.items():
        assert (dest / name).stat().st_ino == ino, name
    assert not farm.partials(dest)  # the killed attempt's temporary was removed by the retry
    (rec,) = read_chunk_results(job.folder)
    statuses = {f.frame: f.status for f in rec.frames}
    assert sum(s is FrameStatus.SKIPPED for s in statuses.values()) == len(before)
    for p in dest.glob("*.exr"):
        assert oiio.ImageBuf(str(p)).read(force=True), p
    check = farm.ascmhl_verify(dest)
    assert check.returncode == 0, check.stdout + check.stderr


def _stubbed_deadline() -> tuple[object, object]:
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("deadline", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="y")
    return client, Stubber(client)


FARM = "farm-" + "1" * 32
QUEUE = "queue-" + "2" * 32
JOB = "job-" + "3" * 32
STEP = "step-" + "4" * 32


def test_deadline_cloud_submit_status_cancel_retry_through_botocore_stubber(
        small_exrs: Path, tmp_path: Path, farm) -> None:
    from botocore.stub import ANY

    job = farm.farm_job(farm.convert_spec(small_exrs, tmp_path / "out"), chunk=6)
    client, stub = _stubbed_deadline()
    ids = {"farmId": FARM, "queueId": QUEUE, "jobId": JOB}
    stub.add_response("create_job", {"jobId": JOB}, {
        "farmId": FARM, "queueId": QUEUE, "priority": 50, "template": ANY, "templateType": "JSON",
        "parameters": {"JobDir": {"path": str(job.folder)}, "VfxcopyExe": {"string": job.command[0]}},
        "maxRetriesPerTask": 2, "clientToken": f"vfxcopy-{job.job_id}"})
    now = "2026-01-01T00:00:00Z"
    stub.add_response("get_job", {"jobId": JOB, "name": "x", "lifecycleStatus": "CREATE_COMPLETE",
                                  "lifecycleStatusMessage": "", "priority": 50, "createdAt": now, "createdBy": "me",
                                  "taskRunStatus": "RUNNING",
                                  "taskRunStatusCounts": {"RUNNING": 1, "SUCCEEDED": 1, "PENDING": 1}}, ids)
    stub.add_response("update_job", {}, {**ids, "targetTaskRunStatus": "CANCELED"})
    stub.add_response("list_steps", {"steps": [
        {"stepId": STEP, "name": "main", "lifecycleStatus": "CREATE_COMPLETE", "taskRunStatus": "CANCELED",
         "taskRunStatusCounts": {"SUCCEEDED": 1, "CANCELED": 1}, "createdAt": now, "createdBy": "me"}]}, ids)
    tasks = [{"taskId": f"task-{'4' * 32}-{i}", "createdAt": now, "createdBy": "me", "runStatus": status}
             for i, status in enumerate(("SUCCEEDED", "CANCELED"))]
    stub.add_response("list_tasks", {"tasks": tasks}, {**ids, "stepId": STEP})
    stub.add_response("update_task", {}, {**ids, "stepId": STEP, "taskId": f"task-{'4' * 32}-1",
                                          "targetRunStatus": "READY"})
    with stub:
        backend = openjd.DeadlineCloud(FARM, QUEUE, client=client)
        assert backend.submit(job) == JOB
        state = backend.status(job)
        backend.cancel(job)
        assert backend.retry(job) == 1  # only the cancelled task, not the one that succeeded
    stub.assert_no_pending_responses()
    assert state == {"state": "RUNNING", "counts": {"RUNNING": 1, "SUCCEEDED": 1, "PENDING": 1},
                     "lifecycle": "CREATE_COMPLETE"}
    saved = json.loads(job.job_file.read_text())
    assert saved["backend"] == "deadline" and saved["scheduler"]["deadline_job_id"] == JOB



def test_a_local_run_keeps_its_sessions_in_a_private_folder_it_removes(
        small_exrs: Path, tmp_path: Path, farm, monkeypatch) -> None:
    """The runtime's default /tmp/OpenJD is shared by every user of the machine and owned by the
    first who made it (another user's run then failed "Permission denied"): a local run keeps its
    sessions in a folder of its own, 0700, gone after the run, and a runtime failure is a FarmError."""
    import tempfile

    from vfxcopy.core.farm.backends import FarmError, OpenJDBackend

    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    seen: list[str] = []
    real_session = __import__("openjd.sessions", fromlist=["Session"]).Session

    class Spy(real_session):  # type: ignore[misc,valid-type]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            root = kwargs["session_root_directory"]
            seen.append(str(root))
            assert os.stat(root).st_mode & 0o777 == 0o700
            super().__init__(*args, **kwargs)

    monkeypatch.setattr("openjd.sessions.Session", Spy)
    job = plan_job([("main", farm.convert_spec(small_exrs, tmp_path / "out"), [])], chunk=100)
    submitted = OpenJDBackend(run_local=True).submit(job)
    assert [t["state"] for t in submitted["tasks"]] == ["success", "success"]
    assert seen and all(os.path.dirname(root) == str(temp) for root in seen)
    assert os.listdir(temp) == []  # neither the runtime's OpenJD folder nor ours is left

    def refuse(*args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("Could not create temp directory within /tmp/OpenJD: [Errno 13] Permission denied")

    monkeypatch.setattr("openjd.sessions.Session", refuse)
    again = plan_job([("main", farm.convert_spec(small_exrs, tmp_path / "out2"), [])], chunk=100)
    try:
        OpenJDBackend(run_local=True).submit(again)
    except FarmError as exc:
        assert "the OpenJD runtime could not run the job's tasks here" in str(exc) and "Permission denied" in str(exc)
    else:
        raise AssertionError("a runtime that cannot start a session must be a FarmError")
    assert os.listdir(temp) == []
