"""Probe: every model input low-passed at 35 Hz (the AASM's EEG and EOG low-pass) before it is normalised, in
training and in scoring alike, so that a recording low-passed at 35 Hz reads as one that was not.

    python probes/band35.py SCRIPT ARGS...      # e.g. models/train_robust.py ..., benchmarks/bench_shift.py ...

Runs SCRIPT with ``sleepscope.model.inputs.model_input`` wrapped before anything imports it. Not product code:
a model trained this way must be scored through this wrapper too.
"""
import dataclasses
import runpy
import sys

import numpy as np
from scipy.signal import butter, sosfiltfilt

import sleepscope.model.inputs as inputs

BAND_HZ = 35.0
_original = inputs.model_input


def _low_passed(x: np.ndarray, fs: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    nan = np.isnan(x)
    y = sosfiltfilt(butter(4, BAND_HZ, "low", fs=fs, output="sos"), np.where(nan, 0.0, x))
    y[nan] = np.nan
    return y.astype(np.float32)


def model_input(recording, normalisation="epoch", **kwargs):
    names = {recording.eeg_name, recording.eog_name} - {None}
    channels = {k: (_low_passed(v, recording.fs) if k in names else v) for k, v in recording.channels.items()}
    return _original(dataclasses.replace(recording, channels=channels), normalisation, **kwargs)


inputs.model_input = model_input

if __name__ == "__main__":
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")
