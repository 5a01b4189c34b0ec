"""Standard-library modules the command line loads on first use only: inspect (dataclasses imports it), bz2 and lzma (shutil probes them).

`dataclasses` imports `inspect` at its top for one call (a class without a
docstring gets its signature as docstring; ours all have one). Loading
`inspect` (with ast, dis, tokenize) cost every command 31 M instructions,
8 ms, a third of a bare Python start. vfxcopy/cli/__init__.py imports this
module first (it lives outside vfxcopy.cli, which the entry point must not
import), before anything imports `dataclasses` or builds a parser (whose
help formatter imports shutil); from then on `sys.modules["inspect"]`
is a stand-in that imports the real module the first time any of its names is
asked for, and hands every name on from it. Nothing changes for code that
uses `inspect`: it is loaded then, once, under a lock. A process that already
has `inspect` (pytest, the window after Qt) keeps it.

`shutil` imports bz2 and lzma only to learn whether they can be imported (for
its archive formats): 3 M instructions, 1 ms of every command. They get
stand-ins too, when their C modules are there (so the probe's answer is true).
"""

from __future__ import annotations

import importlib
import sys
import types
from _thread import RLock  # threading itself is not needed by every command

DEFERRED = ("inspect",)
PROBED = (("bz2", "_bz2"), ("lzma", "_lzma"))  # (module, the C module it needs)
_lock = RLock()  # re-entrant: the real module's own imports may ask the stand-in


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


def defer(names: tuple[str, ...] = DEFERRED, probed: tuple[tuple[str, str], ...] = PROBED) -> None:
    """Put stand-ins for `names` in sys.modules, for those not imported yet; for each of `probed`
    only when its C module is found (a stand-in must not claim a module the build lacks)."""
    from importlib.machinery import PathFinder

    for name in names:
        if name not in sys.modules:
            sys.modules[name] = DeferredModule(name)
    for name, needs in probed:
        if name not in sys.modules and (needs in sys.builtin_module_names or PathFinder.find_spec(needs) is not None):
            sys.modules[name] = DeferredModule(name)


def is_deferred(name: str) -> bool:
    """True while `name` has not been loaded for real."""
    return isinstance(sys.modules.get(name), DeferredModule)


defer()
