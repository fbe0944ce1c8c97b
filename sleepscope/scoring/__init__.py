"""The scoring file (labels with provenance, crash-safe journal, lock), statistics, agreement.

Imports neither torch nor mne: a scoring file opens fast and the CLI's
export does not pay for the model. The corrections library and hypnogram
import/export load `sleepscope.io` only when called.
"""

from sleepscope.scoring.agreement import Agreement, agreement, confusion_matrix
from sleepscope.scoring.corrections import CorrectionSet, build_correction_set, collect_labels, label_counts
from sleepscope.scoring.lock import ScoringFileLocked
from sleepscope.scoring.scoring_file import (
    SOURCE_MODEL,
    SOURCE_TECHNICIAN,
    Edit,
    PredictionRecord,
    RecordingIdentity,
    ScorerLabels,
    ScoringFile,
    default_path,
    find_scoring_files,
)
from sleepscope.scoring.stats import SleepStats, sleep_statistics

__all__ = [
    "SOURCE_MODEL",
    "SOURCE_TECHNICIAN",
    "Agreement",
    "CorrectionSet",
    "Edit",
    "PredictionRecord",
    "RecordingIdentity",
    "ScorerLabels",
    "ScoringFile",
    "ScoringFileLocked",
    "SleepStats",
    "agreement",
    "build_correction_set",
    "collect_labels",
    "confusion_matrix",
    "default_path",
    "find_scoring_files",
    "label_counts",
    "sleep_statistics",
]
