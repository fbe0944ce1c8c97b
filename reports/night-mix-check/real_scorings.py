"""How often `stages.unusual_mix` calls a real scoring unlike any real night (false alarms), and how often it
catches the same scorings written in another system's numbering and read by SleepScope's default rules.

    .venv/bin/python reports/night-mix-check/real_scorings.py ../shared/data

Reads the real hypnograms of ../shared/data (Sleep-EDF, DOD-H/O's five scorers, YASA's night) and the published
stagers' predictions beside them; nothing here is synthetic.
"""
import glob
import json
import sys

import numpy as np

from sleepscope.io.hypnogram_tables import RK_CODES
from sleepscope.stages import unusual_mix

root = sys.argv[1] if len(sys.argv) > 1 else "../shared/data"
sets = {"Sleep-EDF (consensus)": sorted(glob.glob(f"{root}/hypnograms/sleep-edf-78-30s/*.json")),
        "DOD-H (5 scorers)": sorted(glob.glob(f"{root}/scorers/dodh/scorer_*/*.json")),
        "DOD-O (5 scorers)": sorted(glob.glob(f"{root}/scorers/dodo/scorer_*/*.json"))}
nights = {k: [np.array(json.load(open(f))) for f in v] for k, v in sets.items()}
nights["YASA's night"] = [np.loadtxt(f"{root}/hypnograms/data_full_6hrs_100Hz_hypno_30s.txt").astype(int)]


def default_read(codes):
    rk = (codes >= 5).any()
    return np.array([-1 if c < 0 else (int(RK_CODES[c]) if rk else c) for c in codes])


# other systems' numberings (our stage -> the code written), read back by the default rules
numberings = {"UCD (REM 1, unscored 7)": {-1: 7, 0: 0, 4: 1, 1: 2, 2: 3, 3: 4},
              "UCD, unscored -1": {-1: -1, 0: 0, 4: 1, 1: 2, 2: 3, 3: 4},
              "1-based (W 1 .. REM 5)": {-1: -1, 0: 1, 1: 2, 2: 3, 3: 4, 4: 5},
              "DREAMS without its header (W 5, N3 1)": {-1: -2, 0: 5, 4: 4, 1: 3, 2: 2, 3: 1},
              "R&K codes, read right (control)": {-1: 9, 0: 0, 1: 1, 2: 2, 3: 3, 4: 5}}
for name, group in nights.items():
    print(f"{name}: {sum(unusual_mix(y) is not None for y in group)} of {len(group)} doubted as scored")
every = [y for g in nights.values() for y in g]
for name, table in numberings.items():
    caught = sum(unusual_mix(default_read(np.array([table[int(v)] for v in y]))) is not None for y in every)
    print(f"written {name}: {caught} of {len(every)} doubted")
preds = sorted(glob.glob(f"{root}/predictions/**/*.json", recursive=True))
odd = sum(unusual_mix(np.array(json.load(open(f)))) is not None for f in preds)
print(f"published stagers' predictions of real nights: {odd} of {len(preds)} doubted")
