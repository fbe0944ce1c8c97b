"""A slow drift on the EEG (sweat, an electrode that moves), and the model's input without it.

Sweat and a moving electrode add a sway of a few tens of µV at 0.01-0.2 Hz to an
EEG. The network reads an epoch z-scored, so a sway larger than the epoch's own
activity flattens everything else, and the model suggested confident wake for
every such epoch (``reports/slow-drift-night/``). Where an epoch's EEG holds more
RMS under 0.3 Hz than in 0.5-30 Hz (:func:`slow_ratio` over
:data:`SLOW_DRIFT_LIMIT`), the model reads it through a 0.3-Hz high-pass
(:class:`DriftRemover`), the EEG filter the AASM manual recommends; every other
epoch is read as recorded, so nights without a drift get exactly the input the
model learned. Not the EOG: slow eye movements are physiology there, and the
model reads REM from them (a high-passed EOG turned REM into N3 for a model
that never saw one), save where the EOG is the only channel read and a drift
dominates the night's median epoch (:func:`eog_drift` over
:data:`EOG_DRIFT_LIMIT`): every EOG epoch is then read through the same
high-pass, which the model learned with (random 0.15-1-Hz high-passes in
training; ``reports/slow-drift-night/eog_highpass_probe.py``). Not the
paper's normalisation ("epoch"): `sleepscope experiment paper` keeps the
paper's preprocessing.

A drift so large the electrode has lost contact is an artefact of its own
(``quality.DRIFT``: no stage).
"""

from __future__ import annotations

import numpy as np

#: An epoch whose EEG holds more RMS under 0.3 Hz than this times its RMS in 0.5-30 Hz is read high-passed; the
#: nights the model reads well keep their median epoch well under it (``reports/slow-drift-night/``).
SLOW_DRIFT_LIMIT = 1.0
#: A night read from its EOG alone whose median EOG epoch holds more RMS under 0.3 Hz than this times its RMS in
#: 0.5-30 Hz is read through the high-pass on every EOG epoch: read as recorded, such a drift turns the night to
#: wake; synthetic nights as recorded stay well under it (``reports/slow-drift-night/``).
EOG_DRIFT_LIMIT = 2.0
#: Corner of the high-pass (2nd-order Butterworth, causal): the AASM's EEG low-frequency filter setting.
HIGHPASS_HZ = 0.3
#: Normalisations whose input leaves drifting EEG epochs high-passed (`sleepscope.model.inputs`).
NORMALISATIONS = ("night", "epoch+amplitude")


#: What the epochs read high-passed are read through, and why (notes, the epoch's header, the reopened banner).
READ_THROUGH = f"a {HIGHPASS_HZ:g}-Hz high-pass of the EEG"
WHY = "a slow drift dominates it there (sweat or a loose electrode, which the display's high-pass hides)"


#: The same for a night read from its EOG alone (:data:`EOG_DRIFT_LIMIT`).
EOG_READ_THROUGH = f"a {HIGHPASS_HZ:g}-Hz high-pass of the EOG"
EOG_WHY = "a slow drift dominates the EOG, the only channel read (sweat or a loose electrode)"


def note(epochs: int) -> str:
    """The line on a night's `epochs` EEG epochs read high-passed."""
    return f"{epochs} epoch{'s' if epochs != 1 else ''} read through {READ_THROUGH}: {WHY}"


def eog_note(ratio: float) -> str:
    """The line on a night read from its EOG alone through the high-pass, `ratio` its :func:`eog_drift`."""
    return (f"every epoch read through {EOG_READ_THROUGH}: {EOG_WHY}; under 0.3 Hz, {ratio:.1f} times its "
            f"0.5-30 Hz content in the median epoch, where nights as recorded stay under {EOG_DRIFT_LIMIT:g}")


def slow_ratio(recording, kind: str = "eeg") -> np.ndarray | None:
    """Per epoch of the EEG (or EOG), its RMS under 0.3 Hz over its RMS in 0.5-30 Hz (None without that channel)."""
    if (recording.eeg_name if kind == "eeg" else recording.eog_name) is None:
        return None
    epochs = recording.epochs(kind)
    f = np.fft.rfftfreq(epochs.shape[1], 1.0 / recording.fs)
    slow_bins, band_bins = (f > 0) & (f < 0.3), (f >= 0.5) & (f < 30.0)
    out = np.empty(len(epochs))
    # blocks: a two-day recording's spectra at once would hold hundreds of MB on the window's thread
    for i in range(0, len(epochs), 512):
        e = np.nan_to_num(np.asarray(epochs[i:i + 512], dtype=np.float32))
        p = np.abs(np.fft.rfft(e - e.mean(axis=1, keepdims=True), axis=1)).astype(np.float64) ** 2
        out[i:i + len(e)] = np.sqrt(p[:, slow_bins].sum(axis=1) / (p[:, band_bins].sum(axis=1) + 1e-12))
    return out


def eog_drift(recording, keep: np.ndarray | None = None) -> float | None:
    """The median :func:`slow_ratio` of the EOG over the epochs in `keep`, for a night read from its EOG alone
    (:data:`EOG_DRIFT_LIMIT`); None without an EOG or an epoch to read."""
    r = slow_ratio(recording, "eog")
    if r is None:
        return None
    if keep is not None:
        r = r[np.asarray(keep, bool)[: len(r)]]
    return float(np.median(r)) if len(r) else None


def drifting(ratio: np.ndarray | None, n_epochs: int) -> np.ndarray:
    """`(n_epochs,)` bool: the epochs whose EEG the model reads high-passed (all False without an EEG)."""
    out = np.zeros(n_epochs, dtype=bool)
    if ratio is not None:
        n = min(n_epochs, len(ratio))
        out[:n] = np.asarray(ratio)[:n] > SLOW_DRIFT_LIMIT
    return out


class DriftRemover:
    """The high-pass run along one channel, chunk of epochs after chunk: its state carries from one chunk to the
    next, so the output is the same as filtering the whole night at once, in memory for one chunk."""

    def __init__(self, fs: float):
        from scipy.signal import butter

        self.sos = butter(2, HIGHPASS_HZ, btype="highpass", fs=fs, output="sos")
        self.zi: np.ndarray | None = None

    def __call__(self, epochs: np.ndarray, which: np.ndarray) -> np.ndarray:
        """`epochs` (n, T) in order after the previous call's, with the rows in `which` high-passed (a copy)."""
        from scipy.signal import sosfilt, sosfilt_zi

        x = np.asarray(epochs, dtype=np.float64).reshape(-1)
        nan = np.isnan(x)
        if nan.any():  # a NaN would stay in the filter's state for the rest of the night
            x = np.where(nan, 0.0, x)
        if self.zi is None:  # started settled on the first sample: no step from zero at the start
            self.zi = sosfilt_zi(self.sos) * (x[0] if len(x) else 0.0)
        y, self.zi = sosfilt(self.sos, x, zi=self.zi)
        y[nan] = np.nan
        out = np.array(epochs, dtype=np.float32)
        which = np.asarray(which, bool)
        out[which] = y.reshape(out.shape)[which]
        return out
