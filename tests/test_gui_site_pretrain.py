"""Model → Learn from unlabeled recordings…: site pre-training in its own process, with progress and Cancel."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from test_gui_support import gui_settings  # noqa: E402,F401  (fixture)

from sleepscope.gui.site_pretrain_dialog import SitePretrainDialog, open_site_pretrain, recordings_opened  # noqa: E402
from sleepscope.model.registry import ModelRegistry  # noqa: E402

LABELS = np.array([0] * 8 + [1] * 4 + [2] * 20 + [3] * 10 + [2] * 6 + [4] * 12, np.int8)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Two short family-B nights, a file that is no recording, and a tiny parent model."""
    import torch

    from sleepscope.data.synthetic import write_night
    from sleepscope.model.checkpoint import save_model
    from sleepscope.model.config import get_config
    from sleepscope.model.network import SleepStager

    root = tmp_path_factory.mktemp("lab")
    psgs = [write_night(root / "nights", name, seed=3, labels=LABELS, family="B")[0]
            for name in ("SC4011E0", "SC4021E0")]
    bad = root / "nights" / "broken.edf"
    bad.write_bytes(b"not an EDF" * 40)
    torch.manual_seed(0)
    parent = root / "parent"
    save_model(SleepStager(get_config("tiny")), parent)
    return psgs, bad, parent.with_suffix(".safetensors")


class FakeSettings:
    def __init__(self, recent):
        self.recent = [str(p) for p in recent]

    def recent_files(self):
        return list(self.recent)


class FakeWindow:
    def __init__(self, recent, model_path):
        self.settings = FakeSettings(recent)
        self.model_path = model_path
        self.recording = None
        self.scoring = None


def test_every_recording_opened_so_far_is_offered(lab, tmp_path):
    psgs, bad, parent = lab
    window = FakeWindow([*psgs, tmp_path / "gone.edf"], parent)
    assert recordings_opened(window) == list(psgs)  # a recent file no longer there is left out


def test_run_learns_lists_skipped_registers_and_offers_finetuning(qtbot, lab):
    psgs, bad, parent = lab
    d = SitePretrainDialog([*psgs, bad], parent)
    qtbot.addWidget(d)
    d.epochs.setValue(2)
    assert d.chosen() == [*psgs, bad] and d.start_button.isEnabled()
    assert d.start()
    assert d.running() and d.cancel_button.isEnabled() and not d.start_button.isEnabled()
    qtbot.waitUntil(lambda: d.exit_code is not None, timeout=180_000)
    assert d.exit_code == 0 and d.error is None, (d.error, d._stderr)
    assert [Path(f).name for f, _ in d.skipped] == ["broken.edf"]
    assert "skipped broken.edf" in d.log.toPlainText()
    assert len(d.loss_x) >= 2 and len(d.loss_curve.getData()[0]) == len(d.loss_x)
    assert len(d.f1_x) == 2  # one mean per pass
    version = d.result["version"]
    reg = ModelRegistry()
    assert version in reg and reg.get(version).encoder_only
    assert "Fine-tune from it" in d.status.text()
    # the run's files are gone: the registry holds the model, and nothing would resume the state
    assert not list(d.out_base.parent.glob(d.out_base.name + "*"))
    seen = []
    d.finetune_requested.connect(seen.append)
    assert d.finetune_button.isEnabled()
    d.finetune_button.click()
    assert seen == [d.result["registered"]]


def test_cancel_stops_the_process_and_registers_nothing(qtbot, lab):
    psgs, _, parent = lab
    d = SitePretrainDialog(psgs, parent)
    qtbot.addWidget(d)
    d.epochs.setValue(100)
    assert d.start()
    qtbot.waitUntil(lambda: len(d.loss_x) >= 1, timeout=180_000)
    d.cancel()
    qtbot.waitUntil(lambda: d.exit_code is not None, timeout=20_000)
    assert d.cancelled and d.result is None
    assert "Cancelled" in d.status.text()
    assert not ModelRegistry().versions()
    assert not list(d.out_base.parent.glob(d.out_base.name + "*"))


def test_unchecked_recordings_are_left_out_and_none_disables_start(qtbot, lab):
    from PySide6.QtCore import Qt

    psgs, bad, parent = lab
    d = SitePretrainDialog([psgs[0], bad], parent)
    qtbot.addWidget(d)
    d.list.item(1).setCheckState(Qt.CheckState.Unchecked)
    assert d.chosen() == [psgs[0]]
    args = d.command()
    assert args[args.index("--recordings") + 1:] == [str(psgs[0])]
    assert "--from" in args and args[args.index("--from") + 1] == str(parent)
    d.list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert not d.start_button.isEnabled() and not d.start()


def test_model_menu_entry_opens_the_dialog(qtbot, gui_settings, lab, monkeypatch):
    from sleepscope.gui.main_window import MainWindow

    psgs, _, parent = lab
    gui_settings.add_recent(str(psgs[0]))
    w = MainWindow(settings=gui_settings, model_path=None, prescore_on_open=False)
    qtbot.addWidget(w)
    texts = [a.text() for a in w.model_menu.actions()]
    assert "&Learn from unlabeled recordings…" in texts
    w.act_site_pretrain.trigger()
    d = w.site_pretrain_dialog
    assert isinstance(d, SitePretrainDialog) and d.isVisible()
    assert d.chosen() == [psgs[0]]
    d.close()
