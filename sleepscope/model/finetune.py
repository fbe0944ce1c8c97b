"""Fine-tuning a model on the technician's corrections (a CorrectionSet), with a held-out part.

Whole blocks of corrected epochs are held out, stratified by stage and guarded
from their trained neighbours, and halved between choosing the kept pass and
reporting (:mod:`sleepscope.model.correction_data`). The child and its parent
are scored on exactly the same reported epochs, with the same sequence
windows, so the technician compares like with like before activating.

The loop itself is :func:`sleepscope.model.train.train` (Adam, early stopping
on the selection part's macro-F1, best weights kept), followed through its
step and validation hooks; this module feeds it sequences built from the
correction arrays in memory.

When the corrections span several recordings, a second child is fine-tuned
the same way without one of them, or one subject's (:func:`recordings_to_leave_out`), and scored,
beside the parent, on that recording: held-out blocks of the corrected nights
cannot show that a child which learned one subject's or one set-up's nights
reads another's worse, and the next recording a lab pre-scores is such one.
That recording also decides how much of the parent the kept child keeps
(``choose_share``): averaging protects the next subject, so only the next
subject can say when it costs more than it protects.

The budget is passes over the corrections, but never fewer than
``min_steps`` optimiser steps: a few hundred corrected epochs make one or
two steps a pass, and ten such steps leave the parent as it was. Early
stopping never ends a run before ``min_steps``, and a selection part under
:data:`MIN_SELECT_EPOCHS` epochs chooses nothing (its macro-F1 jumps by
whole epochs between passes, so "the best pass" would be the luckiest one):
the run's last weights are kept and the card says so.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import ConcatDataset

from sleepscope.errors import SleepScopeError
from sleepscope.model.checkpoint import ModelCard, save_model
from sleepscope.model.correction_data import (
    CorrectionSequences,
    Split,
    Weighted,
    WithoutChannel,
    contiguous_runs,
    split_heldout,
)
from sleepscope.model.distributed import DistInfo
from sleepscope.model.infer import has_both_channels
from sleepscope.model.lineage import trained_channel_dropout, trained_with_frozen_encoders
from sleepscope.model.night_norm import to_learn_from_labels
from sleepscope.model.parent_reading import SOURCE as READING_SOURCE
from sleepscope.model.network import SleepStager, mixes_opinions, opinion_weights
from sleepscope.scoring.corrections import CorrectionSet, scarce_stages
from sleepscope.stages import NAMES
from sleepscope.tasks import CancelToken, Cancelled, Progress, check

#: events(dict): {"event": "parent"|"step"|"epoch", ...}; see `finetune`.
Events = Callable[[dict], None]

#: fewest labelled epochs worth fine-tuning on (below this the held-out part says nothing)
MIN_EPOCHS = 40
#: fewest selection epochs that may choose the kept pass; below it the last pass is kept
MIN_SELECT_EPOCHS = 100
#: fewest corrections of a recording worth checking a child on that did not learn from it
MIN_OTHER_EPOCHS = 100


@dataclass
class FineTuneOptions:
    epochs: int = 10  # most passes over the training corrections
    lr: float = 1e-4  # smaller than training from scratch: the parent is already good
    batch_size: int = 4  # sequences per step
    #: None: as the parent was trained (its card's metrics say whether its encoders were frozen)
    freeze_encoders: bool | None = None
    #: share of sequences trained without their EEG or EOG (TrainConfig.channel_dropout); None: as the parent
    #: was trained, so that its one-channel pre-scoring (and one-channel opinions) keeps up with the corrections
    channel_dropout: float | None = None
    holdout: float = 0.2  # fraction held out: half chooses the kept pass, half is reported
    seq_len: int | None = None  # epochs per sequence (default: the model's L)
    block_epochs: int | None = None  # held-out unit (default: seq_len)
    guard_epochs: int = 1  # training epochs dropped beside each held-out block
    patience: int = 3  # validations without improvement before stopping (never before min_steps)
    #: fewest optimiser steps, however few the corrections (a pass of 100 epochs is one step)
    min_steps: int = 40
    class_weights: bool = False  # inverse stage frequency in the loss
    max_steps: int | None = None
    seed: int = 0
    #: loss weight of a pseudo-labelled epoch (sleepscope.model.pseudo_labels) against a technician's 1
    pseudo_weight: float = 0.5
    #: pseudo-labels stage-balanced (sleepscope.model.pseudo_labels.balanced) and weighted by inverse stage frequency
    pseudo_balance: bool = False
    #: share of the parent's weights averaged into the kept child (WiSE-FT): what one lab's few nights taught
    #: is kept at 1 - keep_parent, so that the child does not trade other subjects' nights for the corrected ones
    keep_parent: float = 0.5
    #: with corrections of several recordings, also score a child fine-tuned without one of them on it
    other_recording: bool = True
    #: with corrections of two recordings or more, keep the child as trained instead of the average when the check
    #: child reads the recording it left out better than its own average does: the parent's share is worth keeping
    #: where the parent is right, and costs the corrections where the lab is one it scores poorly
    choose_share: bool = True
    #: weight of the parent's (anchor's) stage probabilities in the loss (TrainConfig.distill): the child learns the
    #: corrections while keeping the parent's reading of what they do not contradict; 0 = off
    distill: float = 1.0
    #: distil only where the parent's stage agrees with the correction (TrainConfig.distill_agreed): everywhere, it
    #: also kept the parent's errors on a lab the parent reads poorly
    distill_agreed: bool = True
    #: a parent that mixes in its one-channel opinions (ModelConfig.eeg_opinion, eog_opinion), which hedge a lab the
    #: model has not seen: "keep" them in the child, "drop" them (the child has seen this lab's corrections; kept, the
    #: mixture cost N1 where the parent read the lab well), or "choose" whichever scores the selection part better
    opinion: str = "drop"
    #: a parent that reads each night with its own encoder statistics too (ModelConfig.night_statistics): the kept
    #: child reads nights with its "trained" statistics only, or also with each "night"'s own as its parent does,
    #: or "choose"s by how the check child reads the recording it left out both ways (trained without one); it
    #: learns on the trained statistics either way. "night" since the corrected subject's own next night, the case
    #: that kept "trained", gained with it on randomised labs (reports/slow-wave-age-synthetic/)
    reading: str = "night"

    def validate(self) -> None:
        if self.epochs < 1:
            raise SleepScopeError(f"training epochs must be at least 1, not {self.epochs}")
        if not (0.0 < self.lr < 1.0):
            raise SleepScopeError(f"learning rate {self.lr} is out of range; use e.g. 1e-4")
        if not (0.05 <= self.holdout <= 0.5):
            raise SleepScopeError(f"the held-out fraction {self.holdout} must be between 0.05 and 0.5")
        if self.batch_size < 1 or (self.seq_len is not None and self.seq_len < 1):
            raise SleepScopeError("batch size and sequence length must be at least 1")
        if self.max_steps is not None and self.max_steps < 1:
            raise SleepScopeError("max steps must be at least 1")
        if self.min_steps < 0:
            raise SleepScopeError(f"the fewest optimiser steps must be 0 or more, not {self.min_steps}")
        if self.channel_dropout is not None and not 0.0 <= self.channel_dropout < 1.0:
            raise SleepScopeError(f"the channel dropout {self.channel_dropout} must be at least 0 and below 1")
        if not 0.0 <= self.keep_parent < 1.0:
            raise SleepScopeError(f"the parent's share {self.keep_parent} must be at least 0 and below 1")
        if self.reading not in ("trained", "night", "choose"):
            raise SleepScopeError(f"the child reads nights with its trained statistics, the night's or chooses, not "
                                  f"{self.reading!r}")
        if self.opinion not in ("keep", "drop", "choose"):
            raise SleepScopeError(f"the child's one-channel opinions are kept, dropped or chosen, not {self.opinion!r}")
        if self.distill < 0:
            raise SleepScopeError(f"the parent's weight in the loss {self.distill} must not be negative")
        if not 0.0 < self.pseudo_weight <= 1.0:
            raise SleepScopeError(f"the pseudo-label weight {self.pseudo_weight} must be above 0 and at most 1")


@dataclass
class FineTuneResult:
    model: SleepStager
    card: ModelCard
    path: Path | None
    split: Split
    history: list[dict] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def data_identity(cs: CorrectionSet) -> str:
    """sha256 over the (recording fingerprint, epoch, label) triples, in a canonical order."""
    order = np.lexsort((cs.epoch, cs.fingerprint.astype(str)))
    h = hashlib.sha256()
    for i in order:
        h.update(f"{cs.fingerprint[i]}:{int(cs.epoch[i])}:{int(cs.y[i])}\n".encode())
    return h.hexdigest()


def recordings_to_leave_out(cs: CorrectionSet) -> tuple[list[str], str | None] | None:
    """(fingerprints, their subject or None): what the check child does not learn from. When the file names
    say whose recordings they are (``sleepscope.io.archive.subject_of``) and name two subjects or more, one
    subject's recordings (another night of the same subject shares its set-up, and would flatter the check);
    else one recording. Of those with at least ``MIN_OTHER_EPOCHS`` corrections, the one with the fewest (the
    check child keeps most of the rest); None with one, or when none is big enough or the others leave fewer
    than ``MIN_EPOCHS``."""
    from sleepscope.io.archive import subject_of

    fps = list(dict.fromkeys(cs.fingerprint.tolist()))
    subject = {fp: subject_of(cs.recording_files.get(fp, "")) for fp in fps}
    by = "subject" if all(subject.values()) and len(set(subject.values())) > 1 else "recording"
    groups: dict[str, list[str]] = {}
    for fp in fps:
        groups.setdefault(subject[fp] if by == "subject" else fp, []).append(fp)
    counts = {g: int(np.isin(cs.fingerprint, members).sum()) for g, members in groups.items()}
    fit = [g for g, n in counts.items() if n >= MIN_OTHER_EPOCHS and len(cs) - n >= MIN_EPOCHS]
    if len(groups) < 2 or not fit:
        return None
    left = groups[min(fit, key=counts.__getitem__)]
    return left, subject[left[0]] if by == "subject" else None


def _per_stage(cs: CorrectionSet, source: str) -> dict[str, int]:
    """Epochs of `cs` whose label came from `source`, per stage present."""
    y = cs.y[cs.source == source]
    return {name: int(np.count_nonzero(y == st)) for st, name in enumerate(NAMES) if np.any(y == st)}


def _scores(model: SleepStager, data: CorrectionSequences, device: torch.device,
            cancel: CancelToken | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(labels, stage scores) of `model` on `data` (an empty part is an error, as in ``train.evaluate``)."""
    from sleepscope.model.train import dataset_scores

    return dataset_scores(model, data, 8, device, cancel)


def _has_channel(data: CorrectionSequences, channel: int) -> bool:
    """Does a held-out part hold a labelled epoch with this channel (0 the EEG, 1 the EOG)?"""
    return any(bool(data.x[idx[mask], channel].any()) for idx, mask in data.items)


def _metrics(y: np.ndarray, scores: np.ndarray) -> dict:
    from sleepscope.model.train import metrics_dict
    from sleepscope.scoring.agreement import agreement

    return metrics_dict(agreement(y, scores.argmax(axis=1)))


def _evaluate(model: SleepStager, data: CorrectionSequences, device: torch.device,
              cancel: CancelToken | None = None) -> dict:
    return _metrics(*_scores(model, data, device, cancel))


def child_calibration(parent_card: ModelCard, select: tuple[np.ndarray, np.ndarray],
                      report: tuple[np.ndarray, np.ndarray],
                      eog_only: tuple[np.ndarray, np.ndarray] | None = None,
                      eog_only_report: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """The child's card ``calibration`` from its (labels, stage scores) on the two held-out parts: a
    temperature and unsure threshold fitted on the selection part (the lab's own epochs; the parent's
    calibration was fitted to the parent's outputs), with its ECE on the report part, which fitted nothing.
    Too few selection epochs: the parent's unsure threshold alone. Either way the parent's stage
    transitions (``transitions.smooth``), if it has them, with their temperature, and its chin-EMG coefficients.

    `eog_only` / `eog_only_report`: the same parts scored with their EEG removed; the child's own
    ``eog_only_temperature`` is fitted on the first (``calibration.fit_eog_only``) and its ECE reported on
    the second. Without them (corrections lacking a channel) or with too few epochs, the child reads EOG-only
    recordings with the parent's whole EOG-only scaling (its temperature as ``eog_only_base_temperature``, and
    its EOG-only temperature): on other subjects' nights that was better calibrated than the child's own
    scaling with or without the parent's EOG-only temperature on top (reports/eog-only-synthetic/)."""
    from sleepscope.model.calibration import calibrated_probs, ece, fit_calibration, fit_eog_only, softmax

    (y, scores), (yr, sr) = select, report
    parent = parent_card.calibration or {}
    # Real nights' stage transitions hold for the child as for its parent; the held-out parts are
    # scattered stretches, not nights, so the chain's temperature stays the parent's.
    # The chin EMG's tone means for the child what it meant for the parent.
    chain = {k: parent[k] for k in ("transitions", "smoothed_temperature", "transitions_from", "transitions_declined",
                                    "transitions_verdict", "chin_emg") if k in parent}
    carried = {"eog_only_base_temperature": parent.get("eog_only_base_temperature", parent.get("temperature", 1.0)),
               "eog_only_temperature": parent["eog_only_temperature"]} if "eog_only_temperature" in parent else {}
    if len(y) < MIN_SELECT_EPOCHS:
        kept = {"unsure_threshold": parent["unsure_threshold"]} if "unsure_threshold" in parent else {}
        return {**kept, **chain, **carried}
    calibration = fit_calibration(scores, y, confidence_map=False)
    calibration["fitted_on"] = "the selection part of the corrections"
    if len(yr):
        calibration["report_ece_before"] = ece(softmax(sr), yr)
        calibration["report_ece"] = ece(calibrated_probs(sr, calibration), yr)
    if eog_only is not None and len(eog_only[0]) >= MIN_SELECT_EPOCHS:
        ye, se = eog_only
        calibration.update(fit_eog_only([(se, ye, np.zeros(len(ye), bool))], calibration))
        if eog_only_report is not None and len(eog_only_report[0]):
            yre, sre = eog_only_report
            calibration["eog_only_report_ece"] = ece(calibrated_probs(sre, calibration, False, eog_only=True), yre)
    else:
        calibration.update(carried)
    return {**calibration, **chain}


def finetune(
    parent: SleepStager,
    parent_card: ModelCard,
    corrections: CorrectionSet,
    out: str | Path | None = None,
    options: FineTuneOptions | None = None,
    *,
    info: DistInfo = DistInfo(),
    events: Events | None = None,
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    pseudo: CorrectionSet | None = None,
    anchor: tuple[SleepStager, ModelCard] | None = None,
) -> FineTuneResult:
    """Fine-tune a copy of `parent` on `corrections`; the parent itself is not changed.

    `anchor` is the stager the kept child is averaged with (``keep_parent``)
    and compared against on the held-out parts; by default the parent. A site
    pre-trained (encoder-only) parent cannot score, so callers give the stager
    it was continued from (:func:`site_anchor`); without one the child is kept
    as trained and compared with the encoder-only parent.

    `pseudo` (:mod:`sleepscope.model.pseudo_labels`) adds agreed epochs of
    unlabelled nights as their own label source: trained on with loss weight
    `options.pseudo_weight`, never held out, never counted as corrections.

    Returns the child (the pass best on the selection part) and its card; with
    `out` the child is saved there (`OUT.safetensors` + `OUT.json`, on the
    main process only). The card carries: parent = the parent's version,
    data = the identity of the corrections, metrics["heldout"] = accuracy /
    macro-F1 / kappa / per-stage F1 of the child AND of the parent on the same
    report epochs (which chose nothing), metrics["selection"] = both on the
    selection part, calibration = the child's own (:func:`child_calibration`).

    `events` receives dicts as training goes: ``{"event": "parent", ...}``
    (the parent's figures on the selection part, before training),
    ``{"event": "step", "step", "total", "loss"}`` per optimiser step and
    ``{"event": "epoch", "epoch", "val_macro_f1", ...}`` per pass (selection
    part). Raises ``Cancelled`` when
    `cancel` fires (checked every step and every validation batch); nothing is
    written then.
    """
    from sleepscope.model.loop import StepEvent, ValidationEvent
    from sleepscope.model.train import TrainConfig, inverse_frequency_weights, train

    opts = options or FineTuneOptions()
    opts.validate()
    if opts.freeze_encoders is None:
        opts = replace(opts, freeze_encoders=trained_with_frozen_encoders(parent_card.metrics))
    if opts.channel_dropout is None:
        opts = replace(opts, channel_dropout=trained_channel_dropout(parent_card.familiarity, parent_card.metrics))
    started = time.perf_counter()
    if len(corrections) < MIN_EPOCHS:
        raise SleepScopeError(
            f"only {len(corrections)} technician-labelled epochs are available; fine-tuning needs at least "
            f"{MIN_EPOCHS} (a few hundred give a meaningful held-out check): score more epochs first")
    from sleepscope.model.inputs import check_prepared

    check_prepared(corrections.x, parent.config.normalisation)
    seq_len = opts.seq_len or parent.config.seq_len
    block = opts.block_epochs or seq_len
    split = split_heldout(corrections, opts.holdout, block, opts.guard_epochs, opts.seed)
    train_data = CorrectionSequences(corrections, split.train_runs, seq_len)
    select_data = CorrectionSequences(corrections, split.select_runs, seq_len)
    report_data = CorrectionSequences(corrections, split.report_runs, seq_len)
    identity = data_identity(corrections)
    device = info.device
    check(cancel)

    parent = parent.to(device)
    if anchor is None and not getattr(parent, "encoder_only", False):
        anchor = (parent, parent_card)
    reference = anchor[0].to(device) if anchor is not None else parent
    compared = reference
    if reference.config.night_statistics:
        # The parent pre-scores each night with its own statistics: it is compared as it reads these
        # corrections' (an approximation: pre-scoring also averages in a pass with the trained statistics).
        from sleepscope.model.night_norm import corrections_statistics

        compared = corrections_statistics(reference, corrections.x)
    main = info.is_main
    parent_select = _evaluate(compared, select_data, device, cancel) if main else {}
    parent_report = _evaluate(compared, report_data, device, cancel) if main else {}
    if events is not None and main:
        events({"event": "parent", "val_macro_f1": parent_select["macro_f1"],
                "val_accuracy": parent_select["accuracy"], "n_train": int(split.train.size),
                "n_heldout": int(split.heldout.size), "n_select": int(split.select.size),
                "n_report": int(split.report.size)})
    check(cancel)

    child = to_learn_from_labels(copy.deepcopy(parent))
    n_pseudo = len(pseudo) if pseudo is not None else 0
    per_epoch = None
    if n_pseudo and opts.pseudo_balance:
        from sleepscope.model.pseudo_labels import balanced, stage_weights

        pseudo = balanced(pseudo, seq_len, opts.seed)
        n_pseudo = len(pseudo)
        per_epoch = stage_weights(pseudo.y)
    if n_pseudo:
        pseudo_data = CorrectionSequences(pseudo, contiguous_runs(pseudo), seq_len)
        train_data = ConcatDataset([Weighted(train_data, 1.0), Weighted(pseudo_data, opts.pseudo_weight, per_epoch)])
    steps_per_pass = math.ceil(math.ceil(len(train_data) / info.world_size) / opts.batch_size)
    passes = max(opts.epochs, math.ceil(opts.min_steps / max(steps_per_pass, 1)))
    warmup = min(opts.min_steps, passes * steps_per_pass, opts.max_steps or opts.min_steps)
    chooses = split.select.size >= MIN_SELECT_EPOCHS
    # Validate about once a pass, but not every step when a pass is a step or two (the plot stays readable).
    val_every = None if steps_per_pass * 4 >= opts.min_steps else max(1, opts.min_steps // 4)
    # Patience is applied here (on_validation), so that it never stops a run before `warmup` steps.
    cfg = TrainConfig(epochs=passes, batch_size=opts.batch_size, lr=opts.lr, patience=None, val_every=val_every,
                      max_steps=opts.max_steps, seed=opts.seed, freeze_encoders=opts.freeze_encoders,
                      channel_dropout=opts.channel_dropout, distill=opts.distill if anchor is not None else 0.0,
                      distill_agreed=opts.distill_agreed)
    weights = inverse_frequency_weights(corrections.y[split.train]) if opts.class_weights else None
    last: dict = {}
    stopped = []

    def on_step(e: StepEvent) -> None:
        if events is not None and main:
            events({"event": "step", "step": e.step, "total": e.total, "loss": e.loss})
        if not chooses and e.step == e.total:
            last.update({k: v.detach().clone() for k, v in child.state_dict().items()})

    def on_validation(v: ValidationEvent) -> bool:
        if events is not None and main:
            events({"event": "epoch", "epoch": v.epoch + 1, "val_macro_f1": v.metrics["macro_f1"],
                    "val_accuracy": v.metrics.get("accuracy", math.nan), "val_kappa": v.metrics.get("kappa", math.nan)})
        if chooses and v.bad >= opts.patience and v.step >= warmup:
            stopped.append(v.step)
        return bool(stopped)

    result = train(child, train_data, select_data, cfg, class_weights=weights, on_step=on_step,
                   on_validation=on_validation, info=info, progress=progress, cancel=cancel,
                   teacher=reference if cfg.distill > 0 else None)
    check(cancel)
    best_epoch, selection = result.best_epoch, result.validation
    if not chooses:
        # Too few selection epochs to choose a pass: the last one is kept.
        if last:
            child.load_state_dict(last)
        best_epoch = -1
    if anchor is None:
        # A site pre-trained encoder's head never learned to read it: averaging towards it undoes the labels.
        opts = replace(opts, keep_parent=0.0)
    share_choice, other = None, None
    left = recordings_to_leave_out(corrections) if opts.other_recording else None
    if left is not None:
        other, share_choice = _other_recording(parent, parent_card, corrections, *left, opts, reference, seq_len,
                                               info, events, cancel, pseudo, anchor)
    if opts.keep_parent > 0:
        from sleepscope.model.weight_average import average_weights

        averaged = average_weights(child, reference, opts.keep_parent)  # new tensors: the child is untouched
        if share_choice is None or share_choice["kept"] == "average":
            child.load_state_dict(averaged)
        else:
            opts = replace(opts, keep_parent=0.0)
    child_report, calibration, verdicts, opinion, one_channel = {}, {}, {}, None, {}
    if main:
        if opts.opinion == "choose" and mixes_opinions(child.config) and chooses:
            opinion = _choose_opinion(child, select_data, device, cancel)
        elif opts.opinion == "drop" and mixes_opinions(child.config):
            mixed = sum(opinion_weights(child.config))
            opinion = {"parent": mixed, "kept": 0.0, "other": mixed}
            child.config = child.config.with_(eeg_opinion=0.0, eog_opinion=0.0)
        scored = child
        chosen = (other or {}).get("reading_choice") or {}
        if reference.config.night_statistics and (opts.reading == "night" or chosen.get("kept") == "night"):
            from sleepscope.model.night_norm import corrections_statistics

            child.config = child.config.with_(night_statistics=True)
            scored = corrections_statistics(child, corrections.x)  # as the parent is compared, above
        # Each held-out part scored once by the kept model: its figures and its calibration come from these.
        select_scores = _scores(scored, select_data, device, cancel)
        report_scores = _scores(scored, report_data, device, cancel)
        eog_only = None
        if has_both_channels(corrections.x):
            from sleepscope.model.night_norm import corrections_statistics

            def reading(model, reads_night: bool, removed: int):
                # A model that reads each night's statistics takes them from the recording without that channel.
                return corrections_statistics(model, corrections.x, absent=removed) if reads_night else model

            child_eog = reading(child, scored is not child, 0)
            # As an EOG-only recording reaches the model: what the child's EOG-only temperature is fitted on.
            eog_only = tuple(_scores(child_eog, WithoutChannel(d, 0), device, cancel) if _has_channel(d, 1) else None
                             for d in (select_data, report_data))
            # Fine-tuning teaches the two-channel reading: say what it did to recordings with one channel.
            for name, removed in (("EEG only", 1), ("EOG only", 0)):
                if _has_channel(report_data, 1 - removed):
                    part = WithoutChannel(report_data, removed)
                    child_scores = eog_only[1] if removed == 0 else _scores(
                        reading(child, scored is not child, removed), part, device, cancel)
                    parent_one = reading(reference, bool(reference.config.night_statistics), removed)
                    one_channel[name] = {"child": _metrics(*child_scores),
                                         "parent": _evaluate(parent_one, part, device, cancel)}
        if not chooses or opts.keep_parent > 0:  # the loop's figure was of another model, or of none
            selection = _metrics(*select_scores)
        child_report = _metrics(*report_scores)
        calibration = child_calibration(anchor[1] if anchor else parent_card, select_scores, report_scores,
                                        *(eog_only or ()))
        if anchor is not None and (anchor[1].calibration or {}).get("transitions") is not None:
            from sleepscope.model.chain_choice import chain_verdict, with_verdict

            runs = [(corrections.x[idx], corrections.y[idx]) for idx in contiguous_runs(corrections)]
            verdict = chain_verdict(anchor[0], anchor[1].calibration or {}, runs, device, cancel)
            verdicts["parent"] = verdict and {**verdict, "by": "parent"}
            checked = (other or {}).get("chain_verdict")
            if checked is not None:
                # The kept child's twin on a recording it never learned from: each test alone missed a loss the
                # other saw, so either declines the chain.
                verdicts["check child"] = {**checked, "by": "check child", "recording": other["recording"]}
            said = [v for v in (verdicts.get("check child"), verdicts["parent"]) if v]
            verdict = next((v for v in said if not v["kept"]), said[-1] if said else None)
            if verdict is not None:
                calibration = with_verdict(calibration, verdict, "the corrected recordings" if verdict["by"] == "parent"
                                           else f"{verdict['recording']} (left out of a check fine-tuning)")
        from sleepscope.model.eeg_band import WAKE_BAND_HZ, learned_band

        below = float(((anchor[1] if anchor else parent_card).calibration or {}).get("wake_band_hz", WAKE_BAND_HZ))
        if (band := learned_band(corrections, below)) != WAKE_BAND_HZ:
            calibration["wake_band_hz"] = band
    seconds = time.perf_counter() - started
    n_rec = len(set(corrections.fingerprint.tolist()))
    per_source = {s: int(np.count_nonzero(corrections.source == s)) for s in dict.fromkeys(corrections.source.tolist())}
    metrics = {
        "data_identity": identity,
        # Reported epochs: held out, and not used to choose the kept pass.
        "heldout": {"child": child_report, "parent": parent_report, "n_epochs": int(split.report.size),
                    "compared_with": anchor[1].version if anchor else parent_card.version},
        # The same reported epochs with one channel removed, as EEG-only and EOG-only recordings reach the models.
        "heldout_one_channel": one_channel or None,
        # The epochs that chose the kept pass: the child's figure here is optimistic by construction.
        "selection": {"child": selection, "parent": parent_select, "n_epochs": int(split.select.size)},
        "finetune": {
            "n_corrections": len(corrections), "n_train": int(split.train.size),
            "n_heldout": int(split.heldout.size), "n_select": int(split.select.size),
            "n_report": int(split.report.size), "n_guard_dropped": split.dropped, "recordings": n_rec,
            "per_stage": corrections.counts_per_stage(), "per_source": per_source,
            "scarce_stages": scarce_stages(corrections.counts_per_stage()),
            "epochs": result.epochs, "steps": result.steps, "best_epoch": best_epoch,
            "stopped_early": bool(stopped), "min_steps": opts.min_steps, "passes_asked": opts.epochs,
            "chose_pass": chooses, "lr": opts.lr, "batch_size": opts.batch_size,
            "seq_len": seq_len, "holdout": opts.holdout, "block_epochs": block, "guard_epochs": opts.guard_epochs,
            "freeze_encoders": opts.freeze_encoders, "channel_dropout": opts.channel_dropout,
            "class_weights": opts.class_weights, "seed": opts.seed, "keep_parent": opts.keep_parent,
            "seconds": round(seconds, 2), "processes": info.world_size,
            "n_pseudo": n_pseudo, "pseudo_weight": opts.pseudo_weight if n_pseudo else None,
            "parent_reading": _per_stage(pseudo, READING_SOURCE) if n_pseudo else {},
            "pseudo_balance": bool(n_pseudo and opts.pseudo_balance), "share_choice": share_choice,
            "chain_verdict": calibration.get("transitions_verdict"), "chain_verdicts": verdicts or None,
            "opinion_choice": opinion,
            "reading": "night" if child.config.night_statistics else "trained", "reading_asked": opts.reading,
            "val_macro_f1_per_epoch": [h.get("val_macro_f1") for h in result.history],
        },
    }
    if other is not None:
        metrics["other_recording"] = other
    files = sorted(set(corrections.recording_files.values()))
    chain = calibration.get("transitions_verdict")
    chain_note = ""
    if chain and not chain["kept"]:
        who = (f"fine-tuned without {chain['recording']}, a check child read it" if chain.get("by") == "check child"
               else "its parent read the corrected recordings")
        chain_note = f", no stage-transition chain ({who} {chain['gap_without']:+.3f} more accurately without it)"
    card = ModelCard(
        config=child.config,
        parent=parent_card.version or getattr(parent, "version", None),
        data=(f"fine-tuned on corrections sha256:{identity[:16]}: {len(corrections)} labelled epochs of {n_rec} "
              f"recording(s) ({', '.join(files[:5])}{', ...' if len(files) > 5 else ''}); "
              f"{split.train.size} trained on, {split.heldout.size} held out ({split.select.size} to choose the "
              f"kept pass, {split.report.size} to report); from parent {parent_card.version}"),
        metrics=metrics,
        calibration=calibration,
        notes=(f"fine-tuned from {parent_card.version}: Adam lr {opts.lr}, {result.epochs} passes ({result.steps} "
               "steps), " + (f"best pass {best_epoch + 1}" if chooses else "last pass kept")
               + (", encoders frozen" if opts.freeze_encoders else "")
               + (f", channel dropout {opts.channel_dropout:g}" if opts.channel_dropout else "")
               + (", class weights" if opts.class_weights else "")
               + (f", averaged with {'the parent' if anchor[0] is parent else anchor[1].version} "
                  f"({opts.keep_parent:g} of its weights)" if opts.keep_parent else "")
               + (f", kept as trained: fine-tuned without {share_choice['recording']}, it read that recording "
                  f"{share_choice['gap']:+.3f} better than its average with the parent"
                  if share_choice and share_choice["kept"] == "child" and "gap" in share_choice else "")
               + chain_note
               + (f", one-channel opinions weighted {opinion['kept']:g} (the parent's {opinion['parent']:g}"
                  + (f"; selection macro-F1 {opinion['macro_f1'][str(opinion['kept'])]:.3f} against "
                     f"{opinion['macro_f1'][str(opinion['other'])]:.3f}" if "macro_f1" in opinion else "")
                  + ")" if opinion else "")
               + (f". The kept pass was chosen on {split.select.size} held-out epochs" if chooses else
                  f". {split.select.size} held-out epochs are too few to choose a pass (fewer than "
                  f"{MIN_SELECT_EPOCHS}), so the last pass was kept")
               + f"; the held-out figures are on {split.report.size} others that chose nothing."),
    )
    # The returned model predicts as its saved card does (it was copied with the parent's calibration).
    child.calibration = dict(calibration)
    path = None
    if out is not None and info.is_main:
        check(cancel)
        card = save_model(child, out, card)
        path = Path(out)
        if path.suffix != ".safetensors":
            path = path.with_name(path.name + ".safetensors")
    return FineTuneResult(child, card, path, split, list(result.history), list(result.losses), seconds)


def _choose_opinion(child: SleepStager, select_data: CorrectionSequences, device: torch.device,
                    cancel: CancelToken | None) -> dict:
    """Keep the child's one-channel opinions (``eeg_opinion``, ``eog_opinion``) or drop them to 0, by macro-F1 on the
    selection part (a tie keeps them); the child's configuration is set to the choice. The record gives their
    total weight."""
    parent = child.config
    mixed = sum(opinion_weights(parent))
    scores = {}
    for w, config in ((mixed, parent), (0.0, parent.with_(eeg_opinion=0.0, eog_opinion=0.0))):
        child.config = config
        scores[w] = _evaluate(child, select_data, device, cancel)["macro_f1"]
    kept = 0.0 if scores[0.0] > scores[mixed] else mixed
    child.config = parent if kept else parent.with_(eeg_opinion=0.0, eog_opinion=0.0)
    return {"parent": mixed, "kept": kept, "other": mixed if kept == 0.0 else 0.0,
            "macro_f1": {str(w): round(float(v), 4) for w, v in scores.items()}}


def _other_recording(parent, parent_card, corrections: CorrectionSet, left: list[str], subject: str | None,
                     opts: FineTuneOptions, reference: SleepStager, seq_len: int, info: DistInfo,
                     events: Events | None, cancel: CancelToken | None, pseudo: CorrectionSet | None,
                     anchor) -> tuple[dict, dict | None]:
    """A child fine-tuned like the kept one but without the recordings `left` (fingerprints; one recording, or
    `subject`'s), and the parent, scored on their corrections: the card's ``metrics["other_recording"]``
    (figures on the main process only), and the share choice it makes (or None).

    With ``choose_share`` (and a parent's share to keep) the check child is trained as trained and scored
    beside its average with `reference`: the next subject's recording is what averaging protects, so the
    kept child stays as trained only when the check child reads the left-out recording better than its
    average by more than one standard error over blocks of 2 x L epochs. The check's figures are then those
    of the check child with the share chosen."""
    from sleepscope.model.distributed import broadcast_float
    from sleepscope.model.paired_gap import night_blocks
    from sleepscope.model.weight_average import average_weights, share_verdict

    out = np.isin(corrections.fingerprint, left)
    held = corrections.rows(out)
    name = ", ".join(corrections.recording_files.get(fp, fp) for fp in left)
    main = info.is_main
    decide = opts.choose_share and opts.keep_parent > 0
    if events is not None and main:
        events({"event": "status", "message": f"Checking on {'subject ' + subject + ': ' if subject else ''}{name} "
                                              f"({len(held)} epochs), which a second fine-tuning leaves out"})

    def relay(e: dict) -> None:
        if e.get("event") == "step" and events is not None and main:
            events({"event": "check_step", "step": e["step"], "total": e["total"], "recording": name})

    if pseudo is not None:  # its unlabelled epochs would show the check child the left-out set-up
        pseudo = pseudo.rows(~np.isin(pseudo.fingerprint, left))
        pseudo = pseudo if len(pseudo) else None
    check_opts = replace(opts, other_recording=False, choose_share=False, reading="trained",
                         keep_parent=0.0 if decide else opts.keep_parent)
    run = finetune(parent, parent_card, corrections.rows(~out), None, check_opts, info=info, events=relay,
                   cancel=cancel, pseudo=pseudo, anchor=anchor)
    runs = contiguous_runs(held)
    data = CorrectionSequences(held, runs, seq_len)
    y, child = _scores(run.model, data, info.device, cancel) if main else (None, None)
    block_of = None
    if main:
        owner = np.full(len(held), -1, np.int64)
        owner[np.concatenate(runs)] = night_blocks([r.size for r in runs], 2 * seq_len)
        block_of = np.concatenate([owner[idx][mask & (held.y[idx] >= 0)] for idx, mask in data.items])
    choice = None
    if decide:
        averaged = average_weights(run.model, reference, opts.keep_parent)
        if main:
            trained = {k: v.detach().clone() for k, v in run.model.state_dict().items()}
            run.model.load_state_dict(averaged)
            _, child_avg = _scores(run.model, data, info.device, cancel)
            choice = {"method": "left-out recording", "recording": name,
                      **share_verdict(child.argmax(1) == y, child_avg.argmax(1) == y, block_of)}
            if choice["kept"] == "average":
                child = child_avg
            else:
                run.model.load_state_dict(trained)
        kept_child = broadcast_float(1.0 if choice and choice["kept"] == "child" else 0.0, info)
        choice = {**(choice or {}), "kept": "child" if kept_child > 0.5 else "average"}
    if not main:
        return {}, choice
    compared = reference
    reading_choice = None
    if reference.config.night_statistics:
        from sleepscope.model.night_norm import corrections_statistics

        compared = corrections_statistics(reference, held.x)
        if opts.reading == "choose":
            # The subject left out is what held-out blocks of the corrected recordings cannot show: a child fitted
            # to the corrected subjects reads them best with its trained statistics, other subjects with their own.
            _, night = _scores(corrections_statistics(run.model, held.x), data, info.device, cancel)
            reading_choice = reading_verdict(night.argmax(1) == y, child.argmax(1) == y, block_of) | {
                "recording": name}
    from sleepscope.scoring.difference import macro_f1_difference, verdict

    _, parent_scores = _scores(compared, data, info.device, cancel)
    # One subject's few hundred epochs: a small difference may be which epochs were corrected, not the child.
    diff, low, high = macro_f1_difference(y, child.argmax(1), parent_scores.argmax(1))
    chain = None
    anchor_calibration = (anchor[1].calibration or {}) if anchor is not None else {}
    if anchor_calibration.get("transitions") is not None:
        from sleepscope.model.chain_choice import chain_verdict, without_chain

        # The chain the kept child inherits, on the check child's own temperature (fitted as trained: with
        # the average kept, an approximation; no corrections are left to fit the average's).
        own = {k: v for k, v in without_chain(run.card.calibration or {}).items()
               if k not in ("transitions_declined", "transitions_verdict")}
        reading = {**own, **{k: anchor_calibration[k] for k in ("transitions", "smoothed_temperature")
                             if k in anchor_calibration}}
        chain = chain_verdict(run.model, reading, [(held.x[idx], held.y[idx]) for idx in runs], info.device, cancel)
    return {"recording": name, "fingerprints": list(left), "by": "subject" if subject else "recording",
            "chain_verdict": chain, "reading_choice": reading_choice,
            "n_epochs": len(held), "subject": subject,
            "n_trained_on": len(corrections) - len(held), "child": _metrics(y, child),
            "parent": _metrics(y, parent_scores), "macro_f1_difference": [diff, low, high],
            "verdict": verdict(low, high)}, choice


def reading_verdict(right_night: np.ndarray, right_trained: np.ndarray, block: np.ndarray) -> dict:
    """Read nights also with their own statistics, or with the trained ones only, from which epochs of a subject's
    recording the check child got right each way (`block`: each epoch's block): their own only when that is ahead
    by more than one standard error over the blocks (the trained reading is the default)."""
    from sleepscope.model.paired_gap import paired_gap

    g = paired_gap(right_night, right_trained, block)
    return {k: v for k, v in g.items() if k != "a_ahead"} | {
        "kept": "night" if g["a_ahead"] else "trained",
        "accuracy": {"trained": float(np.mean(right_trained)), "night": float(np.mean(right_night))}}


def stage_f1_table(metrics: dict) -> list[tuple[str, float, float]]:
    """[(stage, child F1, parent F1)] from a fine-tuned card's held-out metrics."""
    h = metrics.get("heldout", {})
    c, p = h.get("child", {}).get("f1", {}), h.get("parent", {}).get("f1", {})
    return [(n, float(c.get(n, math.nan)), float(p.get(n, math.nan))) for n in NAMES]


__all__ = ["FineTuneOptions", "FineTuneResult", "finetune", "data_identity", "stage_f1_table", "Cancelled",
           "MIN_EPOCHS", "MIN_SELECT_EPOCHS", "MIN_OTHER_EPOCHS", "recordings_to_leave_out"]
