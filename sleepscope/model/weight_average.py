"""Weight-space averaging of two models of one architecture.

Fine-tuning a model on a wider cohort with all its layers free gains on that
cohort and can lose what the starting weights did right elsewhere (for the
shipped model: the real wake minutes). Averaging the fine-tuned weights with
those of a model fine-tuned from the same start keeps much of both
(Wortsman et al., 2022, "Robust fine-tuning of zero-shot models": WiSE-FT);
the two must share an ancestor, or their units need not line up.
"""

from __future__ import annotations

import numpy as np
import torch

from sleepscope.errors import SleepScopeError
from sleepscope.model.paired_gap import paired_gap


def average_weights(first: torch.nn.Module | dict, second: torch.nn.Module | dict,
                    weight: float) -> dict[str, torch.Tensor]:
    """(1 - weight) x `first` + weight x `second` (models or state dicts), tensor by tensor, as a state dict.

    Counters (integer buffers such as batch norm's step count) are `first`'s.
    Raises SleepScopeError when the two are not the same architecture.
    """
    if not 0.0 <= weight <= 1.0:
        raise SleepScopeError(f"the averaging weight {weight} must be between 0 and 1")
    a, b = (m.state_dict() if isinstance(m, torch.nn.Module) else m for m in (first, second))
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        differ = sorted(set(a) ^ set(b)) or [k for k in a if a[k].shape != b[k].shape]
        raise SleepScopeError(f"the two models are not the same network (they differ in {', '.join(differ[:3])})")
    return {k: torch.lerp(a[k], b[k].to(a[k].dtype), weight) if a[k].is_floating_point() else a[k].clone()
            for k in a}


def share_verdict(right_child: np.ndarray, right_average: np.ndarray, block: np.ndarray) -> dict:
    """Keep the model as trained, or its average with its parent, from which epochs each got right on
    nights of a subject it did not learn from (`block`: each epoch's block of consecutive epochs). The
    model as trained is kept only when it is ahead by more than one standard error over the blocks
    (`paired_gap`): averaging is the safer default, and costs only where the parent is wrong."""
    g = paired_gap(right_child, right_average, block)
    return {k: v for k, v in g.items() if k != "a_ahead"} | {"kept": "child" if g["a_ahead"] else "average"}
