"""Between-subject and between-night variability of the synthetic PSG.

Every parameter a scorer (or a stager) could latch on to varies from subject
to subject, so that a model trained on some synthetic subjects has to
generalise to unseen ones, as it must with real people. The two nights of a
subject share the subject's parameters up to smaller night-to-night changes
(electrode placement, impedance, mains, mood of the night).

Parameters come from `numpy.random.SeedSequence` keyed on (seed, subject) and
(seed, subject, night) only, so a subject looks the same whichever nights are
generated and in whatever order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields, replace

import numpy as np

from sleepscope.data.synth.common import jitter, keyed_rng, keyed_seed, loguniform, person

# Distinct spawn keys so that subject, night and signal streams never overlap.
_SUBJECT_KEY = 0x5B7
_NIGHT_KEY = 0x716
_SIGNAL_KEY = 0x516


@dataclass(frozen=True)
class SubjectParams:
    """What makes one synthetic person's PSG look like theirs (µV, Hz, s)."""

    fpz_gain: float  # overall scale of Fpz-Cz (skull, electrode distance)
    pz_gain: float  # overall scale of Pz-Oz
    eog_gain: float  # amplitude of eye movements in the horizontal EOG
    background_uv: float  # 1/f background standard deviation on Fpz-Cz
    aperiodic_exponent: float  # 1/f^beta power exponent of the background (1 pink .. 2 brown)
    alpha_peak_hz: float  # individual alpha frequency, 8-12 Hz
    alpha_width_hz: float
    alpha_uv: float  # Pz-Oz alpha standard deviation with eyes closed
    alpha_frontal_ratio: float  # Fpz-Cz alpha relative to Pz-Oz
    low_alpha_fraction: float  # share of W epochs with little alpha
    theta_peak_hz: float
    theta_uv: float
    beta_uv: float
    spindle_hz: float  # 11-16 Hz
    spindle_per_min: float  # N2 spindle density
    spindle_uv: float  # spindle peak amplitude on Fpz-Cz
    sigma_uv: float  # continuous low-level sigma activity between spindles
    kcomplex_per_min: float
    kcomplex_uv: float  # K-complex peak-to-peak amplitude on Fpz-Cz
    delta_uv: float  # N3 slow-wave standard deviation on Fpz-Cz
    deep_n2_fraction: float  # share of N2 epochs with N3-like delta (the N2/N3 boundary)
    sawtooth_per_min: float
    rem_per_min: float  # rapid eye movements per minute of phasic REM
    blink_per_min: float  # eyes open
    crosstalk: float  # fraction of the EOG that reaches Fpz-Cz
    eeg_in_eog: float  # fraction of frontal EEG that reaches the EOG
    emg_uv: float  # submental EMG envelope in wake (µV)
    muscle_uv: float  # high-frequency muscle activity on Fpz-Cz in wake
    line_hz: float  # 50 or 60
    line_uv: float
    pops_per_hour: float  # electrode pops
    movements_per_hour: float  # movement artefacts in wake
    transition_s: float  # how gradually one stage's features give way to the next
    age: int
    sex: str


@dataclass(frozen=True)
class NightParams:
    """One night of one subject: the subject's parameters, slightly moved."""

    subject: SubjectParams
    line_phase_drift_hz: float  # mains frequency offset: the line beats slowly
    physical_eeg_uv: float  # physical range written to the EDF header, like Sleep-EDF's
    physical_pz_uv: float
    physical_eog_uv: float
    start_hour: float  # clock time of the first sample (evening)
    day_offset: int  # days after the subject's first night


def subject_params(seed: int, subject: int) -> SubjectParams:
    rng = keyed_rng(seed, _SUBJECT_KEY, subject)
    # A few percent of adults barely produce alpha at all: keep them.
    alpha_uv = 1.5 if rng.random() < 0.08 else loguniform(rng, 4.0, 12.0)
    return SubjectParams(
        fpz_gain=loguniform(rng, 0.7, 1.4),
        pz_gain=loguniform(rng, 0.65, 1.5),
        eog_gain=loguniform(rng, 0.6, 1.6),
        background_uv=loguniform(rng, 3.5, 7.5),
        aperiodic_exponent=float(rng.uniform(1.0, 2.2)),
        alpha_peak_hz=float(np.clip(rng.normal(10.0, 0.9), 8.0, 12.0)),
        alpha_width_hz=float(rng.uniform(0.6, 1.4)),
        alpha_uv=alpha_uv,
        alpha_frontal_ratio=float(rng.uniform(0.15, 0.45)),
        low_alpha_fraction=float(rng.uniform(0.05, 0.35)),
        theta_peak_hz=float(rng.uniform(4.8, 6.5)),
        theta_uv=loguniform(rng, 5.0, 10.0),
        beta_uv=loguniform(rng, 1.5, 4.5),
        spindle_hz=float(np.clip(rng.normal(13.0, 0.9), 11.3, 15.5)),
        spindle_per_min=loguniform(rng, 2.0, 7.0),
        spindle_uv=loguniform(rng, 15.0, 35.0),
        sigma_uv=loguniform(rng, 2.0, 4.5),
        kcomplex_per_min=loguniform(rng, 0.5, 2.0),
        kcomplex_uv=loguniform(rng, 90.0, 200.0),
        delta_uv=loguniform(rng, 30.0, 50.0),
        deep_n2_fraction=float(rng.uniform(0.03, 0.2)),
        sawtooth_per_min=loguniform(rng, 0.5, 3.0),
        rem_per_min=loguniform(rng, 15.0, 45.0),
        blink_per_min=loguniform(rng, 6.0, 22.0),
        crosstalk=float(rng.uniform(0.04, 0.3)),
        eeg_in_eog=float(rng.uniform(0.2, 0.6)),
        emg_uv=loguniform(rng, 2.0, 4.5),
        muscle_uv=loguniform(rng, 1.0, 6.0),
        line_hz=60.0 if rng.random() < 0.15 else 50.0,
        line_uv=loguniform(rng, 0.2, 8.0),
        pops_per_hour=loguniform(rng, 0.5, 12.0),
        movements_per_hour=loguniform(rng, 4.0, 20.0),
        transition_s=float(rng.uniform(2.0, 6.0)),
        **person(rng, ages=(25, 102)),
    )


# Parameters that move between two nights of the same subject, and by how much
# (log-normal sigma): small next to the spread between subjects.
_NIGHT_JITTER = {
    "fpz_gain": 0.06, "pz_gain": 0.06, "eog_gain": 0.1, "background_uv": 0.1,
    "alpha_uv": 0.1, "spindle_per_min": 0.15, "spindle_uv": 0.08, "kcomplex_per_min": 0.15,
    "delta_uv": 0.06, "rem_per_min": 0.15, "blink_per_min": 0.15, "crosstalk": 0.15,
    "eeg_in_eog": 0.1, "emg_uv": 0.1, "muscle_uv": 0.2, "line_uv": 0.6,
    "pops_per_hour": 0.5, "movements_per_hour": 0.3,
}


def night_params(seed: int, subject: int, night: int) -> NightParams:
    base = subject_params(seed, subject)
    rng = keyed_rng(seed, _NIGHT_KEY, subject, night)
    changes = jitter(base, rng, _NIGHT_JITTER)
    changes["alpha_peak_hz"] = float(np.clip(base.alpha_peak_hz + rng.normal(0, 0.15), 8.0, 12.0))
    changes["spindle_hz"] = float(np.clip(base.spindle_hz + rng.normal(0, 0.1), 11.0, 16.0))
    changes["crosstalk"] = float(min(changes["crosstalk"], 0.4))
    subject_night = replace(base, **changes)
    return NightParams(
        subject=subject_night,
        line_phase_drift_hz=float(rng.uniform(-0.02, 0.02)),
        physical_eeg_uv=float(rng.choice([192.0, 196.0, 200.0, 224.0, 250.0])),
        physical_pz_uv=float(rng.choice([196.0, 197.0, 200.0, 250.0])),
        physical_eog_uv=float(rng.choice([800.0, 1009.0, 1020.0, 1100.0])),
        start_hour=float(rng.uniform(21.5, 24.0)),
        day_offset=max(0, int(night) - 1) * int(rng.integers(1, 3)),
    )


def signal_seed(seed: int, subject: int, night: int) -> np.random.SeedSequence:
    """The stream the night's random signals are drawn from."""
    return keyed_seed(seed, _SIGNAL_KEY, subject, night)


def start_time(params: NightParams, subject: int) -> dt.datetime:
    """Clock time of a night's first sample."""
    # Sleep-EDF's cassette study ran 1987-1991; evenings spread over those years.
    first = dt.datetime(1989, 1, 2) + dt.timedelta(days=(subject * 37) % 900 + params.day_offset)
    seconds = int(round(params.start_hour * 3600)) // 30 * 30  # Sleep-EDF starts on whole 30-s marks
    return first + dt.timedelta(seconds=seconds)


def as_dict(params: SubjectParams) -> dict[str, float | int | str]:
    return {f.name: getattr(params, f.name) for f in fields(params)}
