"""The night's EEG spectrogram: the numbers (Welch per epoch, band powers, cache) and the view (click to jump)."""

from __future__ import annotations

import numpy as np
import pytest

from sleepscope.analysis import spectrogram as specmod
from sleepscope.analysis.spectrogram import FLOOR_DB, cached_spectrogram, epoch_spectrogram

FS = 100.0
N = 40


def _signal(alpha_epochs=range(10, 20), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 5, N * 3000).astype(np.float32)
    t = np.arange(3000) / FS
    for i in alpha_epochs:
        x[i * 3000:(i + 1) * 3000] += 40 * np.sin(2 * np.pi * 10 * t)
    return x


def test_alpha_epochs_peak_at_10_hz_and_band_powers_say_alpha():
    spec = epoch_spectrogram(_signal(), FS)
    assert spec.power_db.shape == (N, len(spec.freqs)) and spec.freqs[-1] <= 30
    peak = spec.freqs[spec.power_db.argmax(axis=1)]
    assert np.all(peak[10:20] == 10.0)
    bp = spec.band_powers(12)
    assert max(bp, key=bp.get) == "alpha" and bp["alpha"] > 0.8
    assert abs(sum(bp.values()) - 1) < 1e-9
    # a control epoch of plain noise: alpha is one band among five, not dominant
    assert spec.band_powers(5)["alpha"] < 0.3


def test_missing_and_flat_samples_give_the_floor_not_nan():
    x = _signal()
    x[0:3000] = np.nan
    x[3000:6000] = 0.0
    spec = epoch_spectrogram(x, FS)
    assert np.isfinite(spec.power_db).all()
    assert np.all(spec.power_db[0] == FLOOR_DB) and np.all(spec.power_db[1] == FLOOR_DB)
    assert spec.band_powers(0) == dict.fromkeys(specmod.BANDS, 0.0)


def test_cache_is_read_back_and_keyed_by_recording(tmp_path, monkeypatch):
    x = _signal()
    first = cached_spectrogram(x, FS, "sha256:aaa", "EEG", folder=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1

    def no_compute(*a, **k):
        raise AssertionError("computed again although cached")

    monkeypatch.setattr(specmod, "epoch_spectrogram", no_compute)
    again = cached_spectrogram(x, FS, "sha256:aaa", "EEG", folder=tmp_path)
    np.testing.assert_array_equal(again.power_db, first.power_db)
    with pytest.raises(AssertionError, match="computed again"):
        cached_spectrogram(x, FS, "sha256:bbb", "EEG", folder=tmp_path)  # another recording


def test_damaged_cache_is_recomputed(tmp_path):
    x = _signal()
    first = cached_spectrogram(x, FS, "sha256:aaa", "EEG", folder=tmp_path)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(b"not a cache file")
    again = cached_spectrogram(x, FS, "sha256:aaa", "EEG", folder=tmp_path)
    np.testing.assert_array_equal(again.power_db, first.power_db)


def test_cancel_stops_the_computation():
    from sleepscope.tasks import CancelToken, Cancelled

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        epoch_spectrogram(_signal(), FS, cancel=token)


# -- the view ---------------------------------------------------------------

pytest.importorskip("pytestqt")


def _click_epoch(qtbot, view, epoch: float) -> None:
    from PySide6.QtCore import QPointF, Qt

    vb = view.plot.getViewBox()
    scene = vb.mapViewToScene(QPointF(epoch, 15.0))
    pos = view._glw.mapFromScene(scene)
    qtbot.mouseClick(view._glw.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def test_view_computes_off_the_gui_thread_and_a_click_picks_the_epoch(qtbot):
    from sleepscope.gui.spectrogram_view import SpectrogramView
    from sleepscope.io import Recording

    rec = Recording.from_arrays(_signal(), _signal(seed=1))
    view = SpectrogramView()
    qtbot.addWidget(view)
    view.resize(800, 160)
    view.show()
    with qtbot.waitSignal(view.ready, timeout=30000):
        view.show_recording(rec)
        assert view.spectrogram is None and view.status == "computing"
    assert view.spectrogram.n_epochs == N
    with qtbot.waitSignal(view.epochPicked, timeout=2000) as sig:
        _click_epoch(qtbot, view, 25.5)
    assert sig.args == [25]
    assert view.wait(5000)


def test_an_answer_for_a_recording_no_longer_shown_is_dropped(qtbot):
    from sleepscope.gui.spectrogram_view import SpectrogramResult, SpectrogramView
    from sleepscope.io import Recording

    first = Recording.from_arrays(_signal(), _signal(seed=1))
    second = Recording.from_arrays(_signal(alpha_epochs=()), _signal(seed=2))
    view = SpectrogramView()
    qtbot.addWidget(view)
    view.show_recording(first)
    stale = view.jobs.job
    with qtbot.waitSignal(view.ready, timeout=30000):
        view.show_recording(second)
    # the first job's answer, late or not, never replaces the second's
    view.jobs._on_finished(SpectrogramResult(stale.job_id, epoch_spectrogram(first.eeg, FS)))
    peak = view.spectrogram.freqs[view.spectrogram.power_db.argmax(axis=1)]
    assert not np.all(peak[10:20] == 10.0)
    assert view.wait(5000)


def test_cache_keeps_the_nights_used_last(tmp_path):
    x = _signal()
    for i in range(5):
        cached_spectrogram(x, FS, f"sha256:{i}", "EEG", folder=tmp_path)
    import os
    import time

    first = specmod.cache_path("sha256:0", "EEG", FS, tmp_path)
    os.utime(first, (time.time() + 10, time.time() + 10))  # night 0 opened again most recently
    specmod.prune_cache(tmp_path, keep=2)
    kept = sorted(p.name for p in tmp_path.glob("*.npz"))
    assert kept == sorted([first.name, specmod.cache_path("sha256:4", "EEG", FS, tmp_path).name])


def test_a_failed_spectrogram_says_so(qtbot, monkeypatch):
    from sleepscope.gui import spectrogram_view
    from sleepscope.gui.spectrogram_view import SpectrogramView
    from sleepscope.io import Recording

    def broken(*a, **k):
        raise MemoryError("no room")

    monkeypatch.setattr(spectrogram_view, "cached_spectrogram", broken)
    view = SpectrogramView()
    qtbot.addWidget(view)
    view.show_recording(Recording.from_arrays(_signal(), _signal(seed=1)))
    qtbot.waitUntil(lambda: view.status.startswith("failed"), timeout=10000)
    assert "MemoryError" in view.status and "failed" in view._label.text
    assert view.wait(5000)
