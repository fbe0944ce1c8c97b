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


# How labs write the EEG/EOG prefiltering field; the numbers are the night's own.
def _prefilter(setup) -> str:
    text = f"HP:{setup.highpass_hz:g}Hz"
    if setup.lowpass_hz:
        text += f" LP:{setup.lowpass_hz:g}Hz"
    if setup.notch_hz:
        text += f" N:{setup.notch_hz:g}Hz"
    return text


def write_recording(
    path: Path,
    fast: dict[str, np.ndarray],
    aux: dict[str, np.ndarray],
    setup,
    start: dt.datetime,
    patient_name: str,
    sex: str,
) -> None:
    """A night recorded with an `acquisition.Acquisition` set-up: its channels, rate, units and 16-bit range.

    The auxiliary 1-Hz channels follow, as Sleep-EDF writes them. A `µV` unit
    is written as Latin-1 0xB5 (EDF headers are ASCII, but files with it exist).
    """
    signals = []
    for ch in setup.channels:
        lim = ch.physical_uv
        signals.append(edfio.EdfSignal(
            np.clip(fast[ch.label].astype(np.float64), -lim, lim), float(setup.fs), label=ch.label,
            transducer_type="AgAgCl electrode", physical_dimension=setup.unit.replace("µ", "u"),
            physical_range=(-lim, lim), digital_range=(-32768, 32767), prefiltering=_prefilter(setup)))
    for label in CHANNEL_ORDER[3:]:
        transducer, unit, digital, prefilter = _HEADER[label]
        prange = _AUX_RANGE[label]
        signals.append(edfio.EdfSignal(
            np.clip(aux[label].astype(np.float64), *prange), 1.0, label=label, transducer_type=transducer,
            physical_dimension=unit, physical_range=prange, digital_range=digital, prefiltering=prefilter))
    edf = edfio.Edf(
        signals,
        patient=edfio.Patient(code="X", sex=sex, name=patient_name),
        recording=edfio.Recording(startdate=start.date()),
        starttime=start.time(),
        data_record_duration=float(setup.record_s),
    )
    edf.write(path)
    if "µ" in setup.unit:
        ns = len(signals)
        with open(path, "r+b") as f:
            for i, ch in enumerate(setup.channels):
                f.seek(256 + ns * (16 + 80) + i * 8)
                f.write(b"\xb5V      ")
