"""What marking every N3 suggestion of an EOG-only night unsure would cost and catch, on bench_shift's EOG-only rows.

    .venv/bin/python reports/eog-only-synthetic/n3_unsure.py [--cache CACHE] [--seeds 0,1] > n3-unsure.log

Per row (young and older night sets, the seeds given): the share of epochs the unsure flag raises and the share of
errors it catches, as the shipped model flags them and with every N3 call added; then the N3 calls' precision
(how many are N3) and the errors among them. SYNTHETIC nights (real hypnograms).
"""
import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cache", type=Path)
    ap.add_argument("--seeds", default="0")
    args = ap.parse_args()
    import torch

    import bench_shift as bs
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(1)
    model, _ = load_model(default_model_path())
    print("SYNTHETIC nights (real hypnograms), EEG removed; the shipped model.")
    print(f"{'row':<30} epochs  flagged/caught now  with N3 unsure  N3 calls: N3 / all  errors among N3 calls")
    for night_set in ("young", "older"):
        for fam, rnd in (("A", False), ("B", False), ("B", True), ("D", False), ("D", True), ("E", False),
                         ("E", True)):
            acc = {"n": 0, "flag": 0, "flag3": 0, "wrong": 0, "caught": 0, "caught3": 0, "n3": 0, "n3ok": 0}
            for seed in [int(s) for s in args.seeds.split(",")]:
                for n in bs.NIGHT_SETS[night_set]:
                    rec, y = bs.cached_recording(n, fam, rnd, seed, args.cache)
                    if not (rec.eeg_name and rec.eog_name):
                        continue  # a randomised lab without one of the two: not in the EOG-only row
                    rec = bs.perturb(rec, y, "EOG only")
                    p = predict(rec, model)
                    scored = (y >= 0) & ~p.artefact
                    wrong = scored & (p.stages != y)
                    three = scored & (p.stages == 3)
                    acc["n"] += int(scored.sum())
                    acc["flag"] += int((p.unsure & scored).sum())
                    acc["flag3"] += int(((p.unsure | three) & scored).sum())
                    acc["wrong"] += int(wrong.sum())
                    acc["caught"] += int((p.unsure & wrong).sum())
                    acc["caught3"] += int(((p.unsure | three) & wrong).sum())
                    acc["n3"] += int(three.sum())
                    acc["n3ok"] += int((three & (y == 3)).sum())
            a = acc
            name = f"{night_set} {fam}{' random' if rnd else ''} EOG only"
            print(f"{name:<30} {a['n']:>6}  {a['flag'] / a['n']:.2f} / {a['caught'] / a['wrong']:.2f}         "
                  f"{a['flag3'] / a['n']:.2f} / {a['caught3'] / a['wrong']:.2f}     "
                  f"{a['n3ok']:>5} / {a['n3']:<5}       {a['n3'] - a['n3ok']} of {a['wrong']} errors", flush=True)


if __name__ == "__main__":
    main()
