"""Does a lab's night read better with or without a card's stage-transition chain?

The shipped chain was chosen on nights of the model's own training families. On a lab whose stage
sequences the network already reads from its 20-epoch context, the chain can turn short stretches
into their neighbours and cost more than it gives. Corrected stretches the model never trained on are
a fair test of its chain on that lab: fine-tuning asks its parent, whose chain the child inherits, on
the corrected recordings and, with two recordings or more, the check child on the one it left out.
"""

from __future__ import annotations

import numpy as np

from sleepscope.model.calibration import CHAIN_BLOCK_EPOCHS
from sleepscope.model.paired_gap import night_blocks, paired_gap

#: Fewest labelled epochs, in stretches of at least CHAIN_BLOCK_EPOCHS, to decide on.
MIN_EPOCHS = 200


def without_chain(calibration: dict) -> dict:
    return {k: v for k, v in calibration.items() if k not in ("transitions", "smoothed_temperature")}


def chain_verdict(model, calibration: dict, runs, device=None, cancel=None) -> dict | None:
    """Whether `model` under `calibration` reads `runs` ((model input, stages) of contiguous stretches, in
    order) more accurately without the chain, by more than one standard error over 40-epoch blocks; None
    when the calibration has no chain or the stretches hold too few labelled epochs."""
    from sleepscope.model.calibration import calibrated_probs
    from sleepscope.model.infer import has_both_channels, night_outputs

    if calibration.get("transitions") is None:
        return None
    runs = [(x, np.asarray(y)) for x, y in runs if len(y) >= CHAIN_BLOCK_EPOCHS]
    if sum(int((y >= 0).sum()) for _, y in runs) < MIN_EPOCHS:
        return None
    with_right, without_right = [], []
    for x, y in runs:
        # The logits do not depend on the calibration: one pass, read both ways as `predict` reads them.
        _, logits, _ = night_outputs(x, model, device=device, cancel=cancel)
        z, both = logits.numpy(), has_both_channels(x)
        with_right.append(calibrated_probs(z, calibration, both).argmax(axis=1) == y)
        without_right.append(calibrated_probs(z, without_chain(calibration), both).argmax(axis=1) == y)
    keep = np.concatenate([y >= 0 for _, y in runs])
    block = night_blocks([len(y) for _, y in runs], CHAIN_BLOCK_EPOCHS)
    g = paired_gap(np.concatenate(without_right)[keep], np.concatenate(with_right)[keep], block[keep])
    return {"gap_without": g["gap"], "standard_error": g["standard_error"], "blocks": g["blocks"],
            "kept": not g["a_ahead"]}


def with_verdict(calibration: dict, verdict: dict | None, on: str) -> dict:
    """`calibration` with the verdict recorded (`on`: which nights decided) and, if declined, its chain set
    aside as ``transitions_declined`` for a later refit."""
    if verdict is None:
        return calibration
    out = {**calibration, "transitions_verdict": {**verdict, "on": on}}
    if not verdict["kept"]:
        out = without_chain(out) | {"transitions_declined": calibration["transitions"]}
    return out
