"""Is a recording like what the model learned? A per-night verdict with its reasons.

The model's per-epoch features (``epoch_features``, what the sequence head
reads) of the training epochs are summarised in the model card: one mean per
stage and one shared covariance (the class-conditional Gaussian of Lee et
al., 2018). An epoch's distance is its smallest Mahalanobis distance to a
stage mean; ``epoch_cutoff`` is the 99th percentile of the training epochs'
distances, so about 1 % of familiar epochs lie beyond it. A night is
unfamiliar when the share of its (artefact-free) epochs beyond the cutoff
exceeds ``night_limit``, set from validation nights so that in-distribution
nights stay below it.

Reasons that need no statistics are added to the verdict: a missing
channel the model was not trained to do without, a derivation other than
the one learned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACTION = "correct a few hundred epochs, then fine-tune (Model → Fine-tune)"
#: The limit never goes below this share of outlying epochs.
MIN_NIGHT_LIMIT = 0.05


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


def distances(features: np.ndarray, stats: dict) -> np.ndarray:
    """Per epoch, the smallest squared Mahalanobis distance to a stage mean."""
    f = np.asarray(features, dtype=np.float64)
    means = np.asarray(stats["means"], dtype=np.float64)
    prec = np.asarray(stats["precision"], dtype=np.float64)
    best = np.full(len(f), np.inf)
    for m in means:
        if np.isnan(m).any():
            continue
        r = f - m
        best = np.minimum(best, np.einsum("ij,jk,ik->i", r, prec, r))
    return best


def outlying_share(features: np.ndarray, stats: dict) -> float:
    if len(features) == 0:
        return 0.0
    return float(np.mean(distances(features, stats) > stats["epoch_cutoff"]))


def fit_familiarity(features: np.ndarray, labels: np.ndarray, val_nights: list[np.ndarray],
                    n_classes: int = 5) -> dict:
    """The card's ``familiarity`` entry: training-epoch features and stages, and per-night features of validation nights."""
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    f = np.asarray(features, dtype=np.float64)[keep]
    means, prec = _precision(f, labels[keep], n_classes)
    stats = {"means": means.tolist(), "precision": prec.tolist()}
    stats["epoch_cutoff"] = float(np.percentile(distances(f, stats), 99))
    shares = [outlying_share(v, stats) for v in val_nights if len(v)]
    stats["night_limit"] = float(max(MIN_NIGHT_LIMIT, 1.5 * max(shares, default=0.0)))
    stats["validation_shares"] = [round(s, 4) for s in shares]
    return stats


def assess(features: np.ndarray | None, stats: dict | None, *, channels=None, absent=(),
           trained_without_channel: bool = False) -> Familiarity:
    """The verdict for one night: ``features`` of its artefact-free epochs, the card's ``stats``.

    ``channels`` (a :class:`~sleepscope.io.channels.ChannelChoice`) and
    ``absent`` (channels read as missing) add reasons of their own.
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
        outlying, limit = outlying_share(features, stats), float(stats["night_limit"])
        if outlying > limit:
            reasons.append(f"{outlying:.0%} of its epochs lie outside what the model learned "
                           f"(in-distribution nights: under {limit:.0%})")
    return Familiarity(familiar=not reasons, outlying=outlying, limit=limit, reasons=reasons)
