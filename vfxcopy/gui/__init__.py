"""The PySide6 window: imports core, never the other way round."""
