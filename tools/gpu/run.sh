#!/usr/bin/env bash
# The one command for the lent GPU machine (device tool `run`, carry [".carry"], timeout_s 590):
#     bash tools/gpu/run.sh [train.py options]
# Installs the carried Keras wheels beside the machine's JAX, then trains teacher and student
# (tools/gpu/train.py) into $OUT, logging to $OUT/run.log.
set -euo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .carry/wheels/*.whl
export PYTHONPATH="/tmp/site:$PWD/src" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
python3 tools/gpu/train.py --out "${OUT:?set OUT to the folder that comes back}" "$@" 2>&1 | tee "$OUT/run.log"
