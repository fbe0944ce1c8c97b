"""Choose among training recipes on the card's 20 calibration nights (train_robust's validation nights and the first
nights of subjects 20-35, families A and C laid out as train_robust lays them; no benchmark's test night): accuracy
as recorded, with 6 and 3 uV of 20-45 Hz noise on the EEG, and with bench_shift's 60-uV beats on the EEG and EOG
(no ECG lead).

    .venv/bin/python reports/fast-noise-synthetic/choose_recipe.py CACHE MODEL... > choose-recipe.log

SYNTHETIC nights (CACHE keeps them between runs).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks"), str(ROOT / "models"), str(Path(__file__).parent)]


def main(cache: Path, paths: list[str]) -> None:
    import torch

    import bench_shift as bs
    import train_robust as tr
    from screen import changed
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.infer import predict

    torch.set_num_threads(2)
    recs = []
    for i, name in enumerate(tr.calibration_nights()):
        # as train_robust.nights(first_randomised=True, families=("A", "C")) lays them out
        recs.append(bs.cached_recording(name, ("A", "C")[(i // 2) % 2], i % 2 == 0, 0, cache))
    print(f"{len(recs)} calibration nights; accuracy: as recorded | 6 uV 20-45 Hz on the EEG | 60-uV beats | 3 uV")
    for path in paths:
        model = load_model(Path(path))[0]
        out = []
        for how in (0, 6.0, "ECG beats", 3.0):
            hit = tot = 0
            for rec, y in recs:
                p = predict(changed(rec, y, how), model)
                ok = (y >= 0) & ~p.artefact
                hit += int((ok & (p.stages == y)).sum())
                tot += int(ok.sum())
            out.append(hit / tot)
        print(f"{Path(path).stem:<22} " + " | ".join(f"{a:.3f}" for a in out), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
