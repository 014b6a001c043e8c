"""``emodet train``, ``tune``, ``retrain`` and ``shard``: making models and the data they train on."""

from __future__ import annotations

from pathlib import Path

from emodet.config import (DISTRIBUTIONS, LR_SCALING, PRECISIONS, RETRAIN_KEEP_PARENT, RETRAIN_REPLAY_SHARE,
                           TrainConfig)
from emodet.errors import EmodetError
from emodet.inference.tta import TTA_MODES
from emodet.registry.cli import add_registry_option, check_registry, log_and_register, model_location


def add_train(verbs) -> None:
    p = verbs.add_parser("train", help="train an emotion classifier (two-stage transfer learning)",
                         description="Train on a dataset: stage 1 fits a new head on the frozen ImageNet backbone, "
                                     "stage 2 fine-tunes its upper blocks at a lower learning rate. The best epoch "
                                     "on the validation split is kept.")
    p.add_argument("--data", help="dataset: fer2013:CSV, ferplus:FER2013_CSV,FERPLUS_CSV or folder:DIR")
    p.add_argument("--config", type=Path, help="YAML/JSON file of settings (sections data, model, train)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one setting, e.g. --set train.batch_size=32 (repeatable)")
    p.add_argument("--backbone", help="backbone name (see `emodet info`); same as --set model.backbone=NAME")
    p.add_argument("--run-dir", type=Path, help="where to write the run (default: runs/<time>-<backbone>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --run-dir")
    p.add_argument("--quiet", action="store_true", help="print one line per epoch instead of progress bars")
    p.add_argument("--tensorboard", action="store_true", help="also write TensorBoard logs to RUN_DIR/tensorboard")
    _add_distribute_options(p)
    _add_register_options(p)
    p.set_defaults(handler=_run_train)


def _add_distribute_options(p) -> None:
    p.add_argument("--distribute", nargs="?", const="auto", default="none", choices=DISTRIBUTIONS,
                   help="train data-parallel on every device (alone: auto, the backend's own way: data-parallel on "
                        "JAX, mirrored on TensorFlow, multi-worker when TF_CONFIG lists several machines); "
                        "train.batch_size is then per device (README: distributed training)")
    p.add_argument("--devices", type=int, default=0,
                   help="with --distribute on a machine without accelerators: split the CPU into this many devices")
    p.add_argument("--lr-scaling", choices=LR_SCALING, default="linear",
                   help="with --distribute: multiply the learning rates by the device count (linear, default) or not")


def _add_register_options(p) -> None:
    p.add_argument("--register", metavar="NAME",
                   help="when training ends, also register its model as a new version of NAME; no alias changes "
                        "(promote with `emodet compare --promote`). With a registry named (--registry or "
                        "$EMODET_REGISTRY) every finished run is logged to it, registered or not")
    add_registry_option(p)


def _run_train(args) -> int:
    from emodet.config import load_config
    from emodet.training.distribute import plan_distribution
    from emodet.training.run import default_run_dir, train

    overrides = list(args.overrides)
    if args.data:
        overrides.append(f"data.source={args.data}")
    if args.backbone:
        overrides.append(f"model.backbone={args.backbone}")
    if args.resume and args.run_dir is None:
        raise EmodetError("--resume needs --run-dir, the directory of the run to continue")
    if args.resume and args.config is None and (args.run_dir / "config.yaml").is_file():
        args.config = args.run_dir / "config.yaml"
    config = load_config(args.config, overrides)
    check_registry(args.register, args.registry)
    distribution = plan_distribution(args.distribute, devices=args.devices, lr_scaling=args.lr_scaling)
    run_dir = args.run_dir = args.run_dir or default_run_dir(config)
    print(f"run directory: {run_dir}")
    callbacks = []
    if args.tensorboard:
        import keras

        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(Path(run_dir) / "tensorboard")))
    result = train(config, run_dir, resume=args.resume, verbose=2 if args.quiet else 1, log=print,
                   callbacks=callbacks, distribution=distribution)
    if not distribution.is_chief:
        print(f"worker {distribution.worker} done; the chief (worker 0) holds the run")
        return 0
    return _trained(result, args)


def _trained(result, args) -> int:
    """After `train` or `retrain --from-scratch`: the validation table, where the model is, the registry."""
    print(result.val_report.format_table())
    print(f"best epoch {result.best_epoch}; model saved to {result.run_dir / 'best.keras'}")
    log_and_register(result.run_dir, args.register, args.registry)
    return 0


def add_tune(verbs) -> None:
    p = verbs.add_parser("tune", help="search training settings with KerasTuner (Hyperband or Bayesian)",
                         description="Each trial is a two-stage training scored on the validation split. "
                                     "Writes results.csv and best.yaml (for `emodet train --config`) into --tune-dir.")
    p.add_argument("--data", help="dataset: fer2013:CSV, ferplus:FER2013_CSV,FERPLUS_CSV or folder:DIR")
    p.add_argument("--config", type=Path, help="base settings (YAML/JSON); the search varies some of them")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--space", type=Path, help="YAML/JSON search space merged over the default one")
    p.add_argument("--algorithm", choices=("bayesian", "hyperband"), default="bayesian")
    p.add_argument("--trials", type=int, default=10, help="Bayesian: how many trials (default 10)")
    p.add_argument("--max-epochs", type=int, default=9, help="Hyperband: most epochs a trial gets (default 9)")
    p.add_argument("--budget", help="wall-clock budget, e.g. 90m or 2h: no trial starts after it")
    p.add_argument("--tune-dir", type=Path, default=Path("runs/tune"), help="default: runs/tune")
    p.add_argument("--resume", action="store_true", help="continue an interrupted search in --tune-dir")
    p.set_defaults(handler=_run_tune)


def _run_tune(args) -> int:
    from emodet.config import load_config
    from emodet.training.search_space import load_space
    from emodet.training.tuning import format_results, tune

    overrides = list(args.overrides) + ([f"data.source={args.data}"] if args.data else [])
    config = load_config(args.config, overrides)
    if args.trials < 1 or args.max_epochs < 1:
        raise EmodetError(f"--trials and --max-epochs must be at least 1, got {args.trials} and {args.max_epochs}")
    result = tune(config, load_space(args.space), args.tune_dir, algorithm=args.algorithm, max_trials=args.trials,
                  max_epochs=args.max_epochs, time_budget=parse_duration(args.budget), resume=args.resume, verbose=1)
    print(format_results(result.rows))
    print(f"results: {result.results_path}\nbest settings: {result.best_config_path} "
          f"(emodet train --config {result.best_config_path})")
    return 0


def parse_duration(text: str | None) -> float | None:
    """Seconds in ``90``, ``90s``, ``30m`` or ``2h``; ``None`` for no budget."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text[-1] in units else (text, "s")
    try:
        seconds = float(number) * units[unit]
    except ValueError:
        seconds = -1
    if seconds <= 0:
        raise EmodetError(f"--budget must be a positive duration such as 90s, 30m or 2h, got {text!r}")
    return seconds


def add_retrain(verbs) -> None:
    p = verbs.add_parser("retrain", help="continue training a model on new data, with replay of the old data",
                         description="Fine-tunes an existing model (default: the bundled one) on the new data's "
                                     "training split mixed with a replay sample of the old training data, at a low "
                                     "learning rate with BatchNorm frozen; the epoch is chosen on the new data's "
                                     "validation split (split by subject when the folder's labels.csv names "
                                     "subjects). Writes an ordinary run folder plus lineage.json. Then: "
                                     "emodet compare RUN_DIR/best.keras --data ... --reference ... "
                                     "With --from-scratch: trains --config's recipe anew on the union of the old "
                                     "data (--replay, all of it) and the new, for when the change is large.")
    p.add_argument("model", nargs="?", help="a .keras model or models:/NAME@ALIAS (default: the bundled model)")
    p.add_argument("--data", required=True, help="the new data, e.g. folder:DIR (classes matched by name)")
    p.add_argument("--replay", help="the old training data to mix in, e.g. fer2013:CSV")
    p.add_argument("--replay-share", type=float, default=RETRAIN_REPLAY_SHARE,
                   help=f"the old data's share of the training mix (default {RETRAIN_REPLAY_SHARE}, chosen in "
                        "docs/UPKEEP.md)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate (default 1e-4, cosine-decayed)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--class-weight-power", type=float, default=0.0, metavar="P",
                   help="weight classes by inverse frequency to this power (0.5: the bundled recipe's; default 0, off)")
    p.add_argument("--augment-blur", type=float, default=0.0, metavar="SIGMA",
                   help="random Gaussian blur of up to SIGMA px on top of the standard augmentation (default 0)")
    p.add_argument("--precision", choices=PRECISIONS, default=TrainConfig.precision,
                   help="mixed_bfloat16: 13%% faster for small_cnn on a CPU with BF16, slower for MobileNetV2 "
                        "(docs/BENCHMARKS.md); the model is saved float32")
    p.add_argument("--drop-unknown-classes", action="store_true", help="as for evaluate")
    p.add_argument("--teacher", dest="teachers", action="append", default=[], metavar="MODEL.keras",
                   help="distil from this model (repeatable: their probabilities are averaged, each with "
                        "--teacher-tta) into the targets; with --from-scratch use --set train.teachers=A,B")
    p.add_argument("--teacher-blend", type=float, default=0.5,
                   help="the teachers' share of the training targets (default 0.5; the rest is the label)")
    p.add_argument("--teacher-tta", choices=("none", *TTA_MODES), default=TrainConfig.teacher_tta,
                   help="test-time augmentation of each teacher: flip (default, 2 views) or crops (10 views, "
                        "5x the scoring time); see emodet evaluate --tta-crops")
    p.add_argument("--keep-parent", type=float, metavar="W",
                   help="save the weight-space mean of the starting model (share W) and the chosen epoch (WiSE-FT), "
                        f"which keeps what the model knew (default {RETRAIN_KEEP_PARENT}; 0: the chosen epoch alone); "
                        "docs/UPKEEP.md measures it")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--from-scratch", action="store_true",
                   help="train a new model with --config's recipe (e.g. configs/fer2013-small_cnn-v3.yaml, the "
                        "bundled model's) on --replay's and --data's train splits together, validated on both")
    p.add_argument("--config", type=Path, help="with --from-scratch: the training recipe (YAML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="with --from-scratch: override one setting of the recipe (repeatable)")
    _add_register_options(p)
    p.set_defaults(handler=_run_retrain)


def _run_retrain(args) -> int:
    from emodet.training.retrain import retrain

    if args.epochs < 1 or args.lr <= 0 or args.batch_size < 1:
        raise EmodetError("--epochs and --batch-size must be at least 1 and --lr positive")
    if not 0 < args.teacher_blend <= 1:
        raise EmodetError(f"--teacher-blend is the teachers' share of the targets, in (0, 1]; got {args.teacher_blend}")
    check_registry(args.register, args.registry)
    if args.from_scratch:
        return _retrain_from_scratch(args)
    if args.config or args.overrides:
        raise EmodetError("--config and --set go with --from-scratch; fine-tuning keeps the model's own recipe")
    result = retrain(model_location(args.model, args.registry), args.data, args.run_dir, replay=args.replay,
                     replay_share=args.replay_share, epochs=args.epochs, learning_rate=args.lr,
                     batch_size=args.batch_size,
                     drop_unknown=args.drop_unknown_classes, class_weight_power=args.class_weight_power,
                     augment_blur=args.augment_blur, precision=args.precision, teachers=args.teachers,
                     teacher_blend=args.teacher_blend, teacher_tta=args.teacher_tta,
                     keep_parent=RETRAIN_KEEP_PARENT if args.keep_parent is None else args.keep_parent, log=print)
    print(f"validation accuracy {result.val_accuracy:.4f} on the new data; "
          f"model saved to {result.run_dir / 'best.keras'}")
    log_and_register(result.run_dir, args.register, args.registry)
    return 0


def _retrain_from_scratch(args) -> int:
    from emodet.config import load_config
    from emodet.training.run import train

    if args.teachers:
        raise EmodetError("with --from-scratch, name the teachers in the recipe: --set train.teachers=A.keras,B.keras")
    if args.keep_parent is not None:
        raise EmodetError("--keep-parent mixes the starting model back in; --from-scratch has none")
    recipe_decides = (args.class_weight_power, args.augment_blur, args.precision != TrainConfig.precision,
                      args.teacher_tta != TrainConfig.teacher_tta)
    if any(recipe_decides):
        raise EmodetError("with --from-scratch the recipe decides these: use --set train.class_weight_power=P, "
                          "--set model.augment_blur=S, --set train.precision=mixed_bfloat16, "
                          "--set train.teacher_tta=crops")
    if args.model or not (args.config and args.replay):
        raise EmodetError("--from-scratch trains a new model: give --config (the recipe) and --replay (the old "
                          "data), and no model to start from")
    overrides = [*args.overrides, f"data.source={args.replay}", f"data.sources={args.data}",
                 f"data.drop_unknown_classes={str(args.drop_unknown_classes).lower()}"]
    return _trained(train(load_config(args.config, overrides), args.run_dir, verbose=2, log=print), args)


def add_shard(verbs) -> None:
    p = verbs.add_parser("shard", help="write a dataset as TFRecord shards of decoded faces, for streaming",
                         description="Reads the source as it streams (never all of it in memory) and writes each "
                                     "split as SPLIT-NNNNN.tfrecord files of decoded faces plus shards.json; then "
                                     "train or evaluate with --data shards:DIR (data.stream=true streams them).")
    p.add_argument("--data", required=True, help="the source: fer2013:CSV or folder:DIR")
    p.add_argument("--output-dir", type=Path, required=True)
    p.add_argument("--image-size", type=int, default=48, help="side of the stored faces (default 48, FER2013's)")
    p.add_argument("--faces-per-shard", type=int, default=10_000)
    p.set_defaults(handler=_run_shard)


def _run_shard(args) -> int:
    from emodet.data.stream import write_shards

    if args.image_size < 16 or args.faces_per_shard < 1:
        raise EmodetError("--image-size must be at least 16 and --faces-per-shard at least 1")
    if args.output_dir.exists() and any(args.output_dir.iterdir()):
        raise EmodetError(f"{args.output_dir} is not empty; shards go into a new or empty folder")
    counts = write_shards(args.data, args.output_dir, image_size=args.image_size,
                          faces_per_shard=args.faces_per_shard)
    print(", ".join(f"{name}: {n} faces" for name, n in counts.items()) + f"; shards in {args.output_dir} "
          f"(use --data shards:{args.output_dir})")
    return 0
