"""The handover PDF is laid out in a process of its own; the job's process writes the file.

fpdf2 brings fontTools, numpy and Pillow (about 50 MB once imported), parses its fonts for each
document and lays out the text in pure Python, holding the interpreter lock throughout. In a
child none of that stays in a long-lived window or watch folder, the window's GUI thread never
waits behind it, and a cancel ends the layout at once (the child is killed; it writes nothing).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
import tempfile
from typing import Any

from vfxcopy.core.jobs import CancelToken

# The bundled app's launcher runs the child when it is started with this one argument.
CHILD_FLAG = "--vfxcopy-pdf-child"
# The parent's pid, for the child to end with it.
PARENT_VARIABLE = "VFXCOPY_PDF_PARENT"
# The reasons a layout may fail that are the document's, not a bug: told as they are.
LAYOUT_FAILED = 3


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


def render_apart(args: tuple[Any, ...], token: CancelToken | None) -> bytes:
    """`report_pdf.render_pdf(*args)` in a child process; its PDF bytes. Cancellable at any moment."""
    from vfxcopy.core.report_pdf import PdfError

    written = "the manifest and the HTML/CSV reports are written"
    # The arguments reach the child as a file (unnamed, this user's): a pipe would need a writer
    # beside the reading loop below (communicate() with a timeout sends its input only on the
    # first call: a retry left the child waiting for the rest of it).
    with contextlib.ExitStack() as stack:
        try:
            given = stack.enter_context(tempfile.TemporaryFile())
            pickle.dump(args, given, protocol=pickle.HIGHEST_PROTOCOL)
            given.seek(0)
        except OSError as exc:
            raise PdfError(f"the PDF report could not be made (its input could not be written to the temporary "
                           f"folder {tempfile.gettempdir()}: {exc.strerror or exc}); {written}") from exc
        try:
            proc = subprocess.Popen(child_command(), stdin=given, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    env={**os.environ, PARENT_VARIABLE: str(os.getpid())})
        except OSError as exc:
            raise PdfError(f"the PDF report could not be made (its process did not start: {exc.strerror or exc}); "
                           f"{written}") from exc
    try:
        out, err = _communicate(proc, token)
    finally:
        if proc.poll() is None:  # cancelled, or this thread interrupted: the child goes too
            proc.kill()
            proc.communicate()
    if proc.returncode == 0 and out.startswith(b"%PDF-"):
        return out
    lines = err.decode("utf-8", "replace").strip().splitlines()
    if proc.returncode == LAYOUT_FAILED and lines:
        why = lines[-1]
    elif proc.returncode < 0:
        why = f"its process was ended by signal {-proc.returncode}"
    else:
        why = f"its process failed: {lines[-1] if lines else f'exit status {proc.returncode}'}"
    raise PdfError(f"the PDF report could not be made ({why}); {written}")


def _communicate(proc: subprocess.Popen[bytes], token: CancelToken | None) -> tuple[bytes, bytes]:
    while True:
        try:
            return proc.communicate(timeout=0.05)
        except subprocess.TimeoutExpired:  # nothing read is lost: the next call goes on
            if token is not None and token.cancelled:
                proc.kill()
                proc.communicate()
                token.check()


def _end_with_parent() -> None:
    """A parent killed outright (kill -9) takes its child with it (Linux); one already gone ends it here.

    (The signal comes when the thread that started the child ends: that thread waits for the
    child in render_apart until the child has ended.)
    """
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    parent = os.environ.get(PARENT_VARIABLE, "")
    if parent.isdigit():
        try:
            os.kill(int(parent), 0)
        except ProcessLookupError:
            sys.exit(1)
        except OSError:  # there, but not ours to signal
            pass


def main() -> None:
    """The child: the arguments pickled on stdin, the PDF's bytes on stdout."""
    _end_with_parent()
    args = pickle.load(sys.stdin.buffer)
    from fpdf.errors import FPDFException

    from vfxcopy.core.report_pdf import render_pdf

    try:
        data = render_pdf(*args)
    except (FPDFException, ValueError) as exc:
        sys.stderr.write(f"{exc}\n")
        sys.exit(LAYOUT_FAILED)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
