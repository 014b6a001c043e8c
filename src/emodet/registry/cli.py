"""``emodet registry``: add, list, promote and roll back model versions (one command each).

Also the ``--registry`` option every verb that takes a model shares, and the helpers the other
verbs use to log their runs and resolve ``models:/`` references.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from emodet.registry.references import is_reference, parse_reference
from emodet.registry.store import DEFAULT_ALIAS, REGISTRY_ENV

_REGISTRY_HELP = (f"model registry: a folder (a local MLflow store, created on first use) or an MLflow tracking "
                  f"URI (default: ${REGISTRY_ENV}); needed for models:/NAME@ALIAS and models:/NAME/VERSION")


def add_registry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--registry", help=_REGISTRY_HELP)


def model_location(text: str | None, registry: str | None) -> Path | None:
    """A model argument as a local path: a ``models:/`` reference is downloaded from the registry."""
    if text is None:
        return None
    if not is_reference(text):
        return Path(text)
    return _open(registry).model_path(text)


def model_and_version(text: str | None, registry: str | None) -> tuple[Path | None, str | None]:
    """:func:`model_location` plus the registry version it is (``None`` for a file): one lookup, so
    an alias moved meanwhile cannot pair one version's file with another's number."""
    if not is_reference(text):
        return model_location(text, registry), None
    store = _open(registry)
    found = store.resolve(text)
    return store.model_file(found), found.version


def _logs_runs(name: str | None, registry: str | None) -> bool:
    """Whether a training run is logged: when a registry is named, or a model name to register under."""
    return bool(name or registry or os.environ.get(REGISTRY_ENV, "").strip())


def check_registry(name: str | None, registry: str | None) -> None:
    """Before a training run: a registry it will be logged to must be usable now, not after hours."""
    if _logs_runs(name, registry):
        _open(registry, create=True)


def log_and_register(run_dir: Path, name: str | None, registry: str | None, say=print) -> None:
    """After ``train``/``retrain``: log the finished run when a registry is named, and register its
    model as a version of ``name`` when given (aliases untouched)."""
    if not _logs_runs(name, registry):
        return
    store = _open(registry, create=True)
    run_id = store.log_run(run_dir)
    if not name:
        say(f"logged to the registry {store.where} as MLflow run {run_id} (register it with "
            f"`emodet registry add {run_dir} --name NAME`)")
        return
    version = store.register(run_id, name)
    parent = f", parent version {version.parent}" if version.parent else ""
    say(f"registered as models:/{name}/{version.version} in {store.where} (MLflow run {run_id}{parent}); "
        f"compare it with `emodet compare models:/{name}/{version.version} --current models:/{name}@{DEFAULT_ALIAS} "
        "... --promote`")


def quiet_mlflow() -> None:
    """No MLflow start-up logs or download progress bars in the command's output."""
    import logging

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        import mlflow  # noqa: F401  (configures its loggers on import: quieten them after)
    except ImportError as exc:
        from emodet.errors import ConfigError

        raise ConfigError(f"the model registry needs MLflow, which is not installed ({exc}); install it with "
                          "pip install \"emodet[registry]\"") from None
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def add_registry_verb(verbs) -> None:
    p = verbs.add_parser("registry", help="the model registry (MLflow): add, list, promote, roll back",
                         description="Versions of a registered model with their lineage (parent version, data "
                                     "fingerprints, the comparison that promoted them) and aliases such as "
                                     f"'{DEFAULT_ALIAS}' for the deployed one. Other verbs load a version with "
                                     f"--model models:/NAME@{DEFAULT_ALIAS} or models:/NAME/VERSION.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="log a training run folder or a model file and register it as a new version")
    add.add_argument("source", nargs="?", help="a run folder of train/retrain, or a .keras/.onnx/.tflite file "
                                               "(default: the bundled model)")
    add.add_argument("--name", required=True, help="the registered model's name, e.g. emodet")
    add.add_argument("--parent", help="the version it was trained from (default: found from the run's lineage)")
    add.add_argument("--alias", help=f"also point this alias at it, e.g. {DEFAULT_ALIAS} for the first version")
    add_registry_option(add)
    add.set_defaults(handler=_run_add)

    show = actions.add_parser("list", help="the versions of a registered model with their metrics and lineage")
    show.add_argument("name")
    show.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_registry_option(show)
    show.set_defaults(handler=_run_list)

    promote = actions.add_parser("promote", help="point an alias at a version (after `emodet compare`)")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--alias", default=DEFAULT_ALIAS)
    promote.add_argument("--comparison", type=Path, help="the JSON written by `emodet compare --json`, kept with it")
    add_registry_option(promote)
    promote.set_defaults(handler=_run_promote)

    rollback = actions.add_parser("rollback", help="point an alias back at the version it held before")
    rollback.add_argument("name")
    rollback.add_argument("--alias", default=DEFAULT_ALIAS)
    add_registry_option(rollback)
    rollback.set_defaults(handler=_run_rollback)


def _open(registry: str | None, create: bool = False):
    """The registry at ``registry`` (``create``: a new folder store is made), MLflow's chatter off."""
    quiet_mlflow()
    from emodet.registry.store import open_registry

    return open_registry(registry, create=create)


def _run_add(args) -> int:
    from emodet.registry.store import Registry

    Registry.check_name(args.name)  # before anything is written: a refused add changes nothing
    store = _open(args.registry, create=True)
    source = Path(args.source) if args.source else None
    if source is not None and source.is_dir():
        run_id = store.log_run(source)
    else:
        run_id = store.log_model_file(source)
    version = store.register(run_id, args.name, parent=args.parent)
    print(f"registered models:/{args.name}/{version.version} (MLflow run {run_id}) in {store.where}")
    if args.alias:
        store.promote(args.name, version.version, alias=args.alias)
        print(f"models:/{args.name}@{args.alias} -> version {version.version}")
    return 0


def _run_list(args) -> int:
    versions = _open(args.registry).versions(args.name, with_metrics=True)
    if args.json:
        print(json.dumps([v.to_dict() for v in versions], indent=2))
        return 0
    if not versions:
        print(f"{args.name}: no versions")
        return 0
    print(f"{'version':>7} {'aliases':<12} {'parent':>6} {'kind':<8} {'val acc':>7} {'macro F1':>8} "
          f"{'created':<16} train data")
    for v in versions:
        acc, f1 = v.metrics.get("best_val_accuracy"), v.metrics.get("best_val_macro_f1")
        print(f"{v.version:>7} {','.join(v.aliases) or '-':<12} {v.parent or '-':>6} "
              f"{v.tags.get('emodet.kind', ''):<8} "
              f"{_number(acc):>7} {_number(f1):>8} {time.strftime('%Y-%m-%d %H:%M', time.localtime(v.created)):<16} "
              f"{v.tags.get('emodet.train_fingerprint') or '-'}")
        if v.tags.get("emodet.comparison"):
            print(f"{'':>8} promoted: {json.loads(v.tags['emodet.comparison']).get('verdict', '')}")
        if v.tags.get("emodet.rolled_back_at"):
            print(f"{'':>8} rolled back at {v.tags['emodet.rolled_back_at']}")
    return 0


def _run_promote(args) -> int:
    comparison = json.loads(args.comparison.read_text()) if args.comparison else None
    previous = _open(args.registry).promote(args.name, args.version, alias=args.alias, comparison=comparison)
    was = f" (was version {previous.version})" if previous else ""
    print(f"models:/{args.name}@{args.alias} -> version {args.version}{was}")
    return 0


def _run_rollback(args) -> int:
    left, restored = _open(args.registry).rollback(args.name, alias=args.alias)
    print(f"models:/{args.name}@{args.alias} rolled back: version {left} -> version {restored}")
    return 0


def promote_after_compare(candidate: str, current: str | None, registry: str | None, comparison: dict,
                          say=print) -> None:
    """``emodet compare --promote``: the candidate reference's version takes the current reference's alias."""
    store = _open(registry)
    found = store.resolve(candidate)
    alias = parse_reference(current).alias if current and is_reference(current) else None
    alias = alias or DEFAULT_ALIAS
    previous = store.promote(found.name, found.version, alias=alias, comparison=comparison)
    say(f"promoted: models:/{found.name}@{alias} -> version {found.version}"
        + (f" (was version {previous.version}; undo with `emodet registry rollback {found.name}`)" if previous else ""))


def _number(value) -> str:
    return "-" if value is None else f"{value:.4f}"
