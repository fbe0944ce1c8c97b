"""Pre-scoring a whole night on the CPU: SleepScope's stager against YASA, in one run.

    .venv/bin/python benchmarks/bench_prescore.py [--config default] [--epochs 1000]

One synthetic night (sleepscope.data.synthetic, driven by a real Sleep-EDF
hypnogram, EEG Fpz-Cz + EOG horizontal at 100 Hz) is staged by
  * ours: ``sleepscope.model.infer.predict`` on the CPU with the chosen
    configuration and RANDOM weights (the cost of a forward pass does not
    depend on the weights' values; no trained model is implied), from the
    Recording (per-epoch z-scoring included);
  * YASA: ``yasa.SleepStaging(raw, eeg_name=..., eog_name=...).predict()``
    with its shipped LightGBM classifier, from an mne RawArray.
Each runs in a fresh subprocess: the first call there is "cold" (one-off costs:
YASA's numba JIT compiles its feature code, torch/oneDNN set up kernels), then
"warm" is the best of three more calls in the same process. Peak memory is the
subprocess's ru_maxrss (imports included). The matmul peak is a large
float32 torch.mm timed in this run on the same threads, so the achieved
GFLOP/s (2 x MACs per epoch x epochs / warm time) is comparable.
Figures vary with the machine's load: compare ratios from the same run.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

EEG, EOG, EMG = "EEG Fpz-Cz", "EOG horizontal", "EMG Chin"
EMG_HZ = 256
ROOT = Path(__file__).resolve().parents[1]


def make_night(n_epochs: int, path: Path) -> str:
    from sleepscope.data.synthetic import real_hypnogram, synth_night

    base = "SC4001E0"
    labels = real_hypnogram(base)
    # tile the real night to the requested length (about 1,000 epochs is a full 8.3-h night)
    labels = np.resize(labels, n_epochs)
    night = synth_night(labels, subject=0, night=1, seed=0)
    # A raw chin EMG as a lab records it (256 Hz, muscle noise following the night's 1-Hz tone), read at 100 Hz
    # as `open_recording` reads every channel: what pre-scoring reduces to its tone (sleepscope.model.chin_emg).
    from sleepscope.io.recording import resample_to_target

    tone = np.repeat(night.aux["EMG submental"].astype(np.float64), EMG_HZ)
    emg = resample_to_target(tone * np.random.default_rng(0).normal(0, 3, len(tone)), EMG_HZ)
    np.savez(path, eeg=night.signals[EEG], eog=night.signals[EOG], emg=emg, labels=labels)
    return (f"synthetic night of {n_epochs} epochs following Sleep-EDF {base}'s hypnogram (tiled), with a raw chin "
            f"EMG at {EMG_HZ} Hz")


def _peak_rss_mb() -> float:
    """Peak resident memory of this process: VmHWM (per address space, so not inherited
    from the parent across fork/exec as ru_maxrss can be), else ru_maxrss."""
    import resource

    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _child(kind: str, night: Path, config: str, repeats: int, eeg_opinion: float = 0.0,
           model_path: Path | None = None) -> None:
    """Runs in a fresh process: time one cold and `repeats` warm calls, report JSON."""
    import resource

    data = np.load(night)
    eeg, eog = data["eeg"].astype(np.float32), data["eog"].astype(np.float32)
    emg = np.resize(data["emg"].astype(np.float32), len(eeg))
    extra = {}
    if kind == "ours":
        # As `sleepscope prescore` does: idle OpenMP workers sleep instead of spinning.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import torch

        from sleepscope.io import Recording
        from sleepscope.model.config import get_config
        from sleepscope.model.network import SleepStager

        torch.manual_seed(0)
        if model_path is not None:  # a trained model as its card sets it up (a second pass needs real stages)
            from sleepscope.model.checkpoint import load_model

            model = load_model(model_path)[0]
        else:
            model = SleepStager(get_config(config).with_(eeg_opinion=eeg_opinion)).eval()
            # The shipped card's calibration (temperature, confidence map) is part of what predict costs.
            card = ROOT / "models" / "sleepscope-default.json"
            model.calibration = json.loads(card.read_text()).get("calibration", {}) if card.exists() else {}
        extra["night_statistics"] = bool(model.config.night_statistics)
        extra["calibration"] = "temperature + confidence map" if model.calibration.get("confidence_map") else (
            "temperature" if model.calibration else "none")

        def run():
            from sleepscope.model.infer import predict

            rec = Recording.from_arrays(eeg, eog, eeg_name=EEG, eog_name=EOG)
            rec = replace(rec, channels={**rec.channels, EMG: emg[: rec.n_samples]},
                          source_rates={**rec.source_rates, EMG: float(EMG_HZ)})
            pred = predict(rec, model, device="cpu")
            extra["chin_emg"] = None if pred.chin is None else pred.chin.to_dict()
            return pred.stages

        extra["threads"] = None
    else:
        import logging
        import warnings

        import mne
        import yasa

        warnings.filterwarnings("ignore")
        mne.set_log_level("ERROR")
        logging.getLogger("yasa").setLevel(logging.ERROR)
        info = mne.create_info([EEG, EOG], 100.0, ["eeg", "eog"])
        raw = mne.io.RawArray(np.vstack([eeg, eog]).astype(np.float64) * 1e-6, info)  # µV -> V

        def run():
            return yasa.SleepStaging(raw, eeg_name=EEG, eog_name=EOG).predict()

        extra["yasa_version"] = yasa.__version__
    t = time.perf_counter()
    out = run()
    cold = time.perf_counter() - t
    warm = []
    for _ in range(repeats):
        t = time.perf_counter()
        run()
        warm.append(time.perf_counter() - t)
    if kind == "ours":
        import torch

        extra["threads"] = torch.get_num_threads()
    print(json.dumps({"cold_s": cold, "warm_s": min(warm), "warm_all_s": warm, "n": len(out),
                      "maxrss_mb": _peak_rss_mb(),
                      "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))


def run_child(kind: str, night: Path, config: str, repeats: int, eeg_opinion: float = 0.0,
              model_path: Path | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--night", str(night), "--config", config,
           "--repeats", str(repeats), "--eeg-opinion", str(eeg_opinion)]
    if model_path is not None:
        cmd += ["--model", str(model_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def matmul_peak_gflops(n: int = 2048, reps: int = 5) -> float:
    import torch

    from sleepscope.model.infer import physical_cores

    torch.set_num_threads(physical_cores())  # the threads predict() uses on the CPU
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n ** 3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="default")
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--eeg-opinion", type=float, default=0.0,
                    help="ours with this weight of the EEG-alone opinion (ModelConfig.eeg_opinion; the shipped model's)")
    ap.add_argument("--model", type=Path, default=None,
                    help="time this trained model as its card sets it up (configuration, EEG-alone opinion, "
                         "night statistics, calibration) instead of random weights of --config")
    ap.add_argument("--child", choices=("ours", "yasa"), help=argparse.SUPPRESS)
    ap.add_argument("--night", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--make-night", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_night:
        print(make_night(args.epochs, args.make_night))
        return
    if args.child:
        _child(args.child, args.night, args.config, args.repeats, args.eeg_opinion, args.model)
        return

    import torch

    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager, count_parameters, macs_per_epoch

    with tempfile.TemporaryDirectory() as tmp:
        night = Path(tmp) / "night.npz"
        # generated in its own process so that this one stays small while it starts the others
        made = subprocess.run([sys.executable, __file__, "--make-night", str(night), "--epochs", str(args.epochs)],
                              capture_output=True, text=True)
        if made.returncode != 0:
            raise SystemExit(made.stderr[-3000:])
        print(made.stdout.strip())
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; torch {torch.__version__}")
        ours = run_child("ours", night, args.config, args.repeats, args.eeg_opinion, args.model)
        yasa = run_child("yasa", night, args.config, args.repeats)
    peak = matmul_peak_gflops()
    if args.model is not None:
        from sleepscope.model.checkpoint import load_model

        model = load_model(args.model)[0]
        described = f"'{model.config.name}' from {args.model.name}"
        args.eeg_opinion = model.config.eeg_opinion
        eog_opinion = model.config.eog_opinion
    else:
        eog_opinion = 0.0
        model = SleepStager(get_config(args.config))
        described = f"'{args.config}'"
    macs = macs_per_epoch(model)
    n = args.epochs
    achieved = 2 * macs * n / ours["warm_s"] / 1e9

    whose = "its card" if args.model else "the shipped card's; random weights: timing only"
    print(f"\nours: SleepStager config {described}, EEG-alone opinion {args.eeg_opinion:g}, EOG-alone opinion "
          f"{eog_opinion:g}, night statistics "
          f"{'on (two passes)' if ours['night_statistics'] else 'off'}, calibration {ours['calibration']} "
          f"({whose}), "
          f"{count_parameters(model):,} parameters, {macs / 1e6:.2f} M MACs/epoch, {ours['threads']} threads")
    chin = ours.get("chin_emg")
    print("chin EMG: " + ("not read (the card has no coefficients)" if chin is None else
                          f"{chin['channel']!r} read ({chin['usable_epochs']} epochs with tone), "
                          + ("weighed in" if chin["used"] else f"not weighed in: {chin['reason']}")))
    print(f"yasa: {yasa['yasa_version']} SleepStaging (EEG + EOG, shipped LightGBM classifier)\n")
    print(f"{'':24}{'ours':>10}{'yasa':>10}{'ours/yasa':>11}")
    for key, label in (("cold_s", "cold, first call (s)"), ("warm_s", "warm, best of %d (s)" % args.repeats)):
        print(f"{label:<24}{ours[key]:>10.3f}{yasa[key]:>10.3f}{ours[key] / yasa[key]:>11.3f}")
    print(f"{'per epoch warm (ms)':<24}{ours['warm_s'] / n * 1e3:>10.3f}{yasa['warm_s'] / n * 1e3:>10.3f}")
    print(f"{'peak memory, VmHWM (MB)':<24}{ours['maxrss_mb']:>10.0f}{yasa['maxrss_mb']:>10.0f}"
          f"{ours['maxrss_mb'] / yasa['maxrss_mb']:>11.3f}")
    print(f"\nMACs per epoch {macs:,}; achieved {achieved:.1f} GFLOP/s (warm) against a measured "
          f"float32 matmul peak of {peak:.1f} GFLOP/s = {achieved / peak:.1%}")
    print(f"targets: time ratio <= 0.333 (cold {ours['cold_s'] / yasa['cold_s']:.3f}, "
          f"warm {ours['warm_s'] / yasa['warm_s']:.3f}); peak memory <= 1024 MB ({ours['maxrss_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
