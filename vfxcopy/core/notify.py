"""When jobs end: notification URLs through apprise (e-mail, Slack, Teams, webhooks) and hook commands fed the job's JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vfxcopy.core.jobs import FrameStatus, JobResult, JobSpec, JobState
from vfxcopy.core.units import plural

if TYPE_CHECKING:
    from vfxcopy.core.config import Config

WHEN = ("always", "failed", "never")
HOOK_TIMEOUT_S = 120.0
HOOK_TIMEOUT_CANCELLED_S = 10.0  # a hook of a run being cancelled: the user wants out
HOOK_NOTE_AFTER_S = 5.0  # a hook still running after this long is said (the command is not stuck)
HOOK_GRACE_S = 2.0  # a hook stopped gets SIGTERM, then SIGKILL after this long
# A failed job's JSON lists at most this many failed frames (a hook reads it whole from a pipe).
MAX_FAILED_LISTED = 200


class MissingExtra(RuntimeError):
    """A feature whose library is an optional extra that is not installed; the message says what to install."""


def require_apprise() -> Any:
    """The apprise module; MissingExtra naming the extra when it is not installed."""
    try:
        import apprise
    except ModuleNotFoundError:
        raise MissingExtra(
            "notification URLs need apprise: install the notify extra, e.g. pip install 'vfxcopy[notify]'") from None
    return apprise


def job_payload(spec: JobSpec, result: JobResult) -> dict[str, Any]:
    """A finished job as plain data: what a hook reads on standard input and a notification summarises."""
    counts = {s: 0 for s in FrameStatus}
    for frame in result.frames:
        counts[frame.status] += 1
    failed = result.failed
    return {
        "job_id": result.job_id,
        "name": spec.display_name(),
        "operation": spec.operation.value,
        "source": spec.source.pattern(),
        "dest_dir": spec.dest_dir,
        "state": result.state.value,
        "ok": result.state is JobState.COMPLETED and not failed,
        "exit_code": result.exit_code,
        "message": result.message,
        "frames_total": len(result.frames),
        "frames_done": counts[FrameStatus.DONE],
        "frames_skipped": counts[FrameStatus.SKIPPED],
        "frames_failed": counts[FrameStatus.FAILED],
        "bytes": result.bytes_done,
        "elapsed": round(result.elapsed, 3),
        "failed": [{"frame": r.frame, "source": r.source, "dest": r.dest, "error": r.error}
                   for r in failed[:MAX_FAILED_LISTED]],
        "spec": spec.to_dict(),
    }


def _line(job: dict[str, Any]) -> str:
    text = f"{job['name']} -> {job['dest_dir']}: {job['state']}, {job['frames_done']}/{job['frames_total']} frames"
    if job["frames_skipped"]:
        text += f", {job['frames_skipped']} skipped"
    if job["frames_failed"]:
        text += f", {job['frames_failed']} failed"
    if job["message"] and not job["ok"]:
        text += f" - {job['message']}"
    return text


def message_for(jobs: Sequence[dict[str, Any]], command: str = "") -> tuple[str, str, bool]:
    """(title, body, ok) of one notification for a batch of finished jobs."""
    bad = [j for j in jobs if not j["ok"]]
    what = f"vfxcopy {command}".strip()
    if len(jobs) == 1:
        title = f"{what}: {jobs[0]['name']} {jobs[0]['state']}"
    elif bad:
        title = f"{what}: {len(bad)} of {len(jobs)} jobs did not complete"
    else:
        title = f"{what}: {plural(len(jobs), 'job')} completed"
    body = "\n".join(_line(j) for j in jobs) or "no job ran"
    return title, body, not bad


@dataclass
class Notifier:
    """Where a job's end is told: URLs (one message per batch) and hook commands (once per job)."""

    urls: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)
    when: str = "always"
    # Given on the command line for this run: told whatever `when` says.
    forced_urls: list[str] = field(default_factory=list)
    forced_hooks: list[str] = field(default_factory=list)
    hook_timeout: float = HOOK_TIMEOUT_S

    @classmethod
    def from_settings(cls, settings: Config, urls: Iterable[str] = (), hooks: Iterable[str] = ()) -> Notifier:
        hook = settings.text("notify.on_complete").strip()
        return cls(urls=settings.strings("notify.urls"), hooks=[hook] if hook else [],
                   when=settings.text("notify.when"), forced_urls=list(urls), forced_hooks=list(hooks))

    @property
    def active(self) -> bool:
        return bool(self.urls or self.hooks or self.forced_urls or self.forced_hooks)

    def _wanted(self, ok: bool) -> bool:
        return self.when == "always" or (self.when == "failed" and not ok)

    def check(self) -> None:
        """Before any job runs: every URL must be one apprise understands (MissingExtra, ValueError)."""
        urls = self.urls + self.forced_urls
        if not urls:
            return
        apprise = require_apprise()
        for url in urls:
            if not apprise.Apprise().add(url):
                raise ValueError(f"notification URL not understood by apprise: {redacted(url)}")

    def job_finished(self, spec: JobSpec, result: JobResult, *, stop: Callable[[], bool] | None = None,
                     note: Callable[[str], None] | None = None, hurry: bool = False) -> list[str]:
        """Run the hooks for one finished job; the problems met (a hook failed, timed out, was stopped).

        `stop`: asked while a hook runs; True stops it (a Ctrl-C that came meanwhile). `note`: told
        once when a hook runs long. `hurry`: the run is being cancelled, a hook gets 10 s."""
        payload = job_payload(spec, result)
        hooks = self.forced_hooks + (self.hooks if self._wanted(payload["ok"]) else [])
        timeout = min(self.hook_timeout, HOOK_TIMEOUT_CANCELLED_S) if hurry else self.hook_timeout
        return [p for hook in hooks if (p := run_hook(hook, payload, timeout=timeout, stop=stop, note=note))]

    def batch_finished(self, jobs: Sequence[dict[str, Any]], command: str = "") -> list[str]:
        """One message for the jobs of a run to every URL; the problems met."""
        if not jobs:
            return []
        title, body, ok = message_for(jobs, command)
        urls = self.forced_urls + (self.urls if self._wanted(ok) else [])
        if not urls:
            return []
        try:
            return send(urls, title, body, ok=ok)
        except MissingExtra as exc:
            return [str(exc)]


def redacted(url: str) -> str:
    """A URL for messages: the password part left out (URLs carry credentials)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    auth, _, host = rest.partition("@")
    return f"{scheme}://{auth.split(':', 1)[0]}:***@{host}" if ":" in auth else url


def send(urls: Sequence[str], title: str, body: str, *, ok: bool = True) -> list[str]:
    """Send one notification to each URL through apprise; the URLs that failed, as messages."""
    apprise = require_apprise()
    problems: list[str] = []
    kind = apprise.NotifyType.SUCCESS if ok else apprise.NotifyType.FAILURE
    for url in urls:
        # One Apprise object per URL: a failure is told for the URL that failed.
        target = apprise.Apprise()
        if not target.add(url):
            problems.append(f"notification URL not understood: {redacted(url)}")
        elif not target.notify(title=title, body=body, notify_type=kind):
            problems.append(f"notification to {redacted(url)} failed (see apprise's message above)")
    return problems


def run_hook(command: str, payload: dict[str, Any], *, timeout: float = HOOK_TIMEOUT_S,
             stop: Callable[[], bool] | None = None, note: Callable[[str], None] | None = None) -> str | None:
    """Run `command` in the shell with the job's JSON on standard input; a problem message, or None.

    The environment also carries VFXCOPY_JOB_ID, VFXCOPY_JOB_STATE, VFXCOPY_EXIT_CODE and
    VFXCOPY_DEST_DIR for hooks that need no JSON parser. Its output goes to our stderr. It runs
    in a process group of its own: past `timeout`, or once `stop()` says so, the whole group is
    stopped (SIGTERM, then SIGKILL), the shell and whatever it started, nothing left running.
    """
    env = {**os.environ, "VFXCOPY_JOB_ID": str(payload["job_id"]), "VFXCOPY_JOB_STATE": str(payload["state"]),
           "VFXCOPY_EXIT_CODE": str(payload["exit_code"]), "VFXCOPY_DEST_DIR": str(payload["dest_dir"])}
    data = json.dumps(payload, default=str).encode("utf-8") + b"\n"
    try:
        # stdout to our stderr: a command's stdout may be JSON (--json, --progress json) that a hook must not break
        proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, env=env,
                                stdout=sys.stderr.fileno() if _has_fileno(sys.stderr) else subprocess.DEVNULL,
                                start_new_session=os.name == "posix")
    except OSError as exc:
        return f"hook {command!r} could not start: {exc}"
    started = time.monotonic()
    pending: bytes | None = data
    noted = False
    while True:
        try:
            proc.communicate(pending, timeout=0.1)  # the input is written as the hook reads it
            break
        except subprocess.TimeoutExpired:
            pending = None  # handed over: communicate goes on writing it
        waited = time.monotonic() - started
        if stop is not None and stop():
            _stop_hook(proc)
            return f"hook {command!r} stopped: the command was cancelled"
        if waited >= timeout:
            _stop_hook(proc)
            return f"hook {command!r} did not finish within {timeout:.0f} s (stopped)"
        if note is not None and not noted and waited >= HOOK_NOTE_AFTER_S:
            noted = True
            now = "; Ctrl-C stops it now" if stop is not None else ""
            note(f"waiting for hook {command!r} (stopped after {timeout:.0f} s{now})")
    if proc.returncode != 0:
        return f"hook {command!r} exited {proc.returncode}"
    return None


def _stop_hook(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the hook's process group; once the shell ended (or after HOOK_GRACE_S), SIGKILL to
    what is left of the group, the shell's own children included; then the shell is reaped. The
    shell stays unreaped until then, so the group's id cannot be anybody else's when it is signalled."""
    if os.name != "posix":  # pragma: no cover - Windows: the shell alone
        proc.kill()
        proc.communicate()
        return

    def signal_group(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass  # gone already

    signal_group(signal.SIGTERM)
    deadline = time.monotonic() + HOOK_GRACE_S
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                break  # the shell ended: not reaped yet
        except ChildProcessError:
            break
        time.sleep(0.02)
    signal_group(signal.SIGKILL)
    proc.communicate()


def _has_fileno(stream: object) -> bool:
    try:
        stream.fileno()  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError):
        return False
    return True
