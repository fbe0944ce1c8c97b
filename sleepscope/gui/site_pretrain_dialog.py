"""Model → Learn from unlabeled recordings…: site pre-training on the lab's own nights, in another process.

The dialog lists the recordings (by default every recording opened so far:
the open one, the recent files and those of the corrections library), runs
``python -m sleepscope pretrain --method clip --recordings ... --from MODEL
--progress jsonl --register`` in another process, as fine-tuning does
(process_job.ProcessDialog: one JSON event per line, Cancel = SIGTERM then
kill, a crash reported), plots the contrastive loss, and lists the
recordings the process skipped and why.

The result is registered as an encoder-only version: it cannot be activated
(its stages mean nothing yet), and **Fine-tune from it…** opens the
fine-tuning dialog starting from it on the technician's corrections.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any, Iterable

import pyqtgraph as pg
from PySide6.QtCore import QProcess, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from sleepscope.gui.finetune_dialog import FineTuneDialog, scoring_files_of
from sleepscope.gui.process_job import NICE, ProcessDialog, as_float, launch_prefix, run_base
from sleepscope.io.edfheader import RECORDING_SUFFIXES
from sleepscope.model.registry import ModelRegistry
from sleepscope.scoring.locations import recording_stem



class SitePretrainDialog(ProcessDialog):
    """Recordings to learn from, passes, live loss, skipped recordings, the registered encoder."""

    process_name = "site pre-training"
    failed_title = "Learning failed"

    #: .safetensors path of the registered encoder the technician wants to fine-tune from
    finetune_requested = Signal(str)

    def __init__(self, recordings: Iterable[str | Path], model_path: str | Path | None,
                 registry: ModelRegistry | None = None, parent: QWidget | None = None) -> None:
        super().__init__(model_path, registry, parent)
        self._initial = [Path(p) for p in dict.fromkeys(map(str, recordings))]
        self.skipped: list[tuple[str, str]] = []
        self._passes: dict[int, tuple[int, float, float]] = {}
        self._build()
        self._update_buttons()
        self.setWindowTitle("Learn from unlabeled recordings")
        self.resize(860, 680)

    # -- layout ---------------------------------------------------------------
    def _build(self) -> None:
        recs = QGroupBox("Recordings to learn from (no labels needed)")
        box = QVBoxLayout(recs)
        self.list = QListWidget()
        self.list.itemChanged.connect(lambda _item: self._update_buttons())
        box.addWidget(self.list)
        row = QHBoxLayout()
        self.add_files_button = QPushButton("Add &files…")
        self.add_folder_button = QPushButton("Add f&older…")
        self.add_files_button.clicked.connect(self._ask_files)
        self.add_folder_button.clicked.connect(self._ask_folder)
        row.addWidget(self.add_files_button)
        row.addWidget(self.add_folder_button)
        row.addStretch(1)
        box.addLayout(row)

        opts = QGroupBox("Options")
        form = QFormLayout(opts)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 100)
        self.epochs.setValue(3)
        self.epochs.setToolTip("Passes over the epochs of the chosen recordings")
        form.addRow("Passes", self.epochs)
        self.model_label = QLabel(f"Continuing from: {self.model_path or 'no model (choose one first)'}")
        self.model_label.setWordWrap(True)
        form.addRow(self.model_label)
        note = QLabel("The result is a pre-trained encoder: it is registered, but it scores only after "
                      "fine-tuning on the technician's corrections (Fine-tune from it…). On the synthetic labs "
                      "measured so far, starting from it helped only a little, and only on labs the current model "
                      "read poorly; the fine-tuning dialog compares the result with its parent before you "
                      "activate it.")
        note.setWordWrap(True)
        form.addRow(note)

        pg.setConfigOptions(antialias=False)
        self.loss_plot = pg.PlotWidget(title="Contrastive loss (EEG and EOG of the same epoch)")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.setMinimumHeight(200)
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=1))
        # The machinery's second curve and reference line: each pass's mean loss, and the first step's loss.
        self.f1_curve = self.loss_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=2), symbol="o", symbolSize=6)
        self.parent_line = pg.InfiniteLine(angle=0, movable=False, pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine),
                                           label="start", labelOpts={"position": 0.1})
        self.parent_line.hide()
        self.loss_plot.addItem(self.parent_line)

        self._status_and_log(110)
        buttons = self._buttons("&Start learning", ("&Fine-tune from it…", self.request_finetune))
        (self.finetune_button,) = self.extra_buttons
        self.finetune_button.setEnabled(False)

        self._lay_out(recs, opts, self.loss_plot, buttons)
        for p in self._initial:
            self.add_recording(p)

    def add_recording(self, path: str | Path) -> bool:
        """List `path` (a recording file or a folder of them), checked; False when it is listed already."""
        path = Path(path)
        if any(self.list.item(i).data(Qt.ItemDataRole.UserRole) == str(path) for i in range(self.list.count())):
            return False
        item = QListWidgetItem(str(path) + ("  (folder)" if path.is_dir() else ""))
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.list.addItem(item)
        self._update_buttons()
        return True

    def chosen(self) -> list[Path]:
        return [Path(self.list.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]

    def _ask_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Recordings to learn from", "",
                                                "Recordings (*.edf *.EDF *.bdf *.BDF *.rec);;All files (*)")
        for f in files:
            self.add_recording(f)

    def _ask_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of recordings to learn from")
        if folder:
            self.add_recording(folder)

    def _update_buttons(self) -> None:
        if not hasattr(self, "finetune_button"):
            return  # called by the list while it is being built
        running = self.running()
        self.start_button.setEnabled(not running and self.model_path is not None and bool(self.chosen()))
        self.cancel_button.setEnabled(running)
        for w in (self.epochs, self.list, self.add_files_button, self.add_folder_button):
            w.setEnabled(not running)
        self.finetune_button.setEnabled(not running and bool(self.result and self.result.get("registered")))

    # -- the process ----------------------------------------------------------
    def command(self) -> list[str]:
        self.out_base = run_base("site-pretrain")
        return [*launch_prefix()[1:], "pretrain", "--method", "clip", "--progress", "jsonl", "--register",
                "--nice", str(NICE), "--quiet", "--from", str(self.model_path), "--out", str(self.out_base),
                "--epochs", str(self.epochs.value()), "--recordings", *map(str, self.chosen())]

    def start(self) -> bool:
        if not self.chosen():
            return False
        self.skipped = []
        return super().start()

    def handle_event(self, e: dict) -> None:
        kind = e.get("event")
        if kind == "recordings":
            used = e.get("used", [])
            self.skipped = [(str(f), str(w)) for f, w in e.get("skipped", [])]
            self.log.appendPlainText(f"learning from {len(used)} recording(s), {e.get('epochs')} epochs")
            for f, why in self.skipped:
                self.log.appendPlainText(f"skipped {Path(f).name}: {why}")
        elif kind == "step":
            step, loss = float(e.get("step", len(self.loss_x) + 1)), as_float(e.get("loss"))
            if not self.loss_x and not math.isnan(loss):
                self.parent_line.setValue(loss)
                self.parent_line.show()
            self.loss_x.append(step)
            self.loss_y.append(loss)
            self._pass_mean(int(e.get("epoch", 1)))
            self.status.setText(f"Learning: step {e.get('step')} of {e.get('total')}, loss {loss:.4f}")
        else:
            super().handle_event(e)

    def _pass_mean(self, epoch: int) -> None:
        """The green points: each pass's mean loss so far, at its latest step."""
        n, total, _ = self._passes.get(epoch, (0, 0.0, 0.0))
        self._passes[epoch] = (n + 1, total + self.loss_y[-1], self.loss_x[-1])
        self.f1_x = [x for _, (_, _, x) in sorted(self._passes.items())]
        self.f1_y = [t / k for _, (k, t, _) in sorted(self._passes.items())]

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self.exit_code is not None:
            return
        self._passes = {}
        super()._finished(code, status)
        if self.cancelled and self.result is None:
            self._forget_state()  # a new run starts afresh under a new name: nothing would resume it

    def _forget_run_files(self) -> None:
        # the registry holds the model; the run's resumable state is scratch too (each run has its own name)
        super()._forget_run_files()
        self._forget_state()

    def _forget_state(self) -> None:
        if self.out_base is not None:
            for p in self.out_base.parent.glob(self.out_base.name + ".state*"):
                p.unlink(missing_ok=True)

    def _show_result(self, r: dict) -> None:
        m = r.get("metrics") or {}
        skipped = m.get("skipped_recordings") or []
        text = (f"<b>Registered version {html.escape(str(r.get('version')))}</b> (a pre-trained encoder, continued "
                f"from {html.escape(str(r.get('parent')))}): {m.get('site_epochs')} epochs of "
                f"{len(m.get('site_recordings') or [])} recording(s), {m.get('pretrain_steps')} steps, loss "
                f"{as_float(m.get('pretrain_loss_start')):.3f} → {as_float(m.get('pretrain_loss_end')):.3f}.<br>"
                "It scores only after fine-tuning on corrections: <b>Fine-tune from it…</b>")
        if skipped:
            text += "<br>Skipped: " + "; ".join(html.escape(f"{n}: {w}") for n, w in skipped)
        self.status.setText(text)

    def request_finetune(self) -> bool:
        if not (self.result and self.result.get("registered")):
            return False
        self.finetune_requested.emit(str(self.result["registered"]))
        return True


# -- the main window's Model menu ---------------------------------------------------

def recordings_opened(window: Any) -> list[Path]:
    """Every recording the workstation has opened and can still find: the open one, recent files, and the
    recordings of the corrections library."""
    found: list[Path] = []
    rec = getattr(getattr(window, "recording", None), "path", None)
    if rec:
        found.append(Path(rec))
    settings = getattr(window, "settings", None)
    found += [Path(p) for p in (settings.recent_files() if settings is not None else [])]
    scorings, recordings = scoring_files_of(window)
    found += recordings
    for s in scorings:  # a scoring file beside its recording: NAME.sleepscope.h5 next to NAME.edf/.bdf
        stem = recording_stem(s)
        found += ([s.with_name(stem)] if stem.lower().endswith(RECORDING_SUFFIXES)
                  else [s.with_name(stem + suf) for suf in RECORDING_SUFFIXES])
    return [p for p in dict.fromkeys(found) if p.is_file() and p.suffix.lower() in RECORDING_SUFFIXES]


def open_site_pretrain(window: Any) -> SitePretrainDialog:
    """Model → Learn from unlabeled recordings…: the dialog, its result fine-tuned through the fine-tuning dialog."""
    d = SitePretrainDialog(recordings_opened(window), getattr(window, "model_path", None), parent=window)
    d.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def finetune_from(path: str) -> None:
        scorings, recordings = scoring_files_of(window)
        f = FineTuneDialog(scorings, path, recordings, parent=window)
        actions = getattr(window, "model_actions", None)
        if actions is not None:
            f.model_activated.connect(actions.model_activated)
        f.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        d.finetune_dialog = f
        f.show()

    d.finetune_requested.connect(finetune_from)
    window.site_pretrain_dialog = d
    d.show()
    return d
