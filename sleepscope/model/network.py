"""The two-branch U2-Net sleep stager (section 2 of the paper).

Per epoch, each modality (EEG, EOG) passes through its own :class:`Branch`:

    (N, 1, 3000) -> optional stem (strided conv, ReLU, max-pool: band envelopes)
                 -> Encoder: RSU stages, max-pool between them
                 -> PDC on the bottleneck (dilations 1..4)
                 -> Decoder: upsample, concatenate the encoder skip, RSU
                 -> SalientAttention              -> (N, widths[0], first stage length)

The two decoder outputs are fused by ``X1 + X2 + X1 ⊙ X2`` (equation 1); a 1x1
Conv-BN-ReLU and an average over time give one vector per epoch.
Across the L epochs of a sequence, a convolution of ``context_kernel`` epochs
(zero padding, so L = 1 works) with a residual path and a linear layer give
5-class logits. Softmax is applied at inference only (train on logits).

Per-epoch embedding for CLIP pre-training: the encoder's bottleneck (before the
PDC, the "down-sampling path" of the paper), averaged over time and projected
linearly to ``embedding_dim``. The projection is used only by pre-training.

With normalisation "epoch+amplitude" (``sleepscope.model.inputs``) each input
epoch is its z-score plus its log amplitude as a constant: :func:`split_amplitude`
takes the constant off, the branches see exactly the z-score, and
:class:`AmplitudeFiLM` scales and shifts the per-epoch vector by a small network
of the two log amplitudes (and which channels are present). Its last layer
starts at zero, so a model given the option starts as the same function as the
weights it was made from, and only learns how far to use amplitude.

The split ``epoch_features`` / ``sequence_logits`` lets inference compute the
expensive per-epoch part once per epoch and run only the cheap sequence head
on overlapping windows.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sleepscope.model.blocks import PDC, RSU, ConvBNReLU, SalientAttention, fuse, upsample_to
from sleepscope.model.config import ModelConfig


def _mid(width: int, cfg: ModelConfig) -> int:
    return max(1, width // cfg.rsu_mid_divisor)


class Encoder(nn.Module):
    """Down-sampling path of one branch: RSU stages with max-pooling between them."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.pools = cfg.pools
        in_ch = 1
        if cfg.has_stem:
            # A learned filter bank (as DeepSleepNet's first layer) whose rectified output is
            # max-pooled into band envelopes: the outer U then runs on a few hundred samples,
            # where small convolutions cost far less than on 3,000.
            k = cfg.stem_kernel
            self.stem = nn.Sequential(
                nn.Conv1d(1, cfg.widths[0], k, stride=cfg.stem_stride, padding=k // 2, bias=False),
                nn.BatchNorm1d(cfg.widths[0]), nn.ReLU(), nn.MaxPool1d(cfg.stem_pool))
            in_ch = cfg.widths[0]
        else:
            self.stem = nn.Identity()
        stages = []
        for w, h in zip(cfg.widths, cfg.rsu_heights):
            stages.append(RSU(in_ch, _mid(w, cfg), w, h, cfg.kernel_size))
            in_ch = w
        self.stages = nn.ModuleList(stages)
        self.projection = nn.Linear(cfg.widths[-1], cfg.embedding_dim)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """(N, 1, 3000) -> the output of every stage, finest first (skips + bottleneck)."""
        outs = []
        h = self.stem(x)
        for i, stage in enumerate(self.stages):
            if i > 0:
                h = F.max_pool1d(h, self.pools[i - 1])
            h = stage(h)
            outs.append(h)
        return outs

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 3000) -> (N, embedding_dim), not normalised."""
        return self.projection(self.forward(x)[-1].mean(dim=-1))


class Branch(nn.Module):
    """One modality's U2-Net: encoder, PDC, decoder, attention."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.encoder = Encoder(cfg)
        self.pdc = PDC(cfg.widths[-1], cfg.pdc_dilations, cfg.kernel_size)
        w = cfg.widths
        # decoder[i] makes stage i from upsampled stage i+1 and encoder skip i.
        self.decoder = nn.ModuleList(
            [RSU(w[i + 1] + w[i], _mid(w[i], cfg), w[i], cfg.rsu_heights[i], cfg.kernel_size)
             for i in range(len(w) - 1)])
        self.attention = SalientAttention(w[0], cfg.se_reduction, cfg.saliency_kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 3000) -> (N, widths[0], stage_lengths()[0])."""
        skips = self.encoder(x)
        d = self.pdc(skips[-1])
        for i in range(len(self.decoder) - 1, -1, -1):
            skip = skips[i]
            d = self.decoder[i](torch.cat([upsample_to(d, skip.shape[-1]), skip], dim=1))
        return self.attention(d)


def split_amplitude(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, 2, T) "epoch+amplitude" input -> (z-scored epochs (N, 2, T), amplitude inputs (N, 4)).

    The amplitude inputs are the two log amplitudes (each epoch's mean) and,
    per channel, 1 where its z-scored part is not all zero (present, not flat).
    """
    amp = x.mean(dim=-1, keepdim=True)
    z = x - amp
    present = (z.abs().amax(dim=-1) > 0).to(x.dtype)
    return z, torch.cat([amp.squeeze(-1), present], dim=-1)


def mix_opinions(whole: torch.Tensor, eeg: torch.Tensor, w: float, eog: torch.Tensor | None = None,
                 v: float | torch.Tensor = 0.0) -> torch.Tensor:
    """log((1 - w - v) softmax(whole) + w softmax(eeg) + v softmax(eog)): the stage scores of the opinions' logits,
    weight `w` on the EEG alone and `v` on the EOG alone (a number, or one per epoch: (..., 1))."""
    if eog is None:
        v = 0.0
    mixed = (1 - w - v) * torch.softmax(whole, dim=-1) + w * torch.softmax(eeg, dim=-1)
    if eog is not None:
        mixed = mixed + v * torch.softmax(eog, dim=-1)
    return torch.log(mixed.clamp(min=1e-12))


def eog_weights(v: float, eog_live: torch.Tensor) -> torch.Tensor:
    """The EOG-alone opinion's weight per epoch, (..., 1): `v` where the epoch has an EOG, 0 where its EOG input is
    zeros (missing, flat, or failed there), where that opinion would read two absent channels."""
    return (v * eog_live.to(torch.float32)).unsqueeze(-1)


def opinion_weights(config: ModelConfig) -> tuple[float, float]:
    """(weight of the EEG-alone opinion, weight of the EOG-alone opinion) in a two-channel night's probabilities."""
    return float(getattr(config, "eeg_opinion", 0.0)), float(getattr(config, "eog_opinion", 0.0))


def mixes_opinions(config: ModelConfig) -> bool:
    return sum(opinion_weights(config)) > 0


def alone_amplitude(amplitude: torch.Tensor, channel: int) -> torch.Tensor:
    """The amplitude inputs of ``split_amplitude`` as they are when the other channel than `channel` (0 EEG, 1 EOG)
    is absent (its log amplitude and presence 0)."""
    out = amplitude.clone()
    out[:, 1 - channel] = 0
    out[:, 3 - channel] = 0
    return out


class AmplitudeFiLM(nn.Module):
    """Scales and shifts per-epoch features by a function of the amplitude inputs; the identity at construction."""

    def __init__(self, channels: int, hidden: int = 16) -> None:
        super().__init__()
        self.hidden = nn.Linear(4, hidden)
        self.out = nn.Linear(hidden, 2 * channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, features: torch.Tensor, amplitude: torch.Tensor) -> torch.Tensor:
        scale, shift = self.out(F.relu(self.hidden(amplitude))).chunk(2, dim=-1)
        return features * (1 + scale) + shift


class SleepStager(nn.Module):
    """Two-branch (EEG, EOG) U2-Net classifying each epoch of a sequence into W, N1, N2, N3, REM."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        #: version id of the weights when loaded from or saved to a checkpoint
        self.version: str | None = None
        self.eeg_branch = Branch(config)
        self.eog_branch = Branch(config)
        self.head = ConvBNReLU(config.widths[0], config.head_channels, 1)
        k = config.context_kernel
        self.context = nn.Conv1d(config.head_channels, config.head_channels, k, padding=k // 2)
        self.classifier = nn.Linear(config.head_channels, config.n_classes)
        if config.amplitude_input:
            self.amplitude = AmplitudeFiLM(config.head_channels)

    @property
    def eeg_encoder(self) -> Encoder:
        return self.eeg_branch.encoder

    @property
    def eog_encoder(self) -> Encoder:
        return self.eog_branch.encoder

    def _check_epochs(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[1] != 2 or x.shape[2] != self.config.epoch_samples:
            raise ValueError(
                f"expected epochs of shape (N, 2, {self.config.epoch_samples}), got {tuple(x.shape)}")

    def fused(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 2, 3000) -> fused decoder features (N, widths[0], stage_lengths()[0])."""
        self._check_epochs(x)
        return fuse(self.eeg_branch(x[:, 0:1]), self.eog_branch(x[:, 1:2]))

    def epoch_features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 2, 3000) -> one vector per epoch (N, head_channels), independent of neighbours."""
        self._check_epochs(x)
        z, amplitude = split_amplitude(x) if self.config.amplitude_input else (x, None)
        return self._epoch_vector(self.fused(z), amplitude)

    def epoch_features_opinions(self, x: torch.Tensor, eog_alone: bool = False) -> torch.Tensor:
        """(N, 2, 3000) -> (N, K, head_channels): ``epoch_features`` of `x`, then of `x` with its EOG absent (zeros)
        and, with `eog_alone`, with its EEG absent: K = 2 or 3.

        Each branch runs once; an absent channel gives its branch's output on a
        zero epoch, the same for every epoch.
        """
        self._check_epochs(x)
        z, amplitude = split_amplitude(x) if self.config.amplitude_input else (x, None)
        eeg, eog = self.eeg_branch(z[:, 0:1]), self.eog_branch(z[:, 1:2])
        out = [self._epoch_vector(fuse(eeg, eog), amplitude),
               self._epoch_vector(fuse(eeg, self.eog_branch(torch.zeros_like(z[:1, 1:2]))),
                                  None if amplitude is None else alone_amplitude(amplitude, 0))]
        if eog_alone:
            out.append(self._epoch_vector(fuse(self.eeg_branch(torch.zeros_like(z[:1, 0:1])), eog),
                                          None if amplitude is None else alone_amplitude(amplitude, 1)))
        return torch.stack(out, dim=1)

    def _epoch_vector(self, fused: torch.Tensor, amplitude: torch.Tensor | None) -> torch.Tensor:
        f = self.head(fused).mean(dim=-1)
        return f if amplitude is None else self.amplitude(f, amplitude)

    def sequence_logits(self, features: torch.Tensor) -> torch.Tensor:
        """(B, L, head_channels) -> logits (B, L, n_classes), mixing neighbouring epochs."""
        f = features.transpose(1, 2)
        f = f + F.relu(self.context(f))
        return self.classifier(f.transpose(1, 2))

    def stage_scores(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, 2, 3000) -> (B, L, 5) scores as pre-scoring makes them: ``forward``'s logits, mixed with the
        one-channel opinions (``mix_opinions``) where the configuration asks for them and a sequence has both
        channels (the EOG's only in epochs with an EOG, ``eog_weights``)."""
        if not mixes_opinions(self.config):
            return self(x)
        w, v = opinion_weights(self.config)
        b, length = x.shape[:2]
        feats = self.epoch_features_opinions(x.reshape(b * length, *x.shape[2:]), eog_alone=v > 0)
        feats = feats.reshape(b, length, -1, feats.shape[-1])
        logits = [self.sequence_logits(feats[:, :, k]) for k in range(feats.shape[2])]
        both = (x[:, :, 0].flatten(1).abs().amax(dim=1) > 0) & (x[:, :, 1].flatten(1).abs().amax(dim=1) > 0)
        live = x[:, :, 1].flatten(2).abs().amax(dim=-1) > 0
        mixed = mix_opinions(logits[0], logits[1], w, logits[2] if v > 0 else None, eog_weights(v, live))
        return torch.where(both.view(b, 1, 1), mixed, logits[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, 2, 3000) -> logits (B, L, 5)."""
        if x.dim() != 4:
            raise ValueError(f"expected (B, L, 2, {self.config.epoch_samples}), got {tuple(x.shape)}")
        b, length = x.shape[:2]
        f = self.epoch_features(x.reshape(b * length, *x.shape[2:]))
        return self.sequence_logits(f.reshape(b, length, -1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, 2, 3000) -> (eeg_emb (N, D), eog_emb (N, D)), D = config.embedding_dim."""
        self._check_epochs(x)
        if self.config.amplitude_input:
            x = split_amplitude(x)[0]
        return self.eeg_branch.encoder.embed(x[:, 0:1]), self.eog_branch.encoder.embed(x[:, 1:2])


def with_normalisation(model: SleepStager, normalisation: str) -> SleepStager:
    """`model` under another input normalisation, with the same weights.

    A new amplitude layer (to "epoch+amplitude") starts as the identity, so the
    copy scores as `model` until it is trained; one dropped (from it) is left out.
    """
    if normalisation == model.config.normalisation:
        return model
    out = SleepStager(model.config.with_(normalisation=normalisation))
    weights = {k: v for k, v in model.state_dict().items() if not k.startswith("amplitude.")}
    missing, unexpected = out.load_state_dict(weights, strict=False)
    if unexpected or any(not k.startswith("amplitude.") for k in missing):
        raise ValueError(f"weights do not fit: missing {missing}, unexpected {unexpected}")
    out.version = model.version
    return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass on ``example``, counted with hooks.

    Counts Conv1d (each output element costs in_channels/groups x kernel MACs)
    and Linear (in_features MACs per output element); batch norm, activations,
    pooling and the elementwise fusion are not counted (they are a few percent
    and fold into the convolutions at inference).
    """
    total = 0

    def conv_hook(mod: nn.Conv1d, inp, out) -> None:
        nonlocal total
        total += out.numel() * (mod.in_channels // mod.groups) * mod.kernel_size[0]

    def linear_hook(mod: nn.Linear, inp, out) -> None:
        nonlocal total
        total += out.numel() * mod.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv1d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            model(example)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return total


def macs_per_epoch(model: SleepStager) -> int:
    """MACs to classify one epoch (one epoch, both branches and the head; embedding excluded)."""
    x = torch.zeros(1, 1, 2, model.config.epoch_samples)
    return count_macs(model, x)


def fold_batchnorm(model: SleepStager) -> SleepStager:
    """A copy of ``model`` for inference with every batch norm folded into its convolution.

    In eval mode batch norm is an affine map per channel, so it can be merged
    into the preceding convolution's weights and bias: the same function, one
    pass over memory fewer per block (the full-resolution blocks are bound by
    memory traffic more than by arithmetic).
    """
    import copy

    folded = copy.deepcopy(model).eval()
    for m in folded.modules():
        if isinstance(m, ConvBNReLU) and isinstance(m.bn, nn.BatchNorm1d):
            m.conv, m.bn = _fold(m.conv, m.bn), nn.Identity()
        elif isinstance(m, nn.Sequential):
            for i in range(len(m) - 1):
                if isinstance(m[i], nn.Conv1d) and isinstance(m[i + 1], nn.BatchNorm1d):
                    m[i], m[i + 1] = _fold(m[i], m[i + 1]), nn.Identity()
    return folded


def _fold(conv: nn.Conv1d, bn: nn.BatchNorm1d) -> nn.Conv1d:
    """Merge ``bn`` into ``conv`` in place (conv belongs to a private copy) and return it."""
    with torch.no_grad():
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        base = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        conv.weight.mul_(scale[:, None, None])
        conv.bias = nn.Parameter((base - bn.running_mean) * scale + bn.bias)
    return conv
