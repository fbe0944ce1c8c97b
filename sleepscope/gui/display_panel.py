"""The Display dock: gain and filters per channel kind, notch, neighbouring epochs, hypnogram zoom.

Its controls may take focus (a technician clicks a spin box to type a gain),
yet stage keys still score: the key table's dispatcher takes them first
(see keymap.py).
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from sleepscope.gui.settings import KindDisplay, Settings
from sleepscope.gui.trace_view import KIND_NAMES, KINDS, DisplayFilter

NOTCH_CHOICES = ((0.0, "Off"), (50.0, "50 Hz"), (60.0, "60 Hz"))


def _spin(lo: float, hi: float, step: float, suffix: str, decimals: int, off: bool = False) -> QDoubleSpinBox:
    s = QDoubleSpinBox()
    s.setRange(lo, hi)
    s.setSingleStep(step)
    s.setDecimals(decimals)
    s.setSuffix(suffix)
    s.setKeyboardTracking(False)
    if off:
        s.setSpecialValueText("Off")
    return s


class DisplayPanel(QWidget):
    """Controls of the trace view; `changed` fires on any edit, read back with kind_display()/filter_for()."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        box = QGroupBox("Channels by kind")
        grid = QGridLayout(box)
        grid.setContentsMargins(6, 6, 6, 6)
        for col, head in enumerate(("", "µV/div", "High-pass", "Low-pass")):
            grid.addWidget(QLabel(f"<b>{head}</b>"), 0, col)
        self.gains: dict[str, QDoubleSpinBox] = {}
        self.highpass: dict[str, QDoubleSpinBox] = {}
        self.lowpass: dict[str, QDoubleSpinBox] = {}
        for row, kind in enumerate(KINDS, start=1):
            self.gains[kind] = _spin(1.0, 2000.0, 5.0, "", 0)
            self.highpass[kind] = _spin(0.0, 30.0, 0.1, " Hz", 1, off=True)
            self.lowpass[kind] = _spin(0.0, 49.0, 1.0, " Hz", 0, off=True)
            grid.addWidget(QLabel(KIND_NAMES[kind]), row, 0)
            grid.addWidget(self.gains[kind], row, 1)
            grid.addWidget(self.highpass[kind], row, 2)
            grid.addWidget(self.lowpass[kind], row, 3)
            for w in (self.gains[kind], self.highpass[kind], self.lowpass[kind]):
                w.valueChanged.connect(self.changed)
        self.kinds_shown = QLabel()
        self.kinds_shown.setWordWrap(True)
        self.kinds_shown.setStyleSheet("color:#4a525c")
        grid.addWidget(self.kinds_shown, len(KINDS) + 1, 0, 1, 4)
        layout.addWidget(box)
        form = QFormLayout()
        self.notch = QComboBox()
        for value, text in NOTCH_CHOICES:
            self.notch.addItem(text, value)
        form.addRow("Notch (all channels)", self.notch)
        layout.addLayout(form)
        self.context = QCheckBox("Show neighbouring epochs")
        layout.addWidget(self.context)
        zoom = QGroupBox("Hypnogram")
        zl = QHBoxLayout(zoom)
        zl.setContentsMargins(6, 6, 6, 6)
        self.zoom_hour = QPushButton("1 hour")
        self.zoom_night = QPushButton("Whole night")
        zl.addWidget(self.zoom_hour)
        zl.addWidget(self.zoom_night)
        layout.addWidget(zoom)
        legend = QLabel(
            "<span style='color:#c0392b'>- - -</span> ±37.5 µV (75 µV slow waves)<br>"
            "Shaded: neighbouring epochs<br>An envelope channel (recorded below 10 Hz) is never high-passed."
            "<br>Keys: Help → Keyboard"
        )
        legend.setWordWrap(True)
        legend.setStyleSheet("color:#4a525c")
        layout.addWidget(legend)
        layout.addStretch(1)
        self.notch.currentIndexChanged.connect(self.changed)
        self.context.toggled.connect(self.changed)
        for w in (self.zoom_hour, self.zoom_night, self.context):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def load(self, settings: Settings) -> None:
        """Show the remembered values without emitting `changed`."""
        widgets = [*self.gains.values(), *self.highpass.values(), *self.lowpass.values(), self.notch, self.context]
        blockers = [QSignalBlocker(w) for w in widgets]
        for kind in KINDS:
            d = settings.kind_display(kind)
            self.gains[kind].setValue(d.gain)
            self.highpass[kind].setValue(d.highpass_hz)
            self.lowpass[kind].setValue(d.lowpass_hz)
        self.notch.setCurrentIndex(max(0, self.notch.findData(settings.notch_hz)))
        self.context.setChecked(settings.show_context)
        del blockers

    def kind_display(self, kind: str) -> KindDisplay:
        return KindDisplay(self.gains[kind].value(), self.highpass[kind].value(), self.lowpass[kind].value())

    def filter_for(self, kind: str) -> DisplayFilter:
        d = self.kind_display(kind)
        return DisplayFilter(d.highpass_hz, d.lowpass_hz, float(self.notch.currentData()))

    def show_kinds(self, names_by_kind: dict[str, list[str]]) -> None:
        """Say which channels each row applies to."""
        parts = [f"{KIND_NAMES[k]}: {', '.join(v)}" for k, v in names_by_kind.items() if v]
        self.kinds_shown.setText("<br>".join(parts))
