"""What the check child chose, on one lab and corrections (`python choose_check.py D29 night+300`)."""
import sys, tempfile
from pathlib import Path
ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]
import torch; torch.set_num_threads(1)
import bench_site as bsite
from sleepscope.model.checkpoint import default_model_path, load_model
from sleepscope.model.finetune import FineTuneOptions, finetune
parent, card = load_model(default_model_path())
lab = sys.argv[1]
with tempfile.TemporaryDirectory() as d:
    L = bsite.make_lab(Path(d), bsite.SIZES["reduced"], lab[0], False, int(lab[1:]), parent.config.normalisation)
    cs = bsite.corrections(L.pool, bsite.parse_ks(sys.argv[2])[0], 0)
    r = finetune(parent, card, cs, None, FineTuneOptions(epochs=10, seed=0, reading="choose"))
    print(r.card.metrics["other_recording"]["reading_choice"], r.card.metrics["finetune"]["reading"])
    print("test acc", bsite.score(r.model, L.test)["accuracy"])
