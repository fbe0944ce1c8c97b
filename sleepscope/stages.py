"""The one definition of the sleep stages, their colours, keys and the R&K map.

Codes are those of the Sleep-EDF consensus files: -1 unscored, 0 W, 1 N1,
2 N2, 3 N3, 4 REM. Model outputs are indexed by the five scored codes.
"""

from __future__ import annotations

from enum import IntEnum

import re
import unicodedata

import numpy as np


class Stage(IntEnum):
    UNSCORED = -1
    W = 0
    N1 = 1
    N2 = 2
    N3 = 3
    REM = 4

    @property
    def label(self) -> str:
        return "?" if self is Stage.UNSCORED else self.name


#: The five stages a model predicts, in output order.
SCORED: tuple[Stage, ...] = (Stage.W, Stage.N1, Stage.N2, Stage.N3, Stage.REM)
N_CLASSES = len(SCORED)
NAMES: tuple[str, ...] = tuple(s.name for s in SCORED)
#: The columns of a model's stage probabilities in SleepScope's prediction CSV (`sleepscope prescore --out`).
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{name}" for name in NAMES)

#: Colours (hex) chosen so that deeper sleep is darker and REM stands apart,
#: as most scoring software draws a hypnogram.
COLORS: dict[Stage, str] = {
    Stage.W: "#f2c14e",
    Stage.N1: "#8fd3e8",
    Stage.N2: "#3a86c8",
    Stage.N3: "#1b3a6b",
    Stage.REM: "#d1495b",
    Stage.UNSCORED: "#9e9e9e",
}

#: Keyboard keys that set a stage. A digit is the stage's code, as in the
#: files we read and write and in `parse_stage` (0 W, 1 N1, 2 N2, 3 N3, 4 REM):
#: one numbering everywhere, so "4" is REM, not R&K's stage 4.
KEYS: dict[str, Stage] = {
    **{str(int(s)): s for s in (Stage.W, Stage.N1, Stage.N2, Stage.N3, Stage.REM)},
    "w": Stage.W,
    "r": Stage.REM,
    "u": Stage.UNSCORED,
}

#: Height of each stage on a hypnogram's y axis (REM drawn between W and N1,
#: the clinical convention).
HYPNOGRAM_LEVEL: dict[Stage, float] = {
    Stage.W: 4.0,
    Stage.REM: 3.0,
    Stage.N1: 2.0,
    Stage.N2: 1.0,
    Stage.N3: 0.0,
    Stage.UNSCORED: np.nan,
}

#: Rechtschaffen & Kales annotation text (as in Sleep-EDF) to AASM stage.
RK_TO_AASM: dict[str, Stage] = {
    "Sleep stage W": Stage.W,
    "Sleep stage 1": Stage.N1,
    "Sleep stage 2": Stage.N2,
    "Sleep stage 3": Stage.N3,
    "Sleep stage 4": Stage.N3,
    "Sleep stage R": Stage.REM,
    "Sleep stage ?": Stage.UNSCORED,
    "Movement time": Stage.UNSCORED,
}

#: AASM stage to the annotation text we write in Sleep-EDF style.
AASM_TO_RK: dict[Stage, str] = {
    Stage.W: "Sleep stage W",
    Stage.N1: "Sleep stage 1",
    Stage.N2: "Sleep stage 2",
    Stage.N3: "Sleep stage 3",
    Stage.REM: "Sleep stage R",
    Stage.UNSCORED: "Sleep stage ?",
}

#: Stage names, lower case and without spaces, after a "sleep stage"/"stage"/"sleep-" prefix and a " sleep"
#: suffix are taken off ("Stage 2 sleep", "SLEEP-S2", "Sleep_stage_2" all read "2"; "NREM 3" reads "nrem3"),
#: as are their German, French, Spanish, Italian, Dutch and Portuguese forms ("Stade 2", "Fase 2", "Stadio 2",
#: "REM-Schlaf").
_ALIASES: dict[str, Stage] = {
    "w": Stage.W, "wake": Stage.W, "awake": Stage.W, "wakefulness": Stage.W, "wk": Stage.W, "0": Stage.W,
    "s0": Stage.W,
    "n1": Stage.N1, "s1": Stage.N1, "1": Stage.N1, "nrem1": Stage.N1,
    "n2": Stage.N2, "s2": Stage.N2, "2": Stage.N2, "nrem2": Stage.N2,
    "n3": Stage.N3, "s3": Stage.N3, "s4": Stage.N3, "n4": Stage.N3, "3": Stage.N3, "nrem3": Stage.N3,
    "swa": Stage.N3, "sws": Stage.N3,
    "r": Stage.REM, "rem": Stage.REM, "4": Stage.REM,
    "?": Stage.UNSCORED, "-1": Stage.UNSCORED, "u": Stage.UNSCORED, "unscored": Stage.UNSCORED,
    "art": Stage.UNSCORED, "artefact": Stage.UNSCORED, "artifact": Stage.UNSCORED,
    "mt": Stage.UNSCORED, "movement": Stage.UNSCORED, "movementtime": Stage.UNSCORED,
    "unknown": Stage.UNSCORED, "nostage": Stage.UNSCORED,
    # what European labs' software writes (German, French, Spanish, Italian, Dutch, Portuguese), accents dropped
    "wach": Stage.W, "eveil": Stage.W, "veille": Stage.W, "vigilia": Stage.W, "despierto": Stage.W,
    "veglia": Stage.W, "waak": Stage.W, "wakker": Stage.W, "acordado": Stage.W,
    "paradoxal": Stage.REM, "mor": Stage.REM,
    "bewegung": Stage.UNSCORED, "bewegungszeit": Stage.UNSCORED, "artefakt": Stage.UNSCORED,
    "artefatto": Stage.UNSCORED, "artefacto": Stage.UNSCORED,
    "mouvement": Stage.UNSCORED, "movimiento": Stage.UNSCORED, "movimento": Stage.UNSCORED,
}
#: A number written after "stage" is R&K's ("Stage 4": N3).
_RK_WORDED = {"0": Stage.W, "1": Stage.N1, "2": Stage.N2, "3": Stage.N3, "4": Stage.N3}
_PREFIX = re.compile(r"^(?:sleep[\s_-]*stage|stage|sleep[\s_-]+|schlafstadium|stadium|stadio|estadio|stade|fase|etapa"
                     r"|estagio|sommeil|sueno|sonno|slaap)[\s_:-]*")
_SUFFIX = re.compile(r"[\s_-]+(?:sleep|schlaf|slaap)$")


def folded(text: str) -> str:
    """Lower case without accents, so that "Éveil" and "eveil", "Época" and "epoca" compare equal."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def stage_worded(text: str) -> bool:
    """Whether `text` begins with a word labs write before a stage ("Stage", "SLEEP-", "Stadium", "Fase"…)."""
    return _PREFIX.match(folded(text.strip())) is not None


def parse_stage(text: str | int) -> Stage:
    """Read a stage written as a name (W, N1, REM, S4, ...), an R&K annotation or a code.

    Numbers follow our coding (0 W .. 4 REM, -1 unscored); raises ValueError otherwise.
    """
    if isinstance(text, (int, np.integer)):
        return Stage(int(text))
    t = str(text).strip().strip("\"'").strip()
    if t in RK_TO_AASM:
        return RK_TO_AASM[t]
    low = folded(t)
    if re.fullmatch(r"-?\d+", low):
        key = low
    else:
        key = _PREFIX.sub("", low)
        worded = key != low
        key = re.sub(r"[\s_-]+", "", _SUFFIX.sub("", key))
        if worded and key in _RK_WORDED:  # "Stage 4" is R&K's stage 4 (N3), not our code 4
            return _RK_WORDED[key]
    if key in _ALIASES:
        return _ALIASES[key]
    raise ValueError(f"unknown sleep stage {text!r}")


def no_stage_probs(n_epochs: int) -> np.ndarray:
    """The probabilities a model gives an epoch it gives no stage (an artefact epoch): all equal."""
    return np.full((n_epochs, N_CLASSES), 1.0 / N_CLASSES, dtype=np.float32)


def most_likely(probs) -> np.ndarray:
    """The stage of each row of `(n, 5)` probabilities, UNSCORED where they are all equal (`no_stage_probs`):
    the model gave that epoch no stage, which is no vote for W, the first column."""
    p = np.asarray(probs, dtype=np.float32)
    stages = p.argmax(axis=1).astype(np.int8)
    if len(p):
        stages[p.max(axis=1) - p.min(axis=1) < 1e-6] = Stage.UNSCORED
    return stages


def stage_names(codes: np.ndarray) -> list[str]:
    return [Stage(int(c)).label for c in codes]


def stage_counts(labels) -> tuple[int, ...]:
    """Epochs of each scored stage (W, N1, N2, N3, REM) in `labels`."""
    labels = np.asarray(labels)
    return tuple(int((labels == s).sum()) for s in SCORED)


def mix_text(counts) -> str:
    """"W 187, N1 58, N2 250, N3 220, REM 125": what a scoring read holds, so that a numbering read the wrong way
    (a system's REM = 1 as N1) shows before it is trusted."""
    return ", ".join(f"{name} {int(n)}" for name, n in zip(NAMES, counts))


def unusual_mix(labels) -> str | None:
    """Why a whole night's stages are unlike any real night's, as a stage numbering read the wrong way leaves
    them (UCD's REM = 1 read as N1 shifts each stage one deeper: N2 nearly gone, N3 the bulk of sleep; W = 1
    leaves no wake), and as a model misreading a recording does; or None; None too for less than 4 scored
    hours, whose mix says little."""
    labels = np.asarray(labels)
    scored = int((labels >= 0).sum())
    sleep = labels[(labels >= 1) & (labels <= 4)]
    if scored < 480 or len(sleep) < 240:
        return None
    if not (labels == Stage.W).any():
        return f"no epoch of its {scored / 120:.1f} scored hours is wake"
    n2, n3 = float(np.mean(sleep == Stage.N2)), float(np.mean(sleep == Stage.N3))
    # N2 is over a fifth of sleep and N3 under 2.3 times N2 in every real scoring at hand (Sleep-EDF, DOD-H/O)
    if n2 < 0.15:
        return f"N2 is {n2:.0%} of its sleep"
    if n3 > 2.5 * n2:
        return f"N3 is {n3 / n2:.1f} times N2"
    # Sleep is entered through N1: a numbering shifted by one stage sends wake to N2 instead.
    entered = labels[1:][(labels[:-1] == Stage.W) & (labels[1:] >= Stage.N1) & (labels[1:] <= Stage.REM)]
    if len(entered) >= 5 and np.mean(entered == Stage.N1) < 0.2:
        return f"only {int((entered == Stage.N1).sum())} of its {len(entered)} passages from wake to sleep go to N1"
    return None
