"""Our model's and YASA's stage probabilities on every night of bench_shift's cached synthetic rows.

    python night_probabilities.py A,B OUT.pkl CACHE      # CACHE: bench_shift.py --cache's folder
"""
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import torch  # noqa: E402

import bench_shift as bs  # noqa: E402
from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402

torch.set_num_threads(1)
model = load_model(default_model_path())[0]
out = {}
for fam in sys.argv[1].split(","):
    for rnd in (False, True):
        for n in bs.TEST_NIGHTS[:8]:
            t = time.perf_counter()
            rec, y = bs.cached_recording(n, fam, rnd, 0, Path(sys.argv[3]))
            o, ya = bs.score_model(model, rec, y), bs.score_yasa(rec, y)
            out[(fam, rnd, n)] = {"y": y, "ours": o["probs"], "artefact": o["artefact"],
                                  "yasa": None if ya is None else ya["probs"]}
            print(fam, rnd, n, f"{time.perf_counter() - t:.1f} s", flush=True)
Path(sys.argv[2]).write_bytes(pickle.dumps(out))
