"""Pseudo-labels: epochs of a lab's unlabelled nights on which two opinions agree with high confidence.

Our stager and a second opinion trained elsewhere (YASA's classifier, trained
on real NSRR nights; :mod:`sleepscope.scorers`) score each unlabelled night.
Where both give the same stage, each with probability at least `threshold`,
and neither marks the epoch an artefact, that stage becomes a *pseudo-label*.
Two opinions that err differently rarely agree confidently on the same wrong
stage, so the agreed epochs are mostly right, but not always: they are their
own label source (``source == "pseudo"``), weighed below a technician's label
in fine-tuning (`FineTuneOptions.pseudo_weight`), never held out to judge a
model and never written to a scoring file as a technician's label.

The agreed epochs are mostly the easy ones (wake, N2, REM): N1 and N3, the
stages a new lab most needs, are rare among them. :func:`balanced` keeps
stretches of agreed epochs so that no stage has more than a few times the
rarest stage's epochs, and :func:`stage_weights` weighs the kept epochs by
inverse stage frequency (capped), so that the pseudo-labels do not teach the
model to prefer the common stages.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from sleepscope.scoring.corrections import CorrectionSet
from sleepscope.tasks import CancelToken, Progress, check, report

#: the label source of pseudo-labels in a CorrectionSet
PSEUDO_SOURCE = "pseudo"
#: the lowest probability each opinion must give the agreed stage
DEFAULT_THRESHOLD = 0.8
#: balanced(): a stage keeps at most this many times the rarest present stage's epochs ...
BALANCE_RATIO = 4
#: ... but never fewer than this many (a handful of agreed N1 epochs must not empty the set)
BALANCE_FLOOR = 200
#: stage_weights(): no pseudo-labelled epoch weighs more than this many times the mean
MAX_STAGE_WEIGHT = 3.0


def agreed(probs_a: np.ndarray, probs_b: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
           artefact: np.ndarray | None = None) -> np.ndarray:
    """Per epoch: both opinions pick the same stage, each with probability >= `threshold` (and no artefact)."""
    a, b = np.asarray(probs_a), np.asarray(probs_b)
    n = min(len(a), len(b))
    sa, sb = a[:n].argmax(1), b[:n].argmax(1)
    ok = (sa == sb) & (a[:n].max(1) >= threshold) & (b[:n].max(1) >= threshold)
    if artefact is not None:
        ok &= ~np.asarray(artefact, bool)[:n]
    out = np.zeros(len(a), bool)
    out[:n] = ok
    return out


@dataclass
class PseudoNight:
    """One night's pseudo-labels: the agreed epochs and their stages."""

    name: str
    epochs: np.ndarray  # int64 indices into the night
    labels: np.ndarray  # int64 stages
    n_epochs: int


def pseudo_labels(ours, second, recording, threshold: float = DEFAULT_THRESHOLD, *,
                  progress: Progress | None = None, cancel: CancelToken | None = None) -> PseudoNight:
    """The agreed epochs of one recording between two Scorers (ours first: its artefact epochs are left out)."""
    a = ours.score(recording, progress=progress, cancel=cancel)
    check(cancel)
    b = second.score(recording, progress=progress, cancel=cancel)
    doubtful = a.artefact
    if doubtful is not None and getattr(a, "quality", None) is not None:
        doubtful = doubtful | a.quality.eeg_alone  # learned from with the failed EOG the recording holds there
    keep = agreed(a.probs, b.probs, threshold, artefact=doubtful)
    idx = np.flatnonzero(keep)
    name = Path(getattr(recording, "path", None) or "recording").name
    return PseudoNight(name, idx.astype(np.int64), a.probs[idx].argmax(1).astype(np.int64), int(a.n_epochs))


def pseudo_label_set(ours, second, recordings: Iterable, threshold: float = DEFAULT_THRESHOLD, *,
                     normalisation: str = "epoch", progress: Progress | None = None,
                     cancel: CancelToken | None = None) -> CorrectionSet:
    """A CorrectionSet of the agreed epochs of `recordings` (Recording objects or paths), source "pseudo".

    A recording that cannot be read or scored is listed in `skipped` with why.
    """
    from sleepscope.errors import SleepScopeError
    from sleepscope.io import open_recording
    from sleepscope.io.recording import file_fingerprint
    from sleepscope.model.backups import read_for_model

    items = list(recordings)
    xs, ys, fps, eps = [], [], [], []
    files: dict[str, str] = {}
    skipped: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        check(cancel)
        report(progress, i, len(items), "pseudo-labels")
        try:
            rec = open_recording(item, cancel=cancel) if isinstance(item, (str, os.PathLike)) else item
            night = pseudo_labels(ours, second, rec, threshold, cancel=cancel)
            if night.epochs.size == 0:
                continue
            x = read_for_model(rec, normalisation, cancel).x[night.epochs]  # as both opinions read it
            path = getattr(rec, "path", None)
            fp = file_fingerprint(path) if path else f"pseudo-{i}"
        except SleepScopeError as exc:
            skipped.append((str(getattr(item, "path", item)), str(exc)))
            continue
        xs.append(x)
        ys.append(night.labels)
        fps.append(np.full(night.epochs.size, fp, dtype=object))
        eps.append(night.epochs)
        files[fp] = night.name
    report(progress, len(items), len(items), "pseudo-labels")
    if not xs:
        return CorrectionSet(np.zeros((0, 2, 3000), np.float32), np.zeros(0, np.int64), np.zeros(0, object),
                             np.zeros(0, np.int64), np.zeros(0, object), {}, skipped)
    n = sum(len(y) for y in ys)
    return CorrectionSet(np.concatenate(xs).astype(np.float32, copy=False), np.concatenate(ys),
                         np.concatenate(fps).astype(str), np.concatenate(eps),
                         np.full(n, PSEUDO_SOURCE, dtype=object).astype(str), files, skipped)


def from_predictions(x: np.ndarray, probs_a: np.ndarray, probs_b: np.ndarray, name: str,
                     threshold: float = DEFAULT_THRESHOLD, artefact: np.ndarray | None = None) -> CorrectionSet:
    """The pseudo-label set of one night already scored by both opinions (x: its model input)."""
    idx = np.flatnonzero(agreed(probs_a, probs_b, threshold, artefact))
    n = idx.size
    return CorrectionSet(np.asarray(x)[idx].astype(np.float32, copy=False),
                         np.asarray(probs_a)[idx].argmax(1).astype(np.int64), np.full(n, name).astype(str),
                         idx.astype(np.int64), np.full(n, PSEUDO_SOURCE).astype(str), {name: name})


def balanced(pseudo: CorrectionSet, stretch: int = 20, seed: int = 0) -> CorrectionSet:
    """A stage-balanced subset of a pseudo-label set, in stretches of up to `stretch` consecutive epochs.

    Stretches holding the rarest stages are taken first; a stretch is taken
    while every stage in it is still under its cap (BALANCE_RATIO times the
    rarest present stage, at least BALANCE_FLOOR), so rare stages keep all
    their epochs and the common ones are cut down. Stretches keep the
    sequence context fine-tuning trains on.
    """
    from sleepscope.model.correction_data import contiguous_runs
    from sleepscope.stages import N_CLASSES

    if not len(pseudo):
        return pseudo
    chunks = [r[i : i + stretch] for r in contiguous_runs(pseudo) for i in range(0, r.size, stretch)]
    counts = np.stack([np.bincount(pseudo.y[c], minlength=N_CLASSES)[:N_CLASSES] for c in chunks])
    total = counts.sum(0)
    cap = max(BALANCE_RATIO * int(total[total > 0].min()), BALANCE_FLOOR)
    rarity = np.array([total[c > 0].min() for c in counts])
    order = np.lexsort((np.random.default_rng(seed).random(len(chunks)), rarity))
    have = np.zeros(N_CLASSES, np.int64)
    keep = []
    for i in order:
        if np.all(have[counts[i] > 0] < cap):
            keep.append(chunks[i])
            have += counts[i]
    idx = np.sort(np.concatenate(keep))
    return pseudo.rows(idx)


def stage_weights(labels: np.ndarray) -> np.ndarray:
    """Per epoch: inverse frequency of its stage among `labels`, mean 1; a rare stage's weight is capped
    (at MAX_STAGE_WEIGHT times the mean before the final rescaling), so a few agreed epochs, wrong or
    not, cannot outweigh the rest."""
    from sleepscope.stages import N_CLASSES

    y = np.asarray(labels, np.int64)
    if y.size == 0:
        return np.zeros(0, np.float32)
    counts = np.bincount(y, minlength=N_CLASSES).astype(np.float64)
    w = 1.0 / counts[y]
    w = w / w.mean()
    w = np.minimum(w, MAX_STAGE_WEIGHT)
    return (w / w.mean()).astype(np.float32)


def merge(sets: Sequence[CorrectionSet]) -> CorrectionSet:
    """One CorrectionSet of several (pseudo-label sets of several nights)."""
    sets = [s for s in sets if len(s)]
    if not sets:
        return CorrectionSet(np.zeros((0, 2, 3000), np.float32), np.zeros(0, np.int64), np.zeros(0, str),
                             np.zeros(0, np.int64), np.zeros(0, str))
    files: dict[str, str] = {}
    for s in sets:
        files.update(s.recording_files)
    return CorrectionSet(np.concatenate([s.x for s in sets]), np.concatenate([s.y for s in sets]),
                         np.concatenate([s.fingerprint for s in sets]), np.concatenate([s.epoch for s in sets]),
                         np.concatenate([s.source for s in sets]), files)


def accuracy_of(pseudo: CorrectionSet, truth: dict[str, np.ndarray]) -> float:
    """Share of pseudo-labels equal to the true stage (synthetic nights, where the truth is known)."""
    right = sum(int(np.count_nonzero(truth[fp][pseudo.epoch[pseudo.fingerprint == fp]]
                                     == pseudo.y[pseudo.fingerprint == fp]))
                for fp in dict.fromkeys(pseudo.fingerprint.tolist()))
    return right / max(len(pseudo), 1)




def our_opinion(model, card):
    """The stager whose opinion pseudo-labels use: `model`, or for an encoder-only model (whose stages mean
    nothing yet) the model it was pre-trained from (registry), else the shipped model."""
    from sleepscope.errors import SleepScopeError
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.registry import ModelRegistry
    from sleepscope.model.site_pretrain import is_encoder_only

    if not is_encoder_only(card):
        return model, card
    reg = ModelRegistry()
    if card.parent and card.parent in reg:
        return load_model(reg.get(card.parent).path)
    if default_model_path().exists():
        return load_model(default_model_path())
    raise SleepScopeError(f"pseudo-labels need a model that scores: {card.version} is a pre-trained encoder and its "
                          f"parent {card.parent} is neither in the registry nor the shipped model")


def from_recordings(paths: Iterable[str | os.PathLike], model, card, threshold: float = DEFAULT_THRESHOLD, *,
                    progress: Progress | None = None, cancel: CancelToken | None = None) -> CorrectionSet:
    """Pseudo-labels of the recordings under `paths` (files or folders) by `model` (see `our_opinion`) and YASA."""
    from sleepscope.model.batch_prescore import find_recordings
    from sleepscope.scorers import StagerScorer, YasaScorer

    second = YasaScorer()  # says how to install YASA before any work
    ours, ours_card = our_opinion(model, card)
    return pseudo_label_set(StagerScorer(ours, ours_card), second, find_recordings(paths), threshold,
                            normalisation=model.config.normalisation, progress=progress, cancel=cancel)


__all__ = ["PSEUDO_SOURCE", "DEFAULT_THRESHOLD", "PseudoNight", "agreed", "pseudo_labels", "pseudo_label_set",
           "from_predictions", "merge", "accuracy_of", "our_opinion", "from_recordings"]
