"""Hyperparameter search with KerasTuner over emodet's two-stage training.

Each trial is an ordinary two-stage :func:`~emodet.training.fit.fit` with the trial's settings
applied to the base config, scored by its best validation accuracy (the test split is never
touched). Hyperband gives promising settings more epochs; Bayesian optimisation models the
score. The budget is a number of trials (Bayesian) or epochs (Hyperband) and, optionally,
wall-clock seconds: no new trial starts after the deadline.

The tuning directory holds KerasTuner's state (an interrupted search resumes where it stopped,
re-running the interrupted trial from its last epoch), ``results.csv`` and ``best.yaml``, a
config file that ``emodet train --config`` accepts.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from pathlib import Path

import keras_tuner

from emodet.config import RunConfig, save_config
from emodet.errors import ConfigError
from emodet.training.search_space import declare

ALGORITHMS = ("hyperband", "bayesian")
OBJECTIVE = "val_score"  # the selection rule over every validation set (emodet.evaluation.selection)
PROJECT = "search"


@dataclass(frozen=True)
class TrialRow:
    trial: str
    settings: dict
    score: float | None
    seconds: float | None
    status: str


@dataclass(frozen=True)
class TuneResult:
    rows: list[TrialRow]  # best score first
    best_config: RunConfig
    best_config_path: Path
    results_path: Path


def tune(config: RunConfig, space: dict, tune_dir: str | Path, *, algorithm: str = "bayesian",
         max_trials: int = 10, max_epochs: int = 10, time_budget: float | None = None,
         resume: bool = False, verbose: int = 0) -> TuneResult:
    """Search ``space`` around ``config``; see the module docstring for budgets and files."""
    from emodet.training.run import load_training_data

    if algorithm not in ALGORITHMS:
        raise ConfigError(f"tuning algorithm must be one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    tune_dir = Path(tune_dir)
    _prepare_tune_dir(tune_dir, config, space, resume)
    data = load_training_data(config)
    hypermodel = _TrialModel(config, space, data.train.class_names, tune_dir / "trials", verbose)
    oracle = _oracle(algorithm, max_trials, max_epochs, config.train.seed, time_budget)
    tuner = _Tuner(oracle=oracle, hypermodel=hypermodel, directory=str(tune_dir), project_name=PROJECT,
                   overwrite=False)
    tuner.search(data.train, data.val, val_sets=data.val_sets, mixture=data.mixture, verbose=verbose)
    return _summarise(tuner, config, space, tune_dir)


def _prepare_tune_dir(tune_dir: Path, config: RunConfig, space: dict, resume: bool) -> None:
    """Record the base config and space of a new search; check a resumed one searches the same."""
    import json

    from emodet.config import from_dict, read_config_file
    from emodet.training.run import config_differences

    base, space_file = tune_dir / "base.yaml", tune_dir / "space.json"
    if not resume:
        if (tune_dir / PROJECT).is_dir():
            raise ConfigError(f"{tune_dir} already holds a search; pass --resume to continue it "
                              "or choose another --tune-dir")
        tune_dir.mkdir(parents=True, exist_ok=True)
        save_config(config, base)
        space_file.write_text(json.dumps(space, indent=1, sort_keys=True))
        return
    if not base.is_file():
        raise ConfigError(f"cannot resume: {tune_dir} holds no search (no base.yaml); start one without --resume")
    differences = config_differences(from_dict(read_config_file(base)), config)
    if json.loads(space_file.read_text()) != json.loads(json.dumps(space)):
        differences.append("the search space differs")
    if differences:
        raise ConfigError(f"cannot resume the search in {tune_dir}: " + "; ".join(differences)
                          + ". Resume with the same settings and space, or start a new --tune-dir")


def apply_values(config: RunConfig, values: dict) -> RunConfig:
    """``config`` with ``{"section.key": value}`` settings applied (tuner bookkeeping keys ignored)."""
    sections: dict[str, dict] = {}
    for key, value in values.items():
        section, _, name = key.partition(".")
        if section in ("data", "model", "train"):
            sections.setdefault(section, {})[name] = value
    return config.replace(**sections)


def format_results(rows: list[TrialRow]) -> str:
    """The trials as an aligned text table, best first."""
    keys = sorted({k for row in rows for k in row.settings})
    table = [["trial", "score", "seconds", "status", *keys]]
    for row in rows:
        table.append([row.trial, "-" if row.score is None else f"{row.score:.4f}",
                      "-" if row.seconds is None else f"{row.seconds:.0f}", row.status,
                      *(_short(row.settings.get(k)) for k in keys)])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(cell.rjust(width) for cell, width in zip(line, widths)) for line in table)


class _TrialModel(keras_tuner.HyperModel):
    """Builds a classifier for a trial's settings and fits it with emodet's two-stage training."""

    def __init__(self, config: RunConfig, space: dict, class_names, trials_dir: Path, verbose: int):
        super().__init__(name="emodet")
        self.config, self.space, self.class_names = config, space, class_names
        self.trials_dir, self.verbose = trials_dir, verbose

    def build(self, hp):
        from emodet.models.classifier import build_from_config

        trial_config = self.trial_config(hp)
        return build_from_config(trial_config.model, self.class_names, seed=trial_config.train.seed)

    def fit(self, hp, model, train, val, callbacks=(), trial_id: str = "trial", val_sets=None, mixture=None,
            **kwargs):
        """One trial: a checkpointed two-stage fit in its own run directory (so it can resume)."""
        from emodet.training.fit import fit

        started = time.monotonic()
        result = fit(model, train, val, self.trial_config(hp).train, self.trials_dir / trial_id,
                     callbacks=list(callbacks), verbose=self.verbose, val_sets=val_sets, mixture=mixture)
        return {OBJECTIVE: result.best_value, "seconds": time.monotonic() - started}

    def trial_config(self, hp) -> RunConfig:
        values = {key: declare(hp, key, entry) for key, entry in self.space.items()}
        config = apply_values(self.config, values)
        epochs = hp.values.get("tuner/epochs")
        if epochs:  # Hyperband's budget for this trial: a third for the head, the rest fine-tuning
            head = min(config.train.head_epochs, max(1, int(epochs) // 3))
            config = config.replace(train={"head_epochs": head, "finetune_epochs": max(1, int(epochs) - head)})
        return config


class _Tuner(keras_tuner.Tuner):
    """Passes each trial's id to the hypermodel, which names the trial's run directory after it."""

    def run_trial(self, trial, *args, **kwargs):
        return super().run_trial(trial, *args, trial_id=trial.trial_id, **kwargs)


def _oracle(algorithm: str, max_trials: int, max_epochs: int, seed: int, time_budget: float | None):
    deadline = None if not time_budget else time.time() + float(time_budget)
    objective = keras_tuner.Objective(OBJECTIVE, direction="max")
    if algorithm == "hyperband":
        base = keras_tuner.oracles.HyperbandOracle
        kwargs = dict(objective=objective, max_epochs=max_epochs, factor=3, seed=seed)
    else:
        base = keras_tuner.oracles.BayesianOptimizationOracle
        kwargs = dict(objective=objective, max_trials=max_trials, seed=seed)

    class DeadlineOracle(base):
        """Stops handing out new trials once the wall-clock budget is spent."""

        def populate_space(self, trial_id):
            if deadline is not None and time.time() >= deadline:
                return {"status": "STOPPED", "values": None}
            return super().populate_space(trial_id)

    return DeadlineOracle(**kwargs)


def _summarise(tuner, config: RunConfig, space: dict, tune_dir: Path) -> TuneResult:
    rows = []
    for trial in tuner.oracle.trials.values():
        values = {k: v for k, v in trial.hyperparameters.values.items() if k in space}
        seconds = trial.metrics.get_last_value("seconds") if trial.metrics.exists("seconds") else None
        rows.append(TrialRow(trial.trial_id, values, trial.score, seconds, str(trial.status)))
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0.0)))
    finished = [r for r in rows if r.score is not None]
    if not finished:
        raise ConfigError(f"no trial finished in {tune_dir}; raise the time budget or the number of trials")
    best = apply_values(config, finished[0].settings)
    best_path = tune_dir / "best.yaml"
    save_config(best, best_path)
    results_path = tune_dir / "results.csv"
    keys = sorted(space)
    with open(results_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["trial", "score", "seconds", "status", *keys])
        for row in rows:
            writer.writerow([row.trial, row.score, row.seconds, row.status, *(row.settings.get(k) for k in keys)])
    return TuneResult(rows, best, best_path, results_path)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
