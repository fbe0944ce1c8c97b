"""Before Qt starts on a Linux desktop: are the system libraries of its X11 (xcb) plugin there?

On a fresh Debian/Ubuntu desktop Qt's xcb platform plugin may lack libraries
such as libxcb-cursor0 or libxcb-icccm4, and Qt then aborts with a generic
"could not load the Qt platform plugin" that names no package. The plugin's
dependencies are asked of the dynamic linker (`ldd`) and any missing one is
named with the package that provides it, so the technician (or IT) knows
what to install.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

#: library file -> Debian/Ubuntu package that provides it (Qt 6's xcb plugin's usual gaps)
DEBIAN_PACKAGES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xinput.so.0": "libxcb-xinput0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libSM.so.6": "libsm6",
    "libICE.so.6": "libice6",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
}

_NOT_FOUND = re.compile(r"^\s*(\S+)\s+=>\s+not found", re.MULTILINE)


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin, if this installation has one."""
    try:
        import PySide6
    except ImportError:
        return None
    p = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return p if p.is_file() else None


def missing_libraries(plugin: Path) -> list[str]:
    """Libraries the dynamic linker cannot find for `plugin` (empty when all are there or ldd is absent)."""
    try:
        out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    return list(dict.fromkeys(_NOT_FOUND.findall(out.stdout)))


def will_use_xcb(env: os._Environ | dict) -> bool:
    """Whether Qt is about to start its xcb plugin (Linux, X11 or the default in an X session)."""
    if not sys.platform.startswith("linux"):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return False  # Qt starts its Wayland plugin there
    return bool(env.get("DISPLAY"))


def describe_missing(missing: list[str]) -> str:
    """What to tell the user: the libraries, the packages that provide them, the command."""
    known = [DEBIAN_PACKAGES[m] for m in missing if m in DEBIAN_PACKAGES]
    unknown = [m for m in missing if m not in DEBIAN_PACKAGES]
    lines = ["SleepScope's window cannot start: Qt's X11 platform plugin (xcb) needs system libraries that "
             "are not installed: " + ", ".join(missing) + "."]
    if known:
        lines.append("On Debian or Ubuntu install them with:  sudo apt-get install " + " ".join(dict.fromkeys(known)))
    if unknown:
        lines.append(", ".join(unknown) + (" belongs" if len(unknown) == 1 else " belong")
                     + " to Qt itself: reinstall SleepScope (or PySide6) in this environment.")
    lines.append("The command-line tools (sleepscope prescore, export, ...) work without them.")
    return "\n".join(lines)


def platform_problem(env: os._Environ | dict | None = None, plugin: Path | None = None) -> str | None:
    """A message naming the missing libraries and their packages, or None when Qt can start."""
    env = os.environ if env is None else env
    if not will_use_xcb(env):
        return None
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    return describe_missing(missing) if missing else None
