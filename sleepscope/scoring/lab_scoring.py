"""The model's pre-scoring against the lab's own scoring of the same night, where the lab has one.

A lab deciding whether to trust the pre-scoring, or whether to correct a few
hundred epochs and fine-tune, needs the model's agreement with its own
technicians on its own recordings, not a figure from our benchmarks. Its
archive already holds it: a hypnogram beside the recording (paired by name,
`sleepscope.io.pairing.find_scoring`) or the stages annotated in the
recording itself. `sleepscope prescore` compares with it whenever it is there
and says how many of the disagreements the review queue's unsure epochs hold;
it, and the window with its reference scorer, warn when the model agrees with
it less than expert scorers agree with each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.scoring.agreement import Agreement, agreement, kappa_text


#: Cohen's kappa that 9 in 10 pairs of expert AASM scorers exceed on the same healthy nights (the Dreem DOD-H
#: scorers, `benchmarks/bench_inter_scorer.py`): a model below it agrees with the lab less than experts agree.
EXPERT_KAPPA_P10 = 0.55
#: Fewer epochs compared than this say too little to warn about.
MIN_EPOCHS_TO_WARN = 100


def below_experts(agr: Agreement, name: str) -> str | None:
    """A warning when the model agrees with the lab's scoring (`name`) of the night less than 9 in 10 pairs of
    expert scorers agree with each other; None when it does not, or too few epochs were compared to say."""
    if agr.n_epochs < MIN_EPOCHS_TO_WARN or not agr.kappa < EXPERT_KAPPA_P10:
        return None
    return (f"The model agrees with this night's own scoring ({name}) less than 9 in 10 pairs of expert scorers "
            f"agree with each other (Cohen's kappa {agr.kappa:.2f}, experts' 10th percentile {EXPERT_KAPPA_P10:.2f}): "
            "check its suggestions, or correct a few hundred epochs of this lab's nights and fine-tune "
            "(Model → Fine-tune).")


@dataclass
class LabComparison:
    recording: Path
    scoring: Path  # the hypnogram file, or the recording itself when its annotations hold the stages
    agreement: Agreement
    #: share of the epochs where the model and the lab disagree that the model marked unsure (None: not known)
    unsure_catch: float | None
    #: the two stage sequences compared (lab, model), for pooling nights
    lab: np.ndarray
    model: np.ndarray
    #: how the lab's scoring was read where it bears on the figures (`Hypnogram.notes`)
    notes: tuple[str, ...] = ()
    #: seconds into the recording at which the lab's epochs, and so the epochs compared, begin
    grid_offset: float = 0.0

    @property
    def name(self) -> str:
        return f"stages in {self.scoring.name}" if self.scoring == self.recording else self.scoring.name

    def line(self) -> str:
        a = self.agreement
        text = (f"against the lab's scoring ({self.name}): {a.n_epochs} epochs, accuracy {a.accuracy:.3f}, "
                f"Cohen's kappa {kappa_text(a.kappa)}, macro-F1 {a.macro_f1:.3f}")
        if self.unsure_catch is not None:
            text += f"; the epochs marked unsure hold {100 * self.unsure_catch:.0f} % of the disagreements"
        return text

    def note(self) -> str | None:
        return below_experts(self.agreement, self.name)

    def to_dict(self) -> dict[str, Any]:
        return {"scoring": str(self.scoring), **self.agreement.to_dict(), "unsure_catch": self.unsure_catch,
                "below_experts": self.note() is not None, "notes": list(self.notes),
                "grid_offset_s": self.grid_offset}


def compare_with_lab(recording: str | Path, stages: np.ndarray, unsure: np.ndarray | None = None,
                     start_time: Any = None, codes: dict[str, int] | None = None,
                     rescore: Callable[[float], tuple[np.ndarray, np.ndarray | None]] | None = None
                     ) -> tuple[LabComparison | None, str | None]:
    """(the model's `stages` (one per epoch, -1 for none) against the lab's scoring of `recording`, read by its
    declared stage `codes` where given; why there is none where the lab's scoring is there but could not be
    used). (None, None) when the lab has no scoring of it.

    A scoring whose whole 30-s epochs begin seconds into the recording's (a table scored from lights off, MASS)
    puts parts of two of the lab's epochs into each of the model's; given `rescore` (seconds -> the model's
    stages and unsure flags on the recording from there, `Recording.cropped`), the model is compared on the
    lab's own epochs."""
    from sleepscope.io.pairing import read_lab_scoring

    recording = Path(recording)
    stages = np.asarray(stages).astype(np.int64)
    # a shorter hypnogram leaves epochs out of the comparison, as said
    read = read_lab_scoring(recording, len(stages), start_time, codes=codes)
    scoring, offset = read.path, 0.0
    if read.labels is not None and read.grid_offset and rescore is not None:
        try:
            again, unsure_again = rescore(read.grid_offset)
        except (SleepScopeError, ValueError):  # under an epoch left after the offset: compare as the model scored
            again = None
        if again is not None:
            offset, stages, unsure = read.grid_offset, np.asarray(again).astype(np.int64), unsure_again
            read = read_lab_scoring(recording, len(stages), start_time, codes=codes, origin=offset)
    if read.labels is None:
        return None, None if scoring is None else f"the lab's scoring {scoring.name} was not read: {read.why}"
    notes = read.notes
    if offset:
        notes += (f"its 30-s epochs begin {offset:g} s into the recording's: the model scored the recording again "
                  "from there and was compared on the lab's own epochs",)
    lab = np.asarray(read.labels, np.int64)
    both = (lab >= 0) & (stages >= 0)
    if not both.any():
        return None, f"the lab's scoring {scoring.name} holds no epoch the model staged"
    catch = None
    if unsure is not None:
        differ = both & (lab != stages)
        catch = float(np.asarray(unsure, bool)[differ].mean()) if differ.any() else None
    return (LabComparison(recording, scoring, agreement(lab, stages), catch, lab[both], stages[both], notes,
                          offset), None)


def stages_line(agr: Agreement) -> str:
    """Per stage, how far the model agrees with the lab, and where they part most: a lab whose scorers read a
    stage their own way (N3's amplitude, N1's onset) sees which stage corrections would teach the model."""
    from sleepscope.stages import NAMES

    present = [n for n in NAMES if agr.support.get(n, 0)]
    text = "per stage (F1, the lab's epochs): " + ", ".join(f"{n} {agr.f1[n]:.2f} ({agr.support[n]})" for n in present)
    off = np.array(agr.confusion, np.int64)
    np.fill_diagonal(off, 0)
    if off.any():
        lab, model = np.unravel_index(int(off.argmax()), off.shape)
        text += (f"; most apart: {off[lab, model]} of the lab's {agr.support[NAMES[lab]]} {NAMES[lab]} epochs scored "
                 f"{NAMES[model]} by the model")
    return text


def pooled(comparisons: Sequence[LabComparison]) -> Agreement:
    """The agreement over all nights' epochs together."""
    return agreement(np.concatenate([c.lab for c in comparisons]), np.concatenate([c.model for c in comparisons]))


def pooled_line(comparisons: Sequence[LabComparison]) -> str:
    """All nights' epochs together, and the spread of the per-night figures."""
    a = pooled(comparisons)
    acc = [c.agreement.accuracy for c in comparisons]
    kap = [c.agreement.kappa for c in comparisons if not np.isnan(c.agreement.kappa)]
    n = len(comparisons)
    spread = f" ({min(kap):.3f}-{max(kap):.3f})" if kap else ""
    return (f"against the lab's own scoring of {n} recording{'s' if n != 1 else ''} ({a.n_epochs} epochs): "
            f"accuracy {a.accuracy:.3f} (per night {min(acc):.3f}-{max(acc):.3f}), Cohen's kappa "
            f"{kappa_text(a.kappa)}{spread}, macro-F1 {a.macro_f1:.3f}")
