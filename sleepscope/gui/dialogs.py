"""Dialogs: errors, channel choice, model card, keyboard help."""

from __future__ import annotations

import html
from typing import Any, Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from sleepscope.stages import Stage


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """A modal error box; the one way the GUI reports a SleepScopeError or a failed job."""
    QMessageBox.critical(parent, title, message)


def ask_yes_no(parent: QWidget | None, title: str, question: str) -> bool:
    answer = QMessageBox.question(parent, title, question,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class ChannelDialog(QDialog):
    """Pick the EEG and the EOG channel when the file's names cannot be guessed."""

    def __init__(self, channels: Sequence[str], eeg: str | None = None, eog: str | None = None,
                 reason: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose channels")
        self.setMinimumWidth(440)
        layout = QVBoxLayout(self)
        text = QLabel(
            (html.escape(reason) + "<br><br>" if reason else "")
            + "Choose the EEG channel (Fpz-Cz or a central derivation such as C4-M1) "
            "and the EOG channel the model should read."
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        form = QFormLayout()
        self.eeg = QComboBox()
        self.eog = QComboBox()
        for box, chosen in ((self.eeg, eeg), (self.eog, eog)):
            box.addItems(list(channels))
            if chosen in channels:
                box.setCurrentText(chosen)
        if eog is None and len(channels) > 1 and self.eog.currentText() == self.eeg.currentText():
            self.eog.setCurrentIndex(1)
        form.addRow("EEG", self.eeg)
        form.addRow("EOG", self.eog)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def choice(self) -> tuple[str, str]:
        return self.eeg.currentText(), self.eog.currentText()


def model_card_html(card: Any, path: str) -> str:
    """The model card as HTML (works for any object with ModelCard's fields)."""
    rows = [("File", path)]
    for name in ("version", "parent", "created", "data", "notes"):
        value = getattr(card, name, None)
        if value:
            rows.append((name.capitalize(), str(value)))
    cfg = getattr(card, "config", None)
    if cfg is not None:
        name = getattr(cfg, "name", "")
        rows.append(("Configuration", f"{name} (sequence length {getattr(cfg, 'seq_len', '?')})"))
    metrics = getattr(card, "metrics", None) or {}
    for k, v in metrics.items():
        if isinstance(v, float):
            v = f"{v:.3f}"
        rows.append((f"Metric: {k}", str(v)))
    if not metrics:
        rows.append(("Metrics", "none recorded: this model has not been evaluated"))
    body = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table cellspacing=6>{body}</table>"


class ModelCardDialog(QDialog):
    def __init__(self, card: Any, path: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Active model")
        self.resize(560, 380)
        layout = QVBoxLayout(self)
        view = QTextBrowser()
        view.setHtml(model_card_html(card, path))
        layout.addWidget(view)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)


KEY_HELP = [
    ("W or 0", "Wake, then next epoch"),
    ("1 / 2 / 3 (or 4)", "N1 / N2 / N3, then next epoch"),
    ("R or 5", "REM, then next epoch"),
    ("U", "Unscored, then next epoch"),
    ("Enter", "accept the model's stage, then next epoch"),
    ("← → / PgUp PgDn", "previous / next epoch"),
    ("↑ ↓", "10 epochs (5 minutes) back / forward"),
    ("Home / End", "first / last epoch"),
    ("N or Tab", "next epoch where the model is unsure (< 60 %) or disagrees with you"),
    ("Shift+N or Shift+Tab", "previous such epoch"),
    ("Ctrl+Z / Ctrl+Shift+Z", "undo / redo (history kept across sessions)"),
]


def keyboard_help_html() -> str:
    rows = "".join(f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in KEY_HELP)
    stages = ", ".join(s.label for s in Stage if s is not Stage.UNSCORED)
    return f"<p>Stages: {stages}.</p><table cellspacing=4>{rows}</table>"
