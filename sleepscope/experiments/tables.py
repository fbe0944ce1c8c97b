"""Markdown tables of the paper's experiment, shaped like its Tables 2 (accuracy) and 3 (macro-F1).

Rows are methods, columns the label budget N; each of our cells is the mean
± sample standard deviation over seeds (in %), with the paper's number in the
column beside it. Cohen's kappa and per-stage F1 have no published numbers
and stand alone.

A difference between two methods counts as supporting a claim only when it
exceeds the seed spread: the sum of the two cells' seed standard deviations
(so it needs at least two seeds). The report's first lines say what was run,
on what, for how long, and which of the paper's claims the numbers support.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


def cell_values(runs: list[dict], metric: str, method: str, n: int, where: str | None = None) -> list[float]:
    """The metric of every seed's run of (method, N); per-stage F1 as `f1:N2`.

    `where="shift"` reads the figures of the held-out-family test nights instead.
    """
    out = []
    for r in runs:
        if r["method"] != method or r["n"] != n:
            continue
        if where is not None:
            r = r.get(where)
            if not r:
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


def plain_table(runs: list[dict], metric: str, scale: float = 100.0, digits: int = 1, where: str | None = None) -> str:
    ns = _ns(runs)
    rows = ["| method | " + " | ".join(f"N={n}" for n in ns) + " |", "|---|" + "---:|" * len(ns)]
    for m in _methods(runs):
        rows.append(f"| {METHOD_LABELS[m]} | "
                    + " | ".join(mean_sd(cell_values(runs, metric, m, n, where), scale, digits) for n in ns) + " |")
    return "\n".join(rows)


def per_stage_table(runs: list[dict], where: str | None = None) -> str:
    rows = ["| method | N | " + " | ".join(NAMES) + " |", "|---|---:|" + "---:|" * len(NAMES)]
    for m in _methods(runs):
        for n in _ns(runs):
            if not cell_values(runs, "accuracy", m, n, where):
                continue
            rows.append(f"| {METHOD_LABELS[m]} | {n} | "
                        + " | ".join(mean_sd(cell_values(runs, f"f1:{s}", m, n, where)) for s in NAMES) + " |")
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


@dataclass(frozen=True)
class Comparison:
    """One method against another at one N: the gap of the seed means and the seed spread it must exceed."""

    n: int
    method: str
    versus: str
    gap: float  # mean(method) - mean(versus), in points (%)
    spread: float  # sd(method) + sd(versus) over seeds, in points; nan with fewer than 2 seeds
    seeds: int  # fewest seeds of the two cells

    @property
    def supported(self) -> bool:
        """The method is better by more than the seed spread (needs two seeds or more)."""
        return self.seeds >= 2 and not math.isnan(self.spread) and self.gap > self.spread

    def text(self) -> str:
        spread = "no spread (one seed)" if self.seeds < 2 else f"seed spread {self.spread:.1f}"
        verdict = "supported" if self.supported else "not supported"
        return (f"{METHOD_LABELS.get(self.method, self.method)} − {METHOD_LABELS.get(self.versus, self.versus)} "
                f"{self.gap:+.1f} points, {spread}: {verdict}")


def compare(runs: list[dict], metric: str, n: int, method: str, versus: str | list[str],
            where: str | None = None) -> Comparison | None:
    """`method` against `versus` (against the best of a list, by seed mean) at N; None when a cell is empty."""
    a = cell_values(runs, metric, method, n, where)
    if isinstance(versus, list):
        cells = {v: cell_values(runs, metric, v, n, where) for v in versus}
        cells = {v: c for v, c in cells.items() if c}
        if not cells:
            return None
        versus = max(cells, key=lambda v: mean(cells[v]))
    b = cell_values(runs, metric, versus, n, where)
    if not a or not b:
        return None
    seeds = min(len(a), len(b))
    spread = (stdev(a) + stdev(b)) * 100 if seeds >= 2 else float("nan")
    return Comparison(n=n, method=method, versus=versus, gap=(mean(a) - mean(b)) * 100, spread=spread, seeds=seeds)


def claim_checks(runs: list[dict], metric: str = "macro_f1", where: str | None = None) -> list[Comparison]:
    """The paper's two claims at every N: each self-supervised method above supervised; CLIP above the best
    single-modal method."""
    out: list[Comparison] = []
    present = _methods(runs)
    single = [m for m in ("simclr", "tstcc") if m in present]
    for n in _ns(runs):
        for m in present:
            if m != "supervised" and "supervised" in present:
                c = compare(runs, metric, n, m, "supervised", where)
                if c is not None:
                    out.append(c)
        if "clip" in present and single:
            c = compare(runs, metric, n, "clip", single, where)
            if c is not None:
                out.append(c)
    return out


def claims(runs: list[dict], metric: str = "macro_f1", where: str | None = None) -> list[str]:
    """One line per N: every comparison of the paper's claims with its gap, seed spread and verdict."""
    by_n: dict[int, list[Comparison]] = {}
    for c in claim_checks(runs, metric, where):
        by_n.setdefault(c.n, []).append(c)
    return [f"N={n}: " + "; ".join(c.text() for c in cs) + "." for n, cs in sorted(by_n.items())]


def claims_summary(runs: list[dict], metric: str = "macro_f1", where: str | None = None) -> list[str]:
    """Two sentences: where each claim is supported (gap above the seed spread), where not."""
    checks = claim_checks(runs, metric, where)
    ns = _ns(runs)

    def where_supported(cs: list[Comparison]) -> str:
        yes = sorted({c.n for c in cs if c.supported})
        return ", ".join(f"N={n}" for n in yes) if yes else "no N"

    lines = []
    ssl = [m for m in _methods(runs) if m != "supervised"]
    if ssl and "supervised" in _methods(runs):
        parts = [f"{METHOD_LABELS[m]} at {where_supported([c for c in checks if c.method == m and c.versus == 'supervised'])}"
                 for m in ssl]
        lines.append(f"Claim 1, self-supervised pre-training beats supervised training from scratch (of N = "
                     f"{', '.join(map(str, ns))}): supported for " + "; ".join(parts) + ".")
    clip = [c for c in checks if c.method == "clip" and c.versus != "supervised"]
    if clip:
        lines.append("Claim 2, CLIP beats the single-modal methods (SimCLR, TS-TCC): supported at "
                     f"{where_supported(clip)} (of {len(clip)} compared).")
    return lines


def _minutes(seconds: float) -> str:
    seconds = float(seconds)
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{seconds / 60:.1f} min"


def compute_time(payload: dict) -> dict[str, float]:
    """Seconds spent, summed over every invocation that made the results: pre-training, fine-tuning, testing."""
    runs = payload["runs"]
    pre = sum(float(p.get("seconds", 0.0)) for p in payload.get("pretraining", []))
    train = sum(float(r.get("train_seconds", 0.0)) for r in runs)
    test = sum(float(r.get("eval_seconds", 0.0)) + float(r.get("shift_eval_seconds", 0.0)) for r in runs)
    return {"pretraining": pre, "fine-tuning": train, "testing": test, "total": pre + train + test}


def format_report(payload: dict) -> str:
    """The whole tables.md for a results payload (see `paper.run_paper`).

    Its first lines say whether the data are synthetic, what was run, on what,
    for how long, and which of the paper's claims the numbers support.
    """
    runs = payload["runs"]
    s = payload["settings"]
    b = s["budget"]
    seeds = sorted({r["seed"] for r in runs})
    shifted = any(r.get("shift") for r in runs)
    spent = compute_time(payload)
    machine = payload.get("machine") or {}
    on_what = machine.get("description") or f"device {payload.get('device', '?')}"
    out = []
    if payload.get("synthetic"):
        out += ["# SYNTHETIC DATA — the paper's experiment on SleepScope's synthetic Sleep-EDF cohort", "",
                "**These numbers come from synthetic signals that follow real Sleep-EDF hypnograms, not from "
                "real recordings; they test the method and the pipeline and are not comparable to the paper's.**", ""]
    else:
        out += ["# The paper's experiment on Sleep-EDF", ""]
    out += [
        f"- **What was run:** budget `{b['name']}`, network `{s['config']}`, {len(seeds)} seed(s), methods "
        f"{', '.join(METHOD_LABELS[m] for m in _methods(runs))} at N = {', '.join(map(str, _ns(runs)))}, "
        f"{len(runs)} fine-tuning runs" + (", each also tested on a held-out synthetic family" if shifted else "") + ".",
        f"- **On what:** {on_what}.",
        f"- **How long:** {_minutes(spent['total'])} of compute (pre-training {_minutes(spent['pretraining'])}, "
        f"fine-tuning {_minutes(spent['fine-tuning'])}, testing {_minutes(spent['testing'])}), cache not included.",
    ]
    summary = claims_summary(runs)
    out += [f"- **Supported by these numbers** (macro-F1, a gap counts only above the seed spread): "
            + (" ".join(summary) if summary else "nothing to compare (a method is missing).")]
    if shifted:
        out += ["- **Under shift** (test nights of a family held out from pre-training and fine-tuning): "
                + " ".join(claims_summary(runs, where="shift"))]
    out += [""]
    passes = (f"at most {b['finetune_passes']:g} passes over the labelled sequences at each N (cap "
              f"{b['finetune_steps']} steps), validated {b['val_per_pass']} times per pass"
              if b.get("finetune_passes") else
              f"at most {b['finetune_steps']} steps, validated every {b['val_every']} steps")
    out += [
        "Produced by:", "", "```", payload.get("command") or "(Python API)", "```", "",
        f"Budget `{b['name']}`: configuration `{s['config']}`, {len(seeds)} seed(s) "
        f"({', '.join(map(str, seeds))}), pre-training {b['pretrain_steps']} steps × {b['pretrain_batch']} epochs "
        f"{'per seed' if b['pretrain_per_seed'] else 'once (seed 0), shared by the seeds'}, fine-tuning "
        f"{passes} × {b['batch_size']} sequences, early stopping on validation macro-F1 "
        f"(patience {b['patience']} validations). Split: validation {s['split']['validation']}, test "
        f"{s['split']['test']}, training order {s['split']['train']}.",
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
        out += ["## The paper's claims on these numbers (macro-F1; gap of seed means against the seed spread, "
                "the sum of the two cells' sd)", ""] + [f"- {c}" for c in checked] + [""]
    if shifted:
        shift = payload.get("shift", {})
        out += [f"## Beyond the paper: a held-out family ({shift.get('description', 'held-out synthetic family')})", "",
                "The same models, tested on nights of the test subjects generated by a physiology family that "
                "neither pre-training nor fine-tuning saw. Does CLIP's cross-modal pre-training transfer better "
                "under shift than the single-modal methods?", "",
                "### Accuracy (%)", "", plain_table(runs, "accuracy", where="shift"), "",
                "### Macro-F1 (%)", "", plain_table(runs, "macro_f1", where="shift"), "",
                "### Per-stage F1 (%)", "", per_stage_table(runs, where="shift"), ""]
        shift_claims = claims(runs, where="shift")
        if shift_claims:
            out += ["### The claims under shift (macro-F1)", ""] + [f"- {c}" for c in shift_claims] + [""]
    total_train = sum(r.get("train_seconds", 0.0) for r in runs)
    total_eval = sum(r.get("eval_seconds", 0.0) for r in runs)
    out += [f"{len(runs)} runs; fine-tuning {total_train / 60:.1f} min, testing {total_eval / 60:.1f} min in all.", ""]
    return "\n".join(out)
