"""`sleepscope prescore DIR…`: pre-score many recordings into their scoring files.

Each recording's prediction goes into its scoring file (beside it, or in the
user's data folder when its folder is read-only), as the workstation's own
pre-scoring does. Resumable: a recording whose scoring file already holds a
prediction of the same model version (and, with a second opinion, YASA's
stages) is skipped without reading its signals. One bad file is reported
and skipped; the exit status says that some failed. Under `torchrun` (or
with RANK / WORLD_SIZE set) rank r takes every world_size-th recording, so
processes or GPUs share a folder without coordination: each recording is
written by one process only.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from sleepscope.errors import SleepScopeError
from sleepscope.io.channels import ecg_in_use
from sleepscope.io.edfheader import RECORDING_SUFFIXES
from sleepscope.model.epoch_reading import epoch_reading
from sleepscope.scorers.yasa_scorer import SECOND_OPINION_SET
from sleepscope.scoring.channels_kept import channels_read_before
from sleepscope.tasks import CancelToken, check



@dataclass
class BatchResult:
    scored: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    #: the recordings pre-scored in this run whose lab scoring was beside them (`scoring.lab_scoring`)
    compared: list = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{len(self.scored)} pre-scored, {len(self.skipped)} already scored by this model, "
                f"{len(self.failed)} failed")
        if self.compared:
            from sleepscope.scoring.lab_scoring import pooled, pooled_line, stages_line

            text += ("\n" + pooled_line(self.compared) + "; the recordings pre-scored in this run only\n"
                     + stages_line(pooled(self.compared)))
        return text


def rank_and_world() -> tuple[int, int]:
    """This process's share of the work: torchrun's (or the caller's) RANK and WORLD_SIZE, else (0, 1)."""
    try:
        rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        raise SleepScopeError("RANK and WORLD_SIZE must be whole numbers (as torchrun sets them)") from None
    if world < 1 or not 0 <= rank < world:
        raise SleepScopeError(f"RANK {rank} is not within WORLD_SIZE {world}")
    return rank, world


def find_recordings(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """EDF/BDF recordings among `paths` (folders searched recursively), hypnogram and annotation-only files left
    out, sorted."""
    from sleepscope.io.pairing import hypnogram_key

    found: dict[Path, Path] = {}
    for p in map(Path, paths):
        if p.is_dir():
            candidates = [q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in RECORDING_SUFFIXES]
        elif p.is_file():
            candidates = [p]
        else:
            raise SleepScopeError(f"{p}: no such file or folder")
        for q in candidates:
            if p == q or (hypnogram_key(q.name) is None and not _annotations_only(q)):
                found.setdefault(q.resolve(), q)
    return sorted(found.values(), key=lambda q: str(q))


def _annotations_only(path: Path) -> bool:
    """An EDF+ file without signals holds a hypnogram or events, not a recording to pre-score."""
    from sleepscope.io.edfheader import read_header

    try:
        return not read_header(path).data_signals
    except SleepScopeError:
        return False  # unreadable: pre-scoring it reports why


def existing_scoring_files(recording: Path, fingerprint: str) -> list[Path]:
    """Where a recording's scoring file may already be: beside it, and in the user's data folder."""
    from sleepscope.scoring.locations import fallback_path, scoring_beside

    return [p for p in (scoring_beside(recording), fallback_path(fingerprint)) if p.exists()]


def _would_read(recording: Path, eeg: str | None, eog: str | None,
                ecg: str | None) -> tuple[str | None, str | None, str] | None:
    """The (EEG, EOG, ECG lead or "none") the model would read from `recording`'s header; None when that cannot be
    told here."""
    from sleepscope.io.channels import NO_ECG, choose_channels
    from sleepscope.io.recording import read_info

    try:
        choice = choose_channels([c.name for c in read_info(recording).channels], eeg, eog, ecg)
    except SleepScopeError:
        return None
    return choice.eeg, choice.eog, choice.ecg or NO_ECG


def already_scored(recording: Path, version: str, second_version: str | None = None,
                   channels: tuple[str | None, str | None, str] | None = None) -> bool:
    """True when a scoring file of this very recording holds this model version's prediction (and YASA's stages),
    made from the same (EEG, EOG) and ECG lead (or "none") `channels` where both are known."""
    from sleepscope.io.recording import file_fingerprint
    from sleepscope.scoring.scoring_file import ScoringFile

    fp = file_fingerprint(recording)
    for path in existing_scoring_files(recording, fp):
        try:
            sf = ScoringFile.read(path)
        except SleepScopeError:
            continue  # damaged or another recording's: scoring it again will say so
        if sf.identity.fingerprint != fp or version not in sf.predictions:
            continue
        kept = sf.predictions[version]
        if channels is not None and kept.channels is not None and kept.channels != channels[:2]:
            continue
        if channels is not None and kept.ecg is not None and kept.ecg != channels[2]:
            continue
        if second_version is None:
            return True
        second = sf.scorer_sets.get(SECOND_OPINION_SET)
        if second is not None and second.source_file == second_version:
            return True
    return False


def prescore_files(files: Sequence[Path], scorer, *, second=None, rank: int = 0, world: int = 1,
                   eeg: str | None = None, eog: str | None = None, ecg: str | None = None, force: bool = False,
                   log: Callable[[str], None] = print, cancel: CancelToken | None = None,
                   codes: dict[str, int] | None = None) -> BatchResult:
    """Pre-score this rank's share of `files` into their scoring files, one line of progress per file.

    `scorer` (a Scorer) writes its prediction; `second`, a second-opinion
    Scorer, its stages as the label set `YASA` (source: its version). Each is
    compared with the lab's scoring beside it, read by the declared stage `codes` where given.
    """
    from sleepscope.io import open_recording
    from sleepscope.scoring.scoring_file import ScoringFile

    mine = list(files)[rank::world]
    version = scorer.version
    second_version = second.version if second is not None else None
    result = BatchResult()
    tag = f"[rank {rank}/{world}] " if world > 1 else ""
    for i, path in enumerate(mine, start=1):
        check(cancel)
        head = f"{tag}[{i}/{len(mine)}] {path.name}"
        t0 = time.monotonic()
        try:
            # named by nobody: the channels chosen for this night before (the window's Model → Channels...)
            before = channels_read_before(path)
            named = (eeg, eog) if eeg is not None or eog is not None else before[:2]
            named_ecg = ecg if ecg is not None else before[2]
            if not force and already_scored(path, version, second_version, _would_read(path, *named, named_ecg)):
                result.skipped.append(path)
                log(f"{head}: already scored by model {version}, skipped")
                continue
            extra = ()
            if second is not None:
                from sleepscope.scorers.yasa_scorer import yasa_extra

                extra = yasa_extra(path)
            rec = open_recording(path, eeg=named[0], eog=named[1], extra=extra, cancel=cancel, ecg=named_ecg)
            pred = scorer.score(rec, cancel=cancel)
            other = second.score(rec, cancel=cancel) if second is not None else None
            if other is not None:
                from sleepscope.model.familiarity import with_second_opinion

                stats = getattr(getattr(scorer, "model", None), "familiarity", None)
                pred.familiarity = with_second_opinion(pred.familiarity, stats, pred.stages, other.stages)
            with ScoringFile.open(rec) as sf:
                if other is not None:
                    sf.add_scorer_labels(SECOND_OPINION_SET, other.stages, source_file=second_version)
                # the model's prediction last: the workstation shows the latest prediction
                sf.add_prediction(version, pred.probs, pred.night_statistics, (rec.eeg_name, rec.eog_name),
                                  epoch_reading(pred), pred.chin_note, ecg_in_use(rec))
                where = sf.path
        except SleepScopeError as exc:
            result.failed.append((path, str(exc)))
            log(f"{head}: FAILED: {exc}")
            continue
        except (OSError, ValueError, RuntimeError) as exc:  # a damaged file MNE or h5py chokes on
            result.failed.append((path, f"{type(exc).__name__}: {exc}"))
            log(f"{head}: FAILED: {type(exc).__name__}: {exc}")
            continue
        result.scored.append(path)
        extra_text = ""
        if other is not None:
            from sleepscope.scorers.compare import disagreement

            extra_text = f", YASA disagrees on {int(disagreement(pred.stages, other.stages).sum())}"
        log(f"{head}: {pred.n_epochs} epochs pre-scored by model {version}{extra_text} "
            f"({time.monotonic() - t0:.1f} s) -> {where}")
        from sleepscope.scoring.lab_scoring import compare_with_lab

        def rescore(offset: float, rec=rec):
            again = scorer.score(rec.cropped(offset), cancel=cancel)
            return again.stages, getattr(again, "unsure", None)

        lab, unread = compare_with_lab(path, pred.stages, getattr(pred, "unsure", None), rec.start_time,
                                       codes=codes, rescore=rescore)
        if lab is not None:
            result.compared.append(lab)
            log(f"{head}: {lab.line()}")
            for note in lab.notes:
                log(f"{head}: {lab.name}: {note}")
            if lab.note():
                log(f"{head}: NOTE: {lab.note()}")
        if unread:
            log(f"{head}: NOTE: {unread}")
        # what one recording's prescore says too: unfamiliar, implausible, a missing or failed channel, artefacts
        for note in pred.notes():
            log(f"{head}: NOTE: {note}")
    return result


def is_batch(paths: Sequence[str]) -> bool:
    """`prescore` on folders, or on several files, writes scoring files; on one file, a CSV/JSON as before."""
    return len(paths) > 1 or any(Path(p).is_dir() for p in paths)


def prescore_many(args) -> int:
    """The CLI's batch mode: exit 0 when every recording is scored or skipped, 1 when some failed."""
    from sleepscope.io.hypnogram_tables import parse_codes
    from sleepscope.scorers import StagerScorer, YasaScorer

    if args.out:
        raise SleepScopeError("--out names one output file: with folders or several recordings the predictions go "
                              "into each recording's scoring file; leave --out out")
    if args.json:
        raise SleepScopeError("--json is for one recording's CSV/JSON output; folders are pre-scored into the "
                              "recordings' scoring files")
    rank, world = rank_and_world()
    files = find_recordings(args.file)
    if not files:
        raise SleepScopeError(f"no EDF or BDF recording in {', '.join(args.file)}")
    device = args.device
    if device is None and world > 1 and "LOCAL_RANK" in os.environ:
        import torch

        if torch.cuda.is_available():  # one GPU per process under torchrun
            device = f"cuda:{int(os.environ['LOCAL_RANK']) % torch.cuda.device_count()}"
    scorer = StagerScorer.load(args.model, device=device)
    second = YasaScorer() if args.second_opinion else None

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    codes = parse_codes(args.codes) if getattr(args, "codes", None) else None
    result = prescore_files(files, scorer, second=second, rank=rank, world=world, eeg=args.eeg, eog=args.eog,
                            ecg=args.ecg, force=getattr(args, "force", False), log=log, codes=codes)
    tag = f"rank {rank}/{world}: " if world > 1 else ""
    print(f"{tag}{result.summary()}", file=sys.stderr)
    for path, why in result.failed:
        print(f"sleepscope: failed: {path}: {why}", file=sys.stderr)
    return 1 if result.failed else 0
