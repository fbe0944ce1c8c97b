"""Is the card's calibration off on the test nights because its calibration nights are of older subjects?

    .venv/bin/python reports/waking-theta-synthetic/calibration_ages.py MODEL [MODEL ...]

For each model (its card's families, as `train_robust.py` made its calibration nights): the card's 20
calibration nights (the 4 validation nights, subjects 1, 5, 13, 16, and the first nights of subjects
20-35), scored with the card's own calibration, split into the young validation nights and the 16 older
ones: mean top probability against accuracy and ECE on each part. Then the calibration refitted on the
young part alone with the validation subjects' second nights added (7 nights of subjects 1, 5, 13, 16,
the age range of the training and test subjects 0-19) and on the older part alone, and each applied to
the same parts. SYNTHETIC nights.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "models"))

import train_robust as tr  # noqa: E402

from sleepscope.model.calibration import calibrated_probs, ece, fit_calibration  # noqa: E402
from sleepscope.model.checkpoint import load_model  # noqa: E402
from sleepscope.model.infer import has_both_channels, night_outputs  # noqa: E402

SECOND_NIGHTS = ("SC4162E0", "SC4012E0", "SC4052E0")  # SC4132E0 does not exist


def scored(model, nights):
    out = []
    for night, y in nights:
        _, logits, _ = night_outputs(night["x"], model, threads=1, artefact=night["artefact"])
        art = np.asarray(night["artefact"], bool)
        out.append((logits.numpy(), np.where(art, -1, np.asarray(y)), art, has_both_channels(night["x"])))
    return out


def figures(parts, calibration):
    p = np.concatenate([calibrated_probs(z, calibration, b, uninformative=a) for z, _, a, b in parts])
    y = np.concatenate([y for _, y, _, _ in parts])
    keep = y >= 0
    p, y = p[keep], y[keep]
    return f"confidence {p.max(1).mean():.3f} accuracy {(p.argmax(1) == y).mean():.3f} ECE {ece(p, y):.3f}"


def refit(parts, card):
    chain = card.calibration.get("transitions")
    return fit_calibration(np.concatenate([z for z, _, _, _ in parts]), np.concatenate([y for _, y, _, _ in parts]),
                           transitions=None if chain is None else np.asarray(chain),
                           lengths=[len(y) for _, y, _, _ in parts],
                           uninformative=np.concatenate([a for _, _, a, _ in parts]))


def main() -> None:
    for path in sys.argv[1:]:
        model, card = load_model(Path(path))
        families = tuple(card.metrics.get("training_families") or ("A", "C"))
        norm = model.config.normalisation
        cal = tr.calibration_set(norm, families)
        young_extra = tr.nights(SECOND_NIGHTS, norm, first_randomised=True, families=families, start=len(cal))
        parts = scored(model, cal)
        young, older = parts[:len(tr.VALIDATION)], parts[len(tr.VALIDATION):]
        young7 = young + scored(model, young_extra)
        print(f"{card.version} (families {'+'.join(families)}):")
        for name, c in (("card (20 nights)", card.calibration), ("refit on 7 young nights", refit(young7, card)),
                        ("refit on 16 older nights", refit(older, card))):
            print(f"  calibration {name}: young 4 {figures(young, c)}; young 7 {figures(young7, c)}; "
                  f"older 16 {figures(older, c)}", flush=True)


if __name__ == "__main__":
    main()
