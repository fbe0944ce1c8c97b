"""Probe: which part of the input turns the real wake minutes REM when the recording is sampled at 50 Hz.

Each row feeds the shipped model the 50-Hz and the 100-Hz versions of the real Sleep-EDF wake recording
mixed: the EEG's shape with the other's log amplitude, one channel from each, one channel zeroed (as channel
dropout trained the model to read a missing channel). Run from the repository root:
.venv/bin/python reports/acquisition-real-clips/probes/narrow_band_inputs.py
"""
import sys, numpy as np, tempfile
from pathlib import Path
sys.path.insert(0, "benchmarks")
from bench_shift import real_rows
from bench_acquisition import changed_file
from sleepscope.io import open_recording
from sleepscope.model.checkpoint import load_model
from sleepscope.model.infer import predict
from sleepscope.model.inputs import log_amplitude
from sleepscope.io.recording import zscore_epochs
from sleepscope.stages import NAMES
model, card = load_model(Path("models/sleepscope-default.safetensors"))
clip, rec, exp = real_rows()[0]
tmp = Path(tempfile.mkdtemp())
full = open_recording(changed_file(rec, {}, tmp/"a.edf"), eeg=rec.eeg_name, eog=rec.eog_name)
nar = open_recording(changed_file(rec, {"rate": 50}, tmp/"b.edf"), eeg=rec.eeg_name, eog=rec.eog_name)
def arr(r):
    from sleepscope.model.inputs import model_input
    return model_input(r, "epoch+amplitude")
xf, xn = arr(full), arr(nar)
print(xf.shape, "amp full", xf.mean(-1)[:, 0].round(2), "\namp narrow", xn.mean(-1)[:, 0].round(2))
print("eog amp full", xf.mean(-1)[:, 1].round(2), "\neog amp narrow", xn.mean(-1)[:, 1].round(2))
def show(tag, x):
    p = predict(x, model)
    print(tag, [NAMES[s] for s in p.stages], p.probs.max(1).round(2))
show("full", xf); show("narrow", xn)
h = xn.copy(); h[:, 0] = xn[:, 0] - xn[:, 0].mean(-1, keepdims=True) + xf[:, 0].mean(-1, keepdims=True)
show("narrow shape, full amp", h)
h = xf.copy(); h[:, 0] = xf[:, 0] - xf[:, 0].mean(-1, keepdims=True) + xn[:, 0].mean(-1, keepdims=True)
show("full shape, narrow amp", h)
h = xn.copy(); h[:, 1] = xf[:, 1]
show("narrow eeg, full eog", h)
h = xn.copy(); h[:, 1] = 0
show("narrow eeg, no eog", h)
h = xf.copy(); h[:, 1] = 0
show("full eeg, no eog", h)
h = xn.copy(); h[:, 0] = 0
show("narrow eog alone", h)
h = xf.copy(); h[:, 0] = 0
show("full eog alone", h)
