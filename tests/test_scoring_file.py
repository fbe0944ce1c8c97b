"""The scoring file: labels with provenance, journal, undo/redo, lock, bad input."""

import errno
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime

import numpy as np
import pytest

from sleepscope.errors import SleepScopeError
from sleepscope.io import Recording
from sleepscope.scoring import locations as locmod
from sleepscope.scoring import scoring_file as sfmod
from sleepscope.scoring.journal import journal_error
from sleepscope.scoring.scoring_file import (
    RecordingIdentity,
    ScoringFile,
    journal_path,
    lock_path,
)
from sleepscope.stages import Stage
from scoring_faults import as_nobody, fill, folder_for_nobody, small_tmpfs

N = 20


def make_recording(seed=0, n=N):
    rng = np.random.default_rng(seed)
    return Recording.from_arrays(
        rng.normal(0, 20, n * 3000).astype(np.float32), rng.normal(0, 20, n * 3000).astype(np.float32),
        start_time=datetime(2020, 1, 1, 22, 30),
    )


@pytest.fixture
def rec():
    return make_recording()


@pytest.fixture
def path(tmp_path):
    return tmp_path / "night.sleepscope.h5"


def test_new_file_identity_and_defaults(rec, path):
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        assert sf.n_epochs == N
        assert (sf.labels == -1).all() and not sf.reviewed.any() and sf.notes == ""
        assert sf.identity.fingerprint == rec.fingerprint()
        assert sf.identity.start_time == datetime(2020, 1, 1, 22, 30)
        assert sf.latest_prediction() is None
    assert path.exists() and not lock_path(path).exists()
    ro = ScoringFile.read(path)
    assert ro.identity.n_epochs == N and ro.identity.duration_s == pytest.approx(N * 30)


def test_edits_with_provenance_survive_reopen(rec, path):
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        e = sf.set_stage(3, "N2")
        assert (e.seq, e.epochs, e.old, e.new, e.source, e.scorer) == (1, (3,), (-1,), (2,), "technician", "ann")
        sf.set_stage(slice(5, 8), Stage.REM)
        probs = np.eye(5, dtype=np.float32)[np.arange(N) % 5] * 0.9 + 0.02
        sf.add_prediction("v1", probs)
        sf.accept_prediction([10, 11])
        sf.set_reviewed([3, 5])
        sf.notes = "arousals around midnight"
    with ScoringFile.open(rec, path, scorer="bob") as sf:
        assert sf.labels[3] == 2 and list(sf.labels[5:8]) == [4, 4, 4]
        assert list(sf.labels[10:12]) == [0, 1]
        assert sf.sources[3] == "technician" and sf.sources[10] == "model" and sf.sources[0] == ""
        assert sf.label_scorers[3] == "ann"
        assert sf.label_times[3] > 0
        assert list(np.flatnonzero(sf.reviewed)) == [3, 5]
        assert sf.notes == "arousals around midnight"
        pred = sf.latest_prediction()
        assert pred.model_version == "v1" and pred.probs.shape == (N, 5) and pred.probs.dtype == np.float32
        ops = [h["op"] for h in sf.history()]
        assert ops == ["edit", "edit", "prediction", "edit", "reviewed", "notes"]



def test_the_channels_a_prediction_read_survive_reopen(rec, path):
    probs = np.full((N, 5), 0.2, np.float32)
    with ScoringFile.open(rec, path) as sf:
        sf.add_prediction("unknown", probs)  # the control: as files written before the channels were kept
        sf.add_prediction("both", probs, channels=("EEG C4-M1", "EOG E1-M2"))
        sf.add_prediction("eeg-only", probs, channels=("EEG C4-M1", None))
    with ScoringFile.open(rec, path) as sf:
        assert sf.predictions["both"].channels == ("EEG C4-M1", "EOG E1-M2")
        assert sf.predictions["eeg-only"].channels == ("EEG C4-M1", None)
        assert sf.predictions["unknown"].channels is None


def test_how_a_prediction_read_each_epoch_survives_reopen_and_its_no_stage_epochs_stay_unstaged(rec, path):
    from sleepscope.model.epoch_reading import ARTEFACT, EEG_ALONE
    from sleepscope.stages import no_stage_probs

    probs = np.full((N, 5), 0.1, np.float32)
    probs[:, 2] = 0.6
    probs[3:5] = no_stage_probs(2)  # artefact epochs
    reading = np.zeros(N, np.uint8)
    reading[3:5], reading[7] = ARTEFACT, EEG_ALONE
    with ScoringFile.open(rec, path) as sf:
        sf.add_prediction("unknown", probs)  # the control: as files written before the reading was kept
        sf.add_prediction("read", probs, reading=reading)
        with pytest.raises(SleepScopeError, match="reading covers 3 epochs"):
            sf.add_prediction("short", probs, reading=reading[:3])
    with ScoringFile.open(rec, path) as sf:
        assert sf.predictions["read"].reading.tolist() == reading.tolist()
        assert sf.predictions["unknown"].reading is None and "short" not in sf.predictions
        # equal probabilities are no stage, not W (their first column)
        assert sf.predictions["read"].stages.tolist() == [2, 2, 2, -1, -1] + [2] * (N - 5)
        sf.set_stage(4, "N3")
        edit = sf.accept_prediction(range(2, 6))  # the technician's N3 stays: the model gave epoch 4 no stage
        assert edit.epochs == (2, 5) and sf.labels[2:6].tolist() == [2, -1, 3, 2]
        with pytest.raises(SleepScopeError, match="none of these epochs a stage"):
            sf.accept_prediction([3, 4])


def test_a_predictions_night_statistics_span_survives_reopen(rec, path):
    probs = np.full((N, 5), 0.2, np.float32)
    with ScoringFile.open(rec, path) as sf:
        sf.add_prediction("plain", probs)  # the control: a model without night statistics (or an older file)
        sf.add_prediction("adapted", probs, (2, 9))
    with ScoringFile.open(rec, path) as sf:
        assert sf.predictions["adapted"].statistics_span == (2, 9)
        assert sf.predictions["plain"].statistics_span is None
        assert sf.latest_prediction().model_version == "adapted"


def test_undo_redo_and_history_after_restart(rec, path):
    sf = ScoringFile.open(rec, path)
    a = sf.set_stage(1, "W")
    b = sf.set_stage([1, 2], "N1")
    c = sf.set_stage(4, "N3")
    assert sf.undo() == c and sf.labels[4] == -1
    assert sf.undo() == b and list(sf.labels[1:3]) == [0, -1]
    assert sf.sources[2] == "" and sf.sources[1] == "technician"
    assert sf.redo() == b and list(sf.labels[1:3]) == [1, 1]
    assert [e.seq for e in sf.undo_stack()] == [a.seq, b.seq]
    assert [e.seq for e in sf.redo_stack()] == [c.seq]
    sf.close()
    sf = ScoringFile.open(rec, path)
    assert [e.seq for e in sf.undo_stack()] == [a.seq, b.seq]
    assert [e.seq for e in sf.redo_stack()] == [c.seq]
    assert sf.redo() == c and sf.labels[4] == 3
    sf.undo()
    d = sf.set_stage(9, "REM")  # a new edit clears the redo stack
    assert sf.redo_stack() == [] and sf.redo() is None
    assert [e.seq for e in sf.undo_stack()] == [a.seq, b.seq, d.seq]
    assert sf.undo() == d and sf.undo() == b and sf.undo() == a and sf.undo() is None
    assert (sf.labels == -1).all()
    sf.close()


def test_replay_from_journal_without_close(rec, path):
    # Simulates a crash: no close, no snapshot; the journal alone holds the edits.
    sf = ScoringFile.open(rec, path)
    for i in range(N):
        sf.set_stage(i, i % 5)
    sf.undo()
    labels = sf.labels.copy()
    sf._writer.close()  # what the OS does when the process dies
    lock_path(path).unlink()
    sf2 = ScoringFile.open(rec, path)
    np.testing.assert_array_equal(sf2.labels, labels)
    assert len(sf2.redo_stack()) == 1
    sf2.close()


def test_periodic_checkpoint(rec, path, monkeypatch):
    monkeypatch.setattr(sfmod, "CHECKPOINT_EVERY", 5)
    with ScoringFile.open(rec, path) as sf:
        for i in range(12):
            sf.set_stage(i, "N2")
        # 10 entries went into snapshots: the journal holds only the last two
        lines = journal_path(path).read_bytes().splitlines()
        assert len(lines) == 1 + 2
        assert ScoringFile.read(path).labels[:12].tolist() == [2] * 12


def test_torn_last_journal_line_is_dropped(rec, path):
    sf = ScoringFile.open(rec, path)
    sf.set_stage(0, "N1")
    sf.set_stage(1, "N2")
    sf._writer.close()
    lock_path(path).unlink()
    jp = journal_path(path)
    data = jp.read_bytes()
    jp.write_bytes(data[:-7])  # the second edit's line was being written when killed
    sf = ScoringFile.open(rec, path)
    assert sf.labels[0] == 1 and sf.labels[1] == -1
    sf.set_stage(2, "N3")  # appends after the intact part, not after the torn bytes
    sf.close()
    assert ScoringFile.read(path).labels[:3].tolist() == [1, -1, 3]


def test_damaged_journal_middle_is_refused_and_backed_up(rec, path):
    sf = ScoringFile.open(rec, path)
    for i in range(3):
        sf.set_stage(i, "N1")
    sf._writer.close()
    lock_path(path).unlink()
    jp = journal_path(path)
    lines = jp.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"new":[1]', b'"new":[3]')  # bit rot in the middle
    damaged = b"\n".join(lines)
    jp.write_bytes(damaged)
    with pytest.raises(SleepScopeError, match="damaged"):
        ScoringFile.open(rec, path)
    assert jp.read_bytes() == damaged  # kept as is
    assert list(path.parent.glob(jp.name + ".corrupt-*"))
    assert not lock_path(path).exists()


def test_corrupt_snapshot_is_refused_kept_and_backed_up(rec, path):
    with ScoringFile.open(rec, path) as sf:
        sf.set_stage(0, "W")
    data = bytearray(path.read_bytes())
    data[:64] = b"\0" * 64  # destroys the HDF5 superblock
    path.write_bytes(bytes(data))
    with pytest.raises(SleepScopeError, match="damaged.*not overwritten.*copy was saved"):
        ScoringFile.open(rec, path)
    assert path.read_bytes() == bytes(data)
    backups = list(path.parent.glob(path.name + ".corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == bytes(data)
    with pytest.raises(SleepScopeError, match="damaged"):
        ScoringFile.read(path)


def test_fingerprint_mismatch_refused(rec, path):
    with ScoringFile.open(rec, path) as sf:
        sf.set_stage(0, "W")
    other = make_recording(seed=1)
    with pytest.raises(SleepScopeError, match="belongs to another recording"):
        ScoringFile.open(other, path)
    with pytest.raises(SleepScopeError, match="belongs to another recording"):
        ScoringFile.open(other, path, readonly=True)
    assert ScoringFile.read(path).labels[0] == 0


def test_second_writer_refused_naming_holder(rec, path):
    sf = ScoringFile.open(rec, path)
    code = (
        "import sys, datetime;"
        "from sleepscope.scoring.scoring_file import ScoringFile, RecordingIdentity;"
        f"ident = RecordingIdentity({rec.fingerprint()!r}, {N}, {N * 30.0});"
        "from sleepscope.errors import SleepScopeError\n"
        "try:\n"
        f"    ScoringFile.open_identity(ident, {str(path)!r})\n"
        "except SleepScopeError as e:\n"
        "    print(e); sys.exit(3)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    assert f"PID {os.getpid()}" in out.stdout and "host" in out.stdout and "user" in out.stdout
    # same process, second handle: refused too
    with pytest.raises(SleepScopeError, match="open for writing"):
        ScoringFile.open(rec, path)
    # read-only needs no lock
    ro = ScoringFile.open(rec, path, readonly=True)
    with pytest.raises(SleepScopeError, match="read-only"):
        ro.set_stage(0, "W")
    sf.close()
    ScoringFile.open(rec, path).close()


def test_default_path_beside_recording_or_user_folder(tmp_path, monkeypatch):
    rec = make_recording()
    rec.path = tmp_path / "SC4001E0-PSG.edf"
    with ScoringFile.open(rec) as sf:
        assert sf.path == tmp_path / "SC4001E0-PSG.sleepscope.h5"
        sf.set_stage(0, "N3")
    # the recording folder becomes read-only: the scoring moves to the user's folder
    monkeypatch.setattr(locmod, "folder_writable", lambda folder: folder != tmp_path)
    with ScoringFile.open(rec) as sf:
        fp = rec.fingerprint()
        assert fp.startswith("sha256:")
        assert sf.path == sfmod.user_data_dir() / "scoring" / f"sha256-{fp[7:]}.sleepscope.h5"
        assert sf.labels[0] == 3
        sf.set_stage(1, "N3")
    # both exist now: the one edited last is opened
    ro = ScoringFile.open(rec, readonly=True)
    assert ro.path.parent == sfmod.user_data_dir() / "scoring" and ro.labels[1] == 3
    monkeypatch.setattr(locmod, "folder_writable", lambda folder: True)
    with ScoringFile.open(rec) as sf:
        assert sf.path.parent == sfmod.user_data_dir() / "scoring"
    # a recording without a file goes to the user's folder
    rec2 = make_recording(seed=5)
    with ScoringFile.open(rec2) as sf:
        assert sf.path.parent == sfmod.user_data_dir() / "scoring"


def _edit_until_full(sf, first_epoch=1):
    """Edit until the full disk refuses one; returns the epoch of the refused edit and the error."""
    for epoch in range(first_epoch, sf.n_epochs):
        try:
            sf.set_stage(epoch, "N2")
        except SleepScopeError as exc:
            return epoch, exc
    pytest.fail("the disk never filled up")


def test_edit_on_full_disk_is_not_made_and_save_as_continues(tmp_path):
    rec = make_recording(n=400)
    with small_tmpfs(tmp_path / "disk") as disk:
        path = disk / "night.sleepscope.h5"
        sf = ScoringFile.open(rec, path)
        sf.set_stage(0, "W")
        fill(disk)
        refused, exc = _edit_until_full(sf)
        assert re.search("disk.*full.*not made.*Save As", str(exc))
        # neither in memory nor on the undo stack: undo reverts the last edit that was made
        assert sf.labels[refused] == -1 and sf.labels[refused - 1] == 2 and not sf.unsaved
        assert sf.undo_stack()[-1].epochs == (refused - 1,)
        other = tmp_path / "elsewhere" / "copy.sleepscope.h5"
        sf.save_as(other)
        assert sf.path == other and not lock_path(path).exists()
        assert sf.undo().epochs == (refused - 1,)
        sf.close()
        got = ScoringFile.open(rec, other, readonly=True)
        assert got.labels[refused - 1] == -1 and got.labels[0] == 0
        # the original file holds every edit that returned
        kept = ScoringFile.open(rec, path, readonly=True).labels
        assert kept[:refused].tolist() == [0] + [2] * (refused - 1) and kept[refused] == -1


def test_full_disk_then_space_freed(tmp_path):
    rec = make_recording(n=400)
    with small_tmpfs(tmp_path / "disk") as disk:
        path = disk / "night.sleepscope.h5"
        sf = ScoringFile.open(rec, path)
        filler = fill(disk)
        refused, _ = _edit_until_full(sf, first_epoch=0)
        filler.unlink()
        sf.set_stage(refused, "N3")
        assert sf.undo().epochs == (refused,) and sf.labels[refused] == -1
        sf.close()
        labels = ScoringFile.open(rec, path, readonly=True).labels
        assert labels[:refused].tolist() == [2] * refused and labels[refused] == -1


def test_every_change_is_fsynced_before_its_call_returns(rec, path, monkeypatch):
    """The claim "on disk when the key press returns": a SIGKILL cannot show it, a spy on fsync can."""
    sf = ScoringFile.open(rec, path)
    sf.set_stage(0, "W")
    events = []
    real_fsync, real_pwrite = os.fsync, os.pwrite
    jp = str(journal_path(path))

    def name(fd):
        return os.readlink(f"/proc/self/fd/{fd}")

    def fsync(fd):
        events.append(("fsync", name(fd)))
        return real_fsync(fd)

    def pwrite(fd, data, offset):
        events.append(("write", name(fd)))
        return real_pwrite(fd, data, offset)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "pwrite", pwrite)
    for call in (lambda: sf.set_stage(1, "N2"), sf.undo, sf.redo, lambda: sf.set_reviewed(1),
                 lambda: sf.set_notes("arousal at 02:10")):
        events.clear()
        call()
        assert ("write", jp) in events and events[-1] == ("fsync", jp), events
    sf.close()


def test_undo_or_redo_that_cannot_be_written_changes_nothing(rec, path, monkeypatch):
    sf = ScoringFile.open(rec, path)
    sf.set_stage(3, "N1")
    sf.set_stage(5, "REM")
    sf.set_stage(7, "N3")
    sf.undo()
    real = os.pwrite
    monkeypatch.setattr(os, "pwrite", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    for step in (sf.undo, sf.redo, lambda: sf.set_stage(9, "W")):
        with pytest.raises(SleepScopeError, match="not made"):
            step()
        assert sf.labels[[3, 5, 7, 9]].tolist() == [1, 4, -1, -1]
        assert [e.epochs for e in sf.undo_stack()] == [(3,), (5,)]
        assert [e.epochs for e in sf.redo_stack()] == [(7,)]
    monkeypatch.setattr(os, "pwrite", real)
    assert sf.undo().epochs == (5,) and sf.labels[5] == -1
    sf.close()
    again = ScoringFile.open(rec, path, readonly=True)
    assert again.labels[[3, 5, 7, 9]].tolist() == [1, -1, -1, -1]


def test_creating_on_a_full_disk_is_a_message_and_leaves_nothing(tmp_path):
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        filler = fill(disk)
        size = filler.stat().st_size
        for room in (0, 4096, 16384, 65536):  # the lock, the snapshot or the journal is the one refused
            os.truncate(filler, size - room)
            with pytest.raises(SleepScopeError, match="disk.*is full.*Free some space"):
                ScoringFile.open_identity(RecordingIdentity("sha256:full", 2000, 60000.0), disk / "x.sleepscope.h5")
            assert sorted(p.name for p in disk.iterdir()) == ["filler.bin"]
        # the journal is the one refused: the snapshot just written goes too
        os.truncate(filler, size - 65536)
        real = sfmod.write_new_journal

        def journal_on_full_disk(path, header):
            fill(disk, "filler2.bin")
            real(path, header)

        sfmod.write_new_journal = journal_on_full_disk
        try:
            with pytest.raises(SleepScopeError, match="disk.*is full"):
                ScoringFile.open_identity(RecordingIdentity("sha256:full", 20, 600.0), disk / "x.sleepscope.h5")
        finally:
            sfmod.write_new_journal = real
        assert sorted(p.name for p in disk.iterdir()) == ["filler.bin", "filler2.bin"]


def test_checkpoint_on_a_full_disk_keeps_the_prediction_in_memory(rec, tmp_path):
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        sf = ScoringFile.open(rec, disk / "night.sleepscope.h5")
        sf.set_stage(0, "W")
        fill(disk)
        probs = np.full((N, 5), 0.2, np.float32)
        with pytest.raises(SleepScopeError, match="full.*kept in memory.*Save As"):
            sf.add_prediction("v1", probs)
        assert sf.unsaved and "v1" in sf.predictions
        with pytest.raises(SleepScopeError, match="Save As"):
            sf.close()
        sf.save_as(tmp_path / "elsewhere.sleepscope.h5")
        sf.close()
    got = ScoringFile.read(tmp_path / "elsewhere.sleepscope.h5")
    assert "v1" in got.predictions and got.labels[0] == 0


def test_real_permissions_as_a_user_without_rights(rec, tmp_path):
    import h5py  # noqa: F401  (imported before the child drops root's rights)

    locked_folder = folder_for_nobody(writable=False)
    data_dir = folder_for_nobody(writable=True)
    try:
        rec.path = locked_folder / "night-PSG.edf"
        with ScoringFile.open(rec) as sf:  # root scores it beside the recording
            sf.set_stage(0, "N3")
        private = locked_folder / "private.sleepscope.h5"
        ScoringFile.open(rec, private).close()
        private.chmod(0o600)

        def attempt():
            os.environ["SLEEPSCOPE_DATA_DIR"] = str(data_dir)
            out = {}
            try:
                ScoringFile.open(rec, locked_folder / "new.sleepscope.h5")
            except SleepScopeError as exc:
                out["explicit"] = str(exc)
            try:
                ScoringFile.read(private)
            except SleepScopeError as exc:
                out["private"] = str(exc)
            with ScoringFile.open(rec) as sf:  # carried over to the user's folder, edits go there
                sf.set_stage(1, "REM")
                out["default"] = [str(sf.path), sf.labels[:2].tolist()]
            return out

        out = as_nobody(attempt)
        assert "folder you can write to" in out["explicit"] and "Permission denied" in out["explicit"]
        assert "no permission to read" in out["private"] and "damaged" not in out["private"]
        assert out["default"][0].startswith(str(data_dir)) and out["default"][1] == [3, 4]
        assert sorted(p.name for p in locked_folder.iterdir()) == [
            "night-PSG.sleepscope.h5", "night-PSG.sleepscope.h5.journal", "private.sleepscope.h5",
            "private.sleepscope.h5.journal"]
    finally:
        shutil.rmtree(locked_folder, ignore_errors=True)
        shutil.rmtree(data_dir, ignore_errors=True)


def test_unwritable_folder_error(rec, tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    real_open = os.open

    def guarded(p, flags, *a, **k):
        if str(p).startswith(str(folder)) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_open(p, flags, *a, **k)

    monkeypatch.setattr(os, "open", guarded)
    with pytest.raises(SleepScopeError, match="folder you can write to"):
        ScoringFile.open(rec, folder / "x.sleepscope.h5")
    assert "cannot be written" in str(journal_error(PermissionError(errno.EACCES, "x"), folder))


def test_bad_arguments(rec, path):
    with ScoringFile.open(rec, path) as sf:
        with pytest.raises(SleepScopeError, match="outside this recording"):
            sf.set_stage(N, "W")
        with pytest.raises(SleepScopeError, match="No epoch"):
            sf.set_stage([], "W")
        with pytest.raises(ValueError):
            sf.set_stage(0, "W", source="guess")
        with pytest.raises(ValueError):
            sf.set_stage(0, "deep")
        with pytest.raises(SleepScopeError, match="shape"):
            sf.add_prediction("v", np.zeros((N + 1, 5)))
        with pytest.raises(SleepScopeError, match="pre-score"):
            sf.accept_prediction(0)
        assert sf.seq == 0


def test_scorer_labels_kept_separately_and_applied(rec, path):
    imported = np.full(N, -1, np.int8)
    imported[2:6] = [0, 1, 2, 2]
    with ScoringFile.open(rec, path) as sf:
        assert sf.add_scorer_labels("dr_x", imported, source_file="/a/b/hyp.csv") is None
        assert (sf.labels == -1).all()
        e = sf.add_scorer_labels("dr_y", imported, source_file="/a/b/hyp.csv", apply=True)
        assert e.epochs == (2, 3, 4, 5) and e.source == "import:hyp.csv"
    ro = ScoringFile.read(path)
    assert set(ro.scorer_sets) == {"dr_x", "dr_y"}
    np.testing.assert_array_equal(ro.scorer_sets["dr_x"].labels, imported)
    assert ro.labels[2:6].tolist() == [0, 1, 2, 2] and ro.sources[2] == "import:hyp.csv"


def test_identity_only_open(tmp_path):
    ident = RecordingIdentity("sha256:abc", 4, 120.0)
    p = tmp_path / "i.sleepscope.h5"
    with ScoringFile.open_identity(ident, p) as sf:
        sf.set_stage(3, "REM")
    assert ScoringFile.read(p).labels.tolist() == [-1, -1, -1, 4]


def test_import_is_light():
    code = "import sys, sleepscope.scoring; print('torch' in sys.modules, 'mne' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_edits_from_two_threads(rec, path):
    import threading

    sf = ScoringFile.open(rec, path)
    probs = np.full((N, 5), 0.2, np.float32)

    def edit(k):
        for i in range(40):
            sf.set_stage((i + k) % N, (i * k) % 5)
            if i % 10 == 0:
                sf.add_prediction(f"v{k}", probs)

    threads = [threading.Thread(target=edit, args=(k,)) for k in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    labels = sf.labels.copy()
    sf.close()
    again = ScoringFile.read(path)
    assert [h["seq"] for h in again.history()] == list(range(1, 89))
    np.testing.assert_array_equal(again.labels, labels)
    assert set(again.predictions) == {"v1", "v2"}


def test_snapshot_written_the_earlier_way_still_opens_and_a_new_one_opens_in_plain_hdf5(rec, path):
    """Snapshots were once built through a Python file object with an HDF5 user block; they
    are now HDF5's own in-memory image behind the checksum block. Both must read back."""
    import hashlib
    import io

    import h5py

    from sleepscope.scoring import snapshot

    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.set_stage(2, "N3")
    with h5py.File(path, "r") as f:  # the file on disk is still plain HDF5 behind its user block
        assert f["labels/stage"][2] == 3
    image = path.read_bytes()[snapshot.USERBLOCK:]
    buf = io.BytesIO()
    with h5py.File(io.BytesIO(image), "r") as src, h5py.File(buf, "w", userblock_size=snapshot.USERBLOCK) as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        for name in src:
            src.copy(src[name], dst, name=name)
    body = buf.getvalue()[snapshot.USERBLOCK:]
    head = (snapshot.MAGIC + b"sha256:" + hashlib.sha256(body).hexdigest().encode() + b"\n")
    path.write_bytes(head.ljust(snapshot.USERBLOCK, b"\0") + body)
    assert ScoringFile.read(path).labels[2] == 3
