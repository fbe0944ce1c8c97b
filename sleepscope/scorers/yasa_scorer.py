"""YASA's `SleepStaging` as a Scorer: a second opinion from classifiers trained on real nights.

YASA (BSD-3) ships LightGBM classifiers trained on about 3,000 NSRR nights
inside its pip package, so it runs offline. It reads an EEG (a central
derivation is what it learned), optionally an EOG and a chin EMG, from an MNE
Raw; we hand it the recording's channels at 100 Hz: the central EEG where the
recording was read with one (:func:`yasa_extra`), else the model's EEG, without
the heart's beats where the file's ECG lead shows them there
(`sleepscope.model.heartbeats`, as for the model). Its five classes
(W, N1, N2, N3, R) map one to one onto ours. Optional: without the `yasa`
package the rest of SleepScope works and this scorer says how to install it.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.io.channels import find_emg
from sleepscope.model.infer import Prediction
from sleepscope.model.quality import channel_flags
from sleepscope.stages import most_likely, no_stage_probs
from sleepscope.tasks import CancelToken, Progress, check, report

#: YASA's class names (its classifier's, and yasa.Hypnogram's) to our output index.
_CLASS_INDEX = {"W": 0, "WAKE": 0, "N1": 1, "N2": 2, "N3": 3, "R": 4, "REM": 4}

#: The label set of a scoring file that holds YASA's stages (source: its version), written by
#: `sleepscope prescore DIR --second-opinion`.
SECOND_OPINION_SET = "YASA"

def yasa_available() -> bool:
    """Whether the optional `yasa` package (and its LightGBM) can be imported."""
    try:
        return importlib.util.find_spec("yasa") is not None and importlib.util.find_spec("lightgbm") is not None
    except (ImportError, ValueError):
        return False


def yasa_extra(path: str | Path) -> tuple[str, ...]:
    """The channels beyond the model's that the second opinion reads from a recording file, as `open_recording`'s
    `extra`: a central EEG (what YASA learned; `open_recording` skips it when the model reads it too) and a chin
    EMG, where the file has them."""
    from sleepscope.io.channels import central_eeg
    from sleepscope.io.edfheader import read_header

    names = [s.label for s in read_header(path).data_signals]
    return tuple(n for n in (central_eeg(names), find_emg(names)) if n)


class YasaScorer:
    name = "YASA"

    def __init__(self, use_eog: bool = True, use_emg: bool = True) -> None:
        if not yasa_available():
            raise SleepScopeError(
                "the second opinion needs YASA, which is not installed: `pip install yasa`, then run again")
        self.use_eog = use_eog
        self.use_emg = use_emg

    @property
    def version(self) -> str:
        import yasa

        return f"yasa-{yasa.__version__}"

    def score(self, recording, progress: Progress | None = None,
              cancel: CancelToken | None = None) -> Prediction:
        import logging

        import mne
        import yasa

        if recording.eeg_name is None:
            raise SleepScopeError("YASA's second opinion needs an EEG channel; this recording has none")
        check(cancel)
        from sleepscope.io.channels import central_eeg
        from sleepscope.model.backups import with_backups
        from sleepscope.model.heartbeats import lead_beats, without_heartbeats

        # the heart's beats, where the file's ECG lead shows them on the EEGs and EOG, go as for the model; and
        # where a channel failed, YASA reads what the model read (its backup), or it disagrees there by construction
        lead = lead_beats(recording, cancel)
        central = central_eeg([n for n in recording.channels if n != recording.eog_name])
        recording, _ = without_heartbeats(recording, lead, cancel,
                                          channels=dict.fromkeys([recording.eeg_name, central, recording.eog_name]))
        recording, _ = with_backups(recording, cancel, beats=None if lead is None else lead.at)
        report(progress, 0, 2, "YASA: features")
        # A central derivation read beside the model's EEG (yasa_extra) is the one YASA learned on.
        names = {"eeg": central or recording.eeg_name}
        if self.use_eog and recording.eog_name is not None:
            names["eog"] = recording.eog_name
        emg = find_emg([n for n in recording.channels if n not in names.values()]) if self.use_emg else None
        # YASA's EMG features need the muscle tone itself: Sleep-EDF's 1-Hz EMG envelope is not that.
        if emg is not None and recording.source_rates.get(emg, 0.0) >= 80:
            names["emg"] = emg
        data = np.stack([np.nan_to_num(recording.channels[n], nan=0.0) for n in names.values()]) * 1e-6  # µV → V
        info = mne.create_info(list(names.values()), recording.fs, ch_types=list(names))
        raw = mne.io.RawArray(data, info, verbose=False)
        yasa_log = logging.getLogger("yasa")
        level = yasa_log.level
        yasa_log.setLevel(logging.ERROR)  # "less than 5 minutes" warnings: short test nights are fine here
        try:
            staging = yasa.SleepStaging(raw, eeg_name=names["eeg"], eog_name=names.get("eog"),
                                        emg_name=names.get("emg"))
            with warnings.catch_warnings():
                # YASA's classifiers were saved by an older scikit-learn; its LabelEncoder loads unchanged
                warnings.filterwarnings("ignore", message="Trying to unpickle estimator")
                hyp = staging.predict()
        except (ValueError, AssertionError) as exc:
            raise SleepScopeError(f"YASA could not score this recording: {exc}") from exc
        finally:
            yasa_log.setLevel(level)
        check(cancel)
        proba = hyp.proba
        n = recording.n_epochs
        probs = np.full((n, 5), 0.2, dtype=np.float32)
        m = min(n, len(proba))
        for col in proba.columns:
            probs[:m, _CLASS_INDEX[str(col).upper()]] = proba[col].to_numpy(dtype=np.float32)[:m]
        probs /= probs.sum(axis=1, keepdims=True)
        # An EEG that fails where no backup helps (flat, clipped, absurd) gives YASA nothing to read: no stage
        # there, as for the model, rather than an opinion a flat line earns, shown and kept as YASA's stage.
        per = int(round(recording.fs * 30))
        failed = channel_flags(recording.channels[names["eeg"]][: n * per].reshape(n, per), "eeg", recording.fs) != 0
        probs[failed] = no_stage_probs(int(failed.sum()))
        report(progress, 2, 2, "YASA: done")
        used = "+".join(names)
        return Prediction(probs=probs, model_version=f"{self.version} ({used})", stages=most_likely(probs),
                          artefact=failed)
