"""Form rows whose label mnemonic focuses the field it names (the buddy), never the row's container."""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QLabel, QLayout, QWidget


def form_row(form: QFormLayout, text: str, field: QWidget, row: QWidget | QLayout | None = None) -> QLabel:
    """Add `text` as the label of `field` (its buddy); `row` is what is laid out when it holds more
    than the field (a line edit with a Choose… button). Returns the label."""
    label = QLabel(text)
    label.setBuddy(field)
    if row is None:
        form.addRow(label, field)
    elif isinstance(row, QLayout):
        form.addRow(label, row)
    else:
        form.addRow(label, row)
    return label
