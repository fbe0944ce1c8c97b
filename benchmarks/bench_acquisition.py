"""Real recordings as other labs would have recorded them: does the pre-scoring keep the expert's stage?

    .venv/bin/python benchmarks/bench_acquisition.py [--model PATH] [--no-yasa] [--json OUT] [--against MODEL]

The only real EEG and EOG at hand are short (``tests/data``): the first 5
minutes of Sleep-EDF SC4001E0 (all wake, Fpz-Cz and horizontal EOG at 100 Hz),
YASA's 859 s of real REM EOG (LOC-ROC, EOG only) and YASA's 30 s of real N3
EEG (one epoch, EEG only). Each is changed the way another lab's amplifier,
filters, units or mains would change it, written to an EDF file (with the
prefiltering field such a lab writes) and read back through the product's
own reader, then pre-scored. Filters are causal, as an amplifier's are.

Per clip and change: the share of epochs given the expert's stage, the mean
confidence of the suggestions, the share marked unsure (the review queue),
**silent errors** (epochs given another stage and not marked unsure: what a
technician is not told about), and whether the note on a narrow EEG band
(``sleepscope.model.eeg_band``) was shown; YASA's share
beside, on the wake recording (the only clip it can stage), and the silent
errors left when YASA is installed: the workstation's review queue then also
holds the epochs where the two opinions disagree. The changes are
not training data of any model here, but they are few, short and from two
subjects: a failure is evidence, a pass is not a guarantee.

``--against MODEL`` scores the clips with MODEL too (the shipped model, for a
candidate that would replace it) and ends with the gate a replacement must
pass: on no clip and change more silent errors than MODEL's, and over all of
them no fewer epochs given the expert's stage. The exit status is 1 when the
candidate fails it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: (name, change): gain, rate (Hz), high-pass / low-pass (Hz, with the header saying so unless "silent"; 4th order at
#: 100 Hz, or (Hz, order) at the stored rate),
#: DC offset, a slow drift and ECG spikes (Hz, µV), mains (Hz, µV), unit.
CHANGES: tuple[tuple[str, dict], ...] = (
    ("as recorded", {}),
    ("gain x0.3", {"gain": 0.3}),
    ("gain x3", {"gain": 3.0}),
    ("polarity inverted", {"gain": -1.0}),
    ("unit mV", {"unit": "mV"}),
    ("sampled at 50 Hz", {"rate": 50}),
    ("sampled at 64 Hz", {"rate": 64}),
    ("sampled at 125 Hz", {"rate": 125}),
    ("sampled at 128 Hz", {"rate": 128}),
    ("sampled at 200 Hz", {"rate": 200}),
    ("sampled at 250 Hz", {"rate": 250}),
    ("sampled at 256 Hz", {"rate": 256}),
    ("sampled at 512 Hz", {"rate": 512}),
    ("DC offset 300 uV", {"offset": 300.0}),
    ("sweat: 0.05-Hz drift of 150 uV", {"drift": (0.05, 150.0)}),
    ("ECG: 20-uV beats at 66 a minute", {"ecg": (1.1, 20.0)}),
    ("50 Hz mains 20 uV (256 Hz)", {"rate": 256, "mains": (50.0, 20.0)}),
    ("60 Hz mains 20 uV (256 Hz)", {"rate": 256, "mains": (60.0, 20.0)}),
    ("high-pass 0.3 Hz", {"highpass": 0.3}),
    ("high-pass 0.5 Hz", {"highpass": 0.5}),
    # a small EEG behind an older amplifier's filter: each alone leaves the wake minutes W, together not for feff147c
    ("high-pass 0.5 Hz, gain x0.5", {"highpass": 0.5, "gain": 0.5}),
    ("low-pass 45 Hz", {"lowpass": 45.0}),
    ("low-pass 35 Hz", {"lowpass": 35.0}),
    ("low-pass 30 Hz", {"lowpass": 30.0}),
    ("low-pass 30 Hz, header silent", {"lowpass": 30.0, "silent": True}),
    ("2nd-order low-pass 30 Hz at 256 Hz, header silent", {"rate": 256, "lowpass_at_rate": (30.0, 2), "silent": True}),
)


def changed_file(rec, change: dict, path: Path) -> Path:
    """`rec` (100 Hz, µV) as `change` would have recorded it, written to an EDF file at `path`."""
    from scipy.signal import butter, sosfilt

    from sleepscope.io.export import write_edf
    from sleepscope.io.recording import resample_to_target

    signals, prefilters, units = {}, {}, {}
    for label, x in rec.channels.items():
        fs = 100.0
        x = np.asarray(x, dtype=np.float64) * change.get("gain", 1.0)
        header = []
        if "highpass" in change:
            x = sosfilt(butter(2, change["highpass"], "high", fs=fs, output="sos"), x)
            header.append(f"HP:{change['highpass']:g}Hz")
        if "lowpass" in change:
            x = sosfilt(butter(4, change["lowpass"], "low", fs=fs, output="sos"), x)
            header.append(f"LP:{change['lowpass']:g}Hz")
        if "rate" in change:
            x = resample_to_target(x, fs, change["rate"]).astype(np.float64)
            fs = float(change["rate"])
        if "lowpass_at_rate" in change:  # an amplifier's gentle skirt, applied where the samples are stored
            hz, order = change["lowpass_at_rate"]
            x = sosfilt(butter(order, hz, "low", fs=fs, output="sos"), x)
            header.append(f"LP:{hz:g}Hz")
        t = np.arange(len(x)) / fs
        if "offset" in change:
            x = x + change["offset"]
        if "drift" in change:
            hz, uv = change["drift"]
            x = x + uv * np.sin(2 * np.pi * hz * t)
        if "ecg" in change:
            hz, uv = change["ecg"]
            phase = (t * hz) % 1.0
            x = x + uv * np.exp(-0.5 * ((phase - 0.5) / 0.012) ** 2)  # a QRS-like spike each beat
        if "mains" in change:
            hz, uv = change["mains"]
            x = x + uv * np.sin(2 * np.pi * hz * np.arange(len(x)) / fs)
        units[label] = change.get("unit", "uV")
        if units[label] == "mV":
            x = x / 1000.0
        signals[label] = (x, fs)
        prefilters[label] = "" if change.get("silent") else " ".join(header)
    return write_edf(path, signals, rec.start_time, units=units, prefilters=prefilters, record_duration=30.0)


def run(model_path: Path, use_yasa: bool) -> list[dict]:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_shift import real_rows

    from sleepscope.io import open_recording
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.infer import predict
    from sleepscope.scorers.compare import doubtful
    from sleepscope.stages import NAMES

    model, card = load_model(model_path)
    yasa = None
    if use_yasa:
        from sleepscope.scorers import YasaScorer, yasa_available

        yasa = YasaScorer() if yasa_available() else None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for clip, rec, expected in real_rows():
            for name, change in CHANGES:
                path = changed_file(rec, change, Path(tmp) / "changed.edf")
                got = open_recording(path, eeg=rec.eeg_name, eog=rec.eog_name)
                pred = predict(got, model)
                right = pred.stages == expected
                row = {
                    "clip": clip, "change": name, "epochs": int(len(expected)),
                    "expert": float(right.mean()), "confidence": float(pred.probs.max(axis=1).mean()),
                    "unsure": float(pred.unsure.mean()), "silent_errors": int((~right & ~pred.unsure).sum()),
                    "stages": {NAMES[s]: int((pred.stages == s).sum()) for s in range(len(NAMES))},
                    "notes": pred.notes(),
                    "eeg_band": None if getattr(pred, "eeg_band", None) is None else pred.eeg_band.to_dict(),
                }
                if yasa is not None and got.eeg_name is not None and got.n_epochs >= 10:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        second = yasa.score(got)
                    row["yasa_expert"] = float((second.stages == expected).mean())
                    row["silent_with_yasa"] = int((~right & ~doubtful(pred.unsure, pred.stages, second.stages)).sum())
                rows.append(row)
                print(f"{clip} | {name}: expert {row['expert']:.2f}, confidence {row['confidence']:.2f}, "
                      f"unsure {row['unsure']:.2f}, silent errors {row['silent_errors']}", file=sys.stderr, flush=True)
    return rows


def table(rows: list[dict], model_version: str) -> str:
    out = [f"model {model_version}; REAL clips from tests/data, changed as another lab would record them",
           "", "| clip | change | expert's stage | confidence | unsure | silent errors | narrow-band note | YASA: expert's stage "
           "| silent with YASA installed |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        n = r["epochs"]
        note = f"below {r['eeg_band']['top_hz']:g} Hz" if r.get("eeg_band") else "-"
        yasa = f"{r['yasa_expert']:.2f}" if "yasa_expert" in r else "-"
        out.append(f"| {r['clip']} | {r['change']} | {round(r['expert'] * n)}/{n} | {r['confidence']:.2f} | "
                   f"{round(r['unsure'] * n)}/{n} | {r['silent_errors']} | {note} | {yasa} | "
                   f"{r.get('silent_with_yasa', '-')} |")
    silent = sum(r["silent_errors"] for r in rows)
    out += ["", f"silent errors in all: {silent} of {sum(r['epochs'] for r in rows)} epochs"]
    if any("silent_with_yasa" in r for r in rows):
        # Where YASA cannot stage (no EEG, under 10 epochs) the product has no second opinion either.
        left = sum(r.get("silent_with_yasa", r["silent_errors"]) for r in rows)
        out.append(f"with YASA installed (disagreements join the review queue): {left} of them stay silent")
    return "\n".join(out)


def against(reference: list[dict], rows: list[dict], name: str) -> tuple[list[str], bool]:
    """The replacement gate: (lines to print, passed) for `rows` against the `reference` model's rows."""
    ref = {(r["clip"], r["change"]): r for r in reference}
    worse = [(r, ref[(r["clip"], r["change"])]) for r in rows
             if r["silent_errors"] > ref[(r["clip"], r["change"])]["silent_errors"]]

    def expert(rs):
        return sum(round(r["expert"] * r["epochs"]) for r in rs)

    passed = not worse and expert(rows) >= expert(reference)
    lines = [f"against {name}: silent errors {sum(r['silent_errors'] for r in rows)} "
             f"(theirs {sum(r['silent_errors'] for r in reference)}), expert's stage {expert(rows)} "
             f"(theirs {expert(reference)}) of {sum(r['epochs'] for r in rows)} epochs"]
    lines += [f"  more silent errors: {r['clip']} | {r['change']}: {theirs['silent_errors']} -> {r['silent_errors']}"
              for r, theirs in worse]
    lines.append("gate passed" if passed else "gate FAILED: not a replacement for " + name)
    return lines, passed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "sleepscope-default.safetensors")
    ap.add_argument("--no-yasa", action="store_true", help="leave YASA's column out")
    ap.add_argument("--json", type=Path, help="write every row here")
    ap.add_argument("--against", type=Path, metavar="MODEL",
                    help="also score with MODEL and apply the replacement gate (exit status 1 if it fails)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from sleepscope.model.checkpoint import load_model

    t0 = time.perf_counter()
    rows = run(args.model, not args.no_yasa)
    print(table(rows, load_model(args.model)[1].version))
    print(f"\n{time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.against is None:
        return 0
    lines, passed = against(run(args.against, use_yasa=False), rows, load_model(args.against)[1].version)
    print("\n" + "\n".join(lines))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
