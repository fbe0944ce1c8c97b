"""The channels the model read when a night was last pre-scored, so that the next run and the window read them too.

A technician may choose other channels than the ones chosen by name (Model → Channels the model reads…, or
``prescore --eeg``); each kept prediction records them (`PredictionRecord.channels`). Opening the night again, or
pre-scoring a folder again without naming channels, takes them from the latest prediction kept beside the
recording, where the file still has them.
"""

from __future__ import annotations

from pathlib import Path

from sleepscope.errors import SleepScopeError


def channels_read_before(path: str | Path) -> tuple[str | None, str | None]:
    """(EEG, EOG) of the latest prediction kept beside the recording at `path` where the file has them and they are
    not those chosen by name; (None, None) otherwise: none kept, no channels kept (files written before), another
    recording's file, or the channels any run would choose."""
    from sleepscope.io import read_info
    from sleepscope.io.channels import choose_channels, derived_channels
    from sleepscope.scoring.locations import scoring_beside
    from sleepscope.scoring.scoring_file import ScoringFile

    path = Path(path)
    try:
        beside = scoring_beside(path)
        if not beside.exists():
            return None, None
        sf, info = ScoringFile.read(beside), read_info(path)
    except (SleepScopeError, OSError):
        return None, None
    # the full fingerprint is checked when the night is read; its length and name tell another recording's file
    if sf.identity.n_epochs != info.n_epochs or sf.identity.file_name not in ("", path.name):
        return None, None
    kept = sf.latest_prediction()
    if kept is None or kept.channels is None:
        return None, None
    names = [c.name for c in info.channels]
    offered = set(names) | set(derived_channels(names))
    if any(c is not None and c not in offered for c in kept.channels):
        return None, None
    try:
        by_name = choose_channels(names)
    except SleepScopeError:
        return kept.channels
    # the channels chosen by name need no choosing: the banner would call them the user's
    return (None, None) if kept.channels == (by_name.eeg, by_name.eog) else kept.channels
