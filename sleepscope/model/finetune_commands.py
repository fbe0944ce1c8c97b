"""`sleepscope finetune`: fine-tune a model on the technician's corrections, from the GUI or a server.

With ``--progress jsonl`` it prints one JSON object per line on stdout, for
the GUI's fine-tuning dialog (which runs it as a separate process)::

    {"event": "status", "message": ...}           preparing
    {"event": "parent", "val_macro_f1": ..., ...}  the parent on the held-out epochs
    {"event": "step", "step": s, "total": n, "loss": ...}
    {"event": "epoch", "epoch": k, "val_macro_f1": ..., ...}
    {"event": "done", "model": path, "version": ..., "registered": path|null, "metrics": {...}}
    {"event": "error", "message": ...}
    {"event": "cancelled"}

SIGTERM (and Ctrl-C) stop it at the next step or validation batch, without
writing a model. Runs data-parallel under ``torchrun --nproc_per_node K -m
sleepscope finetune ...`` (rank 0 reports and writes).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
from pathlib import Path
from typing import Any

from sleepscope.errors import SleepScopeError
from sleepscope.model.parent_reading import ON_BY_DEFAULT as READING_ON


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "finetune",
        help="fine-tune a model on the technician's corrections (scoring files)",
        description="Fine-tune MODEL on the epochs a technician labelled in the given scoring files, holding out "
        "part of them (whole blocks of consecutive epochs, stratified by stage) to compare the new model with "
        "its parent on the same epochs. Writes OUT.safetensors + OUT.json; --register also adds parent and "
        "child to the model registry (not activated: activation is the technician's decision).",
    )
    p.add_argument("--scoring", type=Path, nargs="+", required=True, metavar="FILE",
                   help="scoring files (.sleepscope.h5) or folders holding them")
    p.add_argument("--recording", type=Path, nargs="*", default=[], metavar="PATH",
                   help="where the recordings are when not beside their scoring files")
    p.add_argument("--from", dest="parent", required=True, metavar="MODEL",
                   help="the model to start from: a .safetensors path, a registry version, or 'active'")
    p.add_argument("--out", type=Path, required=True, metavar="MODEL", help="the model to write (OUT.safetensors)")
    p.add_argument("--epochs", type=int, default=10, help="most passes over the corrections (default 10)")
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate (default 1e-4)")
    p.add_argument("--batch-size", type=int, default=4, help="sequences per step (default 4)")
    p.add_argument("--freeze-encoders", action=argparse.BooleanOptionalAction, default=None,
                   help="keep the encoders fixed (faster, less change); default: as the parent was trained")
    p.add_argument("--holdout", type=float, default=0.2, help="fraction held out (default 0.2): half chooses the kept "
                   "pass, the other half gives the child-versus-parent figures")
    p.add_argument("--patience", type=int, default=3, help="passes without a better held-out macro-F1 before stopping")
    p.add_argument("--class-weights", action="store_true", help="weight the loss by inverse stage frequency")
    p.add_argument("--sources", default="technician,model,import",
                   help="label sources to learn from: technician, model (accepted predictions), import "
                   "(imported hypnograms); comma-separated (default: all three)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    p.add_argument("--min-steps", type=int, default=None,
                   help="fewest optimiser steps, however few the corrections: extra passes are made to reach them "
                   "and early stopping waits for them (default 40)")
    p.add_argument("--pseudo-labels", type=Path, nargs="+", default=None, metavar="PATH",
                   help="unlabelled recordings of the lab (files or folders): epochs where the model and YASA agree "
                   "with high confidence are learnt from as their own label source (pseudo-labels), weighted below "
                   "the technician's and never held out (needs yasa)")
    p.add_argument("--parent-reading", action=argparse.BooleanOptionalAction, default=READING_ON,
                   help="for each stage the corrections hold fewer than 20 epochs of, also learn the current model's "
                   "confident reading of that stage on the corrected recordings' uncorrected epochs (at most 200 "
                   "each, weighted as pseudo-labels); it keeps what the model read of a stage the corrections lack "
                   "and can keep its errors on a lab it reads poorly (default: "
                   f"{'on' if READING_ON else 'off'})")
    p.add_argument("--pseudo-weight", type=float, default=0.5, help="loss weight of a pseudo-label (default 0.5)")
    p.add_argument("--pseudo-balance", action="store_true",
                   help="weight pseudo-labels so that each stage weighs as much among them as among the "
                   "technician's labels (off by default: it did worse in the site learning curve)")
    p.add_argument("--pseudo-threshold", type=float, default=0.8,
                   help="lowest probability both opinions must give the agreed stage (default 0.8)")
    p.add_argument("--keep-parent", type=float, default=None, metavar="SHARE",
                   help="average the kept child with the parent, this share of the parent's weights "
                        "(default: FineTuneOptions.keep_parent; 0: the child as trained)")
    p.add_argument("--choose-share", action=argparse.BooleanOptionalAction, default=None,
                   help="with corrections of two recordings or more, keep the child as trained instead of the "
                        "average when the check child reads the recording it left out better than its average "
                        "does (default: on)")
    p.add_argument("--distill", type=float, default=None, metavar="W",
                   help="weight of the parent's stage probabilities in the loss (default: FineTuneOptions.distill; "
                        "0: the corrections alone)")
    p.add_argument("--distill-agreed", action=argparse.BooleanOptionalAction, default=None,
                   help="learn the parent's probabilities only on the corrected epochs whose label its stage agrees "
                        "with (default: FineTuneOptions.distill_agreed)")
    p.add_argument("--opinion", choices=("keep", "drop", "choose"), default=None,
                   help="a parent that mixes in its one-channel opinions (EEG alone, EOG alone): the child keeps "
                        "them, drops them or chooses by the held-out part (default: FineTuneOptions.opinion)")
    p.add_argument("--reading", choices=("trained", "night", "choose"), default=None,
                   help="a parent that reads each night with its own encoder statistics too: the new model reads "
                        "nights with its trained statistics only, also with each night's own (the default: other "
                        "subjects' nights and, in labs unlike the training data, the corrected subjects' next nights "
                        "better), or chooses by how a check fine-tuning reads a recording it left out "
                        "(default: FineTuneOptions.reading)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: one fewer than the physical cores, so that the "
                   "workstation stays responsive while it trains)")
    p.add_argument("--nice", type=int, default=0, metavar="N",
                   help="lower this process's CPU priority by N (POSIX), so that the GUI that started it stays "
                   "responsive (the fine-tuning dialog passes 10)")
    p.add_argument("--progress", choices=("tqdm", "jsonl", "none"), default="tqdm",
                   help="tqdm: a progress bar; jsonl: one JSON event per line on stdout (for the GUI)")
    p.add_argument("--register", action="store_true", help="add the parent and the new model to the registry")
    p.set_defaults(func=_finetune)


class _Emitter:
    """Writes events as JSON lines (jsonl mode) on the main process."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, event: dict) -> None:
        if self.enabled:
            sys.stdout.write(json.dumps(_finite(event)) + "\n")
            sys.stdout.flush()


def _finite(obj: Any) -> Any:
    # JSON has no NaN: a stage absent from the held-out epochs has no F1.
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def resolve_parent(spec: str) -> Path:
    """A model path from a path, a registry version id, or 'active'."""
    from sleepscope.model.registry import ModelRegistry

    p = Path(spec)
    if p.suffix in (".safetensors", ".json") or p.exists() or p.with_name(p.name + ".safetensors").exists():
        return p
    reg = ModelRegistry()
    if spec == "active":
        v = reg.active()
        if v is None:
            raise SleepScopeError("--from active: no model is active in the registry; give a model path")
        return v.path
    if spec in reg:
        return reg.get(spec).path
    return p  # load_model explains that nothing is there


def _finetune(args: argparse.Namespace) -> int:
    from sleepscope.tasks import CancelToken, Cancelled

    cancel = CancelToken()
    # Until the model is written nothing needs finishing, so a signal stops the work at
    # once (between two torch operations) rather than at the end of a training step,
    # which can take seconds on a busy CPU. While the model and registry are written
    # the signal only sets the token: those writes are short and must not be torn.
    phase = {"interruptible": True}

    def on_signal(signum, _frame) -> None:
        if cancel.cancelled and not phase["interruptible"]:
            return
        cancel.cancel()
        if phase["interruptible"]:
            raise Cancelled()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    emit = _Emitter(args.progress == "jsonl")
    try:
        return _run(args, emit, cancel, phase)
    except Cancelled:
        emit({"event": "cancelled"})
        print("sleepscope: fine-tuning cancelled; no model was written", file=sys.stderr)
        return 130
    except SleepScopeError as exc:
        emit({"event": "error", "message": str(exc)})
        raise
    except Exception as exc:
        emit({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        raise


def options_from(args: argparse.Namespace):
    """The FineTuneOptions the command line asks for (the product's defaults where it is silent), checked."""
    from sleepscope.model.finetune import FineTuneOptions

    opts = FineTuneOptions(epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
                           freeze_encoders=args.freeze_encoders, holdout=args.holdout, patience=args.patience,
                           class_weights=args.class_weights, max_steps=args.max_steps, seed=args.seed,
                           pseudo_weight=args.pseudo_weight, pseudo_balance=args.pseudo_balance,
                           **({} if args.min_steps is None else {"min_steps": args.min_steps}),
                           **({} if args.keep_parent is None else {"keep_parent": args.keep_parent}),
                           **({} if args.choose_share is None else {"choose_share": args.choose_share}),
                           **{k: v for k in ("distill", "distill_agreed", "opinion", "reading")
                              if (v := getattr(args, k)) is not None})
    opts.validate()
    return opts


def _run(args: argparse.Namespace, emit: _Emitter, cancel, phase: dict) -> int:
    from sleepscope.model.checkpoint import load_model, save_model
    from sleepscope.model.distributed import setup, teardown
    from sleepscope.model.finetune import finetune
    from sleepscope.model.registry import ModelRegistry
    from sleepscope.scoring.corrections import build_correction_set, few_note, scarce_note, scarce_stages
    from sleepscope.scoring.scoring_file import find_scoring_files
    from sleepscope.tasks import TqdmProgress, check

    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    bad = sorted(set(sources) - {"technician", "model", "import"})
    if bad or not sources:
        raise SleepScopeError(f"--sources: unknown {bad or 'empty list'}; use technician, model and/or import")
    files = find_scoring_files(args.scoring)
    missing = [str(p) for p in args.scoring if not p.exists()]
    if missing:
        raise SleepScopeError(f"--scoring: {', '.join(missing)} not found; give scoring files (.sleepscope.h5)")
    if not files:
        raise SleepScopeError("--scoring: no scoring files (.sleepscope.h5) found in " + ", ".join(map(str, args.scoring)))
    opts = options_from(args)
    _check_writable_before_training(args)
    if args.nice > 0 and hasattr(os, "nice"):
        os.nice(args.nice)
    _set_threads(args.threads)
    info = setup(args.device)
    emit.enabled = emit.enabled and info.is_main
    try:
        emit({"event": "status", "message": "loading the model"})
        parent_path = resolve_parent(args.parent)
        parent, parent_card = load_model(parent_path)
        anchor = _anchor(parent_card, emit)
        check(cancel)
        emit({"event": "status", "message": f"reading the corrections of {len(files)} scoring file(s)"})
        bar_on = args.progress == "tqdm" and info.is_main
        with TqdmProgress("reading corrections", disable=not bar_on) as bar:
            cs = build_correction_set(files, recordings=args.recording, sources=sources, progress=bar, cancel=cancel,
                                      normalisation=parent.config.normalisation)
        for name, why in cs.skipped:
            print(f"sleepscope: skipped {name}: {why}", file=sys.stderr)
        per_stage = cs.counts_per_stage()
        emit({"event": "corrections", "n": len(cs), "per_stage": per_stage,
              "skipped": [f"{n}: {w}" for n, w in cs.skipped]})
        for note in (few_note(len(cs)), scarce_note(per_stage, reading=args.parent_reading)):
            if note is not None and args.progress != "jsonl":
                print(f"sleepscope: note: {note}", file=sys.stderr)
        few = scarce_stages(per_stage)
        reading = pseudo = None
        if args.parent_reading and few:
            from sleepscope.model.parent_reading import from_scoring
            from sleepscope.model.pseudo_labels import our_opinion

            emit({"event": "status", "message": "the current model's confident reading of the uncorrected epochs"})
            with TqdmProgress("reading the uncorrected epochs", disable=not bar_on) as bar:
                reading = from_scoring(files, cs, our_opinion(parent, parent_card)[0], recordings=args.recording,
                                       seed=opts.seed, progress=bar, cancel=cancel)
            for name, why in reading.skipped:
                print(f"sleepscope: the current model's reading: skipped {name}: {why}", file=sys.stderr)
            emit({"event": "parent_reading", "n": len(reading), "per_stage": reading.counts_per_stage(),
                  "stages": few})
        if args.pseudo_labels:
            from sleepscope.model.pseudo_labels import from_recordings

            emit({"event": "status", "message": "pseudo-labels: the model and YASA on the unlabelled recordings"})
            with TqdmProgress("pseudo-labels", disable=not bar_on) as bar:
                pseudo = from_recordings(args.pseudo_labels, parent, parent_card, args.pseudo_threshold,
                                         progress=bar, cancel=cancel)
            for name, why in pseudo.skipped:
                print(f"sleepscope: pseudo-labels: skipped {name}: {why}", file=sys.stderr)
            emit({"event": "pseudo", "n": len(pseudo), "per_stage": pseudo.counts_per_stage()})
        if reading is not None and len(reading):
            from sleepscope.model.pseudo_labels import merge

            pseudo = reading if pseudo is None else merge([pseudo, reading])
        emit({"event": "status", "message": f"fine-tuning on {len(cs)} labelled epochs"
              + (f" and {len(pseudo)} pseudo-labelled ones" if pseudo is not None else "")})
        with TqdmProgress("fine-tuning", disable=not bar_on) as bar:
            result = finetune(parent, parent_card, cs, None, opts, info=info, events=emit, progress=bar,
                              cancel=cancel, pseudo=pseudo, anchor=anchor)
        if not info.is_main:
            return 0
        phase["interruptible"] = False
        check(cancel)
        result.card = save_model(result.model, args.out, result.card)
        result.path = _weights_path(args.out)
        registered = None
        if args.register:
            reg = ModelRegistry()
            if parent_card.version not in reg:
                reg.add(parent_path)
            registered = str(reg.add(result.path).path)
        h = result.card.metrics["heldout"]
        emit({"event": "done", "model": str(result.path), "version": result.card.version,
              "parent": result.card.parent, "registered": registered, "metrics": result.card.metrics})
        if args.progress != "jsonl":
            print(f"wrote {result.path} (version {result.card.version}, parent {result.card.parent}); held-out "
                  f"macro-F1 {h['child']['macro_f1']:.3f} vs parent {h['parent']['macro_f1']:.3f}, accuracy "
                  f"{h['child']['accuracy']:.3f} vs {h['parent']['accuracy']:.3f} on {h['n_epochs']} epochs"
                  + (f"; registered as {registered}" if registered else ""))
            other = result.card.metrics.get("other_recording")
            if other:
                print(other_recording_line(other))
            from sleepscope.model.registry import share_text

            kept = share_text(result.card.metrics["finetune"]).strip()
            if kept:
                print(kept)
    finally:
        teardown(info)
    return 0


def other_recording_line(other: dict) -> str:
    """What the check on a left-out recording found (``metrics["other_recording"]``), in one line."""
    from sleepscope.model.registry import check_verdict, difference_text, left_out_name

    c, p = other["child"], other["parent"]
    said = check_verdict(other)
    return (f"on {left_out_name(other)} ({other['n_epochs']} corrected epochs), a child fine-tuned the same way "
            f"without it scored macro-F1 {c['macro_f1']:.3f} vs parent {p['macro_f1']:.3f} "
            f"({difference_text(other)}): {said}"
            + ("; these corrections may make recordings they do not include worse: correct some epochs of "
               "each kind of recording the lab pre-scores" if said == "worse" else ""))


def _anchor(parent_card, emit):
    """For a site pre-trained start, the stager it was continued from (the child is averaged with it and
    compared with it); None, said on stderr, when that stager cannot be found."""
    from sleepscope.model.site_pretrain import is_encoder_only, site_anchor

    if not is_encoder_only(parent_card):
        return None
    anchor = site_anchor(parent_card)
    if anchor is None:
        print(f"sleepscope: the model {parent_card.parent} that {parent_card.version} was pre-trained from is not in "
              "the model registry: the fine-tuned child is kept as trained and compared with the pre-trained "
              "encoder, not with that model", file=sys.stderr)
    else:
        emit({"event": "status", "message": f"a site pre-trained start: the child will be averaged with and "
              f"compared with {anchor[1].version}, the model it was pre-trained from"})
    return anchor


def _check_writable_before_training(args: argparse.Namespace) -> None:
    """Refuse now, not after the training, an --out folder or a registry that cannot be written."""
    from sleepscope.model.registry import ModelRegistry
    from sleepscope.paths import check_writable

    check_writable(_weights_path(args.out))
    if args.register:
        ModelRegistry().check_writable()


def _weights_path(out: Path) -> Path:
    out = Path(out)
    if out.suffix in (".safetensors", ".json"):
        out = out.with_suffix("")
    return out.with_name(out.name + ".safetensors")


def _set_threads(threads: int | None) -> None:
    import torch

    from sleepscope.model.infer import physical_cores

    if threads is not None and threads < 1:
        raise SleepScopeError(f"--threads must be at least 1, not {threads}")
    # On a small, busy CPU two intra-op threads contending with the GUI (or other
    # work) were ten times slower per step than one thread (measured on a 2-core box).
    torch.set_num_threads(threads or max(1, physical_cores() - 1))
