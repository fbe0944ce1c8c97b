"""How much work one run of the paper's experiment does: the `smoke`, `quick` and `full` budgets.

Every figure is a fixed number of optimiser steps, not a time limit, so that a
run is reproducible: the same budget, data and seed give the same numbers on
any machine of the same kind.

Why `quick` is the size it is (2-core CPU, synthetic Sleep-EDF-78: 153 nights,
~930 epochs each after trimming; ≤ 45 min including the HDF5 cache)
--------------------------------------------------------------------------------
Pieces timed with `sleepscope experiment time-pieces --config default`
(`sleepscope/experiments/timing.py`), one thread, CPU seconds of the process
(`time.process_time`) because five other engineers shared the two cores while
measuring (load average ~10): CPU time per step does not depend on the load,
wall time does. Measured 2026-11-24 07:00 UTC, `default` configuration:

    cache build (EDF → HDF5)        0.62 s per night (wall, 2 nights)  → 153 nights ≈   95 s
    pre-training step, batch 32     CLIP 0.58, SimCLR 0.27, TS-TCC 0.26 s
    fine-tuning step, 4 × 20 epochs 0.72 s
    scoring (predict, BN folded)    ~410 epochs/s (2.4 ms per epoch)

Quick budget (2 seeds; pre-training once, shared by the seeds):

    cache                               95 s
    pre-training   100 steps × (0.58 + 0.27 + 0.26) s                  =  111 s
    32 runs (4 methods × 4 N × 2 seeds), each at most:
      fine-tuning  40 steps × 0.72 s                                   =   29 s
      validation   4 × (4 nights × 300 epochs) / 410 epochs/s          =   12 s
      test         4 subjects, all 8 nights ≈ 7,400 epochs / 410       =   18 s
                                                       per run ≈ 59 s → 1,890 s
    total ≈ 2,100 CPU-seconds ≈ 35 min on one thread

so the whole budget fits 45 minutes even if the second core added nothing;
with two threads on a quiet machine it is shorter. Early stopping only
shortens runs. 100 pre-training steps of 32 epochs see 3,200 of the ~106,000
pre-training epochs (3 %), a random subset over all 58 subjects; 40
fine-tuning steps see 3,200 labelled epochs (about half a pass at N = 3, an
eighth at N = 12). These are far below the paper's training and the
absolute numbers will be too; `full` is the budget for conclusions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sleepscope.errors import SleepScopeError


@dataclass(frozen=True)
class Budget:
    name: str
    #: model configuration (sleepscope.model.CONFIGS)
    config: str
    seeds: int
    #: pre-train once per seed (True) or once, with seed 0, shared by every seed (False)
    pretrain_per_seed: bool
    pretrain_steps: int
    pretrain_batch: int
    #: most fine-tuning steps per run (early stopping may end sooner)
    finetune_steps: int
    batch_size: int
    #: epochs per training sequence (None: the model's)
    seq_len: int | None
    #: validate every this many fine-tuning steps (and at the last step)
    val_every: int
    #: validations without a better macro-F1 before stopping
    patience: int
    #: validation epochs kept per night (evenly spaced blocks); None = every epoch
    val_epochs_per_night: int | None
    #: validate on the first night of each validation subject only
    val_first_night_only: bool
    class_weights: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


BUDGETS: dict[str, Budget] = {
    # For tests: a handful of steps on a tiny cohort; proves the plumbing, not the science.
    "smoke": Budget(name="smoke", config="tiny", seeds=1, pretrain_per_seed=False, pretrain_steps=2,
                    pretrain_batch=8, finetune_steps=3, batch_size=2, seq_len=10, val_every=2, patience=2,
                    val_epochs_per_night=None, val_first_night_only=False),
    # ≤ 45 min on the 2-core CPU (arithmetic above).
    "quick": Budget(name="quick", config="default", seeds=2, pretrain_per_seed=False, pretrain_steps=100,
                    pretrain_batch=32, finetune_steps=40, batch_size=4, seq_len=None, val_every=10,
                    patience=3, val_epochs_per_night=300, val_first_night_only=True),
    # A GPU: the paper-sized network, ~20 passes of pre-training over the 58 subjects
    # (106,000 epochs / 256 per step ≈ 415 steps per pass), fine-tuning until early stopping.
    "full": Budget(name="full", config="paper", seeds=3, pretrain_per_seed=True, pretrain_steps=8000,
                   pretrain_batch=256, finetune_steps=6000, batch_size=4, seq_len=None, val_every=250,
                   patience=6, val_epochs_per_night=None, val_first_night_only=False),
}


def get_budget(name: str) -> Budget:
    try:
        return BUDGETS[name]
    except KeyError:
        raise SleepScopeError(f"unknown budget {name!r}; choose one of {', '.join(BUDGETS)}") from None
