"""The HDF5 training cache and the epoch/sequence datasets, on a tiny EDF cohort written here."""

import os
from datetime import datetime

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sleepscope.data.cohorts import scan_sleep_cassette
from sleepscope.data.datasets import EpochDataset, SequenceDataset, build_cache, cache_index
from sleepscope.errors import SleepScopeError
from sleepscope.io.export import write_edf
from sleepscope.io.hypnogram import write_edf_hypnogram
from sleepscope.tasks import Cancelled, CancelToken

# 12 epochs per night: sleep in epochs 3..9; margin 1 keeps epochs 2..9 (the consensus
# convention: slice(first - margin, last + margin))
LABELS = np.array([0, 0, 0, 1, 2, -1, 3, 2, 4, 4, 0, 0], dtype=np.int8)
MARGIN = 1


def _write_night(folder, subject, night, seed, hypnogram=True):
    rng = np.random.default_rng(seed)
    n = len(LABELS) * 3000
    # the epoch index is written into the EEG's mean so tests can check which epoch came back
    eeg = rng.normal(0, 10, n) + np.repeat(np.arange(len(LABELS)) * 5.0, 3000)
    signals = {
        "EEG Fpz-Cz": (eeg, 100), "EEG Pz-Oz": (rng.normal(0, 10, n), 100),
        "EOG horizontal": (rng.normal(0, 20, n), 100), "Resp oro-nasal": (rng.normal(0, 1, n // 100), 1),
        "Temp rectal": (np.full(n // 100, 37.0), 1),
    }
    start = datetime(1990, 1, 1, 22, 0)
    write_edf(folder / f"SC4{subject:02d}{night}E0-PSG.edf", signals, start,
              units={"Resp oro-nasal": "", "Temp rectal": "DegC"},
              physical_ranges={"EEG Fpz-Cz": (-200, 200), "EEG Pz-Oz": (-200, 200), "EOG horizontal": (-300, 300),
                               "Resp oro-nasal": (-10, 10), "Temp rectal": (30, 40)})
    if hypnogram:
        write_edf_hypnogram(folder / f"SC4{subject:02d}{night}EC-Hypnogram.edf", LABELS, start)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cassette")
    _write_night(folder, 0, 1, 1)
    _write_night(folder, 0, 2, 2)
    _write_night(folder, 1, 1, 3)
    _write_night(folder, 25, 1, 4, hypnogram=False)
    return scan_sleep_cassette(folder)


@pytest.fixture(scope="module")
def cache(cohort, tmp_path_factory):
    path = tmp_path_factory.mktemp("cache") / "cohort.h5"
    return build_cache(cohort, path, margin_epochs=MARGIN)


def test_cache_contents(cohort, cache):
    index = cache_index(cache)
    assert [c.name for c in index] == ["SC4001E0", "SC4002E0", "SC4011E0", "SC4251E0"]
    assert [c.n_epochs for c in index] == [8, 8, 8, 12]  # trimmed, except the night without hypnogram
    assert index[0].first_epoch == 2 and index[0].n_labelled == 7
    with h5py.File(cache, "r") as f:
        g = f["nights/SC4001E0"]
        assert g["x"].shape == (8, 2, 3000) and g["x"].dtype == np.float32
        assert g["y"].dtype == np.int8
        np.testing.assert_array_equal(g["y"][()], LABELS[2:10])
        assert g.attrs["subject"] == 0 and g.attrs["night"] == 1
        x = g["x"][()]
        np.testing.assert_allclose(x.mean(-1), 0, atol=1e-4)
        np.testing.assert_allclose(x.std(-1), 1, atol=1e-3)
        assert (f["nights/SC4251E0/y"][()] == -1).all()


def test_cache_is_reused_and_rebuilt_when_files_change(cohort, tmp_path):
    path = tmp_path / "c.h5"
    build_cache(cohort[:1], path, margin_epochs=MARGIN)
    mtime = path.stat().st_mtime_ns
    messages = []
    build_cache(cohort[:1], path, progress=lambda d, t, m: messages.append(m), margin_epochs=MARGIN)
    assert path.stat().st_mtime_ns == mtime and messages == ["cache up to date"]
    os.utime(cohort[0].psg, ns=(cohort[0].psg.stat().st_atime_ns, cohort[0].psg.stat().st_mtime_ns + 10**9))
    build_cache(cohort[:1], path, margin_epochs=MARGIN)
    assert path.stat().st_mtime_ns != mtime
    assert [p.name for p in tmp_path.iterdir()] == ["c.h5"]  # no temporary file left


def test_cancel_leaves_no_file(cohort, tmp_path):
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        build_cache(cohort, tmp_path / "c.h5", cancel=token)
    assert list(tmp_path.iterdir()) == []


def test_epoch_dataset(cache):
    ds = EpochDataset(cache, ["SC4001E0", "SC4011E0"])
    assert len(ds) == 14  # 7 scored epochs per night; the '?' epoch is dropped
    x, y = ds[0]
    assert x.shape == (2, 3000) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert ds.labels.tolist() == [0, 1, 2, 3, 2, 4, 4] * 2
    assert len(EpochDataset(cache, ["SC4001E0"], labelled_only=False)) == 8
    assert len(EpochDataset(cache)) == 21


def test_sequence_dataset_windows_stay_in_nights(cache):
    ds = SequenceDataset(cache, ["SC4001E0", "SC4002E0"], seq_len=4)
    assert len(ds) == 4  # starts 0 and 4 per night
    x, y = ds[2]
    assert x.shape == (4, 2, 3000) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert y.tolist() == LABELS[2:6].tolist()  # first window of the second night
    assert ds[0][1].tolist() == [0, 1, 2, -1]  # UNSCORED stays -1 for the loss to ignore
    overlapping = SequenceDataset(cache, ["SC4001E0"], seq_len=4, stride=1)
    assert len(overlapping) == 5
    assert len(SequenceDataset(cache, ["SC4251E0"], seq_len=4)) == 0  # nothing scored
    assert len(SequenceDataset(cache, ["SC4251E0"], seq_len=4, labelled_only=False)) == 3
    assert len(SequenceDataset(cache, ["SC4001E0"], seq_len=10)) == 0  # shorter than a window
    tail = SequenceDataset(cache, ["SC4001E0"], seq_len=3)
    assert [tail[i][1].tolist() for i in range(len(tail))] == [[0, 1, 2], [-1, 3, 2], [2, 4, 4]]  # end-aligned last


def test_sequence_dataset_reads_the_right_epochs(cohort, cache):
    from sleepscope.io import open_recording

    rec = open_recording(cohort[1].psg)
    ds = SequenceDataset(cache, ["SC4002E0"], seq_len=3, stride=3)
    x, _ = ds[1]  # cache epochs 3..5 = recording epochs 5..7
    np.testing.assert_allclose(x.numpy(), rec.model_input()[5:8], atol=1e-6)


def test_dataloader_with_workers(cache):
    ds = SequenceDataset(cache, seq_len=3)
    ds[0]  # open the file in the parent first: workers must not reuse its handle
    loader = DataLoader(ds, batch_size=4, num_workers=2, shuffle=True)
    seen = sum(len(xb) for xb, _ in loader)
    assert seen == len(ds)


def test_unknown_night_and_bad_cache(cache, tmp_path):
    with pytest.raises(SleepScopeError, match="not in the cache"):
        EpochDataset(cache, ["SC4991E0"])
    bad = tmp_path / "bad.h5"
    bad.write_text("nope")
    with pytest.raises(SleepScopeError, match="cannot open the training cache"):
        EpochDataset(bad)


def test_synthetic_nights_read_as_a_sleep_edf_cohort(tmp_path):
    synthetic = pytest.importorskip("sleepscope.data.synthetic")
    labels = [0] * 4 + [1, 2, 2, 3, 3, 2, 4, 4] + [0] * 4
    synthetic.write_night(tmp_path, "SC4011E0", seed=1, labels=labels)
    synthetic.write_night(tmp_path, "SC4252E0", seed=2, labels=labels)
    nights = scan_sleep_cassette(tmp_path)
    assert [(n.name, n.subject, n.night) for n in nights] == [("SC4011E0", 1, 1), ("SC4252E0", 25, 2)]
    assert all(n.hypnogram is not None for n in nights)
    from sleepscope.io import open_recording
    from sleepscope.io.hypnogram import read_hypnogram

    rec = open_recording(nights[0].psg)
    assert (rec.eeg_name, rec.eog_name) == ("EEG Fpz-Cz", "EOG horizontal") and rec.n_epochs == len(labels)
    np.testing.assert_array_equal(read_hypnogram(nights[0].hypnogram, rec.n_epochs), labels)
    cache = build_cache(nights, tmp_path / "c.h5", margin_epochs=2)
    assert [c.n_epochs for c in cache_index(cache)] == [11, 11]  # slice(4 - 2, 11 + 2)
    x, y = SequenceDataset(cache, seq_len=5)[0]
    assert torch.isfinite(x).all() and y.tolist() == labels[2:7]


def test_cache_reads_a_night_as_pre_scoring_does(tmp_path):
    """Fpz-Cz flat in epochs 3-4 (Pz-Oz clean there) and the EOG clipped in epochs 6-7: the cache holds Pz-Oz in
    epochs 3-4 and no EOG in 6-7, as pre-scoring reads them (`read_for_model`), so that training learns each label
    from the input the model will be given. Control: `as_recorded` (the paper's experiment) keeps both as they
    were recorded."""
    from sleepscope.io import open_recording
    from sleepscope.model.backups import read_for_model
    from sleepscope.model.inputs import normalise

    rng = np.random.default_rng(5)
    n = len(LABELS) * 3000
    fpz, pz, eog = rng.normal(0, 10, n), rng.normal(0, 10, n), rng.normal(0, 20, n)
    fpz[3 * 3000:5 * 3000] = 0.0  # an electrode off
    eog[6 * 3000:8 * 3000] = np.clip(eog[6 * 3000:8 * 3000] * 40, -290, 290)  # saturated
    start = datetime(1990, 1, 1, 22, 0)
    write_edf(tmp_path / "SC4001E0-PSG.edf", {"EEG Fpz-Cz": (fpz, 100), "EEG Pz-Oz": (pz, 100),
                                              "EOG horizontal": (eog, 100)}, start,
              physical_ranges={"EEG Fpz-Cz": (-200, 200), "EEG Pz-Oz": (-200, 200), "EOG horizontal": (-300, 300)})
    write_edf_hypnogram(tmp_path / "SC4001E0-Hypnogram.edf", np.array([2] * len(LABELS), np.int8), start)
    nights = scan_sleep_cassette(tmp_path)
    with h5py.File(build_cache(nights, tmp_path / "model.h5", margin_epochs=MARGIN), "r") as f:
        x = f["nights/SC4001E0/x"][()]
    rec = open_recording(nights[0].psg)
    np.testing.assert_allclose(x, read_for_model(rec, "epoch").x, atol=1e-6)
    pz_read = open_recording(nights[0].psg, eeg="EEG Pz-Oz").channels["EEG Pz-Oz"]
    np.testing.assert_allclose(x[3:5, 0], normalise(pz_read.reshape(-1, 3000)[3:5], "epoch"), atol=1e-5)
    assert not x[6:8, 1].any() and x[[5, 8], 1].any()
    with h5py.File(build_cache(nights, tmp_path / "paper.h5", margin_epochs=MARGIN, as_recorded=True), "r") as f:
        recorded = f["nights/SC4001E0/x"][()]
    assert not recorded[3:5, 0].any() and recorded[6:8, 1].any()
    np.testing.assert_allclose(recorded[[0, 1, 2, 5, 8]], x[[0, 1, 2, 5, 8]], atol=1e-6)
