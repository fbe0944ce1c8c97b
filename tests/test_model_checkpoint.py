"""Checkpoints: safetensors + JSON card, bit-exact round trip, tampering refused."""

import json

import pytest
import torch

from sleepscope.errors import SleepScopeError
from sleepscope.model.checkpoint import (ModelCard, default_model_path, load_model, read_card,
                                         save_model, weights_version)
from sleepscope.model.config import TINY
from sleepscope.model.network import SleepStager


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(1)
    model = SleepStager(TINY)
    # non-default batch-norm statistics, so buffers are part of the round trip
    model.train()
    with torch.no_grad():
        model(torch.randn(2, 2, 2, 3000))
    card = ModelCard(config=TINY, parent="0123456789abcdef", data="unit test night",
                     metrics={"accuracy": 0.5}, notes="not a trained model")
    written = save_model(model, tmp_path / "m", card)
    return model, written, tmp_path / "m.safetensors", tmp_path / "m.json"


def test_round_trip_is_bit_exact(saved):
    model, card, st, js = saved
    assert st.exists() and js.exists()
    for path in (st, js, st.with_suffix("")):
        loaded, lcard = load_model(path)
        a, b = model.state_dict(), loaded.state_dict()
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) and a[k].dtype == b[k].dtype for k in a)
        assert lcard.version == card.version == weights_version(model) == loaded.version
        assert lcard.parent == "0123456789abcdef" and lcard.metrics == {"accuracy": 0.5}
        assert lcard.config == TINY and lcard.created
    x = torch.randn(1, 3, 2, 3000)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


def test_version_depends_on_weights_only(saved, tmp_path):
    model, card, _, _ = saved
    assert len(card.version) == 16
    save_model(model, tmp_path / "again")
    assert read_card(tmp_path / "again.json").version == card.version
    with torch.no_grad():
        model.classifier.bias[0] += 1e-3
    assert weights_version(model) != card.version


def test_truncated_weights_refused(saved):
    _, _, st, _ = saved
    data = st.read_bytes()
    st.write_bytes(data[: len(data) // 2])
    with pytest.raises(SleepScopeError, match="truncated, altered"):
        load_model(st)


def test_altered_weights_refused(saved):
    _, _, st, _ = saved
    data = bytearray(st.read_bytes())
    data[-10] ^= 0x01  # one bit of one weight
    st.write_bytes(bytes(data))
    with pytest.raises(SleepScopeError, match="does not match its card"):
        load_model(st)


def test_card_and_weights_of_different_models_refused(saved, tmp_path):
    _, card, st, js = saved
    d = json.loads(js.read_text())
    d["weights_sha256"] = ""  # an edited card without the file hash still cannot pass
    d["version"] = "ffffffffffffffff"
    js.write_text(json.dumps(d))
    with pytest.raises(SleepScopeError, match="different models"):
        load_model(st)


def test_broken_or_missing_card_refused(saved):
    _, _, st, js = saved
    js.write_text("{not json")
    with pytest.raises(SleepScopeError, match="not valid JSON"):
        load_model(st)
    js.unlink()
    with pytest.raises(SleepScopeError, match="card .* is missing"):
        load_model(st)


def test_missing_model_and_missing_default_explained(tmp_path):
    with pytest.raises(SleepScopeError, match="no model at"):
        load_model(tmp_path / "nothing.safetensors")
    assert default_model_path().name == "sleepscope-default.safetensors"
    if not default_model_path().exists():
        with pytest.raises(SleepScopeError, match="no trained"):
            load_model(default_model_path())


def test_no_pickle_in_checkpoint_code():
    import inspect

    import sleepscope.model.checkpoint as ck

    src = inspect.getsource(ck)
    assert "torch.load" not in src and "import pickle" not in src
