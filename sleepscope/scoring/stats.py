"""Sleep statistics from a hypnogram, with the AASM definitions.

Definitions (epochs of `epoch_s` seconds; the analysis period runs from
lights off, by default the first epoch, to lights on, by default the end):

- TIB (time in bed): lights off to lights on.
- TST (total sleep time): epochs of N1, N2, N3 or REM in that period.
- SE (sleep efficiency): TST / TIB, in %.
- Sleep onset: the first epoch of any sleep stage; SOL (sleep onset latency):
  lights off to sleep onset.
- WASO (wake after sleep onset): W epochs from sleep onset to lights on (the
  final awakening included, as in the AASM report TIB − SOL − TST when every
  epoch is scored).
- REM latency: sleep onset to the first REM epoch.
- Per stage: minutes, and % of TST for the sleep stages (W: % of TIB).
- Awakenings: runs of one or more consecutive W epochs after sleep onset
  (the final awakening included).
- Stage shifts: changes of stage between consecutive scored epochs in the
  period.
- Arousals: the arousal events that start in a sleep epoch of the period;
  arousal index: their number per hour of TST (AASM). Not given (None) when
  the caller has no events to count.

Unscored epochs (artefacts, movement, not yet scored) count as neither sleep
nor wake and are skipped when runs and shifts are counted; their time is
reported as `unscored_min`. Latencies are None when the event never happens.

Epochs without signal (`no_signal`: the gaps of an EDF+D recording, where the
recorder paused) can never be scored: their time is reported as
`no_signal_min`, not as unscored, whatever label they carry. They stay in TIB
and the latencies (lights off to lights on is clock time), count as neither
sleep nor wake, and are skipped like unscored epochs when runs and shifts are
counted. The partial-scoring warning counts only epochs with signal.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np

from sleepscope.errors import SleepScopeError
from sleepscope.stages import SCORED, Stage

_SLEEP = (int(Stage.N1), int(Stage.N2), int(Stage.N3), int(Stage.REM))


@dataclass
class SleepStats:
    epoch_s: float
    lights_off_epoch: int
    lights_on_epoch: int
    tib_min: float
    tst_min: float
    se_pct: float
    sol_min: float | None
    waso_min: float
    rem_latency_min: float | None
    stage_min: dict[str, float]
    stage_pct: dict[str, float]
    unscored_min: float
    n_awakenings: int
    n_stage_shifts: int
    sleep_onset_epoch: int | None
    #: time of the period without signal (gaps of an EDF+D recording); 0 when none or not known
    no_signal_min: float = 0.0
    n_arousals: int | None = None
    #: arousals per hour of TST; None without events to count or without sleep
    arousal_index: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def format_text(self) -> str:
        def minutes(v: float | None) -> str:
            return "n/a" if v is None else f"{v:.1f} min"

        lines = [
            f"Time in bed (TIB):            {minutes(self.tib_min)}",
            f"Total sleep time (TST):       {minutes(self.tst_min)}",
            f"Sleep efficiency (SE):        {self.se_pct:.1f} %",
            f"Sleep onset latency (SOL):    {minutes(self.sol_min)}",
            f"Wake after sleep onset:       {minutes(self.waso_min)}",
            f"REM latency (from onset):     {minutes(self.rem_latency_min)}",
            f"Awakenings:                   {self.n_awakenings}",
            f"Stage shifts:                 {self.n_stage_shifts}",
            *([f"Arousals:                     {arousals_text(self)}"]
              if self.n_arousals is not None else []),
            f"Unscored:                     {minutes(self.unscored_min)}",
            *([f"No signal (recording gaps):   {minutes(self.no_signal_min)}"] if self.no_signal_min else []),
            "",
            "Stage      minutes   % (sleep stages: of TST; W: of TIB)",
        ]
        for name in self.stage_min:
            lines.append(f"{name:<8} {self.stage_min[name]:9.1f}   {self.stage_pct[name]:6.1f}")
        return "\n".join(lines)


def arousals_text(stats: SleepStats) -> str:
    """'12 (3.4 per hour of sleep)'; 'none marked' rather than an index of 0 that may only mean that none was scored."""
    if not stats.n_arousals:  # an arousal counts only in sleep: a count implies an index
        return "none in scored sleep"
    return f"{stats.n_arousals} ({stats.arousal_index:.1f} per hour of sleep)"


def _runs(seq: np.ndarray, value: int) -> int:
    hit = seq == value
    if hit.size == 0:
        return 0
    return int(hit[0]) + int(np.count_nonzero(hit[1:] & ~hit[:-1]))


def _no_signal_mask(no_signal: np.ndarray | None, n: int) -> np.ndarray:
    """`no_signal` as a boolean mask of `n` epochs (None: every epoch has signal)."""
    mask = np.zeros(n, dtype=bool)
    if no_signal is not None:
        given = np.asarray(no_signal, dtype=bool).ravel()[:n]
        mask[: given.size] = given
    return mask


def sleep_statistics(labels: np.ndarray, epoch_s: float = 30.0, lights_off: int | None = None,
                     lights_on: int | None = None, no_signal: np.ndarray | None = None,
                     arousals: Sequence[float] | None = None) -> SleepStats:
    """Statistics of `labels` (codes per epoch, -1 unscored); lights off/on are epoch indices;
    `no_signal`: per epoch, True where the recording holds no signal (`Recording.gap`), or None;
    `arousals`: the onsets (s from the recording's start) of the arousal events, or None."""
    labels = np.asarray(labels).astype(np.int64).ravel()
    n = labels.size
    gap = _no_signal_mask(no_signal, n)
    off = 0 if lights_off is None else int(lights_off)
    on = n if lights_on is None else int(lights_on)
    if not 0 <= off < on <= n:
        raise SleepScopeError(
            f"Lights off (epoch {off}) must come before lights on (epoch {on}) within the {n} epochs."
        )
    gap = gap[off:on]
    # A gap's label, if any came in (an import), was not scored from this recording: it counts as no signal.
    period = np.where(gap, -1, labels[off:on])
    to_min = epoch_s / 60.0
    is_sleep = np.isin(period, _SLEEP)
    tib = period.size * to_min
    tst = int(is_sleep.sum()) * to_min
    sleep_idx = np.flatnonzero(is_sleep)
    onset = int(sleep_idx[0]) if sleep_idx.size else None
    stage_min: dict[str, float] = {}
    stage_pct: dict[str, float] = {}
    for st in SCORED:
        m = int(np.count_nonzero(period == int(st))) * to_min
        stage_min[st.name] = m
        base = tib if st is Stage.W else tst
        stage_pct[st.name] = 100.0 * m / base if base > 0 else 0.0
    if onset is None:
        sol = rem_lat = None
        waso = 0.0
        awakenings = 0
    else:
        after = period[onset:]
        sol = onset * to_min
        waso = int(np.count_nonzero(after == int(Stage.W))) * to_min
        rem = np.flatnonzero(after == int(Stage.REM))
        rem_lat = int(rem[0]) * to_min if rem.size else None
        # Gaps are skipped, not run-breakers: as AASM reads an obscured stretch from its neighbours,
        # W before and after a pause of the recorder (the patient up, unplugged) is one awakening.
        awakenings = _runs(after[after >= 0], int(Stage.W))
    n_arousals = arousal_index = None
    if arousals is not None:
        at = np.floor(np.asarray(arousals, dtype=np.float64).ravel() / epoch_s + 1e-9).astype(np.int64) - off
        inside = at[(at >= 0) & (at < period.size)]
        n_arousals = int(np.count_nonzero(is_sleep[inside]))
        arousal_index = n_arousals / (tst / 60.0) if tst > 0 else None
    scored = period[period >= 0]
    shifts = int(np.count_nonzero(scored[1:] != scored[:-1])) if scored.size > 1 else 0
    return SleepStats(
        epoch_s=float(epoch_s),
        lights_off_epoch=off,
        lights_on_epoch=on,
        tib_min=tib,
        tst_min=tst,
        se_pct=100.0 * tst / tib if tib > 0 else 0.0,
        sol_min=sol,
        waso_min=waso,
        rem_latency_min=rem_lat,
        stage_min=stage_min,
        stage_pct=stage_pct,
        unscored_min=int(np.count_nonzero((period < 0) & ~gap)) * to_min,
        n_awakenings=awakenings,
        n_stage_shifts=shifts,
        sleep_onset_epoch=None if onset is None else onset + off,
        no_signal_min=int(np.count_nonzero(gap)) * to_min,
        n_arousals=n_arousals,
        arousal_index=arousal_index,
    )


def reviewed_epochs(labels: np.ndarray, sources: np.ndarray, reviewed: np.ndarray) -> np.ndarray:
    """The one definition of "reviewed": a person labelled the epoch, accepted the model's
    stage for it, or marked it reviewed. Labels copied from another scorer (imports) do not count."""
    labels = np.asarray(labels)
    sources = np.asarray(sources).astype(str)
    by_person = (labels >= 0) & ((sources == "technician") | (sources == "model"))
    return by_person | np.asarray(reviewed, bool)


def partial_scoring_warning(labels: np.ndarray, lights_off: int | None = None,
                            lights_on: int | None = None, no_signal: np.ndarray | None = None) -> str | None:
    """A warning when epochs of the analysis period are unscored (statistics then describe part of it);
    epochs without signal (`no_signal`, as in `sleep_statistics`) cannot be scored and are not counted."""
    labels = np.asarray(labels).ravel()
    span = slice(lights_off or 0, len(labels) if lights_on is None else lights_on)
    gap = _no_signal_mask(no_signal, labels.size)[span]
    period = labels[span]
    recorded = period.size - int(np.count_nonzero(gap))
    missing = int(np.count_nonzero((period < 0) & ~gap))
    if missing == 0:
        return None
    left_out = f" ({period.size - recorded} epochs without signal left out)" if recorded < period.size else ""
    return (f"Partly scored: {recorded - missing} of {recorded} epochs are scored{left_out}; TST, SE, SOL and "
            "WASO count unscored epochs as neither sleep nor wake and are not the night's figures.")
