"""Recipe: the best weights a stopped `sleepscope train` run had kept, written as a model with its card.

    .venv/bin/python models/model_from_state.py STATE_JSON --init MODEL --out OUT [--passes N] [--eeg-opinion W]

A run that the device tool's time limit stopped (``models/train_parent_gpu.sh``) leaves a resumable state
(``OUT.state.json`` + tensors) whose best weights are those of the best validated pass so far. Resuming needs
the cohort and the caches, which stayed on the machine; this writes those best weights as they are, the
card saying how far the run got. ``--init`` is the model the run started from (its pre-trained encoders):
it gives the configuration and the lineage.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("state", type=Path, help="the run's OUT.state.json")
    ap.add_argument("--init", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--normalisation", default="epoch+amplitude", choices=("epoch", "night", "epoch+amplitude"))
    ap.add_argument("--channel-dropout", type=float, default=0.3)
    ap.add_argument("--passes", type=int, default=15, help="passes the run was asked for")
    ap.add_argument("--eeg-opinion", type=float, default=0.0,
                    help="ModelConfig.eeg_opinion of the written model (the shipped model's is 0.5)")
    ap.add_argument("--eog-opinion", type=float, default=0.0,
                    help="ModelConfig.eog_opinion of the written model")
    ap.add_argument("--families", default="A,C")
    ap.add_argument("--data", default="", help="what the run trained on, for the card")
    ap.add_argument("--trained-on", default="one NVIDIA H200 (the device tool's machine)")
    args = ap.parse_args(argv)

    from safetensors.torch import load as load_bytes

    from sleepscope.model.checkpoint import ModelCard, load_model, save_model
    from sleepscope.model.network import with_normalisation

    doc = json.loads(args.state.read_text(encoding="utf-8"))
    if not doc.get("has_best"):
        raise SystemExit(f"{args.state}: the run kept no validated best weights")
    loop = doc["loop"]
    tensors = load_bytes(args.state.with_name(doc["tensors"]).read_bytes())
    best = {k[len("best."):]: v for k, v in tensors.items() if k.startswith("best.")}
    init, init_card = load_model(args.init)
    model = with_normalisation(init, args.normalisation)
    model.load_state_dict(best, strict=True)
    model.config = model.config.with_(eeg_opinion=args.eeg_opinion, eog_opinion=args.eog_opinion)
    passes_done = loop["epoch"]
    card = ModelCard(
        config=model.config,
        parent=init_card.version,
        data=(f"{args.data}; initialised from {args.init.name} (version {init_card.version}: {init_card.data}); "
              f"the best of {passes_done} validated passes (pass {loop['best_epoch'] + 1}, step "
              f"{loop['best_step']}) of the {args.passes} asked for: the device's time stopped the run at step "
              f"{loop['step']}"),
        metrics={"validation": {"macro_f1": loop["best_metric"]}, "best_pass": loop["best_epoch"] + 1,
                 "passes_done": passes_done, "steps": loop["step"], "training_seconds": round(loop["seconds"]),
                 "training_families": args.families.split(","), "trained_on": args.trained_on},
        notes=f"channel dropout {args.channel_dropout}; Adam lr "
              f"{doc['optimizer']['param_groups'][0]['lr']}; trained on {args.trained_on}",
        familiarity={"channel_dropout": args.channel_dropout} if args.channel_dropout else {},
    )
    card = save_model(model, args.out, card)
    print(f"wrote {args.out} (version {card.version}): best pass {loop['best_epoch'] + 1} of {passes_done}, "
          f"validation macro-F1 {loop['best_metric']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
