"""The chin EMG as evidence for pre-scoring: the muscle tone by which the AASM scores REM (atonia) and wake.

The network reads EEG and EOG. Where a recording holds a chin EMG and the
model's card has coefficients for it (``calibration["chin_emg"]``, fitted by
`fit_coefficients` on the card's calibration nights), each epoch's tone, made
relative to the night ((log tone - the night's median) / its interquartile
range, so that no gain, unit or electrode impedance carries over), is added to
the log probabilities with one coefficient per stage (`with_tone`). Three
guards keep a lever this strong from doing harm:

* the channel must be able to show tone: a 1-Hz envelope as Sleep-EDF records
  it, or a raw EMG sampled at ``MIN_RAW_HZ`` or more, reduced to its power
  above 10 Hz; epochs that are flat, clipped, absurd or missing give no
  evidence, and a channel without evidence in most of the night is not used;
* the night must show atonia (`atonia_share`): a fourteenth of its sleep with
  a tone under half that of its NREM sleep. A REM sleep behaviour disorder
  patient (REM without atonia), or a channel labelled EMG that is not the
  chin's, would otherwise have REM pushed towards N1 and wake. The check does
  not ask that the atonia fall where the model reads REM: where the model
  misreads REM is where the tone helps most;
* the tone is clipped to ``clip`` interquartile ranges, which bounds how far it
  can move the stages against the EEG and EOG (`Coefficients.bound`).

Measured on synthetic nights only (``benchmarks/bench_chin_emg.py``,
``benchmarks/bench_shift.py``); no real night with chin EMG is on the machines
the model was built on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sleepscope.stages import N_CLASSES

#: an EMG at this rate or below is already an envelope (Sleep-EDF's "EMG submental" is one at 1 Hz)
MAX_ENVELOPE_HZ = 10.0
#: a raw EMG needs this rate for any of its power above 10 Hz to survive
MIN_RAW_HZ = 50.0
BAND_HZ = (10.0, 45.0)
#: a raw EMG's RMS is taken over windows this long (s), a few between two heart beats
WINDOW_S = 0.2
#: a channel with evidence in fewer than this share of its epochs is not used
MIN_USABLE_SHARE = 0.5
#: log-tone interquartile range under which the night shows no change of tone at all
MIN_SPREAD = 0.05
#: epochs of NREM sleep the model must read before the night's atonia can be looked for
MIN_NREM_EPOCHS = 20
#: atonia: a tone under this share of NREM sleep's (a ratio: no gain carries over) ...
ATONIA_RATIO = 0.5
#: ... in this share of the sleep at least: REM is a fifth of an adult's sleep; chosen between nights with
#: atonia (0.12 and more) and the same nights without it (REM given N2's tone, 0.04 and less) of the calibration
#: families (benchmarks/bench_chin_emg.py's fit nights)
ATONIA_SHARE = 0.07
REM, NREM = 4, (2, 3)
#: the relative tone is clipped here (interquartile ranges): 2 and 4 stage the calibration nights alike
CLIP = 2.0


@dataclass(frozen=True)
class Coefficients:
    """What a card says about the chin EMG: one coefficient per stage and the clip."""

    weights: np.ndarray  # (N_CLASSES,) added to the log probabilities per unit of relative tone
    clip: float

    @classmethod
    def from_calibration(cls, calibration: dict | None) -> "Coefficients | None":
        entry = (calibration or {}).get("chin_emg")
        if not entry:
            return None
        return cls(np.asarray(entry["coefficients"], np.float64), float(entry["clip"]))

    @property
    def bound(self) -> float:
        """The most the tone can move one stage's log-odds against another's (nats)."""
        return float(self.clip * (self.weights.max() - self.weights.min()))


@dataclass(frozen=True)
class ChinTone:
    """A night's chin-EMG tone as pre-scoring reads it, and whether it weighed in."""

    channel: str
    tone: np.ndarray = field(repr=False)  # (n_epochs,) relative to the night, clipped; 0 without evidence
    usable: np.ndarray = field(repr=False)  # (n_epochs,) bool
    used: bool
    reason: str = ""  # why it was not used
    #: whether the reason is news to the technician (a night too short to hold REM is not)
    worth_saying: bool = True
    #: (n_epochs,) bool: epochs whose stage the tone changed (set by pre-scoring once it weighed in)
    decided: np.ndarray | None = field(default=None, repr=False)

    def message(self) -> str:
        if self.used:
            decided = "" if self.decided is None else f"; it decided the stage of {int(self.decided.sum())}"
            return (f"the chin EMG {self.channel!r} weighed in (muscle tone, in {int(self.usable.sum())} "
                    f"epochs{decided})")
        return f"the chin EMG {self.channel!r} was not used: {self.reason}"

    def to_dict(self) -> dict:
        return {"channel": self.channel, "used": self.used, "reason": self.reason,
                "usable_epochs": int(self.usable.sum())}


#: a night is read this many epochs at a time: a 48-h night's EMG is never copied whole in float64
BLOCK_EPOCHS = 120
#: each block is filtered with this much of its neighbours' signal (s), where the band-pass has died away
PAD_S = 4.0


def epoch_tone(signal: np.ndarray, fs: float, source_hz: float, n_epochs: int,
               gap: np.ndarray | None = None, cancel=None) -> tuple[np.ndarray, np.ndarray] | str:
    """(log tone per epoch, usable epochs) of a chin EMG given at `fs` (recorded at `source_hz`), or why it
    cannot show tone. Tone: the lower quartile of the epoch's rectified envelope (an envelope channel), or of its
    0.2-s windows' RMS above 10 Hz (a raw one): the quietest quarter, which twitches, movements, a snorer's breaths
    and the ECG's beats do not lift."""
    per_epoch = 30 * int(round(fs))
    end = n_epochs * per_epoch
    if len(signal) < end:
        return "shorter than the recording"
    if source_hz <= MAX_ENVELOPE_HZ:
        sos = None
    elif source_hz >= MIN_RAW_HZ and fs > 2 * BAND_HZ[0]:
        from scipy.signal import butter

        sos = butter(4, [BAND_HZ[0], min(BAND_HZ[1], 0.45 * min(fs, source_hz))], btype="bandpass", fs=fs,
                     output="sos")
    else:
        return (f"recorded at {source_hz:g} Hz: too slow for the muscle's own activity (a raw EMG needs "
                f"{MIN_RAW_HZ:g} Hz) and too fast for an envelope")
    tone, usable = np.empty(n_epochs), np.empty(n_epochs, bool)
    pad = 0 if sos is None else int(PAD_S * fs)
    from sleepscope.model.quality import channel_flags
    from sleepscope.tasks import check

    for a in range(0, n_epochs, BLOCK_EPOCHS):
        check(cancel)
        b = min(n_epochs, a + BLOCK_EPOCHS)
        lo, hi = max(0, a * per_epoch - pad), min(end, b * per_epoch + pad)
        core = slice(a * per_epoch - lo, b * per_epoch - lo)
        tone[a:b], usable[a:b] = _block_tone(np.asarray(signal[lo:hi], np.float64), fs, sos, core, b - a)
        if sos is not None:  # flat, clipped, absurd or drifting as the EEG and EOG are judged: a signal like them
            epochs = np.asarray(signal[a * per_epoch: b * per_epoch], np.float32).reshape(b - a, -1)
            usable[a:b] &= channel_flags(epochs, "emg", fs) == 0
    usable &= np.isfinite(tone) & (tone > 0)
    if gap is not None:
        usable &= ~np.asarray(gap, bool)[:n_epochs]
    return np.log(np.where(usable, np.maximum(tone, 1e-6), 1.0)), usable


def _block_tone(x: np.ndarray, fs: float, sos: np.ndarray | None, core: slice,
                n_epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """(tone, usable) of the `n_epochs` epochs `x[core]` (the samples around them pad the filter)."""
    nan = ~np.isfinite(x)
    x[nan] = 0.0
    usable = nan[core].reshape(n_epochs, -1).mean(axis=1) < 0.5
    if sos is None:
        # not the median: a snorer lifts the envelope at every breath, half of each epoch; of the samples, not of
        # each second's mean, as reading a 1-Hz channel at the model's rate spreads a breath over its neighbours
        return np.percentile(np.abs(x[core]).reshape(n_epochs, -1), 25, axis=1), usable
    from scipy.signal import sosfiltfilt

    band = sosfiltfilt(sos, x)[core]
    per_w = max(1, int(round(fs * WINDOW_S)))
    windows = np.sqrt((band ** 2).reshape(n_epochs, -1, per_w).mean(axis=2))
    # the quietest quarter of its windows: the beats of an ECG the chin leads pick up (a QRS a second) and
    # twitches lift the others
    return np.percentile(windows, 25, axis=1), usable


def relative_tone(log_tone: np.ndarray, usable: np.ndarray, clip: float) -> np.ndarray | str:
    """Each epoch's tone relative to the night's usable epochs, clipped to ±`clip`, 0 where unusable; or why the
    night gives no evidence."""
    usable = np.asarray(usable, bool)
    if usable.mean() < MIN_USABLE_SHARE:
        return f"it shows tone in only {int(usable.sum())} of {len(usable)} epochs (flat, clipped or missing)"
    t = log_tone[usable]
    spread = float(np.percentile(t, 75) - np.percentile(t, 25))
    if spread < MIN_SPREAD:
        return "its tone does not change over the night"
    z = np.clip((log_tone - np.median(t)) / spread, -clip, clip)
    return np.where(usable, z, 0.0)


def atonia_share(stages: np.ndarray, log_tone: np.ndarray, usable: np.ndarray,
                 ratio: float = ATONIA_RATIO) -> float | None:
    """The share of the night's sleep (epochs the model reads as N1-REM) that could be REM atonia: epochs whose
    tone is under `ratio` of the median tone of its NREM sleep (the model's N2 and N3). None when the model
    reads fewer than MIN_NREM_EPOCHS of NREM sleep (too little to know its tone)."""
    usable = np.asarray(usable, bool)
    nrem = usable & np.isin(stages, NREM)
    if nrem.sum() < MIN_NREM_EPOCHS:
        return None
    low = usable & (log_tone <= np.median(log_tone[nrem]) + np.log(ratio))
    return float(low.sum() / max(1, int((usable & (stages >= 1)).sum())))


def read_tone(signal: np.ndarray, fs: float, source_hz: float, channel: str, stages: np.ndarray,
              coefficients: Coefficients, gap: np.ndarray | None = None, cancel=None) -> ChinTone:
    """The night's `ChinTone`: used when it shows tone, the model's own REM shows atonia, and so on (module
    docstring). `stages`: the model's stages without the EMG."""
    n = len(stages)
    got = epoch_tone(signal, fs, source_hz, n, gap, cancel)
    none = np.zeros(n), np.zeros(n, bool)
    if isinstance(got, str):
        return ChinTone(channel, *none, used=False, reason=got)
    log_tone, usable = got
    if np.isin(stages, NREM).sum() < MIN_NREM_EPOCHS:  # a wake clip: nothing to say of the chin's tone
        why = f"the model reads under {MIN_NREM_EPOCHS} epochs of NREM sleep, too few to look for REM's atonia"
        return ChinTone(channel, none[0], usable, used=False, reason=why, worth_saying=False)
    z = relative_tone(log_tone, usable, coefficients.clip)
    if isinstance(z, str):
        return ChinTone(channel, none[0], usable, used=False, reason=z)
    share = atonia_share(np.asarray(stages), log_tone, usable)
    if share is None:  # its NREM epochs hold no usable tone
        return ChinTone(channel, z, usable, used=False, reason="it shows no tone in the NREM sleep")
    if share < ATONIA_SHARE:
        why = (f"the night shows no atonia (a tone under half NREM sleep's in {100 * share:.0f}% of the sleep): REM "
               "without atonia (REM sleep behaviour disorder), little REM, or a channel that is not the chin's; "
               "stages read from the EEG and EOG alone")
        return ChinTone(channel, z, usable, used=False, reason=why)
    return ChinTone(channel, z, usable, used=True)


def with_tone(probs: np.ndarray, tone: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The probabilities once the tone is added to their logarithms (rows of epochs without evidence unchanged)."""
    logp = np.log(np.maximum(np.asarray(probs, np.float64), 1e-6)) + np.asarray(tone)[:, None] * weights
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)


#: Which coefficient each stage takes: N2 and N3 share one, as the AASM tells them apart by the EEG alone (a lever
#: between them would read snoring or a tense jaw as depth of sleep).
_SHARED = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1]], np.float64)


def fit_coefficients(nights: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per-stage coefficients of the relative tone by cross-entropy over `nights` ([(probs, stages with -1
    unlabelled, tone)]), the probabilities as pre-scoring gives them without the EMG; N2 and N3 share theirs,
    which is 0 (adding one number to every coefficient changes no probability)."""
    import torch

    logp = torch.tensor(np.concatenate([np.log(np.maximum(p, 1e-6)) for p, _, _ in nights]), dtype=torch.float64)
    tone = torch.tensor(np.concatenate([t for _, _, t in nights]), dtype=torch.float64)
    y = torch.tensor(np.concatenate([y for _, y, _ in nights]), dtype=torch.int64)
    keep = y >= 0
    shared = torch.tensor(_SHARED)
    theta = torch.zeros(shared.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy((logp + tone[:, None] * (shared @ theta))[keep], y[keep])
        loss.backward()
        return loss

    opt.step(closure)
    w = (shared @ theta).detach().numpy()
    return w - w[2]


def chin_channel(rec) -> str | None:
    """The chin EMG of a recording: as its channel choice names it, else found by label among its loaded
    channels."""
    from sleepscope.io.channels import find_emg

    choice = getattr(rec, "channel_choice", None)
    return getattr(choice, "emg", None) or find_emg([n for n in rec.channels if n not in (rec.eeg_name, rec.eog_name)])


def recording_tone(rec, stages: np.ndarray, coefficients: Coefficients, cancel=None) -> ChinTone | None:
    """`read_tone` of a recording's chin EMG (`chin_channel`, read from its file when not loaded), or None when
    it has none."""
    from sleepscope.model.backups import channel_samples

    name = chin_channel(rec)
    if name is None:
        return None
    got = channel_samples(rec, name, cancel)
    if got is None:
        n = len(stages)
        return ChinTone(name, np.zeros(n), np.zeros(n, bool), used=False, reason="it could not be read")
    return read_tone(got[0], rec.fs, got[1], name, stages, coefficients, gap=rec.gap, cancel=cancel)


@dataclass(frozen=True)
class NightTone:
    """A night's chin-EMG tone per epoch as the window draws it: relative to the night and clipped as pre-scoring
    reads it, whether or not the model weighed it in."""

    channel: str
    tone: np.ndarray = field(repr=False)  # (n_epochs,) in interquartile ranges from the night's median
    usable: np.ndarray = field(repr=False)  # (n_epochs,) bool
    reason: str = ""  # why the channel shows no tone (then nothing is usable)


def night_tone(rec, cancel=None) -> NightTone | None:
    """The recording's chin-EMG tone over the night (REM's atonia dips, wake and movements rise), or None
    without a chin EMG."""
    from sleepscope.model.backups import channel_samples

    name = chin_channel(rec)
    if name is None:
        return None
    n = rec.n_epochs
    none = np.zeros(n), np.zeros(n, bool)
    got = channel_samples(rec, name, cancel)
    if got is None:
        return NightTone(name, *none, reason="it could not be read")
    read = epoch_tone(got[0], rec.fs, got[1], n, rec.gap, cancel)
    if isinstance(read, str):
        return NightTone(name, *none, reason=read)
    z = relative_tone(*read, CLIP)
    if isinstance(z, str):
        return NightTone(name, *none, reason=z)
    return NightTone(name, z, read[1])


def fit_card_entry(model, nights, clip: float = CLIP, fitted_on: str = "") -> dict:
    """The card's ``calibration["chin_emg"]`` for `model`, fitted on `nights` ([(Recording with a chin EMG,
    stages)]) as pre-scoring reads them: its probabilities without the EMG, each night's relative tone."""
    import torch

    from sleepscope.model.infer import predict

    bare = _without_coefficients(model)
    fit = []
    for rec, y in nights:
        pred = predict(rec, bare)
        chin = recording_tone(rec, pred.stages, Coefficients(np.zeros(N_CLASSES), clip))
        if chin is None or not chin.usable.any():
            continue
        fit.append((pred.probs, np.where(pred.artefact | ~chin.usable, -1, np.asarray(y)[: pred.n_epochs]),
                    chin.tone))
    if not fit:
        raise ValueError("none of the nights has a chin EMG that shows tone")
    weights = fit_coefficients(fit)
    logp = np.concatenate([np.log(np.maximum(p, 1e-6)) for p, _, _ in fit])
    tone = np.concatenate([t for _, _, t in fit])
    y = np.concatenate([y for _, y, _ in fit])
    keep = y >= 0

    def nll(w):
        z = torch.tensor(logp[keep] + tone[keep, None] * w)
        return float(torch.nn.functional.cross_entropy(z, torch.tensor(y[keep])))

    return {"coefficients": [float(v) for v in weights], "clip": float(clip), "fitted_on": fitted_on,
            "n_epochs": int(keep.sum()), "n_nights": len(fit), "nll_without": nll(np.zeros(N_CLASSES)),
            "nll_with": nll(weights)}


def _without_coefficients(model):
    """`model` reading nights without the EMG (its card's coefficients set aside, the model itself unchanged)."""
    import copy

    bare = copy.copy(model)
    bare.calibration = {k: v for k, v in (getattr(model, "calibration", None) or {}).items() if k != "chin_emg"}
    return bare
