"""Synthetic polysomnography that follows real Sleep-EDF hypnograms.

Each synthetic night follows the REAL hypnogram of the Sleep-EDF night of the
same name (shipped in `hypnograms/sleep-edf-78-30s.json.gz`), so class
balance, stage sequences and night lengths are real; the signals carry the
physiology a scorer uses (see `sleepscope.data.synth.physiology`) and vary
between subjects and nights (`sleepscope.data.synth.subjects`).

Files are written laid out like PhysioNet's sleep-cassette folder:
`SC4ssNE0-PSG.edf` and `SC4ssNE?-Hypnogram.edf`. In Sleep-EDF the last two
characters of a hypnogram's name name its scorer (`SC4001EC`, `SC4011EH` ...)
and a PSG pairs with the hypnogram that shares its first 6 characters; we
keep that rule and pick the scorer letter deterministically from the name
(see `hypnogram_name`), so loaders cannot get away with assuming `EC`.

Stage 3 and 4 of R&K were merged into N3 in the shipped hypnograms, so N3 is
written as `Sleep stage 3`: the S3/S4 distinction is lost.

The same seed gives bit-identical signals and files: every random number is
drawn from `numpy.random.SeedSequence` streams keyed on (seed, subject,
night) (and the family); subject parameters depend on (seed, subject) only.

Physiology families and randomised acquisition
----------------------------------------------
`family` names an independently built signal model of the stages
(`sleepscope.data.synth.families`: "A" the original, "B" and "C" built apart), so
that a model can be trained on one and judged on another. `randomise=True`
records the night the way a randomly drawn lab would
(`sleepscope.data.synth.acquisition`: derivations, EOG montage and leakage,
gains, sampling rate, filters, mains, artefacts, inverted and flat channels,
labels and units as labs write them; docs/synthetic-axes.md). Without it a
night is recorded like Sleep-EDF (Fpz-Cz, Pz-Oz, horizontal EOG at 100 Hz);
family "A" without it is the original generator, bit for bit.

    synth_night(labels, *, subject, night=1, seed=0, family="A", randomise=False) -> SyntheticNight
        .signals {label: float32 µV at .fs}, .aux {label: float32 at 1 Hz}, .rates,
        .channels_of("eeg" | "eog" | "emg") -> labels, .acquisition (dict of the axes drawn), .family
    write_night(folder, name, seed=0, labels=None, *, family="A", randomise=False) -> (psg, hypnogram)
    write_cohort(folder, names, seed=0, ..., family="A", randomise=False) -> [(psg, hypnogram), ...]
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import zlib
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from multiprocessing import get_context
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np

from sleepscope.atomic import write_json_atomic
from sleepscope.data.synth import acquisition as acq_mod
from sleepscope.data.synth import edf_writer, families, physiology
from sleepscope.data.synth.subjects import night_params, signal_seed, start_time
from sleepscope.errors import SleepScopeError
from sleepscope.io.hypnogram import write_edf_hypnogram
from sleepscope.stages import Stage
from sleepscope.tasks import CancelToken, Progress, check, report

FS = physiology.FS
AUX_FS = 1
EEG_FPZ, EEG_PZ, EOG = physiology.EEG_FPZ, physiology.EEG_PZ, physiology.EOG
AUX_CHANNELS = (physiology.RESP, physiology.EMG, physiology.TEMP, physiology.MARKER)

_HYPNOGRAMS = "sleep-edf-78-30s.json.gz"
# Scorer letters seen in Sleep-EDF hypnogram names (SC4001EC, SC4011EH, SC4031EC, ...).
_SCORER_LETTERS = "ACGHJMPRUVW"
DEMO_NIGHT = "SC4001E0"


@lru_cache(maxsize=1)
def _hypnogram_table() -> dict[str, list[int]]:
    data = resources.files("sleepscope.data").joinpath("hypnograms", _HYPNOGRAMS).read_bytes()
    return json.loads(gzip.decompress(data))


def hypnogram_names() -> list[str]:
    """Every shipped Sleep-EDF night (153 SC + 44 ST), sorted."""
    return sorted(_hypnogram_table())


def real_hypnogram(name: str) -> np.ndarray:
    """The real Sleep-EDF hypnogram of night `name` (e.g. "SC4001E0"): int8 codes per 30-s epoch."""
    table = _hypnogram_table()
    key = name.strip().upper()
    if key not in table:
        raise SleepScopeError(
            f"no shipped Sleep-EDF hypnogram named {name!r}; use a night name like SC4001E0 "
            f"(subjects SC4000-SC4822, nights 1-2, or ST7011J0...)"
        )
    return np.asarray(table[key], dtype=np.int8)


def cohort_names(cohort: str) -> list[str]:
    """Night names of a cohort: "sleep-edf-20" (SC subjects 0-19, 39 nights) or "sleep-edf-78" (153 SC nights)."""
    sc = [n for n in hypnogram_names() if n.startswith("SC")]
    if cohort == "sleep-edf-78":
        return sc
    if cohort == "sleep-edf-20":
        return [n for n in sc if int(n[3:5]) < 20]
    raise SleepScopeError(f"unknown cohort {cohort!r}; choose sleep-edf-20 or sleep-edf-78")


def parse_night_name(name: str) -> tuple[int, int]:
    """(subject key, night) of a Sleep-EDF night name. ST subjects are kept apart from SC ones (+100)."""
    key = name.strip().upper()
    if len(key) < 6 or key[:2] not in ("SC", "ST") or not key[3:6].isdigit():
        raise SleepScopeError(f"{name!r} is not a Sleep-EDF night name like SC4001E0")
    subject = int(key[3:5]) + (100 if key.startswith("ST") else 0)
    return subject, int(key[5])


def hypnogram_name(name: str) -> str:
    """The hypnogram's name paired with PSG `name`: its first 7 characters (SC4001E) and a scorer letter."""
    key = name.strip().upper()
    letter = _SCORER_LETTERS[zlib.crc32(key[:6].encode()) % len(_SCORER_LETTERS)]
    return key[:7] + letter


@dataclass
class SyntheticNight:
    """One generated night: EEG/EOG (100 Hz unless randomised) and Sleep-EDF's 1-Hz auxiliary channels."""

    labels: np.ndarray  # int8 per 30-s epoch, the stages the signals follow
    signals: dict[str, np.ndarray]  # EEG and EOG by label (EEG Fpz-Cz, EEG Pz-Oz, EOG horizontal unless randomised): float32 µV at fs
    aux: dict[str, np.ndarray]  # Resp oro-nasal, EMG submental (µV), Temp rectal (°C), Event marker at 1 Hz
    start_time: dt.datetime  # clock time of the first sample (evening)
    subject: int
    night: int
    seed: int
    params: object = field(repr=False)  # the family's subject/night parameters (NightParams for family A)
    fs: float = float(FS)
    aux_fs: float = float(AUX_FS)
    family: str = "A"
    randomised: bool = False
    recording: Optional[acq_mod.Acquisition] = field(default=None, repr=False)  # None: the original family-A night
    age: int = 0
    sex: str = "F"

    @property
    def n_epochs(self) -> int:
        return len(self.labels)

    @property
    def duration_s(self) -> float:
        return self.n_epochs * 30.0

    @property
    def rates(self) -> dict[str, float]:
        return {**{k: self.fs for k in self.signals}, **{k: self.aux_fs for k in self.aux}}

    def physical_limits(self) -> dict[str, float]:
        """The symmetric physical range (µV) each EEG/EOG channel is clipped to, as in the EDF header."""
        if self.recording is not None:
            return {c.label: c.physical_uv for c in self.recording.channels}
        p = self.params
        return {EEG_FPZ: p.physical_eeg_uv, EEG_PZ: p.physical_pz_uv, EOG: p.physical_eog_uv}

    def channels_of(self, kind: str) -> list[str]:
        """Labels of the EEG (`kind="eeg"`), EOG or raw chin EMG (`"emg"`) channels among `signals`, in file
        order (the Sleep-EDF set-up's EMG is an auxiliary 1-Hz channel, not among them)."""
        if self.recording is None:
            return [EEG_FPZ, EEG_PZ] if kind == "eeg" else [EOG] if kind == "eog" else []
        if kind == "emg":
            return [self.recording.chin_emg.label] if self.recording.chin_emg is not None else []
        return [c.label for c in self.recording.channels if c.kind == kind]

    @property
    def acquisition(self) -> dict:
        """The acquisition axes this night was recorded with (see `sleepscope.data.synth.acquisition`)."""
        if self.recording is None:
            return {"randomised": False, "fs": FS, "channels": [
                {"label": k, "kind": "eeg" if k != EOG else "eog", "derivation": d, "physical_uv": v, "inverted": False}
                for (k, v), d in zip(self.physical_limits().items(), ("Fpz-Cz", "Pz-Oz", "E1-E2"))]}
        return self.recording.to_dict()


def synth_night(
    labels: Sequence[int] | np.ndarray,
    *,
    subject: int,
    night: int = 1,
    seed: int = 0,
    family: str = "A",
    randomise: bool = False,
) -> SyntheticNight:
    """Generate the signals of one night that follows `labels` (stage codes per 30-s epoch, -1 unscored).

    `family` chooses the physiology ("A", "B", "C"); `randomise` records it with a
    randomly drawn lab set-up instead of Sleep-EDF's. UNSCORED epochs carry
    wake-like signal with movement artefacts, as Sleep-EDF's `Movement time`
    and `Sleep stage ?` do.
    """
    codes = np.asarray(labels, dtype=np.int64)
    if codes.ndim != 1 or len(codes) == 0:
        raise SleepScopeError("synth_night needs a non-empty sequence of per-epoch stage codes")
    valid = {int(s) for s in Stage}
    bad = sorted(set(np.unique(codes).tolist()) - valid)
    if bad:
        raise SleepScopeError(f"unknown stage codes {bad}; use -1 (unscored), 0 W, 1 N1, 2 N2, 3 N3, 4 REM")
    if seed < 0 or subject < 0 or night < 0:
        raise SleepScopeError("seed, subject and night must be non-negative integers")
    family = families.check_family(family)
    if family == "A" and not randomise:
        params = night_params(seed, subject, night)
        rng = np.random.default_rng(signal_seed(seed, subject, night))
        out = physiology.generate(codes, params, rng)
        return SyntheticNight(
            labels=codes.astype(np.int8),
            signals=out.fast,
            aux=out.aux,
            start_time=start_time(params, subject),
            subject=int(subject),
            night=int(night),
            seed=int(seed),
            params=params,
            age=params.subject.age,
            sex=params.subject.sex,
        )
    src = families.sources(family, codes, seed=seed, subject=subject, night=night)
    duration = len(codes) * 30.0
    if randomise:
        setup = acq_mod.draw(seed, subject, night, age=src.age, duration_s=duration)
    else:
        setup = acq_mod.sleep_edf(seed, subject, night, age=src.age, leakage=src.eog_leak)
    signals = acq_mod.record(src, setup, acq_mod.signal_seed(seed, subject, night))
    return SyntheticNight(
        labels=codes.astype(np.int8),
        signals=signals,
        aux=src.aux,
        start_time=src.start_time,
        subject=int(subject),
        night=int(night),
        seed=int(seed),
        params=src.params,
        fs=float(setup.fs),
        family=family,
        randomised=bool(randomise),
        recording=setup,
        age=src.age,
        sex=src.sex,
    )


def write_night(
    folder: str | os.PathLike,
    name: str,
    seed: int = 0,
    labels: Optional[Sequence[int]] = None,
    *,
    family: str = "A",
    randomise: bool = False,
) -> tuple[Path, Path]:
    """Write `NAME-PSG.edf` and its `-Hypnogram.edf` into `folder` for night `name`; return both paths.

    The night follows the real hypnogram of `name` unless `labels` (stage codes
    per epoch) are given: short custom nights for tests and examples. `family`
    and `randomise` as in `synth_night`. Files appear atomically (written under
    a temporary name, then renamed), so an interrupted run never leaves a
    half-written EDF under a real name.
    """
    key = name.strip().upper()
    subject, night = parse_night_name(key)
    labels = real_hypnogram(key) if labels is None else np.asarray(labels, dtype=np.int8)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    synth = synth_night(labels, subject=subject, night=night, seed=seed, family=family, randomise=randomise)
    patient = f"{'Female' if synth.sex == 'F' else 'Male'}_{synth.age}yr"
    psg = folder / f"{key}-PSG.edf"
    hyp = folder / f"{hypnogram_name(key)}-Hypnogram.edf"
    tmp_psg = psg.with_name(psg.name + ".part")
    tmp_hyp = hyp.with_name(hyp.name + ".part")
    try:
        if synth.recording is None:
            edf_writer.write_psg(tmp_psg, synth.signals, synth.aux, synth.physical_limits(), synth.start_time,
                                 patient, synth.sex)
        else:
            edf_writer.write_recording(tmp_psg, synth.signals, synth.aux, synth.recording, synth.start_time,
                                       patient, synth.sex)
        write_edf_hypnogram(tmp_hyp, synth.labels, synth.start_time)
        os.replace(tmp_hyp, hyp)
        os.replace(tmp_psg, psg)
    finally:
        for tmp in (tmp_psg, tmp_hyp):
            tmp.unlink(missing_ok=True)
    return psg, hyp


def _write_one(args: tuple[str, str, int, Optional[list[int]], str, bool]) -> tuple[Path, Path]:
    folder, name, seed, labels, family, randomise = args
    return write_night(folder, name, seed, labels, family=family, randomise=randomise)


#: Written into every folder `write_cohort` fills, so that results computed on
#: it (`sleepscope experiment paper`) are labelled as synthetic without relying
#: on the user to say so.
SYNTHETIC_MARKER = "sleepscope-synthetic.json"


def read_marker(folder: str | os.PathLike) -> Optional[dict]:
    """The folder's synthetic mark (generator, seed, family, randomised, nights), or None."""
    try:
        info = json.loads((Path(folder) / SYNTHETIC_MARKER).read_text())
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def _mark_synthetic(folder: Path, names: Sequence[str], seed: int, family: str, randomise: bool) -> None:
    marker = folder / SYNTHETIC_MARKER
    old = read_marker(folder) or {}
    known = set(old.get("nights", []))
    # A folder is one cohort: nights of another family or set-up would be mixed up in it unnoticed.
    before = (old.get("family", "A"), bool(old.get("randomised", False)))
    if known and before != (family, bool(randomise)):
        raise SleepScopeError(
            f"{folder} already holds synthetic nights of family {before[0]}"
            f"{' (randomised)' if before[1] else ''}; write family {family}"
            f"{' (randomised)' if randomise else ''} into another folder"
        )
    info = {
        "generator": "sleepscope.data.synthetic",
        "note": "synthetic EEG/EOG following real Sleep-EDF hypnograms; not real recordings",
        "seed": seed,
        "family": family,
        "randomised": bool(randomise),
        "nights": sorted(known | set(names)),
    }
    write_json_atomic(marker, info)


def write_cohort(
    folder: str | os.PathLike,
    names: Sequence[str],
    seed: int = 0,
    progress: Optional[Progress] = None,
    cancel: Optional[CancelToken] = None,
    workers: int = 2,
    labels: Optional[Mapping[str, Sequence[int]]] = None,
    *,
    family: str = "A",
    randomise: bool = False,
) -> list[tuple[Path, Path]]:
    """Write every night in `names` into `folder` (PhysioNet sleep-cassette layout); return (PSG, hypnogram) pairs.

    With `workers` > 1 nights are generated in that many processes; the files
    do not depend on the number of workers. `labels` maps a night name to
    stage codes that replace its real hypnogram (custom cohorts, tests).
    `family` and `randomise` as in `synth_night`; the folder's mark records both.
    """
    family = families.check_family(family)
    names = [n.strip().upper() for n in names]
    custom = {k.strip().upper(): [int(c) for c in v] for k, v in (labels or {}).items()}
    for n in names:  # fail before any work on a bad name
        parse_night_name(n)
        if n not in custom:
            real_hypnogram(n)
    folder = Path(folder)
    created = not folder.exists()
    had_marker = (folder / SYNTHETIC_MARKER).exists()
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, tuple[Path, Path]] = {}
    try:
        _mark_synthetic(folder, names, seed, family, randomise)
        return _write_nights(folder, names, seed, custom, family, randomise, workers, results, progress, cancel)
    except BaseException:
        # A run that wrote no night leaves no trace: no marker of a cohort that is not there.
        if not results and not had_marker:
            (folder / SYNTHETIC_MARKER).unlink(missing_ok=True)
            if created:
                try:
                    folder.rmdir()
                except OSError:
                    pass
        raise


def _write_nights(folder: Path, names: list[str], seed: int, custom: dict, family: str, randomise: bool,
                  workers: int, results: dict, progress: Progress | None, cancel: CancelToken | None):
    total = len(names)
    report(progress, 0, total, "writing synthetic nights")
    if workers <= 1 or total <= 1:
        for i, n in enumerate(names):
            check(cancel)
            results[n] = write_night(folder, n, seed, custom.get(n), family=family, randomise=randomise)
            report(progress, i + 1, total, n)
        return [results[n] for n in names]

    # spawn, not fork: the caller may be a GUI process with threads.
    with ProcessPoolExecutor(max_workers=min(workers, total), mp_context=get_context("spawn")) as pool:
        pending: dict[Future, str] = {}
        queue = list(names)
        try:
            # Keep only a few nights queued so that a cancel takes effect soon.
            while queue or pending:
                while queue and len(pending) < 2 * workers:
                    n = queue.pop(0)
                    pending[pool.submit(_write_one, (str(folder), n, seed, custom.get(n), family, randomise))] = n
                done, _ = wait(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in done:
                    n = pending.pop(fut)
                    results[n] = fut.result()
                    report(progress, len(results), total, n)
                check(cancel)
        except BaseException:  # Cancelled, KeyboardInterrupt or a failed night
            for fut in pending:
                fut.cancel()
            raise
    return [results[n] for n in names]


def demo_recording(seed: int = 0) -> Path:
    """The demo night's PSG (synthetic SC4001E0, 840 epochs), created once in the user data folder."""
    from sleepscope.paths import user_data_dir

    folder = user_data_dir() / "demo"
    psg = folder / f"{DEMO_NIGHT}-PSG.edf"
    hyp = folder / f"{hypnogram_name(DEMO_NIGHT)}-Hypnogram.edf"
    if not (psg.exists() and hyp.exists()):
        write_night(folder, DEMO_NIGHT, seed)
    return psg
