"""Model → Fine-tune on corrections…: train a new model version on the technician's labels, in another process.

Training never runs on a thread of the GUI: the dialog starts
``python -m sleepscope finetune --progress jsonl --register ...`` in another
process (process_job.ProcessDialog: one JSON event per line, Cancel =
SIGTERM then kill, a crash reported) and plots step losses and per-pass
held-out macro-F1 as they come. The active model is never touched by
fine-tuning: the new version goes into the registry and is activated only
when the technician says so.

`install_model_actions(window, menu)` adds the two Model-menu entries to the
main window and connects activation to ``window.set_model`` (which re-scores
the open recording).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sleepscope.errors import SleepScopeError
from sleepscope.gui.model_versions_dialog import ModelVersionsDialog, activate_version
from sleepscope.gui.process_job import NICE, ProcessDialog, as_float, as_html, launch_prefix, run_base
from sleepscope.model.parent_reading import ON_BY_DEFAULT as READING_ON
from sleepscope.model.registry import (ModelRegistry, check_verdict, difference_text, left_out_name,
                                       share_text)
from sleepscope.paths import user_data_dir
from sleepscope.scoring.corrections import few_note, scarce_note
from sleepscope.scoring.locations import SUFFIX, scoring_beside
from sleepscope.stages import NAMES
#: FineTuneOptions.keep_parent as a percentage (a GUI module does not import torch to read it).
KEEP_PARENT_PERCENT = 50
#: FineTuneOptions.choose_share, for the same reason
CHOOSE_SHARE = True
#: FineTuneOptions.reading, for the same reason
READING_DEFAULT = "night"
#: finetune.MIN_OTHER_EPOCHS: corrected epochs of a second recording that give a check on a recording left out
CHECK_EPOCHS = 100


@dataclass
class CorrectionCounts:
    per_stage: dict[str, int]
    recordings: int
    total: int
    unreadable: list[str]  # "file: why"
    #: recording file name -> the scoring files pooled for it (a night scored twice is listed once)
    pooled: dict[str, list[str]] = field(default_factory=dict)


def count_corrections(scoring_paths: Iterable[str | Path], include_imports: bool = True) -> CorrectionCounts:
    """Labelled epochs per stage over the scoring files (a recording scored twice counts once)."""
    from sleepscope.scoring.corrections import label_counts
    from sleepscope.scoring.scoring_file import ScoringFile

    good, bad = [], []
    pooled: dict[str, list[str]] = {}
    for p in dict.fromkeys(Path(p) for p in scoring_paths):
        try:
            ident = ScoringFile.read(p).identity
            good.append(p)
            pooled.setdefault(ident.file_name or ident.fingerprint[:12], []).append(str(p))
        except (SleepScopeError, OSError) as exc:
            bad.append(f"{p.name}: {exc}")
    sources = ("technician", "model", "import") if include_imports else ("technician", "model")
    per_rec = label_counts(good, sources) if good else {}
    per_stage = {n: sum(c[n] for c in per_rec.values()) for n in NAMES}
    return CorrectionCounts(per_stage, sum(1 for c in per_rec.values() if c["total"]), sum(per_stage.values()), bad,
                            pooled)


class FineTuneDialog(ProcessDialog):
    """Options, live loss / held-out macro-F1 curves, result beside the parent, Activate."""

    process_name = "fine-tuning"
    failed_title = "Fine-tuning failed"

    #: version registered by a finished run
    model_finished = Signal(str)
    #: .safetensors path of a model the technician activated from here
    model_activated = Signal(str)

    def __init__(self, scoring_paths: Iterable[str | Path], model_path: str | Path | None,
                 recordings: Iterable[str | Path] = (), registry: ModelRegistry | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(model_path, registry, parent)
        self.setWindowTitle("Fine-tune on corrections")
        self.resize(920, 720)
        self.scoring_paths = [Path(p) for p in dict.fromkeys(map(str, scoring_paths))]
        self.recordings = [Path(p) for p in dict.fromkeys(map(str, recordings))]
        self._build()
        self.refresh_counts()

    # -- layout ---------------------------------------------------------------
    def _build(self) -> None:
        counts = QGroupBox("Technician-labelled epochs available")
        grid = QGridLayout(counts)
        self.count_labels: dict[str, QLabel] = {}
        for col, name in enumerate([*NAMES, "Total"]):
            grid.addWidget(QLabel(f"<b>{name}</b>"), 0, col, Qt.AlignmentFlag.AlignCenter)
            lab = QLabel("0")
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(lab, 1, col)
            self.count_labels[name] = lab
        self.recordings_label = QLabel()
        self.recordings_label.setWordWrap(True)
        grid.addWidget(self.recordings_label, 2, 0, 1, len(NAMES) + 1)
        self.scarce_label, self.few_label = QLabel(), QLabel()  # cautions about the corrections, shown when due
        for label in (self.scarce_label, self.few_label):
            label.setWordWrap(True)
            label.setStyleSheet("color: #8a5a00;")
            label.hide()

        opts = QGroupBox("Options")
        form = QFormLayout(opts)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(10)
        self.epochs.setToolTip("Most passes over the training corrections (training stops earlier when the "
                               "held-out macro-F1 stops improving)")
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 0.01)
        self.lr.setSingleStep(0.00005)
        self.lr.setValue(0.0001)
        self.freeze = QCheckBox("Freeze the encoders (faster; adapts only the decoders and classifier)")
        # Checked for a model trained with its encoders fixed: fine-tuning it the same way keeps what it learned.
        self.freeze.setChecked(self.model_path is not None and _trained_frozen(self.model_path))
        self.holdout = QDoubleSpinBox()
        self.holdout.setRange(0.1, 0.5)
        self.holdout.setSingleStep(0.05)
        self.holdout.setValue(0.2)
        self.holdout.setToolTip("Fraction of the corrections kept aside (whole blocks of consecutive epochs) to "
                                "compare the new model with the current one")
        self.keep = QSpinBox()
        self.keep.setRange(0, 90)
        self.keep.setSingleStep(10)
        self.keep.setSuffix(" %")
        self.keep.setValue(KEEP_PARENT_PERCENT)
        self.keep.setToolTip("The new model's weights are averaged with the current model's, this share from the "
                             "current one: it keeps what the model knew about other subjects (0 %: the new model "
                             "as trained)")
        self.choose = QCheckBox("Keep the new model whole where the corrections show the current one is wrong")
        self.choose.setChecked(CHOOSE_SHARE)
        self.choose.setToolTip("With corrections of two recordings or more, the check on a recording left out "
                               "also tells whether averaging with the current model helps on the next subject's "
                               "night; where it does not, the new model is kept as trained (no extra time)")
        self.reading = QCheckBox("Also learn the current model's reading of stages the corrections hardly hold")
        self.reading.setChecked(READING_ON)
        self.reading.setToolTip("For each stage with fewer than 20 corrected epochs, the current model's confident "
                                "stage on uncorrected epochs of these recordings is learnt too: it keeps what the "
                                "model read of that stage, and keeps its errors where it reads this lab poorly")
        self.reading.toggled.connect(lambda _=False: self._show_notes())
        self.night_reading = QCheckBox("Read each night also with its own statistics, as the current model does")
        # read once: the card does not change while the dialog is open
        self._reads_nights = reads_nights = self.model_path is not None and _reads_night_statistics(self.model_path)
        self.night_reading.setChecked(READING_DEFAULT == "night" and reads_nights)
        self.night_reading.setEnabled(reads_nights)
        self.night_reading.setToolTip(
            "The current model reads every night twice, with what it learnt and with that night's own encoder "
            "statistics. In our synthetic test labs a new model read so scored other patients' nights better (one "
            "corrected night: accuracy 0.87 -> 0.90) and, in labs unlike the training data, the corrected patient's "
            "next night too (0.90 -> 0.92); in recordings like the training data, that night a little worse "
            "(0.945 -> 0.937): uncheck it only for a lab whose recordings the current model already reads well"
            if reads_nights else
            "The current model reads each night as it learnt only: there is no other reading to keep")
        self.imports = QCheckBox("Also learn from imported hypnograms")
        self.imports.setChecked(True)
        self.imports.toggled.connect(lambda _=False: self.refresh_counts())
        form.addRow("Training epochs", self.epochs)
        form.addRow("Learning rate", self.lr)
        form.addRow("Held-out fraction", self.holdout)
        form.addRow("Keep of the current model", self.keep)
        form.addRow(self.choose)
        form.addRow(self.freeze)
        form.addRow(self.reading)
        form.addRow(self.night_reading)
        form.addRow(self.imports)
        self.model_label = QLabel(f"Starting from: {self.model_path or 'no model (choose one first)'}")
        self.model_label.setWordWrap(True)
        form.addRow(self.model_label)

        pg.setConfigOptions(antialias=False)
        self.loss_plot = pg.PlotWidget(title="Training loss")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=1))
        self.f1_plot = pg.PlotWidget(title="Held-out macro-F1")
        self.f1_plot.setLabel("bottom", "pass")
        self.f1_plot.setYRange(0, 1)
        self.f1_curve = self.f1_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=2), symbol="o", symbolSize=6)
        self.parent_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine),
                                           label="current model", labelOpts={"position": 0.1})
        self.parent_line.hide()
        self.f1_plot.addItem(self.parent_line)
        for plot in (self.loss_plot, self.f1_plot):
            plot.setMinimumHeight(130)  # the result's tables below take the room they need first
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.f1_plot)
        # The notes on the corrections span the dialog: in the counts' box they were cut off at its height.
        below = QVBoxLayout()
        below.addWidget(self.scarce_label)
        below.addWidget(self.few_label)
        below.addLayout(plots, 1)

        self._status_and_log(90)
        buttons = self._buttons("&Start fine-tuning", ("&Activate the new model", self.activate_result),
                                ("Model &versions…", self.show_versions))
        self.activate_button, self.versions_button = self.extra_buttons
        self.activate_button.setEnabled(False)

        self._lay_out(counts, opts, below, buttons)

    def refresh_counts(self) -> CorrectionCounts:
        try:
            c = count_corrections(self.scoring_paths, self.imports.isChecked())
        except SleepScopeError as exc:
            c = CorrectionCounts({n: 0 for n in NAMES}, 0, 0, [str(exc)])
        self.counts = c
        for n in NAMES:
            self.count_labels[n].setText(str(c.per_stage[n]))
        self.count_labels["Total"].setText(str(c.total))
        text = f"from {c.recordings} recording(s) in {len(self.scoring_paths)} scoring file(s):"
        import html

        items = "".join(
            f"<li>{html.escape(name)}" + (f" ({len(files)} scoring files, the latest label of each epoch wins)"
                                          if len(files) > 1 else "") + "</li>"
            for name, files in sorted(c.pooled.items()))
        text = html.escape(text) + (f"<ul style='margin:0'>{items}</ul>" if items else " none")
        if c.recordings == 1:
            # One subject's night cannot say how the new model reads the next subject's (the lab's test nights
            # in reports/site-learning-curve-new-parent-synthetic/ were sometimes read worse after one night).
            text += html.escape(f"Corrections of one recording are checked only on epochs held out of it. Correct "
                                f"the first hours of another subject's recording too ({CHECK_EPOCHS} epochs or more): "
                                "the new model is then also checked on a recording it did not learn from, and that "
                                "check decides how much of the current model to keep.")
        if c.unreadable:
            text += "Unreadable: " + html.escape("; ".join(c.unreadable))
        self.recordings_label.setText(text)
        self._show_notes()
        self.recordings_label.setToolTip("\n".join(f"{n}: {', '.join(f)}" for n, f in sorted(c.pooled.items())))
        self._update_buttons()
        return c

    def _show_notes(self) -> None:
        for label, note in ((self.scarce_label, scarce_note(self.counts.per_stage, reading=self.reading.isChecked())),
                            (self.few_label, few_note(self.counts.total))):
            label.setText("⚠ " + note[0].upper() + note[1:] if note else "")
            label.setVisible(note is not None)

    def _update_buttons(self) -> None:
        running = self.running()
        self.start_button.setEnabled(not running and self.model_path is not None and self.counts.total > 0)
        self.cancel_button.setEnabled(running)
        for w in (self.epochs, self.lr, self.freeze, self.holdout, self.keep, self.choose, self.reading, self.imports):
            w.setEnabled(not running)
        self.night_reading.setEnabled(not running and self._reads_nights)
        self.activate_button.setEnabled(not running and self.result is not None
                                        and self.result.get("version") != self.registry.active_version())

    # -- the process ----------------------------------------------------------
    def command(self) -> list[str]:
        """The arguments after the executable (see `launch_prefix`)."""
        self.out_base = run_base("finetune")
        args = [*launch_prefix()[1:], "finetune", "--progress", "jsonl", "--register", "--nice", str(NICE),
                "--from", str(self.model_path), "--out", str(self.out_base),
                "--epochs", str(self.epochs.value()), "--lr", f"{self.lr.value():g}",
                "--holdout", f"{self.holdout.value():g}", "--keep-parent", f"{self.keep.value() / 100:g}",
                "--sources", "technician,model,import" if self.imports.isChecked() else "technician,model",
                "--scoring", *map(str, self.scoring_paths)]
        if self.recordings:
            args += ["--recording", *map(str, self.recordings)]
        args.append("--freeze-encoders" if self.freeze.isChecked() else "--no-freeze-encoders")
        args.append("--choose-share" if self.choose.isChecked() else "--no-choose-share")
        args.append("--parent-reading" if self.reading.isChecked() else "--no-parent-reading")
        args += ["--reading", "night" if self.night_reading.isChecked() else "trained"]
        return args

    def handle_event(self, e: dict) -> None:
        kind = e.get("event")
        if kind == "corrections":
            self.log.appendPlainText(f"{e.get('n')} labelled epochs: {e.get('per_stage')}")
            for s in e.get("skipped", []):
                self.log.appendPlainText(f"skipped {s}")
        elif kind == "parent_reading":
            self.log.appendPlainText(
                f"few corrections of {', '.join(e.get('stages', []))}: also learning the current model's confident "
                f"reading of {e.get('n')} uncorrected epochs ({e.get('per_stage')})")
        elif kind == "parent":
            f1 = as_float(e.get("val_macro_f1"))
            if not math.isnan(f1):
                self.parent_line.setValue(f1)
                self.parent_line.show()
            self.log.appendPlainText(f"training on {e.get('n_train')} epochs, {e.get('n_heldout')} held out; "
                                     f"current model held-out macro-F1 {f1:.3f}")
        elif kind == "step":
            self.loss_x.append(float(e.get("step", len(self.loss_x) + 1)))
            self.loss_y.append(as_float(e.get("loss")))
            self.status.setText(f"Fine-tuning: step {e.get('step')} of {e.get('total')}, loss {as_float(e.get('loss')):.4f}")
        elif kind == "check_step":
            self.status.setText(f"Checking on {e.get('recording')}, which a second fine-tuning leaves out: "
                                f"step {e.get('step')} of {e.get('total')}")
        elif kind == "epoch":
            self.f1_x.append(float(e.get("epoch", len(self.f1_x) + 1)))
            self.f1_y.append(as_float(e.get("val_macro_f1")))
            self.log.appendPlainText(f"pass {e.get('epoch')}: held-out macro-F1 {as_float(e.get('val_macro_f1')):.3f}")
        else:
            super().handle_event(e)

    def _succeeded(self, result: dict) -> None:
        self.model_finished.emit(str(result.get("version")))

    def _show_result(self, r: dict) -> None:
        h = (r.get("metrics") or {}).get("heldout", {})
        c, p = h.get("child", {}), h.get("parent", {})
        head = "".join(f"<th>{n} F1</th>" for n in NAMES)

        support = c.get("support") or p.get("support") or {}

        def row(name: str, m: dict, among: dict | None = None) -> str:
            # A stage absent from the held-out epochs has no F1 (it would print as 0.000 beside a macro-F1
            # computed without it).
            among = support if among is None else among
            f1 = [m.get("f1", {}).get(n) if among.get(n, 1) else None for n in NAMES]
            cells = [m.get("macro_f1"), m.get("accuracy"), *f1]
            return f"<tr><td>{name}</td>" + "".join(f"<td align=right>{_fmt(v)}</td>" for v in cells) + "</tr>"

        absent = [n for n in NAMES if support and not support.get(n, 0)]
        ft = (r.get("metrics") or {}).get("finetune", {})
        passes = ft.get("epochs")
        best = ft.get("best_epoch")
        asked = self.epochs.value()
        kept = ""
        if passes is not None:
            kept = f"Ran {passes} of at most {asked} passes" + (" (stopped early: the held-out macro-F1 stopped "
                                                               "improving)" if ft.get("stopped_early") else "")
            if passes > asked:  # few corrections: fine-tuning makes at least min_steps optimiser steps
                kept = f"Ran {passes} passes ({ft.get('steps')} optimiser steps, the fewest it makes)"
            if isinstance(best, int) and best >= 0:
                kept += f"; kept the weights of pass {best + 1}, the best on the epochs held out to choose it."
            else:
                kept += "; kept the weights of the last pass" + (
                    " (too few held-out epochs to choose another)" if ft.get("chose_pass") is False else "") + "."
        kept += share_text(ft)
        note = (f" — : no held-out epoch of {', '.join(absent)}, so no F1 (macro-F1 averages the stages present)."
                if absent else "")

        # From a site pre-trained encoder the comparison is with the model it was pre-trained from.
        current = f"current ({h['compared_with']})" if h.get("compared_with") else "current"
        worse = as_float(c.get("macro_f1")) < as_float(p.get("macro_f1"))
        verdict = ("<b style='color:#c00'>The new model is worse than the current one on these epochs.</b>"
                   if worse else "The new model is at least as good as the current one on these epochs.")
        other = ""
        o = (r.get("metrics") or {}).get("other_recording")
        if o:
            oc, op = o.get("child", {}), o.get("parent", {})
            there = oc.get("support") or op.get("support") or {}
            said = {"worse": "<b style='color:#c00'>It scored worse there, beyond what the choice of epochs "
                             "explains: these corrections may make recordings they do not include worse (another "
                             "subject, montage or amplifier). Correct some epochs of each kind of recording you "
                             "pre-score before activating.</b>",
                    "better": "It scored better there, so the corrections also help a recording they do not "
                              "include.",
                    "no clear difference": "No clear difference there: these epochs cannot tell whether the "
                                           "corrections help a recording they do not include."}
            diff = difference_text(o)
            other = (f"<p>On <b>{as_html(left_out_name(o))}</b> ({o.get('n_epochs')} corrected epochs), "
                     "a second fine-tuning that left it out was checked against the current model. "
                     + said[check_verdict(o)] + (f" ({diff})" if diff else "")
                     + f"<table cellspacing=4><tr><th></th><th>macro-F1</th><th>accuracy</th>{head}</tr>"
                     f"{row('without it', oc, there)}{row(current, op, there)}</table></p>")
        self.status.setText(
            f"New model version {r.get('version')} (from {r.get('parent')}), registered but not active. "
            f"{verdict} Held-out epochs: {h.get('n_epochs')}."
            f"<table cellspacing=4><tr><th></th><th>macro-F1</th><th>accuracy</th>{head}</tr>"
            f"{row('new', c)}{row(current, p)}</table>{as_html(kept)}{as_html(note)}{other}")

    # -- after the run ---------------------------------------------------------
    def activate_result(self) -> bool:
        if self.result is None:
            return False
        path = activate_version(self, self.registry, str(self.result["version"]))
        if path is None:
            return False
        self.status.setText(self.status.text() + f"<br><b>Activated {self.result['version']}.</b>")
        self._update_buttons()
        self.model_activated.emit(str(path))
        return True

    def show_versions(self) -> None:
        d = ModelVersionsDialog(self.registry, parent=self)
        d.model_activated.connect(self.model_activated)
        d.exec()
        self._update_buttons()


def _fmt(x: Any) -> str:
    v = as_float(x)
    return "—" if math.isnan(v) else f"{v:.3f}"


# -- the main window's Model menu ---------------------------------------------------

def scoring_files_of(window: Any) -> tuple[list[Path], list[Path]]:
    """(scoring files, recordings) the window knows: the open one and those of recent recordings.

    A recording's scoring file is beside it, or, for a read-only folder, in
    the user data folder under its fingerprint; those are matched to recent
    recordings by file name so the process can find their signals.
    """
    from sleepscope.scoring.scoring_file import ScoringFile

    scorings: list[Path] = []
    recordings: list[Path] = []
    scoring = getattr(window, "scoring", None)
    if scoring is not None and getattr(scoring, "path", None):
        scorings.append(Path(scoring.path))
        rec_path = getattr(getattr(window, "recording", None), "path", None)
        if rec_path and scoring_beside(Path(rec_path)) != Path(scoring.path):
            recordings.append(Path(rec_path))
    settings = getattr(window, "settings", None)
    recent = [Path(p) for p in (settings.recent_files() if settings is not None else [])]
    by_name = {p.name: p for p in recent}
    for rec in recent:
        beside = scoring_beside(rec)
        if beside.is_file():
            scorings.append(beside)
    fallback = user_data_dir() / "scoring"
    if fallback.is_dir():
        for f in sorted(fallback.glob(f"*{SUFFIX}")):
            try:
                name = ScoringFile.read(f).identity.file_name
            except (SleepScopeError, OSError):
                continue
            if name in by_name:
                scorings.append(f)
                recordings.append(by_name[name])
    return list(dict.fromkeys(scorings)), list(dict.fromkeys(recordings))


class ModelActions(QObject):
    """The Model-menu entries for fine-tuning and versions, bound to one main window."""

    #: .safetensors path of the model the technician just activated
    model_activated = Signal(str)

    def __init__(self, window: Any, menu: Any) -> None:
        super().__init__(window)
        self.window = window
        menu.addSeparator()
        self.finetune_action = menu.addAction("&Fine-tune on corrections…")
        self.versions_action = menu.addAction("Model &versions / roll back…")
        self.finetune_action.triggered.connect(self.open_finetune)
        self.versions_action.triggered.connect(self.open_versions)
        self.dialog: FineTuneDialog | None = None

    def _in_use(self) -> str | None:
        """The version the window scores with, read from its model's card (no torch import)."""
        path = getattr(self.window, "model_path", None)
        if path is None:
            return None
        from sleepscope.gui.main_window import card_version

        return card_version(Path(path))

    def open_finetune(self) -> FineTuneDialog:
        scorings, recordings = scoring_files_of(self.window)
        model = getattr(self.window, "model_path", None)
        d = FineTuneDialog(scorings, model, recordings, parent=self.window)
        d.model_activated.connect(self.model_activated)
        d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.dialog = d
        d.show()
        return d

    def open_versions(self) -> ModelVersionsDialog:
        d = ModelVersionsDialog(in_use=self._in_use(), parent=self.window)
        d.model_activated.connect(self.model_activated)
        d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        d.show()
        return d


def install_model_actions(window: Any, menu: Any) -> ModelActions:
    """Add "Fine-tune on corrections…" and "Model versions / roll back…" to `menu`.

    Activation calls ``window.set_model(path)``, which makes the model active
    and re-scores the open recording (predictions are kept apart from the
    technician's labels).
    """
    actions = ModelActions(window, menu)
    if hasattr(window, "set_model"):
        actions.model_activated.connect(lambda path: window.set_model(Path(path)))
    return actions


def _reads_night_statistics(model_path: str | Path) -> bool:
    """Whether the model's card says it reads each night with its own statistics too (read without torch)."""
    from sleepscope.gui.main_window import card_json

    return bool((card_json(Path(model_path)).get("config") or {}).get("night_statistics", False))


def _trained_frozen(model_path: str | Path) -> bool:
    """Whether the model's card says it was trained with its encoders fixed (read without torch)."""
    from sleepscope.gui.main_window import card_json
    from sleepscope.model.lineage import trained_with_frozen_encoders

    return trained_with_frozen_encoders(card_json(Path(model_path)).get("metrics"))
