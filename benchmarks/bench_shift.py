"""Does the pre-scoring hold up on recordings unlike its training data? The model and YASA side by side.

    .venv/bin/python benchmarks/bench_shift.py [--model PATH] [--nights 2] [--no-yasa] [--json OUT]
    .venv/bin/python benchmarks/bench_shift.py --nights 8          # the full size: 8 test nights per row
    .venv/bin/python benchmarks/bench_shift.py --families A,B,D     # and rows of another held-out family
    .venv/bin/python benchmarks/bench_shift.py --seed 1             # the same nights drawn afresh
    .venv/bin/python benchmarks/bench_shift.py --nights 8 --families A,B,D,E --seed 0,1,2   # the card's: 3 draws

Rows (each a set of synthetic nights following the REAL Sleep-EDF hypnograms of
the shipped model's test subjects 0, 6, 9 and 15, trimmed to 30 min of wake
around the sleep as in training; ``--night-set older``: of subjects 42-49,
whose sleep holds two and a half times the N1 and less N3, as patients' does):

* ``A``: the physiology family the shipped model learned, recorded like
  Sleep-EDF (in distribution); ``A random``: the same family recorded by
  randomly drawn labs (derivations, EOG montage, gains, rates, filters,
  mains, artefacts; ``sleepscope.data.synth``);
* ``B`` / ``B random``: the independently built family (held out: no
  SleepScope model was trained on it); ``--families A,B,D`` adds rows of
  family D, built after the shipped model was frozen, so that nothing about
  the model was chosen with it in view;
* hand-made perturbations of ``A``: the EOG flat (0.05 µV of noise),
  the EOG x0.3 in NREM only (a quiet EOG), the EEG x3, the EEG and EOG
  labels swapped, a 50-µV 0.05-Hz sway on both all night (sweat), 6 µV RMS
  of 20-45 Hz noise on the EEG all night (a tense muscle, a noisy electrode;
  both ``reports/slow-drift-night/``), 60-µV QRS-like ECG beats at 66 a minute
  on both (a mastoid reference picking up the heart;
  ``reports/acquisition-real-clips/probes/ecg_whole_night.py``), and the same
  with the ECG lead they come from in the file (its beats subtracted,
  ``reports/ecg-beats/``); every scalp channel high-passed at 0.5 Hz (second order, causal) and halved
  (``bench_acquisition.py``'s change of that name: ``reports/fast-noise-synthetic/``);
* ``B no chin EMG``, ``B REM without atonia``, ``B noisy chin EMG`` (and so for each held-out family): the
  chin EMG, which the plain rows carry as Sleep-EDF's 1-Hz envelope, removed (EEG and EOG alone, as before
  pre-scoring read it); its REM given the tone of the night's N2 (REM sleep behaviour disorder); a noise
  floor the size of its median tone with jitter (``sleepscope.model.chin_emg``);
* ``... EEG only``: the EOG removed (EEG-only rows); ``... EOG only``: the EEG
  removed (EOG-only rows, which YASA cannot stage);
* real recordings in ``tests/data``: the first 5 minutes of Sleep-EDF
  SC4001E0 (all wake: every epoch must be W), YASA's 859 s of real REM
  EOG (EOG only: REM expected) and YASA's 30 s of real N3 EEG (one epoch,
  EEG only: N3 expected; too short for YASA).

Per row and scorer: accuracy, macro-F1, Cohen's kappa and per-stage F1 over
the epochs both label (artefact epochs, which get no stage, are counted
apart), the expected calibration error (ECE), the share of epochs the
"unsure" flag raises and the share of errors it catches, and how many nights
the familiarity check calls unfamiliar; with YASA in the run, the same two
shares for the workstation's review queue once YASA is installed (unsure, or
the two opinions disagree). Synthetic figures are not evidence about real
recordings.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
#: Nights of the shipped model's test subjects (0, 6, 9, 15), first nights first.
TEST_NIGHTS = ("SC4001E0", "SC4061E0", "SC4091E0", "SC4151E0", "SC4002E0", "SC4062E0", "SC4092E0", "SC4152E0")
#: First nights of later Sleep-EDF subjects (42-49; bench_site's labs follow them too) that no model trains or
#: calibrates on and the stage-transition chain leaves out: their real hypnograms hold N1 13 % and N3 11 % of the
#: scored epochs (the test subjects' 5 % and 16 %), closer to a sleep clinic's patients.
OLDER_NIGHTS = ("SC4421E0", "SC4431E0", "SC4441E0", "SC4451F0", "SC4461F0", "SC4471F0", "SC4481F0", "SC4491G0")
NIGHT_SETS = {"young": TEST_NIGHTS, "older": OLDER_NIGHTS}
PERTURBATIONS = ("flat EOG", "quiet NREM EOG", "EEG x3", "swapped", "slow sway", "fast noise", "ECG beats",
                 "ECG beats and lead", "high-pass 0.5 Hz, x0.5", "EEG only", "EOG only")
EMG = "EMG submental"
#: What a held-out family's plain nights get done to their chin EMG (YASA, which does not read a 1-Hz envelope,
#: scores these rows as their plain ones and is left out of them).
EMG_PERTURBATIONS = ("no chin EMG", "REM without atonia", "noisy chin EMG")


# ---------------------------------------------------------------- nights

def synth_recording(name: str, family: str = "A", randomise: bool = False, seed: int = 0,
                    margin_epochs: int = 60):
    """(Recording at 100 Hz with the channels chosen by label, stages) of a synthetic night, trimmed to the sleep."""
    from sleepscope.data.synthetic import parse_night_name, real_hypnogram, synth_night
    from sleepscope.io.channels import central_eeg, choose_channels
    from sleepscope.io.hypnogram import trim_wake
    from sleepscope.io.recording import Recording, resample_to_target

    labels = real_hypnogram(name)
    window = trim_wake(labels, margin_epochs)
    labels = np.asarray(labels[window])
    subject, night = parse_night_name(name)
    kwargs = {"family": family, "randomise": randomise} if (family != "A" or randomise) else {}
    s = synth_night(labels, subject=subject, night=night, seed=seed, **kwargs)
    # As the product reads a file: the central EEG beside a frontal one, for YASA's second opinion (yasa_extra),
    # and the chin EMG, which pre-scoring weighs where its card has coefficients: a randomised lab's raw one,
    # else Sleep-EDF's 1-Hz envelope.
    raw_emg = getattr(getattr(s, "recording", None), "chin_emg", None)
    choice = choose_channels([*s.signals] if raw_emg is not None else [*s.signals, EMG])
    central = central_eeg(list(s.signals))
    chans = {k: resample_to_target(s.signals[k], s.fs)
             for k in (choice.eeg, choice.eog, central, raw_emg and raw_emg.label) if k is not None}
    if raw_emg is None:
        chans[EMG] = resample_to_target(s.aux[EMG], 1.0)
    n = min(len(v) for v in chans.values())
    n -= n % 3000
    chans = {k: np.ascontiguousarray(v[:n]) for k, v in chans.items()}
    rates = {k: 1.0 if k == EMG else float(s.fs) for k in chans}
    rec = Recording(path=None, start_time=s.start_time, fs=100.0, channels=chans, eeg_name=choice.eeg,
                    eog_name=choice.eog, source_rates=rates, channel_choice=choice)
    return rec, labels[: rec.n_epochs].astype(np.int64)


def perturb(rec, labels, how: str):
    """A copy of `rec` with one of PERTURBATIONS applied."""
    from sleepscope.io.channels import ChannelChoice
    from sleepscope.io.recording import Recording

    ch = {k: v.copy() for k, v in rec.channels.items()}
    eeg, eog = rec.eeg_name, rec.eog_name
    choice = rec.channel_choice
    rng = np.random.default_rng(0)
    if how == "flat EOG":
        ch[eog] = rng.normal(0, 0.05, len(ch[eog])).astype(np.float32)
    elif how == "quiet NREM EOG":
        nrem = np.repeat(np.isin(labels, (1, 2, 3)), 3000)
        ch[eog][: len(nrem)][nrem] *= 0.3
    elif how == "EEG x3":
        ch[eeg] *= 3
    elif how == "swapped":
        ch[eeg], ch[eog] = ch[eog], ch[eeg]
    elif how == "slow sway":
        t = np.arange(len(ch[eeg]), dtype=np.float64) / rec.fs
        for k in (eeg, eog):
            ch[k] += (50.0 * np.sin(2 * np.pi * 0.05 * t[: len(ch[k])])).astype(np.float32)
    elif how == "fast noise":
        from scipy.signal import butter, sosfiltfilt

        noise = sosfiltfilt(butter(4, [20.0, 45.0], "bandpass", fs=rec.fs, output="sos"), rng.normal(size=len(ch[eeg])))
        ch[eeg] += (6.0 * noise / noise.std()).astype(np.float32)
    elif how in ("ECG beats", "ECG beats and lead"):  # a mastoid reference picking up the heart: QRS-like spikes,
        # as bench_acquisition's; "and lead": the file holds the ECG they come from (`sleepscope.model.heartbeats`)
        t = np.arange(len(ch[eeg]), dtype=np.float64) / rec.fs
        spikes = (60.0 * np.exp(-0.5 * (((t * 1.1) % 1.0 - 0.5) / 0.012) ** 2)).astype(np.float32)
        for k in (eeg, eog):
            ch[k] += spikes[: len(ch[k])]
        if how == "ECG beats and lead":
            ch["ECG"] = (15.0 * spikes + rng.normal(0, 10, len(spikes))).astype(np.float32)
            choice = replace(choice, ecg="ECG") if choice else ChannelChoice(eeg, eog, "", "", ecg="ECG")
    elif how == "high-pass 0.5 Hz, x0.5":  # an amplifier set so on every scalp channel, and a small head's EEG:
        # bench_acquisition's change of that name, under which the REAL wake minutes were read as REM
        from scipy.signal import butter, sosfilt

        sos = butter(2, 0.5, "highpass", fs=rec.fs, output="sos")
        for k in ch:
            if k not in (EMG, choice.emg if choice else None):
                ch[k] = (0.5 * sosfilt(sos, ch[k].astype(np.float64))).astype(np.float32)
    elif how == "EEG only":
        del ch[eog]
        eog = None
        choice = ChannelChoice(eeg, None, choice.eeg_reason if choice else "", "removed for this row")
    elif how == "EOG only":
        # the central EEG read for YASA goes with the EEG; the chin EMG stays
        ch = {k: v for k, v in ch.items() if k in (eog, choice.emg if choice else EMG)}
        eeg = None
        choice = ChannelChoice(None, eog, "removed for this row", choice.eog_reason if choice else "",
                               emg=choice.emg if choice else None)
    elif how == "no chin EMG":
        ch.pop(choice.emg, None)
        choice = replace(choice, emg=None)
    elif how == "REM without atonia":  # REM sleep behaviour disorder: REM keeps the tone of the night's N2
        ch[EMG] = _emg_per_second(ch[EMG], labels, rbd=True)
    elif how == "noisy chin EMG":  # a noise floor the size of the night's median tone, and jitter
        ch[EMG] = _emg_per_second(ch[EMG], labels, rbd=False)
    else:
        raise ValueError(how)
    return Recording(path=None, start_time=rec.start_time, fs=rec.fs, channels=ch, eeg_name=eeg, eog_name=eog,
                     source_rates={k: rec.source_rates.get(k, rec.fs) for k in ch}, channel_choice=choice)


def _emg_per_second(emg: np.ndarray, labels: np.ndarray, rbd: bool) -> np.ndarray:
    """A 100-Hz chin-EMG envelope changed second by second as `bench_chin_emg.py` changes its nights: REM given
    the tone of N2 (`rbd`, `without_atonia`), else a floor of the night's median tone with jitter (`degrade`)."""
    if str(Path(__file__).resolve().parent) not in sys.path:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_chin_emg import degrade, without_atonia

    per_s = np.asarray(emg, np.float64).reshape(-1, 100).mean(axis=1)
    n = min(len(per_s) // 30, len(labels))
    envelope = per_s[: n * 30].reshape(n, 30)
    envelope = without_atonia(envelope, np.asarray(labels)[:n], seed=0) if rbd else degrade(envelope, 1.0, seed=0)
    per_s[: n * 30] = envelope.ravel()
    return np.repeat(per_s, 100).astype(np.float32)


def real_rows() -> list[tuple[str, object, np.ndarray]]:
    """(row name, Recording, expected stages) of the real recordings in tests/data."""
    from sleepscope.io import Recording, open_recording
    from sleepscope.io.channels import ChannelChoice
    from sleepscope.io.recording import resample_to_target

    data = ROOT / "tests" / "data"
    out = []
    wake = open_recording(data / "SC4001E0-PSG-first300s.edf")
    out.append(("real Sleep-EDF 5 min wake", wake, np.zeros(wake.n_epochs, np.int64)))
    npz = np.load(data / "data_EOGs_REM_256Hz.npz")
    keys = list(npz.keys())
    arr = np.asarray(npz[keys[0]], dtype=np.float64)
    fs = float(npz["sf"]) if "sf" in keys else 256.0
    if arr.ndim == 2 and arr.shape[0] >= 2:
        loc, roc = arr[0], arr[1]
        eog = resample_to_target((loc - roc).astype(np.float32), fs)
        n = len(eog) - len(eog) % 3000
        rec = Recording(path=None, start_time=wake.start_time, fs=100.0, channels={"EOG LOC-ROC": eog[:n]},
                        eeg_name=None, eog_name="EOG LOC-ROC", source_rates={"EOG LOC-ROC": fs},
                        channel_choice=ChannelChoice(None, "EOG LOC-ROC", "none in this clip", "bipolar"))
        out.append(("real REM EOG (EOG only)", rec, np.full(rec.n_epochs, 4, np.int64)))
        # A lab that stores each eye against a mastoid (E1-M2, E2-M1) is read through its left eye alone.
        left = resample_to_target(loc.astype(np.float32), fs)[:n]
        rec = Recording(path=None, start_time=wake.start_time, fs=100.0, channels={"LOC": left}, eeg_name=None,
                        eog_name="LOC", source_rates={"LOC": fs},
                        channel_choice=ChannelChoice(None, "LOC", "none in this clip", "the left eye alone"))
        out.append(("real REM EOG, left eye alone (EOG only)", rec, np.full(rec.n_epochs, 4, np.int64)))
    n3 = np.loadtxt(data / "data_N3_no-spindles_30sec_100Hz.txt", dtype=np.float32)[:3000]
    rec = Recording(path=None, start_time=wake.start_time, fs=100.0, channels={"EEG": n3}, eeg_name="EEG",
                    eog_name=None, source_rates={"EEG": 100.0},
                    channel_choice=ChannelChoice("EEG", None, "the clip's one channel", "none in this clip"))
    out.append(("real N3 EEG 30 s (EEG only)", rec, np.full(1, 3, np.int64)))
    return out


# ---------------------------------------------------------------- scorers

def yasa_probs(rec) -> np.ndarray | None:
    """YASA's per-epoch probabilities (W, N1, N2, N3, REM), or None if YASA cannot stage this recording."""
    import mne
    import yasa

    warnings.filterwarnings("ignore")
    mne.set_log_level("ERROR")
    logging.getLogger("yasa").setLevel(logging.ERROR)
    from sleepscope.io.channels import central_eeg

    names, kinds, data = [], [], []
    if rec.eeg_name is None:
        return None
    # The EEG the product's second opinion reads (YasaScorer): a central one read beside the model's, else the model's.
    eeg = central_eeg([n for n in rec.channels if n != rec.eog_name]) or rec.eeg_name
    from sleepscope.model.heartbeats import lead_beats, without_heartbeats

    # where the file's ECG lead shows, as YasaScorer
    rec, _ = without_heartbeats(rec, lead_beats(rec), channels=[eeg, rec.eog_name])
    for n, kind in ((eeg, "eeg"), (rec.eog_name, "eog")):
        if n is not None:
            names.append(n)
            kinds.append(kind)
            data.append(rec.channels[n].astype(np.float64) * 1e-6)
    raw = mne.io.RawArray(np.vstack(data), mne.create_info(names, 100.0, kinds), verbose="error")
    try:
        hyp = yasa.SleepStaging(raw, eeg_name=eeg, eog_name=rec.eog_name).predict()
    except Exception:  # YASA refuses recordings shorter than its feature windows
        return None
    proba = hyp.proba
    cols = {str(c).upper(): c for c in proba.columns}
    order = [cols.get(k) or cols.get(alt) for k, alt in (("WAKE", "W"), ("N1", "N1"), ("N2", "N2"), ("N3", "N3"),
                                                          ("REM", "R"))]
    p = proba[order].to_numpy(dtype=np.float64)
    n = rec.n_epochs
    return p[:n] if len(p) >= n else None


def row_metrics(parts: list[dict]) -> dict:
    """Figures of one row from its nights' {probs, stages, labels, unsure, artefact, unfamiliar}."""
    from sleepscope.model.calibration import ece
    from sleepscope.scoring.agreement import agreement

    y = np.concatenate([p["labels"] for p in parts])
    st = np.concatenate([p["stages"] for p in parts])
    pr = np.concatenate([p["probs"] for p in parts])
    art = np.concatenate([p["artefact"] for p in parts])
    uns = np.concatenate([p["unsure"] for p in parts])
    scored = (y >= 0) & ~art
    a = agreement(np.where(scored, y, -1), np.where(scored, st, -1))
    wrong = scored & (st != y)
    out = {"n_epochs": int((y >= 0).sum()), "accuracy": a.accuracy, "macro_f1": a.macro_f1, "kappa": a.kappa,
           "f1": dict(a.f1), "ece": ece(pr[scored], y[scored]), "artefact": float(art[y >= 0].mean()),
           "flagged": float(uns[scored].mean()) if scored.any() else float("nan"),
           "caught": float((uns & wrong).sum() / max(1, wrong.sum())),
           "share_w": float(np.mean(st[y >= 0] == 0)), "share_rem": float(np.mean(st[y >= 0] == 4))}
    fam = [p["unfamiliar"] for p in parts if p["unfamiliar"] is not None]
    out["unfamiliar"] = f"{sum(fam)}/{len(fam)}" if fam else "-"
    chin = [p["chin_emg"] for p in parts if p.get("chin_emg") is not None]
    out["chin_emg"] = f"{sum(chin)}/{len(parts)}" if chin else "-"
    if any(p.get("second") is not None for p in parts):
        # The workstation's review queue with YASA installed (nights it cannot stage keep their unsure epochs).
        from sleepscope.scorers.compare import doubtful

        queue = np.concatenate([doubtful(p["unsure"], p["stages"], p.get("second")) for p in parts])
        out["queue_flagged"] = float(queue[scored].mean()) if scored.any() else float("nan")
        out["queue_caught"] = float((queue & wrong).sum() / max(1, wrong.sum()))
    return out


def score_model(model, rec, labels) -> dict:
    from sleepscope.model.infer import predict

    p = predict(rec, model)
    return {"probs": p.probs, "stages": p.stages, "labels": labels, "unsure": p.unsure, "artefact": p.artefact,
            "unfamiliar": None if p.familiarity is None or p.familiarity.outlying is None and p.familiarity.familiar
            else (not p.familiarity.familiar), "chin_emg": None if p.chin is None else p.chin.used}


def score_yasa(rec, labels) -> dict | None:
    pr = yasa_probs(rec)
    if pr is None:
        return None
    st = pr.argmax(axis=1)
    return {"probs": pr, "stages": st, "labels": labels, "unsure": pr.max(axis=1) < 0.6,
            "artefact": np.zeros(len(st), bool), "unfamiliar": None}


# ---------------------------------------------------------------- the run

def cached_recording(name: str, family: str, randomise: bool, seed: int, cache: Path | None):
    """:func:`synth_recording`, kept in `cache` (a folder) when given: the nights are the same every run."""
    import pickle

    if cache is None:
        return synth_recording(name, family, randomise, seed)
    # "-ce2": recordings that carry the central EEG read for YASA and the chin EMG (raw where a randomised lab
    # records it so); older caches are not reused.
    path = cache / f"{name}-{family}{'-random' if randomise else ''}-{seed}-ce2.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    out = synth_recording(name, family, randomise, seed)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(pickle.dumps(out))
    tmp.replace(path)
    return out


class Row:
    """A row's nights, made from its base nights each time it is read: built ahead, some forty rows of whole
    nights held every copy at once (12 GiB for 8 nights of four families), two runs side by side did not fit."""

    def __init__(self, base: list, make=None):
        self.base = base
        #: (Recording, stages) -> (Recording, stages), or None to leave the night out of the row
        self.make = make or (lambda r, y: (r, y))

    def __iter__(self):
        for r, y in self.base:
            item = self.make(r, y)
            if item is not None:
                yield item


def build_rows(nights: list[str], families=("A", "B"), seed: int = 0, log=print, cache: Path | None = None):
    """[(row name, Row of (Recording, stages))] for the synthetic rows."""
    rows: list[tuple[str, Row]] = []
    base: dict[tuple[str, bool], list] = {}

    def perturbed(how, both_only=False, keep_single=False):
        def make(r, y):
            if (both_only or keep_single) and not (r.eeg_name and r.eog_name):
                return (r, y) if keep_single else None
            return perturb(r, y, how), y
        return make

    for fam in families:
        for rnd in (False, True):
            t = time.perf_counter()
            base[(fam, rnd)] = [cached_recording(n, fam, rnd, seed, cache) for n in nights]
            log(f"  generated {fam}{' random' if rnd else ''}: {len(nights)} nights in {time.perf_counter() - t:.0f} s")
            rows.append((f"{fam}{' random' if rnd else ''}", Row(base[(fam, rnd)])))
    for how in PERTURBATIONS:
        rows.append((f"A {how}", Row(base[("A", False)], perturbed(how))))
    for fam in families[1:]:
        rows.append((f"{fam} EEG only", Row(base[(fam, False)], perturbed("EEG only"))))
        rows.append((f"{fam} random EEG only", Row(base[(fam, True)], perturbed("EEG only", keep_single=True))))
        rows.append((f"{fam} EOG only", Row(base[(fam, False)], perturbed("EOG only"))))
        for how in EMG_PERTURBATIONS:
            rows.append((f"{fam} {how}", Row(base[(fam, False)], perturbed(how))))
        rows.append((f"{fam} random EOG only", Row(base[(fam, True)], perturbed("EOG only", both_only=True))))
    return rows


def run(model_paths: list[Path], nights: list[str], use_yasa: bool = True, log=print,
        cache: Path | None = None, families=("A", "B"), seed: int = 0) -> dict:
    import torch

    from sleepscope.model.checkpoint import load_model

    torch.set_num_threads(1)
    models = {p.stem: load_model(p)[0] for p in model_paths}
    rows = build_rows(nights, families=families, seed=seed, log=log, cache=cache)
    rows += [(name, [(rec, y)]) for name, rec, y in real_rows()]
    results: dict = {}
    for name, row in rows:
        items = list(row)  # one row's nights made once, for every scorer, and let go before the next row's
        results[name] = {}
        yasa_here = use_yasa and not name.endswith(EMG_PERTURBATIONS)
        second = [score_yasa(r, y) if yasa_here else None for r, y in items]
        for mname, model in models.items():
            results[name][mname] = row_metrics([{**score_model(model, r, y), "second": None if s is None else s["stages"]}
                                                for (r, y), s in zip(items, second)])
        if yasa_here:
            parts = [p for p in second if p is not None]
            results[name]["YASA"] = row_metrics(parts) if parts else None
        log(format_row(name, results[name]))
    return results


def format_row(name: str, res: dict) -> str:
    lines = []
    for scorer, m in res.items():
        if m is None:
            lines.append(f"{name:<26} {scorer:<22} (cannot stage this recording)")
            continue
        f1 = " ".join(f"{m['f1'][k]:.2f}" for k in ("W", "N1", "N2", "N3", "REM"))
        lines.append(f"{name:<26} {scorer:<22} {m['accuracy']:.3f} {m['macro_f1']:.3f} {m['kappa']:.3f}  {f1}  "
                     f"{m['ece']:.3f}  {m['flagged']:.2f}/{m['caught']:.2f}  {m['artefact']:.2f}  {m['unfamiliar']:>5}"
                     f"  {m.get('chin_emg', '-'):>5}"
                     f"  W {m['share_w']:.2f} REM {m['share_rem']:.2f}"
                     + (f"  {m['queue_flagged']:.2f}/{m['queue_caught']:.2f}" if "queue_flagged" in m else ""))
    return "\n".join(lines)


def summed_counts(counts: list[str]) -> str:
    """Night counts ("2/8", or "-" where none applies) added up: "3/16"; "-" when none has a count."""
    pairs = [c.split("/") for c in counts if "/" in c]
    return f"{sum(int(a) for a, _ in pairs)}/{sum(int(b) for _, b in pairs)}" if pairs else "-"


def comparison(results: dict, families) -> list[str]:
    """Lines that set each model after the first against it, as a candidate's protocol reads them: the
    in-distribution rows (A, A random), the mean accuracy of the held-out families' plain and randomised rows,
    `A fast noise`, and the nights the familiarity check calls unfamiliar among A and A random."""
    models = [m for m in next(iter(results.values())) if m != "YASA"]
    held_out = [f"{f}{r}" for f in families[1:] for r in ("", " random")]

    def acc(row, m):
        return results[row][m]["accuracy"]

    def unfamiliar(m):
        return summed_counts([results[r][m]["unfamiliar"] for r in ("A", "A random")])

    first = models[0]
    lines = []
    for m in models[1:]:
        parts = [f"{row} {acc(row, first):.3f} -> {acc(row, m):.3f} ({acc(row, m) - acc(row, first):+.3f})"
                 for row in ("A", "A random", "A fast noise")]
        if held_out:
            before = float(np.mean([acc(r, first) for r in held_out]))
            after = float(np.mean([acc(r, m) for r in held_out]))
            parts.append(f"held-out mean ({', '.join(held_out)}) {before:.3f} -> {after:.3f} ({after - before:+.3f})")
        parts.append(f"unfamiliar among A and A random {unfamiliar(first)} -> {unfamiliar(m)}")
        lines.append(f"{m} against {first}: " + "; ".join(parts))
    return lines


def over_seeds(per_seed: dict) -> dict:
    """{row: {scorer: figures}} averaged over generation seeds ({seed: results}): each figure's mean over the
    seeds, night counts (unfamiliar, chin EMG) summed, and accuracy and macro-F1 also per seed and as their SD."""
    runs = list(per_seed.values())
    out: dict = {}
    for row, scorers in runs[0].items():
        if row.startswith("real "):  # recordings on disk: no seed draws them
            out[row] = scorers
            continue
        out[row] = {}
        for scorer in scorers:
            ms = [r[row][scorer] for r in runs]
            if any(m is None for m in ms):
                out[row][scorer] = None
                continue
            mean: dict = {}
            for key, v in ms[0].items():
                if isinstance(v, dict):
                    mean[key] = {k: float(np.mean([m[key][k] for m in ms])) for k in v}
                elif key == "n_epochs":
                    mean[key] = int(sum(m[key] for m in ms))
                elif isinstance(v, str):
                    mean[key] = summed_counts([m[key] for m in ms])
                else:
                    mean[key] = float(np.mean([m[key] for m in ms]))
            for key in ("accuracy", "macro_f1"):
                mean[f"{key}_by_seed"] = {str(s): float(r[row][scorer][key]) for s, r in per_seed.items()}
                mean[f"{key}_sd"] = float(np.std([m[key] for m in ms], ddof=1)) if len(ms) > 1 else 0.0
            out[row][scorer] = mean
    return out


def format_spread(name: str, res: dict) -> str:
    lines = []
    for scorer, m in res.items():
        if m is None or "accuracy_by_seed" not in m:
            continue
        parts = []
        for key in ("accuracy", "macro_f1"):
            by = " ".join(f"{v:.3f}" for v in m[f"{key}_by_seed"].values())
            parts.append(f"{m[key]:.3f} ± {m[key + '_sd']:.3f} ({by})")
        lines.append(f"{name:<26} {scorer:<22} " + "   ".join(parts))
    return "\n".join(lines)


HEADER = (f"{'row':<26} {'scorer':<22} acc   mF1   kappa  F1 W   N1   N2   N3   REM   ECE    "
          "unsure flag/caught  artefact  unfamiliar  chin EMG  stage shares  review queue with YASA flag/caught")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, action="append",
                    help="model(s) to compare (default: the shipped model); repeat for several")
    ap.add_argument("--nights", type=int, default=2, help="test nights per synthetic row (1-8; default 2)")
    ap.add_argument("--no-yasa", action="store_true", help="leave YASA out")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--cache", type=Path, help="keep the synthetic nights in this folder and reuse them")
    ap.add_argument("--night-set", choices=sorted(NIGHT_SETS), default="young",
                    help="whose hypnograms the synthetic nights follow: the shipped model's test subjects 0, 6, 9 "
                         "and 15 (young, default) or subjects 42-49 (older: more N1, less N3)")
    ap.add_argument("--families", default="A,B",
                    help="synthetic families, the in-distribution one first (default A,B); each other one gets "
                         "its own rows and EEG-only rows")
    ap.add_argument("--seed", default="0",
                    help="generation seed of the synthetic nights (default 0): another seed draws the same "
                         "hypnograms' signals, subjects and labs afresh; several (0,1,2, the card's) give every row "
                         "per seed, then its mean over the seeds with each seed's accuracy and macro-F1 and their SD")
    args = ap.parse_args(argv)
    families = tuple(f.strip().upper() for f in args.families.split(",") if f.strip())
    if not families or families[0] != "A":
        ap.error("--families must start with A, the family the perturbation rows are made from")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.path.insert(0, str(ROOT))
    from sleepscope.model.checkpoint import default_model_path

    models = args.model or [default_model_path()]
    chosen = NIGHT_SETS[args.night_set]
    nights = list(chosen[: max(1, min(len(chosen), args.nights))])
    try:
        seeds = [int(x) for x in args.seed.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--seed takes whole numbers separated by commas, not {args.seed!r}")
    if not seeds or len(set(seeds)) != len(seeds):
        ap.error("--seed needs one seed or several different ones")
    print(f"nights: {', '.join(nights)} (generation seed{'s' if len(seeds) > 1 else ''} "
          f"{', '.join(map(str, seeds))}); models: {', '.join(str(m) for m in models)}")
    print("SYNTHETIC SIGNALS (real hypnograms): not evidence about real recordings, except the 'real' rows.")
    per_seed: dict = {}
    t = time.perf_counter()
    for seed in seeds:
        if len(seeds) > 1:
            print(f"\n== generation seed {seed}")
        print(HEADER)
        per_seed[seed] = run(models, nights, use_yasa=not args.no_yasa, cache=args.cache, families=families,
                             seed=seed)
    print(f"total {time.perf_counter() - t:.0f} s")
    results = per_seed[seeds[0]] if len(seeds) == 1 else over_seeds(per_seed)
    if len(seeds) > 1:
        print(f"\n== mean over generation seeds {', '.join(map(str, seeds))} (night counts summed)")
        print(HEADER)
        for name, res in results.items():
            print(format_row(name, res))
        print(f"\n{'row':<26} {'scorer':<22} accuracy: mean ± SD over the seeds (each seed)   macro-F1: the same")
        for line in (format_spread(name, res) for name, res in results.items()):
            if line:  # the real recordings have no spread to show
                print(line)
    for line in comparison(results, families) if len(models) > 1 else []:
        print(line)
    if args.json:
        extra = {"seed": seeds[0]} if len(seeds) == 1 else {
            "seeds": seeds, "per_seed": {str(s): r for s, r in per_seed.items()}}
        args.json.write_text(json.dumps({"nights": nights, "families": list(families), **extra,
                                         "models": [str(m) for m in models],
                                         "results": results}, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
