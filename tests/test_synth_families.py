"""Synthetic physiology families and randomised acquisition: API, determinism, files, the pinned family A."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.data import synthetic as syn
from sleepscope.errors import SleepScopeError

SHORT = np.array([0] * 5 + [1] * 3 + [2] * 8 + [3] * 6 + [2] * 2 + [4] * 5 + [-1], dtype=np.int8)


def _digest(night) -> str:
    h = hashlib.sha256()
    for group in (night.signals, night.aux):
        for k in sorted(group):
            h.update(k.encode())
            h.update(group[k].tobytes())
    return h.hexdigest()


REFERENCE = Path(__file__).parent / "data" / "synth_family_a_reference.npz"


def test_family_a_default_is_the_generator_from_before_families():
    # Caches, the paper's experiment and the shipped model's card rely on family A staying the generator from
    # before families existed. A sha256 of its bytes pinned that until the last bits of its floating-point
    # results turned out to differ between CPUs (Intel vs an AMD EPYC, same code and packages); the
    # reference is now the first 30 s and every epoch's mean and SD, written at 8e519b2 by the generator
    # that had passed the hash, compared far below anything a change of the generator would move.
    n = syn.synth_night(SHORT, subject=3, night=1, seed=7)
    ref = np.load(REFERENCE)
    groups = {**n.signals, **n.aux}
    assert sorted(groups) == sorted({k.split("|")[0] for k in ref.files})
    for k, x in groups.items():
        per_epoch = x.astype(np.float64).reshape(len(SHORT), -1)
        np.testing.assert_allclose(x[:3000], ref[k + "|head"], rtol=1e-4, atol=1e-3, err_msg=k)
        np.testing.assert_allclose(per_epoch.mean(1), ref[k + "|mean"], rtol=1e-4, atol=1e-4, err_msg=k)
        np.testing.assert_allclose(per_epoch.std(1), ref[k + "|std"], rtol=1e-4, atol=1e-4, err_msg=k)
    assert _digest(syn.synth_night(SHORT, subject=3, night=1, seed=7, family="a")) == _digest(n)


def test_family_a_default_files_are_byte_identical_to_before(tmp_path):
    # The header and the hypnogram hold no computed samples: byte for byte as before families. The data
    # records are the night's samples within one step of the 16-bit scale (see the test above for why not bytes).
    from sleepscope.io import open_recording

    psg, hyp = syn.write_night(tmp_path, "SC4031E0", seed=7, labels=SHORT)
    data = psg.read_bytes()
    header = 256 + 256 * int(data[252:256])
    assert hashlib.sha256(data[:header]).hexdigest() == (
        "92f96831887619a94450c75abef1ba72cca7fb253bd0accbf145206cc58212df")
    assert hashlib.sha256(hyp.read_bytes()).hexdigest() == (
        "263a535c761c430785dca75523e8c5c2d3831b4c7d4a81571d2f2cd65d5bb478")
    night = syn.synth_night(SHORT, subject=3, night=1, seed=7)
    rec = open_recording(psg)
    for name in ("EEG Fpz-Cz", "EOG horizontal"):
        read = rec.channels[name].astype(np.float64)
        step = np.diff(np.unique(read)).min()  # the file's quantisation step
        assert np.abs(read - night.signals[name][: len(read)]).max() <= 0.51 * step, name


@pytest.mark.parametrize("family", ["A", "B", "C", "D", "E"])
@pytest.mark.parametrize("randomise", [False, True])
def test_every_family_and_set_up_is_deterministic_per_seed(family, randomise):
    a = syn.synth_night(SHORT, subject=2, night=1, seed=11, family=family, randomise=randomise)
    b = syn.synth_night(SHORT, subject=2, night=1, seed=11, family=family, randomise=randomise)
    c = syn.synth_night(SHORT, subject=2, night=1, seed=12, family=family, randomise=randomise)
    assert _digest(a) == _digest(b) != _digest(c)
    assert a.family == family and a.randomised == randomise
    assert a.acquisition == b.acquisition
    for label, x in a.signals.items():
        assert x.dtype == np.float32 and len(x) == len(SHORT) * 30 * a.fs and np.isfinite(x).all()
        assert a.rates[label] == a.fs
    assert set(a.channels_of("eeg")) | set(a.channels_of("eog")) | set(a.channels_of("emg")) == set(a.signals)
    assert bool(a.channels_of("emg")) == randomise  # a randomised lab records the chin EMG raw
    assert a.channels_of("eeg") and a.channels_of("eog")


def test_families_differ_but_share_the_acquisition_draw():
    a = syn.synth_night(SHORT, subject=4, night=2, seed=3, family="A", randomise=True)
    b = syn.synth_night(SHORT, subject=4, night=2, seed=3, family="B", randomise=True)
    assert a.acquisition["channels"] == b.acquisition["channels"] and a.fs == b.fs
    assert _digest(a) != _digest(b)


def test_unknown_family_is_refused(tmp_path):
    with pytest.raises(SleepScopeError, match="family"):
        syn.synth_night(SHORT, subject=0, family="Z")
    with pytest.raises(SystemExit) as exit_:
        main(["synth", "--out", str(tmp_path), "--nights", "SC4001E0", "--family", "Z", "--quiet"])
    assert exit_.value.code == 2
    with pytest.raises(SleepScopeError, match="family"):
        syn.write_cohort(tmp_path, ["SC4001E0"], family="Z")


def test_a_randomised_night_opens_through_sleepscope_io(tmp_path):
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import read_hypnogram
    from sleepscope.io.pairing import find_hypnogram

    psg, hyp = syn.write_night(tmp_path, "SC4052E0", seed=1, labels=SHORT, family="B", randomise=True)
    n = syn.synth_night(SHORT, subject=5, night=2, seed=1, family="B", randomise=True)
    eeg, eog = n.channels_of("eeg")[0], n.channels_of("eog")[0]
    rec = open_recording(psg, eeg=eeg, eog=eog)
    assert rec.eeg_name == eeg and rec.eog_name == eog
    assert rec.fs == 100.0 and rec.n_epochs == len(SHORT)
    assert find_hypnogram(psg) == hyp
    assert read_hypnogram(hyp, n_epochs=rec.n_epochs).tolist() == SHORT.tolist()
    # The signal read back is the generated one (at 100 Hz after the reader's resampling).
    from sleepscope.io.recording import resample_to_target

    want = resample_to_target(n.signals[eeg], n.fs)
    assert np.corrcoef(rec.eeg, want)[0, 1] > 0.99


def test_cli_writes_a_randomised_family_b_cohort_and_marks_it(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["synth", "--out", str(out), "--nights", "SC4001E0", "--quiet", "--workers", "1",
                 "--family", "b", "--randomise"]) == 0
    assert (out / "SC4001E0-PSG.edf").exists()
    mark = json.loads((out / syn.SYNTHETIC_MARKER).read_text())
    assert mark["family"] == "B" and mark["randomised"] is True and mark["nights"] == ["SC4001E0"]
    assert "family B" in capsys.readouterr().out
    # One folder holds one cohort: another family is refused before anything is written.
    assert main(["synth", "--out", str(out), "--nights", "SC4002E0", "--quiet", "--workers", "1"]) == 2
    assert not (out / "SC4002E0-PSG.edf").exists()


# ---- the families differ in structure, not only in numbers -------------------------------

STRUCT_LABELS = np.array([0] * 8 + [1] * 4 + [2] * 12 + [3] * 10 + [4] * 10, dtype=np.int8)


def _epochs(night, channel: str, stage: int) -> np.ndarray:
    return night.signals[channel].reshape(-1, 3000)[STRUCT_LABELS == stage].astype(np.float64)


def _spindles(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Durations (s) and frequency slopes (Hz/s) of sigma bursts 0.5-3 s long in a trace."""
    from scipy import signal

    b, a = signal.butter(3, [10.5, 16.5], btype="band", fs=100)
    h = signal.hilbert(signal.filtfilt(b, a, x))
    env = np.convolve(np.abs(h), np.ones(20) / 20, mode="same")
    edges = np.diff(np.concatenate([[0], (env > 2.5 * np.median(env)).astype(int), [0]]))
    freq = np.diff(np.unwrap(np.angle(h))) * 100 / (2 * np.pi)
    durations, slopes = [], []
    for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if 0.5 <= (e - s) / 100 <= 3.0:
            f = signal.medfilt(freq[s:e - 1], 9)
            durations.append((e - s) / 100)
            slopes.append(np.polyfit(np.arange(len(f)) / 100, f, 1)[0])
    return durations, slopes


def _structure(family: str, seed: int) -> dict[str, float]:
    from scipy import signal, stats

    b, a = signal.butter(2, [0.3, 4.0], btype="band", fs=100)
    skew, durations, slopes, spectra = [], [], [], []
    for subject in range(6):
        n = syn.synth_night(STRUCT_LABELS, subject=subject, night=1, seed=seed, family=family)
        skew.append(stats.skew(signal.filtfilt(b, a, _epochs(n, "EEG Fpz-Cz", 3).ravel())))
        d, s = _spindles(_epochs(n, "EEG Fpz-Cz", 2).ravel())
        durations += d
        slopes += s
        spectra.append([np.log10(signal.welch(_epochs(n, "EEG Fpz-Cz", st), 100, nperseg=400, axis=-1)[1]
                                 .mean(axis=0)[2:121]) for st in range(5)])
    return {"n3_skew": float(np.mean(skew)), "spindle_s": float(np.median(durations)),
            "spindle_chirp": float(np.median(slopes)), "spectra": np.mean(spectra, axis=0)}


@pytest.fixture(scope="module")
def structure():
    return {(f, seed): _structure(f, seed) for f in "ABCDE" for seed in (0, 1)}


def _separation(structure, stat, x, y) -> float:
    """How far two families' statistic lies apart, relative to two seeds of the same family (the control)."""
    x0, x1, y0, y1 = (structure[k][stat] for k in ((x, 0), (x, 1), (y, 0), (y, 1)))
    return abs((x0 + x1) - (y0 + y1)) / 2 / max(abs(x0 - x1), abs(y0 - y1))


def test_family_event_statistics_differ_more_than_seeds_of_one_family(structure):
    # N3: B's slow waves are sharp down-states with broad up-states (skewed), A's
    # band-limited noise and C's Gabor atoms are symmetric; B's spindles are
    # chirps that slow down, A's and C's hold their frequency; C's spindles are
    # long, low atoms, A's short. Control: the same family under another seed.
    sep = {(x, y, stat): _separation(structure, stat, x, y)
           for x, y in (("A", "B"), ("A", "C"), ("B", "C")) for stat in ("n3_skew", "spindle_s", "spindle_chirp")}
    assert sep["A", "B", "n3_skew"] > 2 and sep["A", "B", "spindle_chirp"] > 2, sep
    assert sep["A", "C", "spindle_s"] > 2, sep
    assert sep["B", "C", "n3_skew"] > 2 and sep["B", "C", "spindle_chirp"] > 2 and sep["B", "C", "spindle_s"] > 2, sep


def test_family_stage_spectra_differ_more_than_seeds_of_one_family(structure):
    # A against B. (C's stage spectra are close to B's on average: C differs from
    # both in its events, checked above, not in its mean spectra.)
    ratios = _spectral_ratios(structure, "A", "B")
    # W and N1 vary most between subjects in both families (alpha, eyes, drowsiness): the
    # clear separation is in N2 and N3 (spindle trains, slow-wave cycles), and on average.
    assert min(ratios[2], ratios[3]) > 2, ratios
    assert np.mean(ratios) > 1.5, ratios


def _spectral_ratios(structure, x: str, y: str) -> list[float]:
    """Per stage: the closest two seeds of families x and y against the farther two seeds of one family."""
    def distance(p, q, stage):  # RMS difference of mean log-PSD, 0.5-30 Hz
        return float(np.sqrt(np.mean((structure[p]["spectra"][stage] - structure[q]["spectra"][stage]) ** 2)))

    ratios = []
    for stage in range(5):
        within = max(distance((x, 0), (x, 1), stage), distance((y, 0), (y, 1), stage))
        between = min(distance((x, s), (y, t), stage) for s in (0, 1) for t in (0, 1))
        ratios.append(between / within)
    return ratios


def test_family_d_events_and_spectra_differ_from_a_b_and_c(structure):
    # D's N3 slow waves are the near-critical cortex's impulse responses: a sharp surface-negative
    # onset and a slow relaxation (strongly skewed), where A's and C's are symmetric and B's
    # up/down cycles only mildly skewed. Its spindles are a reticular-gain burst's ringing mode,
    # whose frequency moves with the loop's damping (A's and C's hold their frequency). Its REM
    # spectrum is the neural field's own (a plain 1/f^2 field in its place brings C within 1.1 of
    # seed-to-seed variation). Control: the same family under another seed.
    sep = {(y, stat): _separation(structure, stat, "D", y)
           for y in "ABC" for stat in ("n3_skew", "spindle_chirp")}
    assert all(sep[y, "n3_skew"] > 2 for y in "ABC"), sep
    assert sep["A", "spindle_chirp"] > 2 and sep["C", "spindle_chirp"] > 2, sep
    ratios = {y: _spectral_ratios(structure, "D", y) for y in "ABC"}
    assert all(ratios[y][4] > 1.5 for y in "ABC"), ratios


def test_family_e_events_differ_from_every_other_family(structure):
    # E's slow waves and K-complexes are excursions of an excitable unit whose onset and end are both
    # sharp (its N3 is far less skewed than B's and D's); its spindles have a gamma envelope and a
    # frequency that wanders (no falling chirp like B's and D's), lasting about 1 s (A's and D's are
    # shorter, C's long atoms longer). Control: the same family under another seed.
    sep = {(y, stat): _separation(structure, stat, "E", y)
           for y in "ABCD" for stat in ("n3_skew", "spindle_s", "spindle_chirp")}
    assert sep["A", "spindle_s"] > 2, sep
    assert sep["B", "n3_skew"] > 2 and sep["B", "spindle_chirp"] > 2, sep
    assert sep["C", "spindle_s"] > 2 and sep["C", "spindle_chirp"] > 2, sep
    assert all(sep["D", stat] > 2 for stat in ("n3_skew", "spindle_s", "spindle_chirp")), sep


def test_family_e_stages_are_micro_state_majorities():
    # An epoch is scored by the stage that fills most of it: E's borderline epochs lean towards a
    # neighbour for under half of their time, so every epoch's own micro-states are its majority.
    from sleepscope.data.synth.families import family_e as fe

    labels = np.repeat(np.array([0, 1, 2, 3, 2, 4, 1, 0]), 6)
    micro = fe._micro_states(np.random.default_rng(5), labels, fe.night_params(0, 1, 1))
    own = {0: (fe.ALPHA, fe.INTERMITTENT, fe.OPEN), 1: (fe.INTERMITTENT, fe.FLAT, fe.THETA, fe.VERTEX),
           2: (fe.NREM,), 3: (fe.NREM,), 4: (fe.TONIC, fe.PHASIC)}
    per_epoch = micro.reshape(len(labels), 30)
    shares = [np.isin(m, own[int(c)] + (fe.AROUSAL,)).mean() for m, c in zip(per_epoch, labels)]
    assert min(shares) > 0.5, shares
    # ... and the chain does lean at stage changes: not every epoch is pure.
    assert min(shares) < 1.0


@pytest.mark.parametrize("subject,axis,value", [(7, "unit", "µV"), (10, "unit", "UV"), (2, "record_s", 1),
                                                (59, "fs", 50), (23, "fs", 512)])  # what seed 0 draws for them
def test_randomised_files_of_every_kind_read_back_in_microvolts(tmp_path, subject, axis, value):
    from sleepscope.io import open_recording
    from sleepscope.io.recording import resample_to_target

    labels = SHORT[:6]
    n = syn.synth_night(labels, subject=subject, night=1, seed=0, family="A", randomise=True)
    a = n.acquisition
    assert a[axis] == value
    psg, _ = syn.write_night(tmp_path, f"SC4{subject:02d}1E0", seed=0, labels=labels, family="A", randomise=True)
    assert a["unit"] in ("uV", "µV", "UV")
    for eeg, eog in zip(n.channels_of("eeg"), n.channels_of("eog") * 3):
        rec = open_recording(psg, eeg=eeg, eog=eog)
        assert rec.n_epochs == len(labels)
        for name, got in ((eeg, rec.eeg), (eog, rec.eog)):
            want = resample_to_target(n.signals[name], n.fs)
            assert np.std(got) == pytest.approx(np.std(want), rel=0.02), (name, a["unit"], a["fs"])
    if a["unit"] == "µV":
        raw = psg.read_bytes()
        assert b"\xb5V" in raw[: 256 * (1 + len(a["channels"]) + 4)]
