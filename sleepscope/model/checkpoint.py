"""Checkpoints: weights in safetensors, a JSON model card beside them.

A model ``NAME`` is two files: ``NAME.safetensors`` (the tensors, plus a little
metadata) and ``NAME.json`` (the :class:`ModelCard`). A checkpoint is data,
never code: nothing here unpickles anything. The card records the sha256 of
the .safetensors file, so a truncated or altered file is refused before it is
parsed, and the version id is recomputed from the loaded weights.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from sleepscope.atomic import replace_pair, resolve_pair
from sleepscope.errors import SleepScopeError, describe_os_error
from sleepscope.model.config import ModelConfig
from sleepscope.model.network import SleepStager
from sleepscope import paths
from sleepscope.paths import SHIPPED_MODEL_NAME, model_argument

CARD_FORMAT = 1
DEFAULT_MODEL_NAME = SHIPPED_MODEL_NAME

#: Bounds on each size of a model card's configuration, checked before a network is
#: built: a card is data from outside, and one absurd width would allocate terabytes.
_CONFIG_BOUNDS: dict[str, tuple[int, int]] = {
    "stem_stride": (1, 3000), "stem_kernel": (1, 1025), "stem_pool": (1, 3000),
    "widths": (1, 4096), "pools": (2, 3000), "rsu_heights": (1, 8), "rsu_mid_divisor": (1, 4096),
    "kernel_size": (1, 257), "pdc_dilations": (1, 256), "se_reduction": (1, 4096),
    "saliency_kernel": (1, 257), "embedding_dim": (1, 8192), "head_channels": (1, 8192),
    "context_kernel": (1, 101), "seq_len": (1, 10000), "n_classes": (2, 64), "epoch_samples": (1, 100000),
}
#: the most parameters a card may describe (the paper configuration has about 5 million)
MAX_PARAMETERS = 200_000_000
_HEX = set("0123456789abcdef")


@dataclass
class ModelCard:
    """What a checkpoint is: its configuration, identity, lineage, data and scores."""

    config: ModelConfig
    #: first 16 hex digits of the sha256 of the weights (see :func:`weights_version`)
    version: str = ""
    #: version of the model this one was trained from (None: trained from scratch)
    parent: str | None = None
    #: description of the training data (cohort, nights, labels, pre-training)
    data: str = ""
    #: evaluation figures, e.g. {"accuracy": 0.84, "macro_f1": 0.78, "test_subjects": [...]}
    metrics: dict = field(default_factory=dict)
    #: ISO-8601 UTC time the checkpoint was written
    created: str = ""
    notes: str = ""
    #: sha256 of the .safetensors file (integrity check before loading)
    weights_sha256: str = ""
    #: temperature, ECE and unsure threshold fitted on validation nights (sleepscope.model.calibration);
    #: empty: probabilities as the network gives them
    calibration: dict = field(default_factory=dict)
    #: training-feature statistics for the per-recording familiarity check (sleepscope.model.familiarity)
    familiarity: dict = field(default_factory=dict)
    format: int = CARD_FORMAT

    def to_dict(self) -> dict:
        d = asdict(self)
        d["config"] = self.config.to_dict()
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "ModelCard":
        data = dict(data)
        if "config" not in data:
            raise SleepScopeError("the model card has no configuration: it is not a SleepScope model card")
        fmt = data.get("format", CARD_FORMAT)
        if isinstance(fmt, bool) or not isinstance(fmt, int):
            raise SleepScopeError(f"the model card's format is {fmt!r}, not a number: it is not a SleepScope "
                                  "model card, or it is damaged")
        if fmt > CARD_FORMAT:
            raise SleepScopeError("the model card was written by a newer SleepScope; update SleepScope to use it")
        config = data.pop("config")
        _check_config_sizes(config)
        cfg = ModelConfig.from_dict(config)
        _check_parameter_count(cfg)
        known = set(cls.__dataclass_fields__) - {"config"}
        return cls(config=cfg, **{k: v for k, v in data.items() if k in known})


def _check_config_sizes(config) -> None:
    """Refuse a configuration whose sizes are not whole numbers within bounds (before any allocation)."""
    if not isinstance(config, dict):
        raise SleepScopeError("the model card's configuration is not a set of named sizes: it is damaged; "
                              "restore the card from the original model")
    for name, (lo, hi) in _CONFIG_BOUNDS.items():
        if name not in config:
            continue
        value = config[name]
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int):
                raise SleepScopeError(
                    f"the model card's configuration gives {name} = {value!r}: not a whole number. The card "
                    "is damaged or was edited; restore it from the original model")
            if not lo <= v <= hi:
                raise SleepScopeError(
                    f"the model card's configuration gives {name} = {value!r}, outside {lo}..{hi}: no "
                    "SleepScope model has that size. The card is damaged or was edited; restore it from the "
                    "original model")


@functools.lru_cache(maxsize=32)
def _parameter_count(cfg: ModelConfig) -> int:
    # Built on the meta device: shapes only, no memory. Cached: a registry lists many
    # cards of a few configurations, and building the modules takes a fraction of a second.
    with torch.device("meta"):
        return sum(p.numel() for p in SleepStager(cfg).parameters())


def _check_parameter_count(cfg: ModelConfig) -> None:
    n = _parameter_count(cfg)
    if n > MAX_PARAMETERS:
        raise SleepScopeError(
            f"the model card describes a network of {n:,} parameters (more than {MAX_PARAMETERS:,}): no "
            "SleepScope model is that large. The card is damaged or was edited; restore it from the original model")


def _check_integrity_fields(card: "ModelCard", card_path: Path) -> None:
    """A card must carry the weights' file hash and version id: without them it vouches for nothing."""
    def hex_of(value, length: int) -> bool:
        return isinstance(value, str) and len(value) == length and set(value) <= _HEX

    missing = [name for name, ok in (("weights_sha256", hex_of(card.weights_sha256, 64)),
                                     ("version", hex_of(card.version, 16))) if not ok]
    if missing:
        raise SleepScopeError(
            f"the model card {card_path} has no valid {' and '.join(missing)}: without "
            f"{'them' if len(missing) > 1 else 'it'} nothing shows that the weights beside it are the model it "
            "describes. Restore the card from the original model (both files), or save the model again with "
            "SleepScope")


def _check_finite(tensors: dict, st_path: Path) -> None:
    bad = [name for name, t in tensors.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]
    if bad:
        raise SleepScopeError(
            f"the weights in {st_path} contain NaN or infinite values ({len(bad)} of {len(tensors)} tensors, e.g. "
            f"{bad[0]}): such a model gives no usable stages. It was damaged in training (diverged) or "
            "afterwards; use another model or train it again")


def weights_version(model: torch.nn.Module) -> str:
    """First 16 hex digits of a sha256 over the state dict in a canonical order.

    Names are sorted; each tensor contributes its name, dtype, shape and its
    bytes (little-endian, contiguous), so the id depends on the weights only,
    not on how or where they were saved.
    """
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        a = t.detach().cpu().contiguous().numpy()
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(str(tuple(a.shape)).encode())
        h.update(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()[:16]


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = model_argument(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def model_files(path: str | os.PathLike) -> tuple[Path, Path]:
    """The weights and card files to read for the model at `path`.

    Usually ``NAME.safetensors`` and ``NAME.json``; when a writer was killed
    while replacing them, the pair it had finished (see :func:`save_model`).
    """
    st_path, card_path = _paths(path)
    try:
        st, card = resolve_pair([st_path, card_path])
    except OSError:
        return st_path, card_path
    return st, card


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_model(model: SleepStager, path: str | os.PathLike, card: ModelCard | None = None) -> ModelCard:
    """Write ``NAME.safetensors`` and ``NAME.json``; returns the card as written.

    ``path`` may name either file or neither suffix. The card's config,
    version, date (if empty) and file hash are filled in from the model.
    Both files are written to temporary names first and replaced as a pair
    (:func:`sleepscope.atomic.replace_pair`), so that a crash never leaves a
    half-written model, nor new weights behind the old card. Refuses weights
    that are not finite (a diverged training).
    """
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    st_path, card_path = _paths(path)
    try:
        st_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SleepScopeError(f"could not create the folder {st_path.parent} ({exc.strerror or exc}); "
                              "choose a folder you can write to") from exc
    card = card or ModelCard(config=model.config)
    card.config = model.config
    card.version = weights_version(model)
    card.created = card.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
    card.format = CARD_FORMAT
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    _check_finite(tensors, st_path)

    def write(tmps: list[Path]) -> None:
        try:
            save_file(tensors, str(tmps[0]), metadata={
                "format": "sleepscope", "version": card.version, "config": model.config.to_json()})
        except SafetensorError as exc:  # its I/O errors (a full disk) come in its own type
            code = re.search(r"os error (\d+)", str(exc))
            if code is None:
                raise
            raise OSError(int(code.group(1)), os.strerror(int(code.group(1))), str(tmps[0])) from exc
        card.weights_sha256 = _file_sha256(tmps[0])
        tmps[1].write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")

    # One step for both files: a reader (or a process killed between the renames)
    # sees the old weights with the old card or the new with the new, never a mix.
    try:
        replace_pair([st_path, card_path], write)
    except OSError as exc:
        raise SleepScopeError(f"could not write the model {st_path.with_suffix('')}: nothing was written. "
                              + describe_os_error(exc)) from exc
    model.version = card.version
    return card


def read_card(path: str | os.PathLike) -> ModelCard:
    """The card of a model (``.json`` or ``.safetensors`` path), without loading weights."""
    return _read_card_file(*model_files(path))


def _read_card_file(st_path: Path, card_path: Path) -> ModelCard:
    if not card_path.exists():
        if not st_path.exists():
            raise _missing(st_path)
        raise SleepScopeError(
            f"the model card {card_path} is missing: a model is {st_path.name} together with "
            f"{card_path.name}; copy both files")
    try:
        data = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SleepScopeError(f"the model card {card_path} is not valid JSON ({exc}); "
                              "restore it from the original model") from exc
    if not isinstance(data, dict):
        raise SleepScopeError(f"the model card {card_path} is not a SleepScope model card")
    return ModelCard.from_dict(data)


def load_model(path: str | os.PathLike) -> tuple[SleepStager, ModelCard]:
    """Load a model from its ``.safetensors`` or ``.json`` path; returns ``(model in eval mode, card)``.

    Refuses (SleepScopeError) a missing file, a card without its hash and
    version or with impossible sizes or calibration tables, a file whose hash differs from the card's
    (truncated, altered or swapped), weights that are not finite, weights that
    do not fit the configuration, and weights whose version id differs from the card's.
    """
    from safetensors.torch import load as load_bytes

    from sleepscope.model.card_tables import check_card_tables

    st_path, card_path = model_files(path)
    if not st_path.exists():
        raise _missing(st_path)
    card = _read_card_file(st_path, card_path)
    _check_integrity_fields(card, card_path)
    check_card_tables(card.calibration, card.familiarity, card_path)
    # One read serves the hash and the tensors: the bytes checked are the bytes loaded, and
    # no tensor maps the file (safetensors' load_file does; a file cut later would SIGBUS).
    data = st_path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != card.weights_sha256:
        raise SleepScopeError(
            f"the weights file {st_path} does not match its card {card_path.name} "
            f"(sha256 {actual[:16]}... instead of {card.weights_sha256[:16]}...): it is truncated, "
            "altered or belongs to another model; copy the model's two files again")
    try:
        tensors = load_bytes(data)
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise SleepScopeError(f"the weights file {st_path} cannot be read ({exc}); "
                              "copy the model's two files again") from exc
    _check_finite(tensors, st_path)
    model = SleepStager(card.config)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise SleepScopeError(
            f"the weights in {st_path} do not fit the configuration in {card_path.name} "
            f"({str(exc).splitlines()[0]}); the two files belong to different models") from exc
    version = weights_version(model)
    if version != card.version:
        raise SleepScopeError(
            f"the weights in {st_path} have version {version}, the card says {card.version}; "
            "the two files belong to different models")
    model.version = version
    # predict applies them: the card travels with the weights it describes
    model.calibration = dict(card.calibration)
    model.familiarity = dict(card.familiarity)
    # site pre-training's output: predict refuses it until it is fine-tuned on labels
    model.encoder_only = bool(isinstance(card.metrics, dict) and card.metrics.get("encoder_only", False))
    model.eval()
    return model, card


def default_model_path() -> Path:
    """Where the shipped model lives (it may not exist in a checkout without trained weights)."""
    # looked up at each call: bound at import, a test's stand-in for the folder outlived the test
    return paths.repo_models_dir() / f"{DEFAULT_MODEL_NAME}.safetensors"


def _missing(st_path: Path) -> SleepScopeError:
    if st_path.resolve() == default_model_path().resolve():
        return SleepScopeError(
            f"the shipped model {st_path} is not installed: this copy of SleepScope has no trained "
            "weights yet. Give the path of a model you trained (NAME.safetensors; see `sleepscope "
            "--help` for the training commands), or install a release that ships "
            "models/sleepscope-default.safetensors and .json")
    return SleepScopeError(f"no model at {st_path}: check the path (a model is NAME.safetensors "
                           "with NAME.json beside it)")
