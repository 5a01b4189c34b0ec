"""Open Job Description: a farm job as a job template, run here by the OpenJD runtime or by Deadline Cloud.

The template has one step per job step (its tasks: an INT parameter `ChunkStart`,
the first frame of each chunk, as a range expression, so 50,000 frames in chunks
of 10 need no 5,000-item list) and a final `merge` step that depends on all of
them. Each task runs `vfxcopy farm task ... --chunk-start N`, which prints
`openjd_progress:` / `openjd_status:` lines. Cancel is notify-then-terminate: the
runtime sends SIGTERM (the task cancels its engine token, removes its temporary
and exits 143), then SIGKILL after the grace period if it is still there.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from vfxcopy.core.farm.plan import MERGE_STEP, FarmJob, Step
from vfxcopy.core.outfile import replace_file

SPEC_VERSION = "jobtemplate-2023-09"
TEMPLATE_FILE = "template.json"
PARAMETERS_FILE = "parameter_values.json"
DEFAULT_NOTIFY_SECONDS = 30
# The runtime writes the worker's path mapping rules (an empty document when there are none)
# to this file; the task maps the paths inside the job's spec with them. JobDir itself, a
# PATH parameter, the runtime maps before the task starts.
_MAP_ARGS = ["--path-mapping-rules", "{{Session.PathMappingRulesFile}}"]


def range_expr(values: list[int]) -> str:
    """An OpenJD range expression for sorted ints: '1001-1197:4' for an even stride, else a comma list."""
    if len(values) == 1:
        return str(values[0])
    step = values[1] - values[0]
    if step > 0 and all(b - a == step for a, b in zip(values, values[1:], strict=False)):
        return f"{values[0]}-{values[-1]}" + (f":{step}" if step != 1 else "")
    return ",".join(str(v) for v in values)


def _action(command: list[str], extra: list[str], notify_seconds: int, timeout: int | None) -> dict[str, Any]:
    action: dict[str, Any] = {
        "command": "{{Param.VfxcopyExe}}",
        "args": [*command[1:], *extra],
        "cancelation": {"mode": "NOTIFY_THEN_TERMINATE", "notifyPeriodInSeconds": notify_seconds},
    }
    if timeout:
        action["timeout"] = timeout
    return action


def _task_step(job: FarmJob, step: Step, notify_seconds: int, timeout: int | None) -> dict[str, Any]:
    spec_path = "{{Param.JobDir}}/" + step.spec_file
    extra = ["farm", "task", "--spec", spec_path, "--step", step.name, *_MAP_ARGS,
             "--chunk-start", "{{Task.Param.ChunkStart}}"]
    out: dict[str, Any] = {
        "name": step.name,
        "parameterSpace": {"taskParameterDefinitions": [
            {"name": "ChunkStart", "type": "INT", "range": range_expr([c.first for c in step.chunks])},
        ]},
        "script": {"actions": {"onRun": _action(job.command, extra, notify_seconds, timeout)}},
    }
    if step.depends_on:
        out["dependencies"] = [{"dependsOn": d} for d in step.depends_on]
    return out


def job_template(job: FarmJob, *, notify_seconds: int = DEFAULT_NOTIFY_SECONDS,
                 timeout: int | None = None) -> dict[str, Any]:
    """The job template (a dict ready for JSON) for `job`; validate it with `validate`."""
    steps = [_task_step(job, s, notify_seconds, timeout) for s in job.steps]
    merge_args = ["farm", "merge", *_MAP_ARGS, "{{Param.JobDir}}/job.json"]
    steps.append({
        "name": MERGE_STEP,
        "dependencies": [{"dependsOn": s.name} for s in job.steps],
        "script": {"actions": {"onRun": _action(job.command, merge_args, notify_seconds, timeout)}},
    })
    name = f"vfxcopy {job.name}"[:128]
    return {
        "specificationVersion": SPEC_VERSION,
        "name": name,
        "description": f"vfxcopy farm job {job.job_id}: results in {job.folder}",
        "parameterDefinitions": [
            # dataFlow NONE: the job works on shared storage; job attachments must not copy it around.
            {"name": "JobDir", "type": "PATH", "objectType": "DIRECTORY", "dataFlow": "NONE",
             "description": "the farm job's folder on shared storage (DEST/.vfxcopy-farm/JOB)"},
            {"name": "VfxcopyExe", "type": "STRING", "default": job.command[0],
             "description": "the program that starts vfxcopy on a worker"},
        ],
        "steps": steps,
    }


def job_parameters(job: FarmJob) -> dict[str, str]:
    return {"JobDir": str(job.folder), "VfxcopyExe": job.command[0]}


def validate(template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """Decode and instantiate the template with openjd-model; raises its DecodeValidationError if invalid."""
    from openjd.model import create_job, decode_job_template, preprocess_job_parameters

    decoded = decode_job_template(template=template)
    values = preprocess_job_parameters(job_template=decoded, job_parameter_values=parameters,
                                       job_template_dir=Path(), current_working_dir=Path(),
                                       allow_job_template_dir_walk_up=True)
    return create_job(job_template=decoded, job_parameter_values=values)


def write_bundle(job: FarmJob, folder: str | Path | None = None, **options: Any) -> Path:
    """A job bundle (template.json + parameter_values.json), the form `deadline bundle submit` takes."""
    out = Path(folder) if folder is not None else job.folder / "openjd"
    out.mkdir(parents=True, exist_ok=True)
    template = job_template(job, **options)
    params = job_parameters(job)
    validate(template, params)
    replace_file(out / TEMPLATE_FILE, json.dumps(template, indent=2).encode("utf-8"))
    values = {"parameterValues": [{"name": k, "value": v} for k, v in params.items()]}
    replace_file(out / PARAMETERS_FILE, json.dumps(values, indent=2).encode("utf-8"))
    return out


# -- running a template here with the OpenJD runtime (openjd-sessions) ---------------------------


@dataclass
class TaskRun:
    step: str
    params: dict[str, Any]
    state: str = "pending"  # pending | running | success | failed | canceled | timeout
    exit_code: int | None = None
    progress: list[float] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    cancel_sent: float | None = None


class LocalRunner:
    """Runs an OpenJD job's tasks one after another in this process, the way a worker agent does.

    `on_update(run)` is called from the runtime's threads on every progress/status line
    and state change. `cancel(grace)` cancels the running task (notify-then-terminate,
    or terminate at once with grace 0) and stops the rest.
    """

    def __init__(self, template: dict[str, Any], parameters: dict[str, str],
                 on_update: Callable[[TaskRun], None] | None = None,
                 session_root: Path | None = None, path_mapping: list[tuple[str, str]] | None = None) -> None:
        self.path_mapping = list(path_mapping or [])  # (source, destination) POSIX rules, as a worker has
        self.template = template
        self.parameters = parameters
        self.on_update = on_update
        self.session_root = session_root
        self.runs: list[TaskRun] = []
        self._stop = threading.Event()
        self._session: Any = None
        self._current: TaskRun | None = None
        self._done = threading.Event()

    def tasks(self, steps: list[str] | None = None) -> list[tuple[Any, dict[str, Any]]]:
        from openjd.model import StepDependencyGraph, StepParameterSpaceIterator

        job = validate(self.template, self.parameters)
        graph = StepDependencyGraph(job=job)
        ordered: list[Any] = []
        pending = list(job.steps)
        while pending:  # a topological order from the dependency graph
            for step in pending:
                deps = [e.origin.step.name for e in graph.step_node(stepname=step.name).in_edges]
                if all(any(o.name == d for o in ordered) for d in deps):
                    ordered.append(step)
                    pending.remove(step)
                    break
            else:
                raise ValueError("the job's steps depend on each other in a circle")
        out: list[tuple[Any, dict[str, Any]]] = []
        for step in ordered:
            if steps is not None and step.name not in steps:
                continue
            for params in StepParameterSpaceIterator(space=step.parameterSpace):
                out.append((step, dict(params)))
        return out

    def run(self, steps: list[str] | None = None, only: Callable[[str, dict[str, Any]], bool] | None = None,
            stop_on_failure: bool = True) -> list[TaskRun]:
        from openjd.model import create_job  # noqa: F401  (import check: the runtime's model)
        from openjd.sessions import ActionState, Session

        values = _param_values(self.parameters)
        for step, params in self.tasks(steps):
            if self._stop.is_set():
                break
            plain = {k: v.value for k, v in params.items()}
            if only is not None and not only(step.name, plain):
                continue
            run = TaskRun(step.name, plain)
            self.runs.append(run)
            self._done.clear()

            def callback(session_id: str, status: Any, run: TaskRun = run) -> None:
                if status.progress is not None and (not run.progress or run.progress[-1] != status.progress):
                    run.progress.append(float(status.progress))
                if status.status_message and (not run.status or run.status[-1] != status.status_message):
                    run.status.append(status.status_message)
                state = status.state
                if state is ActionState.RUNNING:
                    run.state = "running"
                elif state is not None and state.name != "RUNNING":
                    run.state = state.name.lower()
                    run.exit_code = status.exit_code
                    run.ended = time.monotonic()
                    self._done.set()
                if self.on_update is not None:
                    self.on_update(run)

            session = Session(session_id=f"vfxcopy-{uuid.uuid4().hex[:8]}", job_parameter_values=values,
                              callback=callback, session_root_directory=self.session_root,
                              path_mapping_rules=_rules(self.path_mapping))
            self._session = session
            self._current = run
            try:
                run.started = time.monotonic()
                run.state = "running"
                session.run_task(step_script=step.script, task_parameter_values=params, step_name=step.name)
                while not self._done.wait(0.05):
                    pass
            finally:
                self._current = None
                self._session = None
                session.cleanup()
            if run.state != "success" and stop_on_failure:
                break
        return self.runs

    def cancel(self, grace: float | None = None) -> None:
        """Cancel the running task: notify (SIGTERM) then terminate after its grace period; 0: kill now."""
        self._stop.set()
        session, run = self._session, self._current
        if session is None or run is None:
            return
        run.cancel_sent = time.monotonic()
        try:
            session.cancel_action(time_limit=None if grace is None else timedelta(seconds=grace))
        except RuntimeError:
            pass  # the action ended in the meantime


def _rules(pairs: list[tuple[str, str]]) -> list[Any] | None:
    if not pairs:
        return None
    from pathlib import PurePath, PurePosixPath

    from openjd.sessions import PathFormat, PathMappingRule

    return [PathMappingRule(source_path_format=PathFormat.POSIX, source_path=PurePosixPath(src),
                            destination_path=PurePath(dst)) for src, dst in pairs]


def _param_values(parameters: dict[str, str]) -> dict[str, Any]:
    from openjd.model import ParameterValue, ParameterValueType

    kinds = {"JobDir": ParameterValueType.PATH}
    return {k: ParameterValue(type=kinds.get(k, ParameterValueType.STRING), value=v) for k, v in parameters.items()}


# -- AWS Deadline Cloud ------------------------------------------------------------------------


class DeadlineCloud:
    """Submit / status / cancel / requeue on AWS Deadline Cloud with a boto3 `deadline` client.

    The client comes from the `deadline` package (its configured profile, farm and
    queue) unless one is given (the tests give a botocore-stubbed one). The job's
    folder must be on storage the fleet's workers mount at the same path.
    """

    def __init__(self, farm_id: str, queue_id: str, client: Any = None) -> None:
        if client is None:
            from deadline.client import api

            client = api.get_boto3_client("deadline")
        self.client = client
        self.farm_id = farm_id
        self.queue_id = queue_id

    def _ids(self, job: FarmJob) -> dict[str, str]:
        return {"farmId": self.farm_id, "queueId": self.queue_id, "jobId": str(job.scheduler["deadline_job_id"])}

    def submit(self, job: FarmJob, *, priority: int = 50, max_retries: int = 2,
               max_workers: int | None = None) -> str:
        template = job_template(job)
        params = job_parameters(job)
        validate(template, params)
        request: dict[str, Any] = {
            "farmId": self.farm_id, "queueId": self.queue_id, "priority": priority,
            "template": json.dumps(template), "templateType": "JSON",
            "parameters": {"JobDir": {"path": params["JobDir"]}, "VfxcopyExe": {"string": params["VfxcopyExe"]}},
            "maxRetriesPerTask": max_retries,
            "clientToken": f"vfxcopy-{job.job_id}",
        }
        if max_workers:
            request["maxWorkerCount"] = max_workers
        response = self.client.create_job(**request)
        job_id = str(response["jobId"])
        job.scheduler.update({"deadline_job_id": job_id, "farm_id": self.farm_id, "queue_id": self.queue_id})
        job.backend = "deadline"
        job.save()
        return job_id

    def status(self, job: FarmJob) -> dict[str, Any]:
        got = self.client.get_job(**self._ids(job))
        return {"state": got.get("taskRunStatus", "UNKNOWN"), "counts": dict(got.get("taskRunStatusCounts") or {}),
                "lifecycle": got.get("lifecycleStatus")}

    def cancel(self, job: FarmJob) -> None:
        self.client.update_job(**self._ids(job), targetTaskRunStatus="CANCELED")

    def retry(self, job: FarmJob) -> int:
        """Requeue only the failed and cancelled tasks (READY); returns how many."""
        ids = self._ids(job)
        count = 0
        for step in self.client.list_steps(**ids).get("steps", []):
            for task in self.client.list_tasks(**ids, stepId=step["stepId"]).get("tasks", []):
                if task.get("runStatus") in ("FAILED", "CANCELED"):
                    self.client.update_task(**ids, stepId=step["stepId"], taskId=task["taskId"],
                                            targetRunStatus="READY")
                    count += 1
        return count
