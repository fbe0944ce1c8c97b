"""A night's scoring report: identity, scorer and sign-off, hypnogram, statistics, agreement, notes.

`build_report(scoring_file)` gathers what the report says (no drawing);
`write_report(report, out)` renders it as PDF (matplotlib, A4 pages) or as a
self-contained HTML page (the figure embedded as PNG), chosen by the suffix.
Matplotlib's Agg backend: no display needed, no Qt.
"""

from __future__ import annotations

import base64
import html
import io
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from sleepscope import __version__
from sleepscope.atomic import replacing
from sleepscope.errors import SleepScopeError
from sleepscope.scoring.agreement import Agreement, agreement, kappa_text
from sleepscope.scoring.events import KIND_LABEL, ScoringEvent, clock_seconds, clock_time
from sleepscope.scoring.export import resolve_no_signal, scoring_statistics, statistics_summary
from sleepscope.scoring.label_sets import TECHNICIAN, agreement_apart, label_sets
from sleepscope.scoring.scoring_file import IMPORT_PREFIX, SOURCE_MODEL, SOURCE_TECHNICIAN, ScoringFile
from sleepscope.scoring.stats import SleepStats, arousals_text, partial_scoring_warning
from sleepscope.stages import COLORS, HYPNOGRAM_LEVEL, NAMES, SCORED, Stage

FORMATS = (".pdf", ".html", ".htm")
EVENT_HEADER = ("Start", "Duration", "Kind", "Text", "Marked by")


@dataclass
class LabelSetAgreement:
    """The technician's labels against another label set (the model, an imported scorer)."""

    name: str
    agreement: Agreement
    #: of the epochs compared, those whose technician's label was taken from this set unchanged (accepted model
    #: suggestions, imported labels): they agree by construction
    taken: int = 0
    #: the agreement on the other epochs, which the technician scored apart from it (None: none such)
    apart: Agreement | None = None


@dataclass
class Report:
    recording: str
    fingerprint: str
    start_time: datetime | None
    n_epochs: int
    epoch_s: float
    scoring_path: str
    labels: np.ndarray
    scored_epochs: int
    reviewed_epochs: int
    #: scorer name -> number of the technician's labels they set
    scorers: dict[str, int]
    #: provenance of the labels: 'technician', 'model (accepted)', 'import: <file>' -> epochs
    sources: dict[str, int]
    stats: SleepStats
    model_version: str | None = None
    model_probs: np.ndarray | None = None
    comparisons: list[LabelSetAgreement] = field(default_factory=list)
    #: (who, when, label changes made after it) of the night's latest sign-off
    sign_off: tuple[str, datetime, int] | None = None
    notes: str = ""
    generated: datetime = field(default_factory=datetime.now)
    #: lights off and on, seconds from the start (None: not marked)
    lights: tuple[float | None, float | None] = (None, None)
    events: list[ScoringEvent] = field(default_factory=list)
    #: per epoch, True without signal (gaps of an EDF+D recording); None: the recording was not available
    no_signal: np.ndarray | None = None
    #: why the gaps are not known (None when they are)
    no_signal_note: str | None = None

    @property
    def n_no_signal(self) -> int:
        return 0 if self.no_signal is None else int(np.count_nonzero(self.no_signal))

    @property
    def partial(self) -> bool:
        return self.scored_epochs < self.n_epochs - self.n_no_signal

    def warnings(self) -> list[str]:
        out = []
        partial = partial_scoring_warning(self.labels, self.stats.lights_off_epoch, self.stats.lights_on_epoch,
                                          no_signal=self.no_signal)
        if partial:
            out.append(partial)
        if self.no_signal_note:
            out.append(self.no_signal_note)
        if self.sign_off is None:
            out.append("This night has not been signed off.")
        elif self.sign_off[2]:
            out.append(f"{self.sign_off[2]} label change(s) were made after the sign-off of "
                       f"{self.sign_off[1]:%Y-%m-%d %H:%M}: sign off again once they are checked.")
        return out

    def identity_rows(self) -> list[tuple[str, str]]:
        dur = timedelta(seconds=round(self.n_epochs * self.epoch_s))
        rows = [
            ("Recording", self.recording or "(unnamed)"),
            ("Start", self.start_time.strftime("%Y-%m-%d %H:%M:%S") if self.start_time else "unknown"),
            ("Length", f"{dur} ({self.n_epochs} epochs of {self.epoch_s:g} s)"),
            ("Fingerprint", self.fingerprint),
            ("Scoring file", self.scoring_path),
            ("Scored", f"{self.scored_epochs} of {self.n_epochs - self.n_no_signal} epochs "
                       f"({100.0 * self.scored_epochs / max(1, self.n_epochs - self.n_no_signal):.1f} %), "
                       f"{self.reviewed_epochs} reviewed"
                       + (f"; {self.n_no_signal} epochs without signal" if self.n_no_signal else "")),
            ("Scorers", ", ".join(f"{k} ({v} epochs)" for k, v in self.scorers.items()) or "none"),
            ("Label sources", ", ".join(f"{k}: {v}" for k, v in self.sources.items()) or "none"),
            ("Model", self.model_version or "no prediction"),
            ("Sign-off", f"{self.sign_off[0]}, {self.sign_off[1]:%Y-%m-%d %H:%M}" if self.sign_off else "not signed off"),
        ]
        return rows

    def stats_rows(self) -> list[tuple[str, str]]:
        s = self.stats

        def minutes(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.1f} min"

        rows = [
            ("Lights off", self._marker(self.lights[0], "start of recording")),
            ("Lights on", self._marker(self.lights[1], "end of recording")),
            ("Time in bed (TIB)", minutes(s.tib_min)),
            ("Total sleep time (TST)", minutes(s.tst_min)),
            ("Sleep efficiency (SE)", f"{s.se_pct:.1f} %"),
            ("Sleep onset latency (SOL)", minutes(s.sol_min)),
            ("Wake after sleep onset (WASO)", minutes(s.waso_min)),
            ("REM latency (from sleep onset)", minutes(s.rem_latency_min)),
            ("Awakenings", str(s.n_awakenings)),
            ("Stage shifts", str(s.n_stage_shifts)),
            *([("Arousals", arousals_text(s))] if s.n_arousals is not None else []),
            ("Unscored", minutes(s.unscored_min)),
        ]
        if self.no_signal is None:
            rows.append(("No signal (recording gaps)", "unknown: recording not available"))
        elif self.n_no_signal:
            rows.append(("No signal (recording gaps)", minutes(s.no_signal_min)))
        return rows

    def no_comparison(self) -> str:
        """Why the agreement section is empty."""
        if self.scored_epochs == 0:
            return "Nothing to compare yet: the technician has scored no epoch."
        return "No other label set to compare with: no model prediction and no imported scorer."

    def _marker(self, seconds: float | None, default: str) -> str:
        if seconds is None:
            return f"not marked ({default})"
        if self.start_time is None:
            return clock_seconds(seconds) + " from the start"
        return f"{self.start_time + timedelta(seconds=seconds):%H:%M:%S}"

    def event_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(start, duration, kind, text, marked by) per event, in time order."""
        return [(clock_time(e.start, self.start_time), f"{e.duration:.1f} s", KIND_LABEL[e.kind], e.text, e.scorer or "—")
                for e in self.events]

    def stage_rows(self) -> list[tuple[str, str, str]]:
        s = self.stats
        return [(name, f"{s.stage_min[name]:.1f}", f"{s.stage_pct[name]:.1f}") for name in s.stage_min]


def _sign_off(sf: ScoringFile) -> tuple[str, datetime, int] | None:
    rec = sf.signed_off
    return None if rec is None else (rec.scorer, datetime.fromtimestamp(rec.time), rec.changes_since)


def _source_name(src: str) -> str:
    if src == SOURCE_TECHNICIAN:
        return "technician"
    if src == SOURCE_MODEL:
        return "model (accepted)"
    if src.startswith(IMPORT_PREFIX):
        return "import: " + src[len(IMPORT_PREFIX):]
    return src or "unknown"


def build_report(sf: ScoringFile, no_signal: np.ndarray | None = None) -> Report:
    """Everything the report says about `sf` (the technician's labels as they are now); `no_signal`: the
    open recording's gap mask (`Recording.gap`), else read from the recording beside the scoring file."""
    no_signal, no_signal_note = resolve_no_signal(sf, no_signal)
    summary = statistics_summary(sf, no_signal=no_signal)
    ident = sf.identity
    labels = np.asarray(sf.labels).astype(np.int64)
    scored = labels >= 0
    scorers: dict[str, int] = {}
    for name in sf.label_scorers[scored]:
        key = str(name) or "(no name)"
        scorers[key] = scorers.get(key, 0) + 1
    sources: dict[str, int] = {}
    for src in sf.sources[scored]:
        key = _source_name(str(src))
        sources[key] = sources.get(key, 0) + 1
    pred = sf.latest_prediction()
    comparisons = []
    if scored.any():
        sets = label_sets(sf)
        for name, other in sets.items():
            if name != TECHNICIAN and ((other >= 0) & scored).any():
                taken, apart = agreement_apart(sf, TECHNICIAN, name, sets)
                comparisons.append(LabelSetAgreement(name, agreement(labels, other), taken, apart))
    return Report(
        recording=ident.file_name,
        fingerprint=ident.fingerprint,
        start_time=ident.start_time,
        n_epochs=ident.n_epochs,
        epoch_s=ident.epoch_seconds,
        scoring_path=str(Path(sf.path).resolve()),
        labels=labels,
        scored_epochs=int(summary["scored_epochs"]),
        reviewed_epochs=int(summary["reviewed_epochs"]),
        scorers=scorers,
        sources=sources,
        stats=scoring_statistics(sf, no_signal=no_signal),
        model_version=None if pred is None else pred.model_version,
        model_probs=None if pred is None else np.asarray(pred.probs, dtype=np.float32),
        comparisons=comparisons,
        sign_off=_sign_off(sf),
        notes=sf.notes,
        lights=(sf.lights.off, sf.lights.on),
        events=list(sf.events),
        no_signal=no_signal,
        no_signal_note=no_signal_note,
    )


# ---------------------------------------------------------------------------
# The figure

def _step_xy(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step outline of a hypnogram in epochs; unscored epochs break the line."""
    level = np.array([HYPNOGRAM_LEVEL[Stage(int(c))] for c in range(-1, 5)])
    y = level[np.asarray(labels, dtype=np.int64) + 1]
    x = np.repeat(np.arange(len(y) + 1), 2)[1:-1]
    return x, np.repeat(y, 2)


def draw_hypnogram(fig: Any, rect: tuple[float, float, float, float], report: Report) -> None:
    """The hypnogram (technician) and, with a prediction, the model's hypnodensity above it."""
    x0, y0, w, h = rect
    n = report.n_epochs
    hours = np.arange(n + 1) * report.epoch_s / 3600.0
    has_model = report.model_probs is not None
    hyp_h = h * (0.62 if has_model else 1.0)
    ax = fig.add_axes((x0, y0, w, hyp_h))
    x, y = _step_xy(report.labels)
    ax.plot(hours[x], y, color="#59616b", lw=0.7)
    for st in SCORED:
        sel = report.labels == int(st)
        if sel.any():
            idx = np.flatnonzero(sel)
            ax.hlines(np.full(idx.size, HYPNOGRAM_LEVEL[st]), hours[idx], hours[idx + 1],
                      colors=COLORS[st], lw=4)
    ax.set_yticks([HYPNOGRAM_LEVEL[s] for s in SCORED], [s.name for s in SCORED], fontsize=8)
    ax.set_ylim(-0.6, 4.6)
    ax.set_xlim(0, hours[-1])
    ax.set_xlabel("hours from the recording start"
                  + (f" ({report.start_time:%H:%M})" if report.start_time else ""), fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(axis="y", alpha=0.2)
    ax.set_title("Hypnogram (technician)", fontsize=9, loc="left")
    if report.n_no_signal:  # gaps of the recording: no signal, never scored
        edges = np.diff(np.concatenate(([0], report.no_signal.astype(np.int8), [0])))
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            ax.axvspan(hours[a], hours[b], color="#b0b4ba", alpha=0.5, lw=0)
            ax.text((hours[a] + hours[b]) / 2, 2.0, "no signal", fontsize=7, color="#59616b", ha="center",
                    rotation=90 if b - a < n / 20 else 0)
    # The analysis period: outside lights off..on is shaded, as the statistics leave it out.
    for at, side in ((report.lights[0], "off"), (report.lights[1], "on")):
        if at is not None:
            x = at / 3600.0
            ax.axvline(x, color="#59616b", lw=1, ls="--")
            ax.axvspan(0 if side == "off" else x, x if side == "off" else hours[-1], color="#9e9e9e", alpha=0.15, lw=0)
            ax.text(x, 4.45, f" lights {side}", fontsize=7, color="#59616b", va="top",
                    ha="left" if side == "off" else "right")
    if has_model:
        top = fig.add_axes((x0, y0 + hyp_h + h * 0.12, w, h * 0.2), sharex=ax)
        order = (Stage.N3, Stage.N2, Stage.N1, Stage.REM, Stage.W)
        probs = report.model_probs
        top.stackplot(hours[:-1] + report.epoch_s / 7200.0, *[probs[:, int(s)] for s in order],
                      colors=[COLORS[s] for s in order], labels=[s.name for s in order], step="mid", lw=0)
        top.set_ylim(0, 1)
        top.set_yticks([0, 1])
        top.tick_params(labelsize=7, labelbottom=False)
        top.set_title(f"Model {report.model_version}: stage probabilities", fontsize=9, loc="left")
        top.legend(loc="upper left", bbox_to_anchor=(1.0, 1.05), fontsize=7, frameon=False)


# ---------------------------------------------------------------------------
# PDF

_A4 = (8.27, 11.69)


def _table(ax: Any, rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None,
           widths: list[float] | None = None, font: float = 8.0) -> None:
    """A table drawn in `ax`, each cell's text wrapped to its column (matplotlib lets it run over the next
    column: "not marked (start of recording)" over the stage table beside it) and its row made as tall."""
    ax.axis("off")
    n_cols = len(rows[0]) if rows else len(header or ())
    widths = widths or [1.0 / max(1, n_cols)] * n_cols
    chars = [_column_chars(ax.get_position().width * ax.figure.get_figwidth(), w, font) for w in widths]
    cells = [[_wrap(str(c), n) for c, n in zip(r, chars)] for r in rows]
    t = ax.table(cellText=cells, colLabels=list(header) if header else None,
                 loc="upper left", cellLoc="left", colLoc="left", colWidths=widths, edges="horizontal")
    t.auto_set_font_size(False)
    t.set_fontsize(font)
    t.scale(1.0, 1.25)
    first = 1 if header else 0
    for (r, _), cell in t.get_celld().items():
        if r >= first:
            lines = max(c.count("\n") + 1 for c in cells[r - first])
            cell.set_height(cell.get_height() * lines)


_EVENT_WIDTHS = [0.12, 0.12, 0.12, 0.46, 0.18]


def _event_page_rows(report: Report, lines: int = 45) -> list[tuple[str, ...]]:
    """The events one PDF page holds: as many as `lines` lines of the table take, notes wrapped to their column."""
    chars = _column_chars(0.86 * _A4[0], _EVENT_WIDTHS[3])
    rows, used = [], 0
    for row in report.event_rows():
        used += _wrap(row[3], chars).count("\n") + 1
        if used > lines:
            break
        rows.append(row)
    return rows


def _column_chars(axes_inches: float, share: float, font: float = 8.0) -> int:
    """Characters that fit a table column `share` of an axes `axes_inches` wide: a character of DejaVu Sans is
    about 0.55 em wide on average, and cells keep a little padding."""
    return max(4, int(share * axes_inches * 72 / (0.58 * font)) - 1)


def _agreement_rows(agr: Agreement) -> list[tuple[str, ...]]:
    return [(name, f"{agr.precision[name]:.2f}", f"{agr.recall[name]:.2f}",
             "—" if agr.support[name] == 0 and agr.confusion[:, i].sum() == 0 else f"{agr.f1[name]:.2f}",
             str(agr.support[name])) for i, name in enumerate(NAMES)]


def _summary_line(c: LabelSetAgreement) -> str:
    a = c.agreement
    line = (f"Technician vs {c.name}: {a.n_epochs} epochs, accuracy {a.accuracy:.3f}, "
            f"Cohen's kappa {kappa_text(a.kappa)}, macro F1 {a.macro_f1:.3f}")
    if c.taken:
        line += (f". {c.taken} of the technician's labels were taken from it unchanged (accepted or imported) and "
                 "agree by construction; ")
        a = c.apart
        line += (f"on the other {a.n_epochs} epochs: accuracy {a.accuracy:.3f}, Cohen's kappa {kappa_text(a.kappa)}"
                 if a is not None else "no epoch was scored apart from it")
    return line


def _write_pdf(report: Report, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    with PdfPages(out, metadata={"Title": f"Sleep scoring report: {report.recording}",
                                 "Creator": f"SleepScope {__version__}"}) as pdf:
        fig = Figure(figsize=_A4)
        fig.text(0.07, 0.955, "Sleep scoring report", fontsize=16, weight="bold")
        fig.text(0.07, 0.935, f"SleepScope {__version__} · generated {report.generated:%Y-%m-%d %H:%M}",
                 fontsize=8, color="#555555")
        y = 0.915
        for w in report.warnings():
            text = _wrap("⚠ " + w, 115)
            fig.text(0.07, y, text, fontsize=8, color="#b03a2e", va="top")
            y -= 0.014 * (text.count("\n") + 1) + 0.004
        y -= 0.006
        _table(fig.add_axes((0.07, y - 0.2, 0.86, 0.19)), report.identity_rows(), widths=[0.22, 0.78])
        draw_hypnogram(fig, (0.1, 0.45, 0.72, y - 0.235 - 0.45), report)
        fig.text(0.07, 0.385, "Sleep statistics (AASM)", fontsize=10, weight="bold")
        _table(fig.add_axes((0.07, 0.07, 0.53, 0.3)), report.stats_rows(), widths=[0.55, 0.45])
        _table(fig.add_axes((0.64, 0.07, 0.29, 0.3)), report.stage_rows(), ("Stage", "min", "%"),
               widths=[0.34, 0.33, 0.33])
        fig.text(0.64, 0.2, "% of TST for sleep stages, % of TIB for W", fontsize=7, color="#555555")
        pdf.savefig(fig)

        fig = Figure(figsize=_A4)
        fig.text(0.07, 0.955, "Agreement", fontsize=14, weight="bold")
        y = 0.93
        if not report.comparisons:
            fig.text(0.07, y, report.no_comparison(), fontsize=9)
            y -= 0.04
        for c in report.comparisons[:3]:
            text = _wrap(_summary_line(c), 115)
            fig.text(0.07, y + 0.008, text, fontsize=8, va="top")
            y -= 0.013 * text.count("\n")
            _table(fig.add_axes((0.07, y - 0.19, 0.45, 0.17)), _agreement_rows(c.agreement),
                   ("Stage", "precision", "recall", "F1", "support"))
            ax = fig.add_axes((0.62, y - 0.2, 0.22, 0.17))
            _confusion_axes(ax, c)
            y -= 0.25
        fig.text(0.07, y, "Notes", fontsize=12, weight="bold")
        notes = report.notes.strip() or "No notes."
        fig.text(0.07, y - 0.02, _wrap(notes, 100), fontsize=8, va="top")
        pdf.savefig(fig)
        if report.events:
            fig = Figure(figsize=_A4)
            fig.text(0.07, 0.955, f"Events and notes ({len(report.events)})", fontsize=14, weight="bold")
            rows = _event_page_rows(report)
            _table(fig.add_axes((0.07, 0.93 - 0.019 * (len(rows) + 1), 0.86, 0.019 * (len(rows) + 1))), rows,
                   EVENT_HEADER, widths=_EVENT_WIDTHS)
            if len(report.events) > len(rows):
                fig.text(0.07, 0.03, f"… and {len(report.events) - len(rows)} more (see the HTML report or "
                                     "`sleepscope export --format events`).", fontsize=8)
            pdf.savefig(fig)


def _confusion_axes(ax: Any, c: LabelSetAgreement) -> None:
    cm = c.agreement.confusion
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(NAMES)), NAMES, fontsize=7)
    ax.set_yticks(range(len(NAMES)), NAMES, fontsize=7)
    ax.set_ylabel("technician", fontsize=7)
    ax.set_xlabel(c.name, fontsize=7)
    hi = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=6,
                    color="white" if hi and cm[i, j] > hi / 2 else "black")


def _wrap(text: str, width: int) -> str:
    import textwrap

    lines = []
    for para in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(para, width) or [""])
    return "\n".join(lines[:60])


# ---------------------------------------------------------------------------
# HTML

def _figure_png(report: Report) -> bytes:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6 if report.model_probs is not None else 2.4), dpi=110)
    draw_hypnogram(fig, (0.07, 0.16, 0.8, 0.74), report)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _html_table(rows: list[tuple[str, ...]], header: tuple[str, ...] | None = None) -> str:
    e = html.escape
    head = "" if header is None else "<tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _confusion_html(c: LabelSetAgreement) -> str:
    cm = c.agreement.confusion
    rows = [(name, *[str(v) for v in cm[i]]) for i, name in enumerate(NAMES)]
    return _html_table(rows, (f"technician \\ {c.name}", *NAMES))


def _render_html(report: Report) -> str:
    e = html.escape
    png = base64.b64encode(_figure_png(report)).decode("ascii")
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>Sleep scoring report: {e(report.recording)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:0.5em 0}td,th{padding:2px 10px;border-bottom:1px solid #ddd;"
        "text-align:left}.warn{color:#b03a2e}.small{color:#666;font-size:85%}</style></head><body>",
        "<h1>Sleep scoring report</h1>",
        f"<p class='small'>SleepScope {e(__version__)} · generated {report.generated:%Y-%m-%d %H:%M}</p>",
    ]
    parts += [f"<p class='warn'>⚠ {e(w)}</p>" for w in report.warnings()]
    parts += ["<h2>Recording and scoring</h2>", _html_table(report.identity_rows()),
              "<h2>Hypnogram</h2>", f"<img alt='hypnogram' src='data:image/png;base64,{png}' style='width:100%'>",
              "<h2>Sleep statistics (AASM)</h2>", _html_table(report.stats_rows()),
              _html_table(report.stage_rows(), ("Stage", "minutes", "%")),
              "<p class='small'>% of TST for sleep stages, % of TIB for W.</p>", "<h2>Agreement</h2>"]
    if not report.comparisons:
        parts.append(f"<p>{html.escape(report.no_comparison())}</p>")
    for c in report.comparisons:
        parts += [f"<h3>{e(c.name)}</h3>", f"<p>{e(_summary_line(c))}</p>",
                  _html_table(_agreement_rows(c.agreement), ("Stage", "precision", "recall", "F1", "support")),
                  _confusion_html(c)]
    parts += ["<h2>Events and notes</h2>",
              _html_table(report.event_rows(), EVENT_HEADER) if report.events else "<p>No events marked.</p>"]
    parts += ["<h2>Notes</h2>", f"<pre>{e(report.notes.strip() or 'No notes.')}</pre>", "</body></html>"]
    return "\n".join(parts)


# ---------------------------------------------------------------------------

def write_report(report: Report, out: str | os.PathLike) -> Path:
    """Write `report` as PDF or HTML (by the suffix of `out`); all or nothing."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise SleepScopeError(f"{out.name}: a report is written as .pdf or .html; choose one of these suffixes.")
    if not out.parent.is_dir():
        raise SleepScopeError(f"{out.parent} is not a folder: create it or choose another place for the report.")
    try:
        with replacing(out) as tmp:
            if suffix == ".pdf":
                _write_pdf(report, tmp)
            else:
                tmp.write_text(_render_html(report), encoding="utf-8")
    except OSError as exc:
        raise SleepScopeError(f"Could not write {out}: {exc.strerror or exc}. Choose another folder.") from exc
    return out
