import os

# Before any Qt import: tests run without a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Before torch is imported: OpenMP threads that spin while waiting make the
# tiny models of the tests several times slower on a busy 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest


@pytest.fixture(autouse=True)
def _user_data_dir(tmp_path_factory, monkeypatch):
    """Keep every test's user data (demo night, registry, settings) out of the real home."""
    monkeypatch.setenv("SLEEPSCOPE_DATA_DIR", str(tmp_path_factory.mktemp("userdata")))


def pytest_configure(config):
    try:
        import torch

        # One thread: the tests' models are tiny, and two threads on a 2-core
        # machine that also runs the test's subprocesses are several times slower.
        torch.set_num_threads(1)
    except ImportError:
        pass


# -- shared by the GUI tests (opt-in: each fixture only acts where a test asks for it) --------------

@pytest.fixture
def no_shipped_model(tmp_path_factory, monkeypatch):
    """Tests choose their model: the shipped one (once it exists) must not sneak in.

    GUI test files take it for every test with `pytestmark = pytest.mark.usefixtures("no_shipped_model")`."""
    import sleepscope.paths

    empty = tmp_path_factory.mktemp("no_models")
    monkeypatch.setattr(sleepscope.paths, "repo_models_dir", lambda: empty)


@pytest.fixture
def errors(monkeypatch):
    """Error dialogs recorded as (title, text) instead of blocking the test."""
    from PySide6.QtWidgets import QMessageBox

    seen: list[tuple[str, str]] = []

    def critical(parent, title, text, *a, **k):
        seen.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "critical", critical)
    return seen


@pytest.fixture
def main_windows(qtbot):
    """Make shown MainWindows: `make(settings, model_path=None, prescore=False, size=(1400, 860))`.

    At teardown every window's second opinion has ended and every window is closed, deleted and
    its threads stopped (`assert_no_leaks`)."""
    from test_gui_support import assert_no_leaks

    from sleepscope.gui.main_window import MainWindow

    made = []

    def make(settings, model_path=None, prescore=False, size=(1400, 860)):
        w = MainWindow(settings=settings, model_path=model_path, prescore_on_open=prescore)
        w.resize(*size)
        w.show()
        made.append(w)
        return w

    yield make
    for w in made:
        w.second_opinion.wait()
    assert_no_leaks(made)


@pytest.fixture
def predicted_scoring(tmp_path):
    """Make a scoring file on a noise recording, one epoch per entry of `stages`, where model "m1"
    says `stages` with probability 0.8 (flat 0.2 on the `unsure` epochs): `make(stages, unsure=())`."""
    import numpy as np

    from sleepscope.io import Recording
    from sleepscope.scoring.scoring_file import ScoringFile

    opened = []

    def make(stages, unsure=()):
        n = len(stages)
        rng = np.random.default_rng(0)
        rec = Recording.from_arrays(rng.normal(size=n * 3000), rng.normal(size=n * 3000))
        sf = ScoringFile.open(rec, tmp_path / "n.sleepscope.h5", scorer="ann")
        probs = np.full((n, 5), 0.05, np.float32)
        probs[np.arange(n), stages] = 0.8
        if len(unsure):
            probs[list(unsure), :] = 0.2
        sf.add_prediction("m1", probs)
        opened.append(sf)
        return sf

    yield make
    for sf in opened:
        sf.close()
