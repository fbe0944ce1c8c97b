"""Where "go to" takes the technician: an epoch number as the window shows it, or a clock time of the night.

A physician asks to look at "epoch 412" or "at 03:15"; the hypnogram's click is too coarse for either in a
night of a thousand epochs.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

from sleepscope.errors import SleepScopeError

_CLOCK = re.compile(r"^(\d{1,2})[:.h](\d{2})(?:[:.](\d{2}))?$")
_EPOCH = re.compile(r"^(?:epoch\s*)?#?(\d+)$", re.IGNORECASE)


def epoch_of(text: str, n_epochs: int, start_time: datetime | None, epoch_seconds: float = 30.0) -> int:
    """The epoch (from 0) that `text` names: "412" or "epoch 412" (numbered from 1, as the window's header
    shows them), or a clock time "03:15" / "3:15:30" / "23h50" (the first time the night reaches it, so 01:00
    is after midnight in a night that began at 22:00); refused with what the recording covers."""
    text = " ".join(str(text).split())
    last = start_time + timedelta(seconds=n_epochs * epoch_seconds) if start_time is not None else None
    if m := _EPOCH.match(text):
        number = int(m.group(1))
        if not 1 <= number <= n_epochs:
            raise SleepScopeError(f"there is no epoch {number}: this recording has epochs 1-{n_epochs}.")
        return number - 1
    if m := _CLOCK.match(text):
        h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if h > 23 or mi > 59 or s > 59:
            raise SleepScopeError(f"{text!r} is no clock time: give hours 0-23, minutes and seconds 0-59.")
        if start_time is None:
            raise SleepScopeError("this recording keeps no start time: go to an epoch number instead.")
        when = datetime.combine(start_time.date(), time(h, mi, s), tzinfo=start_time.tzinfo)
        if when < start_time:
            when += timedelta(days=1)
        if when >= last:
            raise SleepScopeError(f"the recording runs from {start_time:%H:%M:%S} to {last:%H:%M:%S}: "
                                  f"{when:%H:%M:%S} is not in it.")
        return int((when - start_time).total_seconds() // epoch_seconds)
    span = f", or a clock time from {start_time:%H:%M} to {last:%H:%M}" if start_time is not None else ""
    raise SleepScopeError(f"{text!r} names no epoch: give an epoch number from 1 to {n_epochs}{span} "
                          "(such as 03:15 or 03:15:30).")
