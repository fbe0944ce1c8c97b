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
#: Channel labels remembered as shown or hidden (View → Channels): a lab's montage or two, not every file's.
MAX_REMEMBERED_CHANNELS = 32


@dataclass
class KindDisplay:
    """Gain (µV per division) and display filters of one channel kind; 0 Hz means off."""

    gain: float
    highpass_hz: float
    lowpass_hz: float


#: AASM-style display defaults: EEG/EOG 0.3-35 Hz; EMG high-passed at 10 Hz (an envelope channel is
#: never high-passed, see trace_view); ECG high-passed at 0.3 Hz (its 70-Hz low-pass lies above what a lane
#: at 100 Hz holds); other channels (breathing, temperature) unfiltered.
DEFAULT_KIND_DISPLAY: dict[str, KindDisplay] = {
    "eeg": KindDisplay(50.0, 0.3, 35.0),
    "eog": KindDisplay(50.0, 0.3, 35.0),
    "emg": KindDisplay(20.0, 10.0, 0.0),
    "ecg": KindDisplay(250.0, 0.3, 0.0),
    "other": KindDisplay(50.0, 0.0, 0.0),
}


def login_name() -> str:
    """The name labels are stored under when no scorer name is given (the scoring file's default)."""
    import getpass
    import os

    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


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
        """The scorer name recorded with each label; the login name until the technician sets one."""
        return self._str("scoring/scorer", "") or login_name()

    @scorer.setter
    def scorer(self, name: str) -> None:
        self._s.setValue("scoring/scorer", name)

    @property
    def show_context(self) -> bool:
        return self._bool("view/show_context", True)

    @show_context.setter
    def show_context(self, on: bool) -> None:
        self._s.setValue("view/show_context", bool(on))

    @property
    def page_seconds(self) -> float:
        """The trace view's page length for browsing (30 s: one epoch)."""
        return self._float("view/page_seconds", 30.0)

    @page_seconds.setter
    def page_seconds(self, seconds: float) -> None:
        self._s.setValue("view/page_seconds", float(seconds))

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

    # -- channels shown beside the model's ------------------------------------
    def _names(self, key: str) -> list[str]:
        try:
            items = json.loads(self._str(key, "[]"))
        except ValueError:
            return []
        return [str(n) for n in items if isinstance(n, str)] if isinstance(items, list) else []

    @property
    def added_channels(self) -> list[str]:
        """Channel labels the technician asked to see (View → Channels), shown on every recording that has them."""
        return self._names("view/added_channels")

    @property
    def hidden_channels(self) -> list[str]:
        """Channel labels of the default montage the technician hid, hidden on every recording."""
        return self._names("view/hidden_channels")

    def forget_channels(self) -> None:
        """Back to the standard montage on the next recordings: no channel remembered as shown or hidden."""
        self._s.setValue("view/added_channels", "[]")
        self._s.setValue("view/hidden_channels", "[]")

    def show_channel(self, name: str, on: bool) -> None:
        """Remember that the technician showed (`on`) or hid a channel, for the next recordings."""
        added = [n for n in self.added_channels if n != name] + ([name] if on else [])
        hidden = [n for n in self.hidden_channels if n != name] + ([] if on else [name])
        self._s.setValue("view/added_channels", json.dumps(added[-MAX_REMEMBERED_CHANNELS:]))
        self._s.setValue("view/hidden_channels", json.dumps(hidden[-MAX_REMEMBERED_CHANNELS:]))

    # -- display ------------------------------------------------------------
    def kind_display(self, kind: str) -> KindDisplay:
        d = DEFAULT_KIND_DISPLAY.get(kind, DEFAULT_KIND_DISPLAY["other"])
        return KindDisplay(
            gain=self._float(f"view/{kind}/gain", d.gain),
            highpass_hz=self._float(f"view/{kind}/highpass_hz", d.highpass_hz),
            lowpass_hz=self._float(f"view/{kind}/lowpass_hz", d.lowpass_hz),
        )

    def set_kind_display(self, kind: str, value: KindDisplay) -> None:
        for k, v in asdict(value).items():
            self._s.setValue(f"view/{kind}/{k}", float(v))

    @property
    def notch_hz(self) -> float:
        """Mains notch for every channel (0 = off)."""
        return self._float("view/notch_hz", 0.0)

    @notch_hz.setter
    def notch_hz(self, hz: float) -> None:
        self._s.setValue("view/notch_hz", float(hz))

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
