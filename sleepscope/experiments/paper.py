"""The paper's experiment end to end: pre-train, fine-tune at N = 3, 6, 9, 12 subjects, test, tabulate.

Protocol (section 7 of the paper, `docs` of `sleepscope.data.cohorts`):

- Pre-training: the nights of the Sleep-EDF-78 subjects outside Sleep-EDF-20
  (58 subjects), labels unused, with CLIP, SimCLR and TS-TCC. Whether each
  seed pre-trains its own encoders or all seeds share one pre-training (seed 0)
  is the budget's choice (`pretrain_per_seed`): `quick` shares one to fit the
  CPU time (the seed spread then reflects fine-tuning only), `full` pre-trains
  per seed (the spread covers both).
- Sleep-EDF-20 split by subject with `PAPER_SPLIT`: 4 validation, 4 test,
  12 training subjects; the N training subjects are the first N of the split's
  training order, so the budgets are nested.
- At each N, 4 methods: supervised from random weights, and SimCLR, TS-TCC and
  CLIP initialised from their pre-trained encoders, then fine-tuned (every
  weight learns). Adam, lr 1e-3, betas 0.9/0.999, mini-batches of 4 sequences.
- Early stopping on validation macro-F1: validated every `val_every` steps,
  the best weights kept, stopped after `patience` validations without
  improvement.
- Test: every night of the 4 test subjects, each epoch scored once
  (`sleepscope.model.infer.predict`).

Resumption: each finished run is written atomically to
`OUT/runs/<method>-N<n>-seed<s>.json` and skipped when the command is run
again; pre-trained encoders are saved in `OUT/pretrained/` and reused, and an
interrupted pre-training or fine-tuning run continues from its state file
(fine-tuning: the trainer's state, which holds its validation record and best
weights, in `OUT/runs/.partial/`, removed when the run is written). The
settings are recorded in `OUT/experiment.json`; a rerun with other settings
into the same folder is refused, so results of two protocols never mix, except
for `--seeds`: a rerun with more seeds keeps the finished runs and adds the new
seeds' (seed s's run does not depend on how many seeds there are).

The budgets and the arithmetic behind `quick` are in `budgets.py`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from sleepscope.data.cohorts import (PAPER_SPLIT, SLEEP_EDF_20_SUBJECTS, Night, Split, nights_of, pretraining_nights,
                                     scan_sleep_cassette)
from sleepscope.atomic import write_json_atomic
from sleepscope.data.synthetic import SYNTHETIC_MARKER
from sleepscope.errors import SleepScopeError
from sleepscope.experiments.budgets import Budget, get_budget
from sleepscope.experiments.tables import METHODS
from sleepscope.tasks import CancelToken, Progress, check, report

PRETRAIN_METHODS = ("simclr", "tstcc", "clip")
PAPER_NS = (3, 6, 9, 12)
#: a file the synthetic-cohort writer leaves in the folder; its presence marks the data as synthetic
RESULTS_FORMAT = 1


@dataclass(frozen=True)
class RunSpec:
    method: str
    n: int
    seed: int

    @property
    def run_id(self) -> str:
        return f"{self.method}-N{self.n}-seed{self.seed}"


@dataclass
class ExperimentSettings:
    """Everything that decides the numbers; stored in OUT/experiment.json and compared on resume."""

    budget: Budget
    config: str
    seeds: int
    split: Split
    ns: tuple[int, ...] = PAPER_NS
    methods: tuple[str, ...] = METHODS
    #: folder of the held-out-family test nights (beyond the paper), or None
    shift: str | None = None

    def to_dict(self) -> dict:
        d = {"budget": self.budget.to_dict(), "config": self.config, "seeds": self.seeds,
             "split": self.split.to_dict(), "ns": list(self.ns), "methods": list(self.methods)}
        if self.shift is not None:
            d["shift"] = self.shift
        return d

    @staticmethod
    def protocol(d: dict) -> dict:
        """The settings without the number of seeds: a rerun with more seeds extends an experiment."""
        d = json.loads(json.dumps(d))
        d.pop("seeds", None)
        d.get("budget", {}).pop("seeds", None)
        return d


@dataclass
class Events:
    """Optional callbacks: what the experiment did (tests count redone runs with these)."""

    on_pretrain: Callable[[str, int], None] | None = None  # (method, seed) pre-trained now
    on_run: Callable[[RunSpec, dict], None] | None = None  # a run computed now (not read back)
    on_skip: Callable[[RunSpec], None] | None = None  # a finished run found on disk
    step_progress: Progress | None = None  # steps within the current stage


def read_split_file(path: str | os.PathLike) -> tuple[Split, tuple[int, ...] | None]:
    """A custom split from JSON: {"validation": [...], "test": [...], "train": [...], "ns": [...] (optional)}."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        split = Split(validation=tuple(int(s) for s in data["validation"]), test=tuple(int(s) for s in data["test"]),
                      train=tuple(int(s) for s in data["train"]), seed=int(data.get("seed", -1)))
        ns = tuple(int(n) for n in data["ns"]) if "ns" in data else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SleepScopeError(f"cannot read the split file {p} ({exc}); it must be JSON with lists "
                              '"validation", "test" and "train" of subject numbers, and optionally "ns"') from exc
    return split, ns


def detect_synthetic(data: str | os.PathLike) -> bool:
    """True when the folder carries the synthetic-cohort marker file."""
    return (Path(data) / SYNTHETIC_MARKER).is_file()




def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def plan_runs(settings: ExperimentSettings) -> list[RunSpec]:
    """Seed-major order: after the first seed every (method, N) cell already has a value."""
    return [RunSpec(m, n, s) for s in range(settings.seeds) for n in settings.ns for m in settings.methods]


def pretrain_seeds(settings: ExperimentSettings) -> list[int]:
    return list(range(settings.seeds)) if settings.budget.pretrain_per_seed else [0]


class _Scorer:
    """Night arrays of one cache, scored with `predict` (each epoch once, BN folded)."""

    def __init__(self, cache: Path, names: Sequence[str], limit: int | None = None) -> None:
        import h5py

        self.items: list[tuple[np.ndarray, np.ndarray]] = []
        with h5py.File(cache, "r") as f:
            for name in names:
                g = f["nights"][name]
                x, y = g["x"][()], g["y"][()].astype(np.int64)
                n = len(x)
                if limit is None or n <= limit:
                    self.items.append((x, y))
                    continue
                count = max(1, limit // 60)
                for s in np.linspace(0, n - 60, count).round().astype(int):
                    # Copies: a view would keep the whole night's array alive.
                    self.items.append((x[s:s + 60].copy(), y[s:s + 60].copy()))
        self.n_epochs = int(sum(int((y >= 0).sum()) for _, y in self.items))

    def score(self, model, device, cancel: CancelToken | None = None):
        from sleepscope.model.infer import predict
        from sleepscope.scoring.agreement import agreement

        ys, ps = [], []
        for x, y in self.items:
            check(cancel)
            ps.append(predict(x, model, device=device, cancel=cancel).stages.astype(np.int64))
            ys.append(y)
        return agreement(np.concatenate(ys), np.concatenate(ps))


def run_paper(
    data: str | os.PathLike,
    out: str | os.PathLike,
    *,
    budget: str | Budget = "quick",
    seeds: int | None = None,
    config: str | None = None,
    device: str = "auto",
    split: Split = PAPER_SPLIT,
    ns: Sequence[int] | None = None,
    synthetic: bool | None = None,
    cache_dir: str | os.PathLike | None = None,
    shift_data: str | os.PathLike | None = None,
    command: str = "",
    progress: Progress | None = None,
    cancel: CancelToken | None = None,
    events: Events | None = None,
) -> dict:
    """Run (or resume) the whole experiment into `out`; returns the content of `out/results.json`.

    `progress` counts whole jobs (cache, pre-trainings, runs, report) with a
    message naming the stage and the run; `events.step_progress` follows the
    steps inside the current job. `synthetic=None` detects the marker file.

    `shift_data` (beyond the paper): a Sleep-EDF-named folder holding the test
    subjects' nights generated by a synthetic physiology family that neither
    pre-training nor fine-tuning sees (`sleepscope synth --family B`); every
    run is then also tested there, under `"shift"` in its record.
    """
    from sleepscope.model.distributed import resolve_device

    events = events or Events()
    b = get_budget(budget) if isinstance(budget, str) else budget
    if seeds is not None:
        if seeds < 1:
            raise SleepScopeError(f"--seeds must be at least 1, not {seeds}")
        b = replace(b, seeds=seeds)
    if config is not None:
        b = replace(b, config=config)
    from sleepscope.model.config import get_config

    get_config(b.config)  # an unknown name fails before any work
    ns = tuple(ns) if ns is not None else PAPER_NS
    for n in ns:
        split.train_subjects(n)  # refuses N larger than the training subjects
    _check_split(split)
    shift_folder = str(Path(shift_data).resolve()) if shift_data is not None else None
    settings = ExperimentSettings(budget=b, config=b.config, seeds=b.seeds, split=split, ns=ns, shift=shift_folder)
    data, out = Path(data), Path(out)
    dev = resolve_device(device)
    is_synthetic = detect_synthetic(data) if synthetic is None else bool(synthetic)

    # Refuse to mix two protocols in one folder.
    out.mkdir(parents=True, exist_ok=True)
    settings_path = out / "experiment.json"
    previous = _read_json(settings_path)
    if previous is not None and ExperimentSettings.protocol(previous.get("settings", {})) != \
            ExperimentSettings.protocol(settings.to_dict()):
        raise SleepScopeError(
            f"{out} holds an experiment run with other settings (budget, configuration, split or N; see "
            f"{settings_path}). Use another --out folder, or delete that folder to start over. (Only --seeds "
            "may change between runs into one folder: more seeds extend the experiment.)")
    write_json_atomic(settings_path, {"settings": settings.to_dict(), "data": str(data.resolve())}, sort_keys=True)

    all_nights = scan_sleep_cassette(data)
    nights_20 = {"validation": nights_of(all_nights, split.validation), "test": nights_of(all_nights, split.test),
                 "train": nights_of(all_nights, split.train)}
    pre_nights = [n for n in pretraining_nights(all_nights)]
    _check_cohort(data, all_nights, split, nights_20, pre_nights)

    invocation_started = time.perf_counter()
    runs = plan_runs(settings)
    pre_jobs = [(m, s) for s in pretrain_seeds(settings) for m in PRETRAIN_METHODS if m in settings.methods]
    total = 1 + len(pre_jobs) + len(runs) + 1
    done = 0
    report(progress, done, total, "caching nights")

    cache_root = Path(cache_dir) if cache_dir is not None else _default_cache_dir(data)
    from sleepscope.data.datasets import build_cache

    labelled = nights_20["validation"] + nights_20["test"] + nights_20["train"]
    # The paper read its channels as recorded: no backups, no EEG-alone epochs.
    lab_cache = build_cache(labelled, cache_root / "sleep-edf-20.h5", progress=events.step_progress, cancel=cancel,
                            as_recorded=True)
    pre_cache = build_cache(pre_nights, cache_root / "pretraining.h5", progress=events.step_progress, cancel=cancel,
                            as_recorded=True)
    shift_nights: list[Night] = []
    shift_cache = None
    if shift_data is not None:
        shift_nights = _shift_nights(Path(shift_data), split, data)
        shift_cache = build_cache(shift_nights, cache_root / f"shift-{_digest(shift_folder)}.h5",
                                  progress=events.step_progress, cancel=cancel, as_recorded=True)
    done += 1
    cache_seconds = time.perf_counter() - invocation_started

    pre_dir = out / "pretrained"
    for method, seed in pre_jobs:
        report(progress, done, total, f"pre-training {method} seed {seed}")
        path = pre_dir / f"{method}-seed{seed}"
        if not (path.with_suffix(".safetensors").exists() and path.with_suffix(".json").exists()):
            _pretrain_one(method, seed, b, pre_cache, pre_nights, path, dev, events.step_progress, cancel)
            if events.on_pretrain:
                events.on_pretrain(method, seed)
        done += 1

    val_scorer = _Scorer(lab_cache, [n.name for n in _val_nights(nights_20["validation"], b)], b.val_epochs_per_night)
    test_scorer = _Scorer(lab_cache, [n.name for n in nights_20["test"]])
    shift_scorer = _Scorer(shift_cache, [n.name for n in shift_nights]) if shift_cache is not None else None
    run_dir = out / "runs"
    results: list[dict] = []
    computed = 0
    for i, spec in enumerate(runs):
        report(progress, done, total, f"run {i + 1}/{len(runs)}: {spec.run_id}")
        path = run_dir / f"{spec.run_id}.json"
        existing = _read_json(path)
        if existing is not None and existing.get("settings_budget") == b.name and existing.get("config") == b.config:
            results.append(existing)
            if events.on_skip:
                events.on_skip(spec)
        else:
            check(cancel)
            record = _run_one(spec, settings, lab_cache, nights_20, pre_dir, val_scorer, test_scorer, dev,
                              events.step_progress, cancel, run_dir / ".partial", shift_scorer)
            write_json_atomic(path, record, sort_keys=True)
            _clear_partial(run_dir / ".partial" / spec.run_id)
            results.append(record)
            computed += 1
            if events.on_run:
                events.on_run(spec, record)
        done += 1

    report(progress, done, total, "writing tables and plots")
    payload = {
        "format": RESULTS_FORMAT,
        "command": command,
        "synthetic": is_synthetic,
        "synthetic_detected_by": ("--synthetic flag" if synthetic is not None
                                  else f"marker file {SYNTHETIC_MARKER}" if is_synthetic
                                  else f"not synthetic: no {SYNTHETIC_MARKER} in the folder"),
        "data": _describe_data(data, all_nights, nights_20, pre_nights, lab_cache, pre_cache),
        "settings": settings.to_dict(),
        "device": str(dev),
        "machine": describe_machine(dev),
        "pretraining": _pretraining_record(pre_dir),
        # This invocation only (a resumed experiment reads earlier runs back from disk).
        "invocation": {"cache_seconds": cache_seconds, "elapsed_seconds": time.perf_counter() - invocation_started,
                       "runs_computed": computed},
        "runs": results,
        **({"shift": _describe_shift(Path(shift_data), shift_nights)} if shift_data is not None else {}),
        "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    write_report(payload, out)
    done += 1
    report(progress, done, total, "done")
    return payload


def write_report(payload: dict, out: Path) -> None:
    """results.json, tables.md, accuracy.png and macro_f1.png from a results payload."""
    from sleepscope.experiments.plots import plot_metric
    from sleepscope.experiments.tables import format_report

    write_json_atomic(out / "results.json", payload, sort_keys=True)
    tmp = out / ".tables.md.tmp"
    tmp.write_text(format_report(payload), encoding="utf-8")
    os.replace(tmp, out / "tables.md")
    plot_metric(payload, "accuracy", out / "accuracy.png")
    plot_metric(payload, "macro_f1", out / "macro_f1.png")
    if any(r.get("shift") for r in payload["runs"]):
        plot_metric(payload, "accuracy", out / "shift_accuracy.png", where="shift")
        plot_metric(payload, "macro_f1", out / "shift_macro_f1.png", where="shift")


def describe_machine(dev) -> dict:
    """What the experiment ran on, in words and figures, for the report's first lines."""
    import platform

    import torch

    cpus = os.cpu_count() or 0
    d = {"platform": platform.platform(), "processor": platform.processor() or platform.machine(), "cpus": cpus,
         "torch_threads": torch.get_num_threads(), "device": str(dev)}
    if getattr(dev, "type", str(dev)) == "cuda" and torch.cuda.is_available():
        d["gpu"] = torch.cuda.get_device_name(dev)
        d["description"] = f"GPU {d['gpu']} ({cpus} CPU cores), torch {torch.__version__}"
    else:
        d["description"] = (f"CPU only, {cpus} cores ({d['processor']}), {d['torch_threads']} torch thread(s), "
                            f"torch {torch.__version__}")
    return d


def _pretraining_record(pre_dir: Path) -> list[dict]:
    """Method, seed, steps and seconds of every pre-trained model in OUT/pretrained/ (from their cards)."""
    out = []
    for card_path in sorted(pre_dir.glob("*.json")):
        if card_path.name.endswith(".state.json"):
            continue
        m = (_read_json(card_path) or {}).get("metrics") or {}
        if "method" in m:
            out.append({k: m.get(k) for k in ("method", "seed", "pretrain_steps", "pretrain_loss_start",
                                              "pretrain_loss_end", "seconds", "cpu_seconds")})
    return out


def _digest(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _shift_nights(folder: Path, split: Split, data: Path) -> list[Night]:
    """The test subjects' labelled nights in the held-out-family folder."""
    if folder.resolve() == data.resolve():
        raise SleepScopeError("--shift-data must be another folder than --data: it holds the nights of a family "
                              "held out from pre-training and fine-tuning (`sleepscope synth --family B`)")
    nights = [n for n in nights_of(scan_sleep_cassette(folder), split.test) if n.hypnogram is not None]
    if not nights:
        raise SleepScopeError(f"{folder} holds no labelled nights of the test subjects {list(split.test)}; write "
                              "them with `sleepscope synth --out DIR --family B --nights ...` (the test subjects' "
                              "Sleep-EDF names)")
    return nights


def _describe_shift(folder: Path, nights: list[Night]) -> dict:
    from sleepscope.data.synthetic import read_marker

    marker = read_marker(folder) or {}
    family = marker.get("family")
    randomised = bool(marker.get("randomised", False))
    words = (f"synthetic family {family}" + (", randomised recording set-ups" if randomised else "")
             if family else f"nights in {folder}")
    return {"folder": str(folder.resolve()), "family": family, "randomised": randomised,
            "nights": [n.name for n in nights], "description": words}


def _default_cache_dir(data: Path) -> Path:
    import hashlib

    from sleepscope.paths import user_data_dir

    digest = hashlib.sha256(str(data.resolve()).encode()).hexdigest()[:12]
    return user_data_dir() / "cache" / f"experiment-{digest}"


def _val_nights(nights: list[Night], b: Budget) -> list[Night]:
    if not b.val_first_night_only:
        return nights
    first: dict[int, Night] = {}
    for n in sorted(nights, key=lambda n: (n.subject, n.night)):
        first.setdefault(n.subject, n)
    return list(first.values())


def _check_split(split: Split) -> None:
    roles = (split.validation, split.test, split.train)
    listed = [s for r in roles for s in r]
    if len(set(listed)) != len(listed) or any(s not in SLEEP_EDF_20_SUBJECTS for s in listed):
        raise SleepScopeError(
            f"the split must give each Sleep-EDF-20 subject (0-19) at most one role, got validation "
            f"{list(split.validation)}, test {list(split.test)}, train {list(split.train)}; the subjects from 20 "
            "on are the pre-training subjects")


def _check_cohort(data: Path, all_nights: list[Night], split: Split, nights_20: dict, pre_nights: list[Night]) -> None:
    if not all_nights:
        raise SleepScopeError(f"{data} holds no Sleep-EDF sleep-cassette nights (SC4ssNE0-PSG.edf). Write the "
                              "synthetic cohort with `sleepscope synth --out DIR --cohort sleep-edf-78`, or "
                              "download Sleep-EDF into it.")
    have = {n.subject for n in all_nights if n.hypnogram is not None}
    for role, subjects in (("validation", split.validation), ("test", split.test), ("training", split.train)):
        missing = [s for s in subjects if s not in have]
        if missing:
            raise SleepScopeError(f"{data} lacks the labelled nights (PSG + hypnogram) of the {role} subjects "
                                  f"{missing}; the experiment needs every Sleep-EDF-20 subject of the split.")
    if not pre_nights:
        raise SleepScopeError(f"{data} holds no nights of the pre-training subjects (outside Sleep-EDF-20, "
                              "SC42.. and above); write or download the Sleep-EDF-78 cohort.")


def _describe_data(data: Path, all_nights, nights_20, pre_nights, lab_cache: Path, pre_cache: Path) -> dict:
    from sleepscope.data.datasets import cache_index

    def epochs(cache: Path) -> tuple[int, int]:
        idx = cache_index(cache)
        return sum(c.n_epochs for c in idx), sum(c.n_labelled for c in idx)

    pre_epochs, _ = epochs(pre_cache)
    _, labelled = epochs(lab_cache)
    return {
        "folder": str(data.resolve()),
        "nights": len(all_nights),
        "subjects": len({n.subject for n in all_nights}),
        "pretraining": {"nights": len(pre_nights), "subjects": len({n.subject for n in pre_nights}),
                        "epochs": pre_epochs},
        "sleep_edf_20": {role: {"subjects": sorted({n.subject for n in v}), "nights": [n.name for n in v]}
                         for role, v in nights_20.items()},
        "sleep_edf_20_scored_epochs": labelled,
    }


def _pretrain_one(method: str, seed: int, b: Budget, cache: Path, nights: list[Night], path: Path, dev,
                  step_progress: Progress | None, cancel: CancelToken | None) -> None:
    import torch

    from sleepscope.data.datasets import EpochDataset
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.distributed import DistInfo
    from sleepscope.model.network import SleepStager
    from sleepscope.model.pretrain import PretrainConfig, pretrain
    from sleepscope.model.train_state import has_state

    torch.manual_seed(seed)
    stager = SleepStager(get_config(b.config))
    dataset = EpochDataset(cache, nights, labelled_only=False)
    per_pass = max(1, len(dataset) // b.pretrain_batch)  # pretrain() drops the ragged last batch
    cfg = PretrainConfig(method=method, epochs=-(-b.pretrain_steps // per_pass), batch_size=b.pretrain_batch,
                         max_steps=b.pretrain_steps, seed=seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = pretrain(stager, dataset, cfg, state_path=path, resume=has_state(path), info=DistInfo(device=dev),
                      progress=_relabel(step_progress, f"pre-training {method}"), cancel=cancel)
    card = ModelCard(
        config=stager.config, parent=None,
        data=f"{method} pre-training (labels unused) on {len(nights)} nights, {len(dataset)} epochs",
        metrics={"method": method, "seed": seed, **result.summary(), "seconds": time.perf_counter() - started,
                 "cpu_seconds": time.process_time() - cpu_started},
        notes="paper experiment: encoders pre-trained, the rest untrained")
    save_model(stager, path, card)
    _remove_state(path)


def _remove_state(base: Path) -> None:
    """Drop a finished pre-training's resumable state (optimizer moments: larger than the model)."""
    from sleepscope.model.train_state import state_paths

    json_path = state_paths(base)
    doc = _read_json(json_path)
    if doc is not None and isinstance(doc.get("tensors"), str):
        json_path.with_name(doc["tensors"]).unlink(missing_ok=True)
    json_path.unlink(missing_ok=True)


def _relabel(progress: Progress | None, prefix: str) -> Progress | None:
    if progress is None:
        return None
    return lambda done, total, message: progress(done, total, f"{prefix}: {message}")


def _clear_partial(partial: Path) -> None:
    """Remove every file of a run's interrupted state (the trainer's state with its best weights)."""
    _remove_state(partial)
    if partial.parent.is_dir():
        for f in partial.parent.glob(f"{partial.name}.*"):
            f.unlink(missing_ok=True)


def _run_one(spec: RunSpec, settings: ExperimentSettings, lab_cache: Path, nights_20: dict, pre_dir: Path,
             val_scorer: _Scorer, test_scorer: _Scorer, dev, step_progress: Progress | None,
             cancel: CancelToken | None, partial_dir: Path, shift_scorer: _Scorer | None = None) -> dict:
    import torch

    from sleepscope.data.datasets import EpochDataset, SequenceDataset
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.config import get_config
    from sleepscope.model.distributed import DistInfo
    from sleepscope.model.network import SleepStager
    from sleepscope.model.train import TrainConfig, inverse_frequency_weights, train
    from sleepscope.model.train_state import has_state

    b = settings.budget
    subjects = settings.split.train_subjects(spec.n)
    train_nights = nights_of(nights_20["train"], subjects)
    init = None
    torch.manual_seed(spec.seed)
    if spec.method == "supervised":
        model = SleepStager(get_config(b.config))
    else:
        pre_seed = spec.seed if b.pretrain_per_seed else 0
        init = pre_dir / f"{spec.method}-seed{pre_seed}.safetensors"
        model, card = load_model(init)
    seq_len = b.seq_len or model.config.seq_len
    dataset = SequenceDataset(lab_cache, train_nights, seq_len=seq_len)
    weights = inverse_frequency_weights(EpochDataset(lab_cache, train_nights).labels) if b.class_weights else None
    # Early stopping on validation macro-F1 every `val_every` steps: the trainer validates
    # with the scorer below, keeps the best weights and stops when patience runs out; it
    # checkpoints after every validation, so an interrupted run resumes from its state in
    # OUT/runs/.partial/ with its validation record and best weights.
    steps_per_pass = -(-len(dataset) // b.batch_size)
    max_steps, val_every = b.steps_at(steps_per_pass)
    cfg = TrainConfig(epochs=10_000, batch_size=b.batch_size, max_steps=max_steps, seed=spec.seed,
                      patience=b.patience, val_every=val_every, checkpoint_every=val_every)
    partial = partial_dir / spec.run_id
    partial_dir.mkdir(parents=True, exist_ok=True)
    resume = has_state(partial)

    def validate(m) -> dict:
        a = val_scorer.score(m, dev, cancel)
        return {"macro_f1": a.macro_f1, "accuracy": a.accuracy}

    result = train(model, dataset, None, cfg, class_weights=weights, validate=validate, state_path=partial,
                   resume=resume, info=DistInfo(device=dev), progress=_relabel(step_progress, spec.run_id),
                   cancel=cancel)
    history = [{"step": h["step"], "macro_f1": h["val_macro_f1"], "accuracy": h["val_accuracy"]}
               for h in result.history]
    best = next((h for h in history if h["step"] == result.best_step), None)
    started, cpu_started = time.perf_counter(), time.process_time()
    a = test_scorer.score(model, dev, cancel)
    eval_seconds, eval_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    shift: dict = {}
    if shift_scorer is not None:
        started = time.perf_counter()
        s = shift_scorer.score(model, dev, cancel)
        shift = {"shift": {"accuracy": s.accuracy, "macro_f1": s.macro_f1, "kappa": s.kappa, "f1": dict(s.f1),
                           "n_epochs": s.n_epochs},
                 "shift_eval_seconds": time.perf_counter() - started}
    return {
        **shift,
        "method": spec.method, "n": spec.n, "seed": spec.seed, "run_id": spec.run_id,
        "settings_budget": b.name, "config": b.config,
        "train_subjects": list(subjects), "train_nights": [n.name for n in train_nights],
        "init": str(init.name) if init is not None else None,
        "accuracy": a.accuracy, "macro_f1": a.macro_f1, "kappa": a.kappa, "f1": dict(a.f1),
        "confusion": a.confusion.tolist(), "n_test_epochs": a.n_epochs,
        "steps": result.steps, "best_step": result.best_step, "stopped_early": result.stopped_early,
        "max_steps": max_steps, "steps_per_pass": steps_per_pass, "val_every": val_every,
        "passes": result.steps / steps_per_pass,
        "resumed": resume,
        "validation": {"macro_f1": best["macro_f1"] if best else None, "accuracy": best["accuracy"] if best else None,
                       "epochs": val_scorer.n_epochs, "history": history},
        # Wall seconds, and the process's CPU seconds (the figure that does not grow with others' load).
        "train_seconds": result.seconds, "eval_seconds": eval_seconds,
        "train_cpu_seconds": result.cpu_seconds, "eval_cpu_seconds": eval_cpu,
    }
