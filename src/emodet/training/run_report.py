"""The report of a training run folder: ``best.keras`` evaluated on a split of the run's own data,
written as the HTML page of :mod:`emodet.evaluation.html_report` with the run's history and class
counts, the evaluation JSON beside it (what ``emodet report`` writes)."""

from __future__ import annotations

import json
from pathlib import Path

from emodet.config import from_dict, read_config_file
from emodet.data.naming import split_name
from emodet.errors import ConfigError, DataError
from emodet.evaluation.html_report import write_report
from emodet.evaluation.metrics import evaluate
from emodet.models.classifier import load_model
from emodet.training import recorder, run


def report_run(run_dir: str | Path, split: str = "val", *, output: str | Path | None = None,
               source: str | None = None, tta: bool | str | None = None, batch_size: int = 128) -> Path:
    """Evaluate a run's ``best.keras`` on ``split`` (validation unless the test split is asked for);
    write ``RUN_DIR/report-SPLIT.html`` and ``.json``.

    The JSON (``report.to_dict()``) goes beside the page (``output`` with suffix ``.json``).
    ``source`` overrides the run's ``data.source`` (for a dataset that moved). Returns the path.
    """
    run_dir = Path(run_dir)
    if not (run_dir / run.BEST).is_file():
        raise ConfigError(f"{run_dir} holds no {run.BEST}; pass the run directory of a finished `emodet train`")
    config = _run_config(run_dir)
    wanted = split_name(split)
    splits = run.load_run_splits(config, source)
    if wanted not in splits:
        raise DataError(f"{source or config.data.source} has no {wanted!r} split; it has {', '.join(splits)}")
    data = splits[wanted]
    model = load_model(run_dir / run.BEST)
    report = evaluate(model, data, tta=tta, batch_size=batch_size)
    state = recorder.RunState.load(run_dir)
    details = {"run directory": str(run_dir), "data source": source or config.data.source,
               "monitor": config.train.monitor}
    path = write_report(output or run_dir / f"report-{wanted}.html", report, model=model, data=data,
                        history=recorder.read_history(run_dir), best_epoch=state.best_epoch if state else None,
                        split_counts=_run_split_counts(run_dir, wanted, data.class_counts()), details=details)
    report.save_json(path.with_suffix(".json"))
    return path


def _run_config(run_dir: Path):
    from emodet.training import run

    if not (run_dir / run.CONFIG).is_file():
        raise ConfigError(f"{run_dir} holds no {run.CONFIG}; pass the run directory of an `emodet train`")
    return from_dict(read_config_file(run_dir / run.CONFIG))


def _run_split_counts(run_dir: Path, evaluated: str, counts: dict[str, int]) -> dict[str, dict[str, int]]:
    """Class counts of the images trained and validated on (``data.json``) and of those evaluated."""
    summary_path = run_dir / run.DATA
    summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
    table = {name: summary[name]["class_counts"] for name in ("train", "val") if name in summary}
    table[evaluated if evaluated not in table else f"{evaluated} (evaluated)"] = counts
    return table
