"""The pre-scoring against the lab's own scoring of the night (`scoring.lab_scoring`): found beside the recording
or in its annotations, epoch by epoch, the unsure epochs' share of the disagreements, pooled over nights."""

import numpy as np
import pytest

from sleepscope.scoring.lab_scoring import compare_with_lab, pooled_line
from test_batch_prescore import write_recording


def test_compared_epoch_by_epoch_with_the_hypnogram_beside_it(tmp_path):
    night = write_recording(tmp_path / "night.edf", n_epochs=8)
    (tmp_path / "night.csv").write_text("stage\nW\nW\nN1\nN2\nN2\nN3\nREM\n?\n")
    model = np.array([0, 1, 1, 2, 3, 3, 4, 2])
    unsure = np.array([0, 1, 0, 0, 0, 1, 0, 0], bool)
    c = compare_with_lab(night, model, unsure)
    assert c.name == "night.csv" and c.agreement.n_epochs == 7  # the lab's unscored epoch left out
    assert c.agreement.accuracy == pytest.approx(5 / 7)  # epochs 1 and 4 differ
    assert c.unsure_catch == pytest.approx(0.5)  # epoch 1 marked unsure, epoch 4 not
    assert c.agreement.confusion[0, 1] == 1 and c.agreement.confusion[2, 3] == 1
    assert compare_with_lab(night, model[::-1].copy(), unsure).agreement.accuracy != pytest.approx(5 / 7)
    # none beside it: nothing to compare with
    other = write_recording(tmp_path / "other.edf", n_epochs=8)
    assert compare_with_lab(other, model) is None
    # pooled: both nights' epochs together, the per-night spread beside
    (tmp_path / "other.csv").write_text("stage\n" + "W\n" * 8)
    both = [c, compare_with_lab(other, model)]
    assert "of 2 recordings (15 epochs): accuracy 0.400 (per night 0.125-0.714)" in pooled_line(both)
