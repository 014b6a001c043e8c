"""The self-contained HTML report, written from the real FER2013 scenario (conftest's ``scenario``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from emodet.errors import ConfigError, DataError
from emodet.evaluation.html_report import format_number, parse_table_values, write_report
from emodet.evaluation.metrics import DEDUPLICATED
from emodet.training.run_report import report_run

IMG = '<img src="data:image/png;base64,'
ALL_FIGURES = 9  # training curves, 2 confusion matrices, per-class, distribution, samples, pairs, Grad-CAM, calibration



@pytest.fixture(scope="module")
def written(scenario, tmp_path_factory):
    """The full report (model, images and history given) and its page text."""
    path = write_report(tmp_path_factory.mktemp("report") / "test-report.html", scenario.report,
                        model=scenario.model, data=scenario.test, history=scenario.fit,
                        split_counts=scenario.counts, details={"data source": "fer2013 (200 PublicTest faces)"})
    return path, path.read_text(encoding="utf-8")


def cell_text(page: str, key: str) -> str:
    """The text shown in the table cell whose ``data-key`` is ``key``."""
    match = re.search(rf'data-key="{re.escape(key)}" data-value="[^"]*">([^<]*)<', page)
    assert match, f"no table cell for {key}"
    return match.group(1)


def test_report_embeds_every_figure_and_writes_them_beside_it(written):
    path, page = written
    assert page.count(IMG) == ALL_FIGURES
    pngs = sorted((path.parent / "test-report_figures").glob("*.png"))
    assert len(pngs) == ALL_FIGURES
    assert all(p.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") for p in pngs)
    for section in ("summary", "training", "confusion", "per-class", "distribution", "samples", "confused",
                    "gradcam", "calibration"):
        assert f'<section id="{section}">' in page and f'href="#{section}"' in page
    assert "Not shown" not in page


def test_report_is_self_contained(written):
    _, page = written
    assert not re.search(r"https?://", page, re.IGNORECASE)
    assert not re.search(r"<(script|link|iframe)\b", page, re.IGNORECASE)
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page


def test_report_names_every_class(written, scenario):
    _, page = written
    for name in scenario.report.class_names:
        assert f"<td>{name}</td>" in page


def test_table_numbers_equal_the_evaluation_json(written, scenario):
    _, page = written
    saved = json.loads(json.dumps(scenario.report.to_dict()))  # what save_json writes
    values = parse_table_values(page)
    assert values["accuracy"] == saved["accuracy"]
    assert cell_text(page, "accuracy") == f"{saved['accuracy']:.4f}"
    assert values["macro.f1"] == saved["macro"]["f1"]
    assert cell_text(page, "macro.f1") == f"{saved['macro']['f1']:.4f}"
    assert values["weighted.f1"] == saved["weighted"]["f1"]
    for name, metrics in saved["per_class"].items():
        assert cell_text(page, f"per_class.{name}.support") == str(metrics["support"])
        for metric in ("precision", "recall", "f1"):
            assert values[f"per_class.{name}.{metric}"] == metrics[metric]
            assert cell_text(page, f"per_class.{name}.{metric}") == format_number(metrics[metric])


def test_summary_shows_the_deduplicated_subset_and_ece(written, scenario):
    _, page = written
    subset = scenario.report.to_dict()["subsets"][DEDUPLICATED]
    key = f"subsets.{DEDUPLICATED}"
    assert parse_table_values(page)[key + ".accuracy"] == subset["accuracy"]
    assert cell_text(page, key + ".images") == str(subset["images"]) == "190"
    from emodet.evaluation.plots import expected_calibration_error

    ece = expected_calibration_error(scenario.report.probs, scenario.report.y_true, 15)
    assert cell_text(page, "ece") == f"{ece:.4f}"
    assert f"epoch {scenario.fit.best_epoch}" in page and "small_cnn, 48x48 px grayscale" in page


def test_report_without_model_images_or_history_leaves_those_sections_out(scenario, tmp_path):
    page = write_report(tmp_path / "bare.html", scenario.report).read_text()
    assert page.count(IMG) == 5  # 2 confusion matrices, per-class, distribution, calibration
    assert "Not shown: training curves (no training history given); sample predictions (no images given)" in page
    assert 'id="gradcam"' not in page and 'id="training"' not in page


def test_report_accepts_history_rows_and_best_epoch(scenario, tmp_path):
    page = write_report(tmp_path / "rows.html", scenario.report, history=scenario.fit.history,
                        best_epoch=2).read_text()
    assert 'id="training"' in page and "epoch 2" in page


def test_report_refuses_images_that_are_not_the_evaluated_ones(scenario, tmp_path):
    other = scenario.test.take(np.arange(len(scenario.test))[::-1])
    with pytest.raises(DataError, match="not the data the report was computed on"):
        write_report(tmp_path / "r.html", scenario.report, data=other)
    with pytest.raises(ConfigError, match="must end in .html"):
        write_report(tmp_path / "r.pdf", scenario.report)
    with pytest.raises(ConfigError, match="list of history.csv rows"):
        write_report(tmp_path / "r.html", scenario.report, history="history.csv")


@pytest.mark.slow
def test_report_run_evaluates_a_run_directory(scenario, fer_csv, tmp_path):
    from emodet.config import DataConfig, ModelConfig, RunConfig, TrainConfig, save_config
    from emodet.training import recorder, run

    run_dir = Path(scenario.fit_dir)
    config = RunConfig(DataConfig(source=f"fer2013:{fer_csv}"),
                       ModelConfig(backbone="small_cnn", image_size=48, weights="none"), TrainConfig())
    target = tmp_path / "run"
    target.mkdir()
    for name in (recorder.HISTORY, recorder.STATE):
        (target / name).write_bytes((run_dir / name).read_bytes())
    save_config(config, target / run.CONFIG)
    scenario.model.save(target / run.BEST)
    path = report_run(target, "test")
    page = path.read_text()
    assert path == target / "report-test.html" and page.count(IMG) == ALL_FIGURES
    saved = json.loads(path.with_suffix(".json").read_text())
    assert saved["name"] == "test" and saved["images"] == 3589
    assert cell_text(page, "accuracy") == f"{saved['accuracy']:.4f}"
    for name, metrics in saved["per_class"].items():
        assert cell_text(page, f"per_class.{name}.support") == str(metrics["support"])
    assert str(target) in page and f"epoch {scenario.fit.best_epoch}" in page
