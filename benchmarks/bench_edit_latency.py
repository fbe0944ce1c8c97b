"""Edit latency of the scoring file: median and p95 of `set_stage` over 1,000 edits.

Each edit is journaled and fsync'd before `set_stage` returns (see
sleepscope/scoring/journal.py), so this measures what a technician waits for
per key press. Reference measured in the same run, interleaved with the edits: a bare
120-byte write + fsync in the same folder, the floor any durable edit pays.
Target (issue 5): median <= 5 ms.

    .venv/bin/python benchmarks/bench_edit_latency.py [--edits 1000] [--epochs 1000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sleepscope.scoring.scoring_file import RecordingIdentity, ScoringFile


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


class BareFsync:
    """The reference: append 120 bytes and fsync, in the same folder, interleaved with the edits
    so that both see the same disk (fsync time here swings with other processes' I/O)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "fsync-reference.log"
        self.fd = os.open(str(self.path), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def __call__(self) -> float:
        t = time.perf_counter()
        os.write(self.fd, b"x" * 119 + b"\n")
        os.fsync(self.fd)
        return time.perf_counter() - t

    def close(self) -> None:
        os.close(self.fd)
        self.path.unlink()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--edits", type=int, default=1000)
    ap.add_argument("--epochs", type=int, default=1000, help="epochs in the (synthetic) recording")
    ap.add_argument("--dir", type=Path, default=None, help="folder for the scoring file (default: a temp dir)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        folder = Path(d)
        ident = RecordingIdentity("sha256:benchmark", args.epochs, args.epochs * 30.0)
        rng = random.Random(0)
        lat, ref = [], []
        bare = BareFsync(folder)
        with ScoringFile.open_identity(ident, folder / "bench.sleepscope.h5", scorer="bench") as sf:
            for i in range(args.edits):
                ep = rng.randrange(args.epochs)
                t = time.perf_counter()
                if i % 20 == 19:
                    sf.undo()
                else:
                    sf.set_stage(ep, rng.randrange(5))
                lat.append(time.perf_counter() - t)
                ref.append(bare())
        bare.close()
    med, p95 = statistics.median(lat) * 1e3, percentile(lat, 95) * 1e3
    rmed, rp95 = statistics.median(ref) * 1e3, percentile(ref, 95) * 1e3
    print(f"edits: {args.edits} on a {args.epochs}-epoch scoring file (every 20th an undo)")
    print(f"edit latency    median {med:.3f} ms   p95 {p95:.3f} ms   max {max(lat) * 1e3:.3f} ms")
    print(f"bare write+fsync median {rmed:.3f} ms   p95 {rp95:.3f} ms  (reference, interleaved, same folder)")
    print(f"ratio edit/reference median {med / rmed:.2f}x")
    print(f"target median <= 5 ms: {'met' if med <= 5.0 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
