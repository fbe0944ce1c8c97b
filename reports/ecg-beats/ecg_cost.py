"""What subtracting the heart's beats costs: pre-scoring a synthetic night as recorded and with beats and an ECG
lead (alternated, in one process), and reading a long recording for the model both ways (time, traced peak).

    .venv/bin/python reports/ecg-beats/ecg_cost.py CACHE_YOUNG LONG.edf > ecg-cost.log

LONG.edf: the 48-h 256-Hz PSG that benchmarks/bench_gui.py writes (--long-edf; any long EDF with EEG and EOG).
The lead and the beats are added in memory (`whole_night_lead.with_lead`), so the lead is not read from the file.
"""
import pathlib
import sys
import time
import tracemalloc

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "reports" / "ecg-beats")]
import bench_shift as bs  # noqa: E402
from whole_night_lead import with_lead  # noqa: E402

from sleepscope.io import open_recording  # noqa: E402
from sleepscope.model.backups import read_for_model  # noqa: E402
from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402

model = load_model(default_model_path())[0]
rec, y = bs.cached_recording("SC4001E0", "A", False, 0, pathlib.Path(sys.argv[1]))
beaten = with_lead(rec, 100.0, -60.0)
predict(rec, model)
for i in range(3):
    for name, r in (("as recorded", rec), ("beats and lead", beaten)):
        t = time.perf_counter()
        p = predict(r, model)
        dt = time.perf_counter() - t
        print(name, rec.n_epochs, "epochs: predict %.2f s" % dt, "beats subtracted:",
              None if p.heartbeats is None else p.heartbeats.to_dict(), flush=True)
big = open_recording(sys.argv[2])
print("48 h:", big.n_epochs, "epochs", big.eeg_name, big.eog_name)
bigbeat = with_lead(big, 100.0, -60.0)
for name, r in (("as recorded", big), ("beats and lead", bigbeat)) * 2:  # twice: the first read warms the caches
    tracemalloc.start()
    t = time.perf_counter()
    rd = read_for_model(r, "epoch+amplitude")
    dt = time.perf_counter() - t
    cur, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print("48 h", name, "read_for_model %.2f s" % dt, "peak traced %.0f MB" % (peak / 1e6),
          "input %.0f MB" % (rd.x.nbytes / 1e6), "beats:", None if rd.heartbeats is None else rd.heartbeats.to_dict(),
          flush=True)
