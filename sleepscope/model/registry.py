"""The model registry: every model version the technician has had, immutable, and which one is active.

Layout under ``user_data_dir()/models/``::

    versions/<version>/model.safetensors   the weights   (read-only once written)
    versions/<version>/model.json          the model card: parent, data, metrics
    versions/<version>/entry.json          when and from where it was added
    active.json                            {"version": ..., "history": [...]}
    .incoming-*/                           a version being written (ignored, swept)

A version is the weights' own id (``ModelCard.version``), so adding the same
weights twice is a no-op and a version can never be rewritten. A version is
written complete into a private ``.incoming-*`` folder, every file fsync'd,
then the folder is renamed to ``versions/<version>`` in one step: a process
killed at any moment leaves either no version or a whole one. ``active.json``
is replaced the same way (temporary file, fsync, rename), so it always names
a version that exists or is absent.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from sleepscope.atomic import fsync_dir, fsync_file, write_json_atomic
from sleepscope.errors import SleepScopeError
from sleepscope.paths import user_data_dir

WEIGHTS = "model.safetensors"
CARD = "model.json"
ENTRY = "entry.json"
ACTIVE = "active.json"
_INCOMING = ".incoming-"
#: an .incoming-* folder older than this is debris of a killed process
_STALE_SECONDS = 3600.0


@dataclass
class ModelVersion:
    """One registered model: its files, lineage, training data and scores."""

    version: str
    path: Path  # the .safetensors file
    parent: str | None
    data: str  # the card's description of the training data
    data_identity: str  # hash of the training labels (fine-tuned models), else ""
    metrics: dict = field(default_factory=dict)
    created: str = ""  # when the model was trained (card)
    added: str = ""  # when it entered the registry
    source: str = ""  # the file it was added from
    notes: str = ""

    @property
    def heldout(self) -> dict | None:
        """{"child": {...}, "parent": {...}} of a fine-tuned model, on the same held-out epochs."""
        h = self.metrics.get("heldout")
        return h if isinstance(h, dict) and "child" in h and "parent" in h else None

    @property
    def encoder_only(self) -> bool:
        """A site pre-trained encoder: registered so that fine-tuning can start from it, never active."""
        return bool(self.metrics.get("encoder_only", False))

    @property
    def other_recording(self) -> dict | None:
        """{"recording", "child", "parent", ...}: a child fine-tuned without one corrected recording, and the
        parent, scored on it (``finetune``; corrections of several recordings only)."""
        o = self.metrics.get("other_recording")
        return o if isinstance(o, dict) and "child" in o and "parent" in o else None

    def worse_comparisons(self) -> list[tuple[str, dict]]:
        """("heldout" | "other_recording", figures) of each comparison in which it scored a lower macro-F1 than
        its parent: the same held-out epochs, and (beyond its interval's doubt) a corrected recording a child
        fine-tuned the same way did not learn from."""
        out = [("heldout", self.heldout)] if self.heldout is not None and _below(self.heldout) else []
        o = self.other_recording
        if o is not None and check_verdict(o) == "worse":
            out.append(("other_recording", o))
        return out

    def worse_than_parent(self) -> bool:
        return bool(self.worse_comparisons())


def left_out_name(other: dict) -> str:
    """What a card's ``other_recording`` check left out, for people: its recordings, and whose when known."""
    return (f"subject {other['subject']} ({other.get('recording')})" if other.get("subject")
            else str(other.get("recording")))


def check_verdict(other: dict) -> str:
    """"worse", "better" or "no clear difference": a card's ``other_recording`` check (older cards carry no
    interval: the bare comparison)."""
    if "verdict" in other:
        return str(other["verdict"])
    return "worse" if _below(other) else "better"


def difference_text(other: dict) -> str:
    """The check's macro-F1 difference and its interval, for people ("" for older cards)."""
    d = other.get("macro_f1_difference")
    return "" if not d else f"macro-F1 difference {d[0]:+.3f}, 90 % interval {d[1]:+.3f} to {d[2]:+.3f}"


def _below(h: dict) -> bool:
    try:
        return float(h["child"]["macro_f1"]) < float(h["parent"]["macro_f1"])
    except (KeyError, TypeError, ValueError):
        return False


def registry_dir() -> Path:
    return user_data_dir() / "models"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class ModelRegistry:
    """The registry in `root` (default: the user data folder's `models/`)."""

    def __init__(self, root: str | os.PathLike | None = None) -> None:
        self.root = Path(root) if root is not None else registry_dir()
        self.versions_dir = self.root / "versions"
        try:
            self.versions_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unwritable(exc) from exc
        self._sweep()

    def check_writable(self) -> None:
        """Raise SleepScopeError now if a version could not be added (before hours of work that would add one)."""
        try:
            probe = Path(tempfile.mkdtemp(prefix=_INCOMING, dir=self.root))
            probe.rmdir()
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def _unwritable(self, exc: OSError) -> SleepScopeError:
        return SleepScopeError(
            f"the model registry {self.root} cannot be written ({exc.strerror or exc}). Set SLEEPSCOPE_DATA_DIR "
            "to a folder you can write to, or fix the folder's permissions and free space")

    # -- reading -------------------------------------------------------------
    def versions(self) -> list[ModelVersion]:
        """Every registered version, oldest first (by the time it was added)."""
        out = []
        for d in self.versions_dir.iterdir():
            if d.is_dir() and not d.name.startswith("."):
                v = self._read(d)
                if v is not None:
                    out.append(v)
        return sorted(out, key=lambda v: (v.added, v.version))

    def get(self, version: str) -> ModelVersion:
        d = self.versions_dir / version
        v = self._read(d) if d.is_dir() else None
        if v is None:
            known = ", ".join(x.version for x in self.versions()) or "none"
            raise SleepScopeError(f"model version {version!r} is not in the registry {self.root} "
                                  f"(registered: {known}); list them with Model → Model versions…")
        return v

    def __contains__(self, version: str) -> bool:
        return (self.versions_dir / version / CARD).is_file()

    def active_version(self) -> str | None:
        """The active version, or None when none was activated (or it has gone missing)."""
        state = self._read_active()
        v = state.get("version")
        return v if isinstance(v, str) and v in self else None

    def active(self) -> ModelVersion | None:
        v = self.active_version()
        return self.get(v) if v else None

    def active_history(self) -> list[dict]:
        h = self._read_active().get("history", [])
        return h if isinstance(h, list) else []

    def find(self, path: str | os.PathLike) -> ModelVersion | None:
        """The registered version with the same weights as the model file at `path`, if any."""
        from sleepscope.model.checkpoint import read_card

        try:
            version = read_card(path).version
        except SleepScopeError:
            return None
        return self.get(version) if version and version in self else None

    # -- writing -------------------------------------------------------------
    def add(self, model_path: str | os.PathLike) -> ModelVersion:
        """Register the model at `model_path` (NAME.safetensors + NAME.json); returns its version.

        The model is loaded first (hash, configuration and version checked), so a
        damaged model never enters the registry. Adding a version already there
        returns it unchanged.
        """
        from sleepscope.model.checkpoint import load_model, model_files

        # the files of the pair as the loader resolves them (a save killed between its renames)
        st_path, card_path = model_files(model_path)
        _, card = load_model(model_path)
        target = self.versions_dir / card.version
        if target.is_dir():
            return self.get(card.version)
        try:
            return self._add(st_path, card_path, card, target)
        except OSError as exc:
            raise self._unwritable(exc) from exc

    def _add(self, st_path: Path, card_path: Path, card, target: Path) -> ModelVersion:
        incoming = Path(tempfile.mkdtemp(prefix=_INCOMING, dir=self.root))
        try:
            shutil.copyfile(st_path, incoming / WEIGHTS)
            shutil.copyfile(card_path, incoming / CARD)
            entry = {"version": card.version, "added": _now(), "source": str(Path(st_path).resolve())}
            (incoming / ENTRY).write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
            for name in (WEIGHTS, CARD, ENTRY):
                fsync_file(incoming / name)
                os.chmod(incoming / name, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
            fsync_dir(incoming)
            try:
                os.rename(incoming, target)
            except OSError:
                if target.is_dir():  # another process registered the same weights meanwhile
                    return self.get(card.version)
                raise
        finally:
            if incoming.exists():
                _remove_tree(incoming)
        fsync_dir(self.versions_dir)
        return self.get(card.version)

    def activate(self, version: str) -> ModelVersion:
        """Make `version` the active model (the technician's decision); returns it."""
        v = self.get(version)
        if v.encoder_only:
            from sleepscope.model.site_pretrain import encoder_only_message

            raise SleepScopeError(encoder_only_message(version) + "; it cannot be the active model")
        _check_loads(v)
        state = self._read_active()
        history = state.get("history", []) if isinstance(state.get("history"), list) else []
        history.append({"version": version, "time": _now(), "previous": state.get("version")})
        try:
            write_json_atomic(self.root / ACTIVE, {"version": version, "history": history[-200:]})
        except OSError as exc:
            raise self._unwritable(exc) from exc
        return v

    def rollback(self, version: str) -> ModelVersion:
        """Activate `version`, a version registered before the active one."""
        v = self.get(version)
        current = self.active()
        if current is not None and current.version == version:
            raise SleepScopeError(f"version {version} is already the active model; pick an earlier version")
        if current is not None and v.added > current.added:
            raise SleepScopeError(
                f"version {version} was registered after the active version {current.version}: rolling back "
                "goes to an earlier version; use Activate for a newer one")
        return self.activate(version)

    # -- internals -----------------------------------------------------------
    def _read(self, d: Path) -> ModelVersion | None:
        from sleepscope.model.checkpoint import read_card

        if not (d / CARD).is_file() or not (d / WEIGHTS).is_file():
            return None
        try:
            card = read_card(d / CARD)
            entry = json.loads((d / ENTRY).read_text(encoding="utf-8")) if (d / ENTRY).is_file() else {}
        except (SleepScopeError, json.JSONDecodeError, UnicodeDecodeError, OSError):
            return None
        metrics = card.metrics if isinstance(card.metrics, dict) else {}
        return ModelVersion(
            version=card.version or d.name, path=d / WEIGHTS, parent=card.parent, data=card.data,
            data_identity=str(metrics.get("data_identity", "")), metrics=metrics, created=card.created,
            added=str(entry.get("added", "")), source=str(entry.get("source", "")), notes=card.notes)

    def _read_active(self) -> dict:
        p = self.root / ACTIVE
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # Written atomically, so this is damage from outside SleepScope.
            raise SleepScopeError(f"{p} is damaged ({exc}); delete it and choose the active model again "
                                  "in Model → Model versions…") from exc
        return data if isinstance(data, dict) else {}

    def _sweep(self) -> None:
        """Remove what killed writers left: stale .incoming-* folders and temporary active files."""
        now = time.time()
        for p in self.root.iterdir():
            try:
                old = now - p.stat().st_mtime > _STALE_SECONDS
            except OSError:
                continue
            if p.name.startswith(_INCOMING) and p.is_dir() and old:
                _remove_tree(p)
            elif p.name.startswith(f".{ACTIVE}.") and p.name.endswith(".tmp") and old:
                p.unlink(missing_ok=True)


def _check_loads(v: ModelVersion) -> None:
    """Refuse to activate a version whose files no longer load (damaged from outside)."""
    from sleepscope.model.checkpoint import load_model

    load_model(v.path)


def _remove_tree(path: Path) -> None:
    # The files inside are read-only (immutable versions): make them removable first.
    for p in path.rglob("*"):
        try:
            os.chmod(p, stat.S_IRUSR | stat.S_IWUSR | (stat.S_IXUSR if p.is_dir() else 0))
        except OSError:
            pass
    shutil.rmtree(path, ignore_errors=True)


def share_text(ft: dict) -> str:
    """What the fine-tuning kept of the current model, and why (the card's metrics["finetune"])."""
    share, choice, chain = ft.get("keep_parent"), ft.get("share_choice"), ft.get("chain_verdict")
    if not choice:
        text = f" Averaged with the current model ({share:.0%} of its weights)." if share else ""
    else:
        gap = choice["gap"]
        se = choice.get("standard_error")  # None in a card's JSON where a single block left it unknown
        how = (f"fine-tuned without {choice.get('recording')}, the new model scored it {abs(gap):.1%} "
               f"{'above' if gap >= 0 else 'below'} its average with the current model"
               + (f" (± {se:.1%})" if se is not None else ""))
        text = (f" Kept the new model as trained: {how}." if choice["kept"] == "child" else
                f" Averaged with the current model ({share:.0%} of its weights): {how}, not clearly better.")
    if chain and not chain["kept"]:
        if chain.get("by") != "check child":
            how = "on the corrected recordings the current model scored"
        elif choice and choice.get("recording") == chain["recording"]:
            how = "on that recording it scored"
        else:
            how = f"fine-tuned without {chain['recording']}, the new model scored it"
        text += (f" It reads nights without the current model's stage-transition chain: {how} "
                 f"{chain['gap_without']:.1%} higher without it (± {chain['standard_error']:.1%}).")
    return text
