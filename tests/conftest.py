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
