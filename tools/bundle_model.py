"""Package a run's best model as the bundled default model.

    python tools/bundle_model.py runs/bundled/best.keras

Saves the inference graph (no augmentation layers, no optimizer) into
src/emodet/assets/models/, then prints the sha256 to record in src/emodet/bundled.py.
"""

import hashlib
import sys
from pathlib import Path

from emodet.bundled import MODEL_FILE
from emodet.models.classifier import inference_model, load_model

target = Path(__file__).resolve().parents[1] / "src" / "emodet" / "assets" / "models" / MODEL_FILE
model = inference_model(load_model(sys.argv[1]))
model.save(target)
print(f"{target}: {target.stat().st_size / 1e6:.1f} MB, sha256 {hashlib.sha256(target.read_bytes()).hexdigest()}")
