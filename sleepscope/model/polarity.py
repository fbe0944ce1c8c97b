"""Random polarity: training sequences whose channels are recorded with their inputs the other way round.

Which way up a lab stores a derivation is a convention (input 1 minus input 2, or the "negative up" display
convention written into the file), and the simulators all store theirs one way. A model that learns the sign of
a waveform (which way the eyes' deflections on Fpz-Cz go, which way a sawtooth wave leans) reads a lab that
stores the other sign as another stage: the real Sleep-EDF wake minutes, below 35 Hz, read as REM as stored and
as wake with the EEG's sign reversed (reports/waking-theta-synthetic/). Each channel of a chosen sequence is
reversed as a whole, as a lab would have recorded it, in the model's normalisation.
"""

from __future__ import annotations

import torch


def reverse_polarity(x: torch.Tensor, flip: torch.Tensor, normalisation: str) -> torch.Tensor:
    """`x` (B, L, 2, T) with the channels where `flip` (B, 2, bool) is true reversed: minus the signal in
    "epoch" and "night" (centred inputs), and minus the standardised part around each epoch's log amplitude
    (its mean) in "epoch+amplitude". Missing channels (zeros) stay zeros."""
    sign = flip[:, None, :, None]
    if normalisation == "epoch+amplitude":
        amp = x.mean(dim=-1, keepdim=True)
        return torch.where(sign, 2 * amp - x, x)
    return torch.where(sign, -x, x)


def random_polarity(x: torch.Tensor, p: float, generator: torch.Generator, normalisation: str) -> torch.Tensor:
    """Each channel of each sequence of `x` (B, L, 2, T) reversed with probability `p`, each on its own draw (a
    lab's EEG and EOG conventions are independent)."""
    if p <= 0:
        return x
    flip = torch.rand(x.shape[0], x.shape[2], generator=generator) < p
    if not bool(flip.any()):
        return x
    return reverse_polarity(x, flip, normalisation)
