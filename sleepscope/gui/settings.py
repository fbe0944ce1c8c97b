"""The workstation's remembered preferences (QSettings), typed.

QSettings returns strings for everything on some back-ends (INI files), so
every getter converts and falls back to the default on junk rather than
trusting the stored type.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "SleepScope"
APPLICATION = "SleepScope"
MAX_RECENT = 8


@dataclass
class FilterSettings:
    """Display-only filters; 0 means off."""

    highpass_hz: float = 0.3
    lowpass_hz: float = 35.0
    notch_hz: float = 0.0


class Settings:
    """Typed access to the QSettings store; `store` may be injected (tests use an INI file)."""

    def __init__(self, store: QSettings | None = None) -> None:
        self._s = store if store is not None else QSettings(ORGANIZATION, APPLICATION)

    def sync(self) -> None:
        self._s.sync()

    # -- plain values -------------------------------------------------------
    def _str(self, key: str, default: str = "") -> str:
        v = self._s.value(key, default)
        return default if v is None else str(v)

    def _float(self, key: str, default: float) -> float:
        try:
            return float(self._s.value(key, default))
        except (TypeError, ValueError):
            return default

    def _bool(self, key: str, default: bool) -> bool:
        v = self._s.value(key, default)
        if isinstance(v, str):
            return v.lower() in ("1", "true", "yes")
        return bool(v)

    @property
    def last_folder(self) -> str:
        return self._str("files/last_folder", str(Path.home()))

    @last_folder.setter
    def last_folder(self, folder: str) -> None:
        self._s.setValue("files/last_folder", folder)

    @property
    def scorer(self) -> str:
        return self._str("scoring/scorer", "")

    @scorer.setter
    def scorer(self, name: str) -> None:
        self._s.setValue("scoring/scorer", name)

    @property
    def model_path(self) -> str:
        return self._str("model/path", "")

    @model_path.setter
    def model_path(self, path: str) -> None:
        self._s.setValue("model/path", path)

    @property
    def show_context(self) -> bool:
        return self._bool("view/show_context", True)

    @show_context.setter
    def show_context(self, on: bool) -> None:
        self._s.setValue("view/show_context", bool(on))

    # -- recent files -------------------------------------------------------
    def recent_files(self) -> list[str]:
        raw = self._str("files/recent", "[]")
        try:
            items = json.loads(raw)
        except ValueError:
            return []
        return [str(p) for p in items if isinstance(p, str)][:MAX_RECENT]

    def add_recent(self, path: str) -> list[str]:
        items = [p for p in self.recent_files() if p != path]
        items.insert(0, path)
        items = items[:MAX_RECENT]
        self._s.setValue("files/recent", json.dumps(items))
        return items

    # -- display ------------------------------------------------------------
    def gains(self) -> dict[str, float]:
        """µV per division, by channel name."""
        return self._float_map("view/gains")

    def set_gain(self, channel: str, uv_per_div: float) -> None:
        self._set_map_value("view/gains", channel, uv_per_div)

    def offsets(self) -> dict[str, float]:
        """Vertical offsets in divisions, by channel name."""
        return self._float_map("view/offsets")

    def set_offset(self, channel: str, divisions: float) -> None:
        self._set_map_value("view/offsets", channel, divisions)

    def _float_map(self, key: str) -> dict[str, float]:
        try:
            raw = json.loads(self._str(key, "{}"))
        except ValueError:
            return {}
        out: dict[str, float] = {}
        if isinstance(raw, dict):
            for k, v in raw.items():
                try:
                    out[str(k)] = float(v)
                except (TypeError, ValueError):
                    continue
        return out

    def _set_map_value(self, key: str, name: str, value: float) -> None:
        m = self._float_map(key)
        m[name] = float(value)
        self._s.setValue(key, json.dumps(m))

    def filters(self) -> FilterSettings:
        d = FilterSettings()
        return FilterSettings(
            highpass_hz=self._float("view/highpass_hz", d.highpass_hz),
            lowpass_hz=self._float("view/lowpass_hz", d.lowpass_hz),
            notch_hz=self._float("view/notch_hz", d.notch_hz),
        )

    def set_filters(self, f: FilterSettings) -> None:
        for k, v in asdict(f).items():
            self._s.setValue(f"view/{k}", float(v))

    # -- window layout ------------------------------------------------------
    def geometry(self) -> QByteArray | None:
        v = self._s.value("window/geometry")
        return v if isinstance(v, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        v = self._s.value("window/state")
        return v if isinstance(v, QByteArray) else None

    def save_layout(self, geometry: QByteArray, state: QByteArray) -> None:
        self._s.setValue("window/geometry", geometry)
        self._s.setValue("window/state", state)
