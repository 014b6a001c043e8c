"""The registry: training runs logged to MLflow, their models registered, promoted and rolled back.

A *location* is a folder (an embedded SQLite store, ``DIR/mlflow.db``, with artifacts in
``DIR/artifacts``: nothing to start) or any MLflow tracking URI (``http://mlflow.team:5000``,
``sqlite:///...``, ``databricks``), used as both tracking and registry URI. Each training run
becomes an MLflow run holding its config (params), metrics per epoch and final, the HTML report
and, under ``model/``, the model file and its validation profile. A registered version carries
tags ``emodet.*``: the model file's SHA-256, its classes, the parent version, the fingerprints of
its training and validation data, and after promotion the comparison that justified it. An alias
(``champion``) marks the deployed version; each registered model keeps the history of every
alias as a tag, so a rollback returns to the version it replaced.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from emodet.errors import ConfigError, RegistryError
from emodet.registry.references import parse_reference

REGISTRY_ENV = "EMODET_REGISTRY"
DEFAULT_ALIAS = "champion"
DEFAULT_EXPERIMENT = "emodet"
DB_FILE = "mlflow.db"
RUN_MARKER = "mlflow-runs.json"  # in a run folder: the MLflow run id it was logged as, per registry
MODEL_SUFFIXES = (".keras", ".onnx", ".tflite")
TAG = "emodet."
# A team server that does not answer should fail in seconds, not after MLflow's 7 retries over minutes.
_HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2", "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
                  "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}
LOCK_PREFIX = "emodet-lock."  # a registered model of this name + NAME.ALIAS holds an alias while it moves
LOCK_WAIT_S, LOCK_STALE_S = 60.0, 120.0
_RUN_FILES = ("config.yaml", "data.json", "history.csv", "metrics.json", "lineage.json", "report-val.html")


@dataclass(frozen=True)
class VersionInfo:
    """One registered version, as ``emodet registry list`` shows it."""

    name: str
    version: str
    aliases: tuple[str, ...]
    parent: str
    created: float
    run_id: str
    tags: dict
    metrics: dict

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def open_registry(location: str | os.PathLike | None = None, *, create: bool = True,
                  experiment: str = DEFAULT_EXPERIMENT) -> Registry:
    """The registry at ``location`` (default ``$EMODET_REGISTRY``); ``create=False`` refuses a folder
    that holds no registry yet instead of creating one."""
    location = location or os.environ.get(REGISTRY_ENV, "").strip()
    if not location:
        raise ConfigError(f"no model registry given; pass --registry DIR (a folder: a local MLflow store is "
                          f"created there) or an MLflow tracking URI, or set {REGISTRY_ENV}")
    text = str(location)
    if "://" in text or text == "databricks":
        if text.startswith(("http://", "https://")):
            for name, value in _HTTP_DEFAULTS.items():
                os.environ.setdefault(name, value)
        return Registry(text, None, experiment)
    folder = Path(text).expanduser().resolve()
    if not (folder / DB_FILE).is_file():
        if not create:
            raise RegistryError(f"there is no registry at {folder} (no {DB_FILE}); register a model first, e.g. "
                                f"`emodet registry add --registry {text} --name emodet --alias champion`")
        try:
            (folder / "artifacts").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryError(f"cannot create a registry in {folder} ({exc.strerror}); choose a folder "
                                "you can write to") from None
    elif not os.access(folder / DB_FILE, os.W_OK) and create:
        raise RegistryError(f"the registry {folder / DB_FILE} is read-only for you; ask its owner for write "
                            "access or use another --registry")
    return Registry(f"sqlite:///{folder / DB_FILE}", folder, experiment)


class Registry:
    """An MLflow tracking store and model registry (see the module docstring)."""

    def __init__(self, uri: str, folder: Path | None, experiment: str = DEFAULT_EXPERIMENT):
        self.uri = uri
        self.folder = folder
        self.experiment = experiment
        self._client = None

    def __repr__(self) -> str:
        return f"Registry({self.where})"

    @property
    def where(self) -> str:
        return str(self.folder) if self.folder else self.uri

    @property
    def client(self):
        if self._client is None:
            with self._translated("open the registry"):
                from mlflow import MlflowClient

                self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    # --- logging runs -------------------------------------------------------------------------

    def log_run(self, run_dir: str | os.PathLike) -> str:
        """Log a finished training run folder (``emodet train`` or ``retrain``) and return its run id;
        a folder already logged here returns the same id."""
        run_dir = Path(run_dir)
        model = run_dir / "best.keras"
        if not model.is_file():
            raise RegistryError(f"{run_dir} holds no best.keras: it is not a finished emodet training run "
                                "(train or retrain writes it when training ends)")
        logged = self._logged_runs(run_dir).get(self.uri)
        if logged:
            return logged
        lineage = _read_json(run_dir / "lineage.json")
        data = _read_json(run_dir / "data.json")
        tags = {TAG + "kind": "retrain" if lineage else "train", TAG + "run_dir": str(run_dir.resolve()),
                TAG + "train_fingerprint": (lineage.get("train_fingerprint")
                                            or data.get("train", {}).get("fingerprint", "")),
                TAG + "val_fingerprint": lineage.get("val_fingerprint") or data.get("val", {}).get("fingerprint", ""),
                TAG + "parent_sha256": lineage.get("parent_sha256", ""), **_model_tags(model, run_dir / "profile.json")}
        with self._translated(f"log the run {run_dir}"):
            run_id = self._new_run(run_dir.name, tags)
            self._log_params(run_id, run_dir, lineage)
            self._log_metrics(run_id, run_dir)
            self.client.log_artifact(run_id, str(model), "model")
            if (run_dir / "profile.json").is_file():
                self.client.log_artifact(run_id, str(run_dir / "profile.json"), "model")
            for name in _RUN_FILES:
                if (run_dir / name).is_file():
                    self.client.log_artifact(run_id, str(run_dir / name), "run")
            if (run_dir / "report-val_figures").is_dir():
                self.client.log_artifacts(run_id, str(run_dir / "report-val_figures"), "run/report-val_figures")
            self.client.set_terminated(run_id, "FINISHED")
        self._remember_run(run_dir, run_id)
        return run_id

    def log_model_file(self, path: str | os.PathLike | None = None, *, profile: str | os.PathLike | None = None) -> str:
        """Log a model file trained elsewhere (``None``: the bundled model) as a run of its own."""
        if path is None:
            from emodet.bundled import bundled_model_path, bundled_profile_path

            path, profile, kind = bundled_model_path(), bundled_profile_path(), "bundled"
        else:
            kind = "import"
        path = Path(path)
        if profile is None:  # the bundled convention NAME.profile.json, or a run folder's profile.json
            profile = next((p for p in (path.with_suffix(".profile.json"), path.with_name("profile.json"))
                            if p.is_file()), None)
        if path.suffix not in MODEL_SUFFIXES or not path.is_file():
            raise RegistryError(f"{path} is not a model file; expected an existing .keras, .onnx or .tflite file")
        with self._translated(f"log the model {path}"):
            tags = {TAG + "kind": kind, TAG + "source": str(path.resolve()), **_model_tags(path, profile)}
            run_id = self._new_run(path.stem, tags)
            self.client.log_artifact(run_id, str(path), "model")
            from emodet.exporter import sidecar_path

            sidecar = sidecar_path(path)  # a .tflite file's contract travels beside it
            if path.suffix == ".tflite" and sidecar.is_file():
                self.client.log_artifact(run_id, str(sidecar), "model")
            if profile and Path(profile).is_file():
                with tempfile.TemporaryDirectory() as tmp:
                    shutil.copy(profile, Path(tmp) / "profile.json")
                    self.client.log_artifact(run_id, str(Path(tmp) / "profile.json"), "model")
            self.client.set_terminated(run_id, "FINISHED")
        return run_id

    # --- versions -----------------------------------------------------------------------------

    @staticmethod
    def check_name(name: str) -> str:
        """``name`` if MLflow accepts it as a registered model's name, else a :class:`RegistryError`:
        checked before anything is logged, so that a refused ``registry add`` leaves nothing behind."""
        if not str(name).strip() or any(c in str(name) for c in "/:") or str(name).startswith(LOCK_PREFIX):
            raise RegistryError(f"{name!r} cannot name a registered model: names must be non-empty, without '/' "
                                f"or ':', and not start with {LOCK_PREFIX!r}; e.g. --name emodet-fer")
        return str(name)

    def register(self, run_id: str, name: str, *, parent: str | None = None) -> VersionInfo:
        """Register the model of logged run ``run_id`` as a new version of ``name``.

        ``parent``: the version it was trained from; by default the version whose model file is
        the run's recorded parent (``retrain`` records the parent's SHA-256), if registered.
        """
        with self._translated(f"register run {run_id} as {name}"):
            run = self.client.get_run(run_id)
            tags = run.data.tags
            if not tags.get(TAG + "sha256"):
                raise RegistryError(f"run {run_id} in {self.where} was not logged by emodet (it has no model file "
                                    "tags); log the run folder with `emodet registry add RUN_DIR`")
            self._ensure_registered_model(name)
            if parent is None and tags.get(TAG + "parent_sha256"):
                parent = next((v.version for v in self.versions(name)
                               if v.tags.get(TAG + "sha256") == tags[TAG + "parent_sha256"]), None)
            if parent is not None:
                self.version(name, parent)  # the parent must exist
            keep = ("sha256", "classes", "model_file", "train_fingerprint", "val_fingerprint", "kind")
            version_tags = {TAG + "parent_version": str(parent or ""),
                            **{TAG + key: tags.get(TAG + key, "") for key in keep}}
            created = self.client.create_model_version(name, source=f"runs:/{run_id}/model", run_id=run_id,
                                                       tags=version_tags)
        return self.version(name, created.version)

    def version(self, name: str, version: str | int) -> VersionInfo:
        """One version of ``name``; a :class:`RegistryError` lists the versions that exist otherwise."""
        version = str(version)
        known = {v.version: v for v in self.versions(name)}
        if version not in known:
            listed = ", ".join(sorted(known, key=int)) or "none"
            raise RegistryError(f"the registered model {name!r} in {self.where} has no version {version} "
                                f"(its versions: {listed}); see `emodet registry list {name}`")
        return known[version]

    def versions(self, name: str, *, with_metrics: bool = False) -> list[VersionInfo]:
        """Every version of ``name``, oldest first, with its aliases and lineage tags; ``with_metrics``
        also reads each version's run for its validation metrics (one request per version)."""
        with self._translated(f"list the versions of {name}"):
            found = self.client.search_model_versions(f"name = '{_quoted(name)}'")
            aliases = self._aliases(name) if found else {}
            rows = []
            for mv in found:
                metrics = self.client.get_run(mv.run_id).data.metrics if mv.run_id and with_metrics else {}
                held = tuple(sorted(a for a, v in aliases.items() if str(v) == str(mv.version)))
                rows.append(VersionInfo(name, str(mv.version), held,
                                        mv.tags.get(TAG + "parent_version", ""), mv.creation_timestamp / 1000,
                                        mv.run_id or "", dict(mv.tags), dict(metrics)))
        return sorted(rows, key=lambda row: int(row.version))

    def alias_version(self, name: str, alias: str = DEFAULT_ALIAS) -> VersionInfo | None:
        """The version ``alias`` points at, or ``None`` when it is not set."""
        return next((v for v in self.versions(name) if alias in v.aliases), None)

    def resolve(self, reference: str) -> VersionInfo:
        """The version a ``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` reference names."""
        ref = parse_reference(reference)
        if ref.version is not None:
            return self.version(ref.name, ref.version)
        found = self.alias_version(ref.name, ref.alias)
        if found is None:
            aliases = sorted({a for v in self.versions(ref.name) for a in v.aliases})
            raise RegistryError(f"no version of {ref.name!r} in {self.where} has the alias {ref.alias!r} "
                                f"(aliases set: {', '.join(aliases) or 'none'}); promote one with "
                                f"`emodet registry promote {ref.name} VERSION --alias {ref.alias}`")
        return found

    # --- aliases: promotion and rollback --------------------------------------------------------

    def promote(self, name: str, version: str | int, *, alias: str = DEFAULT_ALIAS,
                comparison: dict | None = None) -> VersionInfo | None:
        """Point ``alias`` at ``version`` and return the version it pointed at before (if any).

        Refused when the version predicts other classes than the current holder of the alias.
        ``comparison`` (what ``emodet compare`` measured) is kept with the version. Atomic: the
        alias is held (:meth:`_holding`) from reading its holder to writing its history, so
        promotions at the same time, from any process or machine, happen one after the other.
        """
        target = self.version(name, version)
        with self._holding(name, alias):
            return self._promote(name, target, alias, comparison)

    def _promote(self, name: str, target: VersionInfo, alias: str, comparison: dict | None) -> VersionInfo | None:
        current = self.alias_version(name, alias)
        if current is not None and current.version == target.version:
            raise RegistryError(f"version {target.version} of {name!r} already has the alias {alias!r}")
        if current is not None and current.tags.get(TAG + "classes") != target.tags.get(TAG + "classes"):
            raise RegistryError(f"version {target.version} predicts {target.tags.get(TAG + 'classes')} but the "
                                f"{alias} (version {current.version}) predicts {current.tags.get(TAG + 'classes')}; "
                                "a model with other classes cannot replace it under the same alias")
        with self._translated(f"promote version {target.version} of {name}"):
            history = self._alias_history(name, alias)
            if comparison is not None:
                self.client.log_dict(target.run_id, comparison, f"promotion/{alias}-v{target.version}.json")
                summary = {"verdict": comparison.get("why", ""), "sets": [
                    {key: row.get(key) for key in ("name", "images", "current_accuracy", "candidate_accuracy",
                                                   "p_value", "ci_low", "ci_high")}
                    for row in comparison.get("sets", [])]}
                self.client.set_model_version_tag(name, target.version, TAG + "comparison",
                                                  json.dumps(summary)[:4900])
            self.client.set_model_version_tag(name, target.version, TAG + "promoted_from",
                                              current.version if current else "")
            self.client.set_registered_model_alias(name, alias, target.version)
            self._set_alias_history(name, alias, history + [target.version])
        return current

    def rollback(self, name: str, *, alias: str = DEFAULT_ALIAS) -> tuple[str, str]:
        """Point ``alias`` back at the version it held before the last promotion: (from, to); atomic
        like :meth:`promote`."""
        with self._holding(name, alias):
            return self._rollback(name, alias)

    def _rollback(self, name: str, alias: str) -> tuple[str, str]:
        current = self.alias_version(name, alias)
        history = self._alias_history(name, alias)
        if current is None or len(history) < 2:
            raise RegistryError(f"nothing to roll back: the alias {alias!r} of {name!r} has "
                                + ("never been set" if current is None
                                   else f"only ever pointed at version {current.version}"))
        previous = history[-2]
        self.version(name, previous)  # still registered (a deleted version cannot be restored)
        with self._translated(f"roll back {name}@{alias}"):
            self.client.set_registered_model_alias(name, alias, previous)
            self.client.set_model_version_tag(name, current.version, TAG + "rolled_back_at",
                                              time.strftime("%Y-%m-%dT%H:%M:%S"))
            self._set_alias_history(name, alias, history[:-1])
        return current.version, previous

    # --- loading ------------------------------------------------------------------------------

    def model_path(self, reference: str) -> Path:
        """The local path of the model file a reference names, downloaded once into emodet's cache."""
        return self.model_file(self.resolve(reference))

    def model_file(self, found: VersionInfo) -> Path:
        """The local path of a resolved version's model file (:meth:`resolve`), downloaded once into
        emodet's cache: for callers that also need the version the alias pointed at."""
        from emodet.inference.model_files import cache_dir

        reference = f"models:/{found.name}/{found.version}"
        filename = found.tags.get(TAG + "model_file", "")
        if not filename:
            raise RegistryError(f"version {found.version} of {found.name!r} in {self.where} was not registered by "
                                "emodet (it has no emodet.model_file tag); register models with `emodet registry add`")
        store = hashlib.sha1(self.uri.encode()).hexdigest()[:12]
        target = cache_dir() / "registry" / store / found.name / found.version
        path = target / filename
        if path.is_file() and _sha256(path) == found.tags.get(TAG + "sha256"):
            return path
        import mlflow.artifacts

        target.parent.mkdir(parents=True, exist_ok=True)
        with self._translated(f"download {reference}"), tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            local = Path(mlflow.artifacts.download_artifacts(run_id=found.run_id, artifact_path="model", dst_path=tmp,
                                                             tracking_uri=self.uri))
            if _sha256(local / filename) != found.tags.get(TAG + "sha256"):
                raise RegistryError(f"the model file of {reference} (version {found.version}) in {self.where} does "
                                    "not match the SHA-256 recorded when it was registered; its artifact was changed")
            shutil.rmtree(target, ignore_errors=True)
            os.replace(local, target)
        return path

    # --- internals ----------------------------------------------------------------------------

    @contextlib.contextmanager
    def _holding(self, name: str, alias: str):
        """Hold ``alias`` of ``name`` against other processes, whatever the store (a folder's SQLite
        file or an MLflow server): a registered model named ``emodet-lock.NAME.ALIAS`` is created,
        which the store allows once (its names are unique), and deleted afterwards. Others wait up
        to ``LOCK_WAIT_S``; a lock older than ``LOCK_STALE_S`` (its holder died) is broken."""
        lock = f"{LOCK_PREFIX}{name}.{alias}"
        deadline = time.monotonic() + LOCK_WAIT_S
        while not self._try_lock(lock):
            if time.monotonic() > deadline:
                raise RegistryError(f"the alias {alias!r} of {name!r} in {self.where} is being moved by another "
                                    f"process (registered model {lock!r}); retry in a moment, or if no other command "
                                    f"runs, delete that registered model (it expires after {LOCK_STALE_S:g} s)")
            time.sleep(0.1 + 0.2 * (os.getpid() % 7) / 7)
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                self.client.delete_registered_model(lock)

    def _try_lock(self, lock: str) -> bool:
        """Create the lock model: True if this process now holds it, False if another does (a stale
        lock is deleted first and False returned, so the caller tries again)."""
        try:
            self.client.create_registered_model(lock, tags={TAG + "locked_at": str(time.time()),
                                                            TAG + "pid": str(os.getpid())},
                                                description="emodet: an alias is being moved (deleted when done)")
            return True
        except Exception as exc:  # noqa: BLE001 - only 'already exists' means another holds it
            if "already exists" not in str(exc) and "UNIQUE constraint" not in str(exc):
                with self._translated("hold the alias"):
                    raise
        with contextlib.suppress(Exception):
            held = self.client.get_registered_model(lock)
            if time.time() - float(held.tags.get(TAG + "locked_at", "inf")) > LOCK_STALE_S:
                self.client.delete_registered_model(lock)
        return False

    def _new_run(self, run_name: str, tags: dict) -> str:
        from emodet import __version__

        experiment = self.client.get_experiment_by_name(self.experiment)
        if experiment is None:
            location = (self.folder / "artifacts").as_uri() if self.folder else None
            experiment_id = self.client.create_experiment(self.experiment, artifact_location=location)
        else:
            experiment_id = experiment.experiment_id
        tags = {**tags, TAG + "version": __version__}
        return self.client.create_run(experiment_id, run_name=run_name, tags=tags).info.run_id

    def _log_params(self, run_id: str, run_dir: Path, lineage: dict) -> None:
        import yaml
        from mlflow.entities import Param

        params = {}
        if (run_dir / "config.yaml").is_file():
            config = yaml.safe_load((run_dir / "config.yaml").read_text()) or {}
            params = {f"{section}.{key}": value for section, values in config.items() if isinstance(values, dict)
                      for key, value in values.items()}
        params.update({f"retrain.{key}": value for key, value in lineage.items()
                       if not isinstance(value, (dict, list))})
        items = [Param(key, str(value)[:6000]) for key, value in params.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start:start + 100])

    def _log_metrics(self, run_id: str, run_dir: Path) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = []
        if (run_dir / "history.csv").is_file():
            with (run_dir / "history.csv").open(newline="") as f:
                for row in csv.DictReader(f):
                    step = int(row["epoch"])
                    metrics += [Metric(key, float(value), now, step) for key, value in row.items()
                                if key not in ("epoch", "stage") and value not in ("", None)]
        final = _read_json(run_dir / "metrics.json")
        val = final.get("val", {})
        summary = {"best_epoch": final.get("best_epoch"), "best_val_accuracy": val.get("accuracy"),
                   "best_val_macro_f1": val.get("macro", {}).get("f1"),
                   **{f"best_val_recall_{name}": scores.get("recall")
                      for name, scores in val.get("per_class", {}).items()}}
        selection = final.get("selection", {})
        summary["best_val_score"] = selection.get("score")
        for name, scores in selection.get("sets", {}).items():  # each validation set by name
            summary.update({f"best_{name}_{key}": scores.get(key) for key in ("accuracy", "macro_f1", "worst_recall")})
        metrics += [Metric(key, float(value), now, 0) for key, value in summary.items() if value is not None]
        for start in range(0, len(metrics), 500):
            self.client.log_batch(run_id, metrics=metrics[start:start + 500])

    def _ensure_registered_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            self.client.create_registered_model(name, description="emodet emotion classifier")

    def _aliases(self, name: str) -> dict:
        """{alias: version} of a registered model (search results do not carry aliases in every store)."""
        aliases = self.client.get_registered_model(name).aliases
        if isinstance(aliases, dict):
            return aliases
        return {a.alias: a.version for a in aliases or ()}

    def _alias_history(self, name: str, alias: str) -> list[str]:
        tags = self.client.get_registered_model(name).tags
        return json.loads(tags.get(f"{TAG}history.{alias}", "[]"))

    def _set_alias_history(self, name: str, alias: str, history: list[str]) -> None:
        self.client.set_registered_model_tag(name, f"{TAG}history.{alias}", json.dumps(history[-200:]))

    def _logged_runs(self, run_dir: Path) -> dict:
        return _read_json(run_dir / RUN_MARKER)

    def _remember_run(self, run_dir: Path, run_id: str) -> None:
        runs = {**self._logged_runs(run_dir), self.uri: run_id}
        with contextlib.suppress(OSError):  # a read-only run folder only loses the "already logged" shortcut
            (run_dir / RUN_MARKER).write_text(json.dumps(runs, indent=2))

    @contextlib.contextmanager
    def _translated(self, action: str):
        """MLflow's, SQLAlchemy's and the network's exceptions as one :class:`RegistryError` line."""
        try:
            yield
        except RegistryError:
            raise
        except Exception as exc:  # noqa: BLE001 - only the registry's own libraries' errors are translated
            if not (isinstance(exc, OSError) or type(exc).__module__.split(".")[0] in
                    ("mlflow", "sqlalchemy", "requests", "urllib3", "sqlite3", "alembic")):
                raise
            raise RegistryError(self._explain(exc, action)) from None

    def _explain(self, exc: Exception, action: str) -> str:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        full = str(exc)
        if "database is locked" in full:
            return (f"cannot {action}: the registry {self.where} is locked by another process writing to it; "
                    "wait for that command to finish and retry")
        if any(s in full for s in ("Max retries exceeded", "Connection refused", "Failed to establish",
                                   "Name or service not known", "timed out")):
            return (f"cannot {action}: the MLflow server at {self.uri} cannot be reached ({text[:200]}); check the "
                    "address and that the server runs, or use a local folder: --registry DIR")
        if "unable to open database" in full or isinstance(exc, PermissionError):
            return f"cannot {action}: the registry {self.where} cannot be opened ({text[:200]})"
        return f"cannot {action} in the registry {self.where}: {text[:300]}"


def _model_tags(model: Path, profile: Path | None) -> dict:
    """What a version must carry about its model file: name, SHA-256, classes (from its profile,
    else read from the model itself)."""
    if profile and Path(profile).is_file():
        classes = json.loads(Path(profile).read_text())["class_names"]
    else:
        from emodet.inference.runtime import open_classifier

        classes = open_classifier(model).class_names
    return {TAG + "model_file": model.name, TAG + "sha256": _sha256(model), TAG + "classes": ",".join(classes)}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except ValueError:
        return {}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        while chunk := f.read(1 << 16):
            digest.update(chunk)
    return digest.hexdigest()


def _quoted(name: str) -> str:
    if "'" in name:
        raise ConfigError(f"a registered model name cannot contain a quote, got {name!r}")
    return name


__all__ = ["DEFAULT_ALIAS", "REGISTRY_ENV", "Registry", "VersionInfo", "open_registry"]
