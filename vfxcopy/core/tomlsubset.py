"""The settings file read without tomllib, when it is as simple as the files vfxcopy writes.

Importing tomllib costs a command's start about 5 ms (typing, datetime, string and the
regular expressions it compiles as it loads): a fifth of a `copy` started from the wheel,
paid by everyone who ever changed a setting. The files `vfxcopy config set` and the window
write hold tables, bare keys, booleans, integers and plain strings and arrays of strings:
`loads` reads exactly that, with string methods alone, and answers None for anything else
(an escape, a comment after a value, a literal string, a date, a dotted key, CRLF...), which
the caller then hands to tomllib. It never accepts a text tomllib would refuse, nor reads one
differently (tests/core/test_tomlsubset.py compares both on the files we write, on tricky
hand-written ones and on thousands of random ones).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant without importing typing at run time; type checkers take it as True
if TYPE_CHECKING:
    from vfxcopy.core.config import Value

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")
_MAX_INT_DIGITS = 18  # well inside TOML's 64-bit integers

class _NotSimple(Exception):
    """Outside the subset: tomllib decides."""


def loads(text: str) -> dict[str, object] | None:
    """The document as tomllib.loads would give it, or None when it is not a simple one."""
    if "\r" in text or text.startswith("\ufeff"):
        return None
    try:
        return _parse(text.split("\n"))
    except _NotSimple:
        return None


def _parse(lines: list[str]) -> dict[str, object]:
    root: dict[str, object] = {}
    table = root
    headers: set[tuple[str, ...]] = set()
    i = 0
    while i < len(lines):
        line = lines[i].strip(" \t")
        i += 1
        if not line or line.startswith("#"):
            if any(_control(c) for c in line):
                raise _NotSimple
            continue
        if line.startswith("["):
            table = _header(line, root, headers)
            continue
        key, sep, rest = line.partition("=")
        key, rest = key.rstrip(" \t"), rest.strip(" \t")
        if not sep or not _bare(key) or key in table:
            raise _NotSimple
        if rest == "[":  # an array over several lines, one string a line, as tomli_w writes it
            items, i = _long_array(lines, i)
            table[key] = items
        else:
            table[key] = _value(rest)
    return root


def _header(line: str, root: dict[str, object], headers: set[tuple[str, ...]]) -> dict[str, object]:
    if not line.endswith("]") or line.startswith("[["):
        raise _NotSimple
    path = tuple(line[1:-1].split("."))
    if path in headers or not all(_bare(part) for part in path):
        raise _NotSimple
    headers.add(path)
    table = root
    for n, part in enumerate(path):
        below = table.get(part)
        if below is None:
            below = {}
            table[part] = below
        elif not isinstance(below, dict) or n == len(path) - 1:
            raise _NotSimple  # a value, or a table after its sub-table (valid TOML, left to tomllib)
        table = below
    return table


def _value(text: str) -> Value:
    if text == "true":
        return True
    if text == "false":
        return False
    if text.startswith('"'):
        return _string(text)
    if text.startswith("["):
        return _short_array(text)
    digits = text[1:] if text[:1] in ("+", "-") else text
    if (not digits or len(digits) > _MAX_INT_DIGITS or not set(digits) <= _DIGITS
            or (digits[0] == "0" and (len(digits) > 1 or text[:1] in ("+", "-")))):
        raise _NotSimple
    return int(text)


def _string(text: str) -> str:
    """A basic string with nothing to unescape, and nothing after it."""
    if len(text) < 2 or not text.startswith('"') or not text.endswith('"'):
        raise _NotSimple
    body = text[1:-1]
    if '"' in body or "\\" in body or any(_control(c) for c in body):
        raise _NotSimple
    return body


def _short_array(text: str) -> list[str]:
    """[] or ["a", "b"] on one line (a trailing comma allowed)."""
    if not text.endswith("]"):
        raise _NotSimple
    inner = text[1:-1].strip(" \t")
    if not inner:
        return []
    if inner.endswith(","):
        inner = inner[:-1].rstrip(" \t")
    items = []
    for part in inner.split(","):  # a string holding a comma splits wrongly: its halves are not strings
        items.append(_string(part.strip(" \t")))
    return items


def _long_array(lines: list[str], i: int) -> tuple[list[str], int]:
    items: list[str] = []
    while i < len(lines):
        line = lines[i].strip(" \t")
        i += 1
        if line == "]":
            return items, i
        if line.endswith(","):
            items.append(_string(line[:-1].rstrip(" \t")))
        else:  # the last item may go without its comma
            items.append(_string(line))
            if i < len(lines) and lines[i].strip(" \t") == "]":
                return items, i + 1
            raise _NotSimple
    raise _NotSimple


def _bare(key: str) -> bool:
    return bool(key) and set(key) <= _BARE


def _control(c: str) -> bool:
    return (c < " " and c != "\t") or c == "\x7f"
