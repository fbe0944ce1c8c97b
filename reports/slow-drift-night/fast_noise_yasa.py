"""Probe: YASA and the second-opinion familiarity reason on young nights with 6 uV RMS of 20-45 Hz noise on the EEG.

    .venv/bin/python reports/slow-drift-night/fast_noise_yasa.py CACHE_YOUNG > fast-noise-yasa.log     (SYNTHETIC)
"""
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "reports" / "slow-drift-night")]
import numpy as np  # noqa: E402
import bench_shift as bs
from fast_noise import noisy
from sleepscope.model.checkpoint import load_model, default_model_path
from sleepscope.model.infer import predict
from sleepscope.model.familiarity import with_second_opinion
model = load_model(default_model_path())[0]
for fam in ("A", "B"):
    for uv in (0.0, 6.0):
        accs, ours, fired = [], [], 0
        for n in bs.TEST_NIGHTS:
            rec, y = bs.cached_recording(n, fam, False, 0, pathlib.Path(sys.argv[1]))
            r = rec if uv == 0 else noisy(rec, uv)
            pr = bs.yasa_probs(r); st = pr.argmax(1)
            p = predict(r, model)
            ok = y >= 0
            accs.append(np.mean(st[ok] == y[ok])); ours.append(np.mean(p.stages[ok] == y[ok]))
            f = with_second_opinion(p.familiarity, model.familiarity, p.stages, st)
            fired += not f.familiar
        print(fam, uv, "YASA accuracy %.3f, the model %.3f (means of nights), unfamiliar with YASA %d/8" % (np.mean(accs), np.mean(ours), fired), flush=True)
