"""Choosing the EEG and the EOG channel of a recording by name.

Labs label the same derivation many ways (`EEG Fpz-Cz`, `Fpz-Cz`, `FPZ-CZ`;
`C3-M2` vs `EEG C3-A2`; `EOG(L)`, `LOC`, `E1-M2`, `EOG1-A1`), so names are
compared in a normalised form: lower case, no spaces or punctuation, the
`EEG`/`EOG` type prefix set apart, mastoids M1/M2 written as A1/A2.

Preference order (what the model learned comes first)
-----------------------------------------------------
The shipped model learned Sleep-EDF's Fpz-Cz EEG and its bipolar horizontal
EOG. Among the channels a file has, the one nearest to those is chosen:

EEG
  1. Fpz-Cz, then Fz-Cz: the derivation learned, and its frontal neighbour;
  2. frontal against the contralateral mastoid (Fp1/Fp2/Fpz, F3/F4/Fz): slow
     waves and K-complexes are frontal, as in Fpz-Cz;
  3. central against the contralateral mastoid (C4-M1, C3-M2, Cz): the AASM's
     recommended derivation, carrying spindles and most of the slow waves;
     then central-posterior bipolar (Cz-Oz, Cz-Pz);
  4. the same electrodes against the ipsilateral mastoid (C3-A1, F4-M2, ...):
     shorter inter-electrode distance, lower amplitude, same rhythms;
  5. parietal and occipital (Pz-Oz, O2-M1, O1-M2, ...): alpha is posterior,
     slow waves weak;
  6. a bare electrode name (`C3`, `Fpz`), then any channel typed EEG.

An electrode against linked ears or mastoids (MASS's `EEG C3-CLE`, `C3-LER`,
`C3-LE`, `C3-(A1+A2)`) ranks as against the contralateral mastoid, which it
resembles; against the average reference (`C3-AVG`) as the bare electrode.

EOG
  1. a bipolar horizontal EOG (Sleep-EDF's `EOG horizontal`, E1-E2, LOC-ROC);
  2. an eye against the contralateral mastoid (E1-M2, E2-M1, LOC-A2, ROC-A1),
     the AASM's derivations; then against the ipsilateral one;
  3. a bare eye label (`E1`, `LOC`, `EOG(L)`, `EOG1`, `Left EOG`, `LEOG`, `Lefteye`), then
     any channel typed EOG. A vertical EOG (`VEOG`) is read only when named.

A channel named just `EEG` or `EOG` (SHHS's `EEG`, a single-channel export) is
a channel of that type whose derivation is not said: last in its list. Some
systems type every channel EEG (Nihon Kohden's `EEG LOC-Ref`): an eye electrode
is read as the EOG and never as the EEG, a mastoid never as either, and `-Ref`
means the electrode against the amplifier's reference (as a bare `C3`).

Referential recordings
----------------------
Many systems store each electrode against a common amplifier reference and the
mastoids as channels of their own (`C3`, `C4`, `M1`, `M2`, `E1`, `E2`; Nihon
Kohden's `EEG C4-Ref`, `EEG A1-Ref`). There the AASM derivations are computed:
each lateral electrode against the contralateral mastoid (C4 - M1, C3 - M2,
E1 - M2, E2 - M1), a midline one against either, and the chin EMG from its
electrodes (Chin1 - ChinZ, else Chin1 - Chin2). They are offered as channels
named `C4-M1` (:func:`derived_channels`), ranked like recorded ones, so that
`C4-M1` is preferred to the bare `C4` and may be named with ``--eeg C4-M1``;
the reason given says that it was computed, and from which channels.

:func:`choose_channels` returns which channels were chosen and why (the CLI's
``info`` and ``prescore`` print it, the GUI shows it); a recording may lack
one of the two (the model then runs on the other alone), not both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from sleepscope.errors import SleepScopeError

_FRONTAL_CONTRA = ("fpza1", "fpza2", "fp2a1", "fp1a2", "f4a1", "f3a2", "fza1", "fza2")
_CENTRAL_CONTRA = ("c4a1", "c3a2", "cza1", "cza2")
_IPSI = ("fp1a1", "fp2a2", "f3a1", "f4a2", "c3a1", "c4a2")
_POSTERIOR = ("pzoz", "o2a1", "o1a2", "oza1", "oza2", "pza1", "pza2", "p4a1", "p3a2", "o1a1", "o2a2")
_BARE_EEG = ("fpz", "fz", "fp1", "fp2", "f4", "f3", "cz", "c4", "c3", "pz", "oz", "o2", "o1")

#: (normalised derivations, what they are) in order of preference; see the module docstring.
EEG_PREFERENCE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("fpzcz",), "Fpz-Cz, the derivation the model learned"),
    (("fzcz",), "frontal-central bipolar, next to the Fpz-Cz the model learned"),
    (_FRONTAL_CONTRA, "frontal against the contralateral mastoid (the model learned Fpz-Cz)"),
    (_CENTRAL_CONTRA, "central against the contralateral mastoid (the model learned Fpz-Cz)"),
    (("czoz", "czpz"), "central-posterior bipolar (the model learned Fpz-Cz)"),
    (_IPSI, "against the ipsilateral mastoid: lower amplitude (the model learned Fpz-Cz)"),
    (_POSTERIOR, "parietal/occipital: weak slow waves (the model learned Fpz-Cz)"),
    (_BARE_EEG, "an electrode without a stated reference (the model learned Fpz-Cz)"),
)

#: As EEG_PREFERENCE for the EOG.
EOG_PREFERENCE: tuple[tuple[tuple[str, ...], str], ...] = (
    (("horizontal", "horizontaleog", "heog", "e1e2", "e2e1", "locroc", "rocloc", "lr"),
     "bipolar horizontal EOG, as the model learned"),
    (("e1a2", "e2a1", "loca2", "roca1", "la2", "ra1", "1a2", "2a1", "lefta2", "righta1"),
     "one eye against the contralateral mastoid (the model learned a bipolar horizontal EOG)"),
    (("e1a1", "e2a2", "loca1", "roca2", "la1", "ra2", "1a1", "2a2", "lefta1", "righta2"),
     "one eye against the ipsilateral mastoid (the model learned a bipolar horizontal EOG)"),
    (("e1", "e2", "loc", "roc", "l", "r", "left", "right", "1", "2", "lefthoriz", "righthoriz", "lefteye",
      "righteye", "li", "re", "links", "rechts"),
     "one eye, reference not stated (the model learned a bipolar horizontal EOG)"),
)
#: A vertical EOG (blinks, not the horizontal movements the model learned) is read only when named.
_VERTICAL_EOG = ("v", "vert", "vertical", "verticaleog")

#: Kept for callers that want the flat lists (most preferred first).
EEG_ALIASES: tuple[str, ...] = tuple(k for keys, _ in EEG_PREFERENCE for k in keys)
EOG_ALIASES: tuple[str, ...] = tuple(k for keys, _ in EOG_PREFERENCE for k in keys)

_TYPE_PREFIXES = ("eeg", "eog")
#: Electrodes a referential file may store alone, by side: against the other side's mastoid (AASM).
_LEFT = ("fp1", "f3", "c3", "p3", "o1", "e1", "loc")
_RIGHT = ("fp2", "f4", "c4", "p4", "o2", "e2", "roc")
_MIDLINE = ("fpz", "fz", "cz", "pz", "oz")
_MASTOIDS = ("a1", "a2")
_EYES = ("e1", "e2", "loc", "roc")
#: Labels that only mean an EOG when the file says so (`EOG(L)`, `EOG1-A1`), not as EEG names.
_NEEDS_EOG_PREFIX = {"l", "r", "left", "right", "1", "2", "la1", "la2", "ra1", "ra2",
                     "1a1", "1a2", "2a1", "2a2", "lefta1", "lefta2", "righta1", "righta2", "lr",
                     "lefthoriz", "righthoriz", "li", "re", "links", "rechts"}
#: References common to every electrode of a file: the amplifier's (`C3-Ref`), an average (`C3-AVG`). An
#: electrode against one reads as the bare electrode; two against the same one give their derivation.
_COMMON_REFS = ("ref", "avg", "average", "car", "av")
#: Linked ears or mastoids (MASS's `EEG C3-CLE`/`C3-LER`, `C3-LE`, `C3-(A1+A2)`, `C3-M1M2`): about what the
#: contralateral mastoid gives, and ranked so.
_LINKED_REFS = ("cle", "ler", "le", "lm", "a1a2", "a2a1", "a12", "linkedears", "linkedmastoids")


def split_name(name: str) -> tuple[str, str]:
    """(type prefix or "", normalised derivation) of a channel label."""
    # " (2)": the second of signals that share a label in the file (sleepscope.io.edfheader)
    key = re.sub(r"[^a-z0-9]", "", re.sub(r"\s\(\d+\)$", "", name).lower())
    prefix = ""
    for p in _TYPE_PREFIXES:
        if key.startswith(p):
            prefix, key = p, key[len(p):]
            break
    key = key.replace("m1", "a1").replace("m2", "a2")
    if not prefix and key.endswith("eog") and key not in EOG_ALIASES:  # "Left EOG", "LEOG", "ROC EOG"
        prefix, key = "eog", key[:-3]
    return prefix, key


def normalise(name: str) -> str:
    prefix, key = split_name(name)
    return key


def _reference(key: str) -> tuple[str, str]:
    """(electrode key, reference) of a key that ends in a common or linked reference ("c3avg" -> ("c3", "avg"));
    (key, "") otherwise. Only after a known electrode: "le" ends other words."""
    for ref in _COMMON_REFS + _LINKED_REFS:
        if key.endswith(ref) and key[:-len(ref)] in _LEFT + _RIGHT + _MIDLINE + _MASTOIDS:
            return key[:-len(ref)], ref
    return key, ""


def _without_ref(key: str) -> str:
    """`c3ref` (from "EEG C3-Ref"), `c3avg` -> `c3`: the electrode a channel stores against a reference common to
    all; `c3cle` (linked ears) -> `c3a2`, the contralateral mastoid derivation it stands for."""
    electrode, ref = _reference(key)
    if ref in _LINKED_REFS:
        if electrode in _LEFT:
            return electrode + "a2"
        if electrode in _RIGHT or electrode in _MIDLINE:
            return electrode + "a1"
        return key
    return electrode


def _electrode(name: str) -> str | None:
    """The electrode a channel stores against the amplifier's reference (`C4`, `EEG C4-Ref`, `M1` -> c4, c4, a1),
    or None when its label names a derivation or no electrode."""
    key = split_name(name)[1]
    if _reference(key)[1] in _LINKED_REFS:
        return None  # already a derivation
    key = _without_ref(key)
    return key if key in _LEFT + _RIGHT + _MIDLINE + _MASTOIDS else None


def _bare_label(name: str) -> str:
    """`EEG C4-Ref` -> `C4`: the label without its type prefix and its reference."""
    label = re.sub(r"^\s*(eeg|eog)[\s_:.-]*", "", name, flags=re.IGNORECASE)
    return re.sub(r"[\s_:.-]*(?:" + "|".join(_COMMON_REFS) + r")\s*$", "", label, flags=re.IGNORECASE).strip() or name


def _common_ref(name: str) -> str:
    """The reference common to all a channel is stored against: "" for the amplifier's (`C3`, `C3-Ref`)."""
    ref = _reference(split_name(name)[1])[1]
    return "" if ref == "ref" else ref


def derived_channels(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Derivations a referential file allows: {`C4-M1`: (the file's C4 channel, its M1 channel), ...}.

    Each stored electrode against the contralateral mastoid (a midline one against each), where the file
    holds that mastoid as a channel of its own and no recorded channel already carries the label; and the chin
    EMG from its electrodes (`chin_derivation`).
    """
    return {**_mastoid_derivations(names), **chin_derivation(names)}


def _mastoid_derivations(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    mastoids = {(e, _common_ref(n)): n for n in names if (e := _electrode(n)) in _MASTOIDS}
    if not mastoids:
        return {}
    taken = {re.sub(r"[^a-z0-9]", "", n.lower()) for n in names} | {normalise(n) for n in names}
    out: dict[str, tuple[str, str]] = {}
    for n in names:
        e = _electrode(n)
        if e is None or e in _MASTOIDS:
            continue
        refs = ("a2",) if e in _LEFT else ("a1",) if e in _RIGHT else ("a1", "a2")
        for r in refs:
            mastoid = mastoids.get((r, _common_ref(n)))  # both against one reference, or it does not cancel
            if mastoid is None:
                continue
            label = f"{_bare_label(n)}-{_bare_label(mastoid)}"
            if re.sub(r"[^a-z0-9]", "", label.lower()) in taken or normalise(label) in taken or label in out:
                continue
            out[label] = (n, mastoid)
    return out


def find_channel(names: Sequence[str], wanted: str) -> str | None:
    """The file's channel matching an explicit choice (exactly, else case/spacing/prefix-insensitive), or a
    derivation of :func:`derived_channels` so named."""
    derived = derived_channels(names)
    for pool in (list(names), list(derived)):
        if wanted in pool:
            return wanted
        full = re.sub(r"[^a-z0-9]", "", wanted.lower())
        for n in pool:
            if re.sub(r"[^a-z0-9]", "", n.lower()) == full:
                return n
        key = normalise(wanted)
        matches = [n for n in pool if normalise(n) == key]
        if len(matches) == 1:
            return matches[0]
    return None


def rank_channel(name: str, kind: str) -> tuple[int, int, str] | None:
    """(group, place in the group, why) of a label as the EEG (`kind="eeg"`) or EOG, None if it is neither.

    Lower = nearer to what the model learned (module docstring).
    """
    prefix, key = split_name(name)
    ref = _reference(key)[1]
    linked = ref in _LINKED_REFS
    key = _without_ref(key)  # "EEG C3-Ref" ranks as the bare electrode, "C3-CLE" as C3-M2
    eye = key.startswith(_EYES) and key in EOG_ALIASES
    if kind == "eog" and prefix == "eog" and key in _VERTICAL_EOG:
        return None
    if kind == "eeg" and (eye or key in _MASTOIDS):
        return None  # an eye electrode or a mastoid is no EEG, however the file types it
    if prefix and prefix != kind and not (kind == "eog" and eye):  # some systems type every channel EEG
        return None
    table = EEG_PREFERENCE if kind == "eeg" else EOG_PREFERENCE
    for rank, (keys, why) in enumerate(table):
        if key in keys:
            if kind == "eog" and key in _NEEDS_EOG_PREFIX and prefix != "eog":
                continue
            if linked:
                why = why.replace("the contralateral mastoid", "linked ears or mastoids, read as the contralateral "
                                                               "mastoid")
            elif ref and ref != "ref":
                why = why.replace("without a stated reference", "against the average reference")
            return rank, keys.index(key), why
    if prefix == kind:  # typed as the wanted kind, derivation unknown
        return len(table), 0, f"typed {kind.upper()}, derivation not recognised"
    return None


def _best(names: Sequence[str], kind: str, exclude: Sequence[str | None] = (),
          recognised: bool = False) -> tuple[str, str] | None:
    """The channel of `kind` nearest to what the model learned, and why; `recognised`: only a derivation the
    preference table names (not any channel merely typed so)."""
    ranked = []
    derived = derived_channels(names)
    table = EEG_PREFERENCE if kind == "eeg" else EOG_PREFERENCE
    for i, n in enumerate([*names, *derived]):
        if n in exclude:
            continue
        r = rank_channel(n, kind)
        if r is not None and not (recognised and r[0] >= len(table)):
            why = r[2] if n not in derived else f"{r[2]}; computed as {derived[n][0]} - {derived[n][1]}"
            ranked.append((r[0], r[1], i, n, why))
    if not ranked:
        return None
    *_, n, why = min(ranked)
    return n, why


@dataclass(frozen=True)
class ChannelChoice:
    """The channels the model reads and how each was chosen (None: the recording has none)."""

    eeg: str | None
    eog: str | None
    eeg_reason: str
    eog_reason: str
    #: another EEG derivation of the file, read in the epochs where the EEG fails and it does not
    #: (`sleepscope.model.backups`), as the AASM keeps backup electrodes for; None: the file has none
    backup_eeg: str | None = None
    #: the other eye, read in the epochs where a one-eye EOG fails and it does not; None: none
    backup_eog: str | None = None
    #: the chin EMG, whose tone a card with coefficients for it weighs in (`sleepscope.model.chin_emg`)
    emg: str | None = None
    #: the two chin electrodes a referential file's chin EMG is computed from (`chin_derivation`); None: recorded
    emg_parts: tuple[str, str] | None = None
    #: the ECG, whose beats are subtracted from the EEG and EOG where they show there (`sleepscope.model.heartbeats`)
    ecg: str | None = None

    @property
    def learned(self) -> bool:
        """Both channels are the derivations the model learned (Fpz-Cz, bipolar horizontal EOG)."""
        return (self.eeg is not None and normalise(self.eeg) == "fpzcz"
                and self.eog is not None and rank_channel(self.eog, "eog") is not None
                and rank_channel(self.eog, "eog")[0] == 0)

    def lines(self) -> list[str]:
        """Human-readable lines: `EEG: 'C3-A1' (why)`; a missing channel says so."""
        out = []
        for label, name, why in (("EEG", self.eeg, self.eeg_reason), ("EOG", self.eog, self.eog_reason)):
            out.append(f"{label}: {name!r} ({why})" if name else f"{label}: none ({why})")
        if self.backup_eeg is not None:
            out.append(f"backup EEG: {self.backup_eeg!r} (read in the epochs where {self.eeg!r} fails)")
        if self.backup_eog is not None:
            out.append(f"backup EOG: {self.backup_eog!r}, the other eye (read in the epochs where {self.eog!r} fails)")
        if self.emg is not None:
            computed = f"; computed as {self.emg_parts[0]} - {self.emg_parts[1]}" if self.emg_parts else ""
            out.append(f"chin EMG: {self.emg!r} (muscle tone: REM's atonia, wake{computed})")
        if self.ecg is not None:
            out.append(f"ECG: {self.ecg!r} (its beats are subtracted from the EEG and EOG where they show there)")
        return out

    def summary(self) -> str:
        return "; ".join(self.lines())

    def to_dict(self) -> dict:
        return {"eeg": self.eeg, "eog": self.eog, "eeg_reason": self.eeg_reason, "eog_reason": self.eog_reason,
                "backup_eeg": self.backup_eeg, "backup_eog": self.backup_eog, "emg": self.emg, "ecg": self.ecg}


#: Central EEG derivations, contralateral first: what YASA's classifiers were trained on (C4-M1, C3-M2).
_CENTRAL = ("c4a1", "c3a2", "cza1", "cza2", "c3a1", "c4a2")


def central_eeg(names: Sequence[str]) -> str | None:
    """The central EEG derivation among `names` (recorded, or computed as :func:`derived_channels` allows): the
    input YASA's second opinion was trained on, which the model may not read (it prefers frontal); or None."""
    derived = derived_channels(names)
    keys = [_without_ref(normalise(n)) for n in [*names, *derived]]  # linked ears read as the mastoid
    found = [(_CENTRAL.index(k), i, n) for i, (n, k) in enumerate(zip([*names, *derived], keys))
             if k in _CENTRAL and rank_channel(n, "eeg") is not None]
    return min(found)[2] if found else None


#: Occipital and parietal-occipital derivations, in order: where a technician sees the alpha rhythm of wake
#: (the AASM's O2-M1, its backup O1-M2; Sleep-EDF's Pz-Oz), then the same against the ipsilateral mastoid.
_OCCIPITAL = ("o2a1", "o1a2", "oza1", "oza2", "pzoz", "o2a2", "o1a1", "o2", "o1", "oz")
_LEFT_EYE = ("e1", "loc", "left", "links", "li", "l", "1")
_RIGHT_EYE = ("e2", "roc", "right", "rechts", "re", "r", "2")


def eye_side(name: str) -> str | None:
    """"left" or "right" for a channel of one eye (`E1-M2`, `LOC`, `EOG(R)`), None for a bipolar EOG or no eye."""
    r = rank_channel(name, "eog")
    if r is None or r[0] == 0 or r[0] >= len(EOG_PREFERENCE):
        return None
    key = _without_ref(split_name(name)[1])
    for side, tokens in (("left", _LEFT_EYE), ("right", _RIGHT_EYE)):
        if key.startswith(tokens):
            return side
    return None


def occipital_eeg(names: Sequence[str], exclude: Sequence[str | None] = ()) -> str | None:
    """The occipital (or parietal-occipital) EEG among `names`, recorded or computed as :func:`derived_channels`
    allows, O2-M1 first (:data:`_OCCIPITAL`); none of `exclude`; or None."""
    pool = [*names, *derived_channels(names)]
    found = [(_OCCIPITAL.index(k), i, n) for i, n in enumerate(pool)
             if (k := _without_ref(normalise(n))) in _OCCIPITAL and rank_channel(n, "eeg") is not None
             and n not in exclude]
    return min(found)[2] if found else None


def scoring_montage(names: Sequence[str], eeg: str | None, eog: str | None) -> list[str]:
    """Channels a technician scores with beside the model's `eeg` and `eog`, as the AASM's montage has them
    (F4-M1, C4-M1, O2-M1, E1-M2, E2-M1): a central EEG, an occipital EEG (alpha) and the other eye (eye movements
    are told by the two eyes' opposite deflections); recorded, or computed as :func:`derived_channels` allows. In
    that order, each at most once, none of the two the model reads."""
    taken = {eeg, eog}
    out: list[str] = []
    central = central_eeg(names)
    if central is not None and central not in taken:
        out.append(central)
    occipital = occipital_eeg(names, exclude=[*taken, *out])
    if occipital is not None:
        out.append(occipital)
    eye = other_eye(names, eog, exclude=taken)
    if eye is not None:
        out.append(eye)
    return out


def other_eye(names: Sequence[str], eog: str | None, exclude: Sequence[str | None] = ()) -> str | None:
    """The other eye of a one-eye EOG (E2-M1 beside E1-M2), recorded or computed as :func:`derived_channels`
    allows, none of `exclude`; None for a bipolar EOG, no EOG, or a file without the other eye."""
    side = eye_side(eog) if eog else None
    if side is None:
        return None
    others = [(*rank_channel(n, "eog")[:2], i, n) for i, n in enumerate([*names, *derived_channels(names)])
              if n not in exclude and eye_side(n) not in (None, side)]
    return min(others)[3] if others else None


#: what `--ecg` names to read the EEG and EOG as recorded, without a lead's beats subtracted
NO_ECG = "none"


def choose_channels(names: Sequence[str], eeg: str | None = None, eog: str | None = None,
                    ecg: str | None = None) -> ChannelChoice:
    """The EEG and EOG channels the model reads among `names`, and why.

    An explicit `eeg`/`eog`/`ecg` must exist (SleepScopeError otherwise); `ecg` NO_ECG: no lead (the
    ECG's beats are then not subtracted); without one, the ECG is found by name (`find_ecg`). Without
    one, the channel nearest to what the model learned is taken (module
    docstring); a recording without an EOG gets `eog=None` (and without an
    EEG `eeg=None`); one with neither raises SleepScopeError. The next EEG derivation the table names is the
    backup EEG; the other eye, the backup of a one-eye EOG.
    """
    picked: dict[str, tuple[str | None, str]] = {}
    for kind, explicit in (("eeg", eeg), ("eog", eog)):
        if explicit:
            name = pick_channel(names, kind, explicit)
            r = rank_channel(name, kind)
            parts = derived_channels(names).get(name)
            picked[kind] = (name, "chosen by the user" + (f": {r[2]}" if r else "")
                            + (f"; computed as {parts[0]} - {parts[1]}" if parts else ""))
    for kind in ("eeg", "eog"):
        if kind in picked:
            continue
        other = picked.get("eog" if kind == "eeg" else "eeg", (None, ""))[0]
        best = _best(names, kind, exclude=(other,))
        label = kind.upper()
        picked[kind] = best if best else (None, f"no {label} channel found: the model runs on the "
                                                f"{'EOG' if kind == 'eeg' else 'EEG'} alone")
    if picked["eeg"][0] is None and picked["eog"][0] is None:
        raise SleepScopeError(
            f"found neither an EEG nor an EOG channel in this recording. Its channels are: {_listing(names)}. "
            "Choose them with --eeg NAME and --eog NAME (in the GUI: the channel picker).")
    if picked["eeg"][0] is not None and picked["eeg"][0] == picked["eog"][0]:
        raise SleepScopeError(
            f"the EEG and the EOG both name the channel {picked['eeg'][0]!r}: they must be two different "
            f"channels. Choose them with --eeg NAME and --eog NAME; the channels are: {_listing(names)}.")
    backup_eeg = None
    if picked["eeg"][0] is not None:
        found = _best(names, "eeg", exclude=(picked["eeg"][0], picked["eog"][0]), recognised=True)
        backup_eeg = found[0] if found else None
    backup_eog = other_eye(names, picked["eog"][0], exclude=(picked["eeg"][0],))
    emg = find_emg([n for n in names if n not in (picked["eeg"][0], picked["eog"][0])])
    return ChannelChoice(picked["eeg"][0], picked["eog"][0], picked["eeg"][1], picked["eog"][1], backup_eeg,
                         backup_eog, emg, chin_derivation(names).get(emg), _ecg_lead(names, ecg, picked))


def _ecg_lead(names: Sequence[str], ecg: str | None, picked: dict) -> str | None:
    if ecg is None:
        return find_ecg(names)
    if ecg.strip().lower() == NO_ECG:
        return None
    found = find_channel(names, ecg)
    if found is None:
        raise SleepScopeError(
            f"no channel named {ecg!r} in this recording. Its channels are: {_listing(names)}. Choose the ECG "
            f"lead with --ecg NAME, or --ecg {NO_ECG} to read the EEG and EOG without its beats subtracted.")
    for kind in ("eeg", "eog"):
        if found == picked[kind][0]:
            raise SleepScopeError(f"{found!r} is the {kind.upper()} the model reads: it cannot also be the ECG lead "
                                  "whose beats are subtracted from it. Choose another with --ecg NAME.")
    return found


def ecg_in_use(recording) -> str | None:
    """The ECG lead whose beats `recording`'s EEG and EOG are read without, :data:`NO_ECG` where none is, in the
    words of ``--ecg``; None where its channels were not chosen from a file's names (a synthetic night)."""
    choice = getattr(recording, "channel_choice", None)
    return None if choice is None else (choice.ecg or NO_ECG)


_CHIN = re.compile(r"chin|submental|mental", re.IGNORECASE)
_EMG = re.compile(r"emg", re.IGNORECASE)
#: EMG of other muscles, and the ECG: no atonia to read there
_NOT_CHIN = re.compile(r"leg|tib|\b[lr]at\b|arm|intercost|diaph|ecg|ekg|mass", re.IGNORECASE)


#: the AASM's chin electrodes, each stored against a reference common to all: Chin1 and Chin2 under the mandible,
#: ChinZ above it (some systems number a third one)
_CHIN_ELECTRODE = re.compile(r"^(?:emg)?chin([123z])(" + "|".join(_COMMON_REFS) + r")?$")
#: which two make the chin EMG, best first: one under the mandible against the one above it (the AASM's), else the
#: two under it against each other
_CHIN_PAIRS = (("1", "z"), ("2", "z"), ("1", "2"), ("1", "3"), ("2", "3"), ("3", "z"))


def _chin_electrode(name: str) -> tuple[str, str] | None:
    """(electrode, common reference) of a channel that stores one chin electrode (`Chin1`, `EMG Chin2-Ref`)."""
    m = _CHIN_ELECTRODE.match(re.sub(r"[^a-z0-9]", "", name.lower()))
    return (m.group(1), m.group(2) or "") if m else None


def chin_derivation(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """A referential file's chin EMG: {`Chin1-ChinZ`: (its Chin1 channel, its ChinZ channel)}, from two of its chin
    electrodes stored against one reference (`_CHIN_PAIRS`), or {} (a recorded channel carries that label already,
    or fewer than two electrodes). One electrode alone holds the EEG and ECG its reference picks up."""
    electrodes = {e: n for n in names if (e := _chin_electrode(n)) is not None}
    taken = {re.sub(r"[^a-z0-9]", "", n.lower()) for n in names}
    for a, b in _CHIN_PAIRS:
        for ref in dict.fromkeys(r for _, r in electrodes):
            if (a, ref) in electrodes and (b, ref) in electrodes:
                label = f"Chin{a.upper()}-Chin{b.upper()}"
                if re.sub(r"[^a-z0-9]", "", label.lower()) not in taken:
                    return {label: (electrodes[(a, ref)], electrodes[(b, ref)])}
    return {}


def find_emg(channel_names: Sequence[str]) -> str | None:
    """The chin EMG among a recording's channel names, or None; leg and other muscles' EMG are not it. A recorded
    one first (`EMG submental`, `Chin1-Chin2`, `EMG Chin`), then one derived from a referential file's chin
    electrodes (`chin_derivation`), then a single chin electrode, then a plain `EMG`."""
    names = [n for n in channel_names if not _NOT_CHIN.search(n)]
    chin = [n for n in names if _CHIN.search(n)]
    recorded = [n for n in chin if _chin_electrode(n) is None]
    return next(iter([*recorded, *chin_derivation(channel_names), *chin]), None) or next(
        (n for n in names if _EMG.search(n)), None)


#: an ECG lead's label: `ECG`, `EKG`, `ECG II`, `ECG1-ECG2`, `EKG R`, `ECGL`; not a heart rate or pulse derived from it
_ECG = re.compile(r"^(?:ecg|ekg)", re.IGNORECASE)
_NOT_ECG = re.compile(r"rate|\bhr\b|pulse|puls|pleth|sao2|spo2", re.IGNORECASE)


def find_ecg(channel_names: Sequence[str]) -> str | None:
    """The ECG among a recording's channel names, or None: a lead between two electrodes first (`ECG1-ECG2`,
    `ECG II`), whose beats stand out most, then any other (`ECG`, `EKG R`), in the file's order."""
    found = [n for n in channel_names if _ECG.match(re.sub(r"[^a-z0-9]", "", n.lower())) and not _NOT_ECG.search(n)]
    lead = [n for n in found if "-" in n or re.search(r"\b(?:i|ii|iii)\b", n, re.IGNORECASE)]
    return next(iter([*lead, *found]), None)


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
    best = _best(names, kind)
    if best is not None:
        return best[0]
    label = "EEG" if kind == "eeg" else "EOG"
    raise SleepScopeError(
        f"found no {label} channel in this recording. Its channels are: {_listing(names)}. "
        f"Choose the {label} channel with --{kind} NAME (in the GUI: the channel picker)."
    )


def _listing(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "(none)"
