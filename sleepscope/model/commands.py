"""`sleepscope model-info` and `sleepscope prescore`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "model-info", help="show a model's parameters, multiply-accumulates per epoch, configuration and card")
    p.add_argument("model", nargs="?", help="model file (.safetensors or .json); default: the shipped model")
    p.add_argument("--config", metavar="NAME",
                   help="describe an untrained network of this configuration (paper, default, tiny) instead")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=_model_info)

    p = subparsers.add_parser(
        "prescore", help="pre-score every epoch of a recording (CSV or JSON), or of folders of recordings",
        description="One recording: its per-epoch stages and probabilities as CSV or JSON. Folders (searched "
        "recursively) or several recordings: each prediction into the recording's scoring file, one line per file, "
        "recordings already scored by the same model skipped, a bad file reported and skipped (exit status 1 when "
        "some failed); under torchrun (or with RANK/WORLD_SIZE) each process takes every WORLD_SIZE-th recording.")
    p.add_argument("file", nargs="+", metavar="RECORDING_OR_FOLDER", help="EDF, EDF+ or BDF recordings, or folders")
    p.add_argument("--model", metavar="M", help="model file (.safetensors or .json); default: the shipped model")
    p.add_argument("--out", metavar="PATH",
                   help="output file (default: beside the recording, NAME.prescore.csv or .json)")
    p.add_argument("--json", action="store_true", help="write JSON instead of CSV")
    p.add_argument("--eeg", metavar="NAME", help="EEG channel (default: chosen by name)")
    p.add_argument("--eog", metavar="NAME", help="EOG channel (default: chosen by name)")
    p.add_argument("--ecg", metavar="NAME", help="ECG lead whose beats are subtracted from the EEG and EOG where they "
                   "show there (default: found by name; 'none': read the EEG and EOG as recorded)")
    p.add_argument("--device", metavar="DEV", help="torch device (default: cuda, else mps, else cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--second-opinion", action="store_true",
                   help="also score with YASA (needs the yasa package): its stage, probabilities and whether it "
                   "disagrees as extra columns; into scoring files, its stages as the label set 'YASA'")
    p.add_argument("--force", action="store_true", help="folders: pre-score again recordings already scored")
    p.add_argument("--codes", default=None, metavar="CODE=STAGE,...",
                   help="how the lab's scorings beside the recordings number their stages, for the comparison with "
                        "them, where their system numbers them its own way (as for `sleepscope import`)")
    p.set_defaults(func=_prescore)


def describe_model(model, card=None) -> dict:
    """Parameters, MACs per epoch, configuration and card of a model, as plain data."""
    from sleepscope.model.checkpoint import weights_version
    from sleepscope.model.network import count_parameters, macs_per_epoch

    cfg = model.config
    return {
        "parameters": count_parameters(model),
        "macs_per_epoch": macs_per_epoch(model),
        "version": weights_version(model),
        "trained": card is not None,
        "stage_lengths": list(cfg.stage_lengths()),
        "config": cfg.to_dict(),
        "card": None if card is None else {k: v for k, v in card.to_dict().items() if k != "config"},
    }


def _model_info(args: argparse.Namespace) -> int:
    from sleepscope.errors import SleepScopeError
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    if args.model and args.config:
        raise SleepScopeError("give either a MODEL file or --config NAME, not both")
    if args.config:
        import torch

        torch.manual_seed(0)
        model, card = SleepStager(get_config(args.config)), None
    else:
        model, card = load_model(args.model or default_model_path())
    info = describe_model(model, card)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    cfg = info["config"]
    print(f"configuration    {cfg['name']}" + ("" if card else "  (untrained: random weights)"))
    print(f"version          {info['version']}")
    print(f"parameters       {info['parameters']:,}")
    print(f"MACs per epoch   {info['macs_per_epoch']:,}  (Conv1d + Linear, both branches and the head)")
    print(f"stage lengths    {' -> '.join(str(n) for n in info['stage_lengths'])} samples")
    for key, value in cfg.items():
        if key != "name":
            print(f"  {key:<16} {value}")
    if card is not None:
        c = info["card"]
        for key in ("parent", "data", "created", "notes", "weights_sha256"):
            print(f"{key:<16} {c[key] if c[key] not in (None, '') else '-'}")
        print(f"metrics          {json.dumps(c['metrics']) if c['metrics'] else '-'}")
        print(f"calibration      {calibration_line(card.calibration)}")
        print(f"familiarity      {familiarity_line(card.familiarity)}")
    return 0


def calibration_line(calibration: dict) -> str:
    """What `predict` does to the logits of a card, in one line."""
    if not calibration:
        return "none (plain softmax; unsure under the default threshold)"
    parts = [f"temperature {calibration.get('temperature', 1.0):.3f}"]
    if calibration.get("confidence_map"):
        parts.append(f"confidence map ({len(calibration['confidence_map']['x'])} knots)")
    if calibration.get("transitions") is not None:
        source = calibration.get("transitions_from", "")
        counted = f" of {source.split(':')[0].removeprefix('the ')}" if source else ""
        parts.append(f"each night read through the stage transitions{counted}, then temperature "
                     f"{calibration.get('smoothed_temperature', 1.0):.3f}")
    elif calibration.get("transitions_declined") is not None:
        v = calibration.get("transitions_verdict", {})
        parts.append(f"no stage-transition chain ({v.get('on', 'the validation nights')} read "
                     f"{v.get('gap_without', float('nan')):+.1%} more accurately without it, standard error "
                     f"{v.get('standard_error', float('nan')):.1%})")
    if "ece" in calibration:
        n = calibration.get("n_nights")
        nights = "" if n is None else f" on {n} night{'' if n == 1 else 's'}"
        parts.append(f"validation ECE {calibration.get('ece_before', float('nan')):.3f} -> {calibration['ece']:.3f}"
                     f"{nights}")
    if "unsure_threshold" in calibration:
        parts.append(f"unsure under {calibration['unsure_threshold']:.2f}")
    if calibration.get("chin_emg"):
        from sleepscope.model.chin_emg import Coefficients

        c = Coefficients.from_calibration(calibration)
        weights = " ".join(f"{name} {w:+.2f}" for name, w in zip(("W", "N1", "N2", "N3", "REM"), c.weights))
        parts.append(f"the chin EMG's relative tone (clipped to ±{c.clip:g}) added where the night shows atonia: "
                     f"{weights}")
    return ", ".join(parts)


def familiarity_line(familiarity: dict) -> str:
    """What the card's familiarity check compares a recording with, in one line."""
    if not familiarity:
        return "none (no check of whether a recording is like what the model learned)"
    parts = []
    if "night_limit" in familiarity:
        parts.append(f"input statistics, unfamiliar over {familiarity['night_limit']:.0%} outlying epochs")
    if familiarity.get("channel_dropout"):
        parts.append(f"trained without one channel at times (dropout {familiarity['channel_dropout']:g})")
    second = familiarity.get("second_opinion")
    if second:
        parts.append(f"the second opinion ({second['scorer']}) disagreeing on over {second['night_limit']:.0%} "
                     "of the epochs")
    return ", ".join(parts) or "none"


def prediction_rows(pred, second=None) -> list[dict]:
    from sleepscope.model.epoch_reading import epoch_reading, read_from
    from sleepscope.stages import PROBABILITY_COLUMNS, Stage

    reading = epoch_reading(pred) if pred.quality is not None else None
    rows = []
    for i in range(pred.n_epochs):
        row = {"epoch": i, "onset_s": i * 30, "stage": Stage(int(pred.stages[i])).label}
        row.update({col: round(float(p), 6) for col, p in zip(PROBABILITY_COLUMNS, pred.probs[i])})
        if pred.unsure is not None:
            row["unsure"] = int(pred.unsure[i])
            row["artefact"] = int(pred.artefact[i]) if pred.artefact is not None else 0
        if reading is not None:  # a recording: how the model read it (a backup channel, the EEG alone)
            row["read_from"] = read_from(int(reading[i]))
        rows.append(row)
    if second is not None:
        from sleepscope.scorers.compare import second_opinion_columns

        for row, extra in zip(rows, second_opinion_columns(pred, second)):
            row.update(extra)
    return rows


def write_prediction(pred, path: Path, as_json: bool, meta: dict, second=None) -> None:
    import csv

    from sleepscope.atomic import replacing, write_text_atomic

    rows = prediction_rows(pred, second)
    # never a half-written result under the real name, nor a temporary file left beside it
    if as_json:
        write_text_atomic(path, json.dumps({**meta, "model_version": pred.model_version, "epochs": rows},
                                           indent=1) + "\n")
    else:
        with replacing(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


def _prescore(args: argparse.Namespace) -> int:
    import os

    # Idle OpenMP workers sleep instead of spinning: on a busy machine (the GUI, other jobs)
    # spinning threads make small convolutions many times slower. Read when torch loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from sleepscope.io import open_recording
    from sleepscope.model.checkpoint import default_model_path, load_model
    from sleepscope.model.infer import predict
    from sleepscope.model.batch_prescore import is_batch, prescore_many
    from sleepscope.paths import check_writable
    from sleepscope.tasks import TqdmProgress

    if is_batch(args.file):
        return prescore_many(args)
    from sleepscope.io.hypnogram_tables import parse_codes

    codes = parse_codes(args.codes) if args.codes else None  # a bad declaration before the night is read
    args.file = args.file[0]
    model, card = load_model(args.model or default_model_path())
    second, extra = None, ()
    src = Path(args.file)
    if args.second_opinion:
        from sleepscope.scorers.yasa_scorer import YasaScorer, yasa_extra

        second, extra = YasaScorer(), yasa_extra(src)
    out = Path(args.out) if args.out else src.with_name(src.stem + (".prescore.json" if args.json else ".prescore.csv"))
    check_writable(out)  # before reading and scoring the night, not after
    with TqdmProgress("Reading", disable=args.quiet) as bar:
        rec = open_recording(src, eeg=args.eeg, eog=args.eog, extra=extra, progress=bar, ecg=args.ecg)
    with TqdmProgress("Pre-scoring", disable=args.quiet) as bar:
        pred = predict(rec, model, device=args.device, progress=bar)
    second_meta = {}
    if second is not None:
        with TqdmProgress("Second opinion (YASA)", disable=args.quiet) as bar:
            second = second.score(rec, progress=bar)
        second_meta["second_opinion"] = second.model_version
        from sleepscope.model.familiarity import with_second_opinion

        pred.familiarity = with_second_opinion(pred.familiarity, card.familiarity, pred.stages, second.stages)
    from sleepscope.scoring.lab_scoring import compare_with_lab

    def rescore(offset: float):
        again = predict(rec.cropped(offset), model, device=args.device)
        return again.stages, again.unsure

    lab, unread = compare_with_lab(src, pred.stages, pred.unsure, rec.start_time, codes=codes, rescore=rescore)
    meta = {"recording": str(src), "eeg": rec.eeg_name, "eog": rec.eog_name,
            "start_time": rec.start_time.isoformat(), "model": card.config.name, **pred.to_dict(), **second_meta,
            **({"lab_scoring": lab.to_dict()} if lab is not None else {})}
    write_prediction(pred, out, args.json, meta, second=second)
    print(f"{pred.n_epochs} epochs pre-scored by model {pred.model_version} -> {out}", file=sys.stderr)
    print_prediction_notes(pred, rec)
    if lab is not None:
        from sleepscope.scoring.lab_scoring import stages_line

        print(f"  {lab.line()}", file=sys.stderr)
        print(f"  {stages_line(lab.agreement)}", file=sys.stderr)
        for note in lab.notes:
            print(f"  {lab.name}: {note}", file=sys.stderr)
        if lab.note():
            print(f"NOTE: {lab.note()}", file=sys.stderr)
    if unread:
        print(f"NOTE: {unread}", file=sys.stderr)
    return 0


def print_prediction_notes(pred, rec) -> None:
    """The channels read, the unsure count and every note of a prediction, on stderr."""
    if getattr(rec, "channel_choice", None) is not None:
        for line in rec.channel_choice.lines():
            print(f"  {line}", file=sys.stderr)
    if pred.night_statistics is not None:
        start, stop = pred.night_statistics
        print(f"  also scored with this night's own statistics, taken over its sleep period: epochs "
              f"{start + 1}-{stop} of {pred.n_epochs}", file=sys.stderr)
    if getattr(pred, "chin", None) is not None and pred.chin.used:
        print(f"  {pred.chin.message()}", file=sys.stderr)
    if pred.unsure is not None:
        why = ", artefact, or W or REM on a narrow EEG band" if getattr(pred, "eeg_band", None) is not None \
            else ", or artefact"
        print(f"  {int(pred.unsure.sum())} epochs marked unsure (top probability under "
              f"{pred.unsure_threshold:.2f}{why})", file=sys.stderr)
    for note in pred.notes():
        print(f"NOTE: {note}", file=sys.stderr)
