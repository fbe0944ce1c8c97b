"""Which scoring belongs to a recording: a hypnogram file paired by name (or the one sleep profile of its folder),
else the stages annotated in the recording itself; and which files are no scoring (a model's own output, a note).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.io.hypnogram import has_stage_annotations, load_hypnogram

#: Hypnogram file endings, in order of preference when a recording has several.
HYPNOGRAM_SUFFIXES = ("-hypnogram.edf", "_hypnogram.edf", "_sleepscoring.edf", " base.edf", "-nsrr.xml",
                      "-profusion.xml", ".edf.xml", ".xml", ".rml", ".hypnogram.csv", "-hypnogram.csv", "_hypnogram.csv",
                      ".csv", ".hypnogram.tsv", "-hypnogram.tsv", "_hypnogram.tsv", ".tsv", ".hypnogram.txt",
                      "-hypnogram.txt", "_hypnogram.txt", "_sleepscoring.txt", "_1.txt", "_2.txt",
                      "_stage.txt")
#: Hypnogram file beginnings, ranked after every ending: the DREAMS databases' `HypnogramAASM_subject1.txt` beside
#: `subject1.edf`, its R&K scoring last.
HYPNOGRAM_PREFIXES = ("hypnogramaasm_", "hypnogram_", "hypnogramr&k_")
#: The file kinds a scoring comes in, for a file dialog ("*.edf *.rml ...").
HYPNOGRAM_PATTERNS = " ".join(sorted({"*." + s.rsplit(".", 1)[-1] for s in HYPNOGRAM_SUFFIXES}))
#: How a recording's own name may end after its key ("NAME-PSG.edf", MASS's "NAME PSG.edf").
_PSG_TAIL = re.compile(r"[\s_-]psg$")
#: BIDS: `sub-01_ses-1_task-sleep_eeg.edf` and its `sub-01_ses-1_task-sleep_events.tsv` share every entity.
_BIDS_EVENTS = re.compile(r"^(sub-[^_]+(?:_[a-z]+-[^_]+)*)_events\.tsv$")
_SLEEP_EDF = re.compile(r"s[ct]\d{4}[a-z]\w", re.IGNORECASE)
#: Marks what SleepScope writes beside a night for people (`NAME.sleepscope-hypnogram.csv`, `-report.pdf`,
#: `scoring.locations.output_path`): never taken back as the lab's scoring of the night, whose figures it would
#: flatter.
OUTPUT_MARK = ".sleepscope-"


def recording_key(name: str) -> str:
    """The name a recording is paired by: its stem without `-PSG`; Sleep-EDF's first 6 characters."""
    stem = _PSG_TAIL.sub("", Path(name).stem.lower())
    return _sleep_edf_key(stem)


def hypnogram_key(name: str) -> str | None:
    """The recording name a hypnogram file pairs with (see `recording_key`), or None for other files."""
    low = Path(name).name.lower()
    bids = _BIDS_EVENTS.match(low)
    if bids:
        return bids.group(1) + "_eeg"
    for suffix in HYPNOGRAM_SUFFIXES:
        if low.endswith(suffix) and len(low) > len(suffix):
            return _sleep_edf_key(_PSG_TAIL.sub("", low[: -len(suffix)]))
    prefix = _prefix(low)
    return _sleep_edf_key(_PSG_TAIL.sub("", low[len(prefix):-4])) if prefix else None


def hypnogram_preference(name: str) -> int:
    low = Path(name).name.lower()
    ranked = next((i for i, s in enumerate(HYPNOGRAM_SUFFIXES) if low.endswith(s)), None)
    if ranked is not None:
        return ranked
    prefix = _prefix(low)
    return len(HYPNOGRAM_SUFFIXES) + (HYPNOGRAM_PREFIXES.index(prefix) if prefix else len(HYPNOGRAM_PREFIXES))


def _prefix(low: str) -> str | None:
    return next((p for p in HYPNOGRAM_PREFIXES if low.startswith(p) and low.endswith(".txt")
                 and len(low) > len(p) + 4), None)


def _sleep_edf_key(stem: str) -> str:
    # SC4001E0-PSG pairs with SC4001EC-Hypnogram: study, subject and night agree, the scorer letters differ.
    return stem[:6] if _SLEEP_EDF.match(stem) and (len(stem) == 8 or not stem[8:9].isalnum()) else stem


def find_hypnogram(psg_path: str | os.PathLike) -> Path | None:
    """The hypnogram beside a recording, paired by name.

    `SC4001E0-PSG.edf` ↔ `SC4001EC-Hypnogram.edf` (Sleep-EDF: the first 6
    characters agree, the scorer letters after them differ); other recordings
    `NAME.edf` (or `NAME-PSG.edf`, `NAME PSG.edf`) ↔ `NAME-Hypnogram.edf`,
    `NAME_sleepscoring.edf` (HMC), `NAME Base.edf` (MASS), `NAME.rml` (Philips
    Sleepware), `NAME.xml` (also
    `NAME-nsrr.xml`, `NAME-profusion.xml`), `NAME.hypnogram.csv`, `NAME.csv`,
    `NAME.tsv`, `NAME-hypnogram.txt`, `NAME_sleepscoring.txt`, ISRUC-Sleep's
    `NAME_1.txt` (its first scorer; `NAME_2.txt` without it), UCD's `NAME_stage.txt`, DREAMS's
    `HypnogramAASM_NAME.txt` (`HypnogramR&K_NAME.txt` after it), BIDS's
    `sub-X_..._events.tsv` beside `sub-X_..._eeg.edf`; the first of
    these found, in the order of :data:`HYPNOGRAM_SUFFIXES`, then of :data:`HYPNOGRAM_PREFIXES`. A bare `NAME.txt`
    (the CAP Sleep Database's) is taken only when it reads as a hypnogram:
    beside a recording it is as often a note.
    """
    psg = Path(psg_path)
    key = recording_key(psg.name)
    try:
        names = [p for p in psg.parent.iterdir() if p != psg and p.is_file()]
    except OSError:
        return None
    candidates = [p for p in names if hypnogram_key(p.name) == key and not is_not_lab_scoring(p)]
    if not candidates:
        candidates = [p for p in names if p.suffix.lower() == ".txt" and recording_key(p.name) == key
                      and not is_not_lab_scoring(p) and reads_as_hypnogram(p)]
    if not candidates:
        return sole_profile_beside(psg, names)
    return min(candidates, key=lambda p: (hypnogram_preference(p.name), p.name))


#: SOMNOmedics DOMINO names its export of a night's stages so, whatever the recording's name.
_PROFILE_NAME = re.compile(r"^(?:sleep[\s_-]*profile|schlafprofil)\b.*\.txt$", re.IGNORECASE)


def sole_profile_beside(psg: Path, names: list[Path] | None = None) -> Path | None:
    """A DOMINO sleep profile ("Sleep profile.txt") in a folder that holds this recording and no other: named
    for no recording, it is this one's when nothing else could be."""
    from sleepscope.io.edfheader import RECORDING_SUFFIXES

    try:
        names = names if names is not None else [p for p in psg.parent.iterdir() if p != psg and p.is_file()]
    except OSError:
        return None
    if any(p.suffix.lower() in RECORDING_SUFFIXES and hypnogram_key(p.name) is None for p in names):
        return None
    profiles = sorted(p for p in names if _PROFILE_NAME.match(p.name))
    return profiles[0] if len(profiles) == 1 else None


def reads_as_hypnogram(path: str | os.PathLike) -> bool:
    """Whether a file that no name rule pairs (a bare `NAME.txt`, as the CAP Sleep Database's REMlogic exports
    are named, and as notes often are) reads as a hypnogram with a scored epoch."""
    try:
        return bool((load_hypnogram(path).labels >= 0).any())
    except (SleepScopeError, OSError, ValueError):
        return False


#: A stage's probability column as stagers head them: `p_W` (ours), YASA's bare `W` ... `R`, `proba_N2`, `prob_REM`.
_PROBABILITY_COLUMN = re.compile(r"^(?:p|prob|proba|probability)?[_ (]*(w|n1|n2|n3|r|rem)\)?$")


def is_not_lab_scoring(path: str | os.PathLike) -> bool:
    """Whether a file named like a recording is no scoring of the lab's: a stager's pre-scoring (its header holds
    a probability per stage: `sleepscope prescore --out NAME.csv`, YASA's `predict_proba` written out), or
    SleepScope's export or report (`NAME.sleepscope-...`), the technician's labels that started from the model's
    suggestions. Taken for the lab's, each would flatter the model."""
    path = Path(path)
    if OUTPUT_MARK in path.name.lower():
        return True
    if path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            header = f.readline(4096)
    except OSError:
        return False
    stages = {m.group(1).replace("rem", "r") for c in re.split(r"[,;\t]", header)
              if (m := _PROBABILITY_COLUMN.match(c.strip().strip('"').lower()))}
    return len(stages) >= 4


def find_scoring(psg_path: str | os.PathLike) -> Path | None:
    """The lab's scoring of a recording: the hypnogram beside it (`find_hypnogram`), or the recording itself when
    its annotations hold the stages; None without either."""
    return own_stages_over(psg_path, find_hypnogram(psg_path))


def own_stages_over(psg_path: str | os.PathLike, paired: Path | None) -> Path | None:
    """`paired`, the file a recording's name pairs it with, unless the recording's own annotations hold its stages
    and `paired` holds none (a device's `NAME.csv` of oximetry beside an EDF+ export that carries the scoring);
    the recording itself where nothing is paired and its annotations hold the stages. The paired file, small, is
    read first: a recording's annotations are read through the whole file."""
    if paired is not None and reads_as_hypnogram(paired):
        return paired
    return Path(psg_path) if has_stage_annotations(psg_path) else paired


class LabScoring(NamedTuple):
    """The lab's scoring of a recording as read for a comparison (`read_lab_scoring`)."""

    path: Path | None  # the hypnogram file, the recording itself (its own stages), or None: the lab has none
    labels: np.ndarray | None  # None: none, or not read
    why: str | None  # why it could not be read
    notes: tuple[str, ...]  # how it was read: lengths that differ, stages changing inside the recording's epochs
    grid_offset: float = 0.0  # where its own 30-s epochs begin in the recording's (`Hypnogram.grid_offset`)


def read_lab_scoring(psg_path: str | os.PathLike, n_epochs: int, start_time=None,
                     codes: dict[str, int] | None = None, origin: float = 0.0) -> LabScoring:
    """The lab's scoring of a recording (`find_scoring`), its stages fitted to `n_epochs` counted from `origin`
    seconds into the recording, by its declared stage `codes` where given. Stage codes that read as no real
    night's (`Hypnogram.doubt`) are not taken: the model measured against a misread numbering would look wrong."""
    scoring = find_scoring(psg_path)
    if scoring is None:
        return LabScoring(None, None, None, ())
    try:
        hyp = load_hypnogram(scoring, n_epochs=n_epochs, start_time=start_time, codes=codes, origin=origin)
    except SleepScopeError as exc:
        return LabScoring(scoring, None, str(exc), ())
    if hyp.doubt:
        return LabScoring(scoring, None, hyp.doubt_note, ())
    return LabScoring(scoring, hyp.labels, None, hyp.notes, hyp.grid_offset)
