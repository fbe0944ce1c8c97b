"""models/train_robust.py's command line: where a recalibrated model is written."""

from __future__ import annotations

from pathlib import Path

from recipes import load_recipe

ROOT = Path(__file__).resolve().parents[1]


def _recipe():
    return load_recipe("train_robust")


def test_recalibrating_a_candidate_writes_it_back_not_over_the_shipped_model(tmp_path, monkeypatch):
    recipe = _recipe()
    written = []
    monkeypatch.setattr(recipe, "recalibrate", lambda args: written.append(args.out) or 0)
    candidate = tmp_path / "candidate.safetensors"
    assert recipe.main(["--recalibrate", str(candidate)]) == 0
    assert recipe.main(["--recalibrate", str(candidate), "--out", str(tmp_path / "elsewhere")]) == 0
    assert written == [tmp_path / "candidate", tmp_path / "elsewhere"]
    # the control: the shipped model recalibrated in place, as models/README's command does
    assert recipe.main(["--recalibrate", str(ROOT / "models" / "sleepscope-default.safetensors")]) == 0
    assert written[-1] == ROOT / "models" / "sleepscope-default"
