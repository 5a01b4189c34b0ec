"""The handover PDF is laid out in a process of its own; the job's process writes the file.

fpdf2 brings fontTools, numpy and Pillow (about 50 MB once imported), parses its fonts for each
document and lays out the text in pure Python, holding the interpreter lock throughout. In a
child none of that stays in a long-lived window or watch folder, the window's GUI thread never
waits behind it, and a cancel ends the layout at once (the child is killed; it writes nothing).

The child stays for the next job's PDF (its start and imports took 0.45 s a job) and leaves
after IDLE_S without one, or at once when this process ends, however it ends.
"""

from __future__ import annotations

import atexit
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
from typing import IO, Any

from vfxcopy.core.jobs import CancelToken

# The bundled app's launcher runs the child when it is started with this one argument.
CHILD_FLAG = "--vfxcopy-pdf-child"
# A child with no PDF to lay out for this long leaves (about 100 MB of libraries and fonts).
IDLE_S = 20.0
EXIT_GRACE_S = 0.2  # at exit, an idle child leaves within this (it reads the end of its input); else killed
# Replies: a PDF, a layout the document made fail (told as it is), any other failure.
PDF, LAYOUT_FAILED, FAILED = b"P", b"E", b"X"
WRITTEN = "the manifest and the HTML/CSV reports are written"


def child_command() -> list[str]:
    """The child's command line: this interpreter (or the bundle), with no current folder on its path."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG]
    import vfxcopy

    # The package's own root is put first on the path: `-c` would put the current folder there,
    # where a folder named vfxcopy would be imported instead (and a source checkout not found).
    root = os.path.dirname(os.path.dirname(os.path.abspath(vfxcopy.__file__)))
    code = "import sys; sys.path[0] = sys.argv[1]; from vfxcopy.core.pdf_child import main; main()"
    return [sys.executable, "-c", code, root]


class _Child:
    """One child process and its pipes; its stderr goes to an unnamed file, read when it fails."""

    def __init__(self) -> None:
        from vfxcopy.core.report_pdf import PdfError

        try:
            self.errors: IO[bytes] = tempfile.TemporaryFile()
        except OSError as exc:
            raise PdfError(f"the PDF report could not be made (no file for its process's messages in the "
                           f"temporary folder {tempfile.gettempdir()}: {exc.strerror or exc}); {WRITTEN}") from exc
        try:
            self.proc = subprocess.Popen(child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self.errors)
        except OSError as exc:
            self.errors.close()
            raise PdfError(f"the PDF report could not be made (its process did not start: {exc.strerror or exc}); "
                           f"{WRITTEN}") from exc

    def exchange(self, payload: bytes, replies: queue.Queue[tuple[bytes, bytes] | None]) -> None:
        """Send one request and wait for its reply (on a thread of its own: the caller polls its cancel)."""
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        try:
            stdin.write(len(payload).to_bytes(8, "big") + payload)
            stdin.flush()
            head = _read_exact(stdout, 9)
            body = _read_exact(stdout, int.from_bytes(head[1:], "big")) if head is not None else None
            replies.put((head[:1], body) if head is not None and body is not None else None)
        except (OSError, ValueError):  # killed (a cancel), or gone
            replies.put(None)

    def reap(self, within: float = 5.0) -> int:
        """Its exit status, once it has ended; killed if it has not within `within` seconds."""
        try:
            return self.proc.wait(within)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def why_ended(self) -> str:
        code = self.reap()  # its output ended: it is ending
        if code < 0:
            return f"its process was ended by signal {-code}"
        self.errors.seek(0)
        lines = self.errors.read()[-4096:].decode("utf-8", "replace").strip().splitlines()
        return f"its process failed: {lines[-1] if lines else f'exit status {code}'}"

    def end(self, kill: bool) -> None:
        if kill:
            self.proc.kill()
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()  # the child reads the end of its input and leaves
            except OSError:
                pass
        if kill:
            self.proc.wait()
        self.errors.close()


_child: _Child | None = None
_state = threading.Lock()  # _child, and the idle timer
_retire_timer: threading.Timer | None = None


def fpdf_installed() -> bool:
    """Whether fpdf2 (the report extra) is installed: looked for, not imported (the child imports it)."""
    import importlib.util

    return importlib.util.find_spec("fpdf") is not None


def warm() -> None:
    """Start the child now, if none is waiting: it imports fpdf2 while the job copies (0.3-0.45 s).

    A child that cannot start is told by the PDF that needs it; an unused one leaves after IDLE_S.
    """
    global _child
    if not fpdf_installed():
        return
    with _state:
        if _child is not None and _child.proc.poll() is None:
            return
        try:
            child = _Child()
        except Exception:  # noqa: BLE001 - render_apart starts one again and says why it cannot
            return
        if _child is not None:
            _child.end(kill=False)
        _child = child
        _arm_retire_timer(child)


def render_apart(args: tuple[Any, ...], token: CancelToken | None) -> bytes:
    """`report_pdf.render_pdf(*args)` in the child; its PDF bytes. Cancellable at any moment.

    One caller at a time (report_pdf's lock).
    """
    global _child
    from vfxcopy.core.report_pdf import PdfError

    payload = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)
    with _state:
        _stop_retire_timer()
        if _child is not None and _child.proc.poll() is not None:
            _child.end(kill=False)  # ended while idle (killed from outside): a new one
            _child = None
        child = _child = _child or _Child()
    replies: queue.Queue[tuple[bytes, bytes] | None] = queue.Queue()
    talk = threading.Thread(target=child.exchange, args=(payload, replies), name="vfxcopy-pdf", daemon=True)
    talk.start()
    try:
        reply = _wait(replies, token)
    except BaseException:  # cancelled (or this thread interrupted): the layout ends with its process
        _forget(child, kill=True)
        talk.join()
        raise
    if reply is None:
        why = child.why_ended()
        _forget(child, kill=True)
        raise PdfError(f"the PDF report could not be made ({why}); {WRITTEN}")
    with _state:
        _arm_retire_timer(child)
    kind, body = reply
    if kind == PDF:
        return body
    why = body.decode("utf-8", "replace")
    raise PdfError(f"the PDF report could not be made ({why if kind == LAYOUT_FAILED else 'its process failed: ' + why}"
                   f"); {WRITTEN}")


def _wait(replies: queue.Queue[tuple[bytes, bytes] | None], token: CancelToken | None) -> tuple[bytes, bytes] | None:
    while True:
        try:
            return replies.get(timeout=0.05)
        except queue.Empty:
            if token is not None and token.cancelled:
                token.check()  # raises Cancelled


def _forget(child: _Child, kill: bool) -> None:
    global _child
    with _state:
        if _child is child:
            _child = None
    child.end(kill)


def _stop_retire_timer() -> None:
    global _retire_timer
    if _retire_timer is not None:
        _retire_timer.cancel()
        _retire_timer = None


def _arm_retire_timer(child: _Child) -> None:
    global _retire_timer
    _stop_retire_timer()
    _retire_timer = threading.Timer(IDLE_S, _retire_if_idle, args=(child,))
    _retire_timer.daemon = True
    _retire_timer.start()


def _retire_if_idle(child: _Child) -> None:
    global _child
    with _state:
        if _child is not child or _retire_timer is None or _retire_timer is not threading.current_thread():
            return  # in use again, or replaced
        _child = None
    child.end(kill=False)
    child.reap()


def retire(wait: bool = False, within: float = 5.0) -> None:
    """End the child now: it reads the end of its input and leaves (tests; and at this process's end).

    With `wait`, it is reaped before this returns, killed if it has not left `within` seconds: at
    exit, one still importing fpdf2 (warmed for a job that ended before it needed a PDF) would
    read the end of its input only once done, up to half a second later, and has no work of ours.
    """
    global _child
    with _state:
        _stop_retire_timer()
        child, _child = _child, None
    if child is not None:
        child.end(kill=False)
        if wait:
            child.reap(within)


# This process ends: its child ends with it, not after.
atexit.register(retire, True, EXIT_GRACE_S)


def _after_fork() -> None:
    """A forked process has its own PDFs to make: its parent's child and pipes are not its own."""
    global _child, _state, _retire_timer
    _child, _state, _retire_timer = None, threading.Lock(), None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)


def _read_exact(stream: IO[bytes], size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def _end_with_parent() -> None:
    """A parent killed outright (kill -9) takes its child with it, even mid-layout.

    Its end closes our input too, but a layout under way would only notice that when it is done.
    """
    import time

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.05)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main() -> None:
    """The child: requests (8-byte length, pickled arguments) on stdin; replies on stdout, until stdin ends."""
    import signal

    # Ctrl-C in a terminal reaches the whole process group: the parent cancels its job and ends
    # this child itself; dying here first would tell that cancel as a failed PDF.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _end_with_parent()
    from fpdf.errors import FPDFException  # before the first request: the next job finds it loaded

    from vfxcopy.core.report_pdf import render_pdf

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    while (head := _read_exact(requests, 8)) is not None:
        body = _read_exact(requests, int.from_bytes(head, "big"))
        if body is None:
            break
        try:
            kind, data = PDF, render_pdf(*pickle.loads(body))
        except (FPDFException, ValueError) as exc:
            kind, data = LAYOUT_FAILED, str(exc).encode("utf-8", "replace")
        except Exception as exc:  # noqa: BLE001 - told to the parent, which tells the user
            kind, data = FAILED, f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")
        replies.write(kind + len(data).to_bytes(8, "big") + data)
        replies.flush()
        del body, data
    # Its input ended: the parent is done with it. Every reply went out; tearing down fpdf2,
    # numpy and the fonts would only keep the process around (0.2 s) for nothing.
    os._exit(0)
