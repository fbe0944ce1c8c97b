"""What the drift high-pass costs: pre-scoring a synthetic night as recorded and swayed all night (alternated, in
one process), and reading a long recording for the model with and without a sway (time, traced peak memory).

    .venv/bin/python reports/slow-drift-night/drift_cost.py CACHE_YOUNG LONG.edf > drift-cost.log

LONG.edf: the 48-h 256-Hz PSG that benchmarks/bench_gui.py writes (--long-edf; any long EDF with EEG and EOG).
"""
import pathlib
import sys
import time
import tracemalloc

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "reports" / "slow-drift-night")]
import bench_shift as bs  # noqa: E402
from drift_highpass import sway  # noqa: E402
from sleepscope.io import open_recording  # noqa: E402
from sleepscope.model.backups import read_for_model  # noqa: E402
from sleepscope.model.checkpoint import load_model, default_model_path  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402
model = load_model(default_model_path())[0]
rec, y = bs.cached_recording("SC4001E0", "A", False, 0, pathlib.Path(sys.argv[1]))
sw = sway(rec, 150)
predict(rec, model)
for i in range(3):
    for name, r in (("as recorded", rec), ("swayed all night", sw)):
        t = time.perf_counter(); p = predict(r, model); dt = time.perf_counter() - t
        print(name, rec.n_epochs, "epochs: predict %.2f s" % dt, "high-passed", int(p.high_passed.sum()), flush=True)
big = open_recording(sys.argv[2])
print("48 h:", big.n_epochs, "epochs", big.eeg_name, big.eog_name)
bigsw = sway(big, 150)
for name, r in (("as recorded", big), ("swayed all night", bigsw)):
    tracemalloc.start()
    t = time.perf_counter(); rd = read_for_model(r, "epoch+amplitude"); dt = time.perf_counter() - t
    cur, peak = tracemalloc.get_traced_memory(); tracemalloc.stop()
    print("48 h", name, "read_for_model %.2f s" % dt, "peak traced %.0f MB" % (peak / 1e6), "input %.0f MB" % (rd.x.nbytes / 1e6),
          "high-passed", int(rd.high_passed.sum()), flush=True)
