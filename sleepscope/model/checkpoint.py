"""Checkpoints: weights in safetensors, a JSON model card beside them.

A model ``NAME`` is two files: ``NAME.safetensors`` (the tensors, plus a little
metadata) and ``NAME.json`` (the :class:`ModelCard`). A checkpoint is data,
never code: nothing here unpickles anything. The card records the sha256 of
the .safetensors file, so a truncated or altered file is refused before it is
parsed, and the version id is recomputed from the loaded weights.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from sleepscope.errors import SleepScopeError
from sleepscope.model.config import ModelConfig
from sleepscope.model.network import SleepStager
from sleepscope.paths import repo_models_dir

CARD_FORMAT = 1
DEFAULT_MODEL_NAME = "sleepscope-default"


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
        if int(data.get("format", CARD_FORMAT)) > CARD_FORMAT:
            raise SleepScopeError("the model card was written by a newer SleepScope; update SleepScope to use it")
        cfg = ModelConfig.from_dict(data.pop("config"))
        known = set(cls.__dataclass_fields__) - {"config"}
        return cls(config=cfg, **{k: v for k, v in data.items() if k in known})


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
    p = Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


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
    Both files are written to temporary names first, then renamed, so that a
    crash never leaves a half-written model behind a valid card.
    """
    from safetensors.torch import save_file

    st_path, card_path = _paths(path)
    st_path.parent.mkdir(parents=True, exist_ok=True)
    card = card or ModelCard(config=model.config)
    card.config = model.config
    card.version = weights_version(model)
    card.created = card.created or datetime.now(timezone.utc).isoformat(timespec="seconds")
    card.format = CARD_FORMAT
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp_st = st_path.with_name(st_path.name + ".tmp")
    tmp_card = card_path.with_name(card_path.name + ".tmp")
    save_file(tensors, str(tmp_st), metadata={
        "format": "sleepscope", "version": card.version, "config": model.config.to_json()})
    card.weights_sha256 = _file_sha256(tmp_st)
    tmp_card.write_text(json.dumps(card.to_dict(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_st, st_path)
    os.replace(tmp_card, card_path)
    model.version = card.version
    return card


def read_card(path: str | os.PathLike) -> ModelCard:
    """The card of a model (``.json`` or ``.safetensors`` path), without loading weights."""
    st_path, card_path = _paths(path)
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

    Refuses (SleepScopeError) a missing file, a file whose hash differs from the
    card's (truncated, altered or swapped), weights that do not fit the
    configuration, and weights whose version id differs from the card's.
    """
    from safetensors.torch import load_file

    st_path, card_path = _paths(path)
    if not st_path.exists():
        raise _missing(st_path)
    card = read_card(card_path)
    actual = _file_sha256(st_path)
    if card.weights_sha256 and actual != card.weights_sha256:
        raise SleepScopeError(
            f"the weights file {st_path} does not match its card {card_path.name} "
            f"(sha256 {actual[:16]}... instead of {card.weights_sha256[:16]}...): it is truncated, "
            "altered or belongs to another model; copy the model's two files again")
    try:
        tensors = load_file(str(st_path))
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise SleepScopeError(f"the weights file {st_path} cannot be read ({exc}); "
                              "copy the model's two files again") from exc
    model = SleepStager(card.config)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as exc:
        raise SleepScopeError(
            f"the weights in {st_path} do not fit the configuration in {card_path.name} "
            f"({str(exc).splitlines()[0]}); the two files belong to different models") from exc
    version = weights_version(model)
    if card.version and version != card.version:
        raise SleepScopeError(
            f"the weights in {st_path} have version {version}, the card says {card.version}; "
            "the two files belong to different models")
    model.version = version
    # predict applies them: the card travels with the weights it describes
    model.calibration = dict(card.calibration)
    model.familiarity = dict(card.familiarity)
    model.eval()
    return model, card


def default_model_path() -> Path:
    """Where the shipped model lives (it may not exist in a checkout without trained weights)."""
    return repo_models_dir() / f"{DEFAULT_MODEL_NAME}.safetensors"


def _missing(st_path: Path) -> SleepScopeError:
    if st_path.resolve() == default_model_path().resolve():
        return SleepScopeError(
            f"the shipped model {st_path} is not installed: this copy of SleepScope has no trained "
            "weights yet. Give the path of a model you trained (NAME.safetensors; see `sleepscope "
            "--help` for the training commands), or install a release that ships "
            "models/sleepscope-default.safetensors and .json")
    return SleepScopeError(f"no model at {st_path}: check the path (a model is NAME.safetensors "
                           "with NAME.json beside it)")
