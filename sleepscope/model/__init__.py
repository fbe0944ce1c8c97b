"""The two-branch U2-Net stager, its checkpoints and full-night inference.

Import the heavy parts from their modules (``sleepscope.model.network``,
``.checkpoint``, ``.infer``); this package only re-exports them lazily so that
``import sleepscope.model`` stays cheap for the CLI.
"""

from __future__ import annotations

from sleepscope.model.config import CONFIGS, ModelConfig, get_config

__all__ = ["CONFIGS", "ModelConfig", "get_config", "SleepStager", "save_model", "load_model",
           "ModelCard", "predict", "Prediction", "default_model_path"]

_LAZY = {
    "SleepStager": "sleepscope.model.network",
    "save_model": "sleepscope.model.checkpoint",
    "load_model": "sleepscope.model.checkpoint",
    "ModelCard": "sleepscope.model.checkpoint",
    "default_model_path": "sleepscope.model.checkpoint",
    "predict": "sleepscope.model.infer",
    "Prediction": "sleepscope.model.infer",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sleepscope.model' has no attribute {name!r}")
