"""bench_site.py, every fine-tuned child also scored the other way round: without its chain when it kept
one, with its parent's chain (and the parent's chain temperature) when it declined it; both verdicts are in
the results' rows (`chain_verdicts`). Scratch for protocol-chain-check-child.md, second rule."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_site  # noqa: E402

from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402

PARENT = load_model(default_model_path())[1].calibration
orig = bench_site.score


def score(model, test):
    r = orig(model, test)
    cal = model.calibration or {}
    if cal.get("transitions") is not None:
        other = {k: v for k, v in cal.items() if k not in ("transitions", "smoothed_temperature")}
        r["chain"] = "kept"
    elif cal.get("transitions_declined") is not None:
        other = {**cal, "transitions": cal["transitions_declined"], "smoothed_temperature": PARENT["smoothed_temperature"]}
        r["chain"] = "declined"
    else:
        return r
    model.calibration = other
    try:
        r2 = orig(model, test)
    finally:
        model.calibration = cal
    r["other_way"] = {"accuracy": r2["accuracy"], "macro_f1": r2["macro_f1"]}
    print(f"# chain {r['chain']}: {r['accuracy']:.3f}/{r['macro_f1']:.3f}, the other way {r2['accuracy']:.3f}/"
          f"{r2['macro_f1']:.3f}", file=sys.stderr, flush=True)
    return r


bench_site.score = score
raise SystemExit(bench_site.main(sys.argv[1:]))
