"""The paper's Sleep-EDF cohorts: nights found in a PhysioNet sleep-cassette folder.

File names follow PhysioNet: `SC4ssNX0-PSG.edf` with its hypnogram
`SC4ssNXY-Hypnogram.edf` (`ss` the subject 00-82, `N` the night 1 or 2, `X`
a letter, E for most subjects but F or G for some later ones such as
`SC4261F0` and `SC4281G0`; the letters after the first 6 characters differ
between the two files). The
78-subject study misses some nights (SC4132, SC4362, SC4522, ... were never
released), so every function here works with whatever nights are present.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.tasks import CancelToken, Progress, check, report

#: Sleep-EDF-20: the first 20 subjects of the sleep-cassette study (39 nights; SC4132 is missing).
SLEEP_EDF_20_SUBJECTS = range(20)

_PSG_NAME = re.compile(r"^SC4(\d{2})(\d)[A-Z]0-PSG\.edf$", re.IGNORECASE)


@dataclass(frozen=True)
class Night:
    name: str  # "SC4001E0"
    subject: int
    night: int
    psg: Path
    hypnogram: Path | None
    codes: tuple[tuple[str, int], ...] = ()  # its system's own stage codes, where declared (`parse_codes`)

    def read_labels(self, n_epochs: int, start_time=None, origin: float = 0.0) -> np.ndarray:
        """The hypnogram's stages fitted to its recording's `n_epochs` counted from `origin` seconds into it, by
        its declared codes where given."""
        from sleepscope.io.hypnogram import read_hypnogram

        return read_hypnogram(self.hypnogram, n_epochs=n_epochs, start_time=start_time,
                              codes=dict(self.codes) or None, origin=origin)

    def read_scoring(self, rec):
        """(the recording on its scoring's own epochs, their stages, where those epochs begin in the recording's
        (s)): a scoring whose 30-s epochs begin seconds into the recording's is learned from as it was scored,
        not with every stage change moved into the middle of an epoch (`Hypnogram.grid_offset`)."""
        from sleepscope.io.hypnogram import load_hypnogram

        offset = load_hypnogram(self.hypnogram, start_time=rec.start_time, codes=dict(self.codes) or None).grid_offset
        on_grid = rec.cropped(offset) if offset else rec
        return on_grid, self.read_labels(on_grid.n_epochs, rec.start_time, origin=offset), offset

    def to_dict(self) -> dict:
        return {"name": self.name, "subject": self.subject, "night": self.night, "psg": str(self.psg),
                "hypnogram": str(self.hypnogram) if self.hypnogram else None}


@dataclass(frozen=True)
class Split:
    """Subjects of Sleep-EDF-20 for validation, test and training (train in nested-budget order)."""

    validation: tuple[int, ...]
    test: tuple[int, ...]
    train: tuple[int, ...]
    seed: int

    def train_subjects(self, n: int) -> tuple[int, ...]:
        """The first `n` training subjects: the budgets N = 3, 6, 9, 12 are nested by construction."""
        if not 1 <= n <= len(self.train):
            raise SleepScopeError(f"a label budget must be 1..{len(self.train)} training subjects, not {n}")
        return self.train[:n]

    def to_dict(self) -> dict:
        return {"validation": list(self.validation), "test": list(self.test), "train": list(self.train),
                "seed": self.seed}


#: The fixed split used for every experiment. Derived once as
#: `numpy.random.default_rng(2024).permutation(20)` (the paper's year) — the first
#: 4 subjects validate, the next 4 test, the last 12 train in this order — and
#: written out here so that it never changes with a numpy version. A test checks
#: the derivation.
PAPER_SPLIT = Split(
    validation=(10, 17, 5, 13),
    test=(0, 15, 9, 6),
    train=(11, 12, 14, 19, 7, 2, 3, 18, 16, 1, 4, 8),
    seed=2024,
)


def paper_test_night_names() -> list[str]:
    """The night names (SC4ssNE0) of the paper split's test subjects: both nights, where Sleep-EDF has them."""
    from sleepscope.data.synthetic import hypnogram_names

    names = set(hypnogram_names())
    return [n for s in PAPER_SPLIT.test for k in (1, 2) if (n := f"SC4{s:02d}{k}E0") in names]


def parse_night_name(filename: str) -> tuple[int, int] | None:
    """(subject, night) of a sleep-cassette PSG file name, or None for other files."""
    m = _PSG_NAME.match(filename)
    return (int(m.group(1)), int(m.group(2))) if m else None


def scan_sleep_cassette(folder: str | os.PathLike) -> list[Night]:
    """All sleep-cassette nights under `folder` (searched recursively, as MNE nests its downloads)."""
    from sleepscope.io.pairing import find_hypnogram

    folder = Path(folder)
    if not folder.is_dir():
        raise SleepScopeError(f"{folder} is not a folder. Give the folder that holds the Sleep-EDF "
                              "SC4*-PSG.edf files (or use --download to fetch them).")
    nights: dict[str, Night] = {}
    for psg in sorted(folder.rglob("*-PSG.edf"), key=lambda p: (p.name, str(p))):
        parsed = parse_night_name(psg.name)
        if parsed is None:
            continue
        name = psg.name[:8].upper()
        if name in nights:  # the same night twice (two copies): keep the first, deterministic
            continue
        nights[name] = Night(name, parsed[0], parsed[1], psg, find_hypnogram(psg))
    return sorted(nights.values(), key=lambda n: (n.subject, n.night))


def sleep_edf_20(nights: Iterable[Night]) -> list[Night]:
    return [n for n in nights if n.subject in SLEEP_EDF_20_SUBJECTS]


def pretraining_nights(nights: Iterable[Night]) -> list[Night]:
    """Nights of the Sleep-EDF-78 subjects outside Sleep-EDF-20 (58 subjects): unlabelled pre-training."""
    return [n for n in nights if n.subject not in SLEEP_EDF_20_SUBJECTS]


def nights_of(nights: Iterable[Night], subjects: Iterable[int]) -> list[Night]:
    wanted = set(subjects)
    return [n for n in nights if n.subject in wanted]


def missing_nights(nights: Sequence[Night], subjects: Iterable[int] = SLEEP_EDF_20_SUBJECTS) -> list[str]:
    """Names of the nights 1 and 2 of `subjects` that are not present (SC4132 is missing in the real set)."""
    have = {(n.subject, n.night) for n in nights}
    return [f"SC4{s:02d}{k}E0" for s in subjects for k in (1, 2) if (s, k) not in have]


def download_sleep_cassette(
    folder: str | os.PathLike,
    subjects: Iterable[int],
    recording: Sequence[int] = (1, 2),
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
) -> list[Night]:
    """Download sleep-cassette nights from PhysioNet with MNE's fetcher, then scan the folder.

    Missing nights (e.g. SC4132) only warn. Needs network access to physionet.org.
    """
    from mne.datasets.sleep_physionet.age import fetch_data

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    subjects = list(subjects)
    for i, subject in enumerate(subjects):
        check(cancel)
        report(progress, i, len(subjects), f"downloading subject {subject:02d}")
        try:
            # One subject per call: progress and cancel between subjects.
            fetch_data(subjects=[subject], recording=list(recording), path=str(folder), on_missing="warn")
        except (OSError, ValueError, RuntimeError) as exc:
            raise SleepScopeError(
                f"could not download Sleep-EDF subject {subject:02d} from PhysioNet: {exc}. Check the network "
                f"connection, or download the sleep-cassette files by hand into {folder}."
            ) from exc
    report(progress, len(subjects), len(subjects), "downloaded")
    return scan_sleep_cassette(folder)
