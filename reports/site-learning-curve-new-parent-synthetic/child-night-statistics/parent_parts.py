"""The parent on a lab's test nights with its inference parts removed one at a time (what a child loses)."""
import sys, tempfile
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
import torch; torch.set_num_threads(1)
import bench_site as bsite
from sleepscope.model.checkpoint import default_model_path, load_model
parent, card = load_model(default_model_path())
print("config:", parent.config.eeg_opinion, parent.config.night_statistics)
for lab in sys.argv[1:]:
    with tempfile.TemporaryDirectory() as d:
        L = bsite.make_lab(Path(d), bsite.SIZES["reduced"], lab[0], False, int(lab[1:]), parent.config.normalisation)
        out = []
        for name, kw in (("shipped", {}), ("no EEG-alone opinion", {"eeg_opinion": 0.0}),
                         ("no night statistics", {"night_statistics": False}),
                         ("neither", {"eeg_opinion": 0.0, "night_statistics": False})):
            m, _ = load_model(default_model_path()); m.config = m.config.with_(**kw)
            s = bsite.score(m, L.test)
            out.append(f"{name} {s['accuracy']:.3f} (" + " ".join(f"{k} {v:.2f}" for k, v in s['stage_f1'].items()) + ")")
        print(lab, " | ".join(out), flush=True)
