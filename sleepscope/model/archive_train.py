"""`sleepscope train --recordings DIR…`: train on a lab's archive of scored nights.

The archive's pairs (sleepscope.io.archive) are checked against their
recordings' lengths, split by subject into training, validation and held-out
nights, cached once, and trained on like the Sleep-EDF cohort. The new model
is then compared with its parent (`--init`, else the shipped model) on the
held-out nights, whole nights pre-scored as the workstation does, and the
comparison goes into its card (`metrics.heldout`, which the model registry
reads). Nothing is registered or activated here.

Before that comparison the new model gets a calibration of its own
(:func:`lab_reliability`): with a validation part, its temperature, unsure
threshold and familiarity limits are fitted on the lab's validation nights,
and nights are read through the stage transitions of the lab's own scored
nights, since a lab's scoring habits are its own (unless the validation nights
are clearly better read without them, as `calibration.fit_calibration` decides).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np

from sleepscope.errors import SleepScopeError


def archive_nights(pairs, codes: dict[str, int] | None = None) -> list:
    """The archive's pairs as cohort nights (subject numbers in name order, unique names) for the cache, their
    hypnograms read by the declared stage `codes` when given."""
    from sleepscope.data.cohorts import Night

    subjects = {s: i for i, s in enumerate(sorted({p.subject for p in pairs}))}
    nights, seen, count = [], set(), {}
    for p in pairs:
        name = p.name
        k = 2
        while name in seen:  # the same file name in two folders
            name = f"{p.name}~{k}"
            k += 1
        seen.add(name)
        s = subjects[p.subject]
        count[s] = count.get(s, 0) + 1
        nights.append(Night(name=name, subject=s, night=count[s], psg=p.recording, hypnogram=p.hypnogram,
                            codes=tuple(sorted((codes or {}).items()))))
    return nights


def lab_reliability(model, cache: Path, train_n, val_n, parent_card, channel_dropout: float,
                    progress=None) -> tuple[dict, dict, str]:
    """(card calibration, card familiarity, one line saying how) of a model trained on the archive.

    Without validation nights (an archive of fewer than five subjects) there is nothing to fit on:
    the model keeps its parent's unsure threshold, stage transitions and EOG-only scaling
    (``finetune.child_calibration``), and has no familiarity check.
    """
    import h5py

    from sleepscope.model.finetune import child_calibration
    from sleepscope.model.reliability import fit_reliability, scored_nights
    from sleepscope.model.transitions import count_transitions

    if not val_n:
        none = (np.zeros(0, np.int64), np.zeros((0, model.config.n_classes), np.float32))
        calibration = child_calibration(parent_card, none, none) if parent_card is not None else {}
        familiarity = {"channel_dropout": channel_dropout} if channel_dropout else {}
        return calibration, familiarity, ("no validation nights (fewer than five subjects): the parent's unsure "
                                          "threshold, stage transitions and EOG-only scaling kept, no familiarity "
                                          "check")
    with h5py.File(cache, "r") as f:
        hypnograms = [f["nights"][n.name]["y"][:] for n in (*train_n, *val_n)]
    chain = count_transitions(hypnograms)
    norm = model.config.normalisation
    calibration, familiarity = fit_reliability(model, scored_nights(train_n, norm), list(scored_nights(val_n, norm)),
                                               channel_dropout=channel_dropout, transitions=chain, progress=progress)
    calibration["transitions_from"] = (f"the hypnograms of the archive's {len(hypnograms)} training and validation "
                                       f"nights: {', '.join(n.name for n in (*train_n, *val_n))}")
    verdict = calibration["transitions_verdict"]
    chain_text = (f"nights read through the stage transitions of the archive's {len(hypnograms)} scored training and "
                  f"validation nights" if verdict["kept"] else
                  f"no stage-transition chain: the validation nights read {verdict['gap_without']:+.1%} more "
                  f"accurately without the archive's (standard error {verdict['standard_error']:.1%})")
    return calibration, familiarity, (
        f"calibrated on {len(val_n)} validation night{'' if len(val_n) == 1 else 's'} (ECE "
        f"{calibration['ece_before']:.3f} -> {calibration['ece']:.3f}, unsure under "
        f"{calibration['unsure_threshold']:.2f}), {chain_text}")


def keep_parent(model, args, init_card, cache: Path, val_n, device=None) -> tuple[float, dict | None]:
    """Average the trained `model` with its --init stager, as fine-tuning does (``FineTuneOptions.keep_parent``):
    a lab's few subjects then cost less on the next subject. With --choose-share (fine-tuning's default,
    ``FineTuneOptions.choose_share``) the validation nights, another subject's, decide: the model stays as
    trained where it reads them clearly better than the average (:func:`~sleepscope.model.weight_average.
    share_verdict`).
    Returns the --init model's share (0: not averaged) and the choice (None when nothing was chosen)."""
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.finetune import FineTuneOptions
    from sleepscope.model.weight_average import average_weights

    share = FineTuneOptions.keep_parent if args.keep_parent is None else args.keep_parent
    if init_card is None or share == 0.0:
        return 0.0, None
    init, _ = load_model(args.init)
    if init.encoder_only:
        return 0.0, None  # a site pre-trained encoder's head never learned to read it: averaging undoes the labels
    averaged = average_weights(model, init.to(next(model.parameters()).device), share)
    choose = FineTuneOptions.choose_share if args.choose_share is None else args.choose_share
    choice = _share_on_nights(model, averaged, cache, val_n, device) if choose and val_n else None
    if choice is not None and choice["kept"] == "child":
        return 0.0, choice
    model.load_state_dict(averaged)
    return share, choice


def _share_on_nights(model, averaged: dict, cache: Path, nights, device=None) -> dict | None:
    """The share verdict of `model` as trained against `averaged` on `nights`, each pre-scored whole as the
    workstation pre-scores; `model` holds its trained weights on return. None: no scored epoch."""
    import h5py

    from sleepscope.model.infer import predict
    from sleepscope.model.paired_gap import night_blocks
    from sleepscope.model.weight_average import share_verdict

    trained = {k: v.detach().clone() for k, v in model.state_dict().items()}
    right: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    try:
        with h5py.File(cache, "r") as f:
            for night in nights:
                g = f["nights"][night.name]
                x, y = g["x"][:], g["y"][:].astype(np.int64)
                if not (y >= 0).any():
                    continue
                model.load_state_dict(trained)
                as_trained = predict(x, model, device=device).stages
                model.load_state_dict(averaged)
                mean = predict(x, model, device=device).stages
                right.append((as_trained == y, mean == y, y >= 0))
    finally:
        model.load_state_dict(trained)
    if not right:
        return None
    block = night_blocks([len(k) for _, _, k in right], 2 * model.config.seq_len)
    right_trained, right_mean, keep = (np.concatenate(part) for part in zip(*right))
    return {"method": "validation nights", "nights": [n.name for n in nights],
            **share_verdict(right_trained[keep], right_mean[keep], block[keep])}


def _as_read_by(model, night, group, n_epochs: int) -> np.ndarray:
    """A cached night's epochs prepared in `model`'s normalisation, from its recording: the channels, the
    first epoch and the number of epochs the cache kept (`group`'s attributes)."""
    from sleepscope.io import open_recording
    from sleepscope.model.backups import read_for_model

    rec = open_recording(night.psg, eeg=group.attrs.get("eeg") or None, eog=group.attrs.get("eog") or None)
    if offset := float(group.attrs.get("grid_offset", 0.0)):
        rec = rec.cropped(offset)
    first = int(group.attrs["first_epoch"])
    x = read_for_model(rec, model.config.normalisation).x
    return x[first:first + n_epochs]


def heldout_comparison(child, parent, cache: Path, nights, device=None) -> dict:
    """Child and parent on the same held-out nights: every cached epoch pre-scored as the workstation does."""
    import h5py

    from sleepscope.model.infer import predict
    from sleepscope.model.train import metrics_dict
    from sleepscope.scoring.agreement import agreement

    ys, pc, pp = [], [], []
    with h5py.File(cache, "r") as f:
        for night in nights:
            g = f["nights"][night.name]
            x, y = g["x"][:], g["y"][:].astype(np.int8)
            keep = y >= 0
            if not keep.any():
                continue
            ys.append(y[keep])
            pc.append(predict(x, child, device=device).stages[keep])
            if parent.config.normalisation != child.config.normalisation:
                x = _as_read_by(parent, night, g, len(y))  # the cache holds the child's input only
            pp.append(predict(x, parent, device=device).stages[keep])
    if not ys:
        raise SleepScopeError("the held-out nights have no scored epoch: nothing to compare the models on")
    y = np.concatenate(ys)
    return {"child": metrics_dict(agreement(y, np.concatenate(pc))),
            "parent": metrics_dict(agreement(y, np.concatenate(pp))),
            "nights": [n.name for n in nights]}


def train_on_archive(args: argparse.Namespace) -> int:
    from sleepscope.data.datasets import SequenceDataset, build_cache
    from sleepscope.io.archive import check_archive, scan_archive, split_archive
    from sleepscope.io.hypnogram import HypnogramNotice
    from sleepscope.io.hypnogram_tables import parse_codes
    from sleepscope.model.checkpoint import ModelCard, default_model_path, load_model, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.distributed import barrier, setup, teardown
    from sleepscope.model.network import SleepStager
    from sleepscope.model.train_commands import (_interrupted, _to_train, _train_config, _train_on_cache,
                                                 _training_metrics)
    from sleepscope.paths import user_data_dir
    from sleepscope.tasks import TqdmProgress

    if args.val_subjects is not None or args.test_subjects is not None or args.test:
        raise SleepScopeError("--recordings makes its own split by subject: leave out --val-subjects, "
                              "--test-subjects and --test")
    if args.keep_parent is not None and not 0.0 <= args.keep_parent < 1.0:
        raise SleepScopeError(f"--keep-parent {args.keep_parent}: give a share at least 0 and below 1")
    codes = parse_codes(args.codes) if args.codes is not None else None
    folders = [Path(d) for d in args.recordings]
    scan = scan_archive(folders)
    say = print if not args.quiet else (lambda *a, **k: None)
    say(f"archive: {scan.summary()}", file=sys.stderr)
    if not scan.pairs:
        raise SleepScopeError(
            f"no recording in {', '.join(map(str, folders))} has a hypnogram paired by name (NAME.edf with "
            "NAME.xml, NAME.rml, NAME.csv, NAME.tsv, NAME-Hypnogram.edf, Sleep-EDF's SC4ssN*-PSG.edf with "
            "SC4ssN*-Hypnogram.edf, a DOMINO 'Sleep profile.txt' alone in its folder, or an EDF+ with stage "
            "annotations)")
    for recording, why in scan.unreadable:
        print(f"sleepscope: skipped {recording.name}: {why}", file=sys.stderr)
    checked = check_archive(scan.pairs, codes=codes)
    for pair, why in checked.refused:
        print(f"sleepscope: refused {pair.recording.name} + {pair.hypnogram.name}: {why}", file=sys.stderr)
    for c in checked.usable:
        for note in c.notes:
            say(f"sleepscope: note: {c.pair.name}: {note}", file=sys.stderr)
    if checked.usable:
        say(f"archive: {checked.stages_text()}", file=sys.stderr)
    split = split_archive([c.pair for c in checked.usable], seed=args.seed)
    say(f"archive: {split.describe()}", file=sys.stderr)

    if args.init is not None:
        model, init_card = load_model(args.init)
        parent_path, parent_card = Path(args.init), init_card
    else:
        import torch

        torch.manual_seed(args.seed)  # the initial weights too: --seed makes the run the same run again
        model, init_card = SleepStager(get_config(args.config)), None
    stager_parent = init_card is not None and not model.encoder_only
    if not stager_parent:
        # A site pre-trained encoder cannot stage: the new model is compared with the shipped one.
        try:
            parent_path = default_model_path()
            _, parent_card = load_model(parent_path)
        except SleepScopeError:
            parent_path, parent_card = None, None
    model = _to_train(model, args)
    seq_len = args.seq_len or model.config.seq_len

    train_n, val_n, held_n = (archive_nights(split.train + split.validation + split.heldout, codes)[a:b] for a, b in (
        (0, len(split.train)), (len(split.train), len(split.train) + len(split.validation)),
        (len(split.train) + len(split.validation), None)))
    all_nights = train_n + val_n + held_n
    digest = hashlib.sha256("\n".join(sorted(str(f.resolve()) for f in folders)).encode()).hexdigest()[:12]
    cache = args.cache or user_data_dir() / "cache" / f"archive-{digest}.h5"
    info = setup(args.device)
    try:
        if info.is_main:
            with warnings.catch_warnings(), TqdmProgress("caching nights", disable=args.quiet) as bar:
                warnings.simplefilter("ignore", HypnogramNotice)  # said above, pair by pair
                build_cache(all_nights, cache, progress=bar, normalisation=model.config.normalisation)
        barrier(info)
        train_data = SequenceDataset(cache, train_n, seq_len=seq_len, stride=seq_len)
        if len(train_data) == 0:
            raise SleepScopeError(f"the training nights hold no scored sequence of {seq_len} epochs: score more "
                                  "of them, or give more nights")
        cfg = _train_config(args)
        result = _train_on_cache(model, cache, train_data, train_n, val_n, seq_len, cfg, args, info)
        if result is None:
            return _interrupted(args.out)
        if info.is_main:
            metrics: dict = {"archive": [str(f.resolve()) for f in folders], "split_by": split.by,
                             "train_nights": [n.name for n in train_n], "validation_nights": [n.name for n in val_n],
                             **_training_metrics(result),
                             "refused": [{"recording": str(r), "why": w} for r, w in (
                                 *scan.unreadable, *((p.recording, w) for p, w in checked.refused))]}
            if result.validation is not None:
                metrics["validation"] = result.validation
            model.eval()
            averaged, share_choice = keep_parent(model, args, init_card, cache, val_n, device=info.device)
            if share_choice is not None:
                metrics["share_choice"] = share_choice
            # Each night is read again from its file: minutes on a large archive, so it shows progress.
            with TqdmProgress("calibrating", disable=args.quiet) as bar:
                model.calibration, model.familiarity, how = lab_reliability(
                    model, cache, train_n, val_n, parent_card, cfg.channel_dropout, progress=bar)
            say(f"sleepscope: {how}", file=sys.stderr)
            if parent_path is not None:
                parent, _ = load_model(parent_path)
                metrics["heldout"] = heldout_comparison(model, parent, cache, held_n, device=info.device)
                metrics["heldout"]["parent_model"] = parent_card.version
            init_text = (f"initialised from {args.init} (version {init_card.version})" if init_card
                         else "trained from random weights")
            card = ModelCard(
                config=model.config,
                parent=init_card.version if init_card else None,
                data=(f"supervised on {len(train_n)} scored nights of the archive {', '.join(map(str, folders))} "
                      f"({split.describe()}); {init_text}"),
                metrics=metrics,
                notes=(f"averaged with {init_card.version}, {averaged:g} of its weights; " if averaged else "")
                + (f"{archive_share_text(share_choice, init_card.version)}; " if share_choice else "")
                + ("encoders frozen; " if args.freeze_encoders else "")
                + ("inverse-frequency class weights; " if args.class_weights else "")
                + f"Adam lr {cfg.lr}, batch {cfg.batch_size} x {info.world_size} processes, seed {cfg.seed}; {how}",
                calibration=model.calibration, familiarity=model.familiarity,
            )
            card = save_model(model, args.out, card)
            print(f"wrote {args.out} (version {card.version}, {result.steps} steps); not registered or activated")
            if share_choice:
                print(archive_share_text(share_choice, args.init))
            if "heldout" in metrics:
                print(format_comparison(metrics["heldout"], "parent" if stager_parent else "shipped model"))
    finally:
        teardown(info)
    return 0


def archive_share_text(choice: dict, init) -> str:
    """What the validation nights decided about averaging with the --init model (``metrics["share_choice"]``)."""
    gap = choice["gap"]
    return (f"{'kept the trained weights' if choice['kept'] == 'child' else 'averaged with ' + str(init)}: on the "
            f"validation nights the trained weights scored {abs(gap):.1%} {'above' if gap >= 0 else 'below'} their "
            f"average with {init} (± {choice['standard_error']:.1%})")


def format_comparison(heldout: dict, parent_label: str = "parent") -> str:
    """The child beside its parent on the held-out nights, as lines for the terminal."""
    c, p = heldout["child"], heldout["parent"]
    lines = [f"held-out nights ({len(heldout['nights'])}, {c['n_epochs']} scored epochs): "
             f"{', '.join(heldout['nights'])}",
             f"  {'':<14} {'accuracy':>9} {'macro-F1':>9} {'kappa':>7}",
             f"  {'new model':<14} {c['accuracy']:>9.3f} {c['macro_f1']:>9.3f} {c['kappa']:>7.3f}",
             f"  {parent_label:<14} {p['accuracy']:>9.3f} {p['macro_f1']:>9.3f} {p['kappa']:>7.3f}"]
    if c["macro_f1"] < p["macro_f1"]:
        lines.append(f"  the new model is WORSE than the {parent_label} on these nights: keep the "
                     f"{parent_label} active")
    return "\n".join(lines)
