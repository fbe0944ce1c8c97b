"""The scoring report: what it says (identity, scorers, statistics, agreement, warnings) and its PDF/HTML files."""

from datetime import datetime

import numpy as np
import pytest

from sleepscope.cli import main
from sleepscope.errors import SleepScopeError
from sleepscope.io import Recording
from sleepscope.scoring.report import build_report, write_report
from sleepscope.scoring.scoring_file import ScoringFile
from sleepscope.scoring.stats import sleep_statistics
from sleepscope.stages import Stage

N = 40
START = datetime(2022, 5, 6, 22, 30, 0)


def _labels() -> np.ndarray:
    return np.array([0] * 4 + [1] * 2 + [2] * 10 + [3] * 8 + [2] * 4 + [4] * 8 + [0] * 4, np.int8)


@pytest.fixture
def scored(tmp_path):
    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(size=N * 3000), rng.normal(size=N * 3000), start_time=START)
    path = tmp_path / "night.sleepscope.h5"
    truth = _labels()
    probs = np.full((N, 5), 0.05, np.float32)
    model = truth.copy()
    model[10:14] = 3  # the model calls four N2 epochs N3
    probs[np.arange(N), model] = 0.8
    with ScoringFile.open(rec, path, scorer="ann") as sf:
        sf.add_prediction("m1", probs)
        sf.add_scorer_labels("second", truth, source_file="second.csv")
        sf.accept_prediction(range(0, 10))
        for i in range(10, 30):
            sf.set_stage(i, int(truth[i]))
        sf.set_notes("Lights off 22:41 <script>alert(1)</script>")
    return path, truth, model


def test_report_contents(scored):
    path, truth, model = scored
    r = build_report(ScoringFile.read(path))
    assert r.n_epochs == N and r.scored_epochs == 30 and r.start_time == START
    assert r.scorers == {"ann": 30}
    assert r.sources == {"model (accepted)": 10, "technician": 20}
    expected = truth.astype(np.int64).copy()
    expected[30:] = -1
    assert r.stats == sleep_statistics(expected, arousals=[])  # no arousal marked: counted as none
    names = [c.name for c in r.comparisons]
    assert names == ["Model m1", "Scorer second"]
    model_agr = r.comparisons[0].agreement
    assert model_agr.n_epochs == 30
    assert model_agr.confusion[2, 3] == 4  # technician N2, model N3
    assert r.comparisons[1].agreement.accuracy == 1.0
    warnings = " ".join(r.warnings())
    assert "30 of 40 epochs are scored" in warnings and "not been signed off" in warnings


def test_agreement_says_which_labels_were_taken_from_the_set_compared(scored, tmp_path):
    """Accepted suggestions agree with the model, imported labels with their scorer, by construction: the report
    says how many and gives the agreement on the epochs scored apart from it (a night imported and applied read
    'accuracy 1.000' against the scorer it came from). A set nothing was taken from is reported as before."""
    from sleepscope.scoring.report import _summary_line

    path, truth, model = scored
    model_cmp, scorer_cmp = build_report(ScoringFile.read(path)).comparisons
    assert model_cmp.taken == 10 and model_cmp.apart.n_epochs == 20
    assert model_cmp.apart.accuracy == pytest.approx(16 / 20)  # the four N2 the model called N3
    assert ("10 of the technician's labels were taken from it unchanged" in _summary_line(model_cmp)
            and "on the other 20 epochs: accuracy 0.800" in _summary_line(model_cmp))
    assert scorer_cmp.taken == 0 and "taken from it" not in _summary_line(scorer_cmp)
    hyp = tmp_path / "lab.csv"
    hyp.write_text("stage\n" + "".join(Stage(int(s)).label + "\n" for s in truth))
    assert main(["import", str(path), str(hyp), "--apply"]) == 0
    lab = [c for c in build_report(ScoringFile.read(path)).comparisons if c.name == "Scorer lab"][0]
    assert lab.agreement.accuracy == 1.0 and lab.taken == N and lab.apart is None
    assert "no epoch was scored apart from it" in _summary_line(lab)


def test_no_partial_warning_when_every_epoch_is_scored(scored):
    path, truth, _ = scored
    with ScoringFile.open_existing(path) as sf:
        sf.set_stages(np.arange(30, N), truth[30:])
    r = build_report(ScoringFile.read(path))
    assert r.scored_epochs == N
    assert not any("epochs are scored" in w for w in r.warnings())


def test_cli_writes_pdf_and_html(scored, tmp_path, capsys):
    path, _, _ = scored
    pdf = tmp_path / "out" / "night.pdf"
    pdf.parent.mkdir()
    assert main(["report", str(path), "--out", str(pdf)]) == 0
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") >= 2
    html_out = tmp_path / "out" / "night.html"
    assert main(["report", str(path), "--out", str(html_out)]) == 0
    text = html_out.read_text(encoding="utf-8")
    assert "Total sleep time (TST)" in text and "data:image/png;base64," in text
    assert "30 of 40 epochs are scored" in text
    # notes are the technician's free text: shown, never run
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert sorted(p.name for p in pdf.parent.iterdir()) == ["night.html", "night.pdf"]
    out = capsys.readouterr().out
    assert "wrote" in out


def test_cli_default_path_beside_scoring_file(scored):
    path, _, _ = scored
    assert main(["report", str(path)]) == 0
    assert (path.parent / "night.sleepscope-report.pdf").is_file()


def test_bad_output_is_refused_and_nothing_is_left(scored, tmp_path, capsys):
    path, _, _ = scored
    assert main(["report", str(path), "--out", str(tmp_path / "r.docx")]) == 2
    assert "pdf or .html" in capsys.readouterr().err
    assert main(["report", str(path), "--out", str(tmp_path / "missing" / "r.pdf")]) == 2
    assert not (tmp_path / "missing").exists()
    assert not list(tmp_path.glob("*.tmp*")) and not list(tmp_path.glob(".r*"))


def test_write_failure_leaves_no_partial_file(scored, tmp_path, monkeypatch):
    path, _, _ = scored
    r = build_report(ScoringFile.read(path))
    out = tmp_path / "r.pdf"
    out.write_bytes(b"previous report")

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("sleepscope.scoring.report._write_pdf", boom)
    with pytest.raises(SleepScopeError, match="No space left"):
        write_report(r, out)
    assert out.read_bytes() == b"previous report"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_absent_stage_f1_is_a_dash():
    from sleepscope.scoring.agreement import agreement
    from sleepscope.scoring.report import _agreement_rows

    # no W in either set: its F1 says nothing and is shown as a dash, not 0.00
    agr = agreement(np.array([1, 2, 2, 3, 4]), np.array([1, 2, 3, 3, 4]))
    rows = {row[0]: row for row in _agreement_rows(agr)}
    assert rows["W"][3] == "—" and rows["W"][4] == "0"
    assert rows["N2"][3] == f"{agr.f1['N2']:.2f}" == "0.67"


def test_sign_off_is_recorded_reported_and_exported(scored, tmp_path):
    import json

    from sleepscope.scoring.export import export_stats

    path, truth, _ = scored
    with ScoringFile.open_existing(path, scorer="ann") as sf:
        assert sf.signed_off is None
        rec = sf.sign_off()
        assert rec.scorer == "ann" and rec.changes_since == 0
    # on disk: read back by another process's view, through a checkpoint (close) and the journal alike
    sf = ScoringFile.read(path)
    assert sf.signed_off == rec
    r = build_report(sf)
    assert r.sign_off[0] == "ann" and not any("signed off" in w for w in r.warnings())
    assert ("Sign-off", f"ann, {r.sign_off[1]:%Y-%m-%d %H:%M}") in r.identity_rows()
    summary = json.loads(export_stats(sf, tmp_path / "s.json"))
    assert summary["sign_off"]["scorer"] == "ann" and summary["sign_off"]["changes_since"] == 0
    # a label changed after the sign-off is said, in the report and the export
    with ScoringFile.open_existing(path, scorer="bob") as sf:
        sf.set_stage(35, 2)
        assert sf.signed_off.changes_since == 1
    sf = ScoringFile.read(path)
    assert any("1 label change(s) were made after the sign-off" in w for w in build_report(sf).warnings())
    assert "(1 label changes since)" in export_stats(sf, None)


def test_sign_off_needs_a_name(scored):
    path, _, _ = scored
    with ScoringFile.open_existing(path, scorer="") as sf:
        sf.scorer = ""
        with pytest.raises(SleepScopeError, match="scorer's name"):
            sf.sign_off()
        assert sf.signed_off is None


def test_pdf_table_text_stays_in_its_cell():
    """The PDF's statistics table: 'not marked (start of recording)' ran over the stage table beside it. Every
    cell's text, drawn, now ends within its cell (wrapped, its row made taller); drawn unwrapped (control), the
    long value overruns its cell."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from sleepscope.scoring.report import _A4, _table

    rows = [("Lights off", "not marked (start of recording)"), ("Unscored", "5.0 min"),
            ("No signal (recording gaps)", "unknown: recording not available")]

    def overruns(wrap: bool) -> list[str]:
        fig = Figure(figsize=_A4)
        canvas = FigureCanvasAgg(fig)
        ax = fig.add_axes((0.07, 0.07, 0.53, 0.3))
        if wrap:
            _table(ax, rows, widths=[0.55, 0.45])
        else:
            t = ax.table(cellText=[list(r) for r in rows], loc="upper left", cellLoc="left", colWidths=[0.55, 0.45])
            t.auto_set_font_size(False)
            t.set_fontsize(8.0)
        canvas.draw()
        renderer = canvas.get_renderer()
        table = ax.tables[0]
        return [cell.get_text().get_text() for cell in table.get_celld().values()
                if cell.get_text().get_window_extent(renderer).x1 > cell.get_window_extent(renderer).x1 + 0.5]

    assert overruns(wrap=False)  # the control: the long values run past their cells
    assert overruns(wrap=True) == []


def test_the_events_page_holds_as_many_events_as_its_lines_allow(scored):
    """Long notes wrap over several lines: the PDF's events page takes as many events as 45 lines hold (it took
    45 events however tall, and the table ran off the page); short ones, 45 (control)."""
    from sleepscope.scoring.report import _event_page_rows

    path, _, _ = scored
    with ScoringFile.open_existing(path) as sf:
        for i in range(50):
            sf.add_event("note", 20.0 * i, 20.0 * i + 5, "electrode C4 re-gelled by the night technician; " * 3)
    report = build_report(ScoringFile.read(path))
    rows = _event_page_rows(report)
    assert 5 < len(rows) < 25
    with ScoringFile.open_existing(path) as sf:
        sf.remove_events([e.id for e in sf.events])
        for i in range(50):
            sf.add_event("arousal", 20.0 * i, 20.0 * i + 5, "spontaneous")
    assert len(_event_page_rows(build_report(ScoringFile.read(path)))) == 45


def test_an_empty_agreement_section_says_why(tmp_path):
    """A night pre-scored but not yet scored read 'no model prediction, no imported scorer, or no scored epoch':
    it now says the technician has scored nothing; scored with nothing to compare, it says that (control)."""
    rng = np.random.default_rng(0)
    rec = Recording.from_arrays(rng.normal(size=N * 3000), rng.normal(size=N * 3000), start_time=START)
    path = tmp_path / "night.sleepscope.h5"
    with ScoringFile.open(rec, path) as sf:
        sf.add_prediction("m1", np.full((N, 5), 0.2, np.float32))
    assert build_report(ScoringFile.read(path)).no_comparison() == ("Nothing to compare yet: the technician has "
                                                                    "scored no epoch.")
    other = tmp_path / "other.sleepscope.h5"
    with ScoringFile.open(rec, other) as sf:
        sf.set_stage(0, 0)
    report = build_report(ScoringFile.read(other))
    assert not report.comparisons and "no model prediction and no imported scorer" in report.no_comparison()
