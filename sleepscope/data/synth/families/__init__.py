"""Physiology families: independently built signal models of the sleep stages.

A family turns per-epoch stage codes into `Sources`: the brain's activity split
by where on the scalp it is strongest (`COMPONENTS`), the eyes, a movement
propensity and Sleep-EDF's 1-Hz auxiliary channels, all at 100 Hz and in µV.
`sleepscope.data.synth.acquisition` then records the sources the way a lab
does (derivations, EOG montage, gains, filters, artefacts, sampling rate).

- "A" (`family_a`): the original generator: band-limited noise carriers under
  per-epoch envelopes, with transient events stamped from templates, and
  stage ambiguity made by blending an epoch's features with another stage's;
- "B" (`family_b`): built apart from A: resonators and phase oscillators
  driven by a continuous latent sleep depth; slow waves as individual
  up/down cycles, spindles as chirps in refractory trains, saccade-like eye
  movements that hold their position, arch-shaped alpha;
- "C" (`family_c`): built apart from both: time-frequency atoms (the
  matching-pursuit view of sleep EEG) over a background whose spectral shape
  changes second by second; Ricker-shaped K-complexes and vertex waves,
  minimum-jerk eye movements, crossfaded stage boundaries and a cyclic
  alternating pattern in NREM;
- "D" (`family_d`): built apart from all three: a corticothalamic neural
  field (Robinson et al. 2001, 2002; Abeysuriya et al. 2015) whose gains move
  continuously between stage points; the background is noise through its
  transfer function (alpha, the sigma bump and the low-frequency rise come
  from it), spindles are bursts of reticular gain ringing the intrathalamic
  mode, K-complexes, vertex, slow and sawtooth waves are its impulse
  responses to afferent pulses; eyes from an oculomotor plant under
  pulse-step commands, REMs as a self-exciting process;
- "E" (`family_e`): built apart from all four: each epoch a stretch of a
  semi-Markov chain of micro-states (Hori's sleep-onset stages, NREM of
  drifting depth, tonic and phasic REM, arousals); shot-noise background
  whose synaptic decay lengthens with depth; slow waves and K-complexes as
  excursions of a noise-driven FitzHugh-Nagumo unit (isolated below its
  Hopf point, cycling beyond it) with spindles nested after them; gamma-
  velocity eye movements, REMs as out-and-back pairs.

Randomness is keyed on (seed, family, subject, night) only, so a night looks
the same whichever other nights are generated and in whatever order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from sleepscope.errors import SleepScopeError

FS = 100

#: Brain activity by topography class. Each is recorded as it would appear on
#: its calibration derivation (Pz-Oz for "alpha", Fpz-Cz for the rest); the
#: acquisition module scales it for every other derivation.
COMPONENTS = ("background", "alpha", "theta", "slow", "spindle", "vertex", "beta", "muscle")


@dataclass
class Sources:
    """One night before it is recorded: what the brain, eyes and muscles do."""

    family: str
    # name -> (main, alt): two independent realisations of the same process;
    # derivations far apart on the scalp see more of `alt` (None: events only, fully coherent).
    components: dict[str, tuple[np.ndarray, Optional[np.ndarray]]]
    eye: np.ndarray  # horizontal eye potential, µV on a bipolar E1-E2 EOG (rightward gaze positive)
    blink: np.ndarray  # blinks and vertical eye movements, µV as seen on Fpz-Cz
    movement_per_min: np.ndarray  # per second: how likely a body movement is (movements per minute)
    aux: dict[str, np.ndarray]  # Sleep-EDF's 1-Hz channels (respiration, submental EMG, temperature, marker)
    eog_leak: float  # the family's own share of frontal EEG in a bipolar EOG (Sleep-EDF-like recording)
    age: int
    sex: str
    start_time: dt.datetime
    params: Any = field(default=None, repr=False)

    @property
    def n_samples(self) -> int:
        return len(self.eye)


def family_names() -> tuple[str, ...]:
    return tuple(_GENERATORS)


def check_family(family: str) -> str:
    key = str(family).strip().upper()
    if key not in _GENERATORS:
        raise SleepScopeError(f"unknown synthetic family {family!r}; choose one of {', '.join(_GENERATORS)}")
    return key


def sources(family: str, labels: np.ndarray, *, seed: int, subject: int, night: int) -> Sources:
    """The sources of one night of `family` following `labels` (stage codes per 30-s epoch)."""
    return _GENERATORS[check_family(family)](np.asarray(labels, dtype=np.int64), seed, subject, night)


def _family_a(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    from sleepscope.data.synth.families import family_a

    return family_a.sources(labels, seed, subject, night)


def _family_b(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    from sleepscope.data.synth.families import family_b

    return family_b.sources(labels, seed, subject, night)


def _family_c(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    from sleepscope.data.synth.families import family_c

    return family_c.sources(labels, seed, subject, night)


def _family_d(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    from sleepscope.data.synth.families import family_d

    return family_d.sources(labels, seed, subject, night)


def _family_e(labels: np.ndarray, seed: int, subject: int, night: int) -> Sources:
    from sleepscope.data.synth.families import family_e

    return family_e.sources(labels, seed, subject, night)


_GENERATORS = {"A": _family_a, "B": _family_b, "C": _family_c, "D": _family_d, "E": _family_e}
