"""Shared helpers for the GUI tests (fixtures are imported by the test_gui_* modules).

The tiny model is trained here for a few steps on labelled synthetic epochs:
enough for its predictions to depend on the input, never presented as a
usable stager (its card says so).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QEvent, QSettings, QThread  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

TRAIN_STEPS = 4


def train_tiny_model(path, steps: int = TRAIN_STEPS, seed: int = 0):
    """Train the TINY configuration for `steps` Adam steps on synthetic epochs; save it at `path`."""
    import torch

    from sleepscope.data.synthetic import synth_night
    from sleepscope.io import zscore_epochs
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import TINY
    from sleepscope.model.network import SleepStager

    torch.manual_seed(seed)
    labels = np.repeat(np.array([0, 1, 2, 3, 4]), 2)  # 10 epochs, every stage
    night = synth_night(labels, subject=1, night=1, seed=seed)
    eeg = night.signals["EEG Fpz-Cz"][: len(labels) * 3000].reshape(-1, 3000)
    eog = night.signals["EOG horizontal"][: len(labels) * 3000].reshape(-1, 3000)
    x = torch.from_numpy(zscore_epochs(np.stack([eeg, eog], axis=1)))[None]  # (1, L, 2, 3000)
    y = torch.from_numpy(labels.astype(np.int64))[None]
    model = SleepStager(TINY)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x).reshape(-1, 5), y.reshape(-1))
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    card = ModelCard(config=TINY, data="10 synthetic epochs (tests only)",
                     notes=f"trained in a test for {steps} steps: NOT a usable sleep stager")
    save_model(model, path, card)
    return path.with_suffix(".safetensors") if path.suffix != ".safetensors" else path, losses


_TRAINING_LOSSES: list[float] = []


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model")
    path, losses = train_tiny_model(folder / "tiny")
    _TRAINING_LOSSES[:] = losses
    return folder / "tiny.safetensors"


def short_labels(n: int = 60) -> np.ndarray:
    from sleepscope.data.synthetic import real_hypnogram

    return np.asarray(real_hypnogram("SC4001E0")[:n])


def write_short_night(folder, n: int = 60, seed: int = 0):
    """A short Sleep-EDF-style PSG + paired hypnogram (synthetic signals, real stage sequence)."""
    from sleepscope.data.synthetic import write_night

    return write_night(folder, "SC4001E0", seed=seed, labels=short_labels(n))


@pytest.fixture
def gui_settings(tmp_path):
    from sleepscope.gui.settings import Settings

    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def flush_deletes() -> None:
    app = QApplication.instance()
    for _ in range(3):
        app.processEvents()
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def assert_no_leaks(windows) -> None:
    """Every window closed and deleted, every worker thread ended."""
    for w in windows:
        for job in [w.job, *w._old_jobs]:
            if job is not None:
                assert job.thread.wait(20000), "a pre-scoring thread is still running"
                assert job.thread.isFinished()
        w.close()
        w.deleteLater()
    flush_deletes()
    from sleepscope.gui.main_window import MainWindow

    left = [t for t in QApplication.topLevelWidgets() if isinstance(t, MainWindow)]
    assert not left, f"leaked windows: {left}"
    assert not any(isinstance(t, QThread) and t.isRunning() for t in _threads(windows))


def _threads(windows):
    out = []
    for w in windows:
        for job in [w.job, *w._old_jobs]:
            if job is not None:
                out.append(job.thread)
    return out


def test_tiny_model_is_trained_and_loads(tiny_model):
    from sleepscope.model.checkpoint import load_model

    losses = _TRAINING_LOSSES
    assert losses[-1] < losses[0]  # the steps did train it
    model, card = load_model(tiny_model)
    assert "NOT a usable" in card.notes


def open_and_wait(qtbot, window, path, timeout_ms: int = 60_000) -> bool:
    """File → Open of `path`, waiting for the loader thread; True when the night is shown."""
    results: list[bool] = []
    window.openFinished.connect(results.append)
    try:
        if not window.open_file(path):
            return False
        qtbot.waitUntil(lambda: bool(results), timeout=timeout_ms)
        # the lanes beside the model's two are read once the night is shown
        qtbot.waitUntil(lambda: not window.channel_loader.busy, timeout=timeout_ms)
    finally:
        window.openFinished.disconnect(results.append)
    return results[0]
