"""One training process for tests/test_distribute.py (the backend and devices are per process).

    python tests/distributed_run.py RUN_DIR FER2013_CSV KIND DEVICES PER_DEVICE_BATCH [STOP_AFTER]

Trains the test recipe (frozen MobileNetV2 at 48 px, head only, SGD: no dropout, no augmentation,
so data-parallel and single-device steps compute the same gradients) on a FER2013 slice under
``plan_distribution(KIND, devices=DEVICES, lr_scaling="none")``. With STOP_AFTER it is
interrupted after that many epochs and then resumed with ``resume=True`` in the same process.
Prints one JSON line: the replica count, this worker's index and the run's history.
"""

import json
import sys

import keras
from interruption import StopAfter

from emodet.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from emodet.training.distribute import plan_distribution
from emodet.training.run import train


def recipe(csv: str, batch_size: int) -> RunConfig:
    return RunConfig(
        data=DataConfig(source=f"fer2013:{csv}", train_limit=1500, val_limit=200),
        model=ModelConfig(backbone="mobilenet_v2", image_size=48, dropout=0.0, augment=0.0),
        # Chosen by pooled accuracy: two epochs of a head are both below the selection rule's recall floor,
        # where its mean macro-F1 on 200 faces can flip between runs that match step for step.
        train=TrainConfig(batch_size=batch_size, optimizer="sgd", head_epochs=2, head_lr=0.005, finetune_epochs=0,
                          seed=7, monitor="val_accuracy"),
    )


def main() -> None:
    run_dir, csv, kind, devices, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    stop_after = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    distribution = plan_distribution(kind, devices=devices, lr_scaling="none")
    config = recipe(csv, batch)
    if stop_after:
        try:
            train(config, run_dir, distribution=distribution, callbacks=[StopAfter(stop_after)])
        except KeyboardInterrupt:
            pass
    result = train(config, run_dir, resume=bool(stop_after), distribution=distribution)
    print(json.dumps({"replicas": distribution.replicas, "worker": distribution.worker,
                      "backend": keras.backend.backend(), "history": result.history,
                      "val_accuracy": result.val_report.accuracy}))


if __name__ == "__main__":
    main()
