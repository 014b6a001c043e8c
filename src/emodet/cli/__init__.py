"""The ``emodet`` command: thin verbs over the public API (parse -> config -> API -> print).

Every user error (a bad file, setting or argument) is printed as one line and exits with
status 2; nothing the library raises for bad input reaches the user as a traceback. The verbs
live by what they serve: ``training`` (train, tune, retrain, shard), ``evaluation`` (evaluate,
compare, drift, report), ``detection`` (detect, summarize), ``deploy`` (serve, export); ``registry`` is in
:mod:`emodet.registry.cli`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from emodet.cli.common import EXIT_USAGE
from emodet.cli.deploy import add_export, add_serve
from emodet.cli.detection import add_detect, add_summarize
from emodet.cli.evaluation import add_compare, add_drift, add_evaluate, add_report
from emodet.cli.training import add_retrain, add_shard, add_train, add_tune
from emodet.errors import EmodetError
from emodet.extras import missing_extra, require
from emodet.registry.cli import add_registry_option, add_registry_verb, model_location

#: The extra each verb needs beyond the lean install (detect, summarize, info and drift need none; detect's and
#: summarize's --report need the report extra, which they check themselves).
_VERB_EXTRAS = {"train": "train", "tune": "train", "retrain": "train", "shard": "train", "evaluate": "train",
                "compare": "train", "report": "train", "export": "train", "serve": "serve", "registry": "registry"}


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
        if args.command in _VERB_EXTRAS:  # said before any work, not when the first import fails
            require(_VERB_EXTRAS[args.command], f"emodet {args.command}")
        return args.handler(args) or 0
    except EmodetError as exc:
        print(f"emodet {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as exc:  # an optional part that is not installed: say which extra brings it
        missing = missing_extra(exc, f"emodet {args.command}")
        if missing is None:
            raise
        print(f"emodet {args.command}: error: {missing}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        hint = f"; continue with: emodet train --run-dir {args.run_dir} --resume" \
            if args.command == "train" and args.run_dir else ""
        print(f"emodet {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`emodet info | head`): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return 0


def _needs_tensorflow(args) -> bool:
    if args.command in ("drift", "summarize"):
        return False
    if args.command == "registry":  # only to read the classes of a model file that has no profile beside it
        return args.action == "add" and bool(args.source) and not Path(args.source).is_dir()
    if args.command == "detect" and args.engine == "ray":  # the actors import what they need
        return False
    if args.command in ("detect", "serve"):  # the bundled model is ONNX; a models:/ reference may be either
        from emodet.inference.runtime import runs_without_tensorflow

        return not runs_without_tensorflow(args.model) or args.detector == "mtcnn"
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


def _add_info(verbs) -> None:
    p = verbs.add_parser("info", help="show the backbones, label sets and (optionally) a model's contract")
    p.add_argument("model", nargs="?", help="a .keras, .onnx or .tflite model (or models:/NAME@ALIAS) to describe")
    add_registry_option(p)
    p.set_defaults(handler=_run_info)


def _run_info(args) -> int:
    from emodet import __version__
    from emodet.labels import FER7, FERPLUS8

    print(f"emodet {__version__}")
    if args.model:
        from emodet.inference.loading import load_classifier

        classifier = load_classifier(model_location(args.model, args.registry))
        contract = classifier.metadata or {"class_names": classifier.class_names, "crop_size": classifier.image_size,
                                           "color_mode": classifier.color_mode}
        print(json.dumps(contract, indent=2))
        return 0
    from emodet.models.backbones import BACKBONES

    print("backbones:")
    for spec in BACKBONES.values():
        print(f"  {spec.name:<18} {spec.input_size:>3}px  {spec.description}")
    print(f"label sets:\n  FER7      {', '.join(FER7)}\n  FERPLUS8  {', '.join(FERPLUS8)}")
    return 0


_VERBS = [add_detect, add_summarize, add_serve, add_train, add_tune, add_evaluate, add_retrain, add_compare, add_shard,
          add_drift, add_registry_verb, add_report, add_export, _add_info]
