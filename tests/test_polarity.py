"""Random polarity: a reversed channel is what the model would get from the recording stored the other way up."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sleepscope.model.inputs import night_scale, normalise
from sleepscope.model.polarity import random_polarity, reverse_polarity

T = np.arange(3000) / 100.0


def _epochs(sign: float = 1.0) -> np.ndarray:
    """Four 30-s epochs (µV) of a lopsided waveform (sharp rise, slow fall: a sawtooth) on an offset, all
    times `sign`."""
    rng = np.random.default_rng(3)
    saw = 30.0 * ((1.5 * T) % 1.0) ** 3 + 200.0 + rng.normal(0.0, 2.0, (4, 3000))
    return sign * (saw * np.array([1.0, 0.5, 2.0, 1.0])[:, None])


def _input(uv: np.ndarray, mode: str) -> torch.Tensor:
    """(1, 4, 2, 3000): `uv` as the EEG in `mode`, EOG missing (zeros)."""
    eeg = normalise(uv.astype(np.float32), mode, night_scale(uv) if mode == "night" else None)
    return torch.tensor(np.stack([eeg, np.zeros_like(eeg)], axis=1))[None]


@pytest.mark.parametrize("mode", ["epoch", "epoch+amplitude", "night"])
def test_a_reversed_channel_is_the_recording_stored_the_other_way_up(mode):
    x, stored_reversed = _input(_epochs(), mode), _input(_epochs(-1.0), mode)
    assert not torch.allclose(x, stored_reversed, atol=1e-3)  # the waveform's sign shows in the input
    y = reverse_polarity(x, torch.tensor([[True, False]]), mode)
    assert torch.allclose(y, stored_reversed, atol=1e-4)
    assert torch.equal(y[:, :, 1], x[:, :, 1])  # the missing EOG stays zeros
    assert torch.equal(reverse_polarity(x, torch.tensor([[False, False]]), mode), x)


def test_each_channel_of_each_sequence_is_drawn_on_its_own():
    x = torch.randn(4000, 1, 2, 30)
    y = random_polarity(x, 0.5, torch.Generator().manual_seed(0), "epoch")
    flipped = (y == -x).all(dim=-1)[:, 0]  # (4000, 2)
    assert ((y == x).all(dim=-1)[:, 0] | flipped).all()  # a channel is reversed whole or not at all
    assert flipped.float().mean().item() == pytest.approx(0.5, abs=0.03)
    both = (flipped[:, 0] & flipped[:, 1]).float().mean().item()
    assert both == pytest.approx(0.25, abs=0.03)  # EEG and EOG independent, not reversed together
    assert random_polarity(x, 0.0, torch.Generator().manual_seed(0), "epoch") is x
