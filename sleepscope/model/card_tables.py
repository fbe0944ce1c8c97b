"""Checking the numbers a model card gives pre-scoring: its calibration and its familiarity statistics.

The weights are checked by their hash; the card's calibration and familiarity
tables are not covered by it, and pre-scoring applies them to every night. A
card edited by hand, merged by a sync tool or damaged on disk would otherwise
fail deep inside pre-scoring with a NumPy error (or, for a negative
temperature, give stages upside down); it is refused when the model is loaded,
naming the field.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.stages import N_CLASSES

#: Calibration scalars that divide logits: finite and positive where present.
_TEMPERATURES = ("temperature", "smoothed_temperature", "eog_only_temperature", "eog_only_base_temperature")


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _table(value, ndim: int, allow_nan: bool = False) -> np.ndarray | None:
    """`value` as a float array of `ndim` dimensions, or None when it is not one (ragged, text, wrong rank)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if a.ndim != ndim or a.size == 0 or np.isinf(a).any() or (np.isnan(a).any() and not allow_nan):
        return None
    return a


def _calibration_problem(cal: dict) -> str | None:
    for name in _TEMPERATURES:
        if name in cal and cal[name] is not None:
            v = _number(cal[name])
            if v is None or not math.isfinite(v) or v <= 0:
                return f"calibration.{name} is {cal[name]!r}, not a positive number"
    for name, lo, hi in (("unsure_threshold", 0.0, 1.0), ("wake_band_hz", 1.0, 1000.0)):
        if name in cal:
            v = _number(cal[name])
            if v is None or not lo <= v <= hi:
                return f"calibration.{name} is {cal[name]!r}, not a number from {lo:g} to {hi:g}"
    cmap = cal.get("confidence_map")
    if cmap:
        x = _table(cmap.get("x") if isinstance(cmap, dict) else None, 1)
        y = _table(cmap.get("y") if isinstance(cmap, dict) else None, 1)
        if x is None or y is None or len(x) != len(y) or len(x) < 2 or (np.diff(x) < 0).any():
            return "calibration.confidence_map is not two equal lists of numbers with x rising"
    if cal.get("transitions") is not None:
        t = _table(cal["transitions"], 2)
        if t is None or t.shape != (N_CLASSES, N_CLASSES) or (t < 0).any() or (t.sum(axis=1) <= 0).any():
            return f"calibration.transitions is not a {N_CLASSES} x {N_CLASSES} table of non-negative numbers"
    emg = cal.get("chin_emg")
    if emg:
        w = _table(emg.get("coefficients") if isinstance(emg, dict) else None, 1)
        clip = _number(emg.get("clip")) if isinstance(emg, dict) else None
        if w is None or w.shape != (N_CLASSES,) or clip is None or not 0 < clip <= 10:
            return (f"calibration.chin_emg is not {N_CLASSES} coefficients and a clip from 0 to 10")
    return None


def _familiarity_problem(fam: dict) -> str | None:
    if "means" not in fam and "precision" not in fam:
        return None  # a card without familiarity statistics: the check is skipped
    means = _table(fam.get("means"), 2, allow_nan=True)  # a stage never seen in training has no mean
    prec = _table(fam.get("precision"), 2)
    if means is None or means.shape[0] != N_CLASSES:
        return f"familiarity.means is not a table of {N_CLASSES} rows of numbers"
    if prec is None or prec.shape != (means.shape[1], means.shape[1]):
        return f"familiarity.precision is not a {means.shape[1]} x {means.shape[1]} table of numbers"
    for name in ("epoch_cutoff", "night_limit"):
        v = _number(fam.get(name))
        if v is None or not math.isfinite(v) or v < 0:
            return f"familiarity.{name} is {fam.get(name)!r}, not a non-negative number"
    second = fam.get("second_opinion")
    if second is not None:
        v = _number(second.get("night_limit") if isinstance(second, dict) else None)
        if v is None or not math.isfinite(v) or v < 0:
            return "familiarity.second_opinion has no night_limit that is a non-negative number"
    return None


def check_card_tables(calibration, familiarity, card_path: Path) -> None:
    """Refuse (SleepScopeError) a card whose calibration or familiarity numbers pre-scoring cannot apply."""
    problem = None
    for name, value, check in (("calibration", calibration, _calibration_problem),
                               ("familiarity", familiarity, _familiarity_problem)):
        if value is None or value == {}:
            continue
        problem = f"its {name} is not a set of named values" if not isinstance(value, dict) else check(value)
        if problem:
            break
    if problem:
        raise SleepScopeError(
            f"the model card {card_path} is damaged: {problem}. The weights match their card's hash, but "
            "pre-scoring applies these numbers to every night; restore the card from the original model "
            "(both files), or calibrate the model again (sleepscope calibrate)")
