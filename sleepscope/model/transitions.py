"""How stages follow one another in real nights, applied to a night's stage probabilities.

The network sees 20 epochs at a time; a scorer reading the whole night also
knows that N3 is not entered from wake and that REM runs for many minutes.
A first-order Markov chain over the five stages, its transition
probabilities counted in real scored hypnograms, carries that knowledge.

Each epoch's calibrated probabilities are taken as its evidence and the
chain's forward-backward pass gives every epoch's stage probabilities given
the whole night's evidence. The chain starts uniform, so a single epoch keeps
its own probabilities. Epochs marked ``uninformative`` (artefact) bring no
evidence of their own: the chain runs through them on its neighbours'.

The evidence is the posterior itself, not the posterior divided by the stage
frequencies (the textbook hybrid form): on validation nights the division
shifted stages toward N1 and cost accuracy. The result is sharper than the
evidence; the card fits a temperature to it on validation nights
(``calibration.fit_calibration``).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from sleepscope.stages import N_CLASSES

#: Wake kept around the sleep when counting: the nights the model scores and is trained on are trimmed so.
MARGIN_EPOCHS = 60


def count_transitions(hypnograms: Iterable[np.ndarray], n_classes: int = N_CLASSES,
                      margin_epochs: int = MARGIN_EPOCHS) -> np.ndarray:
    """(n_classes, n_classes) row-stochastic transition matrix counted in `hypnograms` (stage codes, -1 unscored).

    Each night is first trimmed to its sleep with `margin_epochs` of wake either side (hours of wake
    before lights-out would make wake look stickier than in the stretch that is scored); one pseudo-count
    per cell keeps every transition possible.
    """
    from sleepscope.io.hypnogram import trim_wake

    counts = np.ones((n_classes, n_classes))
    for labels in hypnograms:
        y = np.asarray(labels, dtype=np.int64)
        y = y[trim_wake(y, margin_epochs)]
        a, b = y[:-1], y[1:]
        ok = (a >= 0) & (b >= 0) & (a < n_classes) & (b < n_classes)
        np.add.at(counts, (a[ok], b[ok]), 1)
    return counts / counts.sum(axis=1, keepdims=True)


def smooth(probs: np.ndarray, transitions: np.ndarray, uninformative: np.ndarray | None = None) -> np.ndarray:
    """Each epoch's stage probabilities given every epoch's `probs` under the Markov chain `transitions`."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-6, 1.0)
    a = np.asarray(transitions, dtype=np.float64)
    n, k = p.shape
    if uninformative is not None:
        p[np.asarray(uninformative, bool)] = 1.0
    if n == 0:
        return p
    fwd = np.empty((n, k))
    bwd = np.ones((n, k))
    fwd[0] = p[0] / p[0].sum()
    for t in range(1, n):
        f = (fwd[t - 1] @ a) * p[t]
        fwd[t] = f / f.sum()
    for t in range(n - 2, -1, -1):
        b = a @ (p[t + 1] * bwd[t + 1])
        bwd[t] = b / b.sum()
    out = fwd * bwd
    return out / out.sum(axis=1, keepdims=True)
