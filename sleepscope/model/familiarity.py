"""Is a recording like what the model learned? A per-night verdict with its reasons.

Each epoch is described by input statistics the scorer's eye also uses
(:func:`input_features`): per channel, the share of power in six bands
(0.5-2, 2-4, 4-8, 8-12, 12-16, 16-30 Hz, as logs) and the epoch's log
amplitude relative to the night's median, plus the EEG-EOG correlation.
The training epochs are summarised in the model card by one mean per stage
and one shared covariance (a class-conditional Gaussian, as Lee et al.,
2018). An epoch's distance is its squared Mahalanobis distance to the mean of
the stage the model gives it: an epoch the model calls N2 should look like
the N2 it learned. ``epoch_cutoff`` is the 99th percentile of the training
epochs' distances (to their own stage), so about 1 % of familiar epochs lie
beyond it. A night is unfamiliar when the share of its artefact-free epochs
beyond the cutoff exceeds ``night_limit``, set from validation nights so
that in-distribution nights stay below it (:func:`night_limit`).

A missing channel the model was not trained to do without is a reason of
its own, and so is a second opinion (YASA, trained on real nights) that
disagrees with the model on more of the night's epochs than on any
validation night (:func:`with_second_opinion`): two scorers trained apart
disagree more where either is out of its depth. So is a suggested night
unlike any real one (:mod:`sleepscope.model.plausibility`), which catches a
model that stays inside what it learned epoch by epoch, as the wrong stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

ACTION = "correct a few hundred epochs, then fine-tune (Model → Fine-tune)"
#: The limit never goes below this share of outlying epochs.
MIN_NIGHT_LIMIT = 0.10
#: From this many validation nights on, the worst of them is the limit; with fewer, it is stretched by NIGHT_MARGIN.
ENOUGH_NIGHTS = 19
NIGHT_MARGIN = 1.25
#: The second opinion's limit never goes below this share of disagreeing epochs.
MIN_SECOND_OPINION_LIMIT = 0.25


@dataclass
class Familiarity:
    """The verdict on one recording."""

    familiar: bool
    #: share of artefact-free epochs beyond the training cutoff (None: the model card has no statistics)
    outlying: float | None
    limit: float | None
    reasons: list[str] = field(default_factory=list)

    def message(self) -> str:
        """One line for the CLI and the GUI's banner ('' when familiar and nothing to say)."""
        if self.familiar:
            return ""
        return ("this recording is unlike what the model learned (" + "; ".join(self.reasons)
                + f"): its stages are unreliable. {ACTION[0].upper()}{ACTION[1:]}.")

    def to_dict(self) -> dict:
        return {"familiar": self.familiar, "outlying": self.outlying, "limit": self.limit,
                "reasons": list(self.reasons)}


#: Names the statistics :func:`input_features` computes; a card fitted on other ones is not compared.
FEATURES = "input_features v2"
BANDS = ((0.5, 2.0), (2.0, 4.0), (4.0, 8.0), (8.0, 12.0), (12.0, 16.0), (16.0, 30.0))


def input_features(recording) -> np.ndarray:
    """(n_epochs, 15) statistics per epoch (module docstring); a missing channel gives zeros for its part."""
    n = recording.n_epochs
    cols = []
    centred = {}
    for kind in ("eeg", "eog"):
        name = recording.eeg_name if kind == "eeg" else recording.eog_name
        if name is None:
            cols += [np.zeros(n)] * (len(BANDS) + 1)
            continue
        e = np.nan_to_num(np.asarray(recording.epochs(kind), dtype=np.float32))
        centred[kind] = e - e.mean(axis=1, keepdims=True)
        # one periodogram per epoch: band sums over dozens of bins are steady enough, at a
        # fraction of Welch's cost
        p = np.abs(np.fft.rfft(centred[kind], axis=1)) ** 2
        f = np.fft.rfftfreq(e.shape[1], 1.0 / recording.fs)
        total = p[:, (f >= BANDS[0][0]) & (f < BANDS[-1][1])].sum(axis=1) + 1e-12
        cols += [np.log(p[:, (f >= lo) & (f < hi)].sum(axis=1) / total + 1e-6) for lo, hi in BANDS]
        amp = np.log(centred[kind].std(axis=1) + 1e-3)
        cols.append(amp - np.median(amp))
    if len(centred) == 2:
        a, o = centred["eeg"].astype(np.float64), centred["eog"].astype(np.float64)
        cols.append((a * o).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (o * o).sum(axis=1) + 1e-12))
    else:
        cols.append(np.zeros(n))
    return np.stack(cols, axis=1)


def _precision(features: np.ndarray, labels: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    d = features.shape[1]
    means = np.zeros((n_classes, d))
    centred = []
    for c in range(n_classes):
        sel = labels == c
        if sel.any():
            means[c] = features[sel].mean(axis=0)
            centred.append(features[sel] - means[c])
        else:
            means[c] = np.nan  # a stage never seen: no mean to be near
    r = np.concatenate(centred)
    cov = r.T @ r / max(1, len(r) - 1)
    cov += np.eye(d) * (1e-3 * np.trace(cov) / d + 1e-9)  # shrinkage: a few nights, collinear features
    return means, np.linalg.inv(cov)


#: Columns of :func:`input_features` per channel (the last one, the EEG-EOG correlation, needs both).
CHANNEL_COLUMNS = {"eeg": tuple(range(0, 7)), "eog": tuple(range(7, 14))}


def marginal(stats: dict, columns: tuple[int, ...]) -> dict:
    """The statistics of a subset of the features (a recording without one channel): the Gaussian's marginal.

    The epoch cutoff is rescaled by the ratio of the chi-square 99th
    percentiles for the two numbers of features.
    """
    from scipy.stats import chi2

    cols = list(columns)
    prec = np.asarray(stats["precision"], dtype=np.float64)
    cov = np.linalg.inv(prec)[np.ix_(cols, cols)]
    d = prec.shape[0]
    return {**stats, "means": np.asarray(stats["means"], dtype=np.float64)[:, cols].tolist(),
            "precision": np.linalg.inv(cov).tolist(),
            "epoch_cutoff": float(stats["epoch_cutoff"]) * chi2.ppf(0.99, len(cols)) / chi2.ppf(0.99, d)}


def distances(features: np.ndarray, stats: dict, stages: np.ndarray | None = None) -> np.ndarray:
    """Per epoch, the squared Mahalanobis distance to the mean of its stage (`stages`; None: the nearest mean)."""
    f = np.asarray(features, dtype=np.float64)
    means = np.asarray(stats["means"], dtype=np.float64)
    prec = np.asarray(stats["precision"], dtype=np.float64)
    per = np.full((len(f), len(means)), np.inf)
    for c, m in enumerate(means):
        if not np.isnan(m).any():
            r = f - m
            per[:, c] = np.einsum("ij,jk,ik->i", r, prec, r)
    if stages is None:
        return per.min(axis=1)
    st = np.asarray(stages, dtype=np.int64)
    ok = (st >= 0) & (st < len(means))
    out = per.min(axis=1)
    out[ok] = per[np.flatnonzero(ok), st[ok]]
    return out


def outlying_share(features: np.ndarray, stats: dict, stages: np.ndarray | None = None) -> float:
    if len(features) == 0:
        return 0.0
    return float(np.mean(distances(features, stats, stages) > stats["epoch_cutoff"]))


def night_limit(shares, floor: float) -> float:
    """The night limit from validation nights' shares: an in-distribution night exceeds it at most 5 % of the time.

    A new night exchangeable with n validation nights exceeds the largest of their shares with
    probability 1/(n+1): from ENOUGH_NIGHTS nights on, that is 5 % or less, and the largest share is
    the limit. Fewer nights cannot give 5 %; their largest share is then stretched by NIGHT_MARGIN.
    """
    top = max(shares, default=0.0)
    return float(max(floor, top if len(shares) >= ENOUGH_NIGHTS else NIGHT_MARGIN * top))


def fit_familiarity(features: np.ndarray, labels: np.ndarray, val_nights: list[tuple[np.ndarray, np.ndarray]],
                    n_classes: int = 5) -> dict:
    """The card's ``familiarity`` entry.

    ``features``/``labels``: training epochs (:func:`input_features`, true
    stages); ``val_nights``: per validation night, its epochs' features and
    the stages the model gives them (as ``predict`` will see them).
    """
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    f = np.asarray(features, dtype=np.float64)[keep]
    means, prec = _precision(f, labels[keep], n_classes)
    stats = {"features": FEATURES, "means": means.tolist(), "precision": prec.tolist()}
    stats["epoch_cutoff"] = float(np.percentile(distances(f, stats, labels[keep]), 99))
    shares = [outlying_share(v, stats, s) for v, s in val_nights if len(v)]
    stats["night_limit"] = night_limit(shares, MIN_NIGHT_LIMIT)
    stats["validation_shares"] = [round(s, 4) for s in shares]
    return stats


def assess(features: np.ndarray | None, stats: dict | None, *, stages: np.ndarray | None = None, channels=None,
           absent=(), trained_without_channel: bool = False, eog_drift: float | None = None) -> Familiarity:
    """The verdict for one night: ``features`` of its artefact-free epochs and their ``stages``, the card's ``stats``.

    ``channels`` (a :class:`~sleepscope.io.channels.ChannelChoice`),
    ``absent`` (channels read as missing) and ``eog_drift`` (``drift.eog_drift`` of a night read from its EOG
    alone) add reasons of their own.
    """
    reasons = []
    missing = [k.upper() for k in ("eeg", "eog") if k in absent]
    if channels is not None:
        missing += [k.upper() for k, n in (("eeg", channels.eeg), ("eog", channels.eog))
                    if n is None and k.upper() not in missing]
    if missing and not trained_without_channel:
        reasons.append(f"no usable {' or '.join(missing)}, and this model was trained with both channels")
    outlying = limit = None
    if stats and features is not None and len(features):
        gone = {k.lower() for k in missing}
        if gone and len(gone) < 2:  # compare the channel the recording has with what it looked like in training
            cols = CHANNEL_COLUMNS["eog" if "eeg" in gone else "eeg"]
            stats, features = marginal(stats, cols), np.asarray(features)[:, list(cols)]
        outlying, limit = outlying_share(features, stats, stages), float(stats["night_limit"])
        if outlying > limit:
            reasons.append(f"{outlying:.0%} of its epochs lie outside what the model learned "
                           f"(in-distribution nights: under {limit:.0%})")
    if eog_drift is not None:
        from sleepscope.model.drift import EOG_DRIFT_LIMIT

        if eog_drift > EOG_DRIFT_LIMIT:
            reasons.append(f"a slow drift dominates its EOG, the only channel read: under 0.3 Hz, {eog_drift:.1f} "
                           f"times its 0.5-30 Hz content in the median epoch, where nights the model reads well stay "
                           f"under {EOG_DRIFT_LIMIT:g}; the model reads such an EOG as wake (sweat or a loose "
                           "electrode, which the display's high-pass hides)")
    if stages is not None:
        from sleepscope.model.plausibility import implausible_night

        why = implausible_night(stages)
        if why:
            reasons.append(why)
    return Familiarity(familiar=not reasons, outlying=outlying, limit=limit, reasons=reasons)


def disagreeing_share(stages, second_stages) -> float | None:
    """The share of the epochs both scorers staged (artefact epochs are -1) on which they name different stages."""
    a, b = np.asarray(stages), np.asarray(second_stages)
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    both = (a >= 0) & (b >= 0)
    return float(np.mean(a[both] != b[both])) if both.any() else None


def fit_second_opinion(nights, scorer: str) -> dict:
    """The card's ``familiarity["second_opinion"]`` from validation ``nights`` given as (the model's stages as
    ``predict`` gives them, the second opinion's stages); `scorer` names the second opinion."""
    shares = [s for s in (disagreeing_share(a, b) for a, b in nights) if s is not None]
    if not shares:
        raise ValueError("no validation night has epochs staged by both scorers")
    return {"scorer": scorer, "night_limit": night_limit(shares, MIN_SECOND_OPINION_LIMIT),
            "validation_shares": [round(s, 4) for s in shares]}


def with_second_opinion(familiarity: Familiarity | None, stats: dict | None, stages, second_stages) -> Familiarity | None:
    """`familiarity` with one more reason when the second opinion disagrees with the model's `stages` on more
    epochs than the card's limit allows; unchanged (the same object) otherwise or without a fitted limit."""
    fitted = (stats or {}).get("second_opinion")
    share = disagreeing_share(stages, second_stages)
    if not fitted or share is None or share <= fitted["night_limit"]:
        return familiarity
    base = familiarity or Familiarity(familiar=True, outlying=None, limit=None)
    reason = (f"the second opinion, {fitted['scorer']}, disagrees with the model on {share:.0%} of its epochs, "
              f"more than on in-distribution nights (at most {fitted['night_limit']:.0%})")
    return replace(base, familiar=False, reasons=[*base.reasons, reason])
