"""Write a synthetic night as PhysioNet's sleep-cassette files.

`SC4ssNE0-PSG.edf`: plain EDF, 7 signals with Sleep-EDF's labels, transducers,
units, prefiltering text and physical/digital ranges, 30-s data records
(3,000 samples of each 100-Hz signal, 30 of each 1-Hz signal per record), a
start time in the evening. The hypnogram is written by
`sleepscope.io.hypnogram.write_edf_hypnogram` (EDF+, annotations only, one
`Sleep stage W/1/2/3/R/?` per run of equal stages).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import edfio
import numpy as np

from sleepscope.data.synth import physiology as ph

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
