"""Which channel's sign makes the real wake minutes read REM? The real 5-minute Sleep-EDF wake recording scored
as stored, with its EEG reversed, its EOG reversed, and both, optionally low-passed first (Hz; "none" for not).

    python reports/waking-theta-synthetic/flip.py 30 MODEL...
    python reports/third-training-family-synthetic/probes/band35.py reports/waking-theta-synthetic/flip.py none MODEL...
"""
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_acquisition import changed_file  # noqa: E402
from bench_shift import real_rows  # noqa: E402

from sleepscope.io import open_recording  # noqa: E402
from sleepscope.model.checkpoint import load_model  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402
from sleepscope.stages import Stage  # noqa: E402


def main() -> None:
    clip, rec, _ = next(r for r in real_rows() if r[0].startswith("real Sleep-EDF"))
    change = {} if sys.argv[1] == "none" else {"lowpass": float(sys.argv[1])}
    ways = (("as stored", ()), ("EEG reversed", (rec.eeg_name,)), ("EOG reversed", (rec.eog_name,)),
            ("both reversed", (rec.eeg_name, rec.eog_name)))
    with tempfile.TemporaryDirectory() as tmp:
        for path in sys.argv[2:]:
            model, _ = load_model(Path(path))
            for name, reversed_ in ways:
                sub = type("Clip", (), {})()
                sub.channels = {k: (-np.asarray(v) if k in reversed_ else v) for k, v in rec.channels.items()
                                if k in (rec.eeg_name, rec.eog_name)}
                sub.start_time = rec.start_time
                pred = predict(open_recording(changed_file(sub, change, Path(tmp) / "clip.edf")), model)
                print(f"{Path(path).stem:22s} low-pass {sys.argv[1]:>4s}  {name:13s}  W {(pred.stages == Stage.W).sum()}"
                      f"/{len(pred.stages)}  p(W) {pred.probs[:, Stage.W].mean():.2f}  "
                      f"p(REM) {pred.probs[:, Stage.REM].mean():.2f}", flush=True)


if __name__ == "__main__":
    main()
