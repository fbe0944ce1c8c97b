"""Markdown tables of the paper's experiment, shaped like its Tables 2 (accuracy) and 3 (macro-F1).

Rows are methods, columns the label budget N; each of our cells is the mean
± sample standard deviation over seeds (in %), with the paper's number in the
column beside it. Cohen's kappa and per-stage F1 have no published numbers
and stand alone.
"""

from __future__ import annotations

import math
from statistics import mean, stdev

from sleepscope.stages import NAMES

METHODS = ("supervised", "simclr", "tstcc", "clip")
METHOD_LABELS = {"supervised": "Supervised", "simclr": "SimCLR", "tstcc": "TS-TCC", "clip": "CLIP"}

#: Table 2 of the paper: accuracy % on the Sleep-EDF-20 test subjects.
PAPER_ACCURACY: dict[str, dict[int, float]] = {
    "supervised": {3: 61.18, 6: 75.36, 9: 78.88, 12: 82.11},
    "simclr": {3: 73.50, 6: 80.76, 9: 81.00, 12: 82.71},
    "tstcc": {3: 73.35, 6: 79.81, 9: 82.93, 12: 83.70},
    "clip": {3: 73.62, 6: 80.82, 9: 83.02, 12: 84.44},
}
#: Table 3 of the paper: macro-F1 %.
PAPER_MACRO_F1: dict[str, dict[int, float]] = {
    "supervised": {3: 56.12, 6: 68.69, 9: 72.38, 12: 75.88},
    "simclr": {3: 68.33, 6: 73.62, 9: 73.70, 12: 76.87},
    "tstcc": {3: 65.80, 6: 71.90, 9: 74.70, 12: 76.85},
    "clip": {3: 68.71, 6: 74.14, 9: 76.62, 12: 78.26},
}
PAPER = {"accuracy": PAPER_ACCURACY, "macro_f1": PAPER_MACRO_F1}


def cell_values(runs: list[dict], metric: str, method: str, n: int) -> list[float]:
    """The metric of every seed's run of (method, N); per-stage F1 as `f1:N2`."""
    out = []
    for r in runs:
        if r["method"] != method or r["n"] != n:
            continue
        v = r["f1"][metric[3:]] if metric.startswith("f1:") else r[metric]
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            out.append(float(v))
    return out


def mean_sd(values: list[float], scale: float = 100.0, digits: int = 1) -> str:
    """"73.6 ± 1.2" (mean ± sample sd × scale); one seed gives the mean alone, none gives "–"."""
    if not values:
        return "–"
    m = mean(values) * scale
    if len(values) == 1:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ± {stdev(values) * scale:.{digits}f}"


def _methods(runs: list[dict]) -> list[str]:
    present = {r["method"] for r in runs}
    return [m for m in METHODS if m in present]


def _ns(runs: list[dict]) -> list[int]:
    return sorted({int(r["n"]) for r in runs})


def paper_table(runs: list[dict], metric: str) -> str:
    """Methods × N, ours (mean ± sd %) with the paper's % beside each."""
    ns = _ns(runs)
    paper = PAPER[metric]
    head = "| method | " + " | ".join(f"N={n} ours | N={n} paper" for n in ns) + " |"
    rule = "|---|" + "---:|---:|" * len(ns)
    rows = [head, rule]
    for m in _methods(runs):
        cells = []
        for n in ns:
            cells.append(mean_sd(cell_values(runs, metric, m, n)))
            p = paper.get(m, {}).get(n)
            cells.append(f"{p:.2f}" if p is not None else "–")
        rows.append(f"| {METHOD_LABELS[m]} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def plain_table(runs: list[dict], metric: str, scale: float = 100.0, digits: int = 1) -> str:
    ns = _ns(runs)
    rows = ["| method | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|" + "---:|" * len(ns)]
    for m in _methods(runs):
        rows.append(f"| {METHOD_LABELS[m]} | "
                    + " | ".join(mean_sd(cell_values(runs, metric, m, n), scale, digits) for n in ns) + " |")
    return "\n".join(rows)


def per_stage_table(runs: list[dict]) -> str:
    rows = ["| method | N | " + " | ".join(NAMES) + " |", "|---|---:|" + "---:|" * len(NAMES)]
    for m in _methods(runs):
        for n in _ns(runs):
            if not cell_values(runs, "accuracy", m, n):
                continue
            rows.append(f"| {METHOD_LABELS[m]} | {n} | "
                        + " | ".join(mean_sd(cell_values(runs, f"f1:{s}", m, n)) for s in NAMES) + " |")
    return "\n".join(rows)


def training_table(runs: list[dict]) -> str:
    """Per (method, N): the step whose weights were kept, the steps run, and fine-tuning minutes (seed means)."""
    ns = _ns(runs)
    rows = ["| method | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|" + "---:|" * len(ns)]
    for m in _methods(runs):
        cells = []
        for n in ns:
            rs = [r for r in runs if r["method"] == m and r["n"] == n]
            if not rs:
                cells.append("–")
                continue
            cells.append(f"{mean(r.get('best_step', 0) for r in rs):.0f} / {mean(r.get('steps', 0) for r in rs):.0f}"
                         f" · {mean(r.get('train_seconds', 0.0) for r in rs) / 60:.1f} min")
        rows.append(f"| {METHOD_LABELS[m]} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def claims(runs: list[dict], metric: str = "macro_f1") -> list[str]:
    """The paper's two claims checked on the seed means, one sentence per N."""
    lines = []
    for n in _ns(runs):
        means = {m: mean(v) for m in _methods(runs) if (v := cell_values(runs, metric, m, n))}
        if "supervised" not in means or len(means) < 2:
            continue
        ssl = {m: v for m, v in means.items() if m != "supervised"}
        beat = [METHOD_LABELS[m] for m, v in ssl.items() if v > means["supervised"]]
        gap = {METHOD_LABELS[m]: (v - means["supervised"]) * 100 for m, v in ssl.items()}
        text = f"N={n}: self-supervised above supervised: {', '.join(beat) if beat else 'none'} of " \
               f"{len(ssl)} (gaps " + ", ".join(f"{k} {g:+.1f}" for k, g in gap.items()) + " points)"
        if "clip" in ssl and len(ssl) > 1:
            others = [v for m, v in ssl.items() if m != "clip"]
            text += "; CLIP " + ("≥" if ssl["clip"] >= max(others) else "<") + " the single-modal methods"
        lines.append(text + ".")
    return lines


def format_report(payload: dict) -> str:
    """The whole tables.md for a results payload (see `paper.run_paper`)."""
    runs = payload["runs"]
    s = payload["settings"]
    b = s["budget"]
    seeds = sorted({r["seed"] for r in runs})
    out = []
    if payload.get("synthetic"):
        out += ["# SYNTHETIC DATA — the paper's experiment on SleepScope's synthetic Sleep-EDF cohort", "",
                "**These numbers come from synthetic signals that follow real Sleep-EDF hypnograms, not from "
                "real recordings; they test the pipeline and are not comparable to the paper's.**", ""]
    else:
        out += ["# The paper's experiment on Sleep-EDF", ""]
    out += [
        "Produced by:", "", "```", payload.get("command") or "(Python API)", "```", "",
        f"Budget `{b['name']}`: configuration `{s['config']}`, {len(seeds)} seed(s) "
        f"({', '.join(map(str, seeds))}), pre-training {b['pretrain_steps']} steps × {b['pretrain_batch']} epochs "
        f"{'per seed' if b['pretrain_per_seed'] else 'once (seed 0), shared by the seeds'}, fine-tuning at most "
        f"{b['finetune_steps']} steps × {b['batch_size']} sequences, validation every {b['val_every']} steps "
        f"(patience {b['patience']}). Split: validation {s['split']['validation']}, test {s['split']['test']}, "
        f"training order {s['split']['train']}.",
        f"Data: {payload['data']['folder']} ({payload['data']['nights']} nights, "
        f"{payload['data']['pretraining']['subjects']} pre-training subjects). Device: {payload.get('device', '?')}.",
        "", "Cells: ours, mean ± sd over seeds, in %; the paper's number beside it.", "",
        "## Accuracy (Table 2)", "", paper_table(runs, "accuracy"), "",
        "## Macro-F1 (Table 3)", "", paper_table(runs, "macro_f1"), "",
        "## Cohen's kappa", "", plain_table(runs, "kappa", scale=1.0, digits=3), "",
        "## Per-stage F1 (%)", "", per_stage_table(runs), "",
    ]
    out += ["## Training (best step / steps run · fine-tuning time, seed means)", "", training_table(runs), ""]
    checked = claims(runs)
    if checked:
        out += ["## The paper's claims on these numbers (macro-F1, seed means)", ""] + [f"- {c}" for c in checked] + [""]
    total_train = sum(r.get("train_seconds", 0.0) for r in runs)
    total_eval = sum(r.get("eval_seconds", 0.0) for r in runs)
    out += [f"{len(runs)} runs; fine-tuning {total_train / 60:.1f} min, testing {total_eval / 60:.1f} min in all.", ""]
    return "\n".join(out)
