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


def _signal(data: np.ndarray, fs: float, label: str, transducer: str, unit: str, prange: tuple[float, float],
            digital: tuple[int, int], prefilter: str) -> edfio.EdfSignal:
    """One channel, clipped to its physical range as a recorder's ADC would."""
    return edfio.EdfSignal(np.clip(data.astype(np.float64), *prange), fs, label=label, transducer_type=transducer,
                           physical_dimension=unit, physical_range=prange, digital_range=digital,
                           prefiltering=prefilter)


def _aux_signals(aux: dict[str, np.ndarray]) -> list[edfio.EdfSignal]:
    """Sleep-EDF's 1-Hz channels with its own headers, in file order."""
    out = []
    for label in (k for k in CHANNEL_ORDER[3:] if k in aux):
        transducer, unit, digital, prefilter = _HEADER[label]
        out.append(_signal(aux[label], 1.0, label, transducer, unit, _AUX_RANGE[label], digital, prefilter))
    return out


def _write(path: Path, signals: list[edfio.EdfSignal], start: dt.datetime, patient_name: str, sex: str,
           record_s: float) -> None:
    edf = edfio.Edf(
        signals,
        patient=edfio.Patient(code="X", sex=sex, name=patient_name),
        recording=edfio.Recording(startdate=start.date()),
        starttime=start.time(),
        data_record_duration=float(record_s),
    )
    edf.write(path)


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
    for label in CHANNEL_ORDER[:3]:
        transducer, unit, digital, prefilter = _HEADER[label]
        lim = physical[label]
        signals.append(_signal(fast[label], float(ph.FS), label, transducer, unit, (-lim, lim), digital, prefilter))
    _write(path, signals + _aux_signals(aux), start, patient_name, sex, ph.EPOCH_S)


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
    signals = [_signal(fast[ch.label], float(setup.fs), ch.label, "AgAgCl electrode", setup.unit.replace("µ", "u"),
                       (-ch.physical_uv, ch.physical_uv), (-32768, 32767), _prefilter(setup))
               for ch in setup.channels]
    emg = getattr(setup, "chin_emg", None)
    if emg is not None:  # a lab that records the chin EMG raw has no 1-Hz envelope of it
        signals.append(_signal(fast[emg.label], float(setup.fs), emg.label, "AgAgCl electrode", "uV",
                               (-emg.physical_uv, emg.physical_uv), (-32768, 32767), "HP:10Hz"))
        aux = {k: v for k, v in aux.items() if k != ph.EMG}
    signals += _aux_signals(aux)
    _write(path, signals, start, patient_name, sex, setup.record_s)
    if "µ" in setup.unit:
        ns = len(signals)
        with open(path, "r+b") as f:
            for i, ch in enumerate(setup.channels):
                f.seek(256 + ns * (16 + 80) + i * 8)
                f.write(b"\xb5V      ")
