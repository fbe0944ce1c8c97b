"""The familiarity check weighs the second opinion: a night on which YASA and the model disagree more than on
any validation night (stretched by a margin when they are few) is called unfamiliar, in the CLI, the batch
pre-scorer and the card; and how the night limits are set from the validation nights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sleepscope.cli import main
from sleepscope.model.familiarity import (Familiarity, disagreeing_share, fit_second_opinion,
                                          with_second_opinion)


def _night(n: int, share: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """(model stages, second stages) that differ on `share` of `n` epochs."""
    a = rng.integers(0, 5, n)
    b = a.copy()
    flip = rng.choice(n, int(round(share * n)), replace=False)
    b[flip] = (a[flip] + 1) % 5
    return a, b


def test_fires_beyond_the_validation_nights_and_only_counts_epochs_both_staged():
    rng = np.random.default_rng(0)
    stats = {"second_opinion": fit_second_opinion([_night(400, s, rng) for s in (0.1, 0.3)], "YASA test")}
    limit = stats["second_opinion"]["night_limit"]
    assert limit == pytest.approx(1.25 * 0.3) and stats["second_opinion"]["validation_shares"] == [0.1, 0.3]

    before = Familiarity(familiar=True, outlying=0.01, limit=0.1)
    calm = with_second_opinion(before, stats, *_night(400, 0.3, rng))
    assert calm is before  # within what validation nights showed
    a, b = _night(400, 0.5, rng)
    loud = with_second_opinion(before, stats, a, b)
    assert not loud.familiar and loud.outlying == 0.01
    assert "the second opinion, YASA test, disagrees with the model on 50% of its epochs" in loud.message()
    assert "fine-tune" in loud.message() and before.familiar  # the verdict before it is left as it was
    # the same disagreement on artefact epochs (the model's -1) is not counted
    a[b != a] = -1
    assert with_second_opinion(before, stats, a, b) is before and disagreeing_share(a, b) == 0.0
    # an earlier reason is kept; no fitted limit, no verdict
    odd = Familiarity(familiar=False, outlying=0.4, limit=0.1, reasons=["40% of its epochs lie outside"])
    both = with_second_opinion(odd, stats, *_night(400, 0.6, rng))
    assert len(both.reasons) == 2 and both.reasons[0] == odd.reasons[0]
    assert with_second_opinion(before, {}, *_night(400, 0.9, rng)) is before
    assert with_second_opinion(None, stats, *_night(400, 0.9, rng)).familiar is False
    assert fit_second_opinion([_night(400, 0.01, rng)], "x")["night_limit"] == 0.25  # the floor


def test_fit_reliability_records_the_validation_nights_disagreement():
    from sleepscope.model.config import TINY
    from sleepscope.model.infer import night_outputs
    from sleepscope.model.network import SleepStager
    from sleepscope.model.reliability import fit_reliability

    torch.manual_seed(0)
    model = SleepStager(TINY).eval()
    rng = np.random.default_rng(1)

    def night(n, artefact_at=()):
        artefact = np.zeros(n, bool)
        artefact[list(artefact_at)] = True
        return {"x": rng.normal(0, 1, (n, 2, 3000)).astype(np.float32), "artefact": artefact,
                "inputs": rng.normal(0, 1, (n, 4))}, rng.integers(0, 5, n)

    train = [night(60)]
    val = [night(40, artefact_at=range(5)), night(40)]
    seconds = [rng.integers(0, 5, 40) for _ in val]
    for (v, _), s in zip(val, seconds):
        v["second_opinion"] = s
    _, familiarity = fit_reliability(model, train, val, second_opinion="YASA test")
    fitted = familiarity["second_opinion"]
    expected = []
    for (v, _), s in zip(val, seconds):
        stages = night_outputs(v["x"], model, threads=1)[1].numpy().argmax(axis=1)
        stages[v["artefact"]] = -1
        expected.append(round(disagreeing_share(stages, s), 4))
    assert fitted["scorer"] == "YASA test" and fitted["validation_shares"] == expected
    assert "second_opinion" not in fit_reliability(model, train, val)[1]


def test_prescore_with_a_second_opinion_says_when_it_disagrees_too_much(tmp_path, capsys):
    pytest.importorskip("yasa")
    from sleepscope.data.synthetic import real_hypnogram, write_night
    from sleepscope.model.checkpoint import ModelCard, load_model, save_model
    from sleepscope.model.config import TINY
    from sleepscope.model.network import SleepStager

    labels = real_hypnogram("SC4001E0")
    start = int(np.flatnonzero(labels == 2)[0]) - 20
    psg, _ = write_night(tmp_path, "SC4001E0", labels=labels[start:start + 80])
    torch.manual_seed(0)
    model = SleepStager(TINY).eval()  # untrained: it names one or two stages all night
    limits = {"strict": 0.25, "lax": 1.0}
    for name, limit in limits.items():
        save_model(model, tmp_path / name, ModelCard(config=model.config, familiarity={
            "channel_dropout": 0.3, "second_opinion": {"scorer": "YASA test", "night_limit": limit}}))
    _, card = load_model(tmp_path / "strict.safetensors")
    for name in limits:
        assert main(["prescore", str(psg), "--model", str(tmp_path / f"{name}.safetensors"), "--second-opinion",
                     "--json", "--out", str(tmp_path / f"{name}.json"), "--quiet"]) == 0
    import json

    strict, lax = (json.loads((tmp_path / f"{n}.json").read_text()) for n in limits)
    assert strict["familiarity"]["familiar"] is False
    assert "the second opinion, YASA test, disagrees with the model" in strict["familiarity"]["reasons"][-1]
    assert lax["familiarity"] is None or lax["familiarity"]["familiar"] is True  # the control: same night, lax limit
    assert "the second opinion, YASA test, disagrees" in capsys.readouterr().err


def test_the_night_limit_lets_about_one_in_n_plus_one_in_distribution_nights_through():
    from sleepscope.model.familiarity import ENOUGH_NIGHTS, night_limit

    rng = np.random.default_rng(0)

    def exceeded(n: int) -> float:
        """How often a new night, drawn as the n validation nights are, lies above their limit."""
        shares = rng.beta(2, 20, (20000, n + 1))
        return float(np.mean([s[-1] > night_limit(list(s[:-1]), 0.0) for s in shares]))

    # Enough nights: at most 5 % of in-distribution nights are called unfamiliar, and not far fewer
    # (a limit stretched beyond the worst night would let real shifts through too).
    assert 0.035 < exceeded(ENOUGH_NIGHTS) <= 0.055
    assert exceeded(39) == pytest.approx(1 / 40, abs=0.006)
    # Fewer nights: the worst of them is stretched, so a new night exceeds it less often than 1/(n+1).
    assert exceeded(4) < 0.8 / 5
    assert night_limit([0.1, 0.3], 0.0) == pytest.approx(1.25 * 0.3)
    assert night_limit([0.01] * 30, 0.25) == 0.25
