import sys
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[2] / "benchmarks"))
import torch
torch.set_num_threads(1)
import bench_site
from sleepscope.model.checkpoint import default_model_path, load_model
from sleepscope.model.chain_choice import chain_verdict
from sleepscope.model.finetune import contiguous_runs
family, seed, work = sys.argv[1], int(sys.argv[2]), sys.argv[3]
parent, card = load_model(default_model_path())
lab = bench_site.make_lab(bench_site.Path(work), bench_site.SIZES["reduced"], family, False, seed, parent.config.normalisation)
for k in (bench_site.NIGHT, bench_site.NIGHTS3):
    cs = bench_site.corrections(lab.pool, k, 0)
    runs = [(cs.x[i], cs.y[i]) for i in contiguous_runs(cs)]
    v = chain_verdict(parent, card.calibration, runs)
    print(f"{family}{seed} {bench_site.k_label(k)}: {len(runs)} runs, {sum(len(y) for _, y in runs)} epochs; gap without {v['gap_without']:+.4f} ± {v['standard_error']:.4f} over {v['blocks']} blocks: {'kept' if v['kept'] else 'DECLINED'}", flush=True)
