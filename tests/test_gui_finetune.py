"""The fine-tuning dialog (separate process, live plots, Cancel, crash) and the model versions dialog."""

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtWidgets import QMainWindow, QMenu

import sleepscope.gui.model_versions_dialog as mvd
from sleepscope.gui.finetune_dialog import FineTuneDialog, count_corrections, install_model_actions
from sleepscope.gui.model_versions_dialog import ModelVersionsDialog
from sleepscope.io import open_recording
from sleepscope.model.checkpoint import ModelCard, load_model, save_model
from sleepscope.model.infer import predict
from sleepscope.model.registry import ModelRegistry
from sleepscope.scoring.scoring_file import ScoringFile
from test_finetune import corrected_night_files, night_labels, tiny_model_file


@pytest.fixture
def night(tmp_path):
    psg, scoring = corrected_night_files(tmp_path / "rec", n=100, labelled=slice(0, 90))
    return psg, scoring


def wait_finished(qtbot, d: FineTuneDialog, timeout_s: float = 180) -> None:
    qtbot.waitUntil(lambda: d.exit_code is not None, timeout=int(timeout_s * 1000))


def test_counts_per_stage_shown(qtbot, night, tmp_path):
    psg, scoring = night
    lab = night_labels("SC4011E0", 100)[:90]
    d = FineTuneDialog([scoring], tiny_model_file(tmp_path / "parent"))
    qtbot.addWidget(d)
    for name, code in zip(("W", "N1", "N2", "N3", "REM"), range(5)):
        assert d.count_labels[name].text() == str(int(np.count_nonzero(lab == code)))
    assert d.count_labels["Total"].text() == str(int(np.count_nonzero(lab >= 0)))
    assert "1 recording" in d.recordings_label.text()
    assert "checked only on epochs held out of it" in d.recordings_label.text()  # and how to get a real check
    assert d.start_button.isEnabled()
    _, second = corrected_night_files(tmp_path / "rec2", "SC4021E0", n=60)
    two = FineTuneDialog([scoring, second], tiny_model_file(tmp_path / "parent"))
    qtbot.addWidget(two)
    assert "2 recording" in two.recordings_label.text() and "held out of it" not in two.recordings_label.text()
    # a scoring file listed twice (open one and a recent one) counts once
    assert count_corrections([scoring, scoring]).total == int(np.count_nonzero(lab >= 0))


def test_run_completes_plots_and_activates(qtbot, night, tmp_path, monkeypatch):
    import sleepscope.gui.finetune_dialog as fd

    # The run's process is niced so that the window stays responsive; here the two cores are shared with another
    # test worker, behind which a niced process can wait minutes (the command test checks --nice, unpatched).
    monkeypatch.setattr(fd, "NICE", 0)
    psg, scoring = night
    parent = tiny_model_file(tmp_path / "parent")
    d = FineTuneDialog([scoring], parent)
    qtbot.addWidget(d)
    d.epochs.setValue(2)
    d.freeze.setChecked(True)  # encoders frozen, as the shipped model was fine-tuned: faster
    assert d.start()
    assert d.running() and not d.start_button.isEnabled() and d.cancel_button.isEnabled()
    wait_finished(qtbot, d)
    assert d.exit_code == 0 and d.error is None, (d.error, d._stderr)
    assert d.result["event"] == "done"
    # the 2 passes asked, or more when the corrections are too few for fine-tuning's fewest
    # optimiser steps (the dialog then says so); held-out points along the loss curve's steps
    passes = d.result["metrics"]["finetune"]["epochs"]
    assert passes >= 2 and (passes > 2) == ("the fewest it makes" in d.status.text())
    assert len(d.loss_x) >= 2 and len(d.f1_x) >= 2 and max(d.f1_x) <= max(d.loss_x)
    assert d.loss_curve.getData()[0] is not None and len(d.loss_curve.getData()[0]) == len(d.loss_x)
    assert len(d.f1_curve.getData()[0]) == len(d.f1_x) and d.parent_line.isVisible()
    reg = ModelRegistry()
    version = d.result["version"]
    assert version in reg and reg.get(version).parent == load_model(parent)[1].version
    assert reg.active_version() is None  # not activated by training
    assert "macro-F1" in d.status.text()
    assert f"current ({load_model(parent)[1].version})" in d.status.text()  # what the new model is compared with
    assert not list(d.out_base.parent.glob(d.out_base.name + "*"))  # scratch output removed
    asked = []
    monkeypatch.setattr(mvd, "confirm_worse", lambda *a: asked.append(a) or True)
    with qtbot.waitSignal(d.model_activated, timeout=5000) as sig:
        assert d.activate_result()
    assert Path(sig.args[0]) == reg.get(version).path
    assert reg.active_version() == version
    assert len(asked) == int(reg.get(version).worse_than_parent())


def test_cancel_stops_within_2s_and_leaves_active_model(qtbot, night, tmp_path):
    psg, scoring = night
    parent = tiny_model_file(tmp_path / "parent")
    reg = ModelRegistry()
    active = reg.activate(reg.add(parent).version).version
    d = FineTuneDialog([scoring], parent)
    qtbot.addWidget(d)
    d.epochs.setValue(100)
    d.start()
    qtbot.waitUntil(lambda: len(d.loss_x) >= 1 or d.exit_code is not None, timeout=120_000)
    assert d.running()
    t0 = time.monotonic()
    d.cancel()
    wait_finished(qtbot, d, 10)
    elapsed = time.monotonic() - t0
    assert elapsed <= 3.0, elapsed  # terminate, kill at 2 s at the latest (+ event-loop latency on a busy machine)
    assert d.result is None and d.cancelled and "unchanged" in d.status.text()
    assert reg.active_version() == active
    assert [v.version for v in reg.versions()] == [active]
    assert not list(d.out_base.parent.glob(d.out_base.name + "*"))
    assert d.start_button.isEnabled()


def test_crashing_process_is_reported_not_fatal(qtbot, night, tmp_path):
    psg, scoring = night
    bad = tmp_path / "corrupt.safetensors"
    good = tiny_model_file(tmp_path / "good")
    bad.write_bytes(good.read_bytes()[:200])
    (tmp_path / "corrupt.json").write_text(good.with_suffix(".json").read_text())
    d = FineTuneDialog([scoring], bad)
    qtbot.addWidget(d)
    d.start()
    wait_finished(qtbot, d, 120)
    assert d.exit_code not in (0, None) and d.result is None
    assert "failed" in d.status.text().lower() and "truncated" in d.error
    assert d.start_button.isEnabled()


def other_recording_metrics(worse: bool, verdict: str | None = None) -> dict:
    """A card's check on a corrected recording the second fine-tuning left out."""
    f1 = {"W": 0.6, "N1": 0.3, "N2": 0.8, "N3": 0.7, "REM": 0.7}
    child = 0.52 if worse else 0.7
    return {"recording": "SC4021E0.edf", "subject": "SC402", "by": "subject", "n_epochs": 300, "n_trained_on": 800,
            "parent": {"macro_f1": 0.62, "accuracy": 0.8, "f1": f1},
            "child": {"macro_f1": child, "accuracy": 0.7 if worse else 0.85,
                      "f1": {k: v + (-0.1 if worse else 0.08) for k, v in f1.items()}},
            "macro_f1_difference": [child - 0.62, child - 0.66, child - 0.58],
            "verdict": verdict or ("worse" if worse else "better")}


def finetuned_versions(tmp_path, worse: bool, other_worse: bool | None = None, other_verdict: str | None = None):
    """Registry with a parent and a child whose card says it is better/worse on held-out epochs (and, with
    `other_worse`, on a corrected recording a second fine-tuning left out)."""
    parent = tiny_model_file(tmp_path / "p", seed=1)
    pm, pcard = load_model(parent)
    child_model = load_model(tiny_model_file(tmp_path / "c0", seed=2))[0]
    f1 = {"W": 0.5, "N1": 0.2, "N2": 0.8, "N3": 0.7, "REM": 0.6}
    child_f1 = {k: v + (-0.1 if worse else 0.1) for k, v in f1.items()}
    metrics = {"data_identity": "ab" * 32, "heldout": {
        "n_epochs": 200,
        "parent": {"macro_f1": 0.56, "accuracy": 0.7, "f1": f1},
        "child": {"macro_f1": 0.46 if worse else 0.66, "accuracy": 0.65 if worse else 0.75, "f1": child_f1}}}
    if other_worse is not None:
        metrics["other_recording"] = other_recording_metrics(other_worse, other_verdict)
    save_model(child_model, tmp_path / "c", ModelCard(config=child_model.config, parent=pcard.version,
                                                     data="fine-tuned (test)", metrics=metrics))
    reg = ModelRegistry()
    p = reg.add(parent)
    c = reg.add(tmp_path / "c.safetensors")
    reg.activate(p.version)
    return reg, p, c


def test_versions_dialog_lists_and_warns_before_worse(qtbot, tmp_path, monkeypatch):
    reg, p, c = finetuned_versions(tmp_path, worse=True)
    d = ModelVersionsDialog(reg, in_use=p.version)
    qtbot.addWidget(d)
    assert d.table.rowCount() == 2
    row = d.row_of(c.version)
    assert d.table.item(row, 4).text() == p.version  # parent
    assert d.table.item(row, 5).text() == "0.460 / 0.560"  # held-out macro-F1 new / parent
    assert d.table.item(row, 6).text() == "0.400 / 0.500"  # W F1
    assert d.table.item(d.row_of(p.version), 0).text() == "●"
    assert d.table.item(d.row_of(p.version), 1).text() == "in use"
    d.table.selectRow(row)
    asked = []
    monkeypatch.setattr(mvd, "confirm_worse", lambda *a: asked.append(a[2]) or False)
    assert not d.activate_selected()  # warned, technician said no
    assert asked and "WORSE" in asked[0] and reg.active_version() == p.version
    monkeypatch.setattr(mvd, "confirm_worse", lambda *a: True)
    with qtbot.waitSignal(d.model_activated, timeout=2000) as sig:
        assert d.activate_selected()
    assert reg.active_version() == c.version and Path(sig.args[0]) == c.path
    # roll back to the earlier version
    d.table.selectRow(d.row_of(p.version))
    assert d.rollback_button.isEnabled()
    with qtbot.waitSignal(d.model_activated, timeout=2000):
        assert d.rollback_selected()
    assert reg.active_version() == p.version
    # ● (the registry's active version) and "in use" (what the window re-scored with) agree after Roll back.
    marks = {v.version: (d.table.item(d.row_of(v.version), 0).text(), d.table.item(d.row_of(v.version), 1).text())
             for v in (p, c)}
    assert marks == {p.version: ("●", "in use"), c.version: ("", "")}


def test_better_model_activates_without_warning(qtbot, tmp_path, monkeypatch):
    reg, p, c = finetuned_versions(tmp_path, worse=False)
    monkeypatch.setattr(mvd, "confirm_worse", lambda *a: pytest.fail("no warning expected"))
    d = ModelVersionsDialog(reg)
    qtbot.addWidget(d)
    d.table.selectRow(d.row_of(c.version))
    assert not d.rollback_button.isEnabled()  # newer than the active one: that is activation
    assert d.activate_selected() and reg.active_version() == c.version


def test_a_child_worse_on_a_recording_it_did_not_learn_from_is_flagged(qtbot, tmp_path, monkeypatch):
    reg, p, c = finetuned_versions(tmp_path, worse=False, other_worse=True)
    d = ModelVersionsDialog(reg)
    qtbot.addWidget(d)
    row = d.row_of(c.version)
    assert d.table.item(row, 5).text() == "0.660 / 0.560"  # better on its held-out epochs...
    d.table.selectRow(row)
    assert "subject SC402 (SC4021E0.edf)" in d.detail.text() and "0.520 (parent 0.620)" in d.detail.text()
    asked = []
    monkeypatch.setattr(mvd, "confirm_worse", lambda *a: asked.append(a[2]) or False)
    assert not d.activate_selected()  # ...but worse on the recording left out: warned, technician said no
    assert len(asked) == 1 and "SC4021E0.edf" in asked[0] and "0.520 against 0.620" in asked[0]
    assert "same held-out epochs" not in asked[0]  # it is not worse there


def test_a_lower_score_on_the_recording_left_out_within_its_doubt_is_no_warning(qtbot, tmp_path, monkeypatch):
    reg, p, c = finetuned_versions(tmp_path, worse=False, other_worse=True, other_verdict="no clear difference")
    assert not reg.get(c.version).worse_than_parent()  # the control of the test above: same figures, no verdict
    monkeypatch.setattr(mvd, "confirm_worse", lambda *a: pytest.fail("no warning expected"))
    d = ModelVersionsDialog(reg)
    qtbot.addWidget(d)
    d.table.selectRow(d.row_of(c.version))
    assert d.activate_selected()


@pytest.mark.parametrize("worse", [True, False])
def test_the_result_shows_the_check_on_a_recording_left_out(qtbot, tmp_path, worse):
    d = FineTuneDialog([], tiny_model_file(tmp_path / "parent"))
    qtbot.addWidget(d)
    heldout = {"n_epochs": 100, "parent": {"macro_f1": 0.5, "accuracy": 0.6}, "child": {"macro_f1": 0.6,
                                                                                           "accuracy": 0.7}}
    d._show_result({"version": "c", "parent": "p", "metrics": {
        "heldout": heldout, "other_recording": other_recording_metrics(worse)}})
    text = d.status.text()
    assert "subject SC402 (SC4021E0.edf)" in text and ("0.520" if worse else "0.700") in text
    assert ("scored worse there" in text) == worse and ("better there" in text) != worse
    assert ("difference -0.100" if worse else "difference +0.080") in text
    d._show_result({"version": "c", "parent": "p", "metrics": {
        "heldout": heldout, "other_recording": other_recording_metrics(worse, "no clear difference")}})
    assert "No clear difference there" in d.status.text() and "worse there" not in d.status.text()
    d._show_result({"version": "c", "parent": "p", "metrics": {"heldout": heldout}})  # one recording: no check
    assert "left it out" not in d.status.text()


class FakeWindow(QMainWindow):
    """The parts of the main window the Model menu uses: re-scores the open recording on set_model."""

    def __init__(self, recording, scoring, model_path):
        super().__init__()
        self.recording, self.scoring, self.model_path, self.model_card = recording, scoring, model_path, None
        self.settings = None

    def set_model(self, path: Path) -> bool:
        model, card = load_model(path)
        self.model_path, self.model_card = path, card
        pred = predict(self.recording, model)
        self.scoring.add_prediction(pred.model_version, pred.probs)
        return True


def test_activation_rescores_without_overwriting_labels(qtbot, night, tmp_path, monkeypatch):
    psg, scoring_path = night
    reg, p, c = finetuned_versions(tmp_path, worse=False)
    rec = open_recording(psg)
    with ScoringFile.open(rec, scoring_path, scorer="tech") as sf:
        labels, sources = sf.labels.copy(), sf.sources.copy()
        w = FakeWindow(rec, sf, p.path)
        qtbot.addWidget(w)
        menu = QMenu("Model", w)
        actions = install_model_actions(w, menu)
        assert [a.text() for a in menu.actions() if a.text()] == ["&Fine-tune on corrections…",
                                                                  "Model &versions / roll back…"]
        dialog = actions.open_versions()
        qtbot.addWidget(dialog)
        dialog.table.selectRow(dialog.row_of(c.version))
        assert dialog.activate_selected()
        assert w.model_card.version == c.version
        assert sf.latest_prediction().model_version == c.version
        # the model's stages sit beside the technician's labels, which are untouched
        np.testing.assert_array_equal(sf.labels, labels)
        assert sf.sources.tolist() == sources.tolist()
        assert (labels[:90] >= 0).all() and (labels[90:] == -1).all()
        fd = actions.open_finetune()
        qtbot.addWidget(fd)
        assert fd.scoring_paths == [Path(scoring_path)] and fd.model_path == c.path
    with ScoringFile.open(rec, scoring_path) as again:
        np.testing.assert_array_equal(again.labels, labels)
        assert again.latest_prediction().model_version == c.version


def test_scoring_files_of_open_and_recent_recordings(tmp_path):
    from types import SimpleNamespace

    from sleepscope.gui.finetune_dialog import scoring_files_of
    from sleepscope.scoring.scoring_file import fallback_path

    psg_a, sc_a = corrected_night_files(tmp_path / "a", "SC4011E0", n=60)
    psg_b, sc_b = corrected_night_files(tmp_path / "b", "SC4021E0", n=60)
    # a recording in a read-only place: its scoring file lives in the user data folder
    psg_c, sc_c = corrected_night_files(tmp_path / "c", "SC4031E0", n=60)
    rec_c = open_recording(psg_c)
    moved = fallback_path(rec_c.fingerprint())
    moved.parent.mkdir(parents=True, exist_ok=True)
    sc_c.rename(moved)
    psg_never, _ = corrected_night_files(tmp_path / "d", "SC4041E0", n=60)
    recent = [str(psg_b), str(psg_c), str(psg_a), str(tmp_path / "gone.edf")]
    window = SimpleNamespace(scoring=SimpleNamespace(path=sc_a), recording=SimpleNamespace(path=psg_a),
                             settings=SimpleNamespace(recent_files=lambda: recent))
    scorings, recordings = scoring_files_of(window)
    assert scorings == [sc_a, sc_b, moved]  # the open one first, each once; unrelated folders not searched
    assert recordings == [psg_c]  # so that the process finds the signals of the moved one
    assert count_corrections(scorings).recordings == 3


def test_command_for_python_and_frozen_app(qtbot, night, tmp_path, monkeypatch):
    import sys

    from sleepscope.gui.finetune_dialog import launch_prefix

    psg, scoring = night
    d = FineTuneDialog([scoring], tmp_path / "m.safetensors", recordings=[psg])
    qtbot.addWidget(d)
    d.freeze.setChecked(True)
    d.imports.setChecked(False)
    args = d.command()
    assert launch_prefix() == [sys.executable, "-m", "sleepscope"] and args[:3] == ["-m", "sleepscope", "finetune"]
    for flag, value in (("--from", str(tmp_path / "m.safetensors")), ("--epochs", "10"), ("--lr", "0.0001"),
                        ("--holdout", "0.2"), ("--keep-parent", "0.5"), ("--sources", "technician,model"),
                        ("--scoring", str(scoring)),
                        ("--recording", str(psg)), ("--nice", "10")):
        assert args[args.index(flag) + 1] == value, flag
    assert "--freeze-encoders" in args and "--register" in args and args[args.index("--progress") + 1] == "jsonl"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert launch_prefix() == [sys.executable] and d.command()[0] == "finetune"


def _carded(folder: Path, name: str, card: str) -> Path:
    """A model path whose card (JSON beside it) is `card`; the dialog reads only the card."""
    path = folder / f"{name}.safetensors"
    path.with_suffix(".json").write_text(card)
    return path


def test_freeze_is_preset_from_how_the_model_was_trained(qtbot, night, tmp_path):
    psg, scoring = night
    frozen = _carded(tmp_path, "frozen", '{"version": "f", "metrics": {"freeze_encoders": true}}')
    plain = _carded(tmp_path, "plain", '{"version": "p", "metrics": {}}')
    d = FineTuneDialog([scoring], frozen)
    qtbot.addWidget(d)
    assert d.freeze.isChecked() and "--freeze-encoders" in d.command()
    d.freeze.setChecked(False)  # the technician's choice is passed on, not left to the default
    assert "--no-freeze-encoders" in d.command()
    d2 = FineTuneDialog([scoring], plain)
    qtbot.addWidget(d2)
    assert not d2.freeze.isChecked() and "--no-freeze-encoders" in d2.command()
    # a child records it under its fine-tuning; a site pre-trained encoder is fine-tuned with its encoders free
    child = _carded(tmp_path, "child", '{"version": "c", "metrics": {"finetune": {"freeze_encoders": true}}}')
    site = _carded(tmp_path, "site", '{"version": "s", "metrics": {"freeze_encoders": true, "encoder_only": true}}')
    for path, frozen_expected in ((child, True), (site, False)):
        d3 = FineTuneDialog([scoring], path)
        qtbot.addWidget(d3)
        assert d3.freeze.isChecked() is frozen_expected, path.name


def test_the_share_kept_of_the_current_model_is_the_product_default_and_passed_on(qtbot, night, tmp_path):
    from sleepscope.model.finetune import FineTuneOptions

    psg, scoring = night
    d = FineTuneDialog([scoring], tmp_path / "m.safetensors", recordings=[psg])
    qtbot.addWidget(d)
    assert d.keep.value() == round(100 * FineTuneOptions().keep_parent)
    d.keep.setValue(0)  # the technician's choice: the new model as trained
    args = d.command()
    assert args[args.index("--keep-parent") + 1] == "0"
    # whether the share is chosen from the corrections: the product's default, and the technician's choice passed on
    assert d.choose.isChecked() is FineTuneOptions().choose_share
    d.choose.setChecked(True)
    assert "--choose-share" in d.command() and "--no-choose-share" not in d.command()
    d.choose.setChecked(False)
    assert "--no-choose-share" in d.command()


def test_the_result_says_what_was_kept_of_the_current_model_and_why():
    from sleepscope.model.registry import share_text  # the dialog's and the command line's sentence

    fixed = share_text({"keep_parent": 0.5, "share_choice": None})
    assert fixed == " Averaged with the current model (50% of its weights)."
    assert share_text({"keep_parent": 0.0, "share_choice": None}) == ""
    checked = {"method": "left-out recording", "recording": "B.edf", "standard_error": 0.016}
    child = share_text({"keep_parent": 0.0, "share_choice": {**checked, "kept": "child", "gap": 0.043}})
    assert child.startswith(" Kept the new model as trained") and "4.3% above" in child and "± 1.6%" in child
    assert "fine-tuned without B.edf, the new model scored it" in child
    average = share_text({"keep_parent": 0.5, "share_choice": {**checked, "kept": "average", "gap": 0.004}})
    assert "Averaged with the current model (50% of its weights)" in average and "not clearly better" in average
    behind = share_text({"keep_parent": 0.5, "share_choice": {**checked, "kept": "average", "gap": -0.02}})
    assert "2.0% below its average" in behind
    unknown = share_text({"keep_parent": 0.5, "share_choice": {**checked, "standard_error": None, "kept": "average",
                                                               "gap": 0.0}})  # a card's JSON keeps no infinity
    assert "0.0% above its average with the current model, not clearly better" in unknown


def test_the_whole_result_fits_the_dialog_at_its_size(qtbot, tmp_path):
    d = FineTuneDialog([], tiny_model_file(tmp_path / "parent"))
    qtbot.addWidget(d)
    d.show()
    f1 = {"W": 0.9, "N1": 0.45, "N2": 0.88, "N3": 0.85, "REM": 0.86}
    heldout = {"n_epochs": 212, "parent": {"macro_f1": 0.79, "accuracy": 0.84, "f1": f1},
               "child": {"macro_f1": 0.83, "accuracy": 0.87, "f1": f1}}
    d._show_result({"version": "c", "parent": "p", "metrics": {
        "heldout": heldout, "other_recording": other_recording_metrics(True),
        "finetune": {"epochs": 6, "best_epoch": 3, "chose_pass": True, "keep_parent": 0.0,  # the longest: a choice
                     "share_choice": {"method": "left-out recording", "recording": "SC4021E0.edf", "kept": "child",
                                      "gap": 0.104, "standard_error": 0.02},
                     "chain_verdict": {"gap_without": 0.018, "standard_error": 0.006, "blocks": 89, "kept": False,
                                       "by": "check child", "recording": "SC4021E0.edf"}}}})
    qtbot.waitUntil(lambda: d.status.height() >= d.status.heightForWidth(d.status.width()), timeout=3000)


def test_the_dialogs_defaults_are_fine_tunings(qtbot):
    from sleepscope.gui import finetune_dialog as fd
    from sleepscope.model.finetune import MIN_OTHER_EPOCHS, FineTuneOptions

    assert fd.KEEP_PARENT_PERCENT == round(100 * FineTuneOptions().keep_parent)
    assert fd.CHOOSE_SHARE == FineTuneOptions().choose_share and fd.CHECK_EPOCHS == MIN_OTHER_EPOCHS
    assert fd.READING_DEFAULT == FineTuneOptions().reading


def test_the_new_models_reading_of_nights_is_offered_where_the_current_model_has_two(qtbot, night, tmp_path):
    """A model that reads each night with its own statistics too (the shipped one) offers the choice, passed on as
    `--reading`; one that does not (the control) has nothing to offer."""
    psg, scoring = night
    twice = _carded(tmp_path, "twice", '{"version": "t", "config": {"night_statistics": true}, "metrics": {}}')
    once = _carded(tmp_path, "once", '{"version": "o", "config": {"night_statistics": false}, "metrics": {}}')
    d = FineTuneDialog([scoring], twice)
    qtbot.addWidget(d)
    assert d.night_reading.isEnabled() and d.night_reading.isChecked()  # the product's default: as the parent
    args = d.command()
    assert args[args.index("--reading") + 1] == "night"
    d.night_reading.setChecked(False)
    args = d.command()
    assert args[args.index("--reading") + 1] == "trained"
    assert "already reads well" in d.night_reading.toolTip()
    d2 = FineTuneDialog([scoring], once)
    qtbot.addWidget(d2)
    assert not d2.night_reading.isEnabled() and not d2.night_reading.isChecked()
    args = d2.command()
    assert args[args.index("--reading") + 1] == "trained"


def _scored(folder: Path, labels: np.ndarray) -> Path:
    """A synthetic 120-epoch night whose first epochs a technician labelled `labels`; its scoring file."""
    from sleepscope.data.synthetic import write_night

    psg, _ = write_night(folder, "SC4011E0", labels=night_labels("SC4011E0", 120))
    with ScoringFile.open(open_recording(psg), scorer="tech") as sf:
        sf.set_stages(np.arange(labels.size), labels, source="technician")
        return sf.path


def test_a_stage_the_corrections_hardly_hold_is_warned_of(qtbot, tmp_path):
    every = np.repeat(np.arange(5, dtype=np.int8), 20)  # 20 of each stage: the control
    d = FineTuneDialog([_scored(tmp_path / "all", every)], tiny_model_file(tmp_path / "parent"))
    qtbot.addWidget(d)
    assert d.count_labels["REM"].text() == "20" and d.scarce_label.isHidden()
    assert not d.few_label.isHidden() and "Only 100 corrected epochs" in d.few_label.text()
    no_rem = np.concatenate([every[every != 4], np.full(5, 4, np.int8)])  # REM 5 epochs only
    d = FineTuneDialog([_scored(tmp_path / "few", no_rem)], tiny_model_file(tmp_path / "parent"))
    qtbot.addWidget(d)
    assert not d.scarce_label.isHidden()
    assert "REM (5)" in d.scarce_label.text() and "N3" not in d.scarce_label.text()
    assert d.start_button.isEnabled()  # a warning, not a refusal: a subject may truly lack a stage
    # the current model's reading of REM: off by default, passed on and said in the note when asked for
    assert not d.reading.isChecked() and "--no-parent-reading" in d.command()
    assert "confident reading" not in d.scarce_label.text()
    d.reading.setChecked(True)
    assert "--parent-reading" in d.command() and "--no-parent-reading" not in d.command()
    assert "confident reading of REM" in d.scarce_label.text()


def test_a_few_hundred_corrections_are_no_longer_called_few(qtbot, tmp_path):
    from sleepscope.data.synthetic import write_night

    labels = night_labels("SC4011E0", 340)
    psg, _ = write_night(tmp_path, "SC4011E0", labels=labels)
    scored = np.flatnonzero(labels >= 0)[:300]
    with ScoringFile.open(open_recording(psg), scorer="tech") as sf:
        sf.set_stages(scored, labels[scored], source="technician")
        scoring = sf.path
    d = FineTuneDialog([scoring], tiny_model_file(tmp_path / "parent"))
    qtbot.addWidget(d)
    assert d.count_labels["Total"].text() == "300" and d.few_label.isHidden()


def test_the_log_says_when_the_current_models_reading_is_learnt(qtbot, tmp_path):
    d = FineTuneDialog([], tiny_model_file(tmp_path / "parent"))
    qtbot.addWidget(d)
    d.handle_event({"event": "parent_reading", "n": 40, "per_stage": {"REM": 40}, "stages": ["REM"]})
    assert "few corrections of REM" in d.log.toPlainText() and "40 uncorrected epochs" in d.log.toPlainText()
