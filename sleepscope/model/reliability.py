"""Fitting what a model card says about trust: calibration and familiarity statistics, from nights.

Both are fitted on the outputs ``predict`` computes (``infer.night_outputs``
on ``inputs.model_input``), so what is stored is what is applied. The
familiarity statistics take the features of training nights (what the
model learned) and the per-night features of validation nights (to set the
night limit); the temperature and the unsure threshold take the validation
nights only.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.tasks import CancelToken, Progress, check, report


def night_arrays(recording, normalisation: str) -> dict:
    """What fitting needs of one recording, as ``predict`` prepares it: model input, artefact mask, input statistics."""
    from sleepscope.model.backups import read_for_model
    from sleepscope.model.familiarity import input_features

    reading = read_for_model(recording, normalisation)
    return {"x": reading.x, "artefact": reading.quality.artefact, "inputs": input_features(reading.recording)}


def scored_nights(nights, normalisation: str):
    """``(night_arrays, stages)`` of each scored night (``data.cohorts.Night``), trimmed to the sleep as the
    training cache is, the hypnogram aligned on the recording's start; one night at a time."""
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import trim_wake

    for night in nights:
        rec, labels, _ = night.read_scoring(open_recording(night.psg))
        w = trim_wake(labels, 60)
        arrays = night_arrays(rec, normalisation)
        yield {k: v[w] for k, v in arrays.items()}, labels[w].astype("int64")


def eog_only_calibration(model, val_nights, calibration: dict) -> dict:
    """``calibration.fit_eog_only`` on the two-channel nights of `val_nights` (``(night_arrays, stages)``) with
    their EEG removed, as a recording without one reaches the model (a missing channel is zeros); {} without
    such nights."""
    from sleepscope.model.calibration import fit_eog_only
    from sleepscope.model.infer import has_both_channels, night_outputs

    nights = []
    for night, y in val_nights:
        if not has_both_channels(night["x"]):
            continue
        artefact = np.asarray(night["artefact"], bool)
        x = np.array(night["x"], copy=True)
        x[:, 0] = 0
        logits = night_outputs(x, model, threads=1, artefact=artefact)[1].numpy()
        nights.append((logits, np.where(artefact, -1, np.asarray(y)), artefact))
    return fit_eog_only(nights, calibration) if nights else {}


def fit_reliability(model, train_nights: Iterable[tuple[dict, np.ndarray]], val_nights: Sequence[tuple[dict, np.ndarray]],
                    *, channel_dropout: float = 0.0, max_train_epochs: int = 30000, temperature: float | None = None,
                    second_opinion: str | None = None, transitions: np.ndarray | None = None,
                    progress: Progress | None = None, cancel: CancelToken | None = None) -> tuple[dict, dict]:
    """(card ``calibration``, card ``familiarity``) from nights given as ``(night_arrays(...), stages)``.

    ``temperature``: keep this one instead of fitting it (see ``calibration.fit_calibration``).
    ``second_opinion``: the name of the scorer whose stages each validation night carries as
    ``night["second_opinion"]``; the familiarity check then learns how far the two disagree there.
    ``transitions``: the stage-to-stage chain the nights are read through (``transitions.smooth``).
    """
    from sleepscope.model.calibration import calibrated_probs, fit_calibration
    from sleepscope.model.familiarity import fit_familiarity, fit_second_opinion
    from sleepscope.model.infer import has_both_channels, night_outputs

    model.eval()
    val_nights = list(val_nights)
    if not val_nights:
        raise SleepScopeError("calibration needs at least one labelled validation night")
    train_f, train_y, n = [], [], 0
    for i, (night, y) in enumerate(train_nights):
        check(cancel)
        if n >= max_train_epochs:
            break
        keep = ~np.asarray(night["artefact"], bool) & (np.asarray(y) >= 0)
        train_f.append(night["inputs"][keep])
        train_y.append(np.asarray(y)[keep])
        n += int(keep.sum())
        report(progress, i + 1, i + 1, "statistics of training nights")
    if not train_f:
        raise SleepScopeError("the familiarity statistics need at least one training night")
    val_logits, val_y, artefact, both = [], [], [], []
    for i, (night, y) in enumerate(val_nights):
        check(cancel)
        _, logits, _ = night_outputs(night["x"], model, threads=1, artefact=night["artefact"])
        keep = ~np.asarray(night["artefact"], bool)
        # Whole nights, artefact epochs unlabelled: the transitions read each night in order.
        val_logits.append(logits.numpy())
        val_y.append(np.where(keep, np.asarray(y), -1))
        artefact.append(~keep)
        both.append(has_both_channels(night["x"]))
        report(progress, i + 1, len(val_nights), "validation nights")
    calibration = fit_calibration(np.concatenate(val_logits), np.concatenate(val_y), temperature,
                                  transitions=transitions, lengths=[len(v) for v in val_y],
                                  uninformative=np.concatenate(artefact))
    calibration["n_nights"] = len(val_nights)
    calibration.update(eog_only_calibration(model, val_nights, calibration))
    # The familiarity limits are fitted on the stages `predict` gives, which the card's chain can change.
    stages = [calibrated_probs(z, calibration, b, uninformative=a).argmax(axis=1)
              for z, b, a in zip(val_logits, both, artefact)]
    val_f = [(night["inputs"][~a], st[~a]) for (night, _), st, a in zip(val_nights, stages, artefact)]
    familiarity = fit_familiarity(np.concatenate(train_f), np.concatenate(train_y), val_f,
                                  n_classes=model.config.n_classes)
    familiarity["channel_dropout"] = float(channel_dropout)
    if second_opinion is not None:
        pairs = [(np.where(a, -1, st), night["second_opinion"]) for (night, _), st, a in zip(val_nights, stages, artefact)]
        familiarity["second_opinion"] = fit_second_opinion(pairs, second_opinion)
    return calibration, familiarity
