"""How much work one run of the paper's experiment does: the `smoke`, `quick`, `cpu` and `full` budgets.

Every figure is a fixed number of optimiser steps (at each N), not a time
limit, so that a run is reproducible: the same budget, data and seed give the same numbers on
any machine of the same kind.

Why `quick` is the size it is (2-core CPU, synthetic Sleep-EDF-78: 153 nights,
~930 epochs each after trimming; ≤ 45 min including the HDF5 cache)
--------------------------------------------------------------------------------
Timed 2026-11-24 07:25 UTC on this machine while five other engineers shared
its two cores (load average 4-7), one torch thread, `default` configuration.
Wall seconds (CPU seconds of the process in brackets: they do not grow with
the others' load and predict a quiet machine).

1. Pieces, `sleepscope experiment time-pieces --budget quick` (timing.py):
   cache build 0.62 s per night (0.20); pre-training step of 32 epochs CLIP
   0.29 s (0.07), SimCLR 0.44 s (0.12), TS-TCC 0.40 s (0.13); fine-tuning
   step of 4 × 20 epochs 0.64 s (0.22); scoring 2.8 ms per epoch (0.7).
2. A whole mini-experiment with the previous quick settings (100 pre-training
   steps, 40 fine-tuning steps, validation every 10): 22 synthetic nights
   (the 4 validation subjects' first nights, the 4 test subjects' 8 nights,
   3 training subjects, 2 pre-training subjects), 1 seed, N = 3, 4 runs:
   196 s wall (107 s CPU) in all. Per run: fine-tuning with its 4
   validations of 1,200 epochs 11-16 s (11-13), test on 8,769 epochs 5 s
   (5); pre-training 100 steps CLIP 7 s (6), SimCLR 72 s (16), TS-TCC 29 s
   (13). Every run's validation macro-F1 was still rising at step 40, so the
   quick budget trains 2.5 times longer:
3. The same mini-experiment with the quick budget below (300 pre-training
   steps, 100 fine-tuning steps, validation every 20; cache already built):
   348 s wall (233 s CPU). Per run, fine-tuning + test: 46-62 s wall (30-35
   s CPU); pre-training 300 steps: CLIP 23 s (19), SimCLR 50 s (40), TS-TCC
   64 s (42).

   Reproduce 2 and 3 with
   `sleepscope synth --out D --nights SC4001E0,SC4002E0,SC4051E0,SC4061E0,SC4062E0,SC4091E0,SC4092E0,SC4101E0,SC4111E0,SC4112E0,SC4121E0,SC4122E0,SC4131E0,SC4141E0,SC4142E0,SC4151E0,SC4152E0,SC4171E0,SC4201E0,SC4202E0,SC4211E0,SC4212E0`
   then `sleepscope experiment paper --data D --out O --budget quick --seeds 1 --threads 1
   --split-file S` with S = {"validation": [10, 17, 5, 13], "test": [0, 15, 9, 6], "train": [11, 12, 14],
   "ns": [3]} (the figures above were taken with scoring held to one thread as well).

Quick (2 seeds; pre-training once, shared by the seeds), from 3 and 1:

                                            wall, load ~6    CPU (quiet machine)
    cache          153 nights × 0.62 s (0.20)      95 s          31 s
    pre-training   CLIP + SimCLR + TS-TCC         137 s         101 s
    32 runs (4 methods × 4 N × 2 seeds) × 52 s (33) 1,660 s     1,060 s
    total                                       ≈ 32 min      ≈ 20 min

(the test subjects' 8 nights are the same 8,769 epochs in every run; the
training nights only change the time through the number of steps, which is
fixed). Both fit 45 minutes.

Why `cpu` is the size it is (decide something within one working session)
--------------------------------------------------------------------------
`quick` cannot decide anything: 100 fine-tuning steps are about one pass at
N = 3 and a third of one at N = 12, so larger N add data never seen and the
seed spread swamps the differences. `cpu` counts fine-tuning in passes: up to
3 passes over the N subjects' labelled sequences at every N (ceil(23.5 N)
steps of 4 × 20 epochs per pass on the synthetic cohort), validation twice
per pass, stopped after 1.5 passes without a better validation macro-F1, and
3 seeds each with its own pre-training (600 steps of 32 epochs per method).

Timed mini-run (reports/paper-synthetic-cpu-minirun/), 2026-12-01 20:12-20:45 UTC on this 2-core machine at load
average 9-10 (other engineers' tests), one torch thread, `default`
configuration: the budget as first drafted (4 passes, patience 2 passes),
pre-training cut to 100 steps, 1 seed, N = 3, the 22 nights and split of
`quick`'s mini-run plus the 8 test nights of family B (`--shift-data`).
Wall seconds (CPU seconds of the process in brackets):

- pre-training 100 steps: CLIP 26 (8), SimCLR 102 (16), TS-TCC 93 (19): per
  step 0.08 / 0.16 / 0.19 CPU seconds;
- fine-tuning at N = 3 (73 steps per pass, validated every 36 steps on 1,200
  epochs), validations included: supervised 292 steps (4 passes, best at
  216) 264 s (79); SimCLR stopped early at 216 (best 72) 237 s (59); TS-TCC
  292 steps (best 216) 169 s (74); CLIP 292 steps (best 292) 353 s (80):
  0.20-0.27 CPU seconds per step;
- test, 8,769 epochs, and the held-out family's 8 nights: 12-17 s and 12-15 s
  (4 s CPU each).

The `cpu` budget from these (no early stopping; it only shortens runs):
fine-tuning 3 × 23.5 × (3 + 6 + 9 + 12) ≈ 2,120 steps per method and seed,
× 12 = 25,400 steps × 0.27 s = 1.9 h CPU; pre-training 3 seeds × 600 steps ×
0.43 s = 13 min; tests 48 × 8 s = 6 min; cache 153 nights × 0.2 s = 31 s:
**≈ 2.3 h on a quiet 2-core machine** (one thread: CPU ≈ wall), ≈ 7.5 h at
the load of the mini-run (wall ≈ 3.2 × CPU for fine-tuning). Both fit one
working session.

Early stopping only shortens runs. 300 pre-training steps of 32 epochs see
9,600 of the ~106,000 pre-training epochs (9 %), a random subset over all 58
subjects; 100 fine-tuning steps see 8,000 labelled epochs (about 1.3 passes
at N = 3, a third of one at N = 12). That is far below the paper's training
and the absolute numbers will be too; `full` is the budget for conclusions.
"""

from __future__ import annotations

import math
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
    #: at each N, at most this many passes over the N subjects' labelled sequences (the step
    #: count then grows with N; `finetune_steps` stays a cap); None = `finetune_steps` at every N
    finetune_passes: float | None = None
    #: validations per pass (`val_every` then follows N); None = every `val_every` steps
    val_per_pass: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def steps_at(self, steps_per_pass: int) -> tuple[int, int]:
        """(most fine-tuning steps, validate every) for a training set of `steps_per_pass` batches."""
        steps = self.finetune_steps
        if self.finetune_passes is not None:
            steps = min(steps, max(1, math.ceil(self.finetune_passes * steps_per_pass)))
        every = self.val_every
        if self.val_per_pass is not None:
            every = max(1, steps_per_pass // self.val_per_pass)
        return steps, every


BUDGETS: dict[str, Budget] = {
    # For tests: a handful of steps on a tiny cohort; proves the plumbing, not the science.
    "smoke": Budget(name="smoke", config="tiny", seeds=1, pretrain_per_seed=False, pretrain_steps=2,
                    pretrain_batch=8, finetune_steps=3, batch_size=2, seq_len=10, val_every=2, patience=2,
                    val_epochs_per_night=None, val_first_night_only=False),
    # ≤ 45 min on the 2-core CPU (arithmetic above).
    "quick": Budget(name="quick", config="default", seeds=2, pretrain_per_seed=False, pretrain_steps=300,
                    pretrain_batch=32, finetune_steps=100, batch_size=4, seq_len=None, val_every=20,
                    patience=3, val_epochs_per_night=300, val_first_night_only=True),
    # The 2-core CPU in one working session, sized to decide something (the arithmetic is
    # under "Why `cpu`" above): every labelled epoch seen up to 3 times at each N, validated
    # twice per pass, stopped after 1.5 passes without a better validation macro-F1, 3 seeds
    # each with its own pre-training.
    "cpu": Budget(name="cpu", config="default", seeds=3, pretrain_per_seed=True, pretrain_steps=600,
                  pretrain_batch=32, finetune_steps=5000, batch_size=4, seq_len=None, val_every=50,
                  patience=3, val_epochs_per_night=300, val_first_night_only=True, finetune_passes=3.0,
                  val_per_pass=2),
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
