"""Listing a night's events in the Events dock: seconds to list N events again over the rows shown (what every
change of an event does), ours against a plain fill of the same table in the same window and process.

A night whose acquisition software scored arousals and limb movements holds thousands of events once they are
taken from the recording. Replacing the items of a table whose columns size themselves to their contents
measured the rows again at each item set: the plain fill grows with the square of the events (2,637 events took
143 s to relist, at every lights marker and every undo); `events_panel.bulk_fill` sizes the columns once, and a
change that leaves the events as they are does not relist them. Printed: seconds per size for each, the growth
from the smallest size (10x the events should cost about 10x), and the speed-up.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_events_list.py [--sizes 100,300,1000,3000]
        [--reference-up-to 1000]"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="100,300,1000,3000")
    ap.add_argument("--reference-up-to", type=int, default=1000,
                    help="largest size the plain fill is timed at (it grows with the square)")
    args = ap.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    from sleepscope.gui.main_window import MainWindow
    from sleepscope.scoring.events import EVENT_KINDS, ScoringEvent

    app = QApplication.instance() or QApplication([])
    # The dock in the window, as the technician has it: a column resized there lays out the whole window.
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    window.events.dock.raise_()
    panel = window.events.panel
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    print(f"{'events':>8} {'ours s':>9} {'plain fill s':>13} {'speed-up':>9}")
    rows = []
    for n in sizes:
        starts = np.sort(rng.uniform(0, 8 * 3600, n))
        events = [ScoringEvent(i + 1, EVENT_KINDS[i % 3], float(t), float(t) + 8.0, "Arousal (ARO SPONT)",
                               scorer="bench", source="recording") for i, t in enumerate(starts)]
        # relisted over the rows already shown, as after any change of one event
        panel.show_marks(events, (None, None), None, True, force=True)
        app.processEvents()
        t = time.perf_counter()
        panel.show_marks(events, (None, None), None, True, force=True)
        app.processEvents()
        ours = time.perf_counter() - t
        plain = None
        if n <= args.reference_up_to:
            t = time.perf_counter()
            panel._filling = True
            panel._fill_events(events, None, True)  # the same rows, columns sized at every item
            panel._filling = False
            app.processEvents()
            plain = time.perf_counter() - t
        rows.append((n, ours, plain))
        print(f"{n:8d} {ours:9.3f} {'' if plain is None else f'{plain:13.3f}'} "
              f"{'' if plain is None else f'{plain / ours:8.0f}x'}")
    window.close()
    n0, ours0, plain0 = rows[0]
    for n, ours, plain in rows[1:]:
        line = f"{n / n0:.0f}x the events: ours {ours / ours0:.1f}x the time"
        if plain is not None and plain0:
            line += f", plain fill {plain / plain0:.1f}x"
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
