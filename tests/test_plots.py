"""The evaluation figures and Grad-CAM, on real FER2013 faces and a briefly trained small CNN.

The scenario (a two-stage fit on a few hundred training faces, evaluated on 200 PublicTest
faces of which some also occur in training) is built once per test session by
conftest's ``scenario`` fixture; ``test_html_report.py`` uses it too.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from emodet.errors import ConfigError, DataError
from emodet.evaluation import plots
from emodet.evaluation.metrics import EvaluationReport


def texts(fig: Figure) -> list[str]:
    """Every text drawn in the figure: titles, labels, tick labels, cell values, legends."""
    return [t.get_text() for t in fig.findobj(lambda artist: hasattr(artist, "get_text")) if t.get_text()]


def tick_labels(ax, axis: str = "x") -> list[str]:
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks]


def image_axes(fig: Figure) -> list:
    return [ax for ax in fig.get_axes() if ax.get_images()]


# --------------------------------------------------------------------------------------------
# Training curves


def test_training_curves_show_both_stages_and_the_checkpoint(scenario):
    history, best = scenario.fit.history, scenario.fit.best_epoch
    fig = plots.training_curves(history, best)
    loss, accuracy, rate = fig.get_axes()
    assert [ax.get_title() for ax in (loss, accuracy, rate)] == ["loss", "accuracy", "learning rate (at epoch end)"]
    assert rate.get_yscale() == "log"
    assert [r["stage"] for r in history] == [1, 2]
    for ax in (loss, accuracy, rate):
        vertical = {line.get_xdata()[0] for line in ax.get_lines() if len(set(line.get_xdata())) == 1
                    and len(line.get_xdata()) == 2}
        assert vertical == {1.5, best}  # the stage boundary and the chosen epoch
    train_line = accuracy.get_lines()[0]
    np.testing.assert_allclose(train_line.get_ydata(), [r["accuracy"] for r in history])
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["train", "validation", "stage 1 (head) | stage 2 (fine-tuning)",
                      f"chosen checkpoint (epoch {best})"]


def test_training_curves_accept_history_csv_rows_with_floats_and_gaps():
    rows = [{"epoch": 1.0, "stage": 1.0, "learning_rate": 1e-3, "loss": 1.9, "accuracy": 0.2, "val_loss": None,
             "val_accuracy": None},
            {"epoch": 2.0, "stage": 1.0, "learning_rate": 1e-3, "loss": 1.8, "accuracy": 0.3, "val_loss": 1.7,
             "val_accuracy": 0.35}]
    fig = plots.training_curves(rows)
    assert "stage 1 (head) | stage 2 (fine-tuning)" not in texts(fig)  # one stage: no boundary
    val_line = fig.get_axes()[1].get_lines()[1]
    assert np.isnan(val_line.get_ydata()[0]) and val_line.get_ydata()[1] == pytest.approx(0.35)


def test_training_curves_reject_an_empty_history():
    with pytest.raises(DataError, match="history is empty"):
        plots.training_curves([], best_epoch=1)


# --------------------------------------------------------------------------------------------
# Scores


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix_labels_axes_and_writes_every_cell(scenario, normalize):
    report = scenario.report
    fig = plots.confusion_matrix(report, normalize=normalize)
    ax = fig.get_axes()[0]
    assert tick_labels(ax, "x") == list(report.class_names) == tick_labels(ax, "y")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("predicted class", "true class")
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == len(report.class_names) ** 2
    counts = report.confusion
    if normalize:
        values = np.array(cells, dtype=float).reshape(counts.shape)
        expected = counts / np.maximum(1, counts.sum(axis=1, keepdims=True))
        np.testing.assert_allclose(values, expected, atol=0.005)
        assert "row-normalised" in ax.get_title()
    else:
        assert cells == [str(v) for v in counts.ravel()]
        assert "counts" in ax.get_title()


def test_per_class_metrics_bars_equal_the_report(scenario):
    report = scenario.report
    fig = plots.per_class_metrics(report)
    ax = fig.get_axes()[0]
    labels = tick_labels(ax)
    for name, label in zip(report.class_names, labels):
        assert label == f"{name}\n(n={report.per_class[name]['support']})"
    heights = np.array([bar.get_height() for bar in ax.patches]).reshape(3, -1)
    for row, metric in zip(heights, ("precision", "recall", "f1")):
        np.testing.assert_allclose(row, [report.per_class[n][metric] for n in report.class_names])
    assert f"macro F1 {report.averaged('macro')['f1']:.4f}" in texts(fig)


def test_class_distribution_counts_and_shares(scenario):
    counts = scenario.counts
    fig = plots.class_distribution(counts)
    ax_count, ax_share = fig.get_axes()
    names = list(counts["train"])
    assert tick_labels(ax_count) == names == tick_labels(ax_share)
    heights = np.array([bar.get_height() for bar in ax_count.patches]).reshape(len(counts), -1)
    np.testing.assert_array_equal(heights, [[counts[s][n] for n in names] for s in counts])
    shares = np.array([bar.get_height() for bar in ax_share.patches]).reshape(len(counts), -1)
    np.testing.assert_allclose(shares.sum(axis=1), 100.0)
    assert {f"{s} ({sum(c.values())})" for s, c in counts.items()} <= set(texts(fig))


def test_class_distribution_rejects_flat_counts():
    with pytest.raises(DataError, match="class_counts"):
        plots.class_distribution({"angry": 3, "happy": 5})


# --------------------------------------------------------------------------------------------
# Faces


def test_sample_predictions_title_true_label_and_top3(scenario):
    report, test = scenario.report, scenario.test
    fig = plots.sample_predictions(test, report, n=8, columns=4)
    axes = image_axes(fig)
    wrong = int(np.sum(report.y_pred != report.y_true))
    assert len(axes) == 8 and 0 < wrong < len(report.y_true)  # the grid has both kinds
    titles = [ax.get_title(loc="left") for ax in axes]
    for ax, title in zip(axes, titles):
        lines = title.split("\n")
        assert len(lines) == 4 and lines[0].split(": ")[1] in report.class_names
        assert [line.split(" ")[0] for line in lines[1:]] == ["1.", "2.", "3."]
        face = np.asarray(ax.get_images()[0].get_array())
        matches = [i for i in range(len(test)) if np.array_equal(test.images[i, ..., 0], face)]
        assert any(title == expected_title(report, i) for i in matches)
    frames = {ax.spines["left"].get_edgecolor() for ax in axes}
    assert len(frames) == 2  # green and red frames


def expected_title(report, i: int) -> str:
    top = np.argsort(-report.probs[i])[:3]
    return "\n".join([f"true: {report.class_names[report.y_true[i]]}"]
                     + [f"{rank}. {report.class_names[k]} {report.probs[i, k]:.2f}" for rank, k in enumerate(top, 1)])


def test_sample_predictions_check_the_images_match_the_report(scenario):
    with pytest.raises(DataError, match="same order"):
        plots.sample_predictions(scenario.test.images[:10], scenario.report)
    with pytest.raises(ConfigError, match="n must be at least 1"):
        plots.sample_predictions(scenario.test, scenario.report, n=0)


def test_confused_pairs_lists_the_largest_off_diagonal_cells(scenario):
    report = scenario.report
    fig = plots.confused_pairs(scenario.test, report, top=3, examples=4)
    off = report.confusion.copy()
    np.fill_diagonal(off, 0)
    pairs = plots.most_confused(report, 3)
    assert pairs[0][2] == off.max() and [p[2] for p in pairs] == sorted((p[2] for p in pairs), reverse=True)
    drawn = " ".join(texts(fig))
    for true, pred, count in pairs:
        assert f"{report.class_names[true]} \u2192 {report.class_names[pred]}\n{count} images" in drawn
    assert len(image_axes(fig)) == sum(min(4, count) for _, _, count in pairs)


def test_confused_pairs_says_so_when_there_are_none():
    report = EvaluationReport(("a", "b"), np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    fig = plots.confused_pairs(np.zeros((2, 8, 8, 1), np.uint8), report)
    assert any("No confusions" in t for t in texts(fig))


def test_gradcam_grid_overlays_one_face_per_class(scenario):
    report = scenario.report
    fig = plots.gradcam_grid(scenario.model, scenario.test, report, n=7)
    face_row = [ax for ax in image_axes(fig) if len(ax.get_images()) == 1]
    overlay_row = [ax for ax in image_axes(fig) if len(ax.get_images()) == 2]
    assert len(face_row) == len(overlay_row) == 7
    true_names = [ax.get_title().split("\n")[0].removeprefix("true ") for ax in face_row]
    assert sorted(true_names) == sorted(report.class_names)  # every emotion appears once
    heat = overlay_row[0].get_images()[1].get_array()
    assert heat.shape == scenario.test.images.shape[1:3] and 0.0 <= heat.min() and heat.max() <= 1.0


# --------------------------------------------------------------------------------------------
# Calibration


def test_expected_calibration_error_matches_a_hand_computation():
    probs = np.array([[0.9, 0.05, 0.05],   # confidence 0.9,  correct -> bin (0.5, 1]
                      [0.7, 0.2, 0.1],     # confidence 0.7,  wrong   -> bin (0.5, 1]
                      [0.95, 0.03, 0.02],  # confidence 0.95, correct -> bin (0.5, 1]
                      [0.4, 0.35, 0.25],   # confidence 0.4,  correct -> bin (0, 0.5]
                      [0.2, 0.3, 0.5]])    # confidence 0.5,  wrong   -> bin (0, 0.5]
    y_true = np.array([0, 1, 0, 0, 0])
    # bin (0.5, 1]: 3 images, accuracy 2/3, confidence 0.85; bin (0, 0.5]: 2 images, accuracy 0.5, confidence 0.45
    expected = 3 / 5 * abs(2 / 3 - 0.85) + 2 / 5 * abs(0.5 - 0.45)
    assert plots.expected_calibration_error(probs, y_true, bins=2) == pytest.approx(expected)
    assert expected == pytest.approx(0.13)
    # one bin: |accuracy 3/5 - mean confidence 0.69|
    assert plots.expected_calibration_error(probs, y_true, bins=1) == pytest.approx(0.09)


def test_expected_calibration_error_is_zero_when_confidence_equals_accuracy():
    probs = np.array([[0.6, 0.4]] * 5)
    y_true = np.array([0, 0, 0, 1, 1])  # 60% right at 60% confidence
    assert plots.expected_calibration_error(probs, y_true) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("bins", [0, 2.5, True])
def test_expected_calibration_error_rejects_bad_bins(bins):
    with pytest.raises(ConfigError, match="bins must be a positive integer"):
        plots.expected_calibration_error(np.full((2, 2), 0.5), np.array([0, 1]), bins=bins)


def test_reliability_diagram_reports_the_ece(scenario):
    report = scenario.report
    fig = plots.reliability_diagram(report, bins=10)
    ax, ax_hist = fig.get_axes()
    ece = plots.expected_calibration_error(report.probs, report.y_true, 10)
    assert f"ECE {ece:.4f} (10 bins)" in ax.get_title()
    assert sum(bar.get_height() for bar in ax_hist.patches) == len(report.y_true)
    assert ax_hist.get_xlabel() == "confidence (top-1 probability)" and ax.get_ylabel() == "accuracy"


# --------------------------------------------------------------------------------------------
# Grad-CAM numbers


def test_gradcam_maps_are_per_image_in_unit_range_and_not_constant(scenario):
    from emodet.evaluation.saliency import gradcam

    images = scenario.test.images[:6]
    maps = gradcam(scenario.model, images)
    assert maps.shape == (6, 48, 48) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    peaks = maps.reshape(6, -1).max(axis=1)
    assert np.all((peaks == pytest.approx(1.0)) | (peaks == 0.0))
    assert np.all(maps.reshape(6, -1).std(axis=1) > 0.01)


def test_gradcam_explains_the_class_it_is_asked_about(scenario):
    from emodet.evaluation.saliency import gradcam

    images = scenario.test.images[:3]
    happy, angry = gradcam(scenario.model, images, class_index=3), gradcam(scenario.model, images, class_index=0)
    assert not np.allclose(happy, angry)
    per_image = gradcam(scenario.model, images, class_index=np.array([3, 3, 3]))
    np.testing.assert_allclose(per_image, happy, atol=1e-6)
    with pytest.raises(ConfigError, match=re.escape("0..6")):
        gradcam(scenario.model, images, class_index=7)


def test_gradcam_refuses_other_backends_with_a_fix(scenario, monkeypatch):
    import keras

    from emodet.evaluation.saliency import gradcam

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    with pytest.raises(ConfigError, match="KERAS_BACKEND=tensorflow"):
        gradcam(scenario.model, scenario.test.images[:1])


# --------------------------------------------------------------------------------------------
# Saving


def test_png_bytes_are_a_png_without_urls(scenario):
    png = plots.png_bytes(plots.confusion_matrix(scenario.report), dpi=50)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"http" not in png
