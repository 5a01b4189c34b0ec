"""Text from the outside world (file names) made safe to print on a terminal."""

from __future__ import annotations

import sys

# How this process turns a name into the bytes of the file system (os.fsencode's own choice), for
# the places that encode a name per item without os.fsencode's two calls (placing, journal rows).
FS_ENCODING, FS_ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def printable(text: str) -> str:
    """A name safe for a terminal: undecodable bytes as \\xNN, control and format characters escaped.

    A file name can carry ESC sequences (recolour or retitle the terminal, hide a
    line) or bidi overrides (show a name reversed); they are printed as escapes.
    """
    # Most text is plain ASCII: printable there means no control character (the only ASCII
    # characters of the categories below), and only a backslash needs escaping.
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text
    import unicodedata  # a C extension: loaded by the first text that needs it, not at every start

    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def is_utf8(name: str) -> bool:
    """Whether `name` is valid UTF-8 text (a name of bytes that are not holds surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def undecodable_escaped(text: str) -> str:
    """For JSON and CSV: bytes that were not UTF-8 (surrogateescape) as \\xNN, the rest as it is
    (JSON escapes control characters itself; a CSV cell holds them)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def shortened(path: str, keep: int = 120) -> str:
    """A path fit for a one-line message: one longer than 2 * `keep` characters keeps its start and
    its end, and says how long it was (a path past the system's limit runs to thousands)."""
    if len(path) <= 2 * keep + 40:
        return path
    return f"{path[:keep]}…{path[-keep:]} ({len(path):,} characters)"
