"""An inference-only form of :class:`~sleepscope.model.network.SleepStager` for pre-scoring.

Built from a trained model's weights (never saved, never trained), it computes
the same function as the model in eval mode with fewer, larger operations:

* batch norms are folded into their convolutions (``fold_batchnorm``);
* the EEG and EOG branches, which have the same structure, run side by side
  as ONE network whose convolutions have two groups (group 0 = EEG, group 1 =
  EOG): every layer is one operator call instead of two. Tensors hold
  ``[EEG channels, EOG channels]`` along dimension 1; concatenations of a
  skip connection are done per group so that each group sees exactly the
  channels, in the order, that its branch saw;
* the PDC module's four dilated convolutions (same input, concatenated
  outputs) become one convolution whose kernel spans the largest dilation,
  with the smaller dilations' taps placed at their offsets and zeros between;
* the temporal saliency gate is one grouped convolution for both branches.

Zeros and regrouping change only the order of floating-point sums, so results
equal the reference forward to rounding (about 1e-6), not bit for bit.
The reference forward's CPU time was set by the number of small operator
calls and passes over memory, not by arithmetic (about 22 GFLOP/s of a
295 GFLOP/s matmul peak on 2 cores), which is what this form reduces; with
``predict`` giving each core whole batches it reaches 118-131 GFLOP/s of a
210-215 GFLOP/s peak (``benchmarks/bench_prescore.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sleepscope.model.blocks import PDC, RSU, SalientAttention
from sleepscope.model.network import SleepStager, alone_amplitude, fold_batchnorm, split_amplitude


_CL = torch.channels_last


def _grouped(a: nn.Conv1d, b: nn.Conv1d) -> nn.Conv2d:
    """One 2-group convolution computing ``a`` on the first half of the input channels and ``b`` on
    the second, as a (1 x k) 2-D convolution with channels-last weights (see the module docstring)."""
    if a.groups != 1 or b.groups != 1 or a.weight.shape != b.weight.shape:
        raise ValueError("the two branches' convolutions must have the same shape and no groups")
    conv = nn.Conv2d(2 * a.in_channels, 2 * a.out_channels, (1, a.kernel_size[0]), stride=(1, a.stride[0]),
                     padding=(0, a.padding[0]), dilation=(1, a.dilation[0]), groups=2, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.cat([a.weight, b.weight], 0).unsqueeze(2))
        zeros = torch.zeros(a.out_channels, dtype=a.weight.dtype)
        conv.bias.copy_(torch.cat([a.bias if a.bias is not None else zeros,
                                   b.bias if b.bias is not None else zeros]))
    return conv.to(memory_format=_CL).eval()


def _merged_dilations(pdc: PDC) -> nn.Conv1d:
    """The PDC's parallel dilated convolutions (same input, outputs concatenated) as one convolution.

    A kernel of ``k`` taps at dilation ``d`` has its taps at offsets ``d * (j - k // 2)``
    from the centre; all of them fit in one undilated kernel of ``max(d) * (k - 1) + 1`` taps.
    """
    convs = [b.conv for b in pdc.branches]
    k = convs[0].kernel_size[0]
    span = max(c.dilation[0] for c in convs) * (k - 1) + 1
    cin = convs[0].in_channels
    cout = sum(c.out_channels for c in convs)
    merged = nn.Conv1d(cin, cout, span, padding=span // 2, bias=True)
    with torch.no_grad():
        merged.weight.zero_()
        row = 0
        for c in convs:
            d = c.dilation[0]
            if c.kernel_size[0] != k or c.stride[0] != 1 or c.padding[0] != d * (k - 1) // 2 or k % 2 != 1:
                raise ValueError("PDC convolutions must be odd, centred and of one kernel size")
            for j in range(k):
                merged.weight[row:row + c.out_channels, :, span // 2 + d * (j - k // 2)] = c.weight[:, :, j]
            merged.bias[row:row + c.out_channels] = c.bias
            row += c.out_channels
    return merged.eval()


# Tensors are (N, channels, 1, samples) in channels-last memory, i.e. (N, 1, samples, channels)
# in the order of memory: oneDNN runs small-channel (grouped) convolutions far faster on that
# layout than on (N, channels, samples), and splitting the channels into the two branches'
# halves is a free view of the last dimension.

def _groups(x: torch.Tensor) -> torch.Tensor:
    """(N, 2C, 1, L) channels-last -> view (N, 1, L, 2, C): [..., 0, :] is EEG, [..., 1, :] EOG."""
    return x.permute(0, 2, 3, 1).unflatten(-1, (2, -1))


def _ungroup(g: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_groups` (g contiguous) -> (N, 2C, 1, L) channels-last."""
    return g.flatten(-2).permute(0, 3, 1, 2)


def _cat_groups(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``[a_eeg, a_eog]`` and ``[b_eeg, b_eog]`` -> ``[a_eeg, b_eeg, a_eog, b_eog]`` along the channels."""
    return _ungroup(torch.cat([_groups(a), _groups(b)], dim=-1))


def _upsample_to(x: torch.Tensor, length: int) -> torch.Tensor:
    if x.shape[-1] == length:
        return x
    return F.interpolate(x, size=(1, length), mode="nearest")


def _pool(x: torch.Tensor, k: int, ceil: bool = False) -> torch.Tensor:
    return F.max_pool2d(x, (1, k), ceil_mode=ceil)


class _FastRSU(nn.Module):
    def __init__(self, a: RSU, b: RSU) -> None:
        super().__init__()
        self.height = a.height
        self.conv_in = _grouped(a.conv_in.conv, b.conv_in.conv)
        self.down = nn.ModuleList([_grouped(x.conv, y.conv) for x, y in zip(a.down, b.down)])
        self.bottom = _grouped(a.bottom.conv, b.bottom.conv)
        self.up = nn.ModuleList([_grouped(x.conv, y.conv) for x, y in zip(a.up, b.up)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xin = F.relu(self.conv_in(x))
        skips = []
        h = xin
        for i, conv in enumerate(self.down):
            if i > 0:
                h = _pool(h, 2, ceil=True)
            h = F.relu(conv(h))
            skips.append(h)
        d = F.relu(self.bottom(h))
        for i in range(self.height - 1, -1, -1):
            skip = skips[i]
            d = F.relu(self.up[i](_cat_groups(_upsample_to(d, skip.shape[-1]), skip)))
        return d + xin


class _FastAttention(nn.Module):
    def __init__(self, a: SalientAttention, b: SalientAttention) -> None:
        super().__init__()
        # Squeeze-excitation's linear layers of both branches as 2-group 1x1 convolutions.
        self.fc1 = _grouped(_as_conv(a.fc1), _as_conv(b.fc1))
        self.fc2 = _grouped(_as_conv(a.fc2), _as_conv(b.fc2))
        self.saliency = _grouped(a.saliency, b.saliency)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(x.mean(dim=-1, keepdim=True)))))
        x = x * w
        s = torch.sigmoid(self.saliency(x))  # (N, 2, 1, L): one gate per branch
        return _ungroup(_groups(x) * _groups(s))


def _as_conv(lin: nn.Linear) -> nn.Conv1d:
    conv = nn.Conv1d(lin.in_features, lin.out_features, 1, bias=True)
    with torch.no_grad():
        conv.weight.copy_(lin.weight.unsqueeze(-1))
        conv.bias.copy_(lin.bias)
    return conv


def _single(a: nn.Conv1d) -> nn.Conv2d:
    conv = nn.Conv2d(a.in_channels, a.out_channels, (1, a.kernel_size[0]), stride=(1, a.stride[0]),
                     padding=(0, a.padding[0]), dilation=(1, a.dilation[0]), bias=True)
    with torch.no_grad():
        conv.weight.copy_(a.weight.unsqueeze(2))
        conv.bias.copy_(a.bias if a.bias is not None else torch.zeros(a.out_channels))
    return conv.to(memory_format=_CL).eval()


class FastStager(nn.Module):
    """Eval-only ``epoch_features`` / ``sequence_logits`` of a :class:`SleepStager`, both branches fused.

    Built from the model's weights at construction: later changes to the
    model are not seen (``predict`` caches one per weights version).
    """

    def __init__(self, model: SleepStager) -> None:
        super().__init__()
        folded = fold_batchnorm(model)
        self.config = model.config
        e, o = folded.eeg_branch, folded.eog_branch
        cfg = model.config
        self.pools = tuple(cfg.pools)
        if cfg.has_stem:
            self.stem = _grouped(e.encoder.stem[0], o.encoder.stem[0])
            self.stem_pool = int(cfg.stem_pool)
        else:
            self.stem = None
            self.stem_pool = 1
        self.encoder = nn.ModuleList([_FastRSU(a, b) for a, b in zip(e.encoder.stages, o.encoder.stages)])
        pe, po = _merged_dilations(e.pdc), _merged_dilations(o.pdc)
        self.pdc = _grouped(pe, po)
        self.pdc_mix = _grouped(e.pdc.mix.conv, o.pdc.mix.conv)
        self.decoder = nn.ModuleList([_FastRSU(a, b) for a, b in zip(e.decoder, o.decoder)])
        self.attention = _FastAttention(e.attention, o.attention)
        self.head = _single(folded.head.conv)
        self.context = folded.context
        self.classifier = folded.classifier
        self.amplitude = folded.amplitude if cfg.amplitude_input else None
        self._absent: tuple[torch.Tensor, torch.Tensor] | None = None
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def epoch_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 2, 3000) -> (N, head_channels), as ``SleepStager.epoch_features`` in eval mode."""
        if self.amplitude is not None:
            x, amplitude = split_amplitude(x)
            return self.amplitude(self._features(x), amplitude)
        return self._features(x)

    def epoch_features_opinions(self, x: torch.Tensor, eog_alone: bool = False) -> torch.Tensor:
        """(N, 2, 3000) -> (N, K, head_channels), as ``SleepStager.epoch_features_opinions`` in eval mode."""
        amplitude = None
        if self.amplitude is not None:
            x, amplitude = split_amplitude(x)
        eeg, eog = self._branches(x)
        if self._absent is None:  # each branch's answer to an absent channel: one constant
            self._absent = self._branches(torch.zeros_like(x[:1]))
        heads = [self._head(eeg, eog), self._head(eeg, self._absent[1])]
        if eog_alone:
            heads.append(self._head(self._absent[0], eog))
        if amplitude is not None:
            inputs = (amplitude, alone_amplitude(amplitude, 0), alone_amplitude(amplitude, 1))
            heads = [self.amplitude(f, a) for f, a in zip(heads, inputs)]
        return torch.stack(heads, dim=1)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self._head(*self._branches(x))

    def _branches(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(EEG, EOG) branch outputs of (N, 2, 3000) epochs, each (N, C, 1, L) channels-last."""
        x = x.unsqueeze(2).contiguous(memory_format=_CL)
        if self.stem is not None:
            # ReLU commutes with max-pooling (both monotone): rectify the pooled, shorter signal.
            h = F.relu(_pool(self.stem(x), self.stem_pool))
        else:
            h = x
        skips = []
        for i, stage in enumerate(self.encoder):
            if i > 0:
                h = _pool(h, self.pools[i - 1])
            h = stage(h)
            skips.append(h)
        d = F.relu(self.pdc_mix(F.relu(self.pdc(skips[-1]))))
        for i in range(len(self.decoder) - 1, -1, -1):
            skip = skips[i]
            d = self.decoder[i](_cat_groups(_upsample_to(d, skip.shape[-1]), skip))
        return _groups(self.attention(d)).unbind(-2)

    def _head(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        fused = (x1 + x2 + x1 * x2).permute(0, 3, 1, 2)  # equation (1), (N, C, 1, L) channels-last
        return F.relu(self.head(fused)).mean(dim=(2, 3))

    def sequence_logits(self, features: torch.Tensor) -> torch.Tensor:
        """(B, L, head_channels) -> logits (B, L, n_classes)."""
        f = features.transpose(1, 2)
        f = f + F.relu(self.context(f))
        return self.classifier(f.transpose(1, 2))
