"""Building blocks of the U2-Net branches: Conv-BN-ReLU, RSU, PDC, attention.

All blocks are 1-D (channels x samples) and keep the signal length unless they
say otherwise, so that skip connections line up without cropping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ConvBNReLU(nn.Module):
    """The paper's "Conv" block: convolution, batch norm, ReLU; length kept."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 5, dilation: int = 1) -> None:
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        # The conv bias is redundant before batch norm.
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, padding=pad, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def upsample_to(x: torch.Tensor, length: int) -> torch.Tensor:
    """Nearest-neighbour upsampling to an exact length (inner pools round up)."""
    if x.shape[-1] == length:
        return x
    return F.interpolate(x, size=length, mode="nearest")


class RSU(nn.Module):
    """Residual U-block (U2-Net's RSU) of ``height`` levels, in 1-D.

    An input conv maps to ``out_ch``; a small U (``mid_ch`` channels, max-pool 2
    per level, a dilated conv at its bottom, decoder convs on the concatenation
    of the upsampled path and the skip) returns to ``out_ch`` and is added to
    the input conv's output. height=1 has no inner pooling: conv, dilated conv,
    fuse. Inner pooling rounds up (ceil) and upsampling restores the skip's
    length, so any input length works.
    """

    def __init__(self, in_ch: int, mid_ch: int, out_ch: int, height: int, kernel_size: int = 5) -> None:
        super().__init__()
        if height < 1:
            raise ValueError("RSU height must be >= 1")
        k = kernel_size
        self.height = height
        self.conv_in = ConvBNReLU(in_ch, out_ch, k)
        self.down = nn.ModuleList(
            [ConvBNReLU(out_ch, mid_ch, k)] + [ConvBNReLU(mid_ch, mid_ch, k) for _ in range(height - 1)])
        self.bottom = ConvBNReLU(mid_ch, mid_ch, k, dilation=2)
        # up[i] fuses level i's skip with the path from below; level 0 returns out_ch.
        self.up = nn.ModuleList(
            [ConvBNReLU(2 * mid_ch, out_ch if i == 0 else mid_ch, k) for i in range(height)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xin = self.conv_in(x)
        skips = []
        h = xin
        for i, conv in enumerate(self.down):
            if i > 0:
                h = F.max_pool1d(h, 2, ceil_mode=True)
            h = conv(h)
            skips.append(h)
        d = self.bottom(h)
        for i in range(self.height - 1, -1, -1):
            skip = skips[i]
            d = self.up[i](torch.cat([upsample_to(d, skip.shape[-1]), skip], dim=1))
        return d + xin


class PDC(nn.Module):
    """Parallel dilated convolutions (dilations 1, 2, 3, 4 by default).

    Each dilation sees a different range of context on the bottleneck; the
    branches (half the channels each, to keep the module cheap) are
    concatenated and mixed back to ``channels`` by a 1x1 Conv-BN-ReLU.
    """

    def __init__(self, channels: int, dilations: tuple[int, ...] = (1, 2, 3, 4), kernel_size: int = 5) -> None:
        super().__init__()
        branch = max(1, channels // 2)
        self.branches = nn.ModuleList(
            [ConvBNReLU(channels, branch, kernel_size, dilation=d) for d in dilations])
        self.mix = ConvBNReLU(branch * len(dilations), channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(torch.cat([b(x) for b in self.branches], dim=1))


class SalientAttention(nn.Module):
    """Intra-modal attention: squeeze-excitation over channels, then a temporal saliency gate.

    Squeeze-excitation weights channels by a summary of the whole epoch; the
    saliency gate (a conv to one channel, sigmoid) weights each sample, so
    that salient local waves (spindles, K-complexes, eye movements) pass and
    irrelevant stretches are damped.
    """

    def __init__(self, channels: int, reduction: int = 2, saliency_kernel: int = 7) -> None:
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        self.saliency = nn.Conv1d(channels, 1, saliency_kernel, padding=saliency_kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=-1)))))
        x = x * w.unsqueeze(-1)
        return x * torch.sigmoid(self.saliency(x))


def fuse(x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Equation (1) of the paper: X1 + X2 + X1 ⊙ X2."""
    return x1 + x2 + x1 * x2
