"""The statistics and agreement panel: AASM statistics of the scoring as it stands, and any two label sets compared.

Reads the scoring file (`sleepscope.scoring.label_sets`, `stats`,
`agreement`): nothing is computed here that the report or the CLI would
compute differently. `schedule_refresh()` coalesces the edits of a burst of
key presses into one recomputation after the event loop is idle, and a
hidden panel recomputes only when shown, so scoring never waits for it.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from sleepscope.gui.lazy_panel import LazyPanel
from sleepscope.gui.second_opinion import SET_NAME as SECOND_OPINION
from sleepscope.scoring.agreement import Agreement, agreement, kappa_text
from sleepscope.scoring.events import arousal_onsets
from sleepscope.scoring.label_sets import TECHNICIAN, agreement_apart, label_sets
from sleepscope.scoring.stats import SleepStats, arousals_text, sleep_statistics
from sleepscope.stages import COLORS, NAMES, SCORED

#: Coalesce the edits of a burst of keys: one recomputation per pause.
REFRESH_DELAY_MS = 120


def _minutes(v: float | None) -> str:
    return "—" if v is None else f"{v:.1f} min"


def stats_html(stats: SleepStats, n_scored: int, n_epochs: int, n_no_signal: int = 0) -> str:
    """`n_scored` of the `n_epochs` epochs with signal are scored; `n_no_signal` more lie in gaps of the recording."""
    rows = [
        ("TIB", _minutes(stats.tib_min)), ("TST", _minutes(stats.tst_min)), ("SE", f"{stats.se_pct:.1f} %"),
        ("SOL", _minutes(stats.sol_min)), ("WASO", _minutes(stats.waso_min)),
        ("REM latency", _minutes(stats.rem_latency_min)), ("Awakenings", str(stats.n_awakenings)),
        ("Stage shifts", str(stats.n_stage_shifts)),
        *([("Arousals", arousals_text(stats))] if stats.n_arousals is not None else []),
    ]
    if n_no_signal:
        rows.append(("No signal (gaps)", _minutes(stats.no_signal_min)))
    body = "".join(f"<tr><td>{k}</td><td align='right'>{v}</td></tr>" for k, v in rows)
    stages = "".join(
        f"<tr><td><span style='color:{COLORS[s]}'>■</span> {s.name}</td>"
        f"<td align='right'>{stats.stage_min[s.name]:.1f}</td><td align='right'>{stats.stage_pct[s.name]:.1f} %</td></tr>"
        for s in SCORED)
    colour = "#2b2f36" if n_scored == n_epochs else "#b03a2e"
    note = (f"<p style='color:{colour}'>{n_scored} of {n_epochs} epochs scored"
            + ("" if n_scored == n_epochs else ": figures of a partly scored night")
            + (f" <span style='color:#6b7480'>({n_no_signal} epochs without signal: gaps of the recording, "
               "never scored)</span>" if n_no_signal else "") + "</p>")
    return (note + f"<table cellspacing='0' cellpadding='2'>{body}</table>"
            f"<table cellspacing='0' cellpadding='2'><tr><th align='left'>Stage</th><th>min</th>"
            f"<th>% TST (W: TIB)</th></tr>{stages}</table>")


def agreement_html(agr: Agreement, ref_name: str, other_name: str, taken: int = 0,
                   apart: Agreement | None = None) -> str:
    """`taken`, `apart`: as `agreement_apart` gives them."""
    if agr.n_epochs == 0:
        return "<p>No epoch is scored in both label sets yet.</p>"
    e = html.escape
    head = (f"<p><b>κ {kappa_text(agr.kappa, 2)}</b> · accuracy {100 * agr.accuracy:.1f} % · "
            f"{agr.n_epochs} epochs</p>")
    if taken:
        rest = (f"on the other {apart.n_epochs}: <b>κ {kappa_text(apart.kappa, 2)}</b> · "
                f"accuracy {100 * apart.accuracy:.1f} %"
                if apart is not None else "none was scored apart from it")
        head += (f"<p style='color:#6b7480'>{taken} of them the technician took unchanged (accepted or imported), "
                 f"which agree by construction; {rest}</p>")
    present = {name: agr.support[name] > 0 or agr.confusion[:, i].sum() > 0 for i, name in enumerate(NAMES)}
    per_stage = "".join(
        f"<tr><td>{name}</td><td align='right'>{(f'{100 * agr.recall[name]:.0f} %') if agr.support[name] else '—'}</td>"
        f"<td align='right'>{f'{agr.f1[name]:.2f}' if present[name] else '—'}</td></tr>" for name in NAMES)
    hi = max(1, int(agr.confusion.max()))
    cells = []
    for i, name in enumerate(NAMES):
        row = []
        for j in range(len(NAMES)):
            v = int(agr.confusion[i, j])
            shade = int(255 - 120 * v / hi)
            bg = f"rgb({shade},{shade + (255 - shade) // 3},255)" if i == j else f"rgb(255,{shade},{shade})"
            row.append(f"<td align='right' style='background:{bg if v else '#ffffff'}'>{v}</td>")
        cells.append(f"<tr><th align='left'>{name}</th>{''.join(row)}</tr>")
    cm = (f"<p style='margin-top:6px'>Confusion: rows {e(ref_name)}, columns {e(other_name)}</p>"
          "<table cellspacing='0' cellpadding='2'><tr><th></th>" + "".join(f"<th>{n}</th>" for n in NAMES) + "</tr>"
          + "".join(cells) + "</table>")
    return (head + "<table cellspacing='0' cellpadding='2'><tr><th align='left'>Stage</th>"
            f"<th>agree</th><th>F1</th></tr>{per_stage}</table>" + cm)


class StatsPanel(LazyPanel):
    """Statistics of the current scoring and the agreement of two chosen label sets."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(lambda: self.refresh(), parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        box = QGroupBox("Sleep statistics (AASM)")
        bl = QVBoxLayout(box)
        bl.setContentsMargins(6, 6, 6, 6)
        self.stats_label = QLabel()
        self.stats_label.setTextFormat(Qt.TextFormat.RichText)
        self.stats_label.setWordWrap(True)
        bl.addWidget(self.stats_label)
        layout.addWidget(box)
        agr_box = QGroupBox("Agreement")
        form = QFormLayout(agr_box)
        form.setContentsMargins(6, 6, 6, 6)
        self.reference = QComboBox()
        self.other = QComboBox()
        form.addRow("Reference", self.reference)
        form.addRow("Compared", self.other)
        self.agreement_label = QLabel()
        self.agreement_label.setTextFormat(Qt.TextFormat.RichText)
        self.agreement_label.setWordWrap(True)
        form.addRow(self.agreement_label)
        layout.addWidget(agr_box)
        layout.addStretch(1)
        # Stage keys must keep scoring after a click here: nothing in the panel takes the keyboard.
        for w in (self, box, agr_box, self.reference, self.other):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.reference.currentIndexChanged.connect(self.refresh)
        self.other.currentIndexChanged.connect(self.refresh)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_DELAY_MS)
        self._timer.timeout.connect(self.refresh)
        self._scoring: Any = None
        self._no_signal: np.ndarray | None = None
        self.stats: SleepStats | None = None
        self.agreement: Agreement | None = None
        self.refresh()

    def set_scoring(self, scoring: Any, no_signal: np.ndarray | None = None) -> None:
        """Show the statistics of `scoring` (a ScoringFile), or nothing for None; `no_signal`: the
        recording's per-epoch gap mask (`Recording.gap`), epochs that can never be scored."""
        self._scoring = scoring
        self._no_signal = None if no_signal is None else np.asarray(no_signal, dtype=bool)
        self.refresh()

    def schedule_refresh(self, *_: Any) -> None:
        """Recompute soon (labels or predictions changed); edits in quick succession share one update."""
        self._stale = True
        if self.shown():
            self._timer.start()

    def _fill_choices(self, names: list[str], technician_scored: bool = True) -> None:
        current = [self.reference.itemText(i) for i in range(self.reference.count())]
        if current == names:
            return
        ref, other = self.reference.currentText(), self.other.currentText()
        # Default: the technician against the newest model (or the first other set); on a night the technician
        # has not scored yet, the lab's own scoring of it (a hypnogram beside it, imported) against the model.
        labs = [n for n in names if n.startswith("Scorer ") and n != f"Scorer {SECOND_OPINION}"]
        default = TECHNICIAN if technician_scored or not labs else labs[0]
        with QSignalBlocker(self.reference), QSignalBlocker(self.other):
            for combo in (self.reference, self.other):
                combo.clear()
                combo.addItems(names)
            self.reference.setCurrentText(ref if ref in names else default)
            fallback = next((n for n in names[1:] if n != self.reference.currentText()), TECHNICIAN)
            self.other.setCurrentText(other if other in names and other != self.reference.currentText()
                                      else fallback)

    def choose(self, reference: str, other: str) -> None:
        """Compare these two label sets (names as listed in the combo boxes)."""
        with QSignalBlocker(self.reference), QSignalBlocker(self.other):
            self.reference.setCurrentText(reference)
            self.other.setCurrentText(other)
        self.refresh()

    def refresh(self) -> None:
        self._timer.stop()
        self._stale = False
        sf = self._scoring
        if sf is None:
            self.stats = self.agreement = None
            with QSignalBlocker(self.reference), QSignalBlocker(self.other):
                self.reference.clear()
                self.other.clear()
            self.stats_label.setText("<p style='color:#6b7480'>No recording open.</p>")
            self.agreement_label.setText("")
            return
        sets = label_sets(sf)
        labels = sets[TECHNICIAN]
        # over the lights-off to lights-on period when the technician marked it
        off, on = sf.lights_epochs()
        gap = np.zeros(len(labels), dtype=bool)
        if self._no_signal is not None:
            gap[: min(len(labels), len(self._no_signal))] = self._no_signal[: len(labels)]
        self.stats = sleep_statistics(labels, epoch_s=sf.identity.epoch_seconds, lights_off=off, lights_on=on,
                                      no_signal=gap, arousals=arousal_onsets(sf.events))
        n_gap = int(np.count_nonzero(gap))
        self.stats_label.setText(stats_html(self.stats, int(np.count_nonzero((labels >= 0) & ~gap)),
                                            len(labels) - n_gap, n_gap))
        self._fill_choices(list(sets), bool((labels >= 0).any()))
        ref, other = self.reference.currentText(), self.other.currentText()
        if len(sets) < 2 or ref not in sets or other not in sets:
            self.agreement = None
            self.agreement_label.setText("<p style='color:#6b7480'>Nothing to compare with yet: pre-score the "
                                         "recording or import another scorer's hypnogram.</p>")
            return
        self.agreement = agreement(sets[ref], sets[other])
        taken, apart = agreement_apart(sf, ref, other, sets)
        self.agreement_label.setText(agreement_html(self.agreement, ref, other, taken, apart))
