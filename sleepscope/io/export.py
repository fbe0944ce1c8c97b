"""Writing signals to EDF (edfio): exports, tiny test cohorts, benchmark files."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Mapping

import numpy as np

from sleepscope.atomic import replacing


def write_edf(
    path: str | os.PathLike,
    signals: Mapping[str, tuple[np.ndarray, float]],
    start_time: datetime,
    units: Mapping[str, str] | None = None,
    physical_ranges: Mapping[str, tuple[float, float]] | None = None,
    record_duration: float = 1.0,
    prefilters: Mapping[str, str] | None = None,
) -> Path:
    """Write `{label: (samples, rate)}` as a 16-bit EDF file (µV unless `units` says otherwise).

    `prefilters` gives a channel's prefiltering field ("HP:0.3Hz LP:35Hz"), as acquisition software writes it.

    The physical range defaults to the signal's own range (widened to at least
    ±1) so 16 bits resolve it finely. Each channel must fill whole data records
    (Sleep-EDF: 30-s records of 3,000 and 30 samples for its 100-Hz and 1-Hz channels).
    """
    import edfio

    path = Path(path)
    units = units or {}
    physical_ranges = physical_ranges or {}
    prefilters = prefilters or {}
    out = []
    for label, (x, fs) in signals.items():
        x = np.nan_to_num(np.asarray(x, dtype=np.float64))
        lo, hi = physical_ranges.get(label, (float(min(x.min(initial=0), -1.0)), float(max(x.max(initial=0), 1.0))))
        out.append(edfio.EdfSignal(
            np.clip(x, lo, hi), sampling_frequency=float(fs), label=label,
            physical_dimension=units.get(label, "uV"), physical_range=(lo, hi),
            prefiltering=prefilters.get(label, ""),
        ))
    edf = edfio.Edf(
        out,
        recording=edfio.Recording(startdate=start_time.date()),
        starttime=start_time.time().replace(microsecond=0),
        data_record_duration=record_duration,
    )
    with replacing(path) as tmp:
        edf.write(tmp)
    return path
