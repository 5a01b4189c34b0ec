"""PySide6.QtGui as PyInstaller collects it, minus the Qt plugins and translations vfxcopy does not ship."""

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location("vfxcopy_qt_selection", Path(__file__).with_name("qt_selection.py"))
assert _spec is not None and _spec.loader is not None
_selection = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_selection)

hiddenimports, binaries, datas = _selection.qt6_dependencies(__file__)
