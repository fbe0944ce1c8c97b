"""The heart's beats on whole synthetic nights, with the ECG lead they come from in the file: the shipped model's
accuracy as recorded, with the beats and no lead (as before `sleepscope.model.heartbeats`), and with the lead (the
beats subtracted); the control: the night without beats beside another heart's lead, which must read as recorded.

    .venv/bin/python reports/ecg-beats/whole_night_lead.py [--nights 4] [--uv 30,60,100] [--rows "A,A random"]
        [--cache DIR]

The beats are the simulator's own ECG waveform (`sleepscope.data.synth.acquisition._ecg`: QRS and T wave, heart
rate 66 a minute with its variability), drawn at 256 Hz and resampled to 100 Hz as a file's channels are; on the
EOG at -0.6 times the EEG's size (the other side of the reference). The lead: 1 mV beats of the same heart and
15 uV of noise. Synthetic nights that follow REAL Sleep-EDF hypnograms (bench_shift's young test nights).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def with_lead(rec, eeg_uv: float, eog_uv: float, beats_seed: int = 1, lead_seed: int = 1):
    from sleepscope.data.synth.acquisition import _ecg
    from sleepscope.io.recording import resample_to_target

    n = rec.n_samples
    n256 = int(n * 2.56)
    heart = resample_to_target(_ecg(np.random.default_rng(beats_seed), n256, 256, 66.0), 256.0)[:n]
    lead_rng = np.random.default_rng(lead_seed)
    lead = _ecg(lead_rng, n256, 256, 66.0)
    lead = resample_to_target((1000 * lead + lead_rng.normal(0, 15, n256)).astype(np.float32), 256.0)[:n]
    ch = dict(rec.channels)
    ch[rec.eeg_name] = ch[rec.eeg_name] + np.float32(eeg_uv) * heart
    if rec.eog_name:
        ch[rec.eog_name] = ch[rec.eog_name] + np.float32(eog_uv) * heart
    ch["ECG"] = lead.astype(np.float32)
    return replace(rec, channels=ch, channel_choice=replace(rec.channel_choice, ecg="ECG"),
                   source_rates={**rec.source_rates, "ECG": 256.0}, _quality=None)


def main() -> int:
    from bench_shift import TEST_NIGHTS, cached_recording

    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.heartbeats import lead_beats, without_heartbeats
    from sleepscope.model.infer import predict

    ap = argparse.ArgumentParser()
    ap.add_argument("--nights", type=int, default=4)
    ap.add_argument("--uv", default="30,60,100")
    ap.add_argument("--rows", default="A,A random")
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    model = load_model(default_model_path())[0]

    def accuracy(rec, y):
        p = predict(rec, model, device="cpu")
        keep = ~p.artefact
        return float(np.mean(p.stages[keep] == y[keep])), p

    for row in args.rows.split(","):
        family, randomise = row.split()[0], row.endswith("random")
        for uv in (float(u) for u in args.uv.split(",")):
            acc = {k: [] for k in ("as recorded", "other heart's lead", "beats, no lead", "beats and lead")}
            seconds = []
            for name in TEST_NIGHTS[: args.nights]:
                rec, y = cached_recording(name, family, randomise, 0, args.cache)
                beaten = with_lead(rec, uv, -0.6 * uv)
                unread = replace(beaten, channel_choice=replace(beaten.channel_choice, ecg=None))
                other = with_lead(rec, 0.0, 0.0, lead_seed=2)
                for key, r in (("as recorded", rec), ("other heart's lead", other), ("beats, no lead", unread),
                               ("beats and lead", beaten)):
                    a, p = accuracy(r, y)
                    acc[key].append(a)
                    if key == "other heart's lead" and p.heartbeats is not None:
                        print(f"  {name}: another heart's lead subtracted: {p.heartbeats.message()}")
                t = time.perf_counter()
                _, hb = without_heartbeats(beaten, lead_beats(beaten))
                seconds.append(time.perf_counter() - t)
                if hb is None:
                    print(f"  {name}: beats of {uv:g} uV not subtracted")
            print(f"{row:9s} {uv:5.0f} uV: " + "; ".join(f"{k} {np.mean(v):.3f}" for k, v in acc.items())
                  + f"  (subtraction {np.mean(seconds):.2f} s a night)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
