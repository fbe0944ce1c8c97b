"""Sizes of the two-branch U2-Net stager, as JSON-serialisable dataclasses.

Geometry shared by every configuration
--------------------------------------
Each branch (one for EEG, one for EOG) encodes ONE 30-s epoch of 3,000 samples.
The outer U has ``len(widths)`` stages; between stages the signal is max-pooled
by ``pools``. SalientSleepNet's pools (10/8/6/4) do not divide 3,000, so ours
are chosen so that every stage has an integer length:

    paper/default: 3000 -5-> 600 -5-> 120 -4-> 30 -3-> 10 samples
    tiny:          3000 -10-> 300 -10-> 30 -3-> 10 samples

Every stage of the outer U is an RSU block (a small U with ``rsu_heights[i]``
levels, inner pooling by 2) so each stage sees both fine and coarse detail.

Why the ``default`` configuration is the size it is
---------------------------------------------------
The GUI pre-scores a whole night on the technician's CPU while they wait; the
target is at most a third of YASA's time (LightGBM on hand-made features)
within 1 GB. Cost per epoch (``sleepscope model-info --config NAME``):

    config    parameters   MACs per epoch   stage lengths
    paper      5,103,151      215 M         3000/600/120/30/10 (SalientSleepNet: 4.3 M, ~140 M)
    default      222,995        8.0 M       3000/300/60/15/5
    tiny          11,171        3.7 M       3000/300/30/10

Two facts set the default. (1) The two full-resolution RSU blocks of each
branch (encoder and decoder stage 0, 3,000 samples) carry most of the run
time: with few channels they are bound by memory traffic and per-operation
overhead, not arithmetic. So stage 0 has only 4 channels (2 in its inner U),
and the first pool is 10 (3000 -> 300) so that everything after it is cheap;
the wide channels (16-48) sit where the signal is 60, 15 and 5 samples long.
(2) Below this size time hardly falls: ``tiny`` has half the MACs of
``default`` but runs only about 40% faster, because the full-resolution
operations remain. At 8 M MACs per epoch a 1,000-epoch night is 8 GMAC,
about 1.6 s on the 2-core development machine under load against YASA's
2.9 s warm and 13 s cold (first call: numba compiles its features), peak
memory 0.42 GB; ``benchmarks/bench_prescore.py`` measures these in one run.
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
        length = self.epoch_samples
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

    def stage_lengths(self) -> tuple[int, ...]:
        """Signal length at each outer stage, e.g. (3000, 600, 120, 30, 10)."""
        out = [self.epoch_samples]
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

#: The model the GUI ships: narrow at full resolution, wider where the signal is short.
DEFAULT = ModelConfig(
    name="default",
    widths=(4, 8, 16, 32, 48),
    pools=(10, 5, 4, 3),
    rsu_heights=(2, 2, 2, 1, 1),
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
