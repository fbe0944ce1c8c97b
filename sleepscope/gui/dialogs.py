"""Dialogs: errors and warnings, channel choice, model card, properties."""

from __future__ import annotations

import html
import re
from typing import Any, Sequence

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)



def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """A modal error box; the one way the GUI reports a SleepScopeError or a failed job."""
    QMessageBox.critical(parent, title, message)


def show_warning(parent: QWidget | None, title: str, message: str) -> None:
    """A modal warning: something was not used, the rest went ahead."""
    QMessageBox.warning(parent, title, message)


def ask_stage_codes(parent: QWidget | None, why: str, read_as: str) -> str | None:
    """How a file's system numbers its stages, asked from how they were read (`read_as`, "0=W,1=N1,..."); None
    when cancelled. The question wraps: a doubt is a sentence long."""
    ask = QInputDialog(parent)
    ask.setWindowTitle("Stage codes")
    ask.setLabelText(f"{why}\n\nHow does its system number its stages? Edit the codes below (CODE=STAGE, the "
                     "stages W, N1, N2, N3, REM or ?); left as they are, the file is read as they say.")
    ask.setTextValue(read_as)
    for label in ask.findChildren(QLabel):
        label.setWordWrap(True)
    ask.resize(560, ask.sizeHint().height())
    return ask.textValue() if ask.exec() == QDialog.DialogCode.Accepted else None


def ask_yes_no(parent: QWidget | None, title: str, question: str) -> bool:
    answer = QMessageBox.question(parent, title, question,
                                  QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class ChannelDialog(QDialog):
    """Pick the EEG and the EOG channel when the file's names cannot be guessed (and, among `ecg_leads`, the ECG
    lead whose beats are subtracted from them; None: no ECG row)."""

    NONE = "(none: read the other channel alone)"
    NO_ECG = "(none: leave the heart's beats in)"

    def __init__(self, channels: Sequence[str], eeg: str | None = None, eog: str | None = None,
                 reason: str = "", parent: QWidget | None = None, allow_none: bool = True,
                 ecg_leads: Sequence[str] | None = None, ecg: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose channels")
        self.setMinimumWidth(440)
        layout = QVBoxLayout(self)
        # The reader's message ends with the command line's options; this dialog is where the choice is made.
        reason = re.split(r"\s+Choose (?:them|one of them|the \w+ channel) with --", reason)[0]
        reason = reason[:1].upper() + reason[1:]
        text = QLabel(
            (html.escape(reason) + "<br><br>" if reason else "")
            + "Choose the EEG channel (Fpz-Cz or a central derivation such as C4-M1) "
            "and the EOG channel the model should read"
            + (", or “none” for a channel the recording lacks." if allow_none else ".")
            + (" The heart's beats found on the ECG lead are subtracted from both where they show there; choose "
               "the lead, or none to read them as recorded." if ecg_leads is not None else "")
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        form = QFormLayout()
        self.eeg = QComboBox()
        self.eog = QComboBox()
        for box, chosen in ((self.eeg, eeg), (self.eog, eog)):
            box.addItems(list(channels))
            if allow_none:
                box.addItem(self.NONE)  # a recording may lack one of the two: the model reads the other alone
            if chosen in channels:
                box.setCurrentText(chosen)
        if eog is None and len(channels) > 1 and self.eog.currentText() == self.eeg.currentText():
            self.eog.setCurrentIndex(1)
        form.addRow("EEG", self.eeg)
        form.addRow("EOG", self.eog)
        self.ecg = None
        if ecg_leads is not None:
            # a lead no name table knows (`Heart`), or none where the lead found by name is not the heart's; the
            # recorded channels only: a derivation computed from two electrodes is offered for EEG and EOG only
            leads = list(ecg_leads)
            self.ecg = QComboBox()
            self.ecg.addItems([self.NO_ECG, *leads])
            self.ecg.setCurrentText(ecg if ecg in leads else self.NO_ECG)
            self.ecg.setToolTip("The ECG lead whose beats are found and subtracted from the EEG and EOG where they "
                                "show there")
            form.addRow("ECG", self.ecg)
        layout.addLayout(form)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def choice(self) -> tuple[str | None, str | None]:
        """(EEG, EOG) chosen; None where the technician chose that the recording has none."""
        return tuple(None if box.currentText() == self.NONE else box.currentText() for box in (self.eeg, self.eog))

    def ecg_choice(self) -> str | None:
        """The ECG lead chosen, "none" (`channels.NO_ECG`) for none; None where the dialog offers no ECG."""
        from sleepscope.io.channels import NO_ECG

        if self.ecg is None:
            return None
        return NO_ECG if self.ecg.currentText() == self.NO_ECG else self.ecg.currentText()


_METRIC_NAMES = {"accuracy": "accuracy", "macro_f1": "macro-F1", "kappa": "Cohen's kappa"}


def _subjects(v: Any) -> str:
    return ", ".join(str(x) for x in v) if isinstance(v, (list, tuple)) and v else "none"


def _scores(m: dict) -> str:
    """"accuracy 0.940, macro-F1 0.904, kappa 0.919 on 8847 epochs; per stage W 0.976 …" from a metrics dict."""
    parts = [f"{name} {float(m[k]):.3f}" for k, name in _METRIC_NAMES.items() if isinstance(m.get(k), (int, float))]
    text = ", ".join(parts)
    if isinstance(m.get("n_epochs"), int):
        text += f" on {m['n_epochs']} epochs"
    f1 = m.get("f1")
    if isinstance(f1, dict) and f1:
        text += "; F1 per stage " + ", ".join(
            f"{k} {float(v):.3f}" if isinstance(v, (int, float)) else f"{k} —" for k, v in f1.items())
    return text


def _readable(v: Any) -> str:
    """A card value as text: a benchmark's rows as each row's accuracy and macro-F1, nested fields by name."""
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, dict):
        if "accuracy" in v and "macro_f1" in v:
            return f"{float(v['accuracy']):.3f} / {float(v['macro_f1']):.3f}"
        parts = [f"{a.replace('_', ' ')} {_readable(b)}" for a, b in v.items() if b is not None]
        return ("; " if any(isinstance(b, dict) for b in v.values()) else ", ").join(parts)
    if isinstance(v, (list, tuple)):
        return _subjects(v)
    return str(v)


def model_card_lines(card: Any) -> list[tuple[str, str]]:
    """The model card as (field, readable text) rows: no raw dictionaries, no internal sentinels."""
    rows: list[tuple[str, str]] = []
    for name, label in (("version", "Version"), ("parent", "Fine-tuned from"), ("created", "Written"),
                        ("data", "Training data"), ("notes", "Notes")):
        value = getattr(card, name, None)
        if value:
            rows.append((label, str(value)))
    cfg = getattr(card, "config", None)
    if cfg is not None:
        rows.append(("Configuration", f"{getattr(cfg, 'name', '')} (sequence length {getattr(cfg, 'seq_len', '?')})"))
    m = dict(getattr(card, "metrics", None) or {})
    for key, label in (("test", "Test nights"), ("validation", "Validation nights"), ("heldout", "Held-out")):
        sub = m.pop(key, None)
        if isinstance(sub, dict) and any(k in sub for k in _METRIC_NAMES):
            rows.append((label, _scores(sub)))
        elif isinstance(sub, list) and sub and all(isinstance(r, dict) for r in sub):  # one per averaged run
            rows.append((label, "; ".join(f"run {i} {_scores(r)}" for i, r in enumerate(sub, start=1))))
    if any(k in m for k in _METRIC_NAMES):
        rows.append(("Scores", _scores(m)))
    for k in (*_METRIC_NAMES, "f1", "n_epochs"):
        m.pop(k, None)
    for key, label in (("train_subjects", "Training subjects"), ("validation_subjects", "Validation subjects"),
                       ("test_subjects", "Test subjects")):
        if key in m:
            rows.append((label, _subjects(m.pop(key))))
    steps, passes, best = m.pop("steps", None), m.pop("epochs", None), m.pop("best_epoch", None)
    best_step, stopped = m.pop("best_step", None), m.pop("stopped_early", None)
    if passes is not None or steps is not None:
        text = f"{passes} passes over the data" if passes is not None else ""
        text += (", " if text else "") + f"{steps} optimiser steps" if steps is not None else ""
        if isinstance(best, int) and best >= 0:
            text += f"; weights of pass {best + 1} kept (best on validation)"
        elif isinstance(best_step, int):
            text += f"; weights of step {best_step} kept (best on validation)"
        elif isinstance(best_step, list) and best_step:
            text += (f"; {len(best_step)} runs, each kept at its best step on validation "
                     f"({', '.join(str(b) for b in best_step)}), their weights averaged")
        else:
            text += "; weights of the last pass kept (no validation nights to choose another)"
        if stopped:
            text += "; stopped early"
        rows.append(("Training", text))
    for k, v in m.items():
        if v is not None:
            rows.append((k.replace("_", " ").capitalize(), _readable(v)))
    if not (getattr(card, "metrics", None) or {}):
        rows.append(("Scores", "none recorded: this model has not been evaluated"))
    return rows


def model_card_html(card: Any, path: str) -> str:
    """The model card as an HTML table of readable rows."""
    rows = [("File", path), *model_card_lines(card)]
    body = "".join(f"<tr><td valign=top><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>"
                   for k, v in rows)
    return f"<table cellspacing=6>{body}</table>"


def properties_html(recording: Any, scoring: Any, location: str) -> str:
    """File → Properties: what is open and where its scoring is kept."""
    path = getattr(recording, "path", None)
    rows = [("Recording", str(path) if path is not None else "not from a file"),
            ("Start", f"{recording.start_time:%Y-%m-%d %H:%M:%S}"),
            ("Epochs", f"{recording.n_epochs} of 30 s (counted from 1 here, from 0 in exported CSV files)"),
            ("EEG / EOG", f"{recording.eeg_name or '—'} / {recording.eog_name or '—'}"),
            ("Channels shown", ", ".join(recording.channels)),
            ("Scoring file", location),
            ("Scorer", getattr(scoring, "scorer", "") or "—")]
    body = "".join(f"<tr><td valign=top><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>"
                   for k, v in rows)
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
