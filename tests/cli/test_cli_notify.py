"""Notifications and hooks when jobs end: apprise URLs to a local HTTP and SMTP server, --on-complete hooks."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from vfxcopy.cli import main
from vfxcopy.core import config
from vfxcopy.core.samples import make_byte_sequence


class Inbox:
    """What a local server received."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.arrived = threading.Event()

    def add(self, item: Any) -> None:
        self.items.append(item)
        self.arrived.set()


@pytest.fixture
def webhook() -> Iterator[tuple[str, Inbox]]:
    """A JSON webhook on 127.0.0.1: (apprise json:// URL, what it received)."""
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            inbox.add({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"json://127.0.0.1:{server.server_address[1]}/vfxcopy-hook", inbox
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def smtp() -> Iterator[tuple[str, Inbox]]:
    """An SMTP server on 127.0.0.1 (aiosmtpd): (apprise mailto:// URL, the messages received)."""
    from aiosmtpd.controller import Controller

    inbox = Inbox()

    class Handler:
        async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
            inbox.add({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                       "content": envelope.content.decode("utf-8", "replace")})
            return "250 OK"

    # aiosmtpd's Controller cannot take port 0: find a free one first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield (f"mailto://127.0.0.1:{port}?mode=insecure&from=vfxcopy@example.com&to=wrangler@example.com",
               inbox)
    finally:
        controller.stop()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return make_byte_sequence(tmp_path / "src", count=3, size=500)[0].parent


def copy(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["copy", *argv, "--no-fsync", "-q"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_notify_url_on_the_command_line_gets_one_message(webhook: tuple[str, Inbox], src: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    url, inbox = webhook
    code, _, err = copy(capsys, str(src), str(tmp_path / "dest"), "--notify", url)
    assert code == 0, err
    assert inbox.arrived.wait(10)
    (got,) = inbox.items
    assert got["path"] == "/vfxcopy-hook"
    assert got["json"]["type"] == "success"
    assert got["json"]["title"] == "vfxcopy copy: plate.####.exr 1001-1003 completed"
    assert f"-> {tmp_path / 'dest'}: completed, 3/3 frames" in got["json"]["message"]


def test_settings_url_told_only_of_failures_when_asked(webhook: tuple[str, Inbox], src: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    url, inbox = webhook
    config.update({"notify.urls": [url], "notify.when": "failed"})
    assert copy(capsys, str(src), str(tmp_path / "ok"))[0] == 0
    assert inbox.items == []  # the URL was called synchronously: nothing came
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "plate.1002.exr").write_bytes(b"other")
    assert copy(capsys, str(src), str(bad))[0] == 1
    assert inbox.arrived.wait(10)
    (got,) = inbox.items
    assert got["json"]["type"] == "failure" and "1 failed" in got["json"]["message"]


def test_mail_through_a_local_smtp_server(smtp: tuple[str, Inbox], src: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    url, inbox = smtp
    assert main(["config", "set", "notify.urls", url]) == 0
    capsys.readouterr()
    code, _, err = copy(capsys, str(src), str(tmp_path / "dest"))
    assert code == 0, err
    assert inbox.arrived.wait(10)
    (mail,) = inbox.items
    assert mail["from"] == "vfxcopy@example.com" and mail["to"] == ["wrangler@example.com"]
    assert "Subject: vfxcopy copy: plate.####.exr 1001-1003 completed" in mail["content"]
    assert "3/3 frames" in mail["content"]


def test_on_complete_hook_reads_the_jobs_json(src: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hook.json"
    hook = f"cat > {out}; echo \"state=$VFXCOPY_JOB_STATE\" >> {tmp_path / 'env.txt'}; echo to-stdout"
    code = main(["copy", str(src), str(tmp_path / "dest"), "--no-fsync", "--json", "--on-complete", hook])
    assert code == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["exit_code"] == 0  # the hook's stdout went to stderr, not into our JSON
    job = json.loads(out.read_text())
    assert job["state"] == "completed" and job["ok"] is True and job["frames_done"] == 3
    assert job["dest_dir"] == str(tmp_path / "dest") and job["spec"]["operation"] == "copy"
    assert (tmp_path / "env.txt").read_text() == "state=completed\n"


def test_settings_hook_runs_once_per_job_and_a_failing_hook_only_warns(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = make_byte_sequence(tmp_path / "src", count=2, size=100)[0].parent
    (src / "notes.txt").write_text("a single file: a second job")
    log = tmp_path / "hooks.log"
    config.set_value("notify.on_complete", f"python3 -c 'import json,sys; print(json.load(sys.stdin)[\"name\"])' >> {log} 2>&1; exit 3")
    code, _, err = copy(capsys, str(src), str(tmp_path / "dest"))
    assert code == 0  # the copy's result is the copy's, whatever the hook did
    assert sorted(log.read_text().splitlines()) == ["notes.txt", "plate.####.exr 1001-1002"]
    assert err.count("exited 3") == 2 and "warning: hook" in err


def test_a_notify_url_apprise_cannot_read_refuses_the_command(src: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = copy(capsys, str(src), str(tmp_path / "dest"), "--notify", "nosuchservice://x")
    assert code == 2 and "not understood" in err
    assert not (tmp_path / "dest").exists()


def test_a_settings_url_that_cannot_work_warns_and_the_copy_runs(src: Path, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    config.set_value("notify.urls", ["nosuchservice://x"])
    code, _, err = copy(capsys, str(src), str(tmp_path / "dest"))
    assert code == 0 and "warning: the notify.urls setting" in err
    assert len(list((tmp_path / "dest").glob("plate.*.exr"))) == 3


CHECK_IMPORTS = """
import sys
{block}
from vfxcopy.cli import main
code = main(sys.argv[1:])
print("apprise" in sys.modules)
sys.exit(code)
"""


def test_apprise_is_imported_only_when_a_url_is_configured(src: Path, tmp_path: Path) -> None:
    script = CHECK_IMPORTS.format(block="")
    base = [sys.executable, "-c", script, "copy", str(src)]
    plain = subprocess.run([*base, str(tmp_path / "a"), "-q"], capture_output=True, text=True, timeout=60)
    assert plain.returncode == 0 and plain.stdout.strip() == "False"
    hooked = subprocess.run([*base, str(tmp_path / "b"), "-q", "--on-complete", "true"], capture_output=True,
                            text=True, timeout=60)
    assert hooked.returncode == 0 and hooked.stdout.strip() == "False"


def test_without_the_notify_extra_a_notify_url_says_what_to_install(src: Path, tmp_path: Path) -> None:
    script = CHECK_IMPORTS.format(block="sys.modules['apprise'] = None  # as if not installed")
    proc = subprocess.run([sys.executable, "-c", script, "copy", str(src), str(tmp_path / "d"), "--notify",
                           "json://127.0.0.1:9/x"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "pip install 'vfxcopy[notify]'" in proc.stderr


def test_a_watch_tells_each_job_as_it_ends(webhook: tuple[str, Inbox], tmp_path: Path) -> None:
    import signal
    import time

    url, inbox = webhook
    make_byte_sequence(tmp_path / "inbox", count=3, size=500)  # already landed when the watch starts
    hook_out = tmp_path / "hook.json"
    watch = subprocess.Popen(
        [sys.executable, "-m", "vfxcopy", "watch", str(tmp_path / "inbox"), "--to", str(tmp_path / "out"),
         "--settle", "0.3", "--no-fsync", "-q", "--notify", url, "--on-complete", f"cat > {hook_out}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert inbox.arrived.wait(60), "no notification"
        deadline = time.monotonic() + 30
        while not (hook_out.exists() and hook_out.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)  # the hook runs just before the message is sent
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=60)
    finally:
        if watch.poll() is None:
            watch.kill()
    assert watch.returncode == 0, err
    assert inbox.items[0]["json"]["title"] == "vfxcopy watch: plate.####.exr 1001-1003 completed"
    job = json.loads(hook_out.read_text())
    assert job["state"] == "completed" and job["frames_done"] == 3 and job["spec"]["origin"].startswith("watch")


def _alive(pid: int) -> bool:
    """A process that runs (a zombie waiting for its reaper has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_ctrl_c_while_a_hook_hangs_stops_it_and_all_it_started(src: Path, tmp_path: Path) -> None:
    """A hook that hangs (a web call with no timeout, a `sleep`) held the command for its full 120 s
    after Ctrl-C, and what the shell had started kept running after it exited. Now the hook runs
    in a process group of its own: a note says it is waited for, Ctrl-C stops the group at once
    (a child that ignores SIGTERM too, with SIGKILL), and the command exits 130."""
    import os
    import signal
    import time

    pids = tmp_path / "pids"
    hook = f"sh -c 'trap \"\" TERM; echo $$ > {pids}; sleep 600' ; sleep 600"
    proc = subprocess.Popen([sys.executable, "-m", "vfxcopy", "copy", str(src), str(tmp_path / "d"), "-q",
                             "--on-complete", hook], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (pids.exists() and pids.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        child = int(pids.read_text())
        time.sleep(5.5)  # the note comes after 5 s
        stopped = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - stopped
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert took < 5, took  # HOOK_GRACE_S at most, not the hook's 120 s
    assert "note: waiting for hook" in err and "Ctrl-C stops it now" in err
    assert "stopped: the command was cancelled" in err and "Traceback" not in err
    time.sleep(0.2)
    assert not _alive(child), "a process the hook started outlived the command"
    assert len(os.listdir(tmp_path / "d")) == 4  # the copy itself was complete: 3 frames and its manifest


def test_a_hook_past_its_time_is_stopped_with_everything_it_started(tmp_path: Path) -> None:
    from vfxcopy.core.notify import run_hook

    pids = tmp_path / "pids"
    said: list[str] = []
    problem = run_hook(f"sleep 600 & echo $! > {pids}; wait", {"job_id": "j", "state": "completed", "exit_code": 0,
                                                                "dest_dir": str(tmp_path)},
                       timeout=1.0, note=said.append)
    assert problem == "hook 'sleep 600 & echo $! > " + str(pids) + "; wait' did not finish within 1 s (stopped)"
    assert said == []  # shorter than the 5 s after which a hook is said
    assert not _alive(int(pids.read_text()))
