"""The channels the model read when a night was last pre-scored, so that the next run and the window read them too.

A technician may choose other channels than the ones chosen by name (Model → Channels the model reads…, or
``prescore --eeg`` and ``--ecg``); each kept prediction records them (`PredictionRecord.channels` and ``.ecg``).
Opening the night again, or pre-scoring a folder again without naming channels, takes them from the latest
prediction kept beside the recording, where the file still has them.
"""

from __future__ import annotations

from pathlib import Path

from sleepscope.errors import SleepScopeError


def channels_read_before(path: str | Path) -> tuple[str | None, str | None, str | None]:
    """(EEG, EOG, ECG) of the latest prediction kept beside the recording at `path` where the file has them and
    they are not those chosen by name, the ECG in the words of ``--ecg`` (a lead, or ``"none"``); None for each
    that is not: none kept, not kept (files written before), another recording's file, or what any run would
    choose. The EEG and EOG are kept or left as a pair, the ECG on its own."""
    from sleepscope.io import read_info
    from sleepscope.io.channels import NO_ECG, choose_channels, derived_channels
    from sleepscope.scoring.locations import scoring_beside
    from sleepscope.scoring.scoring_file import ScoringFile

    path = Path(path)
    try:
        beside = scoring_beside(path)
        if not beside.exists():
            return None, None, None
        sf, info = ScoringFile.read(beside), read_info(path)
    except (SleepScopeError, OSError):
        return None, None, None
    # the full fingerprint is checked when the night is read; its length and name tell another recording's file
    if sf.identity.n_epochs != info.n_epochs or sf.identity.file_name not in ("", path.name):
        return None, None, None
    kept = sf.latest_prediction()
    if kept is None:
        return None, None, None
    names = [c.name for c in info.channels]
    offered = set(names) | set(derived_channels(names))
    pair = kept.channels
    if pair is None or any(c is not None and c not in offered for c in pair):
        pair = None
    ecg = kept.ecg if kept.ecg == NO_ECG or kept.ecg in offered else None
    try:
        by_name = choose_channels(names)
    except SleepScopeError:
        return (*(pair or (None, None)), ecg)
    # the channels chosen by name need no choosing: the banner would call them the user's
    if pair == (by_name.eeg, by_name.eog):
        pair = None
    if ecg == (by_name.ecg or NO_ECG):
        ecg = None
    return (*(pair or (None, None)), ecg)
