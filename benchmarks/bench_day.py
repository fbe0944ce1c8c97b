"""A day at the workstation: many nights opened one after another in one window, and the process's memory.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_day.py [--nights 30] [--epochs 900]

Writes `--nights` synthetic nights (family A signals on the real hypnograms of
Sleep-EDF nights, each cut to `--epochs` epochs), then, in a fresh process
each, opens them in turn in one main window with the shipped model, the way a
technician goes through a day's recordings: File → Open, pre-scoring, and on
to the next night as soon as the suggestions are shown (the second opinion,
when YASA is installed, runs behind as in the product). After each night the
process's resident memory (VmRSS) is read.

Two runs in the same command: the window as `sleepscope gui` starts it
(`sleepscope.allocator.limit_arenas`), and the reference, the same window with
glibc's default allocator settings. Printed: memory after the first night,
the mean of nights 4-8 (torch, the model, YASA and Qt's caches are loaded
by then, once a day whatever the allocator), the mean of the last ten, the
largest, the growth (the last ten against nights 4-8), and seconds per
night. Targets: the product's growth at most half the reference's, and its
time per night within 10 % of the reference's (both in this command; the
machine's load moves each run's own figures).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: nights 4-8: torch, the model, YASA and Qt's caches are loaded by then, once a day, whatever the allocator
WARM = slice(3, 8)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def write_nights(folder: Path, n: int, epochs: int) -> list[Path]:
    import numpy as np

    from sleepscope.data.synthetic import hypnogram_names, real_hypnogram, write_night

    names = [x for x in hypnogram_names() if x.startswith("SC4")][:n]
    out = []
    for i, name in enumerate(names):
        sub = folder / f"night{i:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        stages = real_hypnogram(name)
        start = max(0, int(np.flatnonzero((stages >= 1) & (stages <= 4))[0]) - 60)  # 30 min before sleep
        out.append(write_night(sub, name, seed=i, labels=stages[start:start + epochs])[0])
    return out


def child(mode: str, files: list[Path], settings_path: Path) -> int:
    """One run: the window opens every file in turn; a JSON line per night."""
    if mode == "product":
        from sleepscope.allocator import limit_arenas

        limit_arenas()  # as run_gui does, before the window starts its threads
    from PySide6.QtCore import QSettings

    from sleepscope.gui.app import leave, make_app
    from sleepscope.gui.main_window import MainWindow
    from sleepscope.gui.settings import Settings

    app = make_app()
    window = MainWindow(settings=Settings(QSettings(str(settings_path), QSettings.Format.IniFormat)),
                        prescore_on_open=True)
    window.resize(1400, 860)
    window.show()
    shown: list[int] = []
    window.prescoreDone.connect(lambda *_: shown.append(1))

    def wait(done, seconds: float = 600) -> bool:
        end = time.monotonic() + seconds
        while not done() and time.monotonic() < end:
            app.processEvents()
            time.sleep(0.005)
        return done()

    for i, path in enumerate(files):
        t0 = time.perf_counter()
        before = len(shown)
        opened: list[bool] = []
        window.openFinished.connect(opened.append)
        window.open_file(path)
        ok = wait(lambda: bool(opened)) and opened[0] and wait(lambda: len(shown) > before)
        window.openFinished.disconnect(opened.append)
        if not ok:
            print(json.dumps({"night": i, "error": f"{path.name} was not opened and pre-scored"}), flush=True)
            return 1
        print(json.dumps({"night": i, "rss_mb": rss_mb(), "seconds": time.perf_counter() - t0}), flush=True)
    window.close()
    return leave(app, window, 0)


def run(mode: str, files: list[Path], work: Path) -> list[dict]:
    import shutil

    # A copy of its own: the scoring files the other run wrote beside the nights would spare this one pre-scoring.
    own = work / f"nights-{mode}"
    shutil.copytree(files[0].parents[1], own)
    files = [own / f.relative_to(files[0].parents[1]) for f in files]
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
               SLEEPSCOPE_DATA_DIR=str(work / f"data-{mode}"), PYTHONPATH=str(ROOT))
    listing = work / "files.json"
    listing.write_text(json.dumps([str(f) for f in files]))
    proc = subprocess.run([sys.executable, __file__, "--child", mode, str(listing), str(work / f"{mode}.ini")],
                          capture_output=True, text=True, env=env)
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    bad = [r["error"] for r in rows if "error" in r]
    if proc.returncode != 0 or bad:
        raise SystemExit(f"{mode} run failed: {bad or proc.stderr[-2000:]}")
    return rows


def summary(rows: list[dict]) -> dict:
    import numpy as np

    rss = np.array([r["rss_mb"] for r in rows])
    warm, last = rss[WARM].mean(), rss[-10:].mean()
    return {"first": float(rss[0]), "warm": float(warm), "last10": float(last), "max": float(rss.max()),
            "growth": float(last - warm), "seconds": float(np.median([r["seconds"] for r in rows]))}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        return child(argv[1], [Path(p) for p in json.loads(Path(argv[2]).read_text())], Path(argv[3]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nights", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=900, help="each night cut to this many 30-s epochs")
    ap.add_argument("--json", type=Path, default=None, help="also write every night's figures here")
    args = ap.parse_args(argv)
    if args.nights < 18:
        ap.error("at least 18 nights: the growth compares the last ten with nights 4-8")
    if not sys.platform.startswith("linux"):
        raise SystemExit("reads /proc/self/status: Linux only")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        files = write_nights(work / "nights" / "written", args.nights, args.epochs)
        print(f"# {len(files)} synthetic nights of {args.epochs} epochs written in {time.perf_counter() - t0:.0f} s; "
              f"load {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        runs = {mode: run(mode, files, work) for mode in ("product", "reference")}
    s = {mode: summary(rows) for mode, rows in runs.items()}
    print("night   product MB   reference MB")
    for a, b in zip(runs["product"], runs["reference"]):
        print(f"{a['night']:5d}   {a['rss_mb']:10.0f}   {b['rss_mb']:12.0f}")
    print(f"{'':28s}{'product':>10s}{'reference':>11s}")
    for key, label in (("first", "after the first night, MB"), ("warm", "mean of nights 4-8, MB"),
                       ("last10", "mean of the last ten, MB"), ("max", "largest, MB"),
                       ("growth", "growth after night 8, MB"), ("seconds", "seconds per night")):
        print(f"{label:28s}{s['product'][key]:10.1f}{s['reference'][key]:11.1f}")
    grow = s["product"]["growth"] / max(s["reference"]["growth"], 1e-9)
    slow = s["product"]["seconds"] / s["reference"]["seconds"]
    print(f"target: growth <= 0.5 x the reference's: {grow:.2f} ({'met' if grow <= 0.5 else 'NOT met'})")
    print(f"target: seconds per night <= 1.1 x the reference's: {slow:.2f} ({'met' if slow <= 1.1 else 'NOT met'})")
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "summary": s, "nights": args.nights, "epochs": args.epochs},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
