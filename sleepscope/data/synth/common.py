"""What the synthetic generator's modules share: keyed random streams, parameter
draws, and the assembly of a family's night into `Sources`.

Every draw here consumes its generator exactly as the inline code it replaced
did, so seeded nights stay bit for bit the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any, Callable, Mapping, Optional, Sequence

import numpy as np

from sleepscope.data.synth.families import COMPONENTS, Sources


def keyed_seed(*key: int) -> np.random.SeedSequence:
    """The stream keyed on `key` (seed, spawn key, subject[, night]): independent of any other key."""
    return np.random.SeedSequence([int(k) for k in key])


def keyed_rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(keyed_seed(*key))


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def person(rng: np.random.Generator, ages: tuple[int, int]) -> dict[str, Any]:
    """A subject's age (years, `ages` half-open) and sex, drawn in that order."""
    return {"age": int(rng.integers(*ages)), "sex": "F" if rng.random() < 0.5 else "M"}


def jitter(base: Any, rng: np.random.Generator, sigmas: Mapping[str, float]) -> dict[str, float]:
    """Each named parameter of `base` times a log-normal factor (sigma per name), drawn in order."""
    return {name: getattr(base, name) * float(np.exp(rng.normal(0.0, s))) for name, s in sigmas.items()}


def night_variant(base: Any, rng: np.random.Generator, moved: tuple[str, ...],
                  more: Optional[Callable[[Any, np.random.Generator], dict]] = None) -> Any:
    """A subject's night (families B and C): `moved` parameters jittered by 8 %, then `more`, then a bedtime."""
    changes = jitter(base, rng, dict.fromkeys(moved, 0.08))
    if more is not None:
        changes.update(more(base, rng))
    changes["start_hour"] = float(rng.uniform(21.5, 24.0))
    return replace(base, **changes)


_WAKING_THETA_KEY = 0x7E7A


def waking_theta(seed: int, family_key: int, subject: int, night: int, most: float) -> float:
    """How much theta a subject's waking EEG carries on one night, as a factor (1 to about `most`) of a
    family's alert level: a trait, moved from night to night by sleep pressure, never below the alert level
    (docs/synthetic-axes.md). Drawn from its own streams, so a family's other draws stay as they were."""
    trait = loguniform(keyed_rng(seed, _WAKING_THETA_KEY, family_key, subject), 1.0, most)
    night = float(np.exp(keyed_rng(seed, _WAKING_THETA_KEY, family_key, subject, night).normal(0.0, 0.2)))
    return max(1.0, trait * night)


def night_start(subject: int, night: int, start_hour: float, days_per_subject: int) -> dt.datetime:
    """Clock time of a family B/C night's first sample: on a whole 30-s mark, evenings spread over 1989-1991."""
    return dt.datetime(1989, 1, 2) + dt.timedelta(days=(subject * days_per_subject) % 900 + max(0, night - 1),
                                                  seconds=int(start_hour * 3600) // 30 * 30)


def clock_hours(start: dt.datetime, n_sec: int) -> np.ndarray:
    """Hour of the day of each second from `start` (past midnight it keeps counting: 24, 25, ...)."""
    return start.hour + start.minute / 60 + np.arange(n_sec) / 3600.0


def aux_channels(resp: np.ndarray, emg: np.ndarray, temp: np.ndarray, marker: np.ndarray) -> dict[str, np.ndarray]:
    """Sleep-EDF's 1-Hz channels by label, float32."""
    return {"Resp oro-nasal": resp.astype(np.float32), "EMG submental": emg.astype(np.float32),
            "Temp rectal": temp.astype(np.float32), "Event marker": marker.astype(np.float32)}


def family_sources(family: str, s: Any, comps: Sequence[tuple[np.ndarray, Optional[np.ndarray]]], eye: np.ndarray,
                   blink: np.ndarray, movement: np.ndarray, aux: dict[str, np.ndarray], start: dt.datetime) -> Sources:
    """A family B/C night as `Sources`: the (main, alt) pair of each of `COMPONENTS` in its order, and the
    eyes, as float32; the person and the EOG leak from `s`."""
    return Sources(
        family=family,
        components={k: (m.astype(np.float32, copy=False), None if a is None else a.astype(np.float32, copy=False))
                    for k, (m, a) in zip(COMPONENTS, comps, strict=True)},
        eye=eye.astype(np.float32, copy=False),
        blink=blink.astype(np.float32, copy=False),
        movement_per_min=movement,
        aux=aux,
        eog_leak=s.eog_leak,
        age=s.age,
        sex=s.sex,
        start_time=start,
        params=s,
    )
