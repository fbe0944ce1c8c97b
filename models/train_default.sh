#!/usr/bin/env bash
# The recipe of the shipped model models/sleepscope-default: CLIP pre-training on
# the 58 subjects outside Sleep-EDF-20, then supervised fine-tuning on the 16
# training + validation subjects of the paper's fixed split, scored on its 4
# test subjects (0, 6, 9, 15) into the model card.
#
#   bash models/train_default.sh DATA_DIR [OUT_DIR]
#
# The card's calibration and familiarity statistics are then fitted by
# `sleepscope calibrate` (training subjects for the statistics, Sleep-EDF-78
# subjects 20-24, never trained on, for the limits and the unsure threshold).
#
# DATA_DIR: a Sleep-EDF sleep-cassette folder: the real one
# (`sleepscope cohort DIR --download`) or a synthetic one
# (`sleepscope synth --out DIR --cohort sleep-edf-78`). Environment:
# SLEEPSCOPE (command, default `sleepscope`), DEVICE (auto|cpu|cuda),
# PRETRAIN_EPOCHS, TRAIN_EPOCHS, PRETRAIN_BATCH, TRAIN_BATCH.
set -euo pipefail
data=${1:?usage: train_default.sh DATA_DIR [OUT_DIR]}
out=${2:-models}
ss=${SLEEPSCOPE:-sleepscope}
device=${DEVICE:-auto}
work="$out/work"
mkdir -p "$work"

$ss pretrain --method clip --data "$data" --out "$work/clip-pretrained" --config default \
    --epochs "${PRETRAIN_EPOCHS:-4}" --batch-size "${PRETRAIN_BATCH:-256}" \
    --device "$device" --cache "$work/cache-pretrain.h5" --seed 0

# No validation subjects are held back: the 4 validation subjects train too,
# for a fixed number of passes, and the 4 test subjects are never seen.
$ss train --data "$data" --subjects 11,12,14,19,7,2,3,18,16,1,4,8,10,17,5,13 \
    --val-subjects none --test --init "$work/clip-pretrained" \
    --out "$out/sleepscope-default" --epochs "${TRAIN_EPOCHS:-12}" \
    --batch-size "${TRAIN_BATCH:-16}" --device "$device" --cache "$work/cache-sleep-edf-20.h5" --seed 0

# Reliability in the card (weights unchanged): familiarity statistics of the
# training nights, unsure threshold and night limit from subjects never seen.
$ss calibrate "$out/sleepscope-default.safetensors" --data "$data" \
    --train-subjects 11,12,14,19,7,2,3,18 --val-subjects 20,21,22,23,24
