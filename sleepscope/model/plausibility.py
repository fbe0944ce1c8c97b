"""Does the suggested hypnogram look like a night a human slept? A reason of its own for the familiarity check.

A model out of its depth can give every epoch a stage it knows well and still
suggest a night no scorer would: input and feature statistics then stay
inside what it learned, and only the night as a whole gives it away. Of what
a night's hypnogram shows, the share of sleep spent in REM is the one that
real scored nights bound tightly and that a model missing REM (or calling
wake REM) moves far: ``REM_SHARE`` holds every expert-scored Sleep-EDF night
with at least ``MIN_SLEEP_EPOCHS`` of sleep (shipped, and tested against
them). REM-suppressed nights (severe apnoea, antidepressants) do fall below
it, which the message leaves open.

A recording of four hours or more in which the model finds almost no sleep
is unlike a night too: every expert-scored recording at hand that long holds
hours of sleep (``reports/no-sleep-night/``), while noise in the EEG's fast
band (a tense muscle, a noisy electrode), a drift the EEG's high-pass does not
remove (``sleepscope.model.drift``) or an electrode that came off makes the
model read every epoch as confident wake: whatever the cause, the hypnogram
shows it. A patient who stayed awake (a wakefulness test) is left open by the
message.
"""

from __future__ import annotations

import numpy as np

from sleepscope.stages import Stage

#: Four hours of sleep: shorter recordings (a nap, an excerpt) need not hold a REM period.
MIN_SLEEP_EPOCHS = 480
#: The share of sleep (N1, N2, N3, REM) in REM that real scored nights stay within.
REM_SHARE = (0.03, 0.50)
#: Four hours of staged epochs before a lack of sleep says anything (naps and excerpts are shorter).
MIN_STAGED_EPOCHS = 480
#: Half an hour: less sleep than this in four hours or more is unlike every real scored night at hand.
MIN_NIGHT_SLEEP_EPOCHS = 60


def rem_share(stages) -> tuple[float, int]:
    """(the share of sleep epochs staged REM, the number of sleep epochs) of a night's stages (-1 and W ignored)."""
    st = np.asarray(stages)
    sleep = st[(st >= Stage.N1) & (st <= Stage.REM)]
    return (float(np.mean(sleep == Stage.REM)) if len(sleep) else 0.0), len(sleep)


def implausible_night(stages) -> str | None:
    """Why the stages of a night (codes of :class:`Stage`; -1 ignored) are unlike a real night, or None."""
    rem, n_sleep = rem_share(stages)
    staged = int(np.sum(np.asarray(stages) >= Stage.W))
    if staged >= MIN_STAGED_EPOCHS and n_sleep < MIN_NIGHT_SLEEP_EPOCHS:
        return (f"the suggested night has {n_sleep / 2:g} min of sleep in {staged / 120:.1f} h; real scored nights "
                "that long hold hours of it: unless the patient stayed awake, check the traces for a drift from sweat, "
                "muscle noise or a loose electrode")
    if n_sleep < MIN_SLEEP_EPOCHS:
        return None
    lo, hi = REM_SHARE
    if lo <= rem <= hi:
        return None
    bound = f"at least {lo:.0%} unless REM is suppressed" if rem < lo else f"never more than {hi:.0%}"
    return (f"the suggested night has REM on {rem:.1%} of {n_sleep / 120:.1f} h of sleep; real scored nights "
            f"have {bound}")
