"""Figures like the paper's Figures 2 (accuracy) and 3 (macro-F1) against the label budget N.

One line per method: our mean over seeds with the seed spread (± 1 sd) as
error bars and every seed as a faint dot; the paper's values in the same
colour, dashed. Matplotlib's Agg backend: no display needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from statistics import mean, stdev

from sleepscope.experiments.tables import METHOD_LABELS, METHODS, PAPER, cell_values

COLOURS = {"supervised": "#7f7f7f", "simclr": "#1f77b4", "tstcc": "#2ca02c", "clip": "#d62728"}
TITLES = {"accuracy": "Accuracy (%)", "macro_f1": "Macro-F1 (%)"}


def plot_metric(payload: dict, metric: str, path: str | os.PathLike, where: str | None = None) -> Path:
    """Write the PNG for `metric` ("accuracy" or "macro_f1"); returns its path.

    `where="shift"`: the held-out-family test nights (no paper values beside them).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    runs = payload["runs"]
    ns = sorted({int(r["n"]) for r in runs})
    fig = Figure(figsize=(6.4, 4.4), dpi=120)
    ax = fig.add_subplot()
    for i, m in enumerate(METHODS):
        cells = [(n, cell_values(runs, metric, m, n, where)) for n in ns]
        cells = [(n, [v * 100 for v in vs]) for n, vs in cells if vs]
        colour = COLOURS[m]
        if cells:
            # Methods a little apart on x so their error bars do not hide each other.
            dx = (i - 1.5) * 0.08
            xs = [n + dx for n, _ in cells]
            ms = [mean(vs) for _, vs in cells]
            sds = [stdev(vs) if len(vs) > 1 else 0.0 for _, vs in cells]
            ax.errorbar(xs, ms, yerr=sds, color=colour, marker="o", capsize=3, label=f"{METHOD_LABELS[m]} (ours)")
            for x, (_, vs) in zip(xs, cells):
                ax.scatter([x] * len(vs), vs, color=colour, alpha=0.3, s=10, linewidths=0)
        paper = PAPER.get(metric, {}).get(m) if where is None else None
        pn = [n for n in sorted(paper or {}) if n in ns]  # only where our N match the paper's
        if pn:
            ax.plot(pn, [paper[n] for n in pn], color=colour, linestyle="--", marker="x", alpha=0.8,
                    label=f"{METHOD_LABELS[m]} (paper)")
    ax.set_xlabel("labelled training subjects N")
    ax.set_ylabel(TITLES.get(metric, metric))
    ax.set_xticks(ns)
    if ns:
        ax.set_xlim(min(ns) - 1, max(ns) + 1)
    seeds = len({r["seed"] for r in runs})
    title = f"{TITLES.get(metric, metric)} vs N — mean ± sd over {seeds} seed(s)"
    if where == "shift":
        title += ", held-out family"
    if payload.get("synthetic"):
        title = "SYNTHETIC DATA: " + title
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, format="png")
    os.replace(tmp, path)
    return path
