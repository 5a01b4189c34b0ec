"""Standard-library modules the command line loads on first use only: `inspect`, which `dataclasses` imports and a run never calls.

`dataclasses` imports `inspect` at its top for one call (a class without a
docstring gets its signature as docstring; ours all have one). Loading
`inspect` (with ast, dis, tokenize) cost every command 31 M instructions,
8 ms, a third of a bare Python start. The command modules import this module
before anything imports `dataclasses`; from then on `sys.modules["inspect"]`
is a stand-in that imports the real module the first time any of its names is
asked for, and hands every name on from it. Nothing changes for code that
uses `inspect`: it is loaded then, once, under a lock. A process that already
has `inspect` (pytest, the window after Qt) keeps it.
"""

from __future__ import annotations

import importlib
import sys
import threading
import types

DEFERRED = ("inspect",)
_lock = threading.RLock()  # re-entrant: the real module's own imports may ask the stand-in


class DeferredModule(types.ModuleType):
    """Stands in for a module in sys.modules until a name of it is asked for, then imports it and passes on."""

    def _real(self) -> types.ModuleType:
        name = self.__name__
        with _lock:
            if sys.modules.get(name) is self:
                del sys.modules[name]
                try:
                    return importlib.import_module(name)
                except BaseException:
                    sys.modules[name] = self  # tried again next time, as a failed import is
                    raise
            return sys.modules.get(name) or importlib.import_module(name)

    def __getattr__(self, name: str) -> object:
        # The import system's own questions (__path__, __spec__ ...) are answered without loading it.
        if name.startswith("__") and name.endswith("__") and name not in ("__file__", "__all__"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def __dir__(self) -> list[str]:
        return dir(self._real())


def defer(names: tuple[str, ...] = DEFERRED) -> None:
    """Put stand-ins for `names` in sys.modules, for those not imported yet."""
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = DeferredModule(name)


def is_deferred(name: str) -> bool:
    """True while `name` has not been loaded for real."""
    return isinstance(sys.modules.get(name), DeferredModule)


defer()
