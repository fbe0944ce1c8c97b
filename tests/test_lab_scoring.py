"""The pre-scoring against the lab's own scoring of the night (`scoring.lab_scoring`): found beside the recording
or in its annotations, epoch by epoch, the unsure epochs' share of the disagreements, pooled over nights."""

import json

import numpy as np
import pytest

from sleepscope.scoring.lab_scoring import compare_with_lab, pooled_line
from test_batch_prescore import write_recording


def test_compared_epoch_by_epoch_with_the_hypnogram_beside_it(tmp_path):
    night = write_recording(tmp_path / "night.edf", n_epochs=8)
    (tmp_path / "night.csv").write_text("stage\nW\nW\nN1\nN2\nN2\nN3\nREM\n?\n")
    model = np.array([0, 1, 1, 2, 3, 3, 4, 2])
    unsure = np.array([0, 1, 0, 0, 0, 1, 0, 0], bool)
    c, why = compare_with_lab(night, model, unsure)
    assert why is None
    assert c.name == "night.csv" and c.agreement.n_epochs == 7  # the lab's unscored epoch left out
    assert c.agreement.accuracy == pytest.approx(5 / 7)  # epochs 1 and 4 differ
    assert c.unsure_catch == pytest.approx(0.5)  # epoch 1 marked unsure, epoch 4 not
    assert c.agreement.confusion[0, 1] == 1 and c.agreement.confusion[2, 3] == 1
    assert compare_with_lab(night, model[::-1].copy(), unsure)[0].agreement.accuracy != pytest.approx(5 / 7)
    # none beside it: nothing to compare with
    other = write_recording(tmp_path / "other.edf", n_epochs=8)
    assert compare_with_lab(other, model) == (None, None)
    # pooled: both nights' epochs together, the per-night spread beside
    (tmp_path / "other.csv").write_text("stage\n" + "W\n" * 8)
    both = [c, compare_with_lab(other, model)[0]]
    assert "of 2 recordings (15 epochs): accuracy 0.400 (per night 0.125-0.714)" in pooled_line(both)


def test_a_warning_only_below_the_experts_and_on_enough_epochs():
    from sleepscope.scoring.agreement import agreement
    from sleepscope.scoring.lab_scoring import EXPERT_KAPPA_P10, MIN_EPOCHS_TO_WARN, below_experts

    lab = np.tile([0, 1, 2, 2, 3, 4], 40)  # 240 epochs
    poor = lab.copy()
    poor[::2] = 2  # half the epochs N2
    assert agreement(lab, poor).kappa < EXPERT_KAPPA_P10
    note = below_experts(agreement(lab, poor), "night.xml")
    assert note and "night.xml" in note and "less than 9 in 10 pairs of expert scorers" in note
    good = lab.copy()
    good[::10] = 2
    assert agreement(lab, good).kappa > EXPERT_KAPPA_P10 and below_experts(agreement(lab, good), "x") is None
    short = slice(0, MIN_EPOCHS_TO_WARN - 1)
    assert below_experts(agreement(lab[short], poor[short]), "x") is None  # too few epochs to say


def test_prescore_notes_a_model_below_the_experts(tmp_path, capsys):
    """The command says it under the comparison (a model whose stages are all N2 against a varied night)."""
    import torch

    from sleepscope.cli import main
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import CONFIGS
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    m = SleepStager(CONFIGS["tiny"]).eval()
    with torch.no_grad():
        m.classifier.bias.zero_()
        m.classifier.bias[2] = 50.0
    save_model(m, tmp_path / "n2", ModelCard(config=m.config))
    night = write_recording(tmp_path / "night.edf", n_epochs=120)
    (tmp_path / "night.csv").write_text("stage\n" + "W\nN2\nN3\nREM\n" * 30)
    assert main(["prescore", str(night), "--model", str(tmp_path / "n2.safetensors"), "--out",
                 str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err
    assert "against the lab's scoring (night.csv): 120 epochs, accuracy 0.250" in err
    assert "NOTE: The model agrees with this night's own scoring (night.csv) less than 9 in 10 pairs" in err


def test_the_models_own_prescoring_beside_the_recording_is_no_lab_scoring(tmp_path, capsys):
    """`prescore NIGHT.edf --out NIGHT.csv` names its output like the recording; run again, the command took that
    file for the lab's scoring (accuracy near 1 against itself), the window showed it as the reference and archive
    training learned from it. A table of stages alone beside it (the lab's, or `export --csv`) still is one."""
    from sleepscope.cli import main
    from sleepscope.io.archive import scan_archive
    from sleepscope.io.pairing import find_scoring

    night = write_recording(tmp_path / "night.edf", n_epochs=8)
    args = ["prescore", str(night), "--model", "tests/data/tiny-parent-AB.safetensors", "--out",
            str(tmp_path / "night.csv")]
    assert main(args) == 0
    assert main(args) == 0
    assert "against the lab's scoring" not in capsys.readouterr().err
    assert find_scoring(night) is None
    assert scan_archive([tmp_path]).pairs == []
    # control: the lab's stages in the same name are its scoring
    (tmp_path / "night.csv").write_text("epoch,onset_s,stage\n" + "".join(f"{i},{30 * i},W\n" for i in range(8)))
    assert find_scoring(night) == tmp_path / "night.csv"
    assert [p.hypnogram for p in scan_archive([tmp_path]).pairs] == [tmp_path / "night.csv"]
    assert main(args[:-2] + ["--out", str(tmp_path / "again.csv")]) == 0
    assert "against the lab's scoring (night.csv): 8 epochs" in capsys.readouterr().err
    # the same output named NIGHT.txt, which a bare name pairs when it reads as a hypnogram: still none
    (tmp_path / "night.csv").unlink()
    assert main(args[:-2] + ["--out", str(tmp_path / "night.txt")]) == 0
    assert find_scoring(night) is None and scan_archive([tmp_path]).pairs == []


@pytest.mark.parametrize("header", ["epoch,N1,N2,N3,R,W,Stage", "epoch\tproba_W\tproba_N1\tproba_N2\tproba_N3\tproba_R",
                                    "Stage;P(W);P(N1);P(N2);P(N3);P(REM)"])
def test_another_stagers_output_beside_the_recording_is_no_lab_scoring(tmp_path, header):
    """YASA's stages and probabilities written as NIGHT.csv (its `predict_proba` columns, with or without a
    prefix) are a stager's output, not the lab's scoring: read as one, the model would be measured against
    another model. The same stages without the probabilities are a scoring (control)."""
    from sleepscope.io.pairing import find_scoring

    night = write_recording(tmp_path / "night.edf", n_epochs=8)
    sep = "\t" if "\t" in header else (";" if ";" in header else ",")
    cols = header.split(sep)
    rows = "".join(sep.join("W" if c.lower() == "stage" else str(i) if c == "epoch" else "0.2" for c in cols) + "\n"
                   for i in range(8))
    table = tmp_path / "night.csv"
    table.write_text(header + "\n" + rows)
    assert find_scoring(night) is None
    table.write_text("epoch,stage\n" + "".join(f"{i},W\n" for i in range(8)))
    assert find_scoring(night) == table


def _offset_table(path, stages, offset_s):
    path.write_text("onset,duration,description\n"
                    + "".join(f"{offset_s + 30 * i},30,{s}\n" for i, s in enumerate(stages)))


def test_how_the_labs_scoring_was_read_is_said_beside_the_comparison(tmp_path, capsys):
    """A scoring on a grid of its own (12 s into the recording's epochs) compares worse at every change of stage:
    the comparison, `prescore` and `info` say so; the same scoring on the recording's grid says nothing."""
    from sleepscope.cli import main

    stages = ["W", "W", "N1", "N2", "N2", "N3", "REM", "REM"]
    night = write_recording(tmp_path / "night.edf", n_epochs=8)
    _offset_table(tmp_path / "night.csv", stages, 12)
    c, _ = compare_with_lab(night, np.zeros(8, int))
    assert len(c.notes) == 1 and "4 of the recording's 30-s epochs hold a change of scored stage" in c.notes[0]
    assert c.to_dict()["notes"] == list(c.notes)
    assert main(["info", str(night)]) == 0
    assert f"  note: {c.notes[0]}" in capsys.readouterr().out
    assert main(["info", str(night), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scoring"]["grid_offset_s"] == 12
    aligned = write_recording(tmp_path / "aligned.edf", n_epochs=8)
    _offset_table(tmp_path / "aligned.csv", stages, 0)
    assert compare_with_lab(aligned, np.zeros(8, int))[0].notes == ()
    assert main(["info", str(aligned)]) == 0
    assert "note:" not in capsys.readouterr().out
    assert main(["info", str(aligned), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scoring"]["grid_offset_s"] == 0


def test_prescore_compares_on_the_labs_own_epochs(tmp_path, capsys):
    """A lab scoring whose epochs begin 12 s into the recording's: `prescore` scores the recording again from
    there and compares on the lab's 7 whole epochs of the 8-epoch recording (one recording and a folder)."""
    from sleepscope.cli import main

    night = write_recording(tmp_path / "night.edf", n_epochs=8)
    _offset_table(tmp_path / "night.csv", ["W", "N2", "N2", "N3", "N3", "N2", "REM", "W"], 12)
    out = tmp_path / "p.json"
    assert main(["prescore", str(night), "--model", "tests/data/tiny-parent-AB.safetensors", "--quiet",
                 "--json", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    said = ("night.csv: its 30-s epochs begin 12 s into the recording's: the model scored the recording again "
            "from there and was compared on the lab's own epochs")
    assert f"  {said}" in err and "against the lab's scoring (night.csv): 7 epochs" in err
    assert "hold a change of scored stage" not in err  # the lab's epochs are the ones compared
    lab = json.loads(out.read_text())["lab_scoring"]
    assert lab["grid_offset_s"] == 12 and lab["n_epochs"] == 7
    assert len(json.loads(out.read_text())["epochs"]) == 8  # what is written stays on the recording's epochs
    # batch prescore says it per recording
    assert main(["prescore", str(tmp_path), "--model", "tests/data/tiny-parent-AB.safetensors"]) == 0
    err = capsys.readouterr().err
    assert f"night.edf: {said}" in err and "night.edf: against the lab's scoring (night.csv): 7 epochs" in err


def test_comparison_on_the_labs_epochs_scores_the_recording_again_from_their_start(tmp_path):
    stages = ["W", "W", "N1", "N2", "N2", "N3", "REM", "REM"]
    lab_codes = np.array([0, 0, 1, 2, 2, 3, 4])  # the 7 whole epochs from 12 s on
    night = write_recording(tmp_path / "night.edf", n_epochs=8)
    _offset_table(tmp_path / "night.csv", stages, 12)
    asked = []

    def rescore(offset):
        asked.append(offset)
        return lab_codes, np.zeros(7, bool)

    c, why = compare_with_lab(night, np.zeros(8, int), rescore=rescore)
    assert why is None and asked == [12]
    assert c.grid_offset == 12 and c.agreement.n_epochs == 7 and c.agreement.accuracy == 1
    assert c.notes[-1].startswith("its 30-s epochs begin 12 s into the recording's")
    # control: without a way to score again, on the recording's epochs as before, and said
    c0, _ = compare_with_lab(night, np.zeros(8, int))
    assert c0.grid_offset == 0 and c0.agreement.n_epochs == 8 and "change of scored stage" in c0.notes[0]
    # a recording too short to score again from there is compared on its own epochs
    def too_short(offset):
        from sleepscope.errors import SleepScopeError

        raise SleepScopeError("shorter than one 30-s epoch")

    assert compare_with_lab(night, np.zeros(8, int), rescore=too_short)[0].agreement.n_epochs == 8
    # a scoring on the recording's epochs is not scored again
    aligned = write_recording(tmp_path / "aligned.edf", n_epochs=8)
    _offset_table(tmp_path / "aligned.csv", stages, 0)
    asked.clear()
    assert compare_with_lab(aligned, np.zeros(8, int), rescore=rescore)[0].grid_offset == 0 and asked == []


def test_per_stage_agreement_and_where_the_model_and_the_lab_part_most(tmp_path, capsys):
    from sleepscope.cli import main
    from sleepscope.scoring.agreement import agreement
    from sleepscope.scoring.lab_scoring import stages_line

    lab = np.array([0, 0, 2, 2, 3, 3, 3, 3, 4])
    model = np.array([0, 0, 2, 2, 2, 2, 2, 3, 4])  # three of the lab's four N3 epochs read N2
    line = stages_line(agreement(lab, model))
    assert line.startswith("per stage (F1, the lab's epochs): W 1.00 (2), N2 0.57 (2), N3 0.40 (4), REM 1.00 (1)")
    assert line.endswith("most apart: 3 of the lab's 4 N3 epochs scored N2 by the model")
    assert "most apart" not in stages_line(agreement(lab, lab))  # control: no disagreement, none named
    # prescore says it under the comparison, batch prescore over the nights pooled
    night = write_recording(tmp_path / "night.edf", n_epochs=8)
    (tmp_path / "night.csv").write_text("stage\nW\nW\nN1\nN2\nN2\nN3\nREM\nN2\n")
    assert main(["prescore", str(night), "--model", "tests/data/tiny-parent-AB.safetensors", "--quiet",
                 "--out", str(tmp_path / "p.csv")]) == 0
    err = capsys.readouterr().err.splitlines()
    at = next(i for i, s in enumerate(err) if "against the lab's scoring (night.csv)" in s)
    assert err[at + 1].startswith("  per stage (F1, the lab's epochs): W ")
    assert main(["prescore", str(tmp_path), "--model", "tests/data/tiny-parent-AB.safetensors"]) == 0
    err = capsys.readouterr().err.splitlines()
    at = next(i for i, s in enumerate(err) if s.startswith("against the lab's own scoring of 1 recording"))
    assert err[at + 1].startswith("per stage (F1, the lab's epochs): W ")
