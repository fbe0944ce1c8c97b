"""A lab's archive: recordings paired with the hypnograms its technicians scored, and a held-out split.

Pairs are found by name in any number of folders (searched recursively, as
NSRR keeps its XML files in a folder apart from the EDF files):
`SC4001E0-PSG.edf` ↔ `SC4001EC-Hypnogram.edf` (Sleep-EDF), `NAME.edf` ↔
`NAME.xml`, `NAME-nsrr.xml`, `NAME-profusion.xml`, `NAME.csv`, `NAME.tsv`,
`NAME-Hypnogram.edf`; an EDF+ recording without such a file is its own
hypnogram when it carries stage annotations. The split keeps all nights of a
subject on one side when the names say who the subject is.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.io.edfheader import RECORDING_SUFFIXES
from sleepscope.io.hypnogram import load_hypnogram
from sleepscope.io.pairing import (
    hypnogram_key,
    hypnogram_preference,
    is_not_lab_scoring,
    own_stages_over,
    reads_as_hypnogram,
    recording_key,
    sole_profile_beside,
)
from sleepscope.stages import NAMES, mix_text, stage_counts
from sleepscope.tasks import CancelToken, Progress, check, report



@dataclass(frozen=True)
class ArchivePair:
    """One scored night of the archive."""

    name: str  # the recording's file stem
    recording: Path
    hypnogram: Path  # the recording itself when its own EDF+ annotations are the hypnogram
    subject: str  # who, from the file name; the recording's name when the name does not say
    subject_from_name: bool

    def to_dict(self) -> dict:
        return {"name": self.name, "recording": str(self.recording), "hypnogram": str(self.hypnogram),
                "subject": self.subject, "subject_from_name": self.subject_from_name}


@dataclass
class ArchiveScan:
    pairs: list[ArchivePair]
    unpaired: list[Path]  # recordings without a hypnogram: not used for training
    #: (recording, why) of the files that look like recordings but cannot be read: each is named to the user
    unreadable: list[tuple[Path, str]] = field(default_factory=list)

    def summary(self) -> str:
        subjects = {p.subject for p in self.pairs}
        text = f"{_count(len(self.pairs), 'scored recording')} of {_count(len(subjects), 'subject')}"
        if self.unpaired:
            text += f"; {_count(len(self.unpaired), 'recording')} without a hypnogram left out"
        if self.unreadable:
            text += f"; {_count(len(self.unreadable), 'unreadable recording')} left out"
        return text


@dataclass
class CheckedPair:
    pair: ArchivePair
    n_epochs: int
    scored_epochs: int
    notes: tuple[str, ...] = ()
    #: epochs of each scored stage (W, N1, N2, N3, REM) the hypnogram gave
    stage_counts: tuple[int, ...] = ()


@dataclass
class ArchiveCheck:
    usable: list[CheckedPair] = field(default_factory=list)
    refused: list[tuple[ArchivePair, str]] = field(default_factory=list)

    def stages_text(self) -> str:
        """The stages read over the usable nights: a numbering read the wrong way (REM as N1) shows here."""
        totals = np.sum([c.stage_counts for c in self.usable], axis=0) if self.usable else np.zeros(len(NAMES))
        return f"stages read over {_count(len(self.usable), 'night')}: {mix_text(totals)}"


@dataclass(frozen=True)
class ArchiveSplit:
    """Training, validation (early stopping) and held-out (the report) nights; subjects never shared."""

    train: tuple[ArchivePair, ...]
    validation: tuple[ArchivePair, ...]
    heldout: tuple[ArchivePair, ...]
    by: str  # "subject" when the names gave subjects, else "recording"

    def describe(self) -> str:
        def who(pairs: Sequence[ArchivePair]) -> str:
            n_subj = len({p.subject for p in pairs})
            return _count(len(pairs), "night") + (f" of {_count(n_subj, 'subject')}" if self.by == "subject" else "")

        text = f"split by {self.by}: training {who(self.train)}"
        if self.validation:
            text += f", validation {who(self.validation)}"
        return text + f", held out {who(self.heldout)}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# ---------------------------------------------------------------- subjects from names
_NIGHT_TOKEN = re.compile(r"^(night|n|ses|session|visit|v|day|baseline|followup|follow-up|psg)\d*$")


def subject_of(name: str) -> str | None:
    """The subject a recording's name gives, or None when the name does not say.

    Sleep-EDF: `SC4ssN…` → `SC4ss`, `ST7ssN…` → `ST7ss`. BIDS: `sub-X_ses-Y…` →
    `sub-X`. Otherwise a name with a night, session or visit part (`patient07_night2`,
    `mesa-visit1-0001`, `shhs2-200001` where 2 is the visit) → the rest of the name.
    """
    stem = Path(name).stem
    m = re.match(r"^(s[ct][47])(\d{2})(\d)[a-z]", stem, re.IGNORECASE)
    if m:
        return (m.group(1) + m.group(2)).upper()
    m = re.match(r"^sub-([a-z0-9]+)", stem, re.IGNORECASE)
    if m:
        return f"sub-{m.group(1)}"
    m = re.match(r"^(shhs)\d-(\d+)", stem, re.IGNORECASE)  # SHHS: shhs1 and shhs2 are the two visits
    if m:
        return f"{m.group(1).lower()}-{m.group(2)}"
    tokens = [t for t in re.split(r"[-_ .]+", stem) if t]
    kept = [t for t in tokens if not _NIGHT_TOKEN.match(t.lower())]
    if len(kept) == len(tokens) or not kept:
        return None
    return "-".join(kept).lower()


# ---------------------------------------------------------------- scanning
def scan_archive(folders: Iterable[str | os.PathLike], progress: Progress | None = None,
                 cancel: CancelToken | None = None) -> ArchiveScan:
    """Every recording under `folders` with the hypnogram its name pairs it with."""
    from sleepscope.io.edfheader import read_header

    folders = [Path(f) for f in folders]
    for f in folders:
        if not f.is_dir():
            raise SleepScopeError(f"{f} is not a folder. Give the folders that hold the recordings and their "
                                  "hypnograms.")
    files = sorted({p.resolve(): p for f in folders for p in f.rglob("*") if p.is_file()}.values(),
                   key=lambda p: str(p))
    hypnograms: dict[str, list[Path]] = {}
    for p in files:
        if is_not_lab_scoring(p):
            continue
        key = hypnogram_key(p.name)
        if key is None and p.suffix.lower() == ".txt" and reads_as_hypnogram(p):
            key = recording_key(p.name)  # a bare NAME.txt that holds stages (CAP's)
        if key is not None:
            hypnograms.setdefault(key, []).append(p)
    recordings = [p for p in files if p.suffix.lower() in RECORDING_SUFFIXES and hypnogram_key(p.name) is None]
    pairs, unpaired, unreadable = [], [], []
    for i, rec in enumerate(recordings):
        check(cancel)
        report(progress, i, len(recordings), f"pairing {rec.name}")
        try:
            if not read_header(rec).data_signals:  # an annotation-only EDF+ is no recording
                continue
        except SleepScopeError as e:
            unreadable.append((rec, str(e)))
            continue
        hyp = own_stages_over(rec, _best_hypnogram(rec, hypnograms.get(recording_key(rec.name), []))
                              or sole_profile_beside(rec))
        if hyp is None:
            unpaired.append(rec)
            continue
        subject = subject_of(rec.name)
        pairs.append(ArchivePair(name=rec.stem, recording=rec, hypnogram=hyp,
                                 subject=subject or rec.stem, subject_from_name=subject is not None))
    report(progress, len(recordings), len(recordings), "paired")
    return ArchiveScan(pairs, unpaired, unreadable)


def _best_hypnogram(rec: Path, candidates: list[Path]) -> Path | None:
    # Beside the recording first, then elsewhere in the archive (NSRR's annotation folders).
    if not candidates:
        return None
    return min(candidates, key=lambda p: (p.parent != rec.parent, hypnogram_preference(p.name), str(p)))


def check_archive(pairs: Sequence[ArchivePair], progress: Progress | None = None,
                  cancel: CancelToken | None = None, codes: dict[str, int] | None = None) -> ArchiveCheck:
    """Read each hypnogram against its recording's length (from the header); refuse what does not match.

    A hypnogram that runs past its recording or stops short of it by more than
    `LENGTH_TOLERANCE_EPOCHS` is refused with both lengths named; so is one
    that cannot be read or holds no scored epoch, and one whose stage codes read
    as no real night's (`Hypnogram.doubt`: a system's own numbering, to be
    declared with `codes`, as `io.hypnogram_tables.parse_codes` reads them).
    """
    from sleepscope.io.recording import EPOCH_SECONDS, read_info

    out = ArchiveCheck()
    for i, pair in enumerate(pairs):
        check(cancel)
        report(progress, i, len(pairs), f"checking {pair.name}")
        try:
            info = read_info(pair.recording)
            hyp = load_hypnogram(pair.hypnogram, n_epochs=info.n_epochs, start_time=info.start_time, strict=True,
                                 codes=codes)
            if offset := hyp.grid_offset:  # read as training reads it (`Night.read_scoring`)
                n_epochs = int((info.duration_s - offset) // EPOCH_SECONDS)
                hyp = load_hypnogram(pair.hypnogram, n_epochs=n_epochs, start_time=info.start_time, strict=True,
                                     codes=codes, origin=offset)
                hyp = replace(hyp, notes=hyp.notes + (
                    f"its 30-s epochs begin {offset:g} s into the recording's: learned from on those epochs, the "
                    "recording read from there",))
        except SleepScopeError as exc:
            out.refused.append((pair, str(exc)))
            continue
        scored = int((hyp.labels >= 0).sum())
        if hyp.doubt:  # trained on as read, a misread numbering would teach the model wrong stages
            out.refused.append((pair, hyp.doubt_note))
            continue
        if scored == 0:
            out.refused.append((pair, f"{pair.hypnogram.name} holds no scored epoch"))
            continue
        out.usable.append(CheckedPair(pair, info.n_epochs, scored, hyp.notes, stage_counts(hyp.labels)))
    report(progress, len(pairs), len(pairs), "checked")
    return out


# ---------------------------------------------------------------- splitting
def split_archive(pairs: Sequence[ArchivePair], heldout_fraction: float = 0.2, validation_fraction: float = 0.15,
                  seed: int = 0) -> ArchiveSplit:
    """Hold out whole subjects (or whole recordings where the names give no subject).

    At least one subject is held out and at least one trained on; a validation
    part (for early stopping, apart from the held-out nights the report uses)
    is taken when four subjects or more remain. One subject only is refused:
    its held-out nights would share the subject's physiology with the
    training nights and flatter the new model.
    """
    pairs = list(pairs)
    if not pairs:
        raise SleepScopeError("the archive has no usable scored recordings: nothing to train on.")
    by_subject = any(p.subject_from_name for p in pairs)
    groups: dict[str, list[ArchivePair]] = {}
    for p in sorted(pairs, key=lambda p: str(p.recording)):
        groups.setdefault(p.subject, []).append(p)
    if len(groups) < 2:
        if len(pairs) > 1:
            raise SleepScopeError(
                f"all {len(pairs)} scored recordings are of one subject ({pairs[0].subject}, from their names), so "
                "no night can be held out fairly: a held-out night of the same subject would flatter the new "
                "model. Add scored recordings of at least one other subject.")
        raise SleepScopeError(
            "the archive has one scored recording only: there is nothing to hold out to compare the new model with "
            "its parent. Add at least one other scored recording.")
    names = sorted(groups)
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    n = len(order)
    n_held = min(n - 1, max(1, int(round(heldout_fraction * n))))
    n_val = max(1, int(round(validation_fraction * n))) if n - n_held >= 4 else 0
    held, val, train = order[:n_held], order[n_held:n_held + n_val], order[n_held + n_val:]

    def nights(keys: list[str]) -> tuple[ArchivePair, ...]:
        return tuple(p for k in sorted(keys) for p in groups[k])

    return ArchiveSplit(train=nights(train), validation=nights(val), heldout=nights(held),
                        by="subject" if by_subject else "recording")
