#!/usr/bin/env bash
# The paper's experiment with the paper's network (`paper` configuration) at `--budget full`, on a GPU,
# plus the held-out-family test (beyond the paper). Prepared for a session that has the GPU machine;
# not yet run anywhere (the report says where it ran once it has).
#
# Usage, from the repository root on the GPU machine:
#   reports/run_full_gpu.sh [LIMIT_SECONDS]
# Every stage resumes: run it again (same arguments) and it continues where it stopped. It stops by
# itself LIMIT_SECONDS (default 540) after it started, at the next step, saving its state, so that one
# call fits the device tool's 10-minute command limit; what finished is copied under $OUT (when set).
#
# What a session must know before spending device time:
# - The cohort (153 synthetic nights, ~3.4 GB) is written on the machine itself (16 cores: ~1 min);
#   it is not carried. The held-out family (family B, the 8 nights of the 4 test subjects) too.
# - `full` is 3 seeds × (3 pre-trainings of 8,000 steps × 256 epochs + 16 fine-tuning runs of up to
#   6,000 steps): hours of H200 time, far more than one session's 15 minutes. The state that lets a
#   later call resume (OUT_DIR below: pre-trained encoders, per-run trainer states) stays on the machine
#   only while it is held (30 min at most, released when idle), and is larger than the 64 MiB a call can
#   carry in. So a session can finish at most what fits in its own held time; the finished runs'
#   records (runs/*.json, small) are copied out and can be carried into the next session
#   (carry: reports/paper-synthetic-full/runs) — a finished run is never redone.
# - A session with one short lease should start with `SLEEPSCOPE_SEEDS=1 reports/run_full_gpu.sh`:
#   seed 0 first (seeds are run in order anyway; more seeds later extend the same experiment). The
#   progress log under $OUT times the cohort and the first pre-training steps, from which the session
#   decides how much it can afford.
set -euo pipefail

LIMIT=${1:-540}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && PY=.venv/bin/python
WORK=${SLEEPSCOPE_WORK:-/tmp/sleepscope-full}
DATA=$WORK/sleep-edf-78
SHIFT=$WORK/family-b-test
OUT_DIR=$ROOT/reports/paper-synthetic-full
mkdir -p "$WORK" "$OUT_DIR"
STARTED=$(date +%s)

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT_DIR/progress.log"; }
log "start on $(hostname): $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"

if [ ! -f "$DATA/.synth-done" ]; then
  log "writing the synthetic Sleep-EDF-78 cohort"
  "$PY" -m sleepscope synth --out "$DATA" --cohort sleep-edf-78 --seed 0 --workers "$(nproc)" --quiet
  touch "$DATA/.synth-done"
fi
if [ ! -f "$SHIFT/.synth-done" ]; then
  # The paper split's test subjects (sleepscope.data.cohorts.PAPER_SPLIT), both nights each.
  NIGHTS=$("$PY" -c 'from sleepscope.data.cohorts import paper_test_night_names as t; print(",".join(t()))')
  log "writing the held-out family's test nights ($NIGHTS)"
  "$PY" -m sleepscope synth --out "$SHIFT" --family B --seed 0 --workers "$(nproc)" --nights "$NIGHTS" --quiet
  touch "$SHIFT/.synth-done"
fi

left=$(( LIMIT - ($(date +%s) - STARTED) ))
if [ "$left" -lt 60 ]; then
  log "no time left for the experiment in this call; run the script again"
  exit 0
fi
log "experiment: $left s in this call"
# `timeout -s INT`: the first SIGINT asks the running job to stop at its next step and save its state.
set +e
timeout -s INT -k 60 "$left" "$PY" -m sleepscope experiment paper --data "$DATA" --out "$OUT_DIR" \
  --budget full --config paper --device cuda --shift-data "$SHIFT" --cache "$WORK/cache" --quiet \
  ${SLEEPSCOPE_SEEDS:+--seeds "$SLEEPSCOPE_SEEDS"} 2>&1 | tail -n 20 | tee -a "$OUT_DIR/progress.log"
rc=${PIPESTATUS[0]}
set -e
log "experiment exit code $rc (0: finished; 124/130: stopped by the limit, run again to resume)"

if [ -n "${OUT:-}" ]; then
  # Only what is small: the tables, figures, results and per-run records (the encoders stay behind).
  mkdir -p "$OUT/paper-synthetic-full"
  cp -r "$OUT_DIR/runs" "$OUT/paper-synthetic-full/" 2>/dev/null || true
  rm -rf "$OUT/paper-synthetic-full/runs/.partial"
  for f in tables.md results.json accuracy.png macro_f1.png shift_accuracy.png shift_macro_f1.png \
           experiment.json progress.log; do
    [ -f "$OUT_DIR/$f" ] && cp "$OUT_DIR/$f" "$OUT/paper-synthetic-full/"
  done
fi
exit 0
