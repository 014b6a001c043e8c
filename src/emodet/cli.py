"""The ``emodet`` command: thin verbs over the public API (parse -> config -> API -> print).

Every user error (a bad file, setting or argument) is printed as one line and exits with
status 2; nothing the library raises for bad input reaches the user as a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from emodet.config import DISTRIBUTIONS, LR_SCALING, PRECISIONS
from emodet.errors import EmodetError
from emodet.registry.cli import (add_registry_option, add_registry_verb, check_registry, log_and_register,
                                 model_location)
from emodet.registry.references import is_reference

EXIT_USAGE = 2
EXIT_FAILURES = 1


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the command talks to people, not TensorFlow's logs
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    if _needs_tensorflow(args):
        _import_tensorflow_quietly()
    try:
        return args.handler(args) or 0
    except EmodetError as exc:
        print(f"emodet {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = f"; continue with: emodet train --run-dir {args.run_dir} --resume" \
            if args.command == "train" and args.run_dir else ""
        print(f"emodet {args.command}: interrupted{hint}", file=sys.stderr)
        return 130


def _needs_tensorflow(args) -> bool:
    if args.command == "info":
        return bool(args.model)
    if args.command == "drift":
        return False
    if args.command == "registry":  # only to read the classes of a model file that has no profile beside it
        return args.action == "add" and bool(args.source) and not Path(args.source).is_dir()
    if args.command == "detect" and args.engine == "ray":  # the actors import what they need
        return False
    if args.command in ("detect", "serve"):
        exported = str(args.model or "").endswith((".onnx", ".tflite"))  # a models:/ reference may be either
        return not (exported and args.detector in ("yunet", "blazeface"))
    return True


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with its native start-up chatter (oneDNN, CUDA probing) sent to /dev/null.

    Those lines are written by C++ before any log level applies; only file descriptor 2 can
    silence them. Python errors raised by the import still surface normally afterwards.
    """
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                import tensorflow  # noqa: F401
            except ImportError:
                pass  # another backend, or none: the commands report what they miss
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def build_parser() -> argparse.ArgumentParser:
    from emodet import __version__

    parser = argparse.ArgumentParser(prog="emodet", description="Facial emotion recognition with Keras 3.")
    parser.add_argument("--version", action="version", version=f"emodet {__version__}")
    verbs = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in _VERBS:
        register(verbs)
    return parser


def _add_train(verbs) -> None:
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


def _add_tune(verbs) -> None:
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


SPLIT_HELP = ("train, val or test (FER2013: Training, PublicTest, PrivateTest). Default val, the split models and "
              "settings are chosen on; ask for test once, for the model already chosen (the final report)")


def _add_evaluate(verbs) -> None:
    p = verbs.add_parser("evaluate", help="evaluate a model on a dataset split",
                         description="Accuracy, precision, recall, F1 (macro over the classes present, weighted, "
                                     "per class) and the confusion matrix; written as JSON and HTML and printed "
                                     "as a table. Dataset classes are matched to the model's by name "
                                     "(anger = angry, sadness = sad, ...).")
    p.add_argument("model", nargs="?",
                   help="a .keras, .onnx or .tflite emodet model or models:/NAME@ALIAS (default: the bundled model)")
    p.add_argument("--data", required=True, help="dataset: fer2013:CSV, ferplus:FER2013_CSV,FERPLUS_CSV or folder:DIR")
    p.add_argument("--split", default="val", help=SPLIT_HELP)
    p.add_argument("--tta", action="store_true", help="average predictions with horizontally flipped images")
    p.add_argument("--drop-unknown-classes", action="store_true",
                   help="leave out images of classes the model does not predict (e.g. CK+'s contempt) "
                        "instead of refusing the dataset")
    p.add_argument("--faces", choices=("crops", "detect"), default="crops",
                   help="crops: the folder holds face crops (default); detect: it holds photos, each run through "
                        "the face detector and alignment of `emodet detect` (largest face); photos without a face "
                        "are counted and left out of the scores")
    p.add_argument("--detector", help="with --faces detect: the face detector (default: emodet's default)")
    p.add_argument("--output", type=Path,
                   help="JSON file to write, the HTML page beside it (default: beside the model; for the bundled model, the "
                        "current folder)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--stream", action="store_true",
                   help="read the split from disk batch by batch instead of loading it (fer2013 and folder sources; "
                        "for data larger than memory; the page then shows no example faces)")
    add_registry_option(p)
    p.set_defaults(handler=_run_evaluate)


def _evaluate_streamed(args, model, crop_size: int, split: str, path) -> int:
    from emodet.data.stream import stream_splits
    from emodet.evaluation.metrics import evaluate_stream

    if args.faces == "detect":
        raise EmodetError("--stream reads face crops as stored; --faces detect needs the photos in memory")
    splits = stream_splits(args.data, image_size=crop_size)
    if split not in splits:
        raise EmodetError(f"{args.data} has no {split!r} split; it has {', '.join(splits)}")
    report = evaluate_stream(model, splits[split], tta=args.tta, batch_size=args.batch_size,
                             drop_unknown=args.drop_unknown_classes)
    return _write_evaluation(args, report, path, split, report.to_dict())


def _write_evaluation(args, report, path, split: str, summary: dict, *, data=None, page_model=None,
                      note: str = "") -> int:
    """The scores as JSON, the page beside it, the table printed; returns the exit status."""
    stem = f"{_model_stem(args.model, path)}.eval-{split}{'-tta' if args.tta else ''}.json"
    output = args.output or (path.with_name(stem) if path and args.model == str(path) else Path(stem))
    output = output.with_suffix(".json")  # the page goes beside it: --output x.html must not overwrite the scores
    output.write_text(json.dumps(summary, indent=2))
    page = report.save_html(output.with_suffix(".html"), model=page_model, data=data)
    print(report.format_table())
    if note:
        print(note)
    print(f"written to {output} and {page}")
    return 0


def _run_evaluate(args) -> int:
    from emodet.data.classmatch import match_classes
    from emodet.data.folder import NO_FACE
    from emodet.data.sources import load_split, split_name
    from emodet.evaluation.metrics import evaluate, model_classes

    if args.batch_size < 1:
        raise EmodetError(f"--batch-size must be at least 1, got {args.batch_size}")
    path = model_location(args.model, args.registry)
    model, crop_size = _evaluation_model(path)
    split = split_name(args.split)
    if args.stream:
        return _evaluate_streamed(args, model, crop_size, split, path)
    face_crop = None
    if args.faces == "detect":
        from emodet.inference.crops import LargestFaceCrop

        face_crop = LargestFaceCrop(crop_size, args.detector)
    data = match_classes(load_split(args.data, split, image_size=crop_size, face_crop=face_crop),
                         model_classes(model), drop_unknown=args.drop_unknown_classes)
    report = evaluate(model, data, tta=args.tta, batch_size=args.batch_size)
    no_face = [source for source, reason in data.skipped if reason == NO_FACE]
    summary = report.to_dict() if face_crop is None else {**report.to_dict(), "photos_without_a_face": no_face}
    note = "" if face_crop is None else (f"{len(no_face)} photo(s) had no face and are not scored"
                                         + (f", e.g. {no_face[0]}" if no_face else ""))
    return _write_evaluation(args, report, path, split, summary, data=data,
                             page_model=model if hasattr(model, "layers") else None, note=note)


def _model_stem(text: str | None, path: Path | None) -> str:
    """A file-name stem for a model argument: its own, ``NAME-vVERSION`` style for a reference."""
    if text is None:
        return "bundled"
    if path is not None and text == str(path):
        return path.stem
    return text.removeprefix("models:/").replace("/", "-v").replace("@", "-")


def _evaluation_model(path: Path | None):
    """(model, crop size): a Keras model for .keras files and the bundled model, a runtime classifier otherwise."""
    if path is not None and path.suffix in (".onnx", ".tflite"):
        from emodet.inference.runtime import load_classifier

        classifier = load_classifier(path)
        return classifier, classifier.image_size
    from emodet.models.classifier import describe, load_model

    if path is None:
        from emodet.bundled import load_bundled_model

        model = load_bundled_model()
    else:
        model = load_model(path)
    return model, describe(model).crop_size


def _add_compare(verbs) -> None:
    p = verbs.add_parser("compare", help="is a candidate model really better than the current one?",
                         description="Scores both models on the same images: the new data's split and a reference "
                                     "split of the old data. Prints accuracy, the difference with its paired "
                                     "bootstrap 95%% interval and an exact McNemar test, and the verdict of the "
                                     "promotion rule (better on the new data at p < 0.05, and not worse on the "
                                     "reference than --tolerance points). Exit status 0: promote; 1: do not.")
    p.add_argument("candidate", help="the candidate model (.keras, .onnx or .tflite, or models:/NAME/VERSION)")
    p.add_argument("--current", help="the current model (default: the bundled model; e.g. models:/emodet@champion)")
    p.add_argument("--data", required=True, help="the new data (e.g. folder:DIR)")
    p.add_argument("--split", default="test", help="its split to score (default test: promoting is the final decision "
                                                  "on a model already chosen, made on images it was not chosen on)")
    p.add_argument("--reference", help="the old data's source (e.g. fer2013:CSV); optional")
    p.add_argument("--reference-split", default="val", help="default val (FER2013 PublicTest: PrivateTest "
                                                           "stays the final report)")
    p.add_argument("--tolerance", type=float, default=1.0, help="points the candidate may lose on the reference")
    p.add_argument("--drop-unknown-classes", action="store_true", help="as for evaluate")
    p.add_argument("--json", type=Path, help="write the comparison to this JSON file")
    p.add_argument("--promote", action="store_true",
                   help="when the verdict is promote, point the current reference's alias (default champion) at "
                        "the candidate's registry version and keep this comparison with it")
    add_registry_option(p)
    p.set_defaults(handler=_run_compare)


def _run_compare(args) -> int:
    from emodet.data.classmatch import match_classes
    from emodet.data.sources import load_split
    from emodet.evaluation.compare import format_comparisons, paired_comparison, promotion_verdict
    from emodet.evaluation.metrics import model_classes, predict_proba

    if args.tolerance < 0:
        raise EmodetError(f"--tolerance must be zero or positive (points of accuracy), got {args.tolerance}")
    if args.promote and not is_reference(args.candidate):
        raise EmodetError(f"--promote needs the candidate as a registry reference (models:/NAME/VERSION), got "
                          f"{args.candidate}; register it first with `emodet registry add {args.candidate} --name NAME`")
    candidate, size = _evaluation_model(model_location(args.candidate, args.registry))
    current, current_size = _evaluation_model(model_location(args.current, args.registry))
    if model_classes(candidate) != model_classes(current):
        raise EmodetError(f"the candidate predicts {list(model_classes(candidate))} but the current model "
                          f"{list(model_classes(current))}; compare models with the same classes")
    rows = []
    for source, split in ((args.data, args.split), (args.reference, args.reference_split)):
        if not source:
            continue
        data = match_classes(load_split(source, split, image_size=max(size, current_size)), model_classes(current),
                             drop_unknown=args.drop_unknown_classes)
        predictions = [predict_proba(model, data).argmax(axis=1) for model in (current, candidate)]
        rows.append(paired_comparison(f"{source.split(':')[0]} {split}", data.labels, *predictions))
    print(format_comparisons(rows))
    promote, why = promotion_verdict(rows[0], rows[-1], tolerance=args.tolerance / 100)
    print(("promote: " if promote else "do not promote: ") + why)
    comparison = {"promote": promote, "why": why, "candidate": args.candidate, "current": args.current or "bundled",
                  "tolerance_points": args.tolerance, "sets": [r.to_dict() for r in rows]}
    if args.json:
        args.json.write_text(json.dumps(comparison, indent=2))
    if promote and args.promote:
        from emodet.registry.cli import promote_after_compare

        promote_after_compare(args.candidate, args.current, args.registry, comparison)
    elif args.promote:
        print("the registry is unchanged")
    return 0 if promote else EXIT_FAILURES


def _add_retrain(verbs) -> None:
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
    p.add_argument("--replay-share", type=float, default=0.8,
                   help="the old data's share of the training mix (default 0.8, chosen in docs/UPKEEP.md)")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate (default 1e-4, cosine-decayed)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--class-weight-power", type=float, default=0.0, metavar="P",
                   help="weight classes by inverse frequency to this power (0.5: the bundled recipe's; default 0, off)")
    p.add_argument("--augment-blur", type=float, default=0.0, metavar="SIGMA",
                   help="random Gaussian blur of up to SIGMA px on top of the standard augmentation (default 0)")
    p.add_argument("--precision", choices=PRECISIONS, default="float32",
                   help="mixed_bfloat16: 13%% faster for small_cnn on a CPU with BF16, slower for MobileNetV2 "
                        "(docs/BENCHMARKS.md); the model is saved float32")
    p.add_argument("--drop-unknown-classes", action="store_true", help="as for evaluate")
    p.add_argument("--teacher", dest="teachers", action="append", default=[], metavar="MODEL.keras",
                   help="distil from this model (repeatable: their probabilities are averaged, each with flip TTA) "
                        "into the targets; with --from-scratch use --set train.teachers=A,B")
    p.add_argument("--teacher-blend", type=float, default=0.5,
                   help="the teachers' share of the training targets (default 0.5; the rest is the label)")
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
                     replay_share=args.replay_share, epochs=args.epochs, learning_rate=args.lr, batch_size=args.batch_size,
                     drop_unknown=args.drop_unknown_classes, class_weight_power=args.class_weight_power,
                     augment_blur=args.augment_blur, precision=args.precision, teachers=args.teachers,
                     teacher_blend=args.teacher_blend, log=print)
    print(f"validation accuracy {result.val_accuracy:.4f} on the new data; model saved to {result.run_dir / 'best.keras'}")
    log_and_register(result.run_dir, args.register, args.registry)
    return 0


def _retrain_from_scratch(args) -> int:
    from emodet.config import load_config
    from emodet.training.run import train

    if args.teachers:
        raise EmodetError("with --from-scratch, name the teachers in the recipe: --set train.teachers=A.keras,B.keras")
    if args.class_weight_power or args.augment_blur or args.precision != "float32":
        raise EmodetError("with --from-scratch the recipe decides these: use --set train.class_weight_power=P, "
                          "--set model.augment_blur=S, --set train.precision=mixed_bfloat16")
    if args.model or not (args.config and args.replay):
        raise EmodetError("--from-scratch trains a new model: give --config (the recipe) and --replay (the old "
                          "data), and no model to start from")
    overrides = [*args.overrides, f"data.source={args.replay}", f"data.extra_source={args.data}",
                 f"data.extra_drop_unknown={str(args.drop_unknown_classes).lower()}"]
    return _trained(train(load_config(args.config, overrides), args.run_dir, verbose=2, log=print), args)


def _add_shard(verbs) -> None:
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


def _add_drift(verbs) -> None:
    from emodet.evaluation.drift import DEFAULT_THRESHOLDS

    p = verbs.add_parser("drift", help="has production output drifted from the model's validation profile?",
                         description="Compares the faces of `emodet detect --jsonl` output (no labels needed) with "
                                     "a model's profile (profile.json of its training run; default: the bundled "
                                     "model's): PSI of the predicted-emotion mix, change of mean confidence and of "
                                     "mean entropy. Exit status 0: no drift; 1: drift (time to evaluate on newly "
                                     "labelled data).")
    p.add_argument("jsonl", type=Path, help="a window of `emodet detect --jsonl` output")
    p.add_argument("--profile", help="profile.json of the model's training run, or a registry reference "
                                     "(models:/NAME@ALIAS: its version's profile; default: the bundled model's)")
    p.add_argument("--plot", type=Path, help="write a PNG of the class shares, reference beside window")
    p.add_argument("--json", type=Path, help="write the drift report to this JSON file")
    for name, value in DEFAULT_THRESHOLDS.items():
        p.add_argument(f"--max-{name}", type=float, default=value, help=f"threshold (default {value})")
    add_registry_option(p)
    p.set_defaults(handler=_run_drift)


def _run_drift(args) -> int:
    from emodet.evaluation.drift import DEFAULT_THRESHOLDS, check_drift, load_profile, probs_from_jsonl

    if args.profile is None:
        from emodet.bundled import bundled_profile_path

        args.profile = bundled_profile_path()
    elif is_reference(args.profile):
        args.profile = model_location(args.profile, args.registry).with_name("profile.json")
    reference = load_profile(Path(args.profile))
    thresholds = {name: getattr(args, f"max_{name}") for name in DEFAULT_THRESHOLDS}
    report = check_drift(reference, probs_from_jsonl(args.jsonl, reference.class_names), thresholds)
    print(report.verdict())
    if args.plot:
        print(f"plot written to {report.plot(args.plot)}")
    if args.json:
        args.json.write_text(json.dumps(report.to_dict(), indent=2))
    return EXIT_FAILURES if report.drifted else 0


def _add_report(verbs) -> None:
    p = verbs.add_parser("report", help="write an HTML report (figures, metrics, Grad-CAM) for a training run",
                         description="Evaluate RUN_DIR/best.keras on a split of the run's dataset and write one "
                                     "self-contained HTML page (report-SPLIT.html), its figures as PNG files and "
                                     "the evaluation JSON into the run directory.")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory written by `emodet train`")
    p.add_argument("--split", default="val", help=SPLIT_HELP)
    p.add_argument("--data", help="dataset, if it moved since training (default: the run's data.source)")
    p.add_argument("--tta", action="store_true", help="average predictions with horizontally flipped images")
    p.add_argument("--output", type=Path, help="HTML file to write (default: RUN_DIR/report-SPLIT.html)")
    p.add_argument("--batch-size", type=int, default=128)
    p.set_defaults(handler=_run_report)


def _run_report(args) -> int:
    from emodet.evaluation.html_report import report_run

    if args.batch_size < 1:
        raise EmodetError(f"--batch-size must be at least 1, got {args.batch_size}")
    path = report_run(args.run_dir, args.split, output=args.output, source=args.data, tta=args.tta,
                      batch_size=args.batch_size)
    print(f"written to {path} (figures in {path.with_name(path.stem + '_figures')})")
    return 0


def _add_detect(verbs) -> None:
    p = verbs.add_parser("detect", help="find faces and their emotions in images, folders, videos and streams",
                         description="SOURCE: an image, a directory (searched recursively, symlinked folders not "
                                     "followed), a glob, a video file, a webcam index (0) or a stream URL (rtsp://, "
                                     "http://). A bad input is recorded and skipped; the exit status is 1 if any "
                                     "input failed. Every output survives an interruption (Ctrl-C, SIGTERM: the "
                                     "current record is finished, outputs are closed and the summary printed) and "
                                     "holds each record once after --resume.")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--model", help="a .keras, .onnx or .tflite model, or a registry version: models:/NAME@ALIAS "
                                   "or models:/NAME/VERSION (default: the bundled model)")
    add_registry_option(p)
    p.add_argument("--detector", help="face detector: yunet (default), mtcnn (slower, most robust on turned faces) "
                                      "or blazeface")
    p.add_argument("--json", type=Path,
                   help="write all results as one JSON array to this file, rebuilt from the run's journal "
                        "(the --jsonl file, or FILE.journal.jsonl beside it) when the run ends or is interrupted")
    p.add_argument("--jsonl", type=Path, help="write one JSON object per image or frame to this file, as it goes")
    p.add_argument("--csv", type=Path, help="write one row per face to this CSV file, as it goes")
    p.add_argument("--save", type=Path, metavar="DIR", help="save annotated images and videos into DIR")
    p.add_argument("--stride", type=int, default=1, help="on video, process every N-th frame")
    p.add_argument("--smoothing", type=float, default=None,
                   help="on video, weight of the past in each face's moving average (0 = off, default 0.6)")
    p.add_argument("--tta", action="store_true",
                   help="average each face with its mirror image (slightly more accurate, half the speed)")
    p.add_argument("--max-side", type=int, default=None, metavar="PIXELS",
                   help="shrink images to at most this many pixels on their longer side before face detection "
                        "(mtcnn and yunet; default 640; 0 = never shrink, for small faces in very wide or tall "
                        "images, slower)")
    p.add_argument("--resume", action="store_true",
                   help="skip inputs already finished in the outputs of an earlier run (read from its journal) "
                        "and add the rest; inputs that failed are skipped too, unless --retry-failed")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume, process again the inputs that failed (their error records are replaced)")
    p.add_argument("--quiet", action="store_true", help="no table and no progress bar; only the summary")
    p.add_argument("--verbose", action="store_true",
                   help="show the libraries' own messages (OpenCV, ffmpeg, Pillow), hidden by default")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: a pool of Ray actors, one core each, results in "
                        "--output-dir (needs the ray extra)")
    p.add_argument("--output-dir", type=Path, help="with --engine ray: where the part-NNNNN.jsonl shards go; a rerun "
                                                   "skips the inputs already there")
    p.add_argument("--parquet", action="store_true",
                   help="with --engine ray: also write each shard as part-NNNNN.parquet (the same records and fields)")
    p.add_argument("--workers", type=int, help="with --engine ray: actors (default: the cluster's CPUs)")
    p.add_argument("--frames-per-task", type=int,
                   help="with --engine ray: cut videos into ranges of this many frames, each a task any actor may "
                        "take (default 300), so one long video uses many workers")
    p.add_argument("--gpus-per-worker", type=float,
                   help="with --engine ray: GPUs each actor holds (e.g. 1, or 0.5 to share one between two); "
                        "--workers then defaults to the cluster's GPUs divided by this")
    p.add_argument("--decode-in-tasks", action="store_true", default=None,
                   help="with --engine ray: decode images in Ray tasks ahead of the actors (default: only when the "
                        "actors hold GPUs; a local Ray then gets one CPU more than --workers for them)")
    p.add_argument("--address", help="with --engine ray: a running Ray cluster to join (HOST:6379, or auto); "
                                     "default: Ray started in this process")
    p.set_defaults(handler=_run_detect)


def _run_detect(args) -> int:
    from emodet.inference.batch import process
    from emodet.inference.pipeline import DEFAULT_SMOOTHING, EmotionDetector
    from emodet.inference.sinks import AnnotatedSaver
    from emodet.inference.sources import expand_sources

    _check_detect_args(args)
    if not args.verbose:
        _quiet_media_libraries()
    if args.engine == "ray":
        return _detect_on_ray(args)
    options = {} if args.max_side is None else {"max_side": args.max_side or None}
    detector = EmotionDetector(model_location(args.model, args.registry), args.detector, detector_options=options,
                               tta=args.tta, smoothing=DEFAULT_SMOOTHING if args.smoothing is None else args.smoothing)
    class_names = detector.class_names  # load the model and the face detector now, so a bad --model
    detector.face_detector  # or --detector fails before any work is done
    inputs = expand_sources(args.sources)
    outputs = _DetectOutputs(args, class_names)
    if args.resume:
        skipped = [i for i in inputs if i.name in outputs.done]
        inputs = [i for i in inputs if i.name not in outputs.done]
        retried = sum(i.name in outputs.retried for i in inputs)
        print(f"resuming: {len(skipped)} input(s) already done, {len(inputs)} to go"
              + (f" ({retried} failed before, retried)" if retried else ""))
    saver = AnnotatedSaver(args.save) if args.save else None
    tally = _Tally()
    with _StopOnSignal() as stop:
        try:
            with _Progress(inputs, enabled=not args.quiet) as progress:
                for record in process(detector, inputs, stride=args.stride, saver=saver, on_frame=progress.frame):
                    outputs.write(record)
                    tally.add(record)
                    if not args.quiet:
                        _print_record(record, progress.write)
                    if record.result is None or record.result.frame_index is None:
                        progress.input_done()
                    if stop.signal:
                        break
        finally:
            outputs.close()
            if saver is not None:
                saver.close()
    print(tally.summary())
    earlier_failures = len(outputs.failed_before - outputs.retried)
    if earlier_failures:
        print(f"{earlier_failures} input(s) failed in an earlier part of this run and were skipped "
              "(--retry-failed tries them again)")
    if stop.signal:
        print(f"interrupted by {stop.signal_name}: the outputs hold every finished input; "
              "continue with the same command and --resume", file=sys.stderr)
        return 128 + stop.signal
    return EXIT_FAILURES if tally.failures or earlier_failures else 0


def _detect_on_ray(args) -> int:
    try:
        from emodet.inference.ray_engine import detect_with_ray
    except ImportError as exc:
        raise EmodetError(f"--engine ray needs Ray ({exc}); install it with pip install \"emodet[ray]\"") from None
    unsupported = [flag for flag, value in (("--json", args.json), ("--jsonl", args.jsonl), ("--csv", args.csv),
                                            ("--save", args.save), ("--resume", args.resume), ("--tta", args.tta))
                   if value]
    if unsupported or not args.output_dir:
        raise EmodetError("--engine ray writes its results into --output-dir (JSON Lines shards) and always resumes; "
                          + (f"{', '.join(unsupported)} go with the local engine" if unsupported
                             else "give --output-dir"))
    for flag, value in (("--workers", args.workers), ("--frames-per-task", args.frames_per_task)):
        if value is not None and value < 1:
            raise EmodetError(f"{flag} must be at least 1, got {value}")
    if args.gpus_per_worker is not None and args.gpus_per_worker <= 0:
        raise EmodetError(f"--gpus-per-worker must be positive (leave it out for CPU-only actors), got {args.gpus_per_worker}")
    model = model_location(args.model, args.registry)
    summary = detect_with_ray(args.sources, args.output_dir, model=str(model) if model else None,
                              detector=args.detector, workers=args.workers, address=args.address,
                              stride=args.stride, retry_failed=args.retry_failed, parquet=args.parquet,
                              decode_in_tasks=args.decode_in_tasks, gpus_per_worker=args.gpus_per_worker or 0.0,
                              **({"frames_per_task": args.frames_per_task} if args.frames_per_task else {}))
    print(f"{summary.inputs} input(s) processed, {summary.skipped} already done; {summary.records} record(s), "
          f"{summary.faces} face(s), {len(summary.failures)} failed; results in {summary.output_dir}")
    if summary.replaced_workers:
        print(f"{summary.replaced_workers} worker(s) died and were replaced; Ray retried their unfinished batches "
              "(every input above has its records)")
    for source, error in summary.failures[:5]:
        print(f"  failed: {source}: {error}")
    return EXIT_FAILURES if summary.failures else 0


def _check_detect_args(args) -> None:
    if args.stride < 1:
        raise EmodetError(f"--stride must be at least 1, got {args.stride}")
    if args.smoothing is not None and not 0 <= args.smoothing < 1:
        raise EmodetError(f"--smoothing must be in [0, 1) (0 turns it off), got {args.smoothing}")
    if args.max_side is not None and args.max_side != 0 and args.max_side < 64:
        raise EmodetError(f"--max-side must be 0 (never shrink) or at least 64 pixels, got {args.max_side}")
    if args.resume and not (args.jsonl or args.csv or args.json):
        raise EmodetError("--resume needs --jsonl, --csv or --json: the outputs that record which inputs are done")
    if args.retry_failed and not args.resume and args.engine != "ray":
        raise EmodetError("--retry-failed goes with --resume (it says what to do with inputs that failed before)")
    ray_only = [flag for flag, value in (("--output-dir", args.output_dir), ("--parquet", args.parquet),
                                         ("--workers", args.workers), ("--address", args.address),
                                         ("--frames-per-task", args.frames_per_task),
                                         ("--decode-in-tasks", args.decode_in_tasks),
                                         ("--gpus-per-worker", args.gpus_per_worker)) if value]
    if ray_only and args.engine != "ray":
        raise EmodetError(f"{', '.join(ray_only)} go(es) with --engine ray; the local engine writes --jsonl/--csv/--json")


class _DetectOutputs:
    """The run's journal and the sinks the user asked for, opened for a new run or a resume."""

    def __init__(self, args, class_names):
        try:
            self._open(args, class_names)
        except OSError as exc:
            raise EmodetError(f"cannot write the output file {exc.filename or ''}: {exc.strerror or exc}; "
                              "choose a folder that exists and is writable") from None

    def _open(self, args, class_names) -> None:
        from emodet.inference.sinks import CsvSink, Journal, JsonSink, journal_path

        path = journal_path(args.jsonl, args.json, args.csv)
        self.journal = Journal(path, resume=args.resume, retry_failed=args.retry_failed) if path else None
        self.done = self.journal.done if self.journal else set()
        self.retried = self.journal.retried if self.journal else set()
        self.failed_before = self.journal.failed_before if self.journal else set()
        self.sinks = []
        if args.json:
            self.sinks.append(JsonSink(args.json, self.journal))
        if args.csv:
            self.sinks.append(CsvSink(args.csv, class_names, self.journal, resume=args.resume))

    def write(self, record) -> None:
        if self.journal is not None:
            self.journal.write(record)
        for sink in self.sinks:
            sink.write(record)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
        for sink in self.sinks:
            sink.close()


class _StopOnSignal:
    """SIGINT/SIGTERM set ``signal`` (the loop finishes its record and stops); a second one interrupts at once."""

    def __init__(self):
        self.signal = 0
        self.signal_name = ""
        self.previous = {}

    def __enter__(self):
        import signal

        for number in (signal.SIGINT, signal.SIGTERM):
            self.previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number, frame):
        import signal

        if self.signal:
            raise KeyboardInterrupt
        self.signal, self.signal_name = number, signal.Signals(number).name

    def __exit__(self, *exc):
        import signal

        for number, handler in self.previous.items():
            signal.signal(number, handler)


def _quiet_media_libraries() -> None:
    """Hide OpenCV's, ffmpeg's and Pillow's own messages: the command reports problems itself."""
    import warnings

    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    warnings.filterwarnings("ignore", module="PIL")


class _Tally:
    def __init__(self):
        self.images = self.frames = self.faces = 0
        self.failures: list[tuple[str, str]] = []

    def add(self, record) -> None:
        if record.error:
            self.failures.append((record.source, record.error))
        elif record.result is not None:
            self.faces += len(record.result.faces)
            if record.result.frame_index is None:
                self.images += 1
            else:
                self.frames += 1

    def summary(self) -> str:
        lines = [f"{self.images} image(s), {self.frames} video frame(s), {self.faces} face(s), "
                 f"{len(self.failures)} failed"]
        lines += [f"  failed: {source}: {error}" for source, error in self.failures]
        return "\n".join(lines)


class _Progress:
    """A progress bar on stderr over inputs, showing frames per second on video."""

    def __init__(self, inputs, enabled: bool):
        import time

        from tqdm import tqdm

        show = enabled and sys.stderr.isatty() and (len(inputs) > 1 or any(i.kind != "image" for i in inputs))
        self.bar = tqdm(total=len(inputs), unit="input", disable=not show, file=sys.stderr, leave=False,
                        dynamic_ncols=True)
        self.clock = time.monotonic
        self.start = self.clock()
        self.frames = 0

    def frame(self) -> None:
        self.frames += 1
        if self.frames % 10 == 0:
            rate = self.frames / max(self.clock() - self.start, 1e-9)
            self.bar.set_postfix_str(f"{self.frames} frames, {rate:.1f} fps")

    def input_done(self) -> None:
        self.bar.update(1)

    def write(self, text: str) -> None:
        self.bar.write(text, file=sys.stdout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()


def _print_record(record, write) -> None:
    if record.error:
        write(f"{record.source}: error: {record.error}")
        return
    result = record.result
    if result is None:
        return
    where = record.source if result.frame_index is None else f"{record.source} frame {result.frame_index} " \
                                                              f"({result.timestamp:.2f}s)"
    if record.note:
        write(f"{where}: note: {record.note}")
    if not result.faces:
        if result.frame_index is None:
            write(f"{where}: no face found")
        return
    for face in result.faces:
        x, y, w, h = (int(round(v)) for v in face.box)
        top = ", ".join(f"{name} {p:.2f}" for name, p in face.top(3))
        track = f" #{face.track_id}" if face.track_id is not None else ""
        write(f"{where}{track}: {face.label:<8} {face.score:5.1%}  box {x},{y},{w}x{h}  [{top}]")


def _add_serve(verbs) -> None:
    from emodet.serving.settings import API_KEY_ENV, ServeSettings

    d = ServeSettings()
    p = verbs.add_parser("serve", help="an HTTP API and a live webcam page (FastAPI on uvicorn)",
                         description="POST /v1/detect (an image) -> faces and emotions as JSON; GET /v1/model; "
                                     "GET /healthz, /readyz; WebSocket /v1/stream for live frames; the webcam page "
                                     "at /; OpenAPI docs at /docs. Binds 127.0.0.1 unless --host says otherwise.")
    p.add_argument("--model", help="a .keras, .onnx or .tflite model or models:/NAME@ALIAS (default: the bundled model)")
    add_registry_option(p)
    p.add_argument("--detector", help="face detector (default: emodet's default)")
    p.add_argument("--host", default=d.host, help=f"address to bind (default {d.host}; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=d.port)
    p.add_argument("--api-key", help=f"require this key on /v1/* (default: ${API_KEY_ENV} when set)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin (repeatable; CORS is off by default)")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_bytes / 2 ** 20)
    p.add_argument("--max-pixels", type=int, default=d.max_pixels)
    p.add_argument("--queue-size", type=int, default=d.queue_size, help="requests in flight before 503")
    p.add_argument("--timeout", type=float, default=d.timeout_s, help="seconds per request before 504")
    p.add_argument("--workers", type=int, default=d.workers, help="threads decoding and detecting faces")
    p.add_argument("--library-threads", type=int, default=d.library_threads,
                   help=f"OpenCV threads per call (default {d.library_threads}: the workers run requests in "
                        "parallel; 0: OpenCV's default, one per core)")
    p.add_argument("--no-batching", action="store_true", help="classify each request's faces on their own")
    p.add_argument("--batch-wait-ms", type=float, default=d.batch_wait_ms)
    p.set_defaults(handler=_run_serve)


def _run_serve(args) -> int:
    import uvicorn

    from emodet.serving.app import create_app
    from emodet.serving.settings import API_KEY_ENV, ServeSettings

    for name, value, low in (("--port", args.port, 1), ("--queue-size", args.queue_size, 1),
                             ("--workers", args.workers, 1), ("--max-pixels", args.max_pixels, 1)):
        if value < low:
            raise EmodetError(f"{name} must be at least {low}, got {value}")
    if args.library_threads < 0:
        raise EmodetError(f"--library-threads must be 0 (OpenCV's default) or more, got {args.library_threads}")
    if args.timeout <= 0 or args.max_upload_mb <= 0 or args.batch_wait_ms < 0:
        raise EmodetError("--timeout and --max-upload-mb must be positive and --batch-wait-ms not negative")
    model = model_location(args.model, args.registry)
    version = None
    if is_reference(args.model):
        from emodet.registry.store import open_registry

        version = open_registry(args.registry, create=False).resolve(args.model).version
    settings = ServeSettings(model=str(model) if model else None, model_name=args.model, model_version=version,
                             detector=args.detector, host=args.host, port=args.port,
                             api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
                             cors_origins=tuple(args.cors_origin), max_upload_bytes=int(args.max_upload_mb * 2 ** 20),
                             max_pixels=args.max_pixels, queue_size=args.queue_size, timeout_s=args.timeout,
                             workers=args.workers, batching=not args.no_batching, batch_wait_ms=args.batch_wait_ms,
                             library_threads=args.library_threads)
    _quiet_media_libraries()
    print(f"emodet serve: http://{args.host}:{args.port}/ (API docs at /docs; ready once /readyz answers 200)"
          + ("; API key required" if settings.api_key else ""), flush=True)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning",
                timeout_graceful_shutdown=int(settings.timeout_s) + 5)
    return 0


def _add_export(verbs) -> None:
    p = verbs.add_parser("export", help="export a .keras model to ONNX, TFLite or a TensorFlow SavedModel",
                         description="The exported model keeps its class names and input contract and runs "
                                     "in `emodet detect --model` without TensorFlow (ONNX, TFLite).")
    p.add_argument("model", nargs="?", help="a .keras model or models:/NAME@ALIAS (default: the bundled model)")
    p.add_argument("--format", choices=("onnx", "tflite", "saved_model"), required=True)
    p.add_argument("--int8", metavar="SOURCE",
                   help="ONNX: quantize to 8 bits, calibrated on faces of this dataset's training split "
                        "(e.g. fer2013:fer2013.csv.gz); about 3x faster at batch 1, a quarter of the size")
    add_registry_option(p)
    p.add_argument("--output", type=Path,
                   help="output file or directory (default: the model's file name with the format's suffix, "
                        "in the current directory)")
    p.set_defaults(handler=_run_export)


def _run_export(args) -> int:
    from emodet.exporter import export

    suffix = {"onnx": ".onnx", "tflite": ".tflite", "saved_model": "_saved_model"}[args.format]
    if args.model is None:
        from emodet.bundled import MODEL_NAME, load_bundled_model

        source, name, stem = load_bundled_model(), "the bundled model", MODEL_NAME
    else:
        source, name = model_location(args.model, args.registry), args.model
        stem = _model_stem(args.model, source)
    calibration = None
    if args.int8 and args.format != "onnx":
        raise EmodetError(f"--int8 quantizes ONNX exports; use --format onnx (got --format {args.format})")
    if args.int8:
        from emodet.data.sources import load_split

        calibration, stem = load_split(args.int8, "train"), stem + ".int8"
    written = export(source, args.output or Path(stem + suffix), args.format, int8_calibration=calibration)
    print(f"exported {name} to {written}")
    return 0


def _add_info(verbs) -> None:
    p = verbs.add_parser("info", help="show the backbones, label sets and (optionally) a model's contract")
    p.add_argument("model", nargs="?", help="a .keras model (or models:/NAME@ALIAS) to describe")
    add_registry_option(p)
    p.set_defaults(handler=_run_info)


def _run_info(args) -> int:
    from emodet import __version__
    from emodet.labels import FER7, FERPLUS8

    print(f"emodet {__version__}")
    if args.model:
        from emodet.models.classifier import describe, load_model

        print(json.dumps(describe(load_model(model_location(args.model, args.registry))).__dict__, indent=2))
        return 0
    from emodet.models.backbones import BACKBONES

    print("backbones:")
    for spec in BACKBONES.values():
        print(f"  {spec.name:<18} {spec.input_size:>3}px  {spec.description}")
    print(f"label sets:\n  FER7      {', '.join(FER7)}\n  FERPLUS8  {', '.join(FERPLUS8)}")
    return 0


_VERBS = [_add_detect, _add_serve, _add_train, _add_tune, _add_evaluate, _add_retrain, _add_compare, _add_shard,
          _add_drift, add_registry_verb, _add_report, _add_export, _add_info]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
