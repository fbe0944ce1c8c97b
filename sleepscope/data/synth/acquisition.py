"""Recording a night's sources the way a lab does: the randomised acquisition axes.

Every family's `Sources` go through here, so the axes are the same whichever
physiology is underneath. `draw` picks a lab set-up (per subject: montage,
labels, sampling rate, filters, mains, units) and a night's variations (gain,
EOG leakage and noise, artefacts, inverted or flat channels); `sleep_edf` is
the fixed set-up of Sleep-EDF's cassette recorder. `record` turns sources
into the channels written to the EDF file. docs/synthetic-axes.md gives each
axis, the real-world range it covers and where that range comes from.

Derivations are mixed from the sources by topography class
(`sleepscope.data.synth.families.COMPONENTS`): alpha is posterior, spindles
central, slow waves and K-complexes frontal, vertex waves at the vertex, eye
movements and blinks frontal. Two independent realisations of each process
(`main`, `alt`) are blended by a per-derivation angle, so derivations far
apart on the scalp share less of their activity than neighbours do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import numpy as np
from scipy import signal
from scipy.ndimage import gaussian_filter1d

from sleepscope.data.synth.common import keyed_rng, keyed_seed, loguniform
from sleepscope.data.synth.families import COMPONENTS, FS, Sources

_ACQ_SUBJECT_KEY = 0xAC5
_ACQ_NIGHT_KEY = 0xAC7
_ACQ_SIGNAL_KEY = 0xAC9
_ACQ_EMG_KEY = 0xACB

# Amplitude of each topography class on a derivation, relative to its
# calibration derivation (Pz-Oz for alpha, Fpz-Cz otherwise), and the
# derivation's blend angle between the two realisations. Regions: Fpz-Cz,
# Pz-Oz, Fp/F/C/Cz/O against a mastoid, and the EOG electrodes (what an EOG
# electrode picks up of the frontal EEG). Topography after the AASM manual
# (alpha occipital, spindles central, K-complexes and slow waves frontal) and
# the high-density studies cited in docs/synthetic-axes.md.
_COLUMNS = COMPONENTS + ("eye", "blink")
_GAIN = {
    #        background alpha theta slow spindle vertex beta muscle eye  blink
    "fpzcz": (1.0, 0.30, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0),
    "pzoz": (0.8, 1.0, 0.7, 0.45, 0.45, 0.3, 0.8, 0.4, 0.03, 0.03),
    "fp": (1.1, 0.35, 0.9, 1.15, 0.6, 0.5, 1.1, 1.6, 1.6, 2.0),
    "f": (1.1, 0.45, 1.1, 1.3, 0.9, 0.9, 1.0, 1.2, 0.6, 0.5),
    "c": (1.1, 0.65, 1.2, 1.05, 1.3, 1.2, 0.9, 0.9, 0.2, 0.12),
    "cz": (1.0, 0.6, 1.2, 1.0, 1.35, 1.45, 0.9, 0.7, 0.15, 0.1),
    "o": (1.1, 1.3, 0.8, 0.6, 0.45, 0.35, 0.8, 1.0, 0.05, 0.03),
    "eog": (1.0, 0.3, 0.8, 1.1, 0.4, 0.4, 1.0, 1.5, 0.0, 0.0),
}
_ANGLE = {"fpzcz": 0.0, "pzoz": 0.8, "fp": 0.15, "f": 0.3, "c": 0.5, "cz": 0.5, "o": 0.8, "eog": 0.2}
_CALIBRATION = {k: ("pzoz" if k == "alpha" else "fpzcz") for k in COMPONENTS}
# A derivation to the mastoid on the same side is shorter: smaller cortical signal.
_IPSILATERAL = 0.8


def frontal(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A source as the (main, alt) pair of a component calibrated on Fpz-Cz that puts it on Fpz-Cz in full,
    on F, C and the EOG less, and on Pz-Oz and O-M not at all: a frontal generator (frontal theta)."""
    a = _ANGLE["pzoz"] - _ANGLE["fpzcz"]
    return x, (-x / np.tan(a)).astype(x.dtype, copy=False)


#: EEG montages labs use (AASM recommended, its alternatives, Sleep-EDF's) and how often we draw them.
MONTAGES: tuple[tuple[tuple[str, ...], float], ...] = (
    (("Fpz-Cz", "Pz-Oz"), 0.15),
    (("F4-M1", "C4-M1", "O2-M1"), 0.25),
    (("F3-M2", "C3-M2", "O1-M2"), 0.10),
    (("C4-M1",), 0.10),
    (("C3-M2",), 0.05),
    (("C3-M2", "C4-M1"), 0.10),
    (("C3-M1", "O1-M1", "Fp1-M1"), 0.08),
    (("Cz-M1", "C3-M2"), 0.07),
    (("Fp1-M2", "C4-M1"), 0.05),
    (("F4-M1", "C4-M1"), 0.05),
)
#: EOG montages: both eyes to a mastoid (AASM), the left eye only, or one bipolar horizontal channel.
EOG_MONTAGES: tuple[tuple[tuple[str, ...], float], ...] = (
    (("E1-M2", "E2-M1"), 0.55),
    (("E1-M2",), 0.15),
    (("E1-E2",), 0.30),
)
_RATES = ((50, 0.05), (64, 0.03), (100, 0.2), (125, 0.05), (128, 0.1), (200, 0.15), (250, 0.1),
          (256, 0.15), (500, 0.1), (512, 0.07))
# How labs write an EEG label: a type prefix or not, mastoids as M or A, upper case or not.
_EEG_STYLES = ("EEG {a}-{r}", "{a}-{r}", "{A}-{R_A}", "EEG {a}-{r_A}")
_EOG_STYLES = {
    "mastoid": (("E1-M2", "E2-M1"), ("EOG E1-M2", "EOG E2-M1"), ("LOC-A2", "ROC-A1"), ("LOC", "ROC"),
                ("EOG1-A1", "EOG2-A2"), ("EOG(L)", "EOG(R)")),
    "bipolar": ("EOG horizontal", "E1-E2", "HEOG", "EOG LOC-ROC"),
}
_UNITS = (("uV", 0.65), ("µV", 0.2), ("UV", 0.15))


@dataclass(frozen=True)
class Channel:
    label: str  # as written in the file, e.g. "C3-A2", "EEG C4-M1", "LOC"
    kind: str  # "eeg" or "eog"
    derivation: str  # canonical: "C3-M2", "Fpz-Cz", "E1-M2", "E1-E2"
    physical_uv: float  # symmetric physical range in the EDF header
    inverted: bool = False  # polarity reversed (a swapped input pair)


@dataclass(frozen=True)
class ChinEmg:
    """A lab's raw chin EMG (submental, bipolar), recorded at the set-up's rate: muscle activity whose RMS follows
    the physiology's 1-Hz tone, over a floor (amplifier and electrode noise), with the ECG a chin lead picks up."""

    label: str
    physical_uv: float
    gain: float  # RMS of the muscle activity per µV of the physiology's rectified envelope
    floor_uv: float  # RMS of the noise floor
    ecg_uv: float  # peak of the ECG artefact (0: none)


@dataclass(frozen=True)
class Acquisition:
    """How one night was recorded. `to_dict()` is what `synth_night` reports as `acquisition`."""

    randomised: bool
    channels: tuple[Channel, ...]
    fs: int  # sampling rate of the EEG and EOG channels
    record_s: int  # EDF data-record duration
    unit: str  # physical dimension as written: "uV", "µV" or "UV"
    highpass_hz: float
    highpass_order: int
    lowpass_hz: Optional[float]
    notch_hz: Optional[float]
    mains_hz: float
    mains_uv: float
    eeg_gain_subject: float  # skull, scalp, electrode distance: multiplies every EEG derivation
    eeg_gain_night: float
    age: int
    slow_age_factor: float  # slow waves and K-complexes shrink with age
    eog_gain: float  # size of eye movements in the EOG
    leakage: float  # share of frontal EEG in each EOG channel (0 none .. 1 as much as Fp-M)
    eog_noise_uv: float  # EOG electrode and skin noise: sets how quiet the EOG is in NREM
    crosstalk: float  # share of the horizontal eye potential reaching Fpz-Cz
    amplifier_noise_uv: float
    ecg_uv: float  # ECG artefact on mastoid-referenced channels (0: none)
    heart_bpm: float
    movement_scale: float  # body movements relative to the family's own propensity
    pops_per_hour: float  # electrode pops per channel
    sweat_per_hour: float  # slow sweat sways per channel
    flat: tuple[tuple[str, float, float], ...]  # (label, start s, duration s): flat (missing) stretches
    #: a raw chin EMG (randomised labs); None: Sleep-EDF's 1-Hz envelope alone, among the auxiliary channels
    chin_emg: Optional[ChinEmg] = None

    @property
    def eeg(self) -> tuple[Channel, ...]:
        return tuple(c for c in self.channels if c.kind == "eeg")

    @property
    def eog(self) -> tuple[Channel, ...]:
        return tuple(c for c in self.channels if c.kind == "eog")

    @property
    def eeg_gain(self) -> float:
        return self.eeg_gain_subject * self.eeg_gain_night

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["channels"] = [dataclasses.asdict(c) for c in self.channels]
        d["flat"] = [list(f) for f in self.flat]
        d["chin_emg"] = None if self.chin_emg is None else dataclasses.asdict(self.chin_emg)
        d["eeg_gain"] = self.eeg_gain
        return d


def _pick(rng: np.random.Generator, options):
    values, p = zip(*options)
    return values[int(rng.choice(len(values), p=np.asarray(p) / sum(p)))]


def slow_age_factor(age: int) -> float:
    """Slow-wave amplitude relative to a young adult's: it roughly halves between 20 and 70."""
    return float(np.clip(1.15 - 0.011 * (age - 20), 0.45, 1.15))


def _eeg_label(derivation: str, style: str) -> str:
    if derivation in ("Fpz-Cz", "Pz-Oz"):
        return derivation.upper() if style.startswith("{A}") else ("EEG " + derivation if "EEG" in style else derivation)
    active, ref = derivation.split("-")
    ref_a = ref.replace("M", "A")
    return style.format(a=active, r=ref, A=active.upper(), R_A=ref_a, r_A=ref_a)


def draw(seed: int, subject: int, night: int, *, age: int, duration_s: float) -> Acquisition:
    """A randomised set-up: the lab's per subject (both nights alike), the night's per night."""
    lab = keyed_rng(seed, _ACQ_SUBJECT_KEY, subject)
    eeg = _pick(lab, MONTAGES)
    eog = _pick(lab, EOG_MONTAGES)
    style = _EEG_STYLES[int(lab.integers(len(_EEG_STYLES)))]
    fs = int(_pick(lab, _RATES))
    record_s = 30 if lab.random() < 0.6 else 1
    unit = _pick(lab, _UNITS)
    highpass = float(lab.choice([0.1, 0.16, 0.3, 0.5]))
    highpass_order = int(lab.integers(1, 3))
    lowpasses = [f for f in (30.0, 35.0, 40.0, 45.0, 70.0, 100.0) if f < 0.45 * fs]
    lowpass = float(lab.choice(lowpasses)) if lowpasses and lab.random() < 0.8 else None
    mains_hz = 60.0 if lab.random() < 0.3 else 50.0
    notch = mains_hz if mains_hz < 0.5 * fs and lab.random() < 0.3 else None
    eeg_range = float(lab.choice([500.0, 800.0, 1000.0, 3276.7]))
    eog_range = float(lab.choice([1000.0, 2000.0, 3276.7]))
    gain_subject = loguniform(lab, 0.4, 2.4)
    eog_gain_subject = loguniform(lab, 0.5, 2.0)
    ecg = loguniform(lab, 2.0, 25.0) if lab.random() < 0.5 else 0.0
    crosstalk = float(lab.uniform(0.02, 0.3))
    eog_label = eog_style = None
    if eog[0] == "E1-E2":
        eog_label = (_EOG_STYLES["bipolar"][int(lab.integers(len(_EOG_STYLES["bipolar"])))],)
    else:
        eog_style = _EOG_STYLES["mastoid"][int(lab.integers(len(_EOG_STYLES["mastoid"])))]
        eog_label = eog_style[: len(eog)]

    rng = keyed_rng(seed, _ACQ_NIGHT_KEY, subject, night)
    gain_night = float(np.exp(rng.normal(0.0, 0.12)))
    gain_night = float(np.clip(gain_subject * gain_night, 0.3, 3.0) / gain_subject)
    # Leakage: some montages and electrode placements pick up almost no EEG, others nearly all of Fp.
    leakage = float(rng.uniform(0.0, 0.05) if rng.random() < 0.2 else rng.uniform(0.05, 0.9))
    eog_noise = loguniform(rng, 0.5, 12.0)
    inverted = rng.random(len(eeg) + len(eog)) < 0.06
    if eog == ("E1-M2", "E2-M1") and eog_style == ("EOG1-A1", "EOG2-A2"):
        eog = ("E1-M1", "E2-M2")  # that lab references each eye to its own side
    channels = [Channel(_eeg_label(d, style), "eeg", d, eeg_range, bool(inverted[i])) for i, d in enumerate(eeg)]
    channels += [Channel(lbl, "eog", d, eog_range, bool(inverted[len(eeg) + i]))
                 for i, (d, lbl) in enumerate(zip(eog, eog_label))]
    flat = []
    if rng.random() < 0.2:
        for _ in range(int(rng.integers(1, 4))):
            length = float(min(loguniform(rng, 10.0, 900.0), 0.5 * duration_s))
            start = float(rng.uniform(0.0, max(duration_s - length, 0.0)))
            flat.append((channels[int(rng.integers(len(channels)))].label, round(start, 2), round(length, 2)))
    return Acquisition(
        chin_emg=_draw_chin_emg(seed, subject, night),
        randomised=True,
        channels=tuple(channels),
        fs=fs,
        record_s=record_s,
        unit=unit,
        highpass_hz=highpass,
        highpass_order=highpass_order,
        lowpass_hz=lowpass,
        notch_hz=notch,
        mains_hz=mains_hz,
        mains_uv=loguniform(rng, 0.1, 20.0) if rng.random() < 0.9 else loguniform(rng, 20.0, 80.0),
        eeg_gain_subject=gain_subject,
        eeg_gain_night=gain_night,
        age=int(age),
        slow_age_factor=slow_age_factor(age),
        eog_gain=eog_gain_subject * float(np.exp(rng.normal(0.0, 0.1))),
        leakage=leakage,
        eog_noise_uv=eog_noise,
        crosstalk=crosstalk,
        amplifier_noise_uv=loguniform(rng, 0.3, 2.0),
        ecg_uv=ecg * float(np.exp(rng.normal(0.0, 0.2))),
        heart_bpm=float(rng.uniform(50.0, 85.0)),
        movement_scale=loguniform(rng, 0.5, 2.0),
        pops_per_hour=loguniform(rng, 0.2, 10.0),
        sweat_per_hour=loguniform(rng, 0.05, 2.0) if rng.random() < 0.4 else 0.0,
        flat=tuple(flat),
    )


_EMG_LABELS = ("Chin1-Chin2", "EMG Chin", "CHIN", "Chin EMG", "EMG1-EMG2", "EMG")


def _draw_chin_emg(seed: int, subject: int, night: int) -> ChinEmg:
    """The chin EMG of a randomised lab (its own random stream: the other axes' draws are as they were)."""
    lab = keyed_rng(seed, _ACQ_EMG_KEY, subject)
    rng = keyed_rng(seed, _ACQ_EMG_KEY, subject, night)
    return ChinEmg(label=_EMG_LABELS[int(lab.integers(len(_EMG_LABELS)))],
                   physical_uv=float(lab.choice([200.0, 500.0, 1000.0, 3276.7])),
                   gain=loguniform(lab, 1.0, 6.0) * float(np.exp(rng.normal(0.0, 0.15))),
                   floor_uv=loguniform(rng, 0.3, 3.0),
                   ecg_uv=loguniform(rng, 1.0, 20.0) if rng.random() < 0.6 else 0.0)


def sleep_edf(seed: int, subject: int, night: int, *, age: int, leakage: float) -> Acquisition:
    """Sleep-EDF's cassette set-up: Fpz-Cz, Pz-Oz and a bipolar horizontal EOG at 100 Hz, high-pass 0.5 Hz."""
    rng = keyed_rng(seed, _ACQ_NIGHT_KEY, subject, night)
    channels = (
        Channel("EEG Fpz-Cz", "eeg", "Fpz-Cz", float(rng.choice([192.0, 196.0, 200.0, 224.0, 250.0]))),
        Channel("EEG Pz-Oz", "eeg", "Pz-Oz", float(rng.choice([196.0, 197.0, 200.0, 250.0]))),
        Channel("EOG horizontal", "eog", "E1-E2", float(rng.choice([800.0, 1009.0, 1020.0, 1100.0]))),
    )
    return Acquisition(
        randomised=False, channels=channels, fs=FS, record_s=30, unit="uV", highpass_hz=0.5, highpass_order=1,
        lowpass_hz=None, notch_hz=None, mains_hz=50.0, mains_uv=loguniform(rng, 0.2, 8.0),
        eeg_gain_subject=loguniform(rng, 0.7, 1.4), eeg_gain_night=1.0, age=int(age), slow_age_factor=1.0,
        eog_gain=1.0, leakage=float(leakage), eog_noise_uv=float(rng.uniform(1.5, 4.0)),
        # Fpz-Cz lies on the midline, where a horizontal gaze shift moves both sides alike: only electrode
        # asymmetry lets a little through, of either sign (families B and C only: A's plain nights bypass this).
        crosstalk=float(rng.uniform(-0.08, 0.08)), amplifier_noise_uv=0.5, ecg_uv=0.0, heart_bpm=60.0,
        movement_scale=1.0, pops_per_hour=loguniform(rng, 0.5, 12.0), sweat_per_hour=0.0, flat=(),
    )


# ---- recording ------------------------------------------------------------------

def _region(derivation: str) -> tuple[str, float, bool]:
    """(gain-table region, hemisphere angle, ipsilateral reference?) of an EEG derivation."""
    if derivation in ("Fpz-Cz", "Pz-Oz"):
        return derivation.replace("-", "").lower(), 0.0, False
    active, ref = derivation.split("-")
    region = "cz" if active == "Cz" else active.rstrip("0123456789").lower()
    side = int(active[-1]) % 2 if active[-1].isdigit() else None  # 1 left (odd), 0 right (even)
    ref_left = ref.endswith("1")
    hemisphere = 0.0 if side is None else (-0.15 if side == 1 else 0.15)
    ipsi = side is not None and (side == 1) == ref_left
    return region, hemisphere, ipsi


def _mix(src: Sources, region: str, extra_angle: float, scale: dict[str, float], skip=()) -> np.ndarray:
    out = np.zeros(src.n_samples, dtype=np.float32)
    for k, g in zip(_COLUMNS, _GAIN[region]):
        if k in ("eye", "blink") or k in skip:
            continue
        main, alt = src.components[k]
        g = g * scale.get(k, 1.0)
        if alt is None:
            out += np.float32(g) * main
            continue
        angle = _ANGLE[region] + extra_angle - _ANGLE[_CALIBRATION[k]]
        out += np.float32(g * np.cos(angle)) * main
        out += np.float32(g * np.sin(angle)) * alt
    return out


def _resample(x: np.ndarray, fs: int) -> np.ndarray:
    if fs == FS:
        return x.astype(np.float32)
    ratio = Fraction(fs, FS)
    return signal.resample_poly(x.astype(np.float32), ratio.numerator, ratio.denominator).astype(np.float32)


def _sine(n: int, fs: int, hz: float, phase: float) -> np.ndarray:
    """sin(2 pi hz t + phase) for n samples, float32, exact over long nights (per-second blocks)."""
    n_sec = -(-n // fs)
    start = (2 * np.pi * hz * np.arange(n_sec) + phase) % (2 * np.pi)  # phase at each whole second
    within = 2 * np.pi * hz * np.arange(fs) / fs
    s0, c0 = np.sin(start).astype(np.float32)[:, None], np.cos(start).astype(np.float32)[:, None]
    out = s0 * np.cos(within).astype(np.float32)[None, :]
    out += c0 * np.sin(within).astype(np.float32)[None, :]
    return out.ravel()[:n]


def _event_seconds(rng: np.random.Generator, rate_per_min: np.ndarray) -> np.ndarray:
    counts = rng.poisson(np.maximum(rate_per_min, 0.0) / 60.0)
    sec = np.repeat(np.arange(len(rate_per_min)), counts)
    return sec + rng.random(len(sec))


def _add(out: np.ndarray, fs: int, t_s: float, x: np.ndarray) -> None:
    i = int(round(t_s * fs))
    j = min(len(out), i + len(x))
    if i < j:
        out[i:j] += x[: j - i]


def _ecg(rng: np.random.Generator, n: int, fs: int, bpm: float) -> np.ndarray:
    """Unit-peak ECG as a scalp lead sees it: a sharp QRS and a broad T wave per beat."""
    t = np.arange(int(0.6 * fs)) / fs
    beat = np.exp(-0.5 * ((t - 0.1) / 0.012) ** 2) - 0.25 * np.exp(-0.5 * ((t - 0.125) / 0.015) ** 2)
    beat += 0.25 * np.exp(-0.5 * ((t - 0.35) / 0.05) ** 2)
    period = 60.0 / bpm
    n_beats = int(n / fs / period) + 2
    # Heart-rate variability: breathing-linked and slow.
    intervals = period * (1 + 0.05 * np.sin(np.arange(n_beats) * 2 * np.pi / 4.5) + 0.03 * rng.standard_normal(n_beats))
    times = np.cumsum(intervals) - intervals[0] * rng.random()
    out = np.zeros(n, dtype=np.float32)
    idx = np.round(times * fs).astype(np.int64)
    idx = idx[(idx >= 0) & (idx < n)]
    out[idx] = 1.0
    return signal.oaconvolve(out, beat.astype(np.float32), mode="full")[:n].astype(np.float32)


def record(src: Sources, acq: Acquisition, seed: np.random.SeedSequence) -> dict[str, np.ndarray]:
    """The recorded EEG and EOG channels (label -> float32 µV at `acq.fs`), in `acq.channels` order.

    Each kind of noise and artefact has its own random stream, so changing one
    axis (a rate, an amplitude) leaves the others' draws as they were.
    """
    # Children named by index, not `seed.spawn()`, which counts calls and would change the streams.
    noise_rng, mains_rng, ecg_rng, move_rng, pop_rng, sweat_rng = (
        np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k))) for k in range(6))
    fs = acq.fs
    n_sec = len(src.movement_per_min)
    n = int(round(src.n_samples * fs / FS))
    scale = {"slow": acq.slow_age_factor}
    raw: dict[str, np.ndarray] = {}
    for ch in acq.channels:
        if ch.kind == "eeg":
            region, angle, ipsi = _region(ch.derivation)
            x = _mix(src, region, angle, scale)
            if ipsi:
                x *= np.float32(_IPSILATERAL)
            i_eye, i_blink = _COLUMNS.index("eye"), _COLUMNS.index("blink")
            x += np.float32(acq.crosstalk * _GAIN[region][i_eye]) * src.eye
            x += np.float32(_GAIN[region][i_blink]) * src.blink
            x *= np.float32(acq.eeg_gain)
        else:
            # E1 (left, below) and E2 (right, above): a horizontal movement deflects them in
            # opposite directions, EEG in the same; a bipolar E1-E2 doubles the eye signal.
            e = ch.derivation.split("-")[0]
            side = 1.0 if e == "E1" else -1.0
            if ch.derivation == "E1-E2":
                eye, blink, angle = src.eye, 0.3 * src.blink, 0.0
            else:
                eye, blink, angle = 0.5 * side * src.eye, (-0.25 if e == "E1" else 0.6) * src.blink, 0.1 * side
            leak = _mix(src, "eog", angle, scale, skip=("muscle",))
            x = np.float32(acq.eog_gain) * (eye + blink) + np.float32(acq.leakage * acq.eeg_gain) * leak
            x += np.float32(1.5) * src.components["muscle"][1]
        raw[ch.label] = _resample(x, fs)

    # At the recorder: noise, mains and artefacts at the recording rate.
    line = None
    if acq.mains_hz < 0.5 * fs:  # above Nyquist the recorder's anti-aliasing filter removes it
        # Unit-variance slow drift by its expected spread, not the sample's (short nights stay tame).
        drift = gaussian_filter1d(mains_rng.standard_normal(n_sec), 120.0, mode="wrap") * np.sqrt(2 * np.sqrt(np.pi) * 120.0)
        env = np.exp(0.5 * drift)
        env = np.repeat((env / env.mean()).astype(np.float32), fs)[:n]
        line = env * _sine(n, fs, acq.mains_hz + mains_rng.uniform(-0.02, 0.02), mains_rng.uniform(0, 2 * np.pi))
    ecg = _ecg(ecg_rng, n, fs, acq.heart_bpm) if acq.ecg_uv > 0 else None
    t_mv = _event_seconds(move_rng, src.movement_per_min * acq.movement_scale)
    movements = []
    for tm in t_mv:
        length = int(move_rng.uniform(2.0, 8.0) * fs)
        env = np.sin(np.pi * np.arange(length) / length) ** 0.7
        slow = np.cumsum(move_rng.standard_normal(length))
        slow -= np.linspace(0, 1, length) * slow[-1]
        slow /= slow.std() + 1e-9
        movements.append((tm, move_rng.uniform(40, 300) * env * (slow + 0.6 * move_rng.standard_normal(length))))
    for ch in acq.channels:
        x = raw[ch.label]
        noise = acq.eog_noise_uv if ch.kind == "eog" else acq.amplifier_noise_uv
        x += np.float32(noise * np.sqrt(fs / FS)) * noise_rng.standard_normal(n, dtype=np.float32)
        mains_gain = np.float32(acq.mains_uv * mains_rng.uniform(0.5, 1.5))
        if line is not None:
            x += mains_gain * line
        # ECG reaches the scalp mostly through the mastoid references.
        ecg_gain = acq.ecg_uv * ecg_rng.uniform(0.3, 1.0)
        if ecg is not None and ch.derivation not in ("Fpz-Cz", "Pz-Oz", "E1-E2"):
            x += np.float32(ecg_gain) * ecg
        for tm, mv in movements:
            _add(x, fs, tm, (1.5 if ch.kind == "eog" else 1.0) * move_rng.uniform(0.6, 1.2) * mv)
        for tp in pop_rng.uniform(0, n / fs, pop_rng.poisson(acq.pops_per_hour * n / fs / 3600)):
            tau = pop_rng.uniform(0.08, 0.5)
            size = pop_rng.choice([-1.0, 1.0]) * pop_rng.uniform(80, 600)
            _add(x, fs, tp, size * np.exp(-np.arange(int(2 * fs)) / (tau * fs)))
        for ts in sweat_rng.uniform(0, n / fs, sweat_rng.poisson(acq.sweat_per_hour * n / fs / 3600)):
            length = int(sweat_rng.uniform(60.0, 600.0) * fs)
            sway = gaussian_filter1d(sweat_rng.standard_normal(length), sweat_rng.uniform(1.0, 4.0) * fs)
            sway *= sweat_rng.uniform(30.0, 200.0) / (sway.std() + 1e-9) * np.hanning(length)
            _add(x, fs, ts, sway)

    out: dict[str, np.ndarray] = {}
    # One cascade per channel: high-pass, low-pass and notch as second-order sections.
    sos = [signal.butter(acq.highpass_order, acq.highpass_hz, btype="high", fs=fs, output="sos")]
    if acq.lowpass_hz:
        sos.append(signal.butter(4, acq.lowpass_hz, btype="low", fs=fs, output="sos"))
    if acq.notch_hz:
        sos.append(signal.tf2sos(*signal.iirnotch(acq.notch_hz, 30.0, fs=fs)))
    cascade = np.concatenate(sos).astype(np.float32)
    for ch in acq.channels:
        y = signal.sosfilt(cascade, raw.pop(ch.label))
        if ch.inverted:
            y = -y
        for label, start, length in acq.flat:
            if label == ch.label:
                y[int(start * fs): int((start + length) * fs)] = 0.0
        out[ch.label] = np.clip(y, -ch.physical_uv, ch.physical_uv).astype(np.float32)
    if acq.chin_emg is not None:
        emg_rng = np.random.default_rng(np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 6)))
        out[acq.chin_emg.label] = _chin_emg(src, acq, n, line, ecg, emg_rng)
    return out


def _chin_emg(src: Sources, acq: Acquisition, n: int, line, ecg, rng: np.random.Generator) -> np.ndarray:
    """The raw chin EMG at `acq.fs`: muscle noise above 20 Hz (or a fifth of the rate) scaled second by second
    to the physiology's tone, the floor, the ECG and the mains; high-passed at 10 Hz as EMG channels are."""
    emg, fs = acq.chin_emg, acq.fs
    tone = np.repeat(np.asarray(src.aux["EMG submental"], np.float64), fs)[:n]
    tone = np.pad(tone, (0, n - len(tone)), mode="edge")
    band = signal.butter(4, [min(20.0, 0.2 * fs), min(150.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
    muscle = signal.sosfilt(band, rng.standard_normal(n))
    x = emg.gain * tone * muscle / (muscle.std() + 1e-12) + emg.floor_uv * rng.standard_normal(n)
    if emg.ecg_uv > 0:
        x += emg.ecg_uv * (ecg if ecg is not None else _ecg(rng, n, fs, acq.heart_bpm))
    if line is not None:
        x += 0.5 * acq.mains_uv * line
    y = signal.sosfilt(signal.butter(2, min(10.0, 0.2 * fs), btype="high", fs=fs, output="sos"), x)
    return np.clip(y, -emg.physical_uv, emg.physical_uv).astype(np.float32)


def signal_seed(seed: int, subject: int, night: int) -> np.random.SeedSequence:
    """The seed of the recorder's own noise and artefacts (one stream per kind, see `record`)."""
    return keyed_seed(seed, _ACQ_SIGNAL_KEY, subject, night)
