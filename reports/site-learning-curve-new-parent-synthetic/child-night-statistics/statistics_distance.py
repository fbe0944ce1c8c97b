"""How far each night's encoder batch-norm statistics lie from the corrections' (one night) and the trained ones
(mean KL divergence per channel over the encoders' batch norms), for the in-distribution case and bench_site labs.

    .venv/bin/python reports/site-learning-curve-new-parent-synthetic/child-night-statistics/statistics_distance.py \
        B23 D23 E23 A7
"""
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
torch.set_num_threads(1)
from bench_finetune import NIGHT1, NIGHT2, SUBJECT, sleep_span, synth_array  # noqa: E402
from bench_site import SIZES, make_lab  # noqa: E402

from sleepscope.data.synthetic import real_hypnogram  # noqa: E402
from sleepscope.model.checkpoint import default_model_path, load_model  # noqa: E402
from sleepscope.model.inputs import model_input  # noqa: E402
from sleepscope.model.night_norm import SAMPLE_EPOCHS, batch_norms, sample_epochs, with_statistics  # noqa: E402

parent, card = load_model(default_model_path())
parent.eval()


def stats(x, y):
    """The encoders' batch-norm (mean, variance) on the night's sleep period, as pre-scoring estimates them."""
    idx = sample_epochs(y)
    if idx is None:
        idx = np.linspace(0, len(x) - 1, min(SAMPLE_EPOCHS, len(x))).astype(int)
    m = with_statistics(parent, x[idx])
    return [(bn.running_mean.clone(), bn.running_var.clone()) for bn in batch_norms(m, x[idx])]


trained = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in batch_norms(parent, np.ones((1, 2, 3000)))]


def kl(a, b):
    """Mean over layers of the mean over channels of KL(N(a) || N(b))."""
    out = []
    for (m1, v1), (m0, v0) in zip(a, b):
        v1, v0 = v1 + 1e-5, v0 + 1e-5
        out.append(float((0.5 * ((m1 - m0) ** 2 / v0 + v1 / v0 - 1 - torch.log(v1 / v0))).mean()))
    return float(np.mean(out))


rec1, lab1 = synth_array(NIGHT1, SUBJECT, 1, sleep_span(real_hypnogram(NIGHT1), 1000))
rec2, lab2 = synth_array(NIGHT2, SUBJECT, 2)
c = stats(model_input(rec1, parent.config.normalisation), lab1)
s2 = stats(model_input(rec2, parent.config.normalisation), lab2)
print(f"A subject {SUBJECT}: corr-vs-trained {kl(c, trained):.3f}  night2-vs-corr {kl(s2, c):.3f}  "
      f"night2-vs-trained {kl(s2, trained):.3f}", flush=True)
for lab in sys.argv[1:]:
    with tempfile.TemporaryDirectory() as tmp:
        L = make_lab(Path(tmp), SIZES["reduced"], lab[0], False, int(lab[1:]), parent.config.normalisation)
        c = stats(L.pool[0].x, L.pool[0].y)
        line = f"{lab}: corr({L.pool[0].name})-vs-trained {kl(c, trained):.3f} |"
        for n in L.pool[1:] + L.test:
            s = stats(n.x, n.y)
            line += f" {n.name}: vs corr {kl(s, c):.3f} vs trained {kl(s, trained):.3f};"
        print(line, flush=True)
