"""Every randomised acquisition axis does what docs/synthetic-axes.md says, on both families.

Each test records the same sources twice, changing one axis, so that the
difference is that axis's doing (each kind of artefact has its own random
stream, so other draws stay put).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import signal

from sleepscope.data.synth import acquisition as acq
from sleepscope.data.synth import families

LABELS = np.array([0] * 8 + [2] * 8 + [3] * 8 + [4] * 4, dtype=np.int8)
W, N2, N3 = (LABELS == 0), (LABELS == 2), (LABELS == 3)
SEED = acq.signal_seed(0, 1, 1)


@pytest.fixture(scope="module", params=["A", "B", "C", "D", "E"])
def src(request):
    return families.sources(request.param, LABELS, seed=0, subject=1, night=1)


def setup(*derivations: str, **axes) -> acq.Acquisition:
    """A quiet 100-Hz recording of the given derivations (EEG, then EOG), axes overridden."""
    channels = tuple(acq.Channel(d, "eog" if d.startswith("E") else "eeg", d, 5000.0) for d in derivations)
    base = dataclasses.replace(
        acq.sleep_edf(0, 1, 1, age=30, leakage=0.0), channels=channels, highpass_hz=0.3, mains_uv=0.0,
        pops_per_hour=0.0, movement_scale=0.0, eeg_gain_subject=1.0, crosstalk=0.0, amplifier_noise_uv=0.3,
        eog_noise_uv=1.0)
    return dataclasses.replace(base, **axes)


def band_power(x: np.ndarray, fs: float, mask: np.ndarray, lo: float, hi: float) -> float:
    e = x.reshape(len(LABELS), -1)[mask]
    f, p = signal.welch(e, fs, nperseg=int(4 * fs), axis=-1)
    return float(p[:, (f >= lo) & (f <= hi)].mean())


def test_topography_alpha_posterior_spindles_central_slow_waves_frontal(src):
    rec = acq.record(src, setup("Fpz-Cz", "Pz-Oz", "F3-M2", "C3-M2", "O1-M2"), SEED)
    # Alpha's topography is the brain's: waking eye movements put broadband power on the frontal leads.
    brain = dataclasses.replace(src, eye=np.zeros_like(src.eye), blink=np.zeros_like(src.blink))
    alpha = {k: band_power(x, 100, W, 8, 12)
             for k, x in acq.record(brain, setup("Fpz-Cz", "Pz-Oz", "F3-M2", "C3-M2", "O1-M2"), SEED).items()}
    assert alpha["O1-M2"] > 2 * max(alpha["Fpz-Cz"], alpha["F3-M2"])
    assert alpha["Pz-Oz"] > 1.5 * max(alpha["Fpz-Cz"], alpha["F3-M2"])
    sigma = {k: band_power(x, 100, N2, 11, 16) for k, x in rec.items()}
    assert sigma["C3-M2"] > 2 * sigma["O1-M2"]
    delta = {k: band_power(x, 100, N3, 0.5, 2) for k, x in rec.items()}
    assert delta["F3-M2"] > 1.5 * delta["O1-M2"]
    # Ipsilateral reference: the same electrode, a shorter derivation, a smaller signal.
    ipsi = acq.record(src, setup("C3-M1"), SEED)["C3-M1"]
    assert 0.6 < ipsi.std() / rec["C3-M2"].std() < 0.95


def test_eog_leakage_from_none_to_strong(src):
    def corr(leakage: float) -> float:
        rec = acq.record(src, setup("F4-M1", "E1-M2", leakage=leakage), SEED)
        eeg, eog = (rec[k].reshape(len(LABELS), -1)[N3].ravel() for k in ("F4-M1", "E1-M2"))
        return float(np.corrcoef(eeg, eog)[0, 1])

    assert abs(corr(0.0)) < 0.2
    assert corr(0.9) > 0.7


def test_nrem_eog_from_near_silent_to_large(src):
    def n2_rms(**axes) -> float:
        x = acq.record(src, setup("E2-M1", **axes), SEED)["E2-M1"]
        return float(x.reshape(len(LABELS), -1)[N2].std(axis=1).mean())

    # What stays in the quiet one is the family's own slow eye movements of N2.
    quiet, loud = n2_rms(leakage=0.0, eog_noise_uv=0.5), n2_rms(leakage=0.9, eog_noise_uv=12.0)
    assert loud > 2.5 * quiet


def test_eye_movements_deflect_e1_and_e2_in_opposite_directions_eeg_in_the_same(src):
    rec = acq.record(src, setup("E1-M2", "E2-M1", leakage=0.8), SEED)
    e1, e2 = (rec[k].reshape(len(LABELS), -1) for k in ("E1-M2", "E2-M1"))
    assert np.corrcoef(e1[LABELS == 4].ravel(), e2[LABELS == 4].ravel())[0, 1] < -0.3  # REM: eyes
    assert np.corrcoef(e1[N3].ravel(), e2[N3].ravel())[0, 1] > 0.5  # N3: leaked EEG


def test_gain_and_age_scale_the_eeg(src):
    one = acq.record(src, setup("C4-M1"), SEED)["C4-M1"]
    three = acq.record(src, setup("C4-M1", eeg_gain_subject=3.0), SEED)["C4-M1"]
    assert three.std() / one.std() == pytest.approx(3.0, rel=0.05)
    young = acq.record(src, setup("F4-M1", slow_age_factor=acq.slow_age_factor(25)), SEED)["F4-M1"]
    old = acq.record(src, setup("F4-M1", slow_age_factor=acq.slow_age_factor(80)), SEED)["F4-M1"]
    assert band_power(old, 100, N3, 0.5, 2) < 0.6 * band_power(young, 100, N3, 0.5, 2)
    assert acq.slow_age_factor(80) < acq.slow_age_factor(50) < acq.slow_age_factor(25)


@pytest.mark.parametrize("fs", [50, 128, 256, 512])
def test_sampling_rates_keep_the_physiology(src, fs):
    ref = acq.record(src, setup("C4-M1"), SEED)["C4-M1"]
    x = acq.record(src, setup("C4-M1", fs=fs), SEED)["C4-M1"]
    assert len(x) == len(LABELS) * 30 * fs
    # Spindle-band power in N2 is the same whatever the rate (proper resampling), and wake's
    # muscle activity above 25 Hz does not fold back into 14-20 Hz at 50 Hz (anti-aliasing).
    assert band_power(x, fs, N2, 11, 16) == pytest.approx(band_power(ref, 100, N2, 11, 16), rel=0.15)
    assert band_power(x, fs, W, 14, 20) == pytest.approx(band_power(ref, 100, W, 14, 20), rel=0.15)


def test_mains_shows_at_its_frequency_and_a_notch_removes_it(src):
    def line_ratio(**axes) -> float:
        x = acq.record(src, setup("C3-M2", fs=256, **axes), SEED)["C3-M2"]
        f, p = signal.welch(x, 256, nperseg=1024)
        return float(p[np.argmin(abs(f - 60))] / np.median(p[(f > 52) & (f < 58)]))

    assert line_ratio(mains_hz=60.0, mains_uv=0.0) < 3
    mains = line_ratio(mains_hz=60.0, mains_uv=10.0)
    assert mains > 100
    assert line_ratio(mains_hz=60.0, mains_uv=10.0, notch_hz=60.0) < 0.05 * mains
    # 60 Hz cannot be recorded at 100 Hz: the anti-aliasing filter takes it out, nothing folds back.
    quiet = acq.record(src, setup("C3-M2"), SEED)["C3-M2"]
    mains = acq.record(src, setup("C3-M2", mains_hz=60.0, mains_uv=10.0), SEED)["C3-M2"]
    assert np.array_equal(quiet, mains)


def test_polarity_inversion_and_flat_stretches(src):
    plain = acq.record(src, setup("O2-M1"), SEED)["O2-M1"]
    flipped = acq.record(src, dataclasses.replace(setup("O2-M1"), channels=(
        acq.Channel("O2-M1", "eeg", "O2-M1", 5000.0, inverted=True),)), SEED)["O2-M1"]
    np.testing.assert_array_equal(flipped, -plain)
    flat = acq.record(src, setup("O2-M1", flat=(("O2-M1", 60.0, 45.0),)), SEED)["O2-M1"]
    assert np.all(flat[6000:10500] == 0) and np.array_equal(flat[:6000], plain[:6000])
    assert np.array_equal(flat[10500:], plain[10500:]) and plain[6000:10500].std() > 1


def test_artefacts_appear_where_their_axis_says(src):
    base = acq.record(src, setup("C4-M1", "Fpz-Cz"), SEED)
    ecg = acq.record(src, setup("C4-M1", "Fpz-Cz", ecg_uv=20.0, heart_bpm=60.0), SEED)
    beat = ecg["C4-M1"] - base["C4-M1"]
    assert np.array_equal(ecg["Fpz-Cz"], base["Fpz-Cz"])  # bipolar scalp derivation: no ECG
    ac = np.correlate(beat[:6000], beat[:6000], "full")[5999:]
    assert 80 <= np.argmax(ac[50:200]) + 50 <= 125  # about one beat per second
    pops = acq.record(src, setup("C4-M1", pops_per_hour=600.0), SEED)["C4-M1"] - base["C4-M1"]
    assert np.abs(pops).max() > 60
    moves = acq.record(src, setup("C4-M1", movement_scale=20.0), SEED)["C4-M1"] - base["C4-M1"]
    energy = np.square(moves.astype(np.float64).reshape(len(LABELS), -1)).sum(axis=1)
    assert energy[W].sum() > 5 * energy[N3].sum() and energy[W].sum() > 0  # people move when awake
    sweat = acq.record(src, setup("C4-M1", sweat_per_hour=60.0, highpass_hz=0.1), SEED)["C4-M1"] - base["C4-M1"]
    assert sweat.std() > 10


def test_drawn_set_ups_cover_the_axes_and_write_labels_as_labs_do():
    drawn = [acq.draw(seed, subject, 1, age=60, duration_s=28800) for seed in range(3) for subject in range(40)]
    labels = {c.label for a in drawn for c in a.channels}
    assert {"C3-A2", "EEG C4-M1", "FP1-A1", "O1-A1"} & labels and len(labels) > 25
    assert any(lbl in labels for lbl in ("LOC", "E1-M2", "EOG1-A1", "EOG horizontal", "HEOG"))
    assert {a.unit for a in drawn} == {"uV", "µV", "UV"}
    assert min(a.fs for a in drawn) == 50 and max(a.fs for a in drawn) == 512
    assert {c.derivation for a in drawn for c in a.channels} >= {
        "Fpz-Cz", "Pz-Oz", "C4-M1", "C3-M2", "C3-M1", "F4-M1", "O2-M1", "Cz-M1", "E1-M2", "E1-E2"}
    gains = [a.eeg_gain for a in drawn]
    assert 0.3 <= min(gains) < 0.6 and 2.0 < max(gains) <= 3.0
    leak = [a.leakage for a in drawn]
    assert min(leak) < 0.05 and max(leak) > 0.8
    assert any(c.inverted for a in drawn for c in a.channels) and any(a.flat for a in drawn)
    assert any(a.notch_hz for a in drawn) and {a.mains_hz for a in drawn} == {50.0, 60.0}
    # The lab is the subject's: both nights share montage, rate and labels; gains move a little.
    one, two = acq.draw(0, 7, 1, age=60, duration_s=3000), acq.draw(0, 7, 2, age=60, duration_s=3000)
    assert [c.label for c in one.channels] == [c.label for c in two.channels] and one.fs == two.fs
    assert one.eeg_gain_subject == two.eeg_gain_subject and one.eeg_gain_night != two.eeg_gain_night


@pytest.mark.parametrize("fs", [100, 256])
def test_a_labs_raw_chin_emg_follows_the_tone_and_leaves_the_other_channels_as_they_were(src, fs):
    emg = acq.ChinEmg("Chin1-Chin2", 3276.7, gain=3.0, floor_uv=0.5, ecg_uv=5.0)
    plain = acq.record(src, setup("C4-M1", "E1-M2", fs=fs), SEED)
    with_emg = acq.record(src, setup("C4-M1", "E1-M2", fs=fs, chin_emg=emg), SEED)
    for label, x in plain.items():  # its own random stream
        np.testing.assert_array_equal(with_emg[label], x)
    x = with_emg["Chin1-Chin2"]
    assert len(x) == len(LABELS) * 30 * fs
    rms = np.sqrt((x.reshape(len(LABELS), -1).astype(np.float64) ** 2).mean(axis=1))
    rem = LABELS == 4
    assert np.median(rms[rem]) < 0.6 * np.median(rms[N2]) and np.median(rms[W]) > np.median(rms[N2])  # atonia; wake


def test_a_randomised_lab_writes_its_raw_chin_emg_instead_of_the_envelope(tmp_path):
    import edfio

    from sleepscope.data.synthetic import write_night

    psg, _ = write_night(tmp_path, "SC4001E0", labels=LABELS, family="B", randomise=True)
    labels = [s.label for s in edfio.read_edf(psg).signals]
    setup_ = acq.draw(0, 0, 1, age=33, duration_s=len(LABELS) * 30)
    assert setup_.chin_emg.label in labels and "EMG submental" not in labels
    assert "Resp oro-nasal" in labels  # the other auxiliary channels stay
