"""Where SleepScope keeps the user's data (demo night, registry, fallback scoring files)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from sleepscope.errors import SleepScopeError, describe_os_error

APP = "SleepScope"


def user_data_dir() -> Path:
    """The per-user data folder; SLEEPSCOPE_DATA_DIR overrides it (tests, shared lab servers)."""
    override = os.environ.get("SLEEPSCOPE_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SleepScopeError(
            f"the SleepScope data folder {path} cannot be created ({exc.strerror or exc}). "
            + ("Set SLEEPSCOPE_DATA_DIR to a folder you can write to." if override else
               "Set SLEEPSCOPE_DATA_DIR to a folder you can write to, or fix the permissions of its parent.")
        ) from exc
    return path


def check_writable(path: str | os.PathLike, option: str = "--out") -> None:
    """Refuse now, before the work that would write it, an output whose folder cannot be written.

    A real probe (a temporary file created and removed), not the permission
    bits: they do not tell about a read-only mount, an ACL or a full inode table.
    """
    from sleepscope.atomic import temp_path

    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp_path(Path(path)).unlink()
    except OSError as exc:
        raise SleepScopeError(f"{option} {path}: cannot write in its folder {folder or '.'}: "
                              f"{describe_os_error(exc, with_path=False)}") from exc


def package_root() -> Path:
    return Path(__file__).resolve().parent


def repo_models_dir() -> Path:
    """The shipped models: `models/` beside the package in a checkout or a frozen app."""
    return package_root().parent / "models"


SHIPPED_MODEL_NAME = "sleepscope-default"


def model_argument(value: str | os.PathLike) -> Path:
    """A model named by a user: a path, or `default` for the model shipped with SleepScope."""
    if str(value) == "default":
        return repo_models_dir() / f"{SHIPPED_MODEL_NAME}.safetensors"
    return Path(value)
