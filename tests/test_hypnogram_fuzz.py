"""Damaged hypnograms: whatever the bytes, the reader refuses with a reason (SleepScopeError), never another
exception. Valid files of every format, mutated at random with fixed seeds (flipped bytes, cut runs, repeated
runs, numbers past a float's range); fuzzing so found an unknown XML encoding, an infinite epoch number and a
file of delimiters that each raised something else."""

from __future__ import annotations

import random
import warnings
from datetime import datetime

import pytest
from test_hypnogram import DOMINO, NSRR_XML, PROFUSION_XML, RML

from sleepscope.errors import SleepScopeError
from sleepscope.io.hypnogram import load_hypnogram

VALID = {
    "nsrr.xml": NSRR_XML, "profusion.xml": PROFUSION_XML, "night.rml": RML, "Sleep profile.txt": DOMINO,
    "alice.csv": " Epoch Number ,Start Time ,Sleep Stage\n1,11:59:00 PM,WK\n2,11:59:30 PM,N1\n3,12:00:00 AM,N2\n",
    "events.csv": "onset,duration,description\n0,30,W\n30,60,N2\n75,3,Arousal\n",
    "cap.txt": "Patient: x\nSleep Stage\tTime [hh:mm:ss]\tEvent\tDuration[s]\nW\t23.59.00\tSLEEP-S0\t30\n"
               "S2\t23.59.30\tSLEEP-S2\t30\n",
    "dreams.txt": "[HypnogramAASM]\n5\n5\n5\n5\n5\n5\n3\n3\n2\n",
    "codes.txt": "0\n1\n2\n3\n5\n",
    "table.tsv": "epoch\tstage\n0\tW\n1\tN1\n",
    "bids_events.tsv": "onset\tduration\ttrial_type\n0\tn/a\tW\n30\t30\tN2\n",
}
INSERTS = [b"-", b"9999999999", b"1e309", b"nan", b",", b"\t", b"\n", b":", b"<", b">", b"\x00", b"\xff", b"-1"]


def _mutated(text: str, rng: random.Random) -> bytes:
    b = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(b)) if b else 0
        op = rng.random()
        if op < 0.3 and b:
            b[i] = rng.randrange(256)
        elif op < 0.5:
            b[i:i] = rng.choice(INSERTS)
        elif op < 0.7 and b:
            del b[i:i + rng.randint(1, 20)]
        else:
            j = rng.randrange(len(b)) if b else 0
            b[i:i] = b[j:j + rng.randint(1, 30)]
    return bytes(b)


@pytest.mark.parametrize("seed", range(4))
def test_damaged_hypnograms_are_refused_with_a_reason(tmp_path, seed):
    rng = random.Random(seed)
    for _ in range(500):
        name, text = rng.choice(sorted(VALID.items()))
        p = tmp_path / name
        p.write_bytes(_mutated(text, rng))
        for kwargs in ({}, {"n_epochs": 10, "start_time": datetime(2020, 1, 1, 23, 58)}):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    load_hypnogram(p, **kwargs)
                except SleepScopeError:
                    pass
                except Exception as exc:  # the bytes that broke it, for the failure message
                    raise AssertionError(f"{name} {p.read_bytes()[:300]!r}: {type(exc).__name__}: {exc}") from exc
