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

from emodet.errors import EmodetError

EXIT_USAGE = 2
EXIT_FAILURES = 1


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # the command talks to people, not TensorFlow's logs
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.handler(args) or 0
    except EmodetError as exc:
        print(f"emodet {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"emodet {args.command}: interrupted", file=sys.stderr)
        return 130


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
    p.set_defaults(handler=_run_train)


def _run_train(args) -> int:
    from emodet.config import load_config
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
    run_dir = args.run_dir or default_run_dir(config)
    print(f"run directory: {run_dir}")
    result = train(config, run_dir, resume=args.resume, verbose=2 if args.quiet else 1, log=print)
    print(result.val_report.format_table())
    print(f"best epoch {result.best_epoch}; model saved to {run_dir / 'best.keras'}")
    return 0


def _add_evaluate(verbs) -> None:
    p = verbs.add_parser("evaluate", help="evaluate a model on a dataset split",
                         description="Accuracy, precision, recall, F1 (macro, weighted, per class) and the "
                                     "confusion matrix; written as JSON and printed as a table.")
    p.add_argument("model", type=Path, help="a .keras model (e.g. runs/NAME/best.keras)")
    p.add_argument("--data", required=True, help="dataset: fer2013:CSV, ferplus:FER2013_CSV,FERPLUS_CSV or folder:DIR")
    p.add_argument("--split", default="test", help="train, val or test (FER2013: Training, PublicTest, PrivateTest)")
    p.add_argument("--tta", action="store_true", help="average predictions with horizontally flipped images")
    p.add_argument("--output", type=Path, help="JSON file to write (default: beside the model)")
    p.add_argument("--batch-size", type=int, default=128)
    p.set_defaults(handler=_run_evaluate)


def _run_evaluate(args) -> int:
    from emodet.data.sources import load_split, split_name
    from emodet.evaluation.metrics import evaluate
    from emodet.models.classifier import describe, load_model

    if args.batch_size < 1:
        raise EmodetError(f"--batch-size must be at least 1, got {args.batch_size}")
    model = load_model(args.model)
    split = split_name(args.split)
    data = load_split(args.data, split, image_size=describe(model).image_size)
    report = evaluate(model, data, tta=args.tta, batch_size=args.batch_size)
    output = args.output or args.model.with_name(f"{args.model.stem}.eval-{split}{'-tta' if args.tta else ''}.json")
    report.save_json(output)
    print(report.format_table())
    print(f"written to {output}")
    return 0


def _add_info(verbs) -> None:
    p = verbs.add_parser("info", help="show the backbones, label sets and (optionally) a model's contract")
    p.add_argument("model", nargs="?", type=Path, help="a .keras model to describe")
    p.set_defaults(handler=_run_info)


def _run_info(args) -> int:
    from emodet import __version__
    from emodet.labels import FER7, FERPLUS8

    print(f"emodet {__version__}")
    if args.model:
        from emodet.models.classifier import describe, load_model

        print(json.dumps(describe(load_model(args.model)).__dict__, indent=2))
        return 0
    from emodet.models.backbones import BACKBONES

    print("backbones:")
    for spec in BACKBONES.values():
        print(f"  {spec.name:<18} {spec.input_size:>3}px  {spec.description}")
    print(f"label sets:\n  FER7      {', '.join(FER7)}\n  FERPLUS8  {', '.join(FERPLUS8)}")
    return 0


_VERBS = [_add_train, _add_evaluate, _add_info]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
