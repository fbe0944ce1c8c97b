#!/usr/bin/env bash
# The paper's experiment at `--budget cpu` on the 2-core development machine, with the held-out-family
# test (beyond the paper). Every stage resumes: run it again and it continues where it stopped (Ctrl-C
# or SIGINT stops the running job at its next step and saves its state). When the experiment has
# finished, its tables, figures and results are copied to reports/paper-synthetic-cpu/.
#
#   reports/run_cpu_budget.sh            # work folder: $SLEEPSCOPE_WORK, default ~/sleepscope-cpu
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && PY=.venv/bin/python
W=${SLEEPSCOPE_WORK:-$HOME/sleepscope-cpu}
mkdir -p "$W"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$W/progress.log"; }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

if [ ! -f "$W/data/.synth-done" ]; then
  log "writing the synthetic Sleep-EDF-78 cohort"
  "$PY" -m sleepscope synth --out "$W/data" --cohort sleep-edf-78 --seed 0 --workers 2 --quiet || exit 1
  touch "$W/data/.synth-done"
fi
if [ ! -f "$W/shift/.synth-done" ]; then
  # The paper split's test subjects (sleepscope.data.cohorts.PAPER_SPLIT), both nights each, family B.
  NIGHTS=$("$PY" -c 'from sleepscope.data.cohorts import paper_test_night_names as t; print(",".join(t()))')
  log "writing the held-out family's test nights ($NIGHTS)"
  "$PY" -m sleepscope synth --out "$W/shift" --family B --seed 0 --workers 2 --nights "$NIGHTS" --quiet || exit 1
  touch "$W/shift/.synth-done"
fi
log "experiment (resumes where it stopped)"
"$PY" -m sleepscope experiment paper --data "$W/data" --out "$W/out" --budget cpu --shift-data "$W/shift" \
  --cache "$W/cache" --quiet 2>&1 | tail -n 20 | tee -a "$W/progress.log"
rc=${PIPESTATUS[0]}
log "experiment exit code $rc (0: finished; otherwise run again to resume)"
if [ "$rc" -eq 0 ]; then
  mkdir -p reports/paper-synthetic-cpu
  cp "$W/out/results.json" "$W/out/tables.md" "$W/out"/*.png reports/paper-synthetic-cpu/ && log "report copied to reports/paper-synthetic-cpu/"
fi
exit "$rc"
