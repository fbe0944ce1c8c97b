"""The banner above the traces: channels in use, a missing EOG, an unfamiliar recording."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from test_gui_support import assert_no_leaks, gui_settings, tiny_model  # noqa: E402,F401  (fixtures)

from sleepscope.gui.model_notice import ModelNotice  # noqa: E402
from sleepscope.io import Recording  # noqa: E402
from sleepscope.io.channels import choose_channels  # noqa: E402
from sleepscope.model.familiarity import Familiarity  # noqa: E402
from sleepscope.model.infer import Prediction  # noqa: E402


@pytest.fixture(autouse=True)
def no_shipped_model(tmp_path_factory, monkeypatch):
    import sleepscope.paths

    empty = tmp_path_factory.mktemp("no_models")
    monkeypatch.setattr(sleepscope.paths, "repo_models_dir", lambda: empty)


def eeg_only_recording(n_epochs=20):
    rng = np.random.default_rng(0)
    eeg = rng.normal(0, 20, n_epochs * 3000).astype(np.float32)
    choice = choose_channels(["C3-A1", "EMG chin"])
    return Recording(path=None, start_time=datetime(2022, 1, 1, 23, 0), fs=100.0, channels={"C3-A1": eeg},
                     eeg_name="C3-A1", eog_name=None, source_rates={"C3-A1": 100.0}, channel_choice=choice)


def test_eeg_only_recording_opens_prescores_and_says_the_eog_is_missing(qtbot, tmp_path, gui_settings, tiny_model):
    from sleepscope.gui.main_window import MainWindow

    w = MainWindow(settings=gui_settings, model_path=tiny_model, prescore_on_open=True)
    w.resize(1200, 800)
    w.show()
    try:
        with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
            assert w.open_recording(eeg_only_recording())
        notice = w.model_notice
        assert notice.isVisible()
        assert "No EOG channel" in notice.text() and "C3-A1" in notice.text()
        assert w.controller.probs is not None and len(w.controller.probs) == 20
        w.close_recording()
        assert not notice.isVisible()
    finally:
        w.close()
        assert_no_leaks([w])


def test_unfamiliar_prediction_shows_a_red_banner(qtbot):
    notice = ModelNotice()
    qtbot.addWidget(notice)
    notice.show_recording(Recording.from_arrays(np.zeros(3000), np.zeros(3000)))  # no channel choice: nothing
    assert not notice.isVisible()
    probs = np.full((4, 5), 0.2, np.float32)
    fam = Familiarity(familiar=False, outlying=0.4, limit=0.1,
                      reasons=["40% of its epochs lie outside what the model learned"])
    notice.show_prediction(Prediction(probs=probs, model_version="v", stages=np.zeros(4, np.int8),
                                      familiarity=fam))
    assert notice.isVisible() and notice.unfamiliar
    assert "unlike what the model learned" in notice.text() and "fine-tune" in notice.text()
    notice.show_prediction(Prediction(probs=probs, model_version="v", stages=np.zeros(4, np.int8),
                                      familiarity=Familiarity(True, 0.01, 0.1)))
    assert not notice.isVisible()


def test_a_narrow_eeg_band_is_a_warning_in_the_banner(qtbot):
    from sleepscope.gui.model_notice import _INFO, _WARN
    from sleepscope.model.eeg_band import NarrowBand

    notice = ModelNotice()
    qtbot.addWidget(notice)
    notice.show_recording(eeg_only_recording(4))
    base = Prediction(probs=np.full((4, 5), 0.2, np.float32), model_version="v", stages=np.zeros(4, np.int8),
                      channels=choose_channels(["C3-A1", "EMG chin"]))
    notice.show_prediction(base)
    assert notice.styleSheet() == _INFO  # the control: only the missing EOG to say
    notice.show_prediction(replace(base, eeg_band=NarrowBand(25.0, "sampled at 50 Hz")))
    assert notice.isVisible() and notice.styleSheet() == _WARN
    assert "nothing above 25 Hz (sampled at 50 Hz)" in notice.text() and "C3-A1" in notice.text()


def test_the_sleep_period_a_night_was_also_scored_over_is_underlined(qtbot, tmp_path, gui_settings, main_windows,
                                                                    monkeypatch):
    import torch

    from sleepscope.gui.second_opinion import SecondOpinion
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import CONFIGS
    from sleepscope.model.network import SleepStager

    paths = {}
    for adapt in (True, False):  # the control: the same weights without night statistics
        torch.manual_seed(0)
        m = SleepStager(CONFIGS["tiny"].with_(night_statistics=adapt)).eval()
        with torch.no_grad():
            m.classifier.bias.zero_()
            # every epoch N2: the whole night is its sleep period; other weights, so that the
            # control's prediction is not the first one's, kept in the scoring file by weights version
            m.classifier.bias[2] = 50.0 if adapt else 49.0
        paths[adapt] = tmp_path / f"adapt-{adapt}"
        save_model(m, paths[adapt], ModelCard(config=m.config))
    rng = np.random.default_rng(0)
    night = Recording.from_arrays(*(30.0 * rng.standard_normal((2, 300 * 3000))).astype(np.float32))
    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)  # YASA's stages play no part here
    for adapt, expected in ((True, (0, 300)), (False, None)):
        w = main_windows(gui_settings, model_path=paths[adapt].with_suffix(".safetensors"), prescore=True)
        with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
            assert w.open_recording(night)
        assert w.hypnogram.adapted_span == expected
        assert ("epochs 1-300" in w.hypnogram._labels_items[1].toolTip()) == adapt
        assert ("epochs 1-300 (teal line)" in w.statusBar().currentMessage()) == adapt
        w.close_recording()
        assert w.hypnogram.adapted_span is None
        # reopened: the stored prediction is shown without pre-scoring again, its span with it
        with qtbot.assertNotEmitted(w.prescoreDone, wait=500):
            assert w.open_recording(night)
        assert w.hypnogram.adapted_span == expected
        w.close_recording()


@pytest.mark.parametrize("named", [False, True], ids=["guessed", "named by the technician"])
def test_the_banner_says_who_chose_the_channels(qtbot, tmp_path, gui_settings, main_windows, named):
    from sleepscope.io.export import write_edf

    rng = np.random.default_rng(0)
    path = write_edf(tmp_path / "lab.edf", {"EEG F4-M1": (rng.normal(0, 20, 6000), 100.0),
                                           "LOC-A2": (rng.normal(0, 20, 6000), 100.0)},
                     start_time=datetime(2022, 1, 1, 23, 0))
    w = main_windows(gui_settings)
    with qtbot.waitSignal(w.openFinished, timeout=60_000):
        assert w.open_file(path, eeg="EEG F4-M1" if named else None)
    text = w.model_notice.text()
    assert "'EEG F4-M1'" in text and "'LOC-A2'" in text
    assert ("EEG: 'EEG F4-M1' (chosen by the user" in text) == named
    assert "EOG: 'LOC-A2' (chosen by the user" not in text  # the EOG was guessed both times


def _open_prescored(qtbot, w, path, reopened: bool) -> None:
    """Open `path` in window `w`: pre-scored the first time, its stored prediction shown without pre-scoring again
    once `reopened`."""
    with qtbot.waitSignal(w.openFinished, timeout=60_000):
        if reopened:
            with qtbot.assertNotEmitted(w.prescoreDone, wait=500):
                assert w.open_file(path)
        else:
            with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
                assert w.open_file(path)


@pytest.mark.parametrize("rate", [100.0, 50.0], ids=["as recorded (control)", "sampled at 50 Hz"])
def test_narrow_band_wake_and_rem_join_the_review_queue_and_stay_there_on_reopening(qtbot, tmp_path, gui_settings,
                                                                                   main_windows, monkeypatch, rate):
    """The REAL Sleep-EDF wake minutes, pre-scored by the shipped model in the window: at 50 Hz every W/REM
    suggestion is doubtful (N walks through them, the header says unsure, the banner says why), also once the
    file is reopened and its stored prediction shown."""
    from pathlib import Path

    from test_eeg_band import SHIPPED, _real_wake

    from sleepscope.gui.second_opinion import SecondOpinion

    if not SHIPPED.exists():
        pytest.skip("no shipped model in this checkout")
    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)  # YASA's disagreements are another queue
    path = _real_wake(Path(tmp_path), rate)
    w = main_windows(gui_settings, model_path=SHIPPED, prescore=True)
    for reopened in (False, True):
        _open_prescored(qtbot, w, path, reopened)
        queue = w.controller.attention_mask()
        assert int(queue.sum()) == (10 if rate == 50.0 else 0)
        assert ("unsure" in w.status.model.text() or "⚑" in w.status.model.text()) == (rate == 50.0)
        assert ("holds nothing above 25 Hz" in w.model_notice.text()) == (rate == 50.0)
        w.close_recording()


def test_a_model_that_agrees_with_the_nights_own_scoring_less_than_experts_is_a_warning(
        qtbot, tmp_path, gui_settings, main_windows, monkeypatch):
    """A night opened with its lab's scoring (the reference scorer): after pre-scoring, the banner warns when the
    model agrees with it less than 9 in 10 pairs of expert scorers do, and again on reopening; the control, a
    reference the model matches, gets no such line."""
    import torch

    from sleepscope.gui.model_notice import _WARN
    from sleepscope.gui.second_opinion import SecondOpinion
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import CONFIGS
    from sleepscope.model.network import SleepStager

    torch.manual_seed(0)
    m = SleepStager(CONFIGS["tiny"]).eval()
    with torch.no_grad():
        m.classifier.bias.zero_()
        m.classifier.bias[2] = 50.0  # every epoch N2
    path = tmp_path / "n2"
    save_model(m, path, ModelCard(config=m.config))
    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)
    lab = np.array(([0] * 20 + [2] * 30 + [4] * 20 + [3] * 30) * 2)  # the model's N2 on 60 of 200 epochs
    for seed, (reference, warned) in enumerate(((lab, True), (np.full(200, 2), False))):
        # a night of its own for each: a stored prediction of the same weights would not be pre-scored again
        rng = np.random.default_rng(seed)
        night = Recording.from_arrays(*(30.0 * rng.standard_normal((2, 200 * 3000))).astype(np.float32))
        w = main_windows(gui_settings, model_path=path.with_suffix(".safetensors"), prescore=True)
        with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
            assert w.open_recording(night, reference=reference, reference_name="night.xml")
        said = "less than 9 in 10 pairs of expert scorers" in w.model_notice.text()
        assert said == warned and (w.model_notice.styleSheet() == _WARN) == warned
        if warned:
            assert "night.xml" in w.model_notice.text() and "fine-tune" in w.model_notice.text()
        w.close_recording()
        with qtbot.assertNotEmitted(w.prescoreDone, wait=300):  # reopened: from the stored prediction
            assert w.open_recording(night, reference=reference, reference_name="night.xml")
        assert ("less than 9 in 10 pairs" in w.model_notice.text()) == warned
        w.close_recording()
    # a night opened without its scoring, which is attached afterwards: said then
    rng = np.random.default_rng(2)
    night = Recording.from_arrays(*(30.0 * rng.standard_normal((2, 200 * 3000))).astype(np.float32))
    with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
        assert w.open_recording(night)
    assert "less than 9 in 10 pairs" not in w.model_notice.text()
    scores = tmp_path / "night.csv"
    scores.write_text("stage\n" + "\n".join(["W", "N1", "N2", "N3", "REM"][s] for s in lab) + "\n")
    assert w.attach_hypnogram(str(scores))
    assert "less than 9 in 10 pairs" in w.model_notice.text() and "night.csv" in w.model_notice.text()
    assert "was read:" not in w.model_notice.text()  # control: read as it is, on the recording's grid
    # the same stages scored on a grid of their own, 12 s into the recording's epochs: the warning says so
    off = tmp_path / "off.csv"
    off.write_text("onset,duration,description\n" + "".join(
        f"{12 + 30 * i},30,{['W', 'N1', 'N2', 'N3', 'REM'][s]}\n" for i, s in enumerate(lab)))
    assert w.attach_hypnogram(str(off))
    text = w.model_notice.text()
    assert "less than 9 in 10 pairs" in text and "How off.csv was read: " in text
    assert "30-s epochs hold a change of scored stage (its epochs begin 12 s into the recording's)" in text


def test_a_scoring_beside_the_recording_read_off_its_grid_is_said_with_the_warning(
        qtbot, tmp_path, gui_settings, main_windows, monkeypatch):
    """Opened from disk with its lab's scoring beside it (paired by name, read by the loader): how the scoring was
    read reaches the banner's warning, as when it is attached."""
    import torch

    from sleepscope.gui.second_opinion import SecondOpinion
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import CONFIGS
    from sleepscope.model.network import SleepStager
    from test_batch_prescore import write_recording

    torch.manual_seed(0)
    m = SleepStager(CONFIGS["tiny"]).eval()
    with torch.no_grad():
        m.classifier.bias.zero_()
        m.classifier.bias[2] = 50.0  # every epoch N2
    save_model(m, tmp_path / "n2", ModelCard(config=m.config))
    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)
    night = write_recording(tmp_path / "night.edf", n_epochs=200)
    lab = ([0] * 20 + [2] * 30 + [4] * 20 + [3] * 30) * 2
    (tmp_path / "night.csv").write_text("onset,duration,description\n" + "".join(
        f"{12 + 30 * i},30,{['W', 'N1', 'N2', 'N3', 'REM'][s]}\n" for i, s in enumerate(lab)))
    w = main_windows(gui_settings, model_path=tmp_path / "n2.safetensors", prescore=True)
    with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
        assert w.open_file(night)
    text = w.model_notice.text()
    assert "less than 9 in 10 pairs" in text and "How night.csv was read: " in text
    assert "its epochs begin 12 s into the recording's" in text


def test_suggestions_unlike_any_real_night_are_a_warning_in_the_banner(qtbot):
    """A night pre-scored without a single wake epoch in its eight hours (the model reading a narrow-band wake as
    REM): the banner warns and says why, as the command line does; the real night's stages (control) say
    nothing."""
    from sleepscope.data.synthetic import real_hypnogram
    from sleepscope.gui.model_notice import _WARN

    real = real_hypnogram("SC4001E0").astype(np.int8)
    no_wake = np.where(real == 0, 4, real).astype(np.int8)
    probs = np.full((len(real), 5), 0.2, np.float32)
    notice = ModelNotice()
    qtbot.addWidget(notice)
    truth = Prediction(probs=probs, model_version="v", stages=real)
    assert truth.implausible is None and truth.notes() == []
    notice.show_prediction(truth)
    assert not notice.isVisible()
    odd = Prediction(probs=probs, model_version="v", stages=no_wake)
    assert "no epoch of its" in odd.implausible and any("unlike any real night's" in n for n in odd.notes())
    notice.show_prediction(odd)
    assert notice.isVisible() and notice.styleSheet() == _WARN and "the model may be misreading" in notice.text()


@pytest.mark.parametrize("stored", ["real night", "no wake"])
def test_suggestions_unlike_any_real_night_warn_again_when_the_night_is_reopened(qtbot, tmp_path, gui_settings,
                                                                                 main_windows, tiny_model, stored):
    """A night pre-scored earlier by the active model, whose stored suggestions hold no wake in eight hours: the
    window reopened on it warns as when it was pre-scored; the real night's stages stored (control) do not."""
    from sleepscope.data.synthetic import real_hypnogram
    from sleepscope.io import open_recording
    from sleepscope.io.export import write_edf
    from sleepscope.model.checkpoint import read_card
    from sleepscope.scoring import ScoringFile

    real = real_hypnogram("SC4001E0")
    stages = real if stored == "real night" else np.where(real == 0, 4, real)
    rng = np.random.default_rng(0)
    n = len(real) * 3000
    psg = write_edf(tmp_path / "night.edf", {"EEG Fpz-Cz": (rng.normal(0, 20, n), 100.0),
                                             "EOG horizontal": (rng.normal(0, 20, n), 100.0)},
                    datetime(2022, 1, 1, 22, 0))
    with ScoringFile.open(open_recording(psg), tmp_path / "night.sleepscope.h5") as sf:
        sf.add_prediction(read_card(tiny_model).version, np.eye(5, dtype=np.float32)[stages])
    w = main_windows(gui_settings, model_path=tiny_model, prescore=False)
    with qtbot.waitSignal(w.openFinished, timeout=60_000):
        assert w.open_file(psg)
    assert ("unlike any real night's" in w.model_notice.text()) == (stored == "no wake")
    assert w.model_notice.isVisible() == (stored == "no wake")


def test_epochs_read_from_the_backup_eeg_are_staged_and_said_in_the_banner(qtbot, tmp_path, gui_settings,
                                                                          tiny_model):
    """An AASM-shaped file whose F4-M1 is flat for 3 epochs: the window pre-scores them from F3-M2 (read from
    the file, not shown as a lane), says so in the banner, and still draws F4-M1 as recorded."""
    import edfio

    from sleepscope.gui.main_window import MainWindow

    rng = np.random.default_rng(0)
    chans = {k: rng.normal(0, 20, 12 * 3000) for k in ("EEG F4-M1", "EEG F3-M2", "EOG E1-M2")}
    chans["EEG F4-M1"][4 * 3000:7 * 3000] = 0.0
    path = tmp_path / "night.edf"
    edfio.Edf([edfio.EdfSignal(v, sampling_frequency=100, label=k, physical_range=(-500, 500),
                               physical_dimension="uV") for k, v in chans.items()],
              starttime=datetime(2024, 1, 1, 23).time()).write(path)
    w = MainWindow(settings=gui_settings, model_path=tiny_model, prescore_on_open=True)
    w.resize(1200, 800)
    w.show()
    try:
        with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
            assert w.open_file(path)
        assert "the model read the backup EEG 'EEG F3-M2' there" in w.model_notice.text()
        assert (np.asarray(w.controller.probs)[4:7].max(axis=1) > 0.2 + 1e-6).all()  # staged, not uniform
        assert np.ptp(w.recording.eeg[4 * 3000:7 * 3000]) == 0  # shown as recorded: flat
        assert "EEG F3-M2" not in w.trace.shown_channels
    finally:
        w.close()
        assert_no_leaks([w])


@pytest.mark.parametrize("rbd", [False, True])
def test_the_banner_says_when_the_chin_emg_was_left_out(qtbot, tmp_path, gui_settings, main_windows, monkeypatch,
                                                        rbd):
    """A night whose chin EMG shows no atonia (REM with N2's tone) opens with a note that the EMG was left out and
    why, and says it again when reopened; the same night with atonia (the control) says nothing of it and reads
    its REM from the tone."""
    import torch

    from sleepscope.gui.second_opinion import SecondOpinion
    from sleepscope.model.checkpoint import ModelCard, save_model
    from sleepscope.model.config import TINY
    from sleepscope.model.network import SleepStager
    from test_chin_emg import COEFFICIENTS, STAGES, raw_at, write_night

    torch.manual_seed(0)
    m = SleepStager(TINY).eval()
    with torch.no_grad():
        m.classifier.weight.zero_()
        m.classifier.bias.copy_(torch.tensor([0.0, 0.0, 1.0, 0.0, 0.5]))
    save_model(m, tmp_path / "m", ModelCard(config=m.config,
                                            calibration={"chin_emg": {"coefficients": COEFFICIENTS, "clip": 2.0}}))
    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)
    night = write_night(tmp_path / "night.edf", raw_at(STAGES, 200, rbd=rbd))
    w = main_windows(gui_settings, model_path=tmp_path / "m.safetensors", prescore=True)
    with qtbot.waitSignal(w.prescoreDone, timeout=120_000):
        assert w.open_file(night)
    text = w.model_notice.text()
    assert ("The chin EMG 'EMG Chin' was not used: the night shows no atonia" in text) == rbd
    assert "chin EMG: 'EMG Chin'" in w.model_notice.label.toolTip()
    rem_read = w.controller.model_stages[STAGES == 4]
    assert (rem_read == 4).all() != rbd
    # reopened, the night says it again: the note is kept with the prediction in the scoring file
    w.close()
    again = main_windows(gui_settings, model_path=tmp_path / "m.safetensors", prescore=False)
    with qtbot.waitSignal(again.openFinished, timeout=60_000):
        assert again.open_file(night)
    assert ("The chin EMG 'EMG Chin' was not used: the night shows no atonia" in again.model_notice.text()) == rbd
    assert again.model_notice.isVisible() == rbd


@pytest.mark.parametrize("swayed", [False, True], ids=["as recorded (control)", "two swayed minutes"])
def test_epochs_read_through_the_drift_high_pass_are_marked_and_named_also_on_reopening(
        qtbot, tmp_path, gui_settings, main_windows, monkeypatch, swayed):
    """The REAL Sleep-EDF wake minutes with a 50-uV, 0.05-Hz sway on their first two minutes: the model reads
    those epochs high-passed (still wake, not in the review queue), a bar over its row marks them, their header
    and the banner say why, also once the file is reopened."""
    from test_eeg_band import EEG, EOG, SHIPPED, WAKE
    from test_slow_drift import swayed as sway

    from sleepscope.gui.second_opinion import SecondOpinion
    from sleepscope.io import open_recording
    from sleepscope.io.export import write_edf

    if not SHIPPED.exists():
        pytest.skip("no shipped model in this checkout")
    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)  # YASA's disagreements are another queue
    rec = open_recording(WAKE)
    rec = sway(rec, 50.0, until=120) if swayed else rec
    path = write_edf(tmp_path / "wake.edf", {k: (rec.channels[k].astype(np.float64), 100.0) for k in (EEG, EOG)},
                     rec.start_time, record_duration=30.0)
    w = main_windows(gui_settings, model_path=SHIPPED, prescore=True)
    for reopened in (False, True):
        _open_prescored(qtbot, w, path, reopened)
        assert [w.controller.model_at(i)[0] for i in range(10)] == [0] * 10
        assert not w.controller.attention_mask().any()
        assert w.hypnogram.reading_runs["read otherwise"] == ([(0, 4)] if swayed else [])
        assert ("4 epochs read through a 0.3-Hz high-pass of the EEG" in w.model_notice.text()) == swayed
        w.controller.go_to(1)
        assert ("read through a 0.3-Hz high-pass of the EEG (a slow drift dominates it here)"
                in w.status.header.text()) == swayed
        w.close_recording()

@pytest.mark.parametrize("beats", [False, True], ids=["the ECG lead alone (control)", "beats on EEG and EOG"])
def test_epochs_read_without_the_hearts_beats_are_named_without_a_bar_also_on_reopening(
        qtbot, tmp_path, gui_settings, main_windows, monkeypatch, beats):
    """The REAL Sleep-EDF wake minutes written with an ECG lead, and with that heart's beats on the EEG and EOG:
    the model subtracts them and reads wake, the banner and every epoch's header say so, no bar marks the whole
    night, also once the file is reopened; with the lead alone, nothing is said."""
    from test_eeg_band import EEG, EOG, SHIPPED, WAKE
    from test_heartbeats import with_heart

    from sleepscope.gui.second_opinion import SecondOpinion
    from sleepscope.io import open_recording
    from sleepscope.io.export import write_edf

    if not SHIPPED.exists():
        pytest.skip("no shipped model in this checkout")
    monkeypatch.setattr(SecondOpinion, "start", lambda self: False)
    rec = with_heart(open_recording(WAKE), 80.0 if beats else 0.0, -150.0 if beats else 0.0)
    path = write_edf(tmp_path / "wake.edf", {k: (rec.channels[k].astype(np.float64), 100.0)
                                             for k in (EEG, EOG, "ECG")}, rec.start_time, record_duration=30.0)
    w = main_windows(gui_settings, model_path=SHIPPED, prescore=True)
    for reopened in (False, True):
        _open_prescored(qtbot, w, path, reopened)
        assert [w.controller.model_at(i)[0] for i in range(10)] == [0] * 10
        assert w.hypnogram.reading_runs["read otherwise"] == []
        said = ("10 epochs read with the ECG's beats subtracted from the EEG and EOG" if reopened
                else "beats found on the ECG 'ECG'")
        assert (said in w.model_notice.text()) == beats
        w.controller.go_to(1)
        assert ("the ECG's beats subtracted" in w.status.header.text()) == beats
        w.close_recording()
