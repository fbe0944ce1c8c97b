"""What the frozen app leaves out: dead weight of the wheels, and libraries the target system provides.

Used by sleepscope.spec to filter PyInstaller's TOC entries (destination path inside the bundle,
source path, type code). Plain Python without PyInstaller, so the rules can be tested on a file list.
"""

from __future__ import annotations

import fnmatch
import posixpath

# Destination paths (inside the bundle) nothing in the app reads: torch's C++ headers, CMake
# files, test executables and test-only libraries; static archives; Qt translations, QML and the
# plugins of Qt modules the app never loads (it uses QtCore, QtGui and QtWidgets only).
DEAD_WEIGHT_PATTERNS = (
    "torch/test/*",
    "torch/include/*",
    "torch/share/*",
    # torch/bin also holds torch_shm_manager, which `import torch` requires: only its tests go.
    "torch/bin/test_*",
    "torch/bin/*Test",
    "torch/bin/protoc*",
    "torch/bin/*.ptl",
    "torch/_inductor/codegen/*.h",
    "torch/lib/libtorchbind_test.so",
    "torch/lib/libjitbackend_test.so",
    "torch/lib/libbackend_with_compiler.so",
    "torch/lib/libaoti_custom_ops.so",
    "caffe2/*test*",
    "*.a",
    "*.lib",
    "PySide6/Qt/translations/*",
    "PySide6/Qt/qml/*",
    "PySide6/Qt/metatypes/*",
    "PySide6/typesystems/*",
    "PySide6/include/*",
    "PySide6/glue/*",
    "PySide6/Qt/plugins/sqldrivers/*",
    "PySide6/Qt/plugins/multimedia/*",
    "PySide6/Qt/plugins/position/*",
    "PySide6/Qt/plugins/sensors/*",
    "PySide6/Qt/plugins/texttospeech/*",
    "PySide6/Qt/plugins/canbus/*",
    "PySide6/Qt/plugins/designer/*",
    "PySide6/Qt/plugins/qmltooling/*",
    "PySide6/Qt/plugins/qmllint/*",
    "PySide6/Qt/plugins/webview/*",
    "PySide6/Qt/plugins/scxmldatamodel/*",
    "PySide6/Qt/plugins/renderers/*",
    "PySide6/Qt/plugins/sceneparsers/*",
    "PySide6/Qt/plugins/geometryloaders/*",
    "PySide6/Qt/plugins/assetimporters/*",
    "PySide6/Qt/plugins/renderplugins/*",
    "PySide6/Qt/plugins/virtualkeyboard/*",
    "PySide6/Qt/plugins/networkinformation/*",
    "PySide6/Qt/plugins/tls/*",
    # The GTK theme plugin drags in the build machine's GTK stack (cairo, pango, gio, ...) and
    # loads only where libgtk-3 exists; without it Qt draws its own widgets.
    "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
    # numba's TBB thread pool needs the system's libtbb, which desktops seldom have; numba then uses
    # its OpenMP or own pool, which the bundle carries.
    "numba/np/ufunc/tbbpool*",
)

# Libraries every Linux desktop provides, with backward-compatible ABIs. The build machine's copies
# are newer than many targets' glibc (its libstdc++ needs GLIBC_2.36), and a bundled libstdc++ older
# or newer than the one the system's Mesa/GL drivers load breaks those drivers; so the system's are used.
SYSTEM_LIBRARY_PATTERNS = (
    "libstdc++.so*",
    "libgcc_s.so*",
    "libexpat.so*",
    "libz.so*",
    "libuuid.so*",
    "libdbus-1.so*",
    "libfontconfig.so*",
    "libfreetype.so*",
    "libglib-2.0.so*",
    "libgthread-2.0.so*",
    "libGL.so*",
    "libGLX.so*",
    "libOpenGL.so*",
    "libEGL.so*",
    "libGLdispatch.so*",
    "libX11.so*",
    "libX11-xcb.so*",
    "libxcb.so*",
    "libxkbcommon.so*",
    "libxkbcommon-x11.so*",
    "libXau.so*",
    "libXdmcp.so*",
    "libbsd.so*",
    "libmd.so*",
    "libsystemd.so*",
    "libcap.so*",
    "libgcrypt.so*",
    "libgpg-error.so*",
    "liblz4.so*",
    # Kerberos, which QtNetwork links: present wherever a desktop is.
    "libgssapi_krb5.so*",
    "libkrb5.so*",
    "libk5crypto.so*",
    "libkrb5support.so*",
    "libcom_err.so*",
    "libkeyutils.so*",
    # Only the left-out GTK theme plugin needs these.
    "libgtk-3.so*",
    "libgdk-3.so*",
    "libatk-1.0.so*",
    "libcairo.so*",
    "libcairo-gobject.so*",
    "libpango-1.0.so*",
    "libpangocairo-1.0.so*",
    "libpangoft2-1.0.so*",
    "libharfbuzz.so*",
    "libgraphite2.so*",
    "libfribidi.so*",
    "libthai.so*",
    "libdatrie.so*",
    "libgdk_pixbuf-2.0.so*",
    "libgio-2.0.so*",
    "libgmodule-2.0.so*",
    "libgobject-2.0.so*",
    "libmount.so*",
    "libblkid.so*",
    "libselinux.so*",
    "libpcre2-8.so*",
    "libpixman-1.so*",
    "libpng16.so*",
    "libjpeg.so*",
    "libXext.so*",
    "libXrender.so*",
)


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    # fnmatch's '*' crosses '/', so "torch/include/*" covers the whole tree below it.
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def is_dead_weight(dest: str) -> bool:
    """True for a bundle path (POSIX, relative to the bundle's _internal/) the app never reads."""
    return _matches(dest.replace("\\", "/"), DEAD_WEIGHT_PATTERNS)


def is_system_library(dest: str) -> bool:
    """True for a shared library the target system provides (matched on its file name)."""
    return _matches(posixpath.basename(dest.replace("\\", "/")), SYSTEM_LIBRARY_PATTERNS)


def may_strip(dest: str) -> bool:
    """False for libraries auditwheel grafted into a wheel's `<name>.libs/` folder: patchelf rewrote
    their program headers, and `strip` then leaves them unloadable ("not page-aligned")."""
    top = dest.replace("\\", "/").split("/", 1)[0]
    return not top.endswith(".libs")


def keep(entry: tuple) -> bool:
    """The filter applied to each PyInstaller TOC entry (dest, src, typecode)."""
    dest = entry[0]
    if is_dead_weight(dest):
        return False
    if entry[2] in ("BINARY", "EXTENSION") and is_system_library(dest):
        return False
    return True
