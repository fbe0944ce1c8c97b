"""Each night's final probabilities and every opinion `predict` averaged into them, on bench_shift's cached nights.

    python opinions.py A,B,E,D OUT.pkl CACHE        # CACHE: bench_shift.py --cache's folder

The opinions are recorded per pass of ``infer._outputs`` (trained encoder statistics, then the night's own):
the EEG + EOG and the EEG-alone logits where it mixes them (``network.mix_opinions``), a one-channel night's
logits otherwise.
"""
import pickle
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import torch  # noqa: E402

import bench_shift as bs  # noqa: E402
import sleepscope.model.network as network  # noqa: E402
import sleepscope.model.infer as infer  # noqa: E402
from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402

torch.set_num_threads(1)
model = load_model(default_model_path())[0]
calls: list = []
mix = network.mix_opinions


def recording_mix(a, b, w):
    calls.append((a.numpy().copy(), b.numpy().copy(), w))
    return mix(a, b, w)


network.mix_opinions = recording_mix
plain_outputs = infer._outputs


passes: list = []


def recording_outputs(net, x, config, pair, *args, **kw):
    before = len(calls)
    feats, logits = plain_outputs(net, x, config, pair, *args, **kw)
    inside = calls[before:]
    passes.append([inside[0][0], inside[0][1]] if pair else [logits.numpy().copy()])
    return feats, logits


infer._outputs = recording_outputs
out = {}
for fam in sys.argv[1].split(","):
    for rnd in (False, True):
        for n in bs.TEST_NIGHTS[:8]:
            for how in ("both", "EEG only"):
                if how != "both" and rnd:
                    continue
                t = time.perf_counter()
                rec, y = bs.cached_recording(n, fam, rnd, 0, Path(sys.argv[3]))
                if how != "both":
                    rec = bs.perturb(rec, y, how)
                calls.clear()
                passes.clear()
                o = bs.score_model(model, rec, y)
                opinions = [z for p in passes for z in p]
                out[(fam, rnd, how, n)] = {"y": y, "probs": o["probs"], "artefact": o["artefact"],
                                           "unsure": o["unsure"], "opinions": opinions}
                print(fam, rnd, how, n, len(opinions), f"{time.perf_counter() - t:.1f} s", flush=True)
Path(sys.argv[2]).write_bytes(pickle.dumps(out))
