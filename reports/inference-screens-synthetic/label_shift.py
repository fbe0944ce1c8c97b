"""Per-night stage priors re-estimated by EM (Saerens et al., 2002) before the stage-transition chain: a screen.

Captures, for every cached bench_shift night, the shipped card's calibrated probabilities as they enter the
chain (`transitions.smooth`), then scores the chain's stages with and without the night's re-estimated prior.
Neither variant weighs the chin EMG; the shipped pipeline's own stages (with it) are printed for reference.

    .venv/bin/python reports/inference-screens-synthetic/label_shift.py young CACHE_YOUNG older CACHE_OLDER
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "models")]


def capture(night_set: str, cache: Path) -> list[dict]:
    import torch

    import bench_shift as bs
    import sleepscope.model.transitions as tr
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    model = load_model(default_model_path())[0]
    box, orig = [], tr.smooth

    def spy(probs, transitions, uninformative=None):
        box.append((np.array(probs), np.array(transitions), None if uninformative is None else np.array(uninformative)))
        return orig(probs, transitions, uninformative)

    tr.smooth = spy
    out = []
    try:
        for fam in ("A", "B", "D", "E"):
            for rnd in (False, True):
                for n in bs.NIGHT_SETS[night_set]:
                    rec, y = bs.cached_recording(n, fam, rnd, 0, cache)
                    box.clear()
                    p = predict(rec, model)
                    out.append({"row": f"{fam}{' random' if rnd else ''}", "labels": np.asarray(y), "pre": box[0][0],
                                "chain": box[0][1], "unin": box[0][2], "final": p.stages, "artefact": p.artefact})
    finally:
        tr.smooth = orig
    return out


def stage_shares(names, margin: int = 60) -> np.ndarray:
    from sleepscope.data.synthetic import real_hypnogram
    from sleepscope.io.hypnogram import trim_wake

    c = np.zeros(5)
    for n in names:
        y = real_hypnogram(n)
        y = y[trim_wake(y, margin)]
        c += np.bincount(y[y >= 0], minlength=5)
    return c / c.sum()


def em_prior(p: np.ndarray, pi0: np.ndarray, iters: int = 100) -> np.ndarray:
    pi = pi0.copy()
    for _ in range(iters):
        q = p * (pi / pi0)
        q /= q.sum(1, keepdims=True)
        new = q.mean(0)
        if np.abs(new - pi).max() < 1e-6:
            return new
        pi = new
    return pi


def adapted(d: dict, pi0: np.ndarray, lam: float) -> np.ndarray:
    p, u = d["pre"], d["unin"]
    pi = em_prior(p[~u] if u is not None else p, pi0)
    q = p * (pi / pi0) ** lam
    return q / q.sum(1, keepdims=True)


def accuracy_by_row(caps: list[dict], stages_of) -> dict:
    hit, tot = {}, {}
    for d in caps:
        y = d["labels"]
        ok = (y >= 0) & ~d["artefact"]
        hit[d["row"]] = hit.get(d["row"], 0) + int((stages_of(d)[ok] == y[ok]).sum())
        tot[d["row"]] = tot.get(d["row"], 0) + int(ok.sum())
    return {r: hit[r] / tot[r] for r in hit}


def main(argv: list[str]) -> int:
    from sleepscope.model.transitions import smooth
    from train_robust import TRAIN, calibration_nights

    priors = {"training nights": stage_shares(TRAIN), "calibration nights": stage_shares(calibration_nights())}
    for name, pi in priors.items():
        print(f"prior of the {name}: " + " ".join(f"{s} {v:.3f}" for s, v in zip(("W", "N1", "N2", "N3", "REM"), pi)))
    variants = {"shipped (chin EMG)": lambda d: d["final"], "no chin EMG": lambda d: smooth(d["pre"], d["chain"], d["unin"]).argmax(1)}
    for lam in (0.5, 1.0):
        for name, pi0 in priors.items():
            variants[f"EM, {name.split()[0]}, x{lam}"] = (
                lambda pi0, lam: lambda d: smooth(adapted(d, pi0, lam), d["chain"], d["unin"]).argmax(1))(pi0, lam)
    for night_set, cache in zip(argv[::2], argv[1::2]):
        caps = capture(night_set, Path(cache))
        table = {k: accuracy_by_row(caps, f) for k, f in variants.items()}
        rows = list(table["no chin EMG"])
        print(f"== {night_set} nights: accuracy\n{'':<26}" + "".join(f"{r:>10}" for r in rows))
        for k, res in table.items():
            print(f"{k:<26}" + "".join(f"{res[r]:10.3f}" for r in rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
