"""An EEG recorded through a narrower band than wake was read by: the header says so, the suggestions say so.

The end-to-end tests use the REAL Sleep-EDF wake minutes in tests/data, which
the shipped model reads as REM once they are sampled at 50 Hz or low-passed
at 25 Hz (benchmarks/bench_acquisition.py).
"""

from __future__ import annotations

import contextlib
import io
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, sosfilt

from sleepscope.io import Recording, open_recording
from sleepscope.io.edfheader import prefilter_lowpass
from sleepscope.io.export import write_edf
from sleepscope.io.recording import resample_to_target
from sleepscope.model.eeg_band import WAKE_BAND_HZ, narrow_eeg, wake_or_rem

ROOT = Path(__file__).resolve().parents[1]
WAKE = ROOT / "tests" / "data" / "SC4001E0-PSG-first300s.edf"
SHIPPED = ROOT / "models" / "sleepscope-default.safetensors"
EEG, EOG = "EEG Fpz-Cz", "EOG horizontal"


@pytest.mark.parametrize("field, hz", [
    ("HP:0.1Hz LP:35Hz N:50Hz", 35.0), ("HP: 0.3 Hz LP: 70 Hz", 70.0), ("lp:0.1kHz", 100.0), ("LP:35,5Hz", 35.5),
    ("LPF=40Hz", 40.0), ("Lowpass 35 Hz", 35.0), ("HP 0.3Hz, low-pass: 45Hz", 45.0),
    ("HP:0.5Hz", None), ("", None), ("LP:0Hz", None), ("HP:0.16Hz N:60Hz", None), ("SLP:35Hz", None),
    # other writers: no unit, a band as a range, a notch range that is no band
    ("HP:DC LP:30", 30.0), ("LP:30;HP:0.3", 30.0), ("BP:0.3-35Hz", 35.0), ("0.3 - 35 Hz", 35.0),
    ("BP: 0.5Hz-40Hz", 40.0), ("N:50Hz 0.3-35Hz", 35.0), ("HP:0.1Hz N:50-60Hz", None), ("50-60Hz notch", None),
])
def test_the_low_pass_of_a_prefiltering_field(field, hz):
    assert prefilter_lowpass(field) == hz


def _recording(rates: dict[str, float], lowpass: dict[str, float] | None = None, eeg: str | None = "C3-M2",
               eog: str | None = "E1-M2") -> Recording:
    chans = {k: np.zeros(3000, np.float32) for k in (eeg, eog) if k is not None}
    return Recording(path=None, start_time=datetime(2022, 1, 1, 23), fs=100.0, channels=chans, eeg_name=eeg,
                     eog_name=eog, source_rates=rates, source_lowpass=lowpass or {})


def test_the_eeg_band_comes_from_its_rate_and_its_header():
    assert narrow_eeg(_recording({"C3-M2": 50.0, "E1-M2": 50.0})).top_hz == 25.0
    low = narrow_eeg(_recording({"C3-M2": 256.0, "E1-M2": 256.0}, {"C3-M2": 30.0}))
    assert low.top_hz == 30.0 and "low-pass 30 Hz" in low.why
    # the narrower of the two limits decides
    assert narrow_eeg(_recording({"C3-M2": 50.0, "E1-M2": 50.0}, {"C3-M2": 30.0})).top_hz == 25.0
    # controls: a wide band, a low-pass on the EOG only, no EEG at all
    assert narrow_eeg(_recording({"C3-M2": 100.0, "E1-M2": 100.0}, {"C3-M2": WAKE_BAND_HZ})) is None
    assert narrow_eeg(_recording({"C3-M2": 200.0, "E1-M2": 200.0}, {"E1-M2": 15.0})) is None
    assert narrow_eeg(_recording({"E1-M2": 50.0}, eeg=None)) is None


def test_wake_and_rem_are_the_stages_in_doubt():
    assert wake_or_rem(np.array([0, 1, 2, 3, 4, -1])).tolist() == [True, False, False, False, True, False]


def _real_wake(tmp_path: Path, rate: float = 100.0, lowpass: float | None = None, header: bool = True) -> Path:
    """The real wake minutes as a lab with this `rate` and amplifier `lowpass` would have written them."""
    rec = open_recording(WAKE)
    signals, prefilters = {}, {}
    for name in (EEG, EOG):
        x = rec.channels[name].astype(np.float64)
        if lowpass is not None:
            x = sosfilt(butter(4, lowpass, "low", fs=100.0, output="sos"), x)
            prefilters[name] = f"HP:0.5Hz LP:{lowpass:g}Hz" if header else ""
        if rate != 100.0:
            x = resample_to_target(x, 100.0, rate)
        signals[name] = (x, rate)
    return write_edf(tmp_path / f"wake-{rate:g}-{lowpass}-{header}.edf", signals, rec.start_time,
                     prefilters=prefilters, record_duration=30.0)


def test_opening_a_file_keeps_the_low_pass_its_header_names(tmp_path):
    rec = open_recording(_real_wake(tmp_path, lowpass=30.0))
    assert rec.source_lowpass == {EEG: 30.0, EOG: 30.0}
    # Sleep-EDF's own field: "HP:0.5Hz LP:100Hz [enhanced cassette BW]"
    assert open_recording(WAKE).source_lowpass == {EEG: 100.0, EOG: 100.0}


@pytest.fixture(scope="module")
def shipped():
    if not SHIPPED.exists():
        pytest.skip("no shipped model in this checkout")
    from sleepscope.model.checkpoint import load_model

    return load_model(SHIPPED)[0]


def _predict(path: Path, model):
    from sleepscope.model.infer import predict

    return predict(open_recording(path, eeg=EEG, eog=EOG), model, device="cpu", threads=1)


@pytest.mark.parametrize("rate, lowpass", [(50.0, None), (256.0, 25.0)])
def test_real_wake_on_a_narrow_band_is_never_a_confident_suggestion(tmp_path, shipped, rate, lowpass):
    wide = _predict(_real_wake(tmp_path), shipped)  # the control: as recorded, W and sure
    assert (wide.stages == 0).all() and not wide.unsure.any() and wide.eeg_band is None

    pred = _predict(_real_wake(tmp_path, rate, lowpass), shipped)
    wrong = pred.stages != 0
    assert wrong.any(), "the model now reads this narrow band right: revisit WAKE_BAND_HZ"
    assert pred.unsure[wrong].all() and pred.unsure[wake_or_rem(pred.stages)].all()
    assert pred.eeg_band is not None and pred.eeg_band.top_hz == min(rate / 2, lowpass or rate)
    assert any("holds nothing above" in n for n in pred.notes())
    assert pred.to_dict()["eeg_band"]["top_hz"] == pred.eeg_band.top_hz


def test_the_band_the_shipped_card_names_is_read_right_and_not_flagged(tmp_path, shipped):
    """The card's band is the lowest low-pass that keeps the real wake minutes W, so a file filtered there gets no
    flag; 5 Hz below it they are misread and flagged (the test above: the band is not set too high for nothing)."""
    from sleepscope.model.checkpoint import load_model

    band = float(load_model(SHIPPED)[1].calibration["wake_band_hz"])
    pred = _predict(_real_wake(tmp_path, 256.0, band), shipped)
    assert (pred.stages == 0).all() and not pred.unsure.any() and pred.eeg_band is None
    lower = _predict(_real_wake(tmp_path, 256.0, band - 5.0), shipped)
    assert (lower.stages != 0).any() and lower.unsure[lower.stages != 0].all() and lower.eeg_band is not None


def test_a_file_filtered_without_saying_so_is_not_caught(tmp_path, shipped):
    """The limit of a header-only check, kept visible: the same signal as above, its field left empty."""
    pred = _predict(_real_wake(tmp_path, 256.0, 25.0, header=False), shipped)
    assert pred.eeg_band is None and (pred.stages != 0).any()


def test_with_yasa_the_silently_filtered_real_wake_is_in_the_review_queue_and_unfamiliar(tmp_path, shipped):
    """What covers the hole above: YASA, trained on real nights, reads these minutes W, so every REM the model
    gives is a disagreement (the queue) and the night disagrees more than the card allows (the banner)."""
    pytest.importorskip("yasa")
    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.familiarity import with_second_opinion
    from sleepscope.scorers import YasaScorer
    from sleepscope.scorers.compare import doubtful

    card = load_model(SHIPPED)[1]
    for order, caught in ((None, False), (2, True)):  # the control first: as recorded
        path = _real_wake(tmp_path) if order is None else _silent_gentle_wake(tmp_path, order)
        rec = open_recording(path, eeg=EEG, eog=EOG)
        pred = _predict(path, shipped)
        second = YasaScorer().score(rec).stages
        wrong = pred.stages != 0
        assert wrong.any() == caught
        assert doubtful(pred.unsure, pred.stages, second)[wrong].all()
        familiarity = with_second_opinion(pred.familiarity, card.familiarity, pred.stages, second)
        unfamiliar = familiarity is not None and not familiarity.familiar
        assert unfamiliar == caught


def _silent_gentle_wake(tmp_path: Path, order: int) -> Path:
    """The real wake minutes stored at 256 Hz behind a 20-Hz Butterworth low-pass of `order`, the header silent."""
    rec = open_recording(WAKE)
    signals = {name: (sosfilt(butter(order, 20.0, "low", fs=256.0, output="sos"),
                              resample_to_target(rec.channels[name].astype(np.float64), 100.0, 256.0)), 256.0)
               for name in (EEG, EOG)}
    return write_edf(tmp_path / f"wake-gentle-{order}.edf", signals, rec.start_time, record_duration=30.0)


def test_the_cli_says_why_wake_and_rem_are_unsure(tmp_path, shipped):
    from sleepscope.cli import main

    path = _real_wake(tmp_path, 50.0)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["prescore", str(path), "--model", str(SHIPPED), "--out", str(tmp_path / "out.csv")])
    assert rc == 0
    text = err.getvalue()
    assert "NOTE: the EEG holds nothing above 25 Hz (sampled at 50 Hz)" in text
    assert "10 epochs marked unsure" in text and "narrow EEG band" in text


def test_the_band_a_child_learned_comes_from_recordings_with_enough_wake_and_rem():
    from sleepscope.model.eeg_band import learned_band
    from sleepscope.scoring.corrections import CorrectionSet

    y = np.array([0] * 60 + [4] * 60 + [2] * 30 + [0] * 10 + [4] * 70)
    fps = np.array(["narrow"] * 150 + ["few wake"] * 80, object)
    cs = CorrectionSet(np.zeros((230, 2, 3000), np.float32), y, fps, np.arange(230), np.full(230, "technician", object),
                       eeg_top_hz={"narrow": 25.0, "few wake": 20.0})
    assert learned_band(cs) == 25.0  # 20 Hz brought only 10 W: not learned
    assert learned_band(cs.rows(fps == "few wake")) == WAKE_BAND_HZ
    assert learned_band(cs, below=22.0) == 22.0  # a parent that already learned narrower keeps it
    cs.eeg_top_hz = {"narrow": 100.0}
    assert learned_band(cs) == WAKE_BAND_HZ


def test_a_child_fine_tuned_on_a_narrow_band_lab_stops_flagging_that_band(tmp_path):
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from test_finetune import correction_set, tiny_model_file

    from sleepscope.model.checkpoint import load_model
    from sleepscope.model.finetune import FineTuneOptions, finetune
    from sleepscope.model.infer import predict

    parent, card = load_model(tiny_model_file(tmp_path / "parent"))
    cs = correction_set("SC4001E0", n=900)  # 137 W, 125 REM
    opts = FineTuneOptions(epochs=1, max_steps=2, min_steps=0, holdout=0.3)
    wide = finetune(parent, card, cs, tmp_path / "wide", opts)  # the control: the header said nothing
    assert "wake_band_hz" not in wide.card.calibration
    cs.eeg_top_hz = {fp: 25.0 for fp in set(cs.fingerprint.tolist())}
    child = finetune(parent, card, cs, tmp_path / "child", opts)
    assert child.card.calibration["wake_band_hz"] == 25.0

    rec = open_recording(_real_wake(tmp_path, 50.0))
    flagged = predict(rec, load_model(wide.path)[0], device="cpu", threads=1)
    assert flagged.eeg_band is not None and flagged.eeg_band.top_hz == 25.0
    learned = predict(rec, load_model(child.path)[0], device="cpu", threads=1)
    assert learned.eeg_band is None and not any("holds nothing above" in n for n in learned.notes())


def test_a_correction_set_keeps_each_recordings_band(tmp_path):
    from sleepscope.scoring.corrections import CorrectionSet, build_correction_set
    from sleepscope.scoring.scoring_file import ScoringFile

    path = _real_wake(tmp_path, 50.0)
    rec = open_recording(path)
    with ScoringFile.open(rec, scorer="tech") as sf:
        sf.set_stages(np.arange(10), np.zeros(10, np.int64), source="technician")
        scoring = sf.path
    cs = build_correction_set([scoring], [rec])
    assert cs.eeg_top_hz == {rec.fingerprint(): 25.0}
    assert CorrectionSet.load(cs.save(tmp_path / "cs.h5")).eeg_top_hz == cs.eeg_top_hz
    assert cs.rows(np.arange(3)).eeg_top_hz == cs.eeg_top_hz


def test_a_folder_prescored_at_once_says_which_recording_has_a_narrow_band(tmp_path, shipped):
    from sleepscope.cli import main

    folder = tmp_path / "folder"
    folder.mkdir()
    narrow, wide = _real_wake(folder, 50.0), _real_wake(folder, 100.0)  # the second is the control
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(err):
        assert main(["prescore", str(folder), "--model", str(SHIPPED)]) == 0
    notes = [line for line in err.getvalue().splitlines() if "holds nothing above" in line]
    assert len(notes) == 1 and narrow.name in notes[0] and wide.name not in notes[0]
