"""Agreement between two label sets (model vs technician, scorer vs scorer).

numpy only: these are a few lines each and keep scikit-learn out of the
application (the tests check them against scikit-learn). Epochs unscored
(-1) in either set are ignored. `reference` plays the part of the truth for
precision and recall (rows of the confusion matrix), `other` that of the
prediction (columns).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.stages import N_CLASSES, NAMES


@dataclass
class Agreement:
    n_epochs: int  # epochs scored in both sets
    accuracy: float
    kappa: float
    confusion: np.ndarray  # (5, 5) int64, rows reference, columns other
    precision: dict[str, float] = field(default_factory=dict)
    recall: dict[str, float] = field(default_factory=dict)
    f1: dict[str, float] = field(default_factory=dict)
    support: dict[str, int] = field(default_factory=dict)
    #: mean F1 over the stages present in either set (a stage absent from both says nothing)
    macro_f1: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_epochs": self.n_epochs, "accuracy": self.accuracy, "kappa": self.kappa,
            "macro_f1": self.macro_f1, "confusion": self.confusion.tolist(), "stages": list(NAMES),
            "precision": self.precision, "recall": self.recall, "f1": self.f1, "support": self.support,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format_text(self) -> str:
        lines = [f"Epochs compared: {self.n_epochs}", f"Accuracy: {self.accuracy:.3f}",
                 f"Cohen's kappa: {self.kappa:.3f}", f"Macro F1: {self.macro_f1:.3f}", "",
                 "Stage  precision  recall     F1  support"]
        for name in NAMES:
            lines.append(f"{name:<5}  {self.precision[name]:9.3f}  {self.recall[name]:6.3f}  "
                         f"{self.f1[name]:5.3f}  {self.support[name]:7d}")
        lines += ["", "Confusion (rows reference, columns other): " + " ".join(f"{n:>5}" for n in NAMES)]
        for name, row in zip(NAMES, self.confusion):
            lines.append(f"{name:>44}: " + " ".join(f"{v:5d}" for v in row))
        return "\n".join(lines)


def confusion_matrix(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """(5, 5) counts over the epochs scored in both; rows reference, columns other."""
    a, b = _paired(reference, other)
    return np.bincount(a * N_CLASSES + b, minlength=N_CLASSES * N_CLASSES).reshape(N_CLASSES, N_CLASSES)


def _paired(reference: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(reference).astype(np.int64).ravel()
    b = np.asarray(other).astype(np.int64).ravel()
    if a.shape != b.shape:
        raise SleepScopeError(f"The two label sets differ in length ({a.size} and {b.size} epochs).")
    bad = (a >= N_CLASSES) | (b >= N_CLASSES) | (a < -1) | (b < -1)
    if bad.any():
        raise SleepScopeError("Labels must be stage codes -1 (unscored) or 0 (W) to 4 (REM).")
    both = (a >= 0) & (b >= 0)
    return a[both], b[both]


def cohen_kappa(cm: np.ndarray) -> float:
    n = cm.sum()
    if n == 0:
        return float("nan")
    po = np.trace(cm) / n
    pe = float((cm.sum(axis=1) * cm.sum(axis=0)).sum()) / float(n) ** 2
    if pe == 1.0:
        return float("nan")  # both sets use one and the same stage: chance agreement is total
    return float((po - pe) / (1.0 - pe))


def kappa_text(kappa: float, digits: int = 3) -> str:
    """Cohen's kappa as said to a person: where both sides hold one and the same stage it has no value (chance
    agreement is total), and "nan" says nothing."""
    return "undefined (one stage throughout)" if np.isnan(kappa) else f"{kappa:.{digits}f}"


def agreement(reference: np.ndarray, other: np.ndarray) -> Agreement:
    """Accuracy, Cohen's kappa, per-stage precision/recall/F1 and the confusion matrix."""
    cm = confusion_matrix(reference, other)
    n = int(cm.sum())
    tp = np.diag(cm).astype(np.float64)
    pred = cm.sum(axis=0).astype(np.float64)
    true = cm.sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(pred > 0, tp / pred, 0.0)
        recall = np.where(true > 0, tp / true, 0.0)
        denom = precision + recall
        f1 = np.where(denom > 0, 2 * precision * recall / denom, 0.0)
    present = (pred + true) > 0
    return Agreement(
        n_epochs=n,
        accuracy=float(tp.sum() / n) if n else float("nan"),
        kappa=cohen_kappa(cm),
        confusion=cm,
        precision={k: float(v) for k, v in zip(NAMES, precision)},
        recall={k: float(v) for k, v in zip(NAMES, recall)},
        f1={k: float(v) for k, v in zip(NAMES, f1)},
        support={k: int(v) for k, v in zip(NAMES, true)},
        macro_f1=float(f1[present].mean()) if present.any() else float("nan"),
    )
