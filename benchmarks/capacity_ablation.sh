#!/usr/bin/env bash
# The capacity ablation of docs/MODEL_CARD.md: each variant trains for one time budget on FER2013
# (+FER+ 0.3) and framed RAF-DB, validated on FER2013 PublicTest, RAF-DB val and CK+48 val (by subject)
# and scored by the selection rule; the small_cnn variants continue the bundled model, MobileNetV2
# starts from ImageNet. A finished variant is skipped and a stopped one resumed, so rerun it after a stop.
#
#   benchmarks/capacity_ablation.sh [RUNS_DIR] [MINUTES]     # default ~/runs/ablation, 18
#   python benchmarks/ablation_table.py ~/runs/ablation/*/
#
# Needs the shared data at ../shared (or $EMODET_SHARED), RAF-DB framed by tools/frame_faces.py at
# ~/data/rafdb-framed (or $RAFDB_FRAMED), and the ImageNet weights where Keras finds them (KERAS_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-$HOME/runs/ablation}"
minutes="${2:-18}"
shared="${EMODET_SHARED:-../shared}/data"
rafdb="${RAFDB_FRAMED:-$HOME/data/rafdb-framed}"
bundled="$(python -c 'from emodet.bundled import bundled_model_path; print(bundled_model_path())')"
common=(--config configs/fer2013-rafdb-small_cnn.yaml --data "fer2013:$shared/fer2013/fer2013.csv.gz"
        --set "data.ferplus_votes=$shared/fer2013/fer2013new.csv" --set "data.sources=[rafdb=folder:$rafdb]"
        --set "data.validation=[ckplus=folder:$shared/ckplus48]" --set "train.time_budget=$minutes")

variant() {
    local name=$1; shift
    [ -f "$runs/$name/metrics.json" ] && return
    local resume=(); [ -f "$runs/$name/state.json" ] && resume=(--resume)
    emodet train "${common[@]}" "$@" --run-dir "$runs/$name" "${resume[@]}" > "$runs/$name.log" 2>&1
}

mkdir -p "$runs"
variant a-48-gray --set "model.weights=$bundled" --set train.finetune_lr=0.0002
variant c-48-rgb  --set "model.weights=$bundled" --set train.finetune_lr=0.0002 --set model.color_mode=rgb
variant b-64-gray --set "model.weights=$bundled" --set train.finetune_lr=0.0002 --set model.image_size=64
variant d-mnv2-112-rgb --set model.backbone=mobilenet_v2_035 --set model.image_size=112 \
    --set model.color_mode=rgb --set model.weights=imagenet --set train.finetune_lr=0.0005
