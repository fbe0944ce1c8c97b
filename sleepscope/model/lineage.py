"""What a model's card says about how it was trained, for the fine-tuning of its children.

Read from the card's dicts alone (no torch), so that the GUI's fine-tuning dialog
proposes what the command will do by default.
"""

from __future__ import annotations


def trained_with_frozen_encoders(metrics: dict | None) -> bool:
    """Whether the model was trained with its encoders fixed (its card's metrics, or those of the fine-tuning
    that made it): fine-tuning it the same way keeps the features its head learned to read.

    A site pre-trained encoder is the exception: its head has yet to learn to read it, so its encoders
    stay free (the paper's setting; see reports/site-learning-curve-new-parent-synthetic).
    """
    metrics = metrics or {}
    if metrics.get("encoder_only", False):
        return False
    if "freeze_encoders" in metrics:
        return bool(metrics["freeze_encoders"])
    return bool((metrics.get("finetune") or {}).get("freeze_encoders", False))


def trained_channel_dropout(familiarity: dict | None, metrics: dict | None) -> float:
    """The channel dropout the model was trained with (recorded with its familiarity statistics, or by the
    fine-tuning that made it), else 0: a fine-tuned child passes its parent's on to its own children."""
    recorded = (familiarity or {}).get("channel_dropout")
    if recorded is None:
        recorded = ((metrics or {}).get("finetune") or {}).get("channel_dropout")
    return float(recorded or 0.0)
