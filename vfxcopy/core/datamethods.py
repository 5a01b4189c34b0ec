"""__repr__, __eq__ and __hash__ as @dataclass writes them, shared by records instead of compiled per class.

@dataclass compiles an __init__, a __repr__ and an __eq__ (a frozen one also a __hash__,
__setattr__ and __delattr__) for every class it makes: about 0.2 ms each, and the command
line makes some twenty at every start. A record made with `@dataclass(repr=False, eq=False)`
on `Record` (or `@dataclass(frozen=True, repr=False, eq=False)` on `FrozenRecord`) is still a
dataclass (fields, replace, asdict) and prints, compares and hashes exactly as before: the
same text, equal only to a record of the same class with equal compared fields, unhashable
unless frozen (tests/cli/test_startup.py checks each against a plain dataclass).
"""

from __future__ import annotations

import _thread
from dataclasses import fields

_repr_running: set[tuple[int, int]] = set()
# class -> (names shown by repr, names compared by ==, names hashed), as dataclass picks them
_names: dict[type, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}


def _record_names(cls: type) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    names = _names.get(cls)
    if names is None:
        found = fields(cls)
        names = (tuple(f.name for f in found if f.repr), tuple(f.name for f in found if f.compare),
                 tuple(f.name for f in found if (f.compare if f.hash is None else f.hash)))
        _names[cls] = names
    return names


class _Methods:
    __slots__ = ()

    def __repr__(self) -> str:
        key = (id(self), _thread.get_ident())
        if key in _repr_running:
            return "..."  # a record inside itself, as dataclass's repr shows it
        _repr_running.add(key)
        try:
            shown = _record_names(type(self))[0]
            return f"{type(self).__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"
        finally:
            _repr_running.discard(key)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        compared = _record_names(type(self))[1]
        return tuple(getattr(self, n) for n in compared) == tuple(getattr(other, n) for n in compared)


class Record(_Methods):
    """The __repr__ and __eq__ of a dataclass (unhashable, as one with eq and without frozen is)."""

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]


class FrozenRecord(_Methods):
    """The __repr__, __eq__ and __hash__ of a frozen dataclass (the hash of its compared fields)."""

    __slots__ = ()

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, n) for n in _record_names(type(self))[2]))


class SlotRecord:
    """The __repr__ and __eq__ of a dataclass for a plain class: its fields are its __slots__, in order.

    No @dataclass at all (its __init__ alone is about 1.5 M instructions a class to compile): for
    records a command makes at every start (the ASC MHL reader's and writer's). Unhashable, as a
    dataclass with eq and without frozen is.
    """

    __slots__: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)
