"""Write a synthetic night as PhysioNet's sleep-cassette files.

`SC4ssNE0-PSG.edf`: plain EDF, 7 signals with Sleep-EDF's labels, transducers,
units, prefiltering text and physical/digital ranges, 30-s data records
(3,000 samples of each 100-Hz signal, 30 of each 1-Hz signal per record), a
start time in the evening. `SC4ssNXY-Hypnogram.edf`: EDF+ with annotations
only, one `Sleep stage W/1/2/3/R/?` annotation per run of equal stages with
onset and duration from the PSG start.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import edfio
import numpy as np

from sleepscope.data.synth import physiology as ph
from sleepscope.stages import AASM_TO_RK, Stage

_PREFILTER_EXG = "HP:0.5Hz LP:100Hz [enhanced cassette BW]"

# label -> (transducer, unit, digital range, prefiltering), as in the real files.
_HEADER = {
    ph.EEG_FPZ: ("Ag-AgCl electrodes", "uV", (-2048, 2047), _PREFILTER_EXG),
    ph.EEG_PZ: ("Ag-AgCl electrodes", "uV", (-2048, 2047), _PREFILTER_EXG),
    ph.EOG: ("Ag-AgCl electrodes", "uV", (-2048, 2047), _PREFILTER_EXG),
    ph.RESP: ("Oral-nasal thermistors", "", (-2048, 2047), "HP:0.03Hz LP:0.9Hz"),
    ph.EMG: ("Ag-AgCl electrodes", "uV", (-2500, 2500), "HP:16Hz Rectification LP:0.7Hz"),
    ph.TEMP: ("Rectal thermistor", "DegC", (-2849, 2731), ""),
    ph.MARKER: ("Marker button", "", (-2047, 2048), "Hold during 2 seconds"),
}
_AUX_RANGE = {
    ph.RESP: (-2048.0, 2047.0),
    ph.EMG: (-5.0, 5.0),
    ph.TEMP: (34.0, 40.0),
    ph.MARKER: (-2047.0, 2048.0),
}
CHANNEL_ORDER = (ph.EEG_FPZ, ph.EEG_PZ, ph.EOG, ph.RESP, ph.EMG, ph.TEMP, ph.MARKER)


def write_psg(
    path: Path,
    fast: dict[str, np.ndarray],
    aux: dict[str, np.ndarray],
    physical: dict[str, float],
    start: dt.datetime,
    patient_name: str,
    sex: str,
) -> None:
    signals = []
    for label in CHANNEL_ORDER:
        transducer, unit, digital, prefilter = _HEADER[label]
        if label in fast:
            data, fs = fast[label], float(ph.FS)
            lim = physical[label]
            prange = (-lim, lim)
        else:
            data, fs = aux[label], 1.0
            prange = _AUX_RANGE[label]
        signals.append(
            edfio.EdfSignal(
                np.clip(data.astype(np.float64), *prange),
                fs,
                label=label,
                transducer_type=transducer,
                physical_dimension=unit,
                physical_range=prange,
                digital_range=digital,
                prefiltering=prefilter,
            )
        )
    edf = edfio.Edf(
        signals,
        patient=edfio.Patient(code="X", sex=sex, name=patient_name),
        recording=edfio.Recording(startdate=start.date()),
        starttime=start.time(),
        data_record_duration=float(ph.EPOCH_S),
    )
    edf.write(path)


def stage_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(stage code, first epoch, number of epochs) for each run of equal stages."""
    labels = np.asarray(labels)
    if len(labels) == 0:
        return []
    cuts = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(labels)]])
    return [(int(labels[a]), int(a), int(b - a)) for a, b in zip(starts, ends)]


def write_hypnogram(path: Path, labels: np.ndarray, start: dt.datetime, patient_name: str, sex: str) -> None:
    annotations = [
        edfio.EdfAnnotation(
            onset=float(first * ph.EPOCH_S),
            duration=float(count * ph.EPOCH_S),
            text=AASM_TO_RK[Stage(code)],
        )
        for code, first, count in stage_runs(labels)
    ]
    edf = edfio.Edf(
        [],
        patient=edfio.Patient(code="X", sex=sex, name=patient_name),
        recording=edfio.Recording(startdate=start.date()),
        starttime=start.time(),
        annotations=annotations,
    )
    edf.write(path)
