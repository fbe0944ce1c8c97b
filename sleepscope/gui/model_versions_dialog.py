"""Model → Model versions…: the registry's versions, their held-out scores beside their parent's; activate, roll back.

Activation is the technician's decision: a version whose held-out macro-F1
is below its parent's (on the same held-out epochs) is activated only after
a warning. `model_activated(path)` tells the main window, which re-scores the
open recording with the new model; model predictions are stored apart from
the technician's labels, so no label is ever overwritten.
"""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from sleepscope.errors import SleepScopeError
from sleepscope.model.registry import ModelRegistry, ModelVersion, left_out_name
from sleepscope.stages import NAMES


def confirm_worse(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask before activating a model that scored worse than its parent (tests replace this)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text,
                      QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, parent)
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box.exec() == QMessageBox.StandardButton.Yes


def report_error(parent: QWidget | None, title: str, text: str) -> None:
    """A modal error box (tests replace this)."""
    QMessageBox.critical(parent, title, text)


def _fmt(x) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(x) else f"{x:.3f}"


def heldout_summary(v: ModelVersion) -> str:
    """One line: held-out macro-F1 and accuracy of the version beside its parent's."""
    h = v.heldout
    if h is None:
        return "no held-out comparison (not fine-tuned here)"
    c, p = h["child"], h["parent"]
    line = (f"held-out macro-F1 {_fmt(c.get('macro_f1'))} (parent {_fmt(p.get('macro_f1'))}), accuracy "
            f"{_fmt(c.get('accuracy'))} (parent {_fmt(p.get('accuracy'))}) on {h.get('n_epochs', '?')} epochs")
    o = v.other_recording
    if o is not None:
        line += (f"; on {left_out_name(o)}, left out of a second fine-tuning, macro-F1 "
                 f"{_fmt(o['child'].get('macro_f1'))} (parent {_fmt(o['parent'].get('macro_f1'))})")
    return line


def activate_version(parent: QWidget | None, registry: ModelRegistry, version: str, *, rollback: bool = False) -> Path | None:
    """Activate (or roll back to) `version` after the technician confirmed a worse model; returns its path."""
    try:
        v = registry.get(version)
        if not rollback and v.worse_than_parent():
            why = [(f"on {left_out_name(h)}, corrected but left out of a second fine-tuning done the same "
                    f"way" if kind == "other_recording" else "on the same held-out epochs")
                   + f": macro-F1 {_fmt(h['child']['macro_f1'])} against {_fmt(h['parent']['macro_f1'])}"
                   for kind, h in v.worse_comparisons()]
            text = (f"Model {v.version} scored WORSE than the model it was fine-tuned from (parent {v.parent})"
                    ":\n\n" + "\n".join(why) + ".\n\nActivate it anyway?")
            if not confirm_worse(parent, "The new model is worse", text):
                return None
        v = registry.rollback(version) if rollback else registry.activate(version)
    except SleepScopeError as exc:
        report_error(parent, "Cannot activate this model", str(exc))
        return None
    return v.path


class ModelVersionsDialog(QDialog):
    """Lists the registered versions; Activate / Roll back the selected one."""

    #: the .safetensors path of the model just activated
    model_activated = Signal(str)

    COLUMNS = ["Active", "In this window", "Version", "Added", "Parent", "Held-out macro-F1\nnew / parent",
               *[f"{n} F1\nnew / parent" for n in NAMES], "Trained on"]

    def __init__(self, registry: ModelRegistry | None = None, in_use: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Model versions")
        self.resize(1000, 380)
        self.registry = registry or ModelRegistry()
        self.in_use = in_use  # version the window scores with (may be outside the registry)
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(self.COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.activate_button = QPushButton("&Activate")
        self.rollback_button = QPushButton("&Roll back to this version")
        close = QPushButton("Close")
        self.activate_button.clicked.connect(self.activate_selected)
        self.rollback_button.clicked.connect(self.rollback_selected)
        close.clicked.connect(self.accept)
        buttons = QHBoxLayout()
        buttons.addWidget(self.activate_button)
        buttons.addWidget(self.rollback_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Every model version is kept unchanged. ● marks the active version: the registry's "
                                "choice, which the workstation starts with. Held-out figures compare a fine-tuned "
                                "model with its parent on the same held-out epochs; — : the stage was absent from "
                                "them."))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        self.table.itemSelectionChanged.connect(self._update)
        self.versions: list[ModelVersion] = []
        self.refresh()

    def refresh(self, select: str | None = None) -> None:
        try:
            self.versions = self.registry.versions()
            active = self.registry.active_version()
        except SleepScopeError as exc:
            self.versions, active = [], None
            self.detail.setText(str(exc))
        self.active = active
        self.table.setRowCount(len(self.versions))
        for row, v in enumerate(self.versions):
            h = v.heldout or {}
            c, p = h.get("child", {}), h.get("parent", {})
            support = c.get("support") or p.get("support") or {}
            cells = ["●" if v.version == active else "", "in use" if v.version == self.in_use else "",
                     v.version, v.added[:19].replace("T", " "), v.parent or "—",
                     f"{_fmt(c.get('macro_f1'))} / {_fmt(p.get('macro_f1'))}" if h else "—"]
            cells += [f"{_fmt(c.get('f1', {}).get(n))} / {_fmt(p.get('f1', {}).get(n))}"
                      if h and support.get(n, 1) else "—" for n in NAMES]
            cells.append(v.data)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 5 and v.worse_than_parent():
                    item.setForeground(Qt.GlobalColor.red)
                    item.setToolTip("worse than its parent on the same held-out epochs, or on a corrected "
                                    "recording it was checked on without learning from it")
                self.table.setItem(row, col, item)
        target = select or active
        rows = [i for i, v in enumerate(self.versions) if v.version == target]
        if rows:
            self.table.selectRow(rows[0])
        self._update()

    def selected(self) -> ModelVersion | None:
        rows = self.table.selectionModel().selectedRows()
        return self.versions[rows[0].row()] if rows else None

    def row_of(self, version: str) -> int:
        return next(i for i, v in enumerate(self.versions) if v.version == version)

    def _update(self) -> None:
        v = self.selected()
        self.activate_button.setEnabled(v is not None and v.version != self.active)
        older = False
        if v is not None and self.active is not None and v.version != self.active:
            active = next((x for x in self.versions if x.version == self.active), None)
            older = active is not None and v.added < active.added
        self.rollback_button.setEnabled(older)
        if v is not None:
            self.detail.setText(f"{v.version}: {heldout_summary(v)}. {v.notes}")
        elif self.active is None:
            self.detail.setText("No version is active: the workstation uses the model it was started with "
                                f"({self.in_use or 'none'}). Activate a version to make it the default.")

    def activate_selected(self) -> bool:
        v = self.selected()
        return v is not None and self._activate(v.version, rollback=False)

    def rollback_selected(self) -> bool:
        v = self.selected()
        return v is not None and self._activate(v.version, rollback=True)

    def _activate(self, version: str, rollback: bool) -> bool:
        path = activate_version(self, self.registry, version, rollback=rollback)
        if path is None:
            return False
        # The window re-scores with the model just activated: "in use" follows ●.
        self.in_use = version
        self.refresh(select=version)
        self.model_activated.emit(str(path))
        return True
