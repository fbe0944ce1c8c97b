"""Sizes of the two-branch U2-Net stager, as JSON-serialisable dataclasses.

Geometry
--------
Each branch (one for EEG, one for EOG) encodes ONE 30-s epoch of 3,000 samples.
An optional stem (a learned filter bank: convolution with stride, ReLU,
max-pool) first shortens the signal. The outer U has ``len(widths)`` stages;
between stages the signal is max-pooled by ``pools``. SalientSleepNet's pools
(10/8/6/4) do not divide 3,000, so ours are chosen so that every stage has an
integer length:

    paper:   no stem          3000 -5-> 600 -5-> 120 -4-> 30 -3-> 10 samples
    default: stem /2, pool 10  150 -5-> 30 -3-> 10 -2-> 5 samples
    tiny:    no stem          3000 -10-> 300 -10-> 30 -3-> 10 samples

Every stage of the outer U is an RSU block (a small U with ``rsu_heights[i]``
levels, inner pooling by 2) so each stage sees both fine and coarse detail;
the decoder returns to the first stage's length.

Why the ``default`` configuration is the size it is
---------------------------------------------------
The GUI pre-scores a whole night on the technician's CPU while they wait; the
target is at most a third of YASA's time (LightGBM on hand-made features)
within 1 GB. Cost per epoch (``sleepscope model-info --config NAME``):

    config    parameters   MACs per epoch
    paper      5,103,151      215 M   (SalientSleepNet: 4.3 M parameters, ~140 M MACs)
    default      479,287        8.5 M
    tiny          11,171        3.7 M

What sets CPU time is not the MAC count but the operations run on all 3,000
samples: with few channels they are bound by memory traffic and per-operation
overhead. Measured in one process on the shared 2-core machine (300 epochs,
min of 4): a U2-Net starting at 3,000 samples with 4 channels (widths
4/8/16/32/48, 223 k parameters, 8.0 M MACs) took 5.5 ms per epoch; ``tiny``,
with half of those MACs, still about 60% of that. The default therefore
spends one strided convolution (16 filters of 15 taps at stride 2: 50 Hz,
so spindle and alpha bands survive) on the full epoch, takes max-pooled
envelopes every 0.2 s, and runs the two U2-Net branches on 150 samples
where 16-64 channels are cheap: 2.2 ms per epoch in the same run, with twice
the parameters (the stem is the first layer of DeepSleepNet-style stagers).
``benchmarks/bench_prescore.py`` times it against YASA on a full night.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace

from sleepscope.errors import SleepScopeError
from sleepscope.stages import N_CLASSES

EPOCH_SAMPLES = 3000


@dataclass(frozen=True)
class ModelConfig:
    """Width and depth of :class:`sleepscope.model.network.SleepStager`."""

    name: str = "custom"
    #: learned input filter bank (stem_stride 1 and stem_pool 1 = none): a convolution of
    #: ``stem_kernel`` taps and stride ``stem_stride``, ReLU, then max-pool ``stem_pool``
    #: (an envelope); the outer U then starts at 3000 / (stem_stride * stem_pool) samples
    stem_stride: int = 1
    stem_kernel: int = 1
    stem_pool: int = 1
    #: channels of each outer-U stage (encoder stage i and decoder stage i)
    widths: tuple[int, ...] = (8, 16, 32, 48, 64)
    #: max-pool factor between outer stages; their running products must divide 3,000
    pools: tuple[int, ...] = (5, 5, 4, 3)
    #: levels of the small U inside each stage's RSU block (1 = no inner pooling)
    rsu_heights: tuple[int, ...] = (4, 3, 3, 2, 1)
    #: inner-U channels = max(1, width // rsu_mid_divisor)
    rsu_mid_divisor: int = 2
    kernel_size: int = 5
    #: dilation rates of the parallel dilated convolution module
    pdc_dilations: tuple[int, ...] = (1, 2, 3, 4)
    #: squeeze-excitation bottleneck = max(1, channels // se_reduction)
    se_reduction: int = 2
    #: kernel of the temporal saliency gate of the attention module
    saliency_kernel: int = 7
    #: size D of each branch's per-epoch embedding (CLIP pre-training)
    embedding_dim: int = 128
    #: per-epoch feature size after the 1x1 head and average pooling
    head_channels: int = 32
    #: kernel of the convolution across neighbouring epochs (odd)
    context_kernel: int = 5
    #: default number L of consecutive epochs the classifier sees
    seq_len: int = 20
    n_classes: int = N_CLASSES
    epoch_samples: int = EPOCH_SAMPLES
    #: how each channel's epochs are scaled before the network (``sleepscope.model.inputs``):
    #: "epoch" (z-score per epoch, the paper's; every model before this option), "night"
    #: (centred per epoch, divided by the night's typical epoch amplitude: relative amplitude kept)
    #: or "epoch+amplitude" (the paper's z-score, and each epoch's log amplitude in µV as an
    #: extra input the network reads through ``SleepStager.amplitude``)
    normalisation: str = "epoch"
    #: weight of a second opinion from the EEG alone (the same network with the EOG input
    #: zeroed, as channel dropout trained it) in the stage probabilities, where a night has
    #: both channels: the EOG is the channel that differs most between labs (montage, leakage
    #: of frontal EEG, gain), so its evidence is not left to decide alone; 0 = one opinion
    eeg_opinion: float = 0.0
    #: weight of a third opinion from the EOG alone (the EEG input zeroed, as channel dropout
    #: trained it), where a night has both channels: a lab whose EEG the network misreads (another
    #: derivation, another physiology) is hedged by the eyes as the EOG is hedged by the EEG; the
    #: whole input keeps 1 - eeg_opinion - eog_opinion
    eog_opinion: float = 0.0
    #: re-estimate the batch norms' statistics on each night's own sleep period before scoring it
    #: (``sleepscope.model.night_norm``): another lab's or subject's features are put back on the
    #: scale the network learned; recordings under two hours keep the trained statistics
    night_statistics: bool = False

    def __post_init__(self) -> None:
        # JSON gives lists; keep tuples so configs stay hashable and comparable.
        for f in ("widths", "pools", "rsu_heights", "pdc_dilations"):
            object.__setattr__(self, f, tuple(int(v) for v in getattr(self, f)))
        self.validate()

    def validate(self) -> None:
        def bad(msg: str) -> SleepScopeError:
            return SleepScopeError(f"invalid model configuration {self.name!r}: {msg}")

        n = len(self.widths)
        if n < 2:
            raise bad("at least two outer stages (widths) are needed")
        if len(self.pools) != n - 1:
            raise bad(f"{n} widths need {n - 1} pools, got {len(self.pools)}")
        if len(self.rsu_heights) != n:
            raise bad(f"{n} widths need {n} rsu_heights, got {len(self.rsu_heights)}")
        if min(self.widths) < 1 or min(self.rsu_heights) < 1 or min(self.pools) < 2:
            raise bad("widths and rsu_heights must be >= 1 and pools >= 2")
        stem = self.stem_stride * self.stem_pool
        if self.stem_stride < 1 or self.stem_pool < 1 or self.epoch_samples % stem:
            raise bad(f"stem_stride x stem_pool ({stem}) must divide {self.epoch_samples}")
        if self.stem_kernel < 1 or self.stem_kernel % 2 == 0:
            raise bad("stem_kernel must be odd")
        length = self.epoch_samples // stem
        for p in self.pools:
            if length % p:
                raise bad(f"pool {p} does not divide the stage length {length} "
                          f"(pools {self.pools} must fit {self.epoch_samples} samples)")
            length //= p
        if self.kernel_size % 2 == 0 or self.context_kernel % 2 == 0 or self.saliency_kernel % 2 == 0:
            raise bad("kernel sizes must be odd so that lengths are kept")
        if not self.pdc_dilations:
            raise bad("the PDC module needs at least one dilation")
        if self.embedding_dim < 1 or self.head_channels < 1 or self.seq_len < 1:
            raise bad("embedding_dim, head_channels and seq_len must be >= 1")
        if not 0.0 <= self.eeg_opinion <= 1.0:
            raise bad(f"eeg_opinion is a weight between 0 and 1, not {self.eeg_opinion}")
        if not 0.0 <= self.eog_opinion <= 1.0 - self.eeg_opinion + 1e-9:
            raise bad(f"eog_opinion is a weight between 0 and 1 - eeg_opinion ({1.0 - self.eeg_opinion:g}), "
                      f"not {self.eog_opinion}")
        if self.normalisation not in ("epoch", "night", "epoch+amplitude"):
            raise bad(f"normalisation must be 'epoch', 'night' or 'epoch+amplitude', not {self.normalisation!r}")

    @property
    def amplitude_input(self) -> bool:
        """Whether the network reads each epoch's log amplitude (normalisation "epoch+amplitude")."""
        return self.normalisation == "epoch+amplitude"

    @property
    def has_stem(self) -> bool:
        return self.stem_stride > 1 or self.stem_pool > 1 or self.stem_kernel > 1

    def stage_lengths(self) -> tuple[int, ...]:
        """Signal length at each outer stage, e.g. (3000, 600, 120, 30, 10)."""
        out = [self.epoch_samples // (self.stem_stride * self.stem_pool)]
        for p in self.pools:
            out.append(out[-1] // p)
        return tuple(out)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SleepScopeError(
                f"model configuration has unknown fields {unknown}: the model was made by a "
                "newer SleepScope; update SleepScope to use it")
        try:
            return cls(**data)
        except TypeError as exc:
            raise SleepScopeError(f"model configuration is malformed ({exc})") from exc

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SleepScopeError(f"model configuration is not valid JSON ({exc})") from exc
        return cls.from_dict(data)

    def with_(self, **changes) -> "ModelConfig":
        return replace(self, **changes)

    @property
    def receptive_epochs(self) -> int:
        """Epochs of context on each side that the sequence head uses."""
        return self.context_kernel // 2


#: Close to SalientSleepNet's size (16..256 channels, kernel 5); a few million parameters.
PAPER = ModelConfig(
    name="paper",
    widths=(16, 32, 64, 128, 256),
    pools=(5, 5, 4, 3),
    rsu_heights=(5, 4, 3, 2, 1),
    rsu_mid_divisor=2,
    kernel_size=5,
    se_reduction=4,
    embedding_dim=128,
    head_channels=64,
)

#: The model the GUI ships: a learned filter bank at 50 Hz, envelopes every 0.2 s, then the
#: two-branch U2-Net on 150 samples per epoch (see the module docstring for why).
DEFAULT = ModelConfig(
    name="default",
    stem_stride=2,
    stem_kernel=15,
    stem_pool=10,
    widths=(16, 32, 48, 64),
    pools=(5, 3, 2),
    rsu_heights=(2, 2, 1, 1),
    rsu_mid_divisor=2,
    kernel_size=5,
    se_reduction=2,
    embedding_dim=128,
    head_channels=16,
)

#: For tests: a few thousand parameters, milliseconds per batch.
TINY = ModelConfig(
    name="tiny",
    widths=(4, 4, 8, 8),
    pools=(10, 10, 3),
    rsu_heights=(2, 2, 1, 1),
    rsu_mid_divisor=2,
    kernel_size=5,
    se_reduction=2,
    saliency_kernel=5,
    embedding_dim=16,
    head_channels=8,
)

CONFIGS: dict[str, ModelConfig] = {"paper": PAPER, "default": DEFAULT, "tiny": TINY}


def get_config(name: str) -> ModelConfig:
    try:
        return CONFIGS[name]
    except KeyError:
        raise SleepScopeError(
            f"unknown model configuration {name!r}; choose one of {', '.join(CONFIGS)}") from None
