"""Damage to a scoring file is refused with the file kept; only a torn last write is dropped.

A torn write (the last append cut short, never returned to its caller) is
told apart from damage to a complete entry (a flipped byte or newline, a
journal cut in the middle): the first loses nothing that was returned, the
second would, so it is refused, backed up, and never truncated by a writer.
The HDF5 snapshot carries a checksum of its bytes: a flipped byte in its
data is refused instead of opening with a wrong label.
"""

import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sleepscope.errors import SleepScopeError
from sleepscope.scoring import snapshot as snapmod
from sleepscope.scoring.journal import JournalCorrupt, read_journal
from sleepscope.scoring.scoring_file import RecordingIdentity, ScoringFile, journal_path, lock_path

N = 30
IDENT = RecordingIdentity("sha256:damage-test", N, N * 30.0, start_time=datetime(2021, 3, 4, 23, 0),
                          file_name="night.edf")
EDITS = 12


def _written(folder: Path, edits: int = EDITS) -> Path:
    """A scoring file whose journal holds `edits` returned edits (no checkpoint since)."""
    path = folder / "night.sleepscope.h5"
    sf = ScoringFile.open_identity(IDENT, path, scorer="tech")
    for i in range(edits):
        sf.set_stage(i, i % 5)
    # as if killed now: the journal is the only record of the edits
    sf._writer.close()
    sf._lock.release()
    return path


@pytest.fixture(scope="module")
def original(tmp_path_factory):
    folder = tmp_path_factory.mktemp("original")
    path = _written(folder)
    return path.read_bytes(), journal_path(path).read_bytes()


def _lines(journal: bytes) -> list[tuple[int, int]]:
    """(start, end) of each line, its newline included."""
    out, pos = [], 0
    while pos < len(journal):
        end = journal.index(b"\n", pos) + 1
        out.append((pos, end))
        pos = end
    return out


def _place(folder: Path, original, journal: bytes) -> Path:
    path = folder / "night.sleepscope.h5"
    path.write_bytes(original[0])
    journal_path(path).write_bytes(journal)
    return path


def _backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob("*.corrupt-*"))


def test_torn_last_write_is_dropped_and_the_writer_continues(tmp_path, original):
    journal = original[1]
    last_start, last_end = _lines(journal)[-1]
    for cut in (last_end - 1, last_start + 5, last_start):
        folder = tmp_path / f"cut{cut}"
        folder.mkdir()
        path = _place(folder, original, journal[:cut])
        sf = ScoringFile.open_identity(IDENT, path)
        assert sf.seq == EDITS - 1 and sf.labels[EDITS - 1] == -1
        edit = sf.set_stage(EDITS - 1, "REM")
        assert edit.seq == EDITS  # the torn edit never returned: its number is free
        sf.close()
        assert ScoringFile.read(path).labels[EDITS - 1] == 4
        assert _backups(path) == []


def test_zero_filled_tail_is_a_torn_write(tmp_path, original):
    journal = original[1]
    last_start, last_end = _lines(journal)[-1]
    # the disk extended the file but never wrote the block: zeros where the last entry belongs
    zeroed = journal[:last_start] + b"\x00" * (last_end - last_start)
    path = _place(tmp_path, original, zeroed)
    assert ScoringFile.read(path).seq == EDITS - 1


def _flip(data: bytes, pos: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[pos] ^= mask
    return bytes(b)


@pytest.mark.parametrize("damage", ["byte in the last entry", "last newline", "newline before the last entry",
                                    "cut in the middle", "cut at a line in the middle", "header byte"])
def test_damage_to_returned_edits_is_refused_kept_and_never_truncated(tmp_path, original, damage):
    journal = original[1]
    lines = _lines(journal)
    last_start, last_end = lines[-1]
    middle_start, middle_end = lines[len(lines) // 2]
    damaged = {
        "byte in the last entry": lambda: _flip(journal, last_start + 30),
        "last newline": lambda: _flip(journal, last_end - 1, 0x20),
        "newline before the last entry": lambda: _flip(journal, last_start - 1, 0x20),
        "cut in the middle": lambda: journal[:middle_start + 20],
        "cut at a line in the middle": lambda: journal[:middle_end],
        "header byte": lambda: _flip(journal, 20),
    }[damage]()
    path = _place(tmp_path, original, damaged)
    with pytest.raises(SleepScopeError, match="damaged.*not overwritten"):
        ScoringFile.read(path)
    with pytest.raises(SleepScopeError, match="damaged.*not overwritten"):
        ScoringFile.open_identity(IDENT, path)
    assert journal_path(path).read_bytes() == damaged  # no writer cut it to its intact part
    assert not lock_path(path).exists()
    backups = [p for p in _backups(path) if p.name.startswith(journal_path(path).name)]
    assert backups and backups[0].read_bytes() == damaged


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_truncation_or_flip_is_a_torn_last_entry_or_refused(original, data):
    journal = original[1]
    lines = _lines(journal)
    last_start = lines[-1][0]
    if data.draw(st.booleans(), label="truncate"):
        cut = data.draw(st.integers(0, len(journal) - 1), label="cut")
        damaged, first_touched = journal[:cut], cut
    else:
        pos = data.draw(st.integers(0, len(journal) - 1), label="pos")
        mask = data.draw(st.integers(1, 255), label="mask")
        damaged, first_touched = _flip(journal, pos, mask), pos
    with tempfile.TemporaryDirectory() as d:
        jp = Path(d) / "j"
        jp.write_bytes(damaged)
        try:
            got = read_journal(jp)
        except JournalCorrupt:
            return  # refused
    seqs = [e["seq"] for e in got.entries]
    if seqs == list(range(1, EDITS + 1)):
        return  # nothing lost (a flip in bytes that were never read, e.g. none)
    # the only loss allowed: the last entry, and only when the damage lies in it
    assert seqs == list(range(1, EDITS)), seqs
    assert got.torn_tail and first_touched >= last_start


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(0, 10_000), mask=st.integers(1, 255), cut=st.booleans())
def test_scoring_file_open_follows_the_journal_rule(original, pos, mask, cut):
    journal = original[1]
    pos %= len(journal)
    damaged = journal[:pos] if cut else _flip(journal, pos, mask)
    last_start = _lines(journal)[-1][0]
    with tempfile.TemporaryDirectory() as d:
        path = _place(Path(d), original, damaged)
        try:
            sf = ScoringFile.read(path)
        except SleepScopeError as exc:
            assert "damaged" in str(exc)
            return
        assert sf.seq == EDITS or (sf.seq == EDITS - 1 and pos >= last_start)
        assert sf.labels[: sf.seq].tolist() == [i % 5 for i in range(sf.seq)]


# ---------------------------------------------------------------------------
# snapshot checksum

def _snapshot_with_content(folder: Path) -> Path:
    path = folder / "night.sleepscope.h5"
    sf = ScoringFile.open_identity(IDENT, path, scorer="tech")
    for i in range(EDITS):
        sf.set_stage(i, i % 5)
    sf.set_reviewed([1, 2])
    sf.add_prediction("v1", np.full((N, 5), 0.2, np.float32))
    sf.add_scorer_labels("ref", np.arange(N) % 5)
    sf.close()
    return path


def _state_of(sf: ScoringFile):
    return (sf.labels.tolist(), sf.sources.tolist(), sf.label_scorers.tolist(), sf.label_times.tolist(),
            sf.reviewed.tolist(), sf.notes, sf.history(),
            {k: v.probs.tolist() for k, v in sf.predictions.items()},
            {k: v.labels.tolist() for k, v in sf.scorer_sets.items()}, sf.identity)


def _data_regions(path: Path) -> list[tuple[str, int, int]]:
    """(dataset, offset, size) of every contiguous dataset's bytes in the file."""
    import h5py

    regions = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                off = obj.id.get_offset()
                if off is not None and obj.id.get_storage_size():
                    regions.append((name, off, obj.id.get_storage_size()))
        f.visititems(visit)
    return regions


def _open_outcome(path: Path, data: bytes, expected) -> str:
    path.write_bytes(data)
    journal_path(path).unlink(missing_ok=True)
    for b in path.parent.glob("*.corrupt-*"):
        b.unlink()
    try:
        sf = ScoringFile.read(path)
    except SleepScopeError as exc:
        assert "damaged" in str(exc), str(exc)
        return "refused"
    return "same" if _state_of(sf) == expected else "wrong"


NUMERIC = ("labels/stage", "labels/time", "reviewed", "scorers/s0000", "predictions/p0000")


def _flip_data_bytes(path: Path, clean: bytes, expected, names=None) -> dict[str, list[str]]:
    """Flip each byte of each dataset's storage (every 7th of the larger ones) and open."""
    outcomes: dict[str, list[str]] = {}
    for name, off, size in _data_regions(path.parent / "clean.h5"):
        if names is not None and name not in names:
            continue
        step = 1 if size <= 256 else 7
        for pos in range(off, off + size, step):
            outcomes.setdefault(name, []).append(_open_outcome(path, _flip(clean, pos), expected))
    return outcomes


def test_every_flipped_data_byte_is_refused(tmp_path, monkeypatch):
    path = _snapshot_with_content(tmp_path)
    clean = path.read_bytes()
    shutil.copy(path, tmp_path / "clean.h5")
    expected = _state_of(ScoringFile.read(path))
    outcomes = _flip_data_bytes(path, clean, expected)
    assert set(NUMERIC) | {"labels/source", "journal"} <= set(outcomes)
    # numbers: every byte is content, so every flip is refused
    assert {name: set(outcomes[name]) for name in NUMERIC} == {name: {"refused"} for name in NUMERIC}
    # strings: the stored references may hold bytes that are never read, never a wrong value
    assert all(set(o) <= {"refused", "same"} for o in outcomes.values())
    # control: the same flips without the checksum's verdict open with wrong labels and times
    monkeypatch.setattr(snapmod, "verify", lambda data: True)
    unchecked = _flip_data_bytes(path, clean, expected, names={"labels/stage", "labels/time"})
    assert "wrong" in unchecked["labels/stage"] and "wrong" in unchecked["labels/time"]
    assert _open_outcome(path, clean, expected) == "same"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(0, 1 << 20), mask=st.integers(1, 255))
def test_a_flip_anywhere_in_the_snapshot_never_opens_with_other_content(snapshot_file, pos, mask):
    path, clean, expected = snapshot_file
    assert _open_outcome(path, _flip(clean, pos % len(clean), mask), expected) in ("refused", "same")


@pytest.fixture(scope="module")
def snapshot_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("snap")
    path = _snapshot_with_content(folder)
    return path, path.read_bytes(), _state_of(ScoringFile.read(path))


def test_snapshot_without_its_checksum_is_refused(tmp_path):
    path = _snapshot_with_content(tmp_path)
    data = path.read_bytes()
    path.write_bytes(b"\x00" * snapmod.USERBLOCK + data[snapmod.USERBLOCK:])
    with pytest.raises(SleepScopeError, match="damaged.*checksum is missing"):
        ScoringFile.read(path)


def test_a_damaged_snapshot_never_reaches_hdf5(tmp_path, monkeypatch):
    """HDF5 can crash on damaged structures: the checksum is checked on the raw bytes first."""
    import h5py

    path = _snapshot_with_content(tmp_path)
    path.write_bytes(_flip(path.read_bytes(), snapmod.USERBLOCK + 40))  # inside HDF5's superblock
    opened = []
    real = h5py.File
    monkeypatch.setattr(h5py, "File", lambda *a, **k: opened.append(a) or real(*a, **k))
    with pytest.raises(SleepScopeError, match="damaged.*does not match its checksum"):
        ScoringFile.read(path)
    assert opened == []


def test_a_recording_named_as_the_scoring_file_is_not_called_damaged_nor_copied(tmp_path):
    """`sleepscope export night.edf`, or a scoring file chosen by mistake: not a damaged scoring file, so no copy of
    it is made aside (a night's recording is large) and the message says what a scoring file is."""
    psg = tmp_path / "night.edf"
    shutil.copy(Path(__file__).parent / "data" / "SC4001E0-PSG-first300s.edf", psg)
    hyp = tmp_path / "night.csv"
    hyp.write_text("epoch,stage\n0,W\n")
    for path in (psg, hyp):
        with pytest.raises(SleepScopeError, match="is not a scoring file") as exc:
            ScoringFile.read(path)
        assert "damaged" not in str(exc.value)
        with pytest.raises(SleepScopeError, match="is not a scoring file"):
            ScoringFile.open_identity(IDENT, path, scorer="tech")
    assert _backups(psg) == [] and psg.read_bytes()[:8] == b"0       "
    # the control: a scoring file's own name, or HDF5 content under another name, is damage, copied aside
    renamed = tmp_path / "renamed.h5"
    (tmp_path / "s").mkdir()
    shutil.copy(_snapshot_with_content(tmp_path / "s"), renamed)
    renamed.write_bytes(_flip(renamed.read_bytes(), snapmod.USERBLOCK + 40))
    damaged = tmp_path / "garbage.sleepscope.h5"
    damaged.write_bytes(b"not hdf5 at all" * 100)
    for path in (renamed, damaged):
        with pytest.raises(SleepScopeError, match="is damaged"):
            ScoringFile.read(path)
        assert len(list(path.parent.glob(path.name + ".corrupt-*"))) == 1


def test_journal_of_the_old_format_is_read_and_restarted_on_write(tmp_path):
    """Version-1 journals (no commit record) from earlier SleepScope: read by the old rule, and a
    writer starts a new-format journal at a snapshot before appending."""
    from sleepscope.scoring.journal import encode_line

    path = tmp_path / "night.sleepscope.h5"
    ScoringFile.open_identity(IDENT, path).close()
    edits = [{"op": "edit", "seq": i + 1, "t": 1.0, "source": "technician", "scorer": "old", "epochs": [i],
              "old": [-1], "new": [2], "old_src": [""], "old_scr": [""], "old_t": [0.0]} for i in range(3)]
    old = encode_line({"op": "header", "version": 1, "fingerprint": IDENT.fingerprint, "base_seq": 0})
    old += b"".join(encode_line(e) for e in edits)
    journal_path(path).write_bytes(old + encode_line(dict(edits[0], seq=4))[:20])  # torn last line
    assert ScoringFile.read(path).labels[:4].tolist() == [2, 2, 2, -1]
    with ScoringFile.open_identity(IDENT, path) as sf:
        assert read_journal(journal_path(path)).header["version"] == 2
        sf.set_stage(3, "N3")
    assert ScoringFile.read(path).labels[:4].tolist() == [2, 2, 2, 3]
    # in the old format, a damaged line in the middle was damage already
    journal_path(path).write_bytes(old.replace(b'"new":[2]', b'"new":[3]', 1))
    with pytest.raises(SleepScopeError, match="damaged"):
        ScoringFile.read(path)
