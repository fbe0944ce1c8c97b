#!/usr/bin/env bash
# Recipe: a parent trained from scratch on randomised labs of two physiology families (A and C): CLIP
# pre-training on the nights of the 58 subjects outside Sleep-EDF-20 (unlabelled, as in the paper), then
# supervised training, channel dropout 0.3 and the amplitude input, on the 12 training subjects of
# models/train_robust.py and subjects 36-41, the best pass kept by macro-F1 on train_robust's 4
# validation subjects (1, 5, 13, 16), which then calibrate. Never labelled here: bench_shift's test
# subjects (0, 6, 9, 15), the subjects whose first nights calibrate (20-35) and bench_site's labs (42+).
# The shipped model's parent learned from family A's plain labs alone and its robust fine-tune kept those
# encoders. Families B, D and E are never written here: they stay held out for bench_shift.py.
#
#   models/train_parent_gpu.sh [LIMIT_SECONDS] [SEEDS]      (from the repository root, on a GPU)
#
# Each subject keeps one family and one lab for both nights: family A for even subjects, C for odd
# ones; subjects whose (number // 2) is odd are recorded by a randomly drawn lab. SEEDS (default
# "0 1 2") train side by side on the one GPU, sharing the caches. Everything stops LIMIT_SECONDS
# (default 540) after the start; with OUT set, the finished parents, the pre-trained encoders and the logs
# come back in $OUT/parent.tgz and an unfinished seed's resumable state beside it (its best validated
# weights: models/model_from_state.py). Run again on the same (still held) machine and every stage
# resumes where it stopped. Measured on one H200 with three seeds (2026-12-04): cohort 2 min, caches
# 0.5 min, pre-training 3 min, then about 40 s per supervised pass: one 480-s call ends in pass 3. Environment for a dry
# run on a CPU: DEVICE=cpu, NIGHTS_PER_FAMILY (a few), PRETRAIN_EPOCHS, TRAIN_EPOCHS, MAX_STEPS.
set -euo pipefail
LIMIT=${1:-540}
SEEDS=${2:-0 1 2}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python}
[ -x .venv/bin/python ] && PY=.venv/bin/python
DEVICE=${DEVICE:-cuda}
WORK=${SLEEPSCOPE_WORK:-/tmp/sleepscope-parent}
DATA=$WORK/cohort
RESULT=$WORK/parent
TRAIN_SUBJECTS=11,12,14,19,7,2,3,18,4,8,10,17,36,37,38,39,40,41
VAL_SUBJECTS=1,5,13,16
mkdir -p "$DATA" "$RESULT"
STARTED=$(date +%s)
deadline() { local left=$(( LIMIT - ($(date +%s) - STARTED) )); echo $(( left > 1 ? left : 1 )); }
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$RESULT/progress.log"; }
log "start on $(hostname): $(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo 'no GPU') $(nproc) cores"
if [ "$DEVICE" = cuda ] && [ "${PROFILE_STEPS:-20}" -gt 0 ] && [ ! -f "$RESULT/train-step.log" ]; then
  # Half a minute that says what bounds a training step here (the supervised passes of the first run were slow).
  n=$(wc -w <<< "$SEEDS")
  "$PY" benchmarks/bench_train_step.py --device cuda --steps "${PROFILE_STEPS:-20}" --processes "$n" \
      --threads $(( $(nproc) / n > 1 ? $(nproc) / n : 1 )) > "$RESULT/train-step.log" 2>&1 || true
  log "training step: $(grep -E 'step  |processes at once' "$RESULT/train-step.log" | tr -s ' ' | tr '\n' ';')"
fi

# Night lists of the four (family, lab) groups, each written by its own synth call.
"$PY" - "$WORK" "${NIGHTS_PER_FAMILY:-0}" "$TRAIN_SUBJECTS" "$VAL_SUBJECTS" <<'EOF'
import sys
from pathlib import Path
from sleepscope.data.synthetic import hypnogram_names, parse_night_name
work, few = Path(sys.argv[1]), int(sys.argv[2])
train, val = ({int(s) for s in a.split(",")} for a in sys.argv[3:5])
held = {0, 6, 9, 15}  # the paper split's test subjects: bench_shift's in-distribution nights
groups = {}
for name in hypnogram_names():
    if not name.startswith("SC"):
        continue
    subject, _ = parse_night_name(name)
    if subject in held or (subject < 20 and subject not in train | val):
        continue
    key = ("A" if subject % 2 == 0 else "C", (subject // 2) % 2 == 1)
    groups.setdefault(key, []).append(name)
kept = set()
for (family, randomised), names in groups.items():
    if few:  # a dry run: the nights of a few training subjects and a few pre-training subjects per group
        subjects = sorted({parse_night_name(n)[0] for n in names})
        keep = set([s for s in subjects if s in train][:few] + [s for s in subjects if s in val][:1]
                   + [s for s in subjects if s >= 20 and s not in train][:few])
        names = [n for n in names if parse_night_name(n)[0] in keep]
    kept |= {parse_night_name(n)[0] for n in names}
    (work / f"nights-{family}-{int(randomised)}.txt").write_text(",".join(names))
for role, subjects in (("train", train), ("val", val)):
    (work / f"{role}-subjects.txt").write_text(",".join(str(s) for s in sorted(kept & subjects)))
EOF
TRAIN_SUBJECTS=$(cat "$WORK/train-subjects.txt")
VAL_SUBJECTS=$(cat "$WORK/val-subjects.txt")
per=$(( $(nproc) / 4 > 0 ? $(nproc) / 4 : 1 ))
for f in "$WORK"/nights-*.txt; do
  g=$(basename "$f" .txt); family=${g:7:1}; randomised=${g:9:1}
  [ -f "$WORK/$g/.done" ] && continue
  ( "$PY" -m sleepscope synth --out "$WORK/$g" --nights "$(cat "$f")" --family "$family" --seed 0 --workers "$per" \
      --quiet $([ "$randomised" = 1 ] && echo --randomise) && touch "$WORK/$g/.done" ) &
done
wait
# One folder per family (synth keeps families apart); the training commands read one cohort folder.
ln -sf "$WORK"/nights-*/SC4*.edf "$DATA"/
log "cohort: $(ls "$DATA"/*-PSG.edf | wc -l) nights"

common=(--device "$DEVICE")  # progress bars go to the logs: their rates size the next run
[ -n "${MAX_STEPS:-}" ] && common+=(--max-steps "$MAX_STEPS")
# The supervised cache is built once, by a one-step run, while seed by seed pre-training starts.
[ -f "$WORK/cache-train.h5" ] || ( "$PY" -m sleepscope train --data "$DATA" --subjects "$TRAIN_SUBJECTS" --val-subjects "$VAL_SUBJECTS" \
    --out "$WORK/cache-run" --config default --normalisation epoch+amplitude --max-steps 1 \
    --device "$DEVICE" --quiet --cache "$WORK/cache-train.h5" > "$WORK/cache-train.log" 2>&1
  log "supervised cache ready" ) &
cache_job=$!

resume_if() { [ -f "$1.state.json" ] && echo --resume; }

# The seeds' processes share the cores: each gets its share of torch's CPU threads, so that one's idle OpenMP
# threads do not spin on the cores the others need to launch GPU work (a guess, not yet measured: with every
# process sized for all 16 cores the supervised passes ran at 2.3-2.5 steps/s, CLIP at about 10).
n_seeds=$(wc -w <<< "$SEEDS")
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(( $(nproc) / n_seeds > 1 ? $(nproc) / n_seeds : 1 ))}
log "each seed's process: $OMP_NUM_THREADS CPU threads"

run_seed() {
  local seed=$1 dir=$WORK/seed-$1
  mkdir -p "$dir"
  if [ ! -f "$dir/clip.safetensors" ]; then
    timeout -s INT -k 30 "$(deadline)" "$PY" -m sleepscope pretrain --method clip --data "$DATA" \
        --out "$dir/clip" --config default --epochs "${PRETRAIN_EPOCHS:-3}" --batch-size 256 \
        --cache "$WORK/cache-pretrain.h5" --seed "$seed" "${common[@]}" $(resume_if "$dir/clip") \
        >> "$dir/pretrain.log" 2>&1 \
      || { log "seed $seed: pre-training stopped ($(tail -n 2 "$dir/pretrain.log" | tr '\n' ' '))"; return; }
    log "seed $seed: pre-trained"
  fi
  cp "$dir/clip.safetensors" "$RESULT/s$seed-clip.safetensors"; cp "$dir/clip.json" "$RESULT/s$seed-clip.json"
  [ -f "$RESULT/parent-s$seed.safetensors" ] && return
  while kill -0 "$cache_job" 2>/dev/null; do sleep 2; done
  timeout -s INT -k 30 "$(deadline)" "$PY" -m sleepscope train --data "$DATA" --subjects "$TRAIN_SUBJECTS" \
      --val-subjects "$VAL_SUBJECTS" --init "$dir/clip" --out "$RESULT/parent-s$seed" --epochs "${TRAIN_EPOCHS:-15}" \
      --batch-size 16 --channel-dropout 0.3 --normalisation epoch+amplitude --seed "$seed" \
      --cache "$WORK/cache-train.h5" "${common[@]}" $(resume_if "$RESULT/parent-s$seed") >> "$dir/train.log" 2>&1 \
    || { log "seed $seed: training stopped ($(tail -n 2 "$dir/train.log" | tr '\n' ' '))"; return; }
  log "seed $seed: trained into parent-s$seed"
}

first=${SEEDS%% *}
run_seed "$first" &
# The other seeds wait for the pre-training cache that the first one writes (it appears whole).
for s in $SEEDS; do
  [ "$s" = "$first" ] && continue
  ( while [ ! -f "$WORK/cache-pretrain.h5" ] && [ "$(deadline)" -gt 30 ]; do sleep 2; done; run_seed "$s" ) &
done
wait
for s in $SEEDS; do
  for f in "$WORK/seed-$s"/*.log; do [ -f "$f" ] && cp "$f" "$RESULT/s$s-$(basename "$f")"; done
done
log "done in $(( $(date +%s) - STARTED )) s"
if [ -n "${OUT:-}" ]; then
  # Few files come back, at most 16 MiB each: the small ones packed, an unfinished seed's state beside.
  tar czf "$OUT/parent.tgz" -C "$RESULT" --exclude '*.state*' .
  for s in $SEEDS; do
    [ -f "$RESULT/parent-s$s.safetensors" ] || cp "$RESULT/parent-s$s".state* "$OUT/" 2>/dev/null || true
  done
fi
