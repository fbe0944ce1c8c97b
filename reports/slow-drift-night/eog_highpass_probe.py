"""Would a gentle high-pass of the EOG read the REAL REM EOG clip right under a sweat drift, and leave it right
without one? The clip (tests/data, 28 epochs, EOG only) and its left eye alone, with and without bench_acquisition's
150-uV 0.05-Hz drift, each through first- and second-order Butterworth high-passes (causal, as the EEG's drift
remover, and zero-phase) at 0.1-0.3 Hz; epochs read REM (the expert's stage) and marked unsure.

    .venv/bin/python reports/slow-drift-night/eog_highpass_probe.py MODEL > eog-highpass-probe.log
    .venv/bin/python reports/slow-drift-night/eog_highpass_probe.py --nights CACHE >> eog-highpass-probe.log

With ``--nights``, bench_shift's cached synthetic nights of SC4001E0 and SC4091E0 (a ``--cache`` folder): the share of
epochs per stage whose EOG holds more RMS under 0.3 Hz than in 0.5-30 Hz (the EEG's drift rule, ``drift.slow_ratio``
over ``SLOW_DRIFT_LIMIT``), as recorded: what that rule would high-pass on the EOG of nights without a drift.

The probe behind the rule that now reads a drifting EOG read alone through the drift high-pass
(`sleepscope.model.drift`), on the only real REM EOG on the machine. Its model rows in the log ran at 9f11812,
before that rule: at later code `predict` high-passes the swayed clip itself, so "as recorded" reads REM there.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def main(model_path: str) -> None:
    from bench_shift import real_rows
    from scipy.signal import butter

    from sleepscope.model.checkpoint import load_model

    model, card = load_model(Path(model_path))
    print(f"# {card.version}; REAL REM EOG clip, EOG only: epochs read REM / unsure, of 28")
    for clip, rec, expected in real_rows():
        if "REM EOG" not in clip:
            continue
        for drift in (0.0, 150.0):
            line = [f"{clip[:40]:40s} drift {drift:3.0f} uV: as recorded {_score(rec, expected, model, drift, None)}"]
            for kind, order, hz in ((k, o, h) for k in ("causal", "zero-phase") for o in (1, 2)
                                    for h in (0.1, 0.15, 0.2, 0.3)):
                sos = butter(order, hz, "high", fs=rec.fs, output="sos")
                line.append(f"{kind} {order} {hz:g} Hz {_score(rec, expected, model, drift, (sos, kind))}")
            print(";  ".join(line))


def _score(rec, expected, model, drift, highpass) -> str:
    import numpy as np
    from scipy.signal import sosfilt, sosfiltfilt

    from sleepscope.model.infer import predict

    channels = {}
    for name, x in rec.channels.items():
        x = np.asarray(x, np.float64) + drift * np.sin(2 * np.pi * 0.05 * np.arange(len(x)) / rec.fs)
        if highpass is not None:
            sos, kind = highpass
            x = sosfilt(sos, x) if kind == "causal" else sosfiltfilt(sos, x)
        channels[name] = x.astype(np.float32)
    p = predict(replace(rec, channels=channels), model, device="cpu", threads=1)
    return f"{int(np.sum(p.stages == expected))}/{int(np.sum(p.unsure))}"


def nights(cache: Path) -> None:
    import pickle

    import numpy as np

    from sleepscope.model.drift import SLOW_DRIFT_LIMIT, slow_ratio

    print(f"# SYNTHETIC nights as recorded: share of epochs whose EOG slow ratio is over {SLOW_DRIFT_LIMIT:g}")
    for path in sorted(cache.glob("SC4001E0-*-0-*.pickle")) + sorted(cache.glob("SC4091E0-*-0-*.pickle")):
        with open(path, "rb") as f:
            rec, y = pickle.load(f)[:2]
        over = slow_ratio(rec, "eog")[: len(y)] > SLOW_DRIFT_LIMIT
        stages = ("W", "N1", "N2", "N3", "REM")
        by_stage = " ".join(f"{name} {np.mean(over[y == i]):.2f}" for i, name in enumerate(stages))
        print(f"{path.stem:34s} all {np.mean(over[y >= 0]):.2f}; {by_stage}")
    limits = (1.0, 2.0, 3.0, 5.0, 10.0)
    print(f"# SYNTHETIC nights (same 16), the EOG's slow ratio per epoch over {', '.join(f'{x:g}' for x in limits)}: "
          "as recorded, then with a 0.05-Hz sway of 30 and 150 uV added to the EOG; REAL REM EOG clip likewise")
    clean, swayed = {x: [] for x in limits}, {(uv, x): [] for uv in (30.0, 150.0) for x in limits}
    for path in sorted(cache.glob("SC4001E0-*-0-*.pickle")) + sorted(cache.glob("SC4091E0-*-0-*.pickle")):
        with open(path, "rb") as f:
            rec, y = pickle.load(f)[:2]
        for uv in (0.0, 30.0, 150.0):
            r = slow_ratio(_swayed(rec, uv), "eog")[: len(y)][y >= 0]
            for x in limits:
                (clean[x] if uv == 0 else swayed[(uv, x)]).append(float(np.mean(r > x)))
    print("as recorded       " + "  ".join(f">{x:g}: {np.mean(clean[x]):.3f} (max {np.max(clean[x]):.3f})"
                                          for x in limits))
    for uv in (30.0, 150.0):
        print(f"sway {uv:3.0f} uV       " + "  ".join(f">{x:g}: {np.mean(swayed[(uv, x)]):.3f} "
                                                     f"(min {np.min(swayed[(uv, x)]):.3f})" for x in limits))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_shift import real_rows

    for clip, rec, expected in real_rows():
        if "REM EOG" in clip:
            for uv in (0.0, 150.0):
                r = slow_ratio(_swayed(rec, uv), "eog")
                shares = "  ".join(f">{x:g}: {np.mean(r > x):.2f}" for x in limits)
                print(f"REAL {clip[:38]:38s} {uv:3.0f} uV {shares}")


def _swayed(rec, uv: float):
    """`rec` with a 0.05-Hz sway of `uv` added to its EOG (bench_acquisition's sweat)."""
    import numpy as np

    if not uv:
        return rec
    x = np.asarray(rec.channels[rec.eog_name], np.float64)
    sway = uv * np.sin(2 * np.pi * 0.05 * np.arange(len(x)) / rec.fs)
    return replace(rec, channels={**rec.channels, rec.eog_name: (x + sway).astype(np.float32)})


if __name__ == "__main__":
    if sys.argv[1] == "--nights":
        nights(Path(sys.argv[2]))
    else:
        main(sys.argv[1])
