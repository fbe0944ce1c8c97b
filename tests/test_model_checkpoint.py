"""Checkpoints: safetensors + JSON card, bit-exact round trip, tampering refused."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

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
    torch.manual_seed(5)  # another model's weights behind this card, hash updated to match
    save_model(SleepStager(TINY), tmp_path / "other")
    st.write_bytes((tmp_path / "other.safetensors").read_bytes())
    d = json.loads(js.read_text())
    d["weights_sha256"] = json.loads((tmp_path / "other.json").read_text())["weights_sha256"]
    js.write_text(json.dumps(d))
    with pytest.raises(SleepScopeError, match="different models"):
        load_model(st)


@pytest.mark.parametrize("blank", [("weights_sha256",), ("version",), ("weights_sha256", "version")])
def test_card_without_integrity_fields_refused(saved, blank):
    # Issue 14 item 15: altered weights with the card's hash and version blanked used to load.
    _, _, st, js = saved
    data = bytearray(st.read_bytes())
    data[-10] ^= 0x01
    st.write_bytes(bytes(data))
    d = json.loads(js.read_text())
    for key in blank:
        d[key] = ""
    js.write_text(json.dumps(d))
    with pytest.raises(SleepScopeError, match="has no valid " + " and ".join(blank)):
        load_model(st)
    d = json.loads(js.read_text())
    for key in blank:
        del d[key]
    js.write_text(json.dumps(d))
    with pytest.raises(SleepScopeError, match="has no valid"):
        load_model(st)


def _nan_model_file(tmp_path, value=float("nan")):
    """A model whose weights hold `value`, with a consistent card (written around save_model's own check)."""
    from safetensors.torch import save_file

    from sleepscope.model.checkpoint import _file_sha256

    torch.manual_seed(2)
    model = SleepStager(TINY)
    card = save_model(model, tmp_path / "nan")
    with torch.no_grad():
        model.classifier.bias[1] = value
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    st = tmp_path / "nan.safetensors"
    save_file(tensors, str(st), metadata={"format": "sleepscope", "version": weights_version(model)})
    card.version, card.weights_sha256 = weights_version(model), _file_sha256(st)
    (tmp_path / "nan.json").write_text(json.dumps(card.to_dict()))
    return model, st


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_refused_at_load_save_and_registration(tmp_path, value):
    from sleepscope.model.registry import ModelRegistry

    model, st = _nan_model_file(tmp_path, value)
    with pytest.raises(SleepScopeError, match="NaN or infinite values .*classifier.bias"):
        load_model(st)
    reg = ModelRegistry()
    with pytest.raises(SleepScopeError, match="NaN or infinite"):
        reg.add(st)
    assert reg.versions() == []
    with pytest.raises(SleepScopeError, match="NaN or infinite"):
        save_model(model, tmp_path / "again")
    assert not list(tmp_path.glob("again*")) and not list(tmp_path.glob(".again*"))


@pytest.mark.parametrize("change, message", [
    ({"widths": [200000, 200000, 200000, 200000]}, "widths .* outside 1..4096"),
    ({"kernel_size": -5}, "kernel_size = -5, outside"),
    ({"stem_kernel": "fifteen"}, "stem_kernel = 'fifteen': not a whole number"),
    ({"seq_len": 2.5}, "not a whole number"),
    ({"pools": [10, "x", 3]}, "not a whole number"),
    ({"widths": [4096, 4096, 4096, 4096], "kernel_size": 257}, "parameters"),
])
def test_absurd_card_sizes_refused_before_allocating(saved, change, message):
    import resource

    _, _, st, js = saved
    d = json.loads(js.read_text())
    d["config"].update(change)
    js.write_text(json.dumps(d))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for call in (read_card, load_model):
        with pytest.raises(SleepScopeError, match=message):
            call(st)
    # nothing was allocated: the process's peak memory did not grow by the gigabytes a build would take
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss < 200_000  # KiB


def test_card_format_not_a_number_refused(saved):
    _, _, st, js = saved
    d = json.loads(js.read_text())
    d["format"] = "one"
    js.write_text(json.dumps(d))
    with pytest.raises(SleepScopeError, match="format is 'one', not a number"):
        load_model(st)


def _set(card: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        card = card[key]
    if value is _DELETE:
        del card[last]
    else:
        card[last] = value


_DELETE = object()


@pytest.mark.parametrize("path, value, field", [
    ("calibration.temperature", -0.7, "calibration.temperature"),
    ("calibration.smoothed_temperature", "2.5", "calibration.smoothed_temperature"),
    ("calibration.unsure_threshold", 7, "calibration.unsure_threshold"),
    ("calibration.transitions", [[1, 0], [0, 1]], "calibration.transitions"),
    ("calibration.transitions", "x", "calibration.transitions"),
    ("calibration.confidence_map.y", [0.5], "calibration.confidence_map"),
    ("familiarity.precision", [[1, 2], [3]], "familiarity.precision"),
    ("familiarity.means", None, "familiarity.means"),
    ("familiarity.night_limit", _DELETE, "familiarity.night_limit"),
    ("familiarity.second_opinion", [], "familiarity.second_opinion"),
    ("familiarity", "x", "its familiarity is not a set of named values"),
])
def test_card_whose_calibration_pre_scoring_cannot_apply_is_refused_at_load(tmp_path, path, value, field):
    """The weights' hash does not cover the card's calibration and familiarity tables; damaged, they failed inside
    pre-scoring with a NumPy error (or a negative temperature turned the probabilities upside down)."""
    import shutil

    from sleepscope.model.checkpoint import default_model_path

    shipped = default_model_path()
    st, js = tmp_path / "m.safetensors", tmp_path / "m.json"
    shutil.copy(shipped, st)
    shutil.copy(shipped.with_suffix(".json"), js)
    load_model(st)  # control: the shipped card as it is
    card = json.loads(js.read_text())
    _set(card, path, value)
    js.write_text(json.dumps(card))
    with pytest.raises(SleepScopeError, match=f"card .*m.json is damaged: {re.escape(field)}"):
        load_model(st)


def test_broken_or_missing_card_refused(saved):
    _, _, st, js = saved
    js.write_text("{not json")
    with pytest.raises(SleepScopeError, match="not valid JSON"):
        load_model(st)
    js.unlink()
    with pytest.raises(SleepScopeError, match="card .* is missing"):
        load_model(st)


def test_missing_model_and_missing_default_explained(tmp_path, monkeypatch, capsys):
    import sleepscope.model.checkpoint as ck
    from sleepscope.cli import main

    with pytest.raises(SleepScopeError, match="no model at"):
        load_model(tmp_path / "nothing.safetensors")
    assert default_model_path().name == "sleepscope-default.safetensors"
    # The shipped model may exist in this checkout: look for it in an empty folder instead,
    # so that the "not installed" explanation is exercised every time.
    monkeypatch.setattr(ck.paths, "repo_models_dir", lambda: tmp_path / "models")
    assert not default_model_path().exists()
    with pytest.raises(SleepScopeError, match="shipped model .* is not installed: .* no trained"):
        load_model(default_model_path())
    assert main(["model-info"]) == 2
    err = capsys.readouterr().err
    assert "is not installed" in err and "Traceback" not in err


#: Calls that run code from a file: unpickling in its many forms.
_UNPICKLING_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _unpickling_uses(path):
    """(line, what) of every import of an unpickling module or call of a pickle-based loader in a source file."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, f"import {a.name}") for a in node.names if a.name.split(".")[0] in _UNPICKLING_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _UNPICKLING_MODULES:
            out.append((node.lineno, f"from {node.module} import"))
        elif isinstance(node, ast.Call):
            f = ast.unparse(node.func)
            if f in ("torch.load", "torch.jit.load", "pd.read_pickle", "pandas.read_pickle") or f.endswith(
                    (".read_pickle", "Unpickler")):
                out.append((node.lineno, f))
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    out.append((node.lineno, f"{f}(allow_pickle=...)"))
    return out


def test_no_pickle_anywhere_in_the_package(tmp_path):
    from pathlib import Path

    import sleepscope

    root = Path(sleepscope.__file__).parent
    files = sorted(root.rglob("*.py"))
    assert len(files) > 40  # the whole package, not one module
    found = {str(p.relative_to(root)): u for p in files if (u := _unpickling_uses(p))}
    assert found == {}
    # the scanner itself finds each form
    probe = tmp_path / "probe.py"
    probe.write_text("import pickle\nfrom dill import loads\nimport torch\nimport numpy as np\n"
                     "torch.load('m.pt')\nnp.load('a.npy', allow_pickle=True)\n")
    assert [w for _, w in _unpickling_uses(probe)] == [
        "import pickle", "from dill import", "torch.load", "np.load(allow_pickle=...)"]


def test_every_loader_runs_without_unpickling(saved, tmp_path, monkeypatch):
    """Each way a model or training state is read, with every unpickler made to fail."""
    import pickle

    from sleepscope.model.registry import ModelRegistry
    from sleepscope.model.train_state import LoopState, load_state, save_state

    model, _, st, _ = saved
    opt = torch.optim.Adam(model.parameters())
    save_state(tmp_path / "state", model, opt, LoopState(kind="train", step=3), best_weights={k: v.clone() for k, v in model.state_dict().items()})

    def refuse(*a, **k):
        raise AssertionError("something was unpickled")

    class Refuse(pickle.Unpickler):
        def __init__(self, *a, **k):
            refuse()

    for mod, name in ((pickle, "load"), (pickle, "loads"), (torch, "load"), (torch.jit, "load")):
        monkeypatch.setattr(mod, name, refuse)
    monkeypatch.setattr(pickle, "Unpickler", Refuse)
    load_model(st)
    read_card(st)
    reg = ModelRegistry()
    v = reg.add(st)
    reg.activate(v.version)
    load_model(reg.active().path)
    load_state(tmp_path / "state", model, opt)


# ---- issue 14 item 16: a model replaced in place is the old pair or the new pair, even under SIGKILL

def _save_killed_at(path, kill_at: int) -> int:
    """In a forked child, save a new model to `path`, SIGKILLed at its `kill_at`-th fsync or rename.

    Returns the child's wait status; with `kill_at` 0 the child exits normally with the number of steps.
    """
    import os
    import signal

    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            torch.manual_seed(99)
            model = SleepStager(TINY)
            calls = [0]

            def dying(real):
                def call(*args, **kwargs):
                    calls[0] += 1
                    if calls[0] == kill_at:  # a real SIGKILL at exactly this step of the write
                        os.kill(os.getpid(), signal.SIGKILL)
                    return real(*args, **kwargs)
                return call

            # every step that makes a write durable or visible: fsync and rename
            os.fsync, os.replace, os.rename = dying(os.fsync), dying(os.replace), dying(os.rename)
            save_model(model, path, ModelCard(config=TINY, data="new"))
            os._exit(min(calls[0], 250))
        except BaseException:
            os._exit(255)
    _, status = os.waitpid(pid, 0)
    return status


def test_model_replaced_in_place_is_old_or_new_pair_when_killed_at_any_step(saved, tmp_path):
    import os
    import signal

    _, old_card, st, js = saved
    old_bytes = st.read_bytes(), js.read_bytes()
    status = _save_killed_at(tmp_path / "new", 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) < 250
    steps = os.WEXITSTATUS(status)
    new_version = read_card(tmp_path / "new").version
    assert steps >= 4 and new_version != old_card.version
    outcomes = []
    for k in range(1, steps + 1):
        st.write_bytes(old_bytes[0])
        js.write_bytes(old_bytes[1])
        status = _save_killed_at(st, k)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"step {k}: the kill did not land"
        model, card = load_model(st)  # never new weights with the old card (or the reverse)
        assert card.version == model.version and card.version in (old_card.version, new_version), k
        outcomes.append("new" if card.version == new_version else "old")
    # both outcomes occur: the kills spanned the moment the new pair starts to count
    assert outcomes[0] == "old" and outcomes[-1] == "new", outcomes


def test_model_named_default_is_the_shipped_model_in_every_command(tmp_path, monkeypatch):
    """`--model default` names the shipped model for prescore as for the GUI (it used to look for ./default.safetensors)."""
    import sleepscope.paths
    from sleepscope.cli import main

    edf = Path(__file__).parent / "data" / "SC4001E0-PSG-first300s.edf"
    monkeypatch.chdir(tmp_path)
    assert main(["prescore", str(edf), "--model", "default", "--out", str(tmp_path / "p.csv")]) == 0
    assert (tmp_path / "p.csv").read_text().count("\n") >= 10
    monkeypatch.setattr(sleepscope.paths, "repo_models_dir", lambda: tmp_path / "nowhere")
    assert main(["prescore", str(edf), "--model", "default", "--out", str(tmp_path / "q.csv")]) == 2


# ---- weights read into memory, not mapped: a file cut after loading cannot kill the process

_CUT_AFTER_LOAD = """
import sys, torch
from pathlib import Path
from sleepscope.model.config import TINY
from sleepscope.model.network import SleepStager
from sleepscope.model.train_state import LoopState, load_state, save_state, state_paths
import json
base = Path(sys.argv[1])
model = SleepStager(TINY)
opt = torch.optim.Adam(model.parameters())
model(torch.randn(1, 2, 2, 3000)).sum().backward(); opt.step()
save_state(base, model, opt, LoopState(kind="train", step=1), best_weights={k: v.clone() for k, v in model.state_dict().items()})
if sys.argv[2] == "product":
    _, best = load_state(base, model, opt)
else:  # the control: safetensors' own loader, which maps the file
    from safetensors.torch import load_file
    best = load_file(str(state_paths(base).with_name(json.loads(state_paths(base).read_text())["tensors"])))
tensor_file = state_paths(base).with_name(json.loads(state_paths(base).read_text())["tensors"])
open(tensor_file, "r+b").truncate(0)  # cut in place, e.g. by another program or a sync tool
print(float(sum(v.float().sum() for v in best.values())))
for s in opt.state.values():
    print(float(s["exp_avg"].sum()))
"""


@pytest.mark.parametrize("loader", ["product", "control"])
def test_training_state_survives_its_file_cut_after_loading(tmp_path, loader):
    proc = subprocess.run([sys.executable, "-c", _CUT_AFTER_LOAD, str(tmp_path / "state"), loader],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    if loader == "product":
        assert proc.returncode == 0, proc.stderr[-2000:]
    else:  # mapped tensors die with the file: the hazard the product avoids is real here
        assert proc.returncode == -signal.SIGBUS, (proc.returncode, proc.stderr[-500:])
