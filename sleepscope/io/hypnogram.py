"""Hypnograms: Sleep-EDF EDF+ annotations, CSV and one-stage-per-line text.

Codes are `sleepscope.stages.Stage` values stored as int8, one per 30-s epoch
from the recording start (-1 unscored).
"""

from __future__ import annotations

import csv
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.io.recording import EPOCH_SECONDS
from sleepscope.stages import AASM_TO_RK, RK_TO_AASM, SCORED, Stage, parse_stage

_SLEEP = np.array([int(s) for s in SCORED if s is not Stage.W], dtype=np.int8)


# ---------------------------------------------------------------- reading
def read_hypnogram(path: str | os.PathLike, n_epochs: int | None = None) -> np.ndarray:
    """Read a hypnogram as int8 codes per epoch, choosing the format by content and extension.

    EDF+ (Sleep-EDF annotations), CSV (a `stage` column, optionally `epoch`/`onset_s`)
    and plain text with one stage per line (names such as W/N1/REM or integer codes).
    `n_epochs` cuts or pads (with UNSCORED) to the recording's length.
    """
    path = Path(path)
    if not path.is_file():
        raise SleepScopeError(f"{path}: no such hypnogram file. Check the path.")
    with open(path, "rb") as f:
        head = f.read(8)
    if head == b"0       " or path.suffix.lower() in (".edf", ".bdf"):
        return read_sleepedf_hypnogram(path, n_epochs)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _unreadable(path, "it is neither an EDF+ file nor text") from None
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if "," in first or ";" in first or path.suffix.lower() == ".csv":
        labels = _parse_csv(path, text)
    else:
        labels = _parse_lines(path, text)
    return _fit(labels, n_epochs)


def read_sleepedf_hypnogram(
    path: str | os.PathLike, n_epochs: int | None = None, start_time: datetime | None = None
) -> np.ndarray:
    """Read a Sleep-EDF EDF+ annotation hypnogram (R&K texts with durations) into 30-s epochs.

    Each epoch takes the stage whose annotation covers the epoch's middle; R&K S3
    and S4 become N3, `Sleep stage ?` and `Movement time` UNSCORED (RK_TO_AASM).
    Texts that are not stages (lights off, events) are ignored. `start_time`, the
    recording's start, shifts the annotations when the hypnogram file starts at
    another clock time.
    """
    import mne

    path = Path(path)
    try:
        ann = mne.read_annotations(path)
    except Exception as exc:  # MNE raises ValueError/OSError/IndexError on damaged files
        raise _unreadable(path, f"MNE cannot read its EDF+ annotations ({exc})") from exc
    onsets, durations, stages = [], [], []
    for onset, duration, text in zip(ann.onset, ann.duration, ann.description):
        stage = _annotation_stage(text)
        if stage is None:
            continue
        onsets.append(float(onset))
        durations.append(float(duration))
        stages.append(int(stage))
    if not stages:
        raise _unreadable(path, f"it has no sleep-stage annotations ({len(ann)} annotations, none like "
                                "'Sleep stage W')")
    shift = 0.0
    if start_time is not None:
        hyp_start = _edf_start(path)
        if hyp_start is not None:
            shift = (hyp_start - start_time).total_seconds()
    return _expand(np.array(onsets) + shift, np.array(durations), np.array(stages, dtype=np.int8), n_epochs)


def _annotation_stage(text: str) -> Stage | None:
    text = text.strip()
    if text in RK_TO_AASM:
        return RK_TO_AASM[text]
    if text.lower().startswith(("sleep stage", "sleep_stage")):
        try:
            return parse_stage(text.replace("_", " "))
        except ValueError:
            return Stage.UNSCORED
    return None


def _expand(onsets: np.ndarray, durations: np.ndarray, stages: np.ndarray, n_epochs: int | None) -> np.ndarray:
    half = EPOCH_SECONDS / 2
    # epoch i (middle at 30 i + 15) belongs to an annotation when onset <= middle < onset + duration
    first = np.ceil((onsets - half) / EPOCH_SECONDS).astype(np.int64)
    stop = np.ceil((onsets + durations - half) / EPOCH_SECONDS).astype(np.int64)
    total = int(stop.max()) if n_epochs is None else int(n_epochs)
    labels = np.full(max(total, 0), int(Stage.UNSCORED), dtype=np.int8)
    for a, b, s in zip(first, stop, stages):
        a, b = max(int(a), 0), min(int(b), total)
        if b > a:
            labels[a:b] = s
    return labels


def _edf_start(path: Path) -> datetime | None:
    from sleepscope.io.edfheader import read_header

    try:
        return read_header(path).start_time
    except SleepScopeError:
        return None


def _parse_csv(path: Path, text: str) -> np.ndarray:
    dialect = ";" if ";" in text.splitlines()[0] and "," not in text.splitlines()[0] else ","
    rows = [r for r in csv.reader(text.splitlines(), delimiter=dialect) if r and any(c.strip() for c in r)]
    header = [c.strip().lower() for c in rows[0]]
    if "stage" in header:
        col = header.index("stage")
        body = rows[1:]
        epoch_col = header.index("epoch") if "epoch" in header else None
    else:  # no header: the stage is the last column
        col, body, epoch_col = -1, rows, None
    labels = []
    for lineno, row in enumerate(body, start=2 if "stage" in header else 1):
        try:
            labels.append(_stage_code(row[col]))
        except (ValueError, IndexError):
            raise _unreadable(path, f"line {lineno}: {','.join(row)!r} has no stage we know "
                                    "(use W, N1, N2, N3, REM, ? or codes -1..4)") from None
        if epoch_col is not None and row[epoch_col].strip() and int(row[epoch_col]) != len(labels) - 1:
            raise _unreadable(path, f"line {lineno}: epoch {row[epoch_col]} is out of order "
                                    f"(expected {len(labels) - 1}); one row per epoch from 0")
    return np.array(labels, dtype=np.int8)


def _parse_lines(path: Path, text: str) -> np.ndarray:
    labels = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            labels.append(_stage_code(line))
        except ValueError:
            raise _unreadable(path, f"line {lineno}: {line[:40]!r} is not a stage "
                                    "(one stage per line: W, N1, N2, N3, REM, ? or codes -1..4)") from None
    if not labels:
        raise _unreadable(path, "it holds no stages")
    return np.array(labels, dtype=np.int8)


def _stage_code(text: str) -> int:
    t = text.strip()
    if re.fullmatch(r"-?\d+(\.0+)?", t):
        code = int(float(t))
        # YASA writes -1 (artefact) and -2 (unscored): both are epochs a model must skip.
        return int(Stage.UNSCORED) if code < 0 else int(Stage(code))
    return int(parse_stage(t))


def _fit(labels: np.ndarray, n_epochs: int | None) -> np.ndarray:
    if n_epochs is None or len(labels) == n_epochs:
        return labels
    if len(labels) > n_epochs:
        return labels[:n_epochs].copy()
    return np.concatenate([labels, np.full(n_epochs - len(labels), int(Stage.UNSCORED), dtype=np.int8)])


def _unreadable(path: Path, why: str) -> SleepScopeError:
    return SleepScopeError(
        f"cannot read the hypnogram {path}: {why}. Give a Sleep-EDF EDF+ hypnogram, a CSV with a "
        "'stage' column, or a text file with one stage per line."
    )


# ---------------------------------------------------------------- pairing and trimming
def find_hypnogram(psg_path: str | os.PathLike) -> Path | None:
    """The hypnogram beside a PSG file, by Sleep-EDF's naming rule.

    `SC4001E0-PSG.edf` ↔ `SC4001EC-Hypnogram.edf`: the first 6 characters (study,
    subject, night) agree; the letters after them name the scorer, so they differ.
    Other recordings: `<stem>-Hypnogram.edf`, `<stem>.hypnogram.csv` or `<stem>.csv`.
    """
    psg = Path(psg_path)
    folder = psg.parent
    stem = psg.stem
    base = stem[:-4] if stem.upper().endswith("-PSG") else stem
    candidates: list[Path] = []
    if re.fullmatch(r"S[CT]\d{4}\w\d", base, flags=re.IGNORECASE):
        prefix = base[:6].lower()
        candidates = sorted(p for p in folder.glob("*-[Hh]ypnogram.edf")
                            if p.name[:6].lower() == prefix and p.stem.lower().endswith("-hypnogram"))
    for name in (f"{base}-Hypnogram.edf", f"{stem}.hypnogram.csv", f"{stem}.csv"):
        p = folder / name
        if p.is_file() and p not in candidates:
            candidates.append(p)
    return candidates[0] if candidates else None


def trim_wake(labels: np.ndarray, margin_epochs: int = 60) -> slice:
    """The paper's window: `margin_epochs` (30 min) of wake before the first sleep epoch and after the last.

    Returns `slice(first - margin, last + margin)` clipped to the night, the
    convention of the Sleep-EDF consensus hypnograms shipped with SleepScope
    (SC4001: epochs 961..1800). A night without sleep is kept whole.
    """
    labels = np.asarray(labels)
    sleep = np.flatnonzero(np.isin(labels, _SLEEP))
    if sleep.size == 0:
        return slice(0, len(labels))
    return slice(max(0, int(sleep[0]) - margin_epochs), min(len(labels), int(sleep[-1]) + margin_epochs))


# ---------------------------------------------------------------- writing
def write_csv_hypnogram(path: str | os.PathLike, labels: np.ndarray, start_time: datetime | None = None) -> None:
    """CSV with columns epoch, onset_s, stage (W, N1, N2, N3, REM, ?), plus clock time when known."""
    path = Path(path)
    labels = np.asarray(labels)
    header = ["epoch", "onset_s", "stage"] + (["time"] if start_time is not None else [])
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i, code in enumerate(labels):
            row = [i, i * EPOCH_SECONDS, Stage(int(code)).label]
            if start_time is not None:
                row.append((start_time + timedelta(seconds=i * EPOCH_SECONDS)).isoformat(sep=" "))
            w.writerow(row)
    os.replace(tmp, path)


def stage_runs(labels: np.ndarray) -> list[tuple[int, int, int]]:
    """(first epoch, number of epochs, code) of each run of equal stages."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return []
    edges = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(labels)]])
    return [(int(a), int(b - a), int(labels[a])) for a, b in zip(starts, ends)]


def write_edf_hypnogram(path: str | os.PathLike, labels: np.ndarray, start_time: datetime) -> None:
    """An annotation-only EDF+ file in Sleep-EDF's style: one `Sleep stage X` annotation per run."""
    import edfio

    path = Path(path)
    annotations = [
        edfio.EdfAnnotation(float(a * EPOCH_SECONDS), float(n * EPOCH_SECONDS), AASM_TO_RK[Stage(code)])
        for a, n, code in stage_runs(labels)
    ]
    edf = edfio.Edf(
        [],
        recording=edfio.Recording(startdate=start_time.date()),
        starttime=start_time.time().replace(microsecond=0),
        annotations=annotations,
    )
    tmp = path.with_name(path.name + ".tmp")
    edf.write(tmp)
    os.replace(tmp, path)
