"""`sleepscope pretrain` and `sleepscope train`: also under `torchrun --nproc_per_node K`.

Both read a Sleep-EDF sleep-cassette folder (real or synthetic), cache its
nights once as HDF5, and write a model (`OUT.safetensors` + `OUT.json` card)
plus a resumable state (`OUT.state.json` and its tensors) beside it.
"""

from __future__ import annotations

import argparse
import hashlib
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sleepscope.errors import SleepScopeError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "pretrain",
        help="self-supervised pre-training of the encoders (CLIP, SimCLR, TS-TCC)",
        description="Pre-train the EEG and EOG encoders on the unlabelled nights of the subjects outside "
        "Sleep-EDF-20 (the paper's 58 pre-training subjects), then save a full stager whose encoders carry "
        "the pre-trained weights (decoders and classifier untrained) for `sleepscope train --init`. "
        "Runs data-parallel under `torchrun --nproc_per_node K -m sleepscope pretrain ...`.",
    )
    p.add_argument("--method", choices=("clip", "simclr", "tstcc"), default="clip")
    _common(p, data_required=False)
    p.add_argument("--epochs", type=int, default=10, help="passes over the pre-training epochs (default 10)")
    p.add_argument("--batch-size", type=int, default=32, help="30-s epochs per batch and process (default 32)")
    # Site pre-training (sleepscope.model.site_pretrain): the lab's own unlabelled recordings instead of --data.
    p.add_argument("--recordings", type=Path, nargs="+", metavar="PATH", default=None,
                   help="site pre-training: EDF/EDF+/BDF recordings or folders of the lab (no labels), instead of "
                   "--data; continues --from MODEL's encoders and writes an encoder-only model that must be "
                   "fine-tuned on labels before it pre-scores; recordings without a usable EEG/EOG are skipped")
    p.add_argument("--from", dest="parent", default=None, metavar="MODEL",
                   help="with --recordings: the model to continue (path, registry version or 'active'; default "
                   "the shipped model)")
    p.add_argument("--lr", type=float, default=1e-4, help="with --recordings: learning rate (default 1e-4)")
    p.add_argument("--progress", choices=("tqdm", "jsonl", "none"), default="tqdm",
                   help="with --recordings: tqdm bar, or one JSON event per line (for the GUI)")
    p.add_argument("--register", action="store_true", help="with --recordings: add the result to the registry")
    p.add_argument("--threads", type=int, default=None, help="with --recordings: CPU threads for torch")
    p.add_argument("--nice", type=int, default=0, metavar="N", help="with --recordings: lower the CPU priority")
    p.set_defaults(func=_pretrain)

    t = subparsers.add_parser(
        "train",
        help="train or fine-tune the stager on labelled nights (Sleep-EDF subjects or a lab's archive)",
        description="Supervised training on the labelled nights of the chosen subjects, or of a lab's scored "
        "archive (--recordings), from random weights or from --init MODEL (e.g. a pre-trained one), with early "
        "stopping on validation macro-F1. "
        "Runs data-parallel under `torchrun --nproc_per_node K -m sleepscope train ...`.",
    )
    who = t.add_mutually_exclusive_group(required=True)
    who.add_argument("--subjects", type=_subjects, help="training subjects, e.g. 0,1,2")
    who.add_argument("--split-train", type=int, metavar="N",
                     help="the first N training subjects of the paper's fixed split (N = 3, 6, 9, 12)")
    who.add_argument("--recordings", type=Path, nargs="+", metavar="DIR",
                     help="a lab's archive instead of --data: recordings paired with their hypnograms by name "
                     "(Sleep-EDF, NAME.xml NSRR/Profusion, NAME.csv/.tsv, EDF+ annotations), split by subject into "
                     "training, validation and held-out nights; the new model is compared with its parent "
                     "(--init, else the shipped model) on the held-out nights")
    t.add_argument("--val-subjects", type=_subjects_or_none, default=None,
                   help="validation subjects for early stopping (default: the paper split's 4; 'none' to train "
                   "without validation)")
    t.add_argument("--test-subjects", type=_subjects, default=None, help="also score these subjects into the card")
    t.add_argument("--test", action="store_true", help="score the paper split's 4 test subjects into the card")
    t.add_argument("--init", type=Path, default=None, help="start from this model (e.g. from `sleepscope pretrain`)")
    t.add_argument("--codes", default=None, metavar="CODE=STAGE,...",
                   help="with --recordings: how the archive's stage codes read, where its system numbers them its "
                        "own way, as for `sleepscope import` (UCD's 0=W,1=REM,2=N1,3=N2,4=N3,5=N3,6=?,7=?)")
    _common(t, data_required=False)
    t.add_argument("--epochs", type=int, default=50, help="most passes over the training data (default 50)")
    t.add_argument("--patience", type=int, default=5, help="passes without a better validation macro-F1 before stopping")
    t.add_argument("--batch-size", type=int, default=4, help="sequences per batch and process (default 4, the paper's)")
    t.add_argument("--seq-len", type=int, default=None, help="epochs per sequence (default: the model's, 20)")
    t.add_argument("--lr", type=float, default=1e-3,
                   help="Adam learning rate (default 1e-3, the paper's from scratch; a model given by --init "
                   "usually wants less, e.g. 3e-4)")
    t.add_argument("--keep-parent", type=float, default=None, metavar="SHARE",
                   help="with --recordings and a stager as --init: average the trained weights with the --init "
                   "model's, this share being its (default: fine-tuning's, 0.5); 0 keeps the trained weights")
    t.add_argument("--choose-share", action=argparse.BooleanOptionalAction, default=None,
                   help="with --recordings and a stager as --init: keep the trained weights instead of the average "
                   "when they read the validation nights (another subject's) clearly better (default: on, as for "
                   "fine-tuning)")
    t.add_argument("--class-weights", action="store_true", help="weight the loss by inverse stage frequency")
    t.add_argument("--freeze-encoders", action="store_true", help="keep the (pre-trained) encoders fixed")
    t.add_argument("--channel-dropout", type=float, default=0.0, metavar="P",
                   help="share of sequences that lose their EEG or their EOG in a step, so that the model stages "
                   "recordings without one of them (default 0)")
    t.add_argument("--normalisation", choices=("epoch", "night", "epoch+amplitude"), default=None,
                   help="model input: z-score per epoch (the paper's), scale by the night's typical amplitude "
                   "(keeps relative amplitude) or z-score plus each epoch's log amplitude; default: the "
                   "configuration's or --init model's")
    t.set_defaults(func=_train)


def _common(p: argparse.ArgumentParser, data_required: bool = True) -> None:
    p.add_argument("--data", type=Path, required=data_required,
                   help="a Sleep-EDF sleep-cassette folder (SC4*-PSG.edf files)")
    p.add_argument("--out", type=Path, required=True, help="the model to write: OUT.safetensors and OUT.json")
    p.add_argument("--config", default="default", help="network size: default, paper or tiny (default: default; "
                   "train ignores it when --init gives a model)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    p.add_argument("--cache", type=Path, default=None, help="HDF5 cache of the nights (default: in the user data folder)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run whose state is beside --out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--checkpoint-every", type=int, default=50, help="save the resumable state every N steps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _subjects(text: str) -> list[int]:
    try:
        out = [int(s) for s in text.replace(" ", "").split(",") if s != ""]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of subject numbers") from None
    if not out:
        raise argparse.ArgumentTypeError("give at least one subject number")
    return out


def _subjects_or_none(text: str) -> list[int]:
    return [] if text.strip().lower() == "none" else _subjects(text)


def _default_cache(data: Path, what: str) -> Path:
    from sleepscope.paths import user_data_dir

    digest = hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:12]
    return user_data_dir() / "cache" / f"{what}-{digest}.h5"


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise SleepScopeError(f"{name} must be at least 1, not {value}")


@contextmanager
def _interruptible(info) -> Iterator:
    """A CancelToken that Ctrl-C sets, so that the run stops between steps and saves its state.

    A second Ctrl-C interrupts at once. Under torchrun the launcher handles
    signals (a rank stopping alone would leave the others waiting), so the
    token is then never set by a signal.
    """
    from sleepscope.tasks import CancelToken

    token = CancelToken()
    if info.distributed or threading.current_thread() is not threading.main_thread():
        yield token
        return

    def on_interrupt(signum, frame) -> None:
        token.cancel()
        signal.signal(signal.SIGINT, previous)
        print("\nsleepscope: stopping after this step (Ctrl-C again to stop at once)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield token
    finally:
        signal.signal(signal.SIGINT, previous)


def _to_train(model, args):
    """`model`, ready to learn from labels: in the command's --normalisation (the weights do not depend on it,
    so --init weights start the other one) and ``night_norm.to_learn_from_labels``."""
    from sleepscope.model.network import with_normalisation
    from sleepscope.model.night_norm import to_learn_from_labels

    if args.normalisation and args.normalisation != model.config.normalisation:
        model = with_normalisation(model, args.normalisation)
    return to_learn_from_labels(model)


def _train_config(args, **config):
    """The command's training options as a TrainConfig (`config`: further fields)."""
    from sleepscope.model.train import TrainConfig

    if not 0.0 <= args.channel_dropout <= 1.0:
        raise SleepScopeError(f"--channel-dropout {args.channel_dropout}: give a share between 0 and 1")
    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, patience=args.patience, lr=args.lr,
                       max_steps=args.max_steps, seed=args.seed, freeze_encoders=args.freeze_encoders,
                       checkpoint_every=args.checkpoint_every, channel_dropout=args.channel_dropout, **config)


def _train_on_cache(model, cache: Path, train_data, train_nights, val_nights, seq_len: int, cfg, args, info):
    """Train `model` on `train_data` (sequences of the cached `train_nights`), validated on `val_nights`;
    None when Ctrl-C stopped it."""
    from sleepscope.data.datasets import EpochDataset, SequenceDataset
    from sleepscope.model.train import inverse_frequency_weights, train
    from sleepscope.tasks import Cancelled, TqdmProgress

    val_data = SequenceDataset(cache, val_nights, seq_len=seq_len) if val_nights else None
    weights = inverse_frequency_weights(EpochDataset(cache, train_nights).labels) if args.class_weights else None
    try:
        with _interruptible(info) as cancel, \
                TqdmProgress("training", disable=args.quiet or not info.is_main) as bar:
            return train(model, train_data, val_data, cfg, class_weights=weights, state_path=args.out,
                         resume=args.resume, info=info, progress=bar, cancel=cancel)
    except Cancelled:
        return None


def _training_metrics(result) -> dict:
    """How the run went, as written into the model card's metrics."""
    return {"steps": result.steps, "epochs": result.epochs, "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early}


def _interrupted(out: Path) -> int:
    from sleepscope.model.train_state import state_paths

    print(f"sleepscope: interrupted; the run's state is saved in {state_paths(out)}: "
          "run the same command with --resume to continue", file=sys.stderr)
    return 130


def _prepare_cache(nights, cache: Path, info, quiet: bool, normalisation: str = "epoch",
                   as_recorded: bool = False) -> Path:
    """Rank 0 builds (or reuses) the cache while the other ranks wait."""
    from sleepscope.data.datasets import build_cache
    from sleepscope.model.distributed import barrier
    from sleepscope.tasks import TqdmProgress

    if info.is_main:
        with TqdmProgress("caching nights", disable=quiet) as bar:
            build_cache(nights, cache, progress=bar, normalisation=normalisation, as_recorded=as_recorded)
    barrier(info)
    return cache


def _pretrain(args: argparse.Namespace) -> int:
    import torch

    from sleepscope.data.cohorts import pretraining_nights, scan_sleep_cassette
    from sleepscope.data.datasets import EpochDataset
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.distributed import setup, teardown
    from sleepscope.model.network import SleepStager
    from sleepscope.model.pretrain import PretrainConfig, pretrain
    from sleepscope.tasks import Cancelled, TqdmProgress

    if args.recordings:
        from sleepscope.model.site_pretrain import run_command

        return run_command(args)
    if args.data is None:
        raise SleepScopeError("give --data FOLDER (a Sleep-EDF sleep-cassette folder) or --recordings PATH...")
    for name in ("--epochs", "--batch-size", "--max-steps", "--checkpoint-every"):
        _positive(name, getattr(args, name[2:].replace("-", "_")))
    nights = pretraining_nights(scan_sleep_cassette(args.data))
    if not nights:
        raise SleepScopeError(
            f"{args.data} holds no nights of the pre-training subjects (SC4200 and above, outside Sleep-EDF-20); "
            "write them with `sleepscope cohort` or download them")
    config = get_config(args.config)
    info = setup(args.device)
    try:
        # As the paper's experiment reads them: CLIP pairs the two channels, and an EOG zeroed where it failed
        # pairs with nothing (site pre-training leaves those epochs out instead).
        cache = _prepare_cache(nights, args.cache or _default_cache(args.data, "pretrain"), info, args.quiet,
                               as_recorded=True)
        dataset = EpochDataset(cache, nights, labelled_only=False)
        torch.manual_seed(args.seed)  # the initial weights too: --seed makes the run the same run again
        stager = SleepStager(config)
        cfg = PretrainConfig(method=args.method, epochs=args.epochs, batch_size=args.batch_size,
                             max_steps=args.max_steps, seed=args.seed, checkpoint_every=args.checkpoint_every)
        try:
            with _interruptible(info) as cancel, \
                    TqdmProgress(f"pre-training ({args.method})", disable=args.quiet or not info.is_main) as bar:
                result = pretrain(stager, dataset, cfg, state_path=args.out, resume=args.resume, info=info,
                                  progress=bar, cancel=cancel)
        except Cancelled:
            return _interrupted(args.out)
        if info.is_main:
            subjects = sorted({n.subject for n in nights})
            card = ModelCard(
                config=config,
                parent=None,
                data=(f"{args.method} pre-training, labels unused, on {len(nights)} nights of {len(subjects)} "
                      f"subjects outside Sleep-EDF-20 ({len(dataset)} epochs) from {args.data.resolve()}"),
                metrics={"method": args.method, **result.summary(), "processes": info.world_size,
                         "global_batch": cfg.batch_size * info.world_size, "encoder_only": True},
                notes="encoders pre-trained; decoders, fusion and classifier untrained: fine-tune with "
                      "`sleepscope train --init` before scoring",
            )
            card = save_model(stager, args.out, card)
            print(f"wrote {args.out} (version {card.version}, {result.steps} steps, "
                  f"loss {card.metrics['pretrain_loss_start']:.4f} -> {card.metrics['pretrain_loss_end']:.4f})")
    finally:
        teardown(info)
    return 0


def _train(args: argparse.Namespace) -> int:
    import torch

    from sleepscope.data.cohorts import PAPER_SPLIT, SLEEP_EDF_20_SUBJECTS, nights_of, scan_sleep_cassette
    from sleepscope.data.datasets import SequenceDataset
    from sleepscope.model.checkpoint import ModelCard, load_model, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.distributed import setup, teardown
    from sleepscope.model.network import SleepStager
    from sleepscope.model.train import evaluate, metrics_dict

    for name in ("--epochs", "--batch-size", "--max-steps", "--checkpoint-every", "--patience", "--seq-len"):
        _positive(name, getattr(args, name[2:].replace("-", "_")))
    if not args.lr > 0:
        raise SleepScopeError(f"--lr {args.lr}: give a positive learning rate")
    if args.recordings:
        from sleepscope.model.archive_train import train_on_archive

        return train_on_archive(args)
    for flag in ("keep_parent", "choose_share"):
        if getattr(args, flag) is not None:
            raise SleepScopeError(f"--{flag.replace('_', '-')} applies to training on an archive (--recordings) "
                                  "from a stager (--init)")
    if args.data is None:
        raise SleepScopeError("give --data FOLDER (a Sleep-EDF sleep-cassette folder) with --subjects or "
                              "--split-train")
    train_subjects = list(args.subjects) if args.subjects else list(PAPER_SPLIT.train_subjects(args.split_train))
    val_subjects = list(PAPER_SPLIT.validation) if args.val_subjects is None else args.val_subjects
    test_subjects = list(args.test_subjects or (PAPER_SPLIT.test if args.test else []))
    overlap = set(train_subjects) & (set(val_subjects) | set(test_subjects))
    if overlap:
        raise SleepScopeError(f"subjects {sorted(overlap)} are both trained on and evaluated on; "
                              "choose disjoint --subjects, --val-subjects and --test-subjects")

    everything = scan_sleep_cassette(args.data)

    def labelled(subjects: list[int], role: str):
        found = [n for n in nights_of(everything, subjects) if n.hypnogram is not None]
        absent = sorted(set(subjects) - {n.subject for n in found})
        if absent:
            raise SleepScopeError(f"{role} subjects {absent} have no scored night (PSG + hypnogram) in {args.data}")
        return found

    train_nights = labelled(train_subjects, "training")
    val_nights = labelled(val_subjects, "validation") if val_subjects else []
    test_nights = labelled(test_subjects, "test") if test_subjects else []

    if args.init is not None:
        model, init_card = load_model(args.init)
        parent = init_card.version
    else:
        torch.manual_seed(args.seed)  # the initial weights too: --seed makes the run the same run again
        model, init_card, parent = SleepStager(get_config(args.config)), None, None
    model = _to_train(model, args)
    seq_len = args.seq_len or model.config.seq_len

    # One cache for Sleep-EDF-20 (and any other subject asked): training runs
    # with different subject budgets share it.
    cached = {n.name: n for n in nights_of(everything, SLEEP_EDF_20_SUBJECTS)}
    cached.update({n.name: n for n in train_nights + val_nights + test_nights})
    cache_nights = sorted(cached.values(), key=lambda n: (n.subject, n.night))
    info = setup(args.device)
    try:
        norm = model.config.normalisation
        cache = _prepare_cache(cache_nights, args.cache or _default_cache(args.data, "labelled" if norm == "epoch"
                                                                          else f"labelled-{norm}"),
                               info, args.quiet, normalisation=norm)
        train_data = SequenceDataset(cache, train_nights, seq_len=seq_len, stride=seq_len)
        cfg = _train_config(args)
        result = _train_on_cache(model, cache, train_data, train_nights, val_nights, seq_len, cfg, args, info)
        if result is None:
            return _interrupted(args.out)
        if info.is_main:
            metrics: dict = {"train_subjects": train_subjects, "validation_subjects": val_subjects,
                             **_training_metrics(result)}
            if result.validation is not None:
                metrics["validation"] = result.validation
            if test_nights:
                a = evaluate(model, SequenceDataset(cache, test_nights, seq_len=seq_len), device=info.device)
                metrics["test"] = metrics_dict(a)
                metrics["test_subjects"] = test_subjects
            init_text = (f"initialised from {args.init} (version {parent}: {init_card.data})" if init_card
                         else "trained from random weights")
            card = ModelCard(
                config=model.config,
                parent=parent,
                data=(f"supervised on {len(train_nights)} scored nights of subjects {train_subjects} "
                      f"({len(train_data)} sequences of {seq_len} epochs) from {args.data.resolve()}; "
                      f"{init_text}"),
                metrics=metrics,
                notes=("encoders frozen; " if args.freeze_encoders else "")
                + ("inverse-frequency class weights; " if args.class_weights else "")
                + (f"channel dropout {args.channel_dropout}; " if args.channel_dropout else "")
                + f"Adam lr {cfg.lr}, batch {cfg.batch_size} x {info.world_size} processes, seed {cfg.seed}",
                familiarity={"channel_dropout": args.channel_dropout} if args.channel_dropout else {},
            )
            card = save_model(model, args.out, card)
            line = f"wrote {args.out} (version {card.version}, {result.steps} steps"
            if result.validation is not None:
                line += f", validation macro-F1 {result.validation['macro_f1']:.3f}"
            if "test" in metrics:
                t = metrics["test"]
                line += f", test accuracy {t['accuracy']:.3f} macro-F1 {t['macro_f1']:.3f} kappa {t['kappa']:.3f}"
            print(line + ")")
    finally:
        teardown(info)
    return 0
