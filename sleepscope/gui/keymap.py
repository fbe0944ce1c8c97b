"""The one table of key actions: it drives key handling, the menus and Help → Keyboard.

Each `KeyAction` names what it does, the keys that do it, where it sits in
the menus and how Help describes it. The main window binds a handler to each
name; `KeyDispatcher` turns key presses into those handlers.

Scoring keys (`window_shortcut=False`) act while a recording is shown
whatever widget has focus — a gain spin box in the Display dock or the menu
bar after Escape must not swallow `2`, Enter or the arrows — except a text
field being edited on purpose (a notes field, an editable combo box). Window
shortcuts (Ctrl+O, Ctrl+S, …) are plain QAction shortcuts.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMenuBar,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from sleepscope.stages import KEYS, Stage

#: Up/Down jump this many epochs (5 minutes); Left/Right/PgUp/PgDn one.
BIG_STEP = 10
#: An epoch needs a second look when the model's top probability is below this.
UNSURE_BELOW = 0.6


@dataclass(frozen=True)
class KeyAction:
    name: str
    text: str  # menu text
    keys: tuple[str, ...]  # QKeySequence portable text; the first is shown in menus
    help: str  # Help → Keyboard description
    menu: str = ""  # menu title ("Scoring", "Go", …); "" = keys only
    window_shortcut: bool = False  # a QAction shortcut (works in text fields too)


def _stage_keys(stage: Stage) -> tuple[str, ...]:
    return tuple(k.upper() for k, s in KEYS.items() if s is stage and k.isalpha()) + tuple(
        k for k, s in KEYS.items() if s is stage and k.isdigit())


_STAGE_TEXT = {Stage.W: "Wake", Stage.N1: "N1", Stage.N2: "N2", Stage.N3: "N3", Stage.REM: "REM",
               Stage.UNSCORED: "Unscored"}

ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("open", "&Open recording…", ("Ctrl+O",), "open a recording", "File", True),
    KeyAction("save", "&Save", ("Ctrl+S",), "save the scoring file (every edit is journalled anyway)", "File", True),
    KeyAction("close", "&Close recording", ("Ctrl+W",), "close the recording", "File", True),
    KeyAction("quit", "&Quit", ("Ctrl+Q",), "quit", "File", True),
    KeyAction("undo", "&Undo", ("Ctrl+Z",), "undo the last edit (history kept across sessions)", "Edit"),
    KeyAction("redo", "&Redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo", "Edit"),
    *(KeyAction(f"stage_{s.name.lower()}", _STAGE_TEXT[s], _stage_keys(s),
                f"{_STAGE_TEXT[s]}, then next epoch", "Scoring")
      for s in (Stage.W, Stage.N1, Stage.N2, Stage.N3, Stage.REM, Stage.UNSCORED)),
    KeyAction("accept", "Accept model's stage", ("Return", "Enter"),
              "accept the model's stage, then next epoch", "Scoring"),
    KeyAction("next_doubtful", "Next doubtful epoch (model unsure or disagrees)", ("N", "Tab"),
              "next epoch where the model is unsure (under its card's threshold, or W/REM on a narrow EEG band) or "
              "disagrees with you", "Scoring"),
    KeyAction("prev_doubtful", "Previous doubtful epoch", ("Shift+N", "Shift+Tab"), "previous such epoch",
              "Scoring"),
    KeyAction("lights_off", "Lights off at this epoch", ("L",),
              "lights off at the start of the current epoch (the statistics start there)", "Scoring"),
    KeyAction("lights_on", "Lights on at this epoch", ("Shift+L",),
              "lights on at the start of the current epoch (the statistics end there)", "Scoring"),
    KeyAction("remove_event", "Remove the selected events", ("Delete",),
              "remove the events selected in the Events dock (E selects the next one), one undoable edit",
              "Scoring"),
    KeyAction("mark_artefact", "Mark epoch as artefact", ("A",),
              "mark the current epoch as an artefact (drag on the traces to mark any span)", "Scoring"),
    KeyAction("next", "Next epoch", ("Right", "PgDown"), "next epoch", "Go"),
    KeyAction("previous", "Previous epoch", ("Left", "PgUp"), "previous epoch", "Go"),
    KeyAction("forward", f"{BIG_STEP} epochs forward", ("Down",), f"{BIG_STEP} epochs (5 minutes) forward", "Go"),
    KeyAction("back", f"{BIG_STEP} epochs back", ("Up",), f"{BIG_STEP} epochs (5 minutes) back", "Go"),
    KeyAction("next_unscored", "Next unscored epoch", ("Ctrl+Right",),
              "the next epoch with signal and no label: what is left to score", "Go"),
    KeyAction("prev_unscored", "Previous unscored epoch", ("Ctrl+Left",), "the previous such epoch", "Go"),
    KeyAction("go_to", "Go to epoch or time…", ("Ctrl+G",),
              "go to an epoch number (as the header shows it) or a clock time of the night (03:15)", "Go", True),
    KeyAction("first", "First epoch", ("Home",), "first epoch", "Go"),
    KeyAction("last", "Last epoch", ("End",), "last epoch", "Go"),
    KeyAction("next_event", "Next event", ("E",),
              "the next epoch where an event or note starts (its row selected in the Events dock)", "Go"),
    KeyAction("prev_event", "Previous event", ("Shift+E",), "the previous epoch where an event or note starts",
              "Go"),
    KeyAction("prescore", "&Pre-score recording", ("Ctrl+P",), "pre-score the night with the active model",
              "Model", True),
    KeyAction("zoom_hour", "Hypnogram: one hour", ("Ctrl+H",), "hypnogram: one hour around the cursor", "View",
              True),
    KeyAction("zoom_night", "Hypnogram: whole night", ("Ctrl+Shift+H",), "hypnogram: whole night", "View", True),
    KeyAction("keyboard", "&Keyboard", ("F1",), "this page", "Help", True),
)

BY_NAME: dict[str, KeyAction] = {a.name: a for a in ACTIONS}

_MODS = (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
         | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier)


def _combo(key: int, mods: int) -> tuple[int, int]:
    mods = int(mods) & int(_MODS.value)
    if key == int(Qt.Key.Key_Backtab):  # what Qt sends for Shift+Tab
        key, mods = int(Qt.Key.Key_Tab), mods | int(Qt.KeyboardModifier.ShiftModifier.value)
    return key, mods


def _combos(spec: str) -> tuple[int, int]:
    c = QKeySequence(spec)[0]
    return _combo(int(c.key().value), int(c.keyboardModifiers().value))


def scoring_key_table() -> dict[tuple[int, int], str]:
    """(key, modifiers) → action name, for the scoring keys."""
    out: dict[tuple[int, int], str] = {}
    for a in ACTIONS:
        if not a.window_shortcut:
            for k in a.keys:
                out[_combos(k)] = a.name
    return out


def _portable_to_native(spec: str) -> str:
    return QKeySequence(spec).toString(QKeySequence.SequenceFormat.NativeText)


def menu_text(action: KeyAction) -> str:
    """Menu text with the keys in the shortcut column (e.g. "N2\\t2", "REM\\tR, 4")."""
    return action.text + "\t" + ", ".join(_portable_to_native(k) for k in action.keys)


def keyboard_help_html() -> str:
    """Help → Keyboard: every action of the table, grouped by menu."""
    rows = []
    for menu in dict.fromkeys(a.menu for a in ACTIONS):
        rows.append(f"<tr><td colspan=2><br><b>{html.escape(menu or 'Other')}</b></td></tr>")
        for a in ACTIONS:
            if a.menu == menu:
                keys = " or ".join(_portable_to_native(k) for k in a.keys)
                rows.append(f"<tr><td><b>{html.escape(keys)}</b></td><td>{html.escape(a.help)}</td></tr>")
    digits = ", ".join(f"{int(s)} {s.label}" for s in (Stage.W, Stage.N1, Stage.N2, Stage.N3, Stage.REM))
    return (f"<p>Digits are the stage codes used in the files SleepScope reads and writes: {digits}.</p>"
            "<p>Scoring keys work while a recording is shown, whatever control has focus, except a text "
            f"field you are typing in.</p><table cellspacing=4>{''.join(rows)}</table>")


def is_text_entry(widget: QWidget | None) -> bool:
    """A field the user types text into on purpose (keys belong to it, not to scoring)."""
    if widget is None:
        return False
    if isinstance(widget, QLineEdit):
        owner = widget.parentWidget()
        # A spin box's or a fixed combo box's inner line edit is not a text field.
        if isinstance(owner, QAbstractSpinBox) or (isinstance(owner, QComboBox) and not owner.isEditable()):
            return False
        return not widget.isReadOnly()
    if isinstance(widget, (QTextEdit, QPlainTextEdit)):
        return not widget.isReadOnly()
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return False


class KeyDispatcher(QObject):
    """Routes scoring keys pressed anywhere in `window` to the handlers named in the table.

    The filter sits on the window and on whichever of its widgets has focus
    (followed through QApplication.focusChanged), not on the whole
    application, so other windows' events never pass through Python.
    """

    def __init__(self, window: QWidget, handlers: dict[str, Callable[[], object]],
                 active: Callable[[], bool]) -> None:
        super().__init__(window)
        self._window = window
        self._handlers = handlers
        self._active = active
        self._table = scoring_key_table()
        self._watched: QWidget | None = None
        window.installEventFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.focusChanged.connect(self._focus_changed)

    def detach(self) -> None:
        """Stop following focus (the window is closing)."""
        app = QApplication.instance()
        if app is not None:
            try:
                app.focusChanged.disconnect(self._focus_changed)
            except (RuntimeError, TypeError):
                pass
        self._focus_changed(None, None)

    def _focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if self._watched is not None:
            try:
                self._watched.removeEventFilter(self)
            except RuntimeError:  # already deleted
                pass
            self._watched = None
        if new is not None and new is not self._window and new.window() is self._window:
            new.installEventFilter(self)
            self._watched = new

    def action_for(self, key: int, mods: int) -> str | None:
        return self._table.get(_combo(int(key), int(mods)))

    def wants(self, widget: QWidget | None, ev: QKeyEvent) -> str | None:
        """The action a key press means here, or None when it belongs to the widget."""
        if not self._active():
            return None
        name = self.action_for(ev.key(), ev.modifiers().value)
        if name is None:
            return None
        focus = QApplication.focusWidget()
        if is_text_entry(focus if focus is not None else widget):
            return None
        return name

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802 (Qt name)
        t = ev.type()
        if t not in (QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride):
            return False
        if not isinstance(obj, QWidget) or obj.window() is not self._window:
            return False
        name = self.wants(obj, ev)
        if name is None:
            return False
        if t == QEvent.Type.ShortcutOverride:
            # Claim the key: it is delivered as a key press (handled below), not to a shortcut.
            ev.accept()
            return True
        self.trigger(name, from_widget=obj)
        return True

    def trigger(self, name: str, from_widget: QWidget | None = None) -> bool:
        handler = self._handlers.get(name)
        if handler is None:
            return False
        if isinstance(from_widget, QMenuBar):
            # Escape from a menu leaves the bar in keyboard mode; the arrows go back to the epochs.
            from_widget.setActiveAction(None)
            self.parent_focus()
        handler()
        return True

    def parent_focus(self) -> None:
        target = getattr(self._window, "surface", None)
        if target is not None:
            target.setFocus(Qt.FocusReason.OtherFocusReason)


def make_action(parent: QObject, name: str, slot: Callable[[], object]) -> QAction:
    """A menu QAction for table entry `name`; window shortcuts become real QAction shortcuts."""
    a = BY_NAME[name]
    act = QAction(menu_text(a) if not a.window_shortcut else a.text, parent)
    if a.window_shortcut:
        act.setShortcuts([QKeySequence(k) for k in a.keys])
    act.triggered.connect(lambda _=False: slot())
    act.setObjectName(f"action_{name}")
    return act
