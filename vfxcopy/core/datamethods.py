"""__repr__, __eq__ and __hash__ as @dataclass writes them, shared by records instead of compiled per class.

@dataclass compiles an __init__, a __repr__ and an __eq__ (a frozen one also a __hash__,
__setattr__ and __delattr__) for every class it makes: about 0.2 ms each, and the command
line makes some twenty at every start. A record made with `@dataclass(repr=False, eq=False)`
on `Record` (or `@dataclass(frozen=True, repr=False, eq=False)` on `FrozenRecord`) is still a
dataclass (fields, replace, asdict) and prints, compares and hashes exactly as before: the
same text, equal only to a record of the same class with equal compared fields, unhashable
unless frozen (tests/cli/test_startup.py checks each against a plain dataclass).

`record` goes one step further for records a run makes a few times (options, a job's spec,
its progress and result): `@record(...)` is `@dataclass(...)` without the compiled __init__
(about 1.5 M instructions a class), whose work one shared __init__ does from the fields. It
takes the same arguments, applies the same defaults and factories and refuses what the
compiled one refuses, with the same TypeError; a call costs a few microseconds more, so
records made per frame keep @dataclass. Type checkers see @dataclass itself:

    if TYPE_CHECKING:
        from dataclasses import dataclass as record
    else:
        from vfxcopy.core.datamethods import record
"""

from __future__ import annotations

import _thread
from collections.abc import Callable

# dataclasses is imported where a record's class is first made or looked at, not here: a plain
# class on SlotRecord (core/sequence.py) is all `vfxcopy ls` makes, and it does without it.

_repr_running: set[tuple[int, int]] = set()
# class -> (names shown by repr, names compared by ==, names hashed), as dataclass picks them
_names: dict[type, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}


def _record_names(cls: type) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    names = _names.get(cls)
    if names is None:
        from dataclasses import fields

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


# class -> (the __init__ parameters in order, their defaults, their default factories, the names)
_inits: dict[type, tuple[tuple[str, ...], dict[str, object], dict[str, Callable[[], object]], frozenset[str]]] = {}


def _init_plan(cls: type) -> tuple[tuple[str, ...], dict[str, object], dict[str, Callable[[], object]], frozenset[str]]:
    plan = _inits.get(cls)
    if plan is None:
        from dataclasses import MISSING, fields

        params: list[str] = []
        defaults: dict[str, object] = {}
        factories: dict[str, Callable[[], object]] = {}
        for f in fields(cls):
            if not f.init:
                raise TypeError(f"{cls.__qualname__}.{f.name}: record() takes no init=False field")
            params.append(f.name)
            if f.default is not MISSING:
                defaults[f.name] = f.default
            elif f.default_factory is not MISSING:
                factories[f.name] = f.default_factory
        plan = _inits[cls] = (tuple(params), defaults, factories, frozenset(params))
    return plan


def _shared_init(self: object, *args: object, **kwargs: object) -> None:
    """The __init__ @dataclass compiles, from the class's fields (see record)."""
    cls = type(self)
    params, defaults, factories, known = _init_plan(cls)
    name = f"{cls.__qualname__}.__init__()"
    if len(args) > len(params):
        raise TypeError(f"{name} takes {len(params) + 1} positional arguments but {len(args) + 1} were given")
    values = dict(zip(params, args, strict=False))
    for key, value in kwargs.items():
        if key in values:
            raise TypeError(f"{name} got multiple values for argument {key!r}")
        if key not in known:
            raise TypeError(f"{name} got an unexpected keyword argument {key!r}")
        values[key] = value
    missing = [p for p in params if p not in values and p not in defaults and p not in factories]
    if missing:
        raise TypeError(f"{name} missing {len(missing)} required argument{'s' if len(missing) > 1 else ''}: "
                        + ", ".join(repr(m) for m in missing))
    set_field = object.__setattr__
    for param in params:
        if param in values:
            set_field(self, param, values[param])
        elif param in defaults:
            set_field(self, param, defaults[param])
        else:
            set_field(self, param, factories[param]())
    post_init = getattr(self, "__post_init__", None)
    if post_init is not None:
        post_init()


def record(*, repr: bool = False, eq: bool = False, frozen: bool = False) -> Callable[[type], type]:
    """@dataclass(repr=..., eq=..., frozen=...) whose __init__ is shared, not compiled (see the module's text)."""

    from dataclasses import dataclass

    def make(cls: type) -> type:
        made: type = dataclass(cls, init=False, repr=repr, eq=eq, frozen=frozen)
        made.__init__ = _shared_init  # type: ignore[misc]
        return made

    return make
