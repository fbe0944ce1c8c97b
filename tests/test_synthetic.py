"""The synthetic PSG generator: API, determinism, variability, files as PhysioNet lays them out."""

from __future__ import annotations

import hashlib
import warnings

import mne
import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.data import synthetic as syn
from sleepscope.errors import SleepScopeError
from sleepscope.stages import Stage

# A short night touching every stage and an unscored stretch: 30 epochs.
SHORT = np.array([0] * 5 + [1] * 3 + [2] * 8 + [3] * 6 + [2] * 2 + [4] * 5 + [-1], dtype=np.int8)


def test_real_hypnogram_is_the_shipped_night():
    h = syn.real_hypnogram("SC4001E0")
    # SC4001 trimmed to 30 min of wake around sleep: 840 epochs.
    assert h.dtype == np.int8 and len(h) == 840
    assert h[0] == Stage.W and set(np.unique(h)) <= {-1, 0, 1, 2, 3, 4}
    assert syn.real_hypnogram("sc4001e0").tolist() == h.tolist()
    with pytest.raises(SleepScopeError, match="SC4001E0"):
        syn.real_hypnogram("SC4999E0")


def test_cohorts_have_the_published_night_counts():
    assert len(syn.cohort_names("sleep-edf-20")) == 39
    assert len(syn.cohort_names("sleep-edf-78")) == 153
    assert "SC4132E0" not in syn.cohort_names("sleep-edf-20")  # missing in Sleep-EDF too
    with pytest.raises(SleepScopeError):
        syn.cohort_names("sleep-edf-99")


def test_night_has_the_sleep_edf_channels_rates_and_lengths():
    n = syn.synth_night(SHORT, subject=3, night=1, seed=7)
    assert set(n.signals) == {"EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal"}
    assert set(n.aux) == {"Resp oro-nasal", "EMG submental", "Temp rectal", "Event marker"}
    for x in n.signals.values():
        assert x.dtype == np.float32 and x.shape == (len(SHORT) * 3000,)
        assert np.isfinite(x).all() and x.std() > 1.0
    for x in n.aux.values():
        assert x.shape == (len(SHORT) * 30,) and np.isfinite(x).all()
    assert n.rates["EEG Fpz-Cz"] == 100.0 and n.rates["Temp rectal"] == 1.0
    assert n.labels.tolist() == SHORT.tolist()
    assert 21 <= n.start_time.hour <= 23  # evening, like the real recordings


def test_same_seed_is_bit_identical_and_seeds_differ():
    a = syn.synth_night(SHORT, subject=2, night=1, seed=11)
    b = syn.synth_night(SHORT, subject=2, night=1, seed=11)
    c = syn.synth_night(SHORT, subject=2, night=1, seed=12)
    for k in a.signals:
        assert a.signals[k].tobytes() == b.signals[k].tobytes()
        assert a.signals[k].tobytes() != c.signals[k].tobytes()
    for k in a.aux:
        assert a.aux[k].tobytes() == b.aux[k].tobytes()


@pytest.mark.parametrize("family,randomise", [("A", False), ("B", False), ("A", True)])
def test_subject_parameters_do_not_depend_on_the_night_generated_first(family, randomise):
    from sleepscope.data.synth.subjects import night_params, subject_params

    def night_two():
        n = syn.synth_night(SHORT[:6], subject=12, night=2, seed=5, family=family, randomise=randomise)
        return n.params, n.acquisition, {k: v.tobytes() for k, v in n.signals.items()}

    first = night_two()
    # Other nights in between: the subject's first night, its neighbours, another seed.
    for subject, night, seed in ((12, 1, 5), (13, 1, 5), (11, 2, 5), (12, 1, 6)):
        syn.synth_night(SHORT[:6], subject=subject, night=night, seed=seed, family=family, randomise=randomise)
    again = night_two()
    assert again[0] == first[0] and again[1] == first[1] and again[2] == first[2]

    assert subject_params(5, 12) == subject_params(5, 12)
    one, two = night_params(5, 12, 1), night_params(5, 12, 2)
    other = subject_params(5, 13)
    # Nights of a subject differ a little, subjects a lot.
    assert one.subject.alpha_peak_hz != two.subject.alpha_peak_hz
    assert abs(one.subject.alpha_peak_hz - two.subject.alpha_peak_hz) < 0.8
    assert one.subject.sex == two.subject.sex and one.subject.age == two.subject.age
    assert other != subject_params(5, 12)


def test_subjects_vary_more_than_nights_of_one_subject():
    # Wake Pz-Oz alpha peak and N2 Fpz-Cz amplitude: spread across 8 subjects vs. 2 nights.
    from scipy import signal

    labels = np.array([0] * 10 + [2] * 6, dtype=np.int8)

    def features(subject, night):
        n = syn.synth_night(labels, subject=subject, night=night, seed=1)
        pz = n.signals["EEG Pz-Oz"][: 10 * 3000]
        f, p = signal.welch(pz, 100, nperseg=400)
        band = (f >= 7) & (f <= 13)
        return f[band][np.argmax(p[band])], n.signals["EEG Fpz-Cz"][10 * 3000:].std()

    subj = np.array([features(s, 1) for s in range(8)])
    nights = np.array([features(4, k) for k in (1, 2)])
    assert np.ptp(subj[:, 0]) >= 1.0  # alpha peaks spread over >= 1 Hz
    assert np.ptp(subj[:, 1]) / subj[:, 1].mean() > 0.3
    assert abs(nights[0, 0] - nights[1, 0]) <= 0.5  # 0.25-Hz bins; nights move the peak by ~0.15 Hz
    assert np.ptp(nights[:, 1]) / nights[:, 1].mean() < np.ptp(subj[:, 1]) / subj[:, 1].mean()


def test_transitions_are_gradual_not_switched_at_the_epoch_edge():
    # N2 -> N3 boundaries: averaged over them, the delta envelope on Fpz-Cz
    # already rises in the seconds before the edge and is still rising after it.
    from scipy import signal

    labels = np.array(([2] * 2 + [3] * 2) * 10, dtype=np.int8)
    b, a = signal.butter(2, [0.5, 2.0], btype="band", fs=100)
    edges = [(4 * k + 2) * 3000 for k in range(10)]
    curves = []
    for subject in range(4):  # 40 boundaries: single ones are noisy (and some are ambiguous on purpose)
        x = syn.synth_night(labels, subject=subject, night=1, seed=3).signals["EEG Fpz-Cz"].astype(np.float64)
        env = np.abs(signal.hilbert(signal.filtfilt(b, a, x)))
        curves += [env[e - 1500: e + 1500].reshape(30, 100).mean(axis=1) / env.mean() for e in edges]
    per_s = np.mean(curves, axis=0)
    lo, hi = per_s[:4].mean(), per_s[-4:].mean()  # 11-15 s before / after the edge
    before, after = per_s[13:14].mean(), per_s[16:17].mean()  # 1-2 s before / after
    assert hi > 2 * lo
    # A switch at the edge would leave both near lo / hi (the band-pass alone smears < 1 s).
    assert (before - lo) / (hi - lo) > 0.1
    assert (hi - after) / (hi - lo) > 0.1


def test_bad_labels_are_refused():
    with pytest.raises(SleepScopeError):
        syn.synth_night([0, 1, 7], subject=0, night=1, seed=0)
    with pytest.raises(SleepScopeError):
        syn.synth_night([], subject=0, night=1, seed=0)


def test_hypnogram_names_pair_by_the_sleep_edf_rule():
    for name in ("SC4001E0", "SC4012E0", "SC4822E0", "ST7011J0"):
        h = syn.hypnogram_name(name)
        assert len(h) == 8 and h[:7] == name[:7] and h[7].isalpha() and h != name


def _read_raw(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # Sleep-EDF's mixed filter texts
        return mne.io.read_raw_edf(path, preload=True, verbose=False)


def test_written_files_read_back_with_mne(tmp_path):
    psg, hyp = syn.write_night(tmp_path, "SC4011E0", seed=5, labels=SHORT)
    assert psg.name == "SC4011E0-PSG.edf"
    assert hyp.name.startswith("SC4011E") and hyp.name.endswith("-Hypnogram.edf")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([psg.name, hyp.name])  # no temporary files left

    raw = _read_raw(psg)
    assert raw.ch_names == ["EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "Resp oro-nasal",
                            "EMG submental", "Temp rectal", "Event marker"]
    assert raw.info["sfreq"] == 100.0
    assert raw.n_times == len(SHORT) * 3000
    assert raw.info["meas_date"].hour >= 21

    # The signals are the generated ones, up to 12-bit quantisation over the physical range.
    n = syn.synth_night(SHORT, subject=1, night=1, seed=5)
    for ch, x in n.signals.items():
        back = raw.get_data(picks=[ch])[0] * 1e6
        step = 2 * n.physical_limits()[ch] / 4095
        assert np.max(np.abs(back - x)) <= step

    import edfio

    edf = edfio.read_edf(psg)
    rates = {s.label: s.sampling_frequency for s in edf.signals}
    assert rates["EEG Fpz-Cz"] == 100 and rates["Resp oro-nasal"] == 1 and rates["Temp rectal"] == 1
    assert edf.data_record_duration == 30

    ann = mne.read_annotations(hyp)
    expected = [(0, 5, "Sleep stage W"), (5, 3, "Sleep stage 1"), (8, 8, "Sleep stage 2"),
                (16, 6, "Sleep stage 3"), (22, 2, "Sleep stage 2"), (24, 5, "Sleep stage R"),
                (29, 1, "Sleep stage ?")]
    assert [(round(o / 30), round(d / 30), t) for o, d, t in zip(ann.onset, ann.duration, ann.description)] == expected


def test_files_are_deterministic_and_independent_of_workers(tmp_path):
    labels = {"SC4001E0": SHORT[:12], "SC4002E0": SHORT[10:22]}
    one = syn.write_cohort(tmp_path / "a", list(labels), seed=3, workers=1, labels=labels)
    two = syn.write_cohort(tmp_path / "b", list(labels), seed=3, workers=2, labels=labels)

    def digest(path):
        return hashlib.sha256(path.read_bytes()).hexdigest()

    for (p1, h1), (p2, h2) in zip(one, two):
        assert p1.name == p2.name and digest(p1) == digest(p2) and digest(h1) == digest(h2)


def test_write_cohort_reports_progress_and_cancels(tmp_path):
    from sleepscope.tasks import CancelToken, Cancelled

    labels = {"SC4001E0": SHORT[:4], "SC4002E0": SHORT[:4], "SC4011E0": SHORT[:4]}
    seen = []
    syn.write_cohort(tmp_path, list(labels), seed=0, workers=1, labels=labels,
                     progress=lambda d, t, m: seen.append((d, t)))
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)

    token = CancelToken()

    def cancel_after_first(done, total, message):
        if done == 1:
            token.cancel()

    with pytest.raises(Cancelled):
        syn.write_cohort(tmp_path / "c", list(labels), seed=0, workers=1, labels=labels,
                         progress=cancel_after_first, cancel=token)
    assert len(list((tmp_path / "c").glob("*-PSG.edf"))) == 1


def test_demo_recording_is_made_once(monkeypatch):
    calls = []
    real_write = syn.write_night

    def short_write(folder, name, seed=0, labels=None):
        calls.append(name)
        return real_write(folder, name, seed, labels=syn.real_hypnogram(name)[:20])

    monkeypatch.setattr(syn, "write_night", short_write)
    psg = syn.demo_recording()
    assert psg.name == "SC4001E0-PSG.edf" and psg.exists()
    assert psg.parent.name == "demo"
    assert syn.demo_recording() == psg
    assert calls == ["SC4001E0"]


def test_cli_writes_a_night_and_refuses_bad_names(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--nights", "SC4001E0", "--quiet", "--workers", "1"]) == 0
    assert (tmp_path / "SC4001E0-PSG.edf").exists()
    assert len(list(tmp_path.glob("SC4001E*-Hypnogram.edf"))) == 1
    assert main(["synth", "--out", str(tmp_path), "--nights", "SC4999E0", "--quiet"]) == 2
    assert "SC4999E0" in capsys.readouterr().err


def test_written_night_reads_back_through_sleepscope_io(tmp_path):
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import read_hypnogram
    from sleepscope.io.pairing import find_hypnogram

    psg, hyp = syn.write_night(tmp_path, "SC4012E0", seed=2, labels=SHORT)
    rec = open_recording(psg, extra=("EEG Pz-Oz",))
    assert rec.eeg_name == "EEG Fpz-Cz" and rec.eog_name == "EOG horizontal"
    assert rec.fs == 100.0 and rec.n_epochs == len(SHORT)
    assert rec.start_time.hour >= 21
    n = syn.synth_night(SHORT, subject=1, night=2, seed=2)
    step = 2 * n.physical_limits()["EEG Fpz-Cz"] / 4095
    assert np.max(np.abs(rec.eeg - n.signals["EEG Fpz-Cz"])) <= step * 1.01
    assert find_hypnogram(psg) == hyp
    assert read_hypnogram(hyp, n_epochs=rec.n_epochs).tolist() == SHORT.tolist()


def test_write_cohort_marks_the_folder_as_synthetic(tmp_path):
    import json

    from sleepscope.experiments.paper import detect_synthetic

    syn.write_cohort(tmp_path, ["SC4001E0"], seed=1, workers=1, labels={"SC4001E0": SHORT[:3]})
    syn.write_cohort(tmp_path, ["SC4011E0"], seed=1, workers=1, labels={"SC4011E0": SHORT[:3]})
    marker = json.loads((tmp_path / syn.SYNTHETIC_MARKER).read_text())
    assert marker["nights"] == ["SC4001E0", "SC4011E0"] and marker["seed"] == 1
    assert detect_synthetic(tmp_path)
    assert not detect_synthetic(tmp_path / "elsewhere")
