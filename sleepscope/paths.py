"""Where SleepScope keeps the user's data (demo night, registry, fallback scoring files)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "SleepScope"


def user_data_dir() -> Path:
    """The per-user data folder; SLEEPSCOPE_DATA_DIR overrides it (tests, shared lab servers)."""
    override = os.environ.get("SLEEPSCOPE_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def package_root() -> Path:
    return Path(__file__).resolve().parent


def repo_models_dir() -> Path:
    """The shipped models: `models/` beside the package in a checkout or a frozen app."""
    return package_root().parent / "models"
