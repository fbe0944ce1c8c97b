"""The GUI pre-scores through predict's own input path: same probabilities as `predict(recording, model)`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")

from sleepscope.io import Recording  # noqa: E402
from sleepscope.model.checkpoint import load_model, save_model  # noqa: E402
from sleepscope.model.config import TINY  # noqa: E402
from sleepscope.model.infer import predict  # noqa: E402
from sleepscope.model.network import SleepStager  # noqa: E402


def _night(n_epochs=45, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n_epochs * 3000) / 100
    eeg = 30 * np.sin(2 * np.pi * 1.5 * t) * (1 + np.sin(t / 200)) + rng.normal(0, 10, t.size)
    eog = 60 * np.sign(np.sin(2 * np.pi * 0.3 * t)) * (t % 400 < 150) + rng.normal(0, 5, t.size)
    return eeg, eog


@pytest.mark.parametrize("normalisation", ["epoch", "night"])
def test_gui_worker_probabilities_equal_predict(qtbot, tmp_path, normalisation):
    from sleepscope.gui.workers import start_prescore

    torch.manual_seed(1)
    save_model(SleepStager(TINY.with_(normalisation=normalisation)).eval(), tmp_path / "m")
    model, _ = load_model(tmp_path / "m.safetensors")
    eeg, eog = _night()
    eeg[3000 * 10:3000 * 12] = 0.0  # a flat EEG stretch: artefact handling must match too
    eog[3000 * 14:3000 * 16] = 0.0  # and a flat EOG one, read from the EEG alone
    rec = Recording.from_arrays(eeg, eog)
    job = start_prescore(rec, tmp_path / "m.safetensors")
    with qtbot.waitSignal(job.worker.finished, timeout=120_000) as blocker:
        pass
    result = blocker.args[0]
    assert job.wait(10_000)
    want = predict(rec, model)
    np.testing.assert_array_equal(result.probs, want.probs)
    np.testing.assert_array_equal(result.stages, want.stages)
    assert result.prediction is not None and result.prediction.artefact[10:12].all()
    assert result.prediction.quality.eeg_alone[14:16].all() and not result.prediction.artefact[14:16].any()
    # control: swapping EEG and EOG gives other probabilities, so equality above means something
    swapped = predict(Recording.from_arrays(eog, eeg), model)
    assert not np.allclose(swapped.probs, want.probs)
