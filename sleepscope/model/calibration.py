"""Calibrated probabilities and the "unsure" threshold, fitted on validation nights.

Temperature scaling (Guo et al., 2017): the logits are divided by one number T
fitted to minimise the negative log-likelihood of the validation epochs'
stages. It changes no argmax (accuracy is untouched) and only how sure the
probabilities say the model is. The expected calibration error (ECE) is the
share-weighted mean gap between confidence and accuracy over 15 equal-width
confidence bins.

The "unsure" threshold is chosen from measured error capture: for each
candidate threshold t, the share of epochs whose top probability is below t
(flagged) and the share of the model's errors among them (caught); the
threshold kept is the one catching the most errors beyond the share it flags
(caught - flagged), flagging at most :data:`MAX_FLAGGED` of the epochs.
A temperature moves every confidence the same way; a night scored as the mean
of two opinions is under-confident where they disagree and over-confident
where they agree, which no single T fixes. So after the temperature a
monotone map of the top probability (isotonic regression of "the top stage
was right" on it, fitted on the same validation epochs, :func:`fit_confidence_map`)
sets each epoch's confidence; it is applied as a per-epoch temperature
(:func:`apply_confidence_map`), so no epoch's ranking of the stages changes.

A card may also carry ``transitions``, real nights' stage-to-stage
probabilities (:mod:`sleepscope.model.transitions`): a whole night's
calibrated probabilities are then read through that chain, which can change
an epoch's stage, and a second temperature (``smoothed_temperature``), fitted
to the result, tempers the chain's sharpness. A model that already reads a
lab's nights well can read them worse through the chain (the network's 20-epoch
context and the chain both carry how stages follow one another), so a fit keeps
the chain only unless the validation nights are clearly better read without it
(:data:`CHAIN_BLOCK_EPOCHS`); a declined chain is kept as
``transitions_declined`` for the next refit to weigh again.

A recording with an EOG only is read far less well than the two-channel nights
all this is fitted on, by a model as sure of itself as ever; a last temperature
(``eog_only_temperature``, :func:`fit_eog_only`), fitted on the same nights with
their EEG removed, tempers what the rest of the calibration makes of it.

All of it is stored in the model card (``calibration``) and applied by ``predict``
through :func:`calibrated_probs`.
"""

from __future__ import annotations

import numpy as np

#: The most epochs the unsure flag may send back to the technician.
MAX_FLAGGED = 0.15
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.40, 0.96, 0.05))
#: Used when a model card carries no calibration (models trained before it existed).
DEFAULT_UNSURE = 0.6
#: Fewest epochs under one knot of the confidence map.
MAP_KNOT_EPOCHS = 200
#: Blocks of consecutive epochs over which the chain's accuracy gap gets its standard error.
CHAIN_BLOCK_EPOCHS = 40


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(labels)), labels], 1e-12))))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the NLL of `labels` under softmax(logits / T) (grid, then golden-section refinement)."""
    logits, labels = np.asarray(logits), np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    logits, labels = logits[keep], labels[keep]
    if len(labels) == 0:
        raise ValueError("no labelled epochs to calibrate on")
    grid = np.geomspace(0.25, 8.0, 41)
    losses = [nll(logits, labels, t) for t in grid]
    i = int(np.argmin(losses))
    lo, hi = np.log(grid[max(0, i - 1)]), np.log(grid[min(len(grid) - 1, i + 1)])
    g = (np.sqrt(5) - 1) / 2
    for _ in range(30):
        a, b = hi - g * (hi - lo), lo + g * (hi - lo)
        if nll(logits, labels, np.exp(a)) < nll(logits, labels, np.exp(b)):
            hi = b
        else:
            lo = a
    return float(np.exp((lo + hi) / 2))


def ece(probs: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error of the top-class probability (labels < 0 ignored)."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    keep = labels >= 0
    probs, labels = probs[keep], labels[keep]
    if len(labels) == 0:
        return float("nan")
    conf = probs.max(axis=1)
    right = probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        sel = idx == b
        if sel.any():
            total += sel.mean() * abs(conf[sel].mean() - right[sel].mean())
    return float(total)


def error_capture(probs: np.ndarray, labels: np.ndarray, thresholds=THRESHOLDS) -> list[dict]:
    """Per threshold: share of epochs flagged (top probability below it) and share of errors among them."""
    probs, labels = np.asarray(probs), np.asarray(labels)
    keep = labels >= 0
    probs, labels = probs[keep], labels[keep]
    conf = probs.max(axis=1)
    wrong = probs.argmax(axis=1) != labels
    out = []
    for t in thresholds:
        flagged = conf < t
        out.append({"threshold": float(t), "flagged": float(flagged.mean()) if len(conf) else 0.0,
                    "caught": float((flagged & wrong).sum() / max(1, wrong.sum()))})
    return out


def choose_unsure_threshold(table: list[dict], max_flagged: float = MAX_FLAGGED) -> float:
    """The threshold of `table` (from :func:`error_capture`) with the largest caught - flagged, flagging <= max_flagged."""
    ok = [r for r in table if r["flagged"] <= max_flagged] or table[:1]
    return float(max(ok, key=lambda r: (r["caught"] - r["flagged"], -r["threshold"]))["threshold"])


def fit_confidence_map(probs: np.ndarray, labels: np.ndarray, min_count: int = MAP_KNOT_EPOCHS) -> dict:
    """``{"x": confidences, "y": accuracies}``: knots of the isotonic (non-decreasing) fit of "the top stage
    was right" on the top probability, pooled so that each knot rests on at least `min_count` epochs."""
    probs, labels = np.asarray(probs, dtype=np.float64), np.asarray(labels)
    keep = labels >= 0
    probs, labels = probs[keep], labels[keep]
    if len(labels) < 2 * min_count:
        raise ValueError(f"a confidence map needs at least {2 * min_count} labelled epochs, not {len(labels)}")
    conf = probs.max(axis=1)
    order = np.argsort(conf, kind="stable")
    conf, right = conf[order], (probs.argmax(axis=1) == labels)[order].astype(np.float64)
    # Pool adjacent violators, starting from blocks of min_count epochs so that no knot rests on a few.
    edges = list(range(0, len(conf), min_count))
    if len(conf) - edges[-1] < min_count:
        edges.pop()
    blocks = [[float(right[a:b].sum()), float(conf[a:b].sum()), b - a]
              for a, b in zip(edges, edges[1:] + [len(conf)])]
    merged: list[list[float]] = []
    for blk in blocks:
        merged.append(blk)
        while len(merged) > 1 and merged[-2][0] / merged[-2][2] >= merged[-1][0] / merged[-1][2]:
            last = merged.pop()
            merged[-1] = [merged[-1][0] + last[0], merged[-1][1] + last[1], merged[-1][2] + last[2]]
    n_classes = probs.shape[1]
    x = [m[1] / m[2] for m in merged]
    y = [float(np.clip(m[0] / m[2], 1.0 / n_classes + 1e-3, 1.0 - 1e-4)) for m in merged]
    if x[0] > 1.0 / n_classes:
        # Below the first knot the map runs down to chance: an output that is nearly uniform says nothing.
        x, y = [1.0 / n_classes] + x, [1.0 / n_classes + 1e-3] + y
    return {"x": x, "y": y, "min_count": int(min_count)}


def apply_confidence_map(probs: np.ndarray, cmap: dict) -> np.ndarray:
    """`probs` with each row's top probability moved to the map's value, by the per-row temperature that
    gives it (bisection: the top probability falls as the temperature rises), so the order of the stages stays."""
    p = np.asarray(probs, dtype=np.float64)
    target = np.interp(p.max(axis=1), cmap["x"], cmap["y"])
    logp = np.log(np.maximum(p, 1e-12))
    # Two stages nearly tied need a very low temperature to part them.
    lo = np.full(len(p), np.log(1e-3))
    hi = np.full(len(p), np.log(1e3))
    for _ in range(50):
        mid = (lo + hi) / 2
        top = softmax(logp / np.exp(mid)[:, None]).max(axis=1)
        too_sure = top > target
        lo = np.where(too_sure, mid, lo)
        hi = np.where(too_sure, hi, mid)
    return softmax(logp / np.exp((lo + hi) / 2)[:, None])


def calibrated_probs(logits: np.ndarray, calibration: dict | None, both_channels: bool = True,
                     uninformative: np.ndarray | None = None, eog_only: bool = False) -> np.ndarray:
    """The stage probabilities a card's ``calibration`` makes of `logits` (none: a plain softmax).

    `logits` are one night's, in order, when the calibration has ``transitions``; `uninformative`
    epochs (artefact) then bring no evidence to the chain. The confidence map was fitted on nights
    with both channels (for a model with one-channel opinions, their mixture with the whole input's); a night
    with one channel gets the temperatures alone.
    """
    calibration = calibration or {}
    temperature = calibration.get("temperature", 1.0)
    if eog_only and "eog_only_base_temperature" in calibration:
        # A fine-tuned child that fitted no EOG-only scaling of its own reads EOG-only nights with its parent's whole.
        temperature = calibration["eog_only_base_temperature"]
    probs = softmax(logits, float(temperature))
    if calibration.get("confidence_map") and both_channels:
        probs = apply_confidence_map(probs, calibration["confidence_map"])
    if calibration.get("transitions") is not None:
        from sleepscope.model.transitions import smooth

        q = smooth(probs, np.asarray(calibration["transitions"]), uninformative)
        probs = softmax(np.log(q), float(calibration.get("smoothed_temperature", 1.0)))
    if eog_only and calibration.get("eog_only_temperature"):
        probs = softmax(np.log(np.maximum(probs, 1e-12)), float(calibration["eog_only_temperature"]))
    return probs


def fit_eog_only(nights: list[tuple[np.ndarray, np.ndarray, np.ndarray]], calibration: dict) -> dict:
    """``eog_only_temperature`` and the ECE before and after it, for `calibration`, from validation nights given
    as (logits with the EEG removed, stages with -1 unlabelled, artefact epochs), each night in order."""
    logp = np.concatenate([np.log(np.maximum(calibrated_probs(z, calibration, False, uninformative=a), 1e-12))
                           for z, _, a in nights])
    y = np.concatenate([y for _, y, _ in nights])
    keep = y >= 0
    t = fit_temperature(logp[keep], y[keep])
    return {"eog_only_temperature": t, "eog_only_ece_before": ece(softmax(logp[keep]), y[keep]),
            "eog_only_ece": ece(softmax(logp[keep], t), y[keep])}


def fit_calibration(logits: np.ndarray, labels: np.ndarray, temperature: float | None = None,
                    confidence_map: bool = True, *, transitions: np.ndarray | None = None,
                    lengths: list[int] | None = None, uninformative: np.ndarray | None = None) -> dict:
    """The card's ``calibration`` entry from validation logits and stages (labels -1 ignored).

    ``temperature`` given: kept as it is (a released model whose outputs must
    not change), the fitted one only reported as ``fitted_temperature``; a
    kept temperature also keeps the outputs free of a confidence map.
    ``confidence_map``: fit one after the temperature (too few epochs: none).
    ``transitions``: read each night's calibrated probabilities through this
    chain (``lengths``: the nights' epoch counts, in order, summing to the
    logits'; ``uninformative``: their artefact epochs) and fit
    ``smoothed_temperature`` to the result; unless the nights are more accurate
    without the chain by more than a standard error, which declines it
    (``transitions_verdict`` says which).
    """
    labels = np.asarray(labels, dtype=np.int64)
    logits = np.asarray(logits)
    keep = labels >= 0
    fitted = fit_temperature(logits[keep], labels[keep])
    t = fitted if temperature is None else float(temperature)
    out = {"temperature": t, "fitted_temperature": fitted}
    before, after = softmax(logits), softmax(logits, t)
    out["ece_before"], out["ece_temperature"] = ece(before[keep], labels[keep]), ece(after[keep], labels[keep])
    if confidence_map and temperature is None and keep.sum() >= 2 * MAP_KNOT_EPOCHS:
        out["confidence_map"] = fit_confidence_map(after[keep], labels[keep])
        after = apply_confidence_map(after, out["confidence_map"])
    if transitions is not None:
        lengths = list(lengths or [len(labels)])
        if sum(lengths) != len(labels):
            raise ValueError(f"the nights' lengths sum to {sum(lengths)}, not to the {len(labels)} epochs given")
        from sleepscope.model.paired_gap import night_blocks, paired_gap
        from sleepscope.model.transitions import smooth

        out["ece_unsmoothed"] = ece(after[keep], labels[keep])
        chain = np.asarray(transitions, dtype=np.float64).round(6)
        cuts = np.cumsum(lengths)[:-1]
        skip = np.zeros(len(labels), bool) if uninformative is None else np.asarray(uninformative, bool)
        q = np.concatenate([smooth(p, chain, u) for p, u in zip(np.split(after, cuts), np.split(skip, cuts))])
        block = night_blocks(lengths, CHAIN_BLOCK_EPOCHS)
        verdict = paired_gap(after.argmax(1)[keep] == labels[keep], q.argmax(1)[keep] == labels[keep], block[keep])
        out["transitions_verdict"] = {"gap_without": verdict["gap"], "standard_error": verdict["standard_error"],
                                      "blocks": verdict["blocks"], "kept": not verdict["a_ahead"]}
        if verdict["a_ahead"]:
            out["transitions_declined"] = chain.tolist()
        else:
            out["transitions"] = chain.tolist()
            out["smoothed_temperature"] = fit_temperature(np.log(q[keep]), labels[keep])
            after = softmax(np.log(q), out["smoothed_temperature"])
    after, labels = after[keep], labels[keep]
    table = error_capture(after, labels)
    out.update({"ece": ece(after, labels), "unsure_threshold": choose_unsure_threshold(table), "error_capture": table,
                "n_epochs": int(len(labels))})
    return out
