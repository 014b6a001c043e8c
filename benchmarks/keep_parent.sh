#!/usr/bin/env bash
# WiSE-FT in the upkeep scenario of docs/UPKEEP.md: the bundled model retrained on CK+48's training subjects
# with FER2013 replay (4 epochs at --lr 3e-4), then the weight-space means that `emodet retrain --keep-parent W`
# saves, made from that one run with tools/interpolate_weights.py; each compared with the bundled model on
# CK+48's test subjects and FER2013 PublicTest (emodet compare: the promote / do not promote verdict).
#
#   benchmarks/keep_parent.sh [WORK_DIR] [LR]      # default ~/upkeep, 3e-4
#
# Needs the shared data at ../shared (or $EMODET_SHARED). About 5 minutes on the 2-core CPU.
set -euo pipefail
cd "$(dirname "$0")/.."
work="${1:-$HOME/upkeep}"
lr="${2:-3e-4}"
shared="${EMODET_SHARED:-../shared}/data"
ck="folder:$shared/ckplus48" fer="fer2013:$shared/fer2013/fer2013.csv.gz"
bundled="$(python -c 'from emodet.bundled import bundled_model_path; print(bundled_model_path())')"
mkdir -p "$work"
rm -rf "$work/retrained"
emodet retrain --data "$ck" --replay "$fer" --drop-unknown-classes --epochs 4 --lr "$lr" --run-dir "$work/retrained"
for w in 0.3 0.5; do
    python tools/interpolate_weights.py "$work/keep$w.keras" "$w=$bundled" "$work/retrained/best.keras"
done
for model in "$work/retrained/best.keras" "$work/keep0.3.keras" "$work/keep0.5.keras"; do
    echo "== $model"
    emodet compare "$model" --data "$ck" --drop-unknown-classes --reference "$fer" || true  # exit 1: not promoted
done
