"""Choosing the EEG and the EOG channel of a recording by name.

Labs label the same derivation many ways (`EEG Fpz-Cz`, `Fpz-Cz`, `FPZ-CZ`;
`C3-M2` vs `EEG C3-A2`; `EOG(L)`, `LOC`, `E1-M2`), so names are compared in a
normalised form: lower case, no spaces or punctuation, the `EEG`/`EOG` type
prefix set apart, mastoids M1/M2 written as A1/A2.
"""

from __future__ import annotations

import re
from typing import Sequence

from sleepscope.errors import SleepScopeError

#: EEG derivations in order of preference: the paper's Fpz-Cz first, then the
#: AASM central and frontal derivations, then other common ones.
EEG_ALIASES: tuple[str, ...] = (
    "fpzcz", "c4a1", "c3a2", "f4a1", "f3a2", "czoz", "fzcz", "pzoz", "o2a1", "o1a2",
    "c4", "c3", "cz", "fpz", "f4", "f3",
)

#: EOG channels in order of preference: Sleep-EDF's bipolar horizontal EOG first,
#: then the AASM left/right outer-canthus derivations.
EOG_ALIASES: tuple[str, ...] = (
    "horizontal", "horizontaleog", "heog", "e1a2", "e2a1", "e1", "e2", "loca2", "roca1",
    "loc", "roc", "l", "r", "left", "right", "e1e2",
)

_TYPE_PREFIXES = ("eeg", "eog")


def split_name(name: str) -> tuple[str, str]:
    """(type prefix or "", normalised derivation) of a channel label."""
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    prefix = ""
    for p in _TYPE_PREFIXES:
        if key.startswith(p) and key != p:
            prefix, key = p, key[len(p):]
            break
    key = key.replace("m1", "a1").replace("m2", "a2")
    return prefix, key


def normalise(name: str) -> str:
    prefix, key = split_name(name)
    return key


def find_channel(names: Sequence[str], wanted: str) -> str | None:
    """The file's channel matching an explicit choice (exactly, else case/spacing/prefix-insensitive)."""
    if wanted in names:
        return wanted
    full = re.sub(r"[^a-z0-9]", "", wanted.lower())
    for n in names:
        if re.sub(r"[^a-z0-9]", "", n.lower()) == full:
            return n
    key = normalise(wanted)
    matches = [n for n in names if normalise(n) == key]
    return matches[0] if len(matches) == 1 else None


def pick_channel(names: Sequence[str], kind: str, explicit: str | None = None) -> str:
    """Choose the EEG (`kind="eeg"`) or EOG channel among `names`; raise SleepScopeError if none fits."""
    if explicit:
        found = find_channel(names, explicit)
        if found is None:
            raise SleepScopeError(
                f"no channel named {explicit!r} in this recording. Its channels are: "
                f"{_listing(names)}. Choose one of them with --{kind} NAME."
            )
        return found
    aliases = EEG_ALIASES if kind == "eeg" else EOG_ALIASES
    split = [(n, *split_name(n)) for n in names]
    for alias in aliases:
        for n, prefix, key in split:
            # A bare "l"/"r" only means an eye when the label says EOG.
            if key == alias and (prefix in ("", kind) if len(alias) > 1 else prefix == kind):
                return n
    for n, prefix, _ in split:  # any channel typed as the wanted kind
        if prefix == kind:
            return n
    label = "EEG" if kind == "eeg" else "EOG"
    raise SleepScopeError(
        f"found no {label} channel in this recording. Its channels are: {_listing(names)}. "
        f"Choose the {label} channel with --{kind} NAME (in the GUI: the channel picker)."
    )


def _listing(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "(none)"
