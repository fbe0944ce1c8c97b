"""Sleep-EDF cohorts from a sleep-cassette folder, the paper's split, the download path."""

import json

import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.data import cohorts
from sleepscope.errors import SleepScopeError

HYP_LETTERS = "CHPJAVMWGO"


def _touch_night(folder, subject, night, hypnogram=True):
    (folder / f"SC4{subject:02d}{night}E0-PSG.edf").write_bytes(b"")
    if hypnogram:
        letter = HYP_LETTERS[(subject + night) % len(HYP_LETTERS)]
        (folder / f"SC4{subject:02d}{night}E{letter}-Hypnogram.edf").write_bytes(b"")


@pytest.fixture
def cassette(tmp_path):
    """The real Sleep-EDF-20 night list (39 nights, SC4132 missing) plus pre-training subjects."""
    root = tmp_path / "physionet-sleep-data"
    root.mkdir()
    for s in range(20):
        for k in (1, 2):
            if (s, k) != (13, 2):
                _touch_night(root, s, k)
    for s, k in [(20, 1), (20, 2), (36, 1), (82, 2)]:
        _touch_night(root, s, k, hypnogram=(s != 36))
    (root / "README.txt").write_text("not a night")
    return tmp_path


def test_scan_and_cohorts(cassette):
    nights = cohorts.scan_sleep_cassette(cassette)
    assert len(nights) == 43
    edf20 = cohorts.sleep_edf_20(nights)
    assert len(edf20) == 39 and {n.subject for n in edf20} == set(range(20))
    assert cohorts.missing_nights(nights) == ["SC4132E0"]
    first = edf20[0]
    assert (first.name, first.subject, first.night) == ("SC4001E0", 0, 1)
    assert first.hypnogram.name.startswith("SC4001E") and first.hypnogram.name.endswith("-Hypnogram.edf")
    pre = cohorts.pretraining_nights(nights)
    assert [n.name for n in pre] == ["SC4201E0", "SC4202E0", "SC4361E0", "SC4822E0"]
    assert pre[2].hypnogram is None
    assert [n.name for n in cohorts.nights_of(nights, [13])] == ["SC4131E0"]


def test_scan_refuses_a_missing_folder(tmp_path):
    with pytest.raises(SleepScopeError, match="not a folder"):
        cohorts.scan_sleep_cassette(tmp_path / "nope")


def test_paper_split_is_a_partition_and_derived_from_its_seed():
    split = cohorts.PAPER_SPLIT
    assert len(split.validation) == 4 and len(split.test) == 4 and len(split.train) == 12
    assert sorted(split.validation + split.test + split.train) == list(range(20))
    perm = np.random.default_rng(split.seed).permutation(20).tolist()
    assert list(split.validation) == perm[:4] and list(split.test) == perm[4:8]
    assert list(split.train) == perm[8:]
    budgets = [set(split.train_subjects(n)) for n in (3, 6, 9, 12)]
    assert all(a < b for a, b in zip(budgets, budgets[1:]))  # nested
    with pytest.raises(SleepScopeError):
        split.train_subjects(13)


def test_download_calls_mne_fetcher(tmp_path, monkeypatch):
    import mne.datasets.sleep_physionet.age as age

    calls = []

    def fake_fetch(subjects, recording, path, on_missing):
        calls.append((subjects, recording, path, on_missing))
        for s in subjects:
            for k in recording:
                if (s, k) != (13, 2):
                    _touch_night(tmp_path / "dl", s, k)
        return []

    monkeypatch.setattr(age, "fetch_data", fake_fetch)
    progress = []
    nights = cohorts.download_sleep_cassette(tmp_path / "dl", [12, 13], progress=lambda d, t, m: progress.append(d))
    assert calls == [([12], [1, 2], str(tmp_path / "dl"), "warn"), ([13], [1, 2], str(tmp_path / "dl"), "warn")]
    assert [n.name for n in nights] == ["SC4121E0", "SC4122E0", "SC4131E0"]
    assert progress[-1] == 2


def test_download_network_failure_is_explained(tmp_path, monkeypatch):
    import mne.datasets.sleep_physionet.age as age

    def offline(**kwargs):
        raise OSError("Name or service not known")

    monkeypatch.setattr(age, "fetch_data", offline)
    with pytest.raises(SleepScopeError, match="network"):
        cohorts.download_sleep_cassette(tmp_path, [0])


def test_cohort_command(cassette, capsys):
    assert main(["cohort", str(cassette)]) == 0
    out = capsys.readouterr().out
    assert "Sleep-EDF-20: 39 nights of 20 subjects" in out and "SC4132E0" in out
    assert main(["cohort", str(cassette), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert len(d["sleep_edf_20"]) == 39 and len(d["pretraining"]) == 4
    assert d["split"]["train"][:3] == list(cohorts.PAPER_SPLIT.train[:3])
    assert main(["cohort", str(cassette / "missing")]) == 2


def test_cohort_command_download(tmp_path, monkeypatch, capsys):
    import mne.datasets.sleep_physionet.age as age

    fetched = []

    def fake_fetch(subjects, recording, path, on_missing):
        fetched.extend(subjects)
        for s in subjects:
            _touch_night(tmp_path, s, 1)
        return []

    monkeypatch.setattr(age, "fetch_data", fake_fetch)
    assert main(["cohort", str(tmp_path), "--download", "--subjects", "0-2,5", "--json"]) == 0
    assert fetched == [0, 1, 2, 5]
    d = json.loads(capsys.readouterr().out)
    assert [n["name"] for n in d["sleep_edf_20"]] == ["SC4001E0", "SC4011E0", "SC4021E0", "SC4051E0"]
    assert main(["cohort", str(tmp_path), "--download", "--subjects", "a-b"]) == 2


def test_every_shipped_sleep_cassette_night_name_is_recognised():
    # Later Sleep-EDF subjects are named SC4261F0, SC4281G0, ...: not only ...E0.
    from sleepscope.data.synthetic import cohort_names

    names = cohort_names("sleep-edf-78")
    parsed = [cohorts.parse_night_name(f"{n}-PSG.edf") for n in names]
    assert None not in parsed
    assert len({s for s, _ in parsed}) == 78
    assert cohorts.parse_night_name("SC4281G0-PSG.edf") == (28, 1)


def test_paper_test_nights_are_both_nights_of_each_test_subject():
    names = cohorts.paper_test_night_names()
    assert {int(n[3:5]) for n in names} == set(cohorts.PAPER_SPLIT.test)
    assert all(n.endswith(("1E0", "2E0")) for n in names) and len(names) == len(set(names)) == 8
