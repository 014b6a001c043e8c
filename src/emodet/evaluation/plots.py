"""Figures that show what a model does: pure functions from results to matplotlib Figures.

Every function builds and returns a new :class:`matplotlib.figure.Figure` through the object
API, never pyplot, so nothing touches global state, no window opens, and figures can be made
in threads or servers. Save one with :func:`save_png` or embed it with :func:`png_bytes`.

Image arguments are uint8 ``(N, H, W, 1|3)`` arrays (or
:class:`~emodet.data.images.LabelledImages`) whose rows match the report's rows one to one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from emodet.errors import ConfigError, DataError
from emodet.inference.tta import tta_label
from emodet.plotting import png_bytes

if TYPE_CHECKING:
    import keras

    from emodet.evaluation.metrics import EvaluationReport

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
BEST_COLOR = "#2ca02c"
CORRECT_COLOR = "#2ca02c"
WRONG_COLOR = "#d62728"
METRIC_COLORS = {"precision": "#4c72b0", "recall": "#dd8452", "f1": "#55a868"}
SPLIT_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860")


# --------------------------------------------------------------------------------------------
# Saving


def save_png(fig: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write the figure as a PNG file and return its path."""
    path = Path(path)
    path.write_bytes(png_bytes(fig, dpi))
    return path


# --------------------------------------------------------------------------------------------
# Training


def training_curves(history_rows: Sequence[Mapping], best_epoch: int | None = None) -> Figure:
    """Loss, accuracy and learning rate per epoch, with the stage boundary and chosen checkpoint.

    ``history_rows`` are the rows of a run's ``history.csv`` (``epoch``, ``stage``,
    ``learning_rate``, ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``; missing values
    as ``None``). ``best_epoch`` (1-based) is the epoch whose weights were kept.
    """
    rows = _history_rows(history_rows)
    epochs = np.array([r["epoch"] for r in rows])
    fig = Figure(figsize=(12, 3.9), layout="constrained")
    ax_loss, ax_acc, ax_lr = fig.subplots(1, 3)
    for ax, metric, label in ((ax_loss, "loss", "loss"), (ax_acc, "accuracy", "accuracy")):
        ax.plot(epochs, _column(rows, metric), "o-", ms=3, color=TRAIN_COLOR)
        ax.plot(epochs, _column(rows, "val_" + metric), "o-", ms=3, color=VAL_COLOR)
        ax.set_title(label)
        ax.set_ylabel(label)
    ax_lr.plot(epochs, _column(rows, "learning_rate"), "o-", ms=3, color="#555555")
    ax_lr.set_title("learning rate (at epoch end)")
    ax_lr.set_ylabel("learning rate")
    if np.nanmin(_column(rows, "learning_rate"), initial=np.inf) > 0:
        ax_lr.set_yscale("log")
    boundary = _stage_boundary(rows)
    for ax in (ax_loss, ax_acc, ax_lr):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if boundary is not None:
            ax.axvline(boundary, color="#777777", ls=":", lw=1.5)
        if best_epoch:
            ax.axvline(best_epoch, color=BEST_COLOR, ls="--", lw=1.2)
    if best_epoch and best_epoch in epochs:
        at = int(np.flatnonzero(epochs == best_epoch)[0])
        ax_acc.plot([best_epoch], [_column(rows, "val_accuracy")[at]], "*", ms=13, color=BEST_COLOR)
    fig.legend(handles=_curve_legend(boundary, best_epoch), loc="outside lower center", ncol=4, frameon=False)
    fig.suptitle("Training history")
    return fig


def _history_rows(history_rows) -> list[dict]:
    rows = sorted((dict(r) for r in history_rows or ()), key=lambda r: r.get("epoch") or 0)
    if not rows:
        raise DataError("the training history is empty; pass the rows of a run's history.csv "
                        "(emodet.training.recorder.read_history(run_dir))")
    missing = {"epoch", "stage", "learning_rate", "loss", "accuracy", "val_loss", "val_accuracy"} - set(rows[0])
    if missing:
        raise DataError(f"training history rows lack {sorted(missing)}; expected the columns of history.csv")
    for r in rows:
        r["epoch"], r["stage"] = int(r["epoch"]), int(r["stage"])
    return rows


def _column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([np.nan if r.get(key) is None else float(r[key]) for r in rows])


def _stage_boundary(rows: list[dict]) -> float | None:
    """Half-way between the last stage-1 epoch and the first stage-2 epoch, if both ran."""
    first = [r["epoch"] for r in rows if r["stage"] == 1]
    second = [r["epoch"] for r in rows if r["stage"] == 2]
    return (max(first) + min(second)) / 2 if first and second else None


def _curve_legend(boundary, best_epoch) -> list[Line2D]:
    handles = [Line2D([], [], color=TRAIN_COLOR, marker="o", ms=3, label="train"),
               Line2D([], [], color=VAL_COLOR, marker="o", ms=3, label="validation")]
    if boundary is not None:
        handles.append(Line2D([], [], color="#777777", ls=":", lw=1.5,
                              label="stage 1 (head) | stage 2 (fine-tuning)"))
    if best_epoch:
        handles.append(Line2D([], [], color=BEST_COLOR, ls="--", marker="*", ms=10,
                              label=f"chosen checkpoint (epoch {best_epoch})"))
    return handles


# --------------------------------------------------------------------------------------------
# Scores


def confusion_matrix(report: EvaluationReport, normalize: bool = False) -> Figure:
    """The confusion matrix, rows = true class, columns = predicted class, values in the cells.

    ``normalize=True`` divides each row by its class's image count, so the diagonal is the
    per-class recall and rare classes are as readable as common ones.
    """
    counts = np.asarray(report.confusion)
    values = _row_normalised(counts) if normalize else counts
    names = list(report.class_names)
    size = 1.8 + 0.55 * len(names)
    fig = Figure(figsize=(size + 0.9, size), layout="constrained")
    ax = fig.subplots()
    top = 1.0 if normalize else max(1, int(values.max()))
    image = ax.imshow(values, cmap="Blues", vmin=0, vmax=top)
    # Drawn at about the size the HTML report shows it (two side by side), so fonts stay readable.
    ax.set_xticks(range(len(names)), labels=names, rotation=40, ha="right", rotation_mode="anchor", fontsize=11)
    ax.set_yticks(range(len(names)), labels=names, fontsize=11)
    ax.set_xlabel("predicted class", fontsize=11)
    ax.set_ylabel("true class", fontsize=11)
    for (i, j), value in np.ndenumerate(values):
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        ax.text(j, i, text, ha="center", va="center", fontsize=10 if len(names) <= 8 else 8,
                color="white" if value > 0.55 * top else "black")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class" if normalize else "images")
    kind = "row-normalised (diagonal = recall)" if normalize else "counts"
    ax.set_title(f"Confusion matrix, {kind}\n{_describe(report)}", fontsize=11)
    return fig


def _row_normalised(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its sum; rows of a class with no images stay 0."""
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)


def per_class_metrics(report: EvaluationReport) -> Figure:
    """Precision, recall and F1 per class as grouped bars; tick labels carry each class's support."""
    names = list(report.class_names)
    per_class = report.per_class
    x = np.arange(len(names))
    width = 0.27
    fig = Figure(figsize=(max(7.0, 1.2 * len(names) + 2), 4.2), layout="constrained")
    ax = fig.subplots()
    for offset, metric in zip((-width, 0.0, width), ("precision", "recall", "f1")):
        ax.bar(x + offset, [per_class[n][metric] for n in names], width, label=metric.replace("f1", "F1"),
               color=METRIC_COLORS[metric])
    macro_f1 = report.averaged("macro")["f1"]
    ax.axhline(macro_f1, color="#333333", ls="--", lw=1, label=f"macro F1 {macro_f1:.4f}")
    ax.set_xticks(x, labels=[f"{n}\n(n={per_class[n]['support']})" for n in names])
    ax.set_ylim(0, 1.0)
    ax.set_ylabel("score")
    ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside right upper", frameon=False)
    ax.set_title(f"Per-class precision, recall and F1\n{_describe(report)}", fontsize=10)
    return fig


def class_distribution(counts: Mapping[str, Mapping[str, int]]) -> Figure:
    """Images per class in each split: absolute counts, and each class's share of its split.

    ``counts`` maps a split name to ``{class name: images}`` (as
    :meth:`LabelledImages.class_counts` returns). The share panel shows whether the splits
    have the same class balance even when their sizes differ tenfold.
    """
    splits, names, table = _count_table(counts)
    x = np.arange(len(names))
    width = 0.8 / len(splits)
    fig = Figure(figsize=(max(9.0, 1.6 * len(names) + 2), 4.4), layout="constrained")
    ax_count, ax_share = fig.subplots(1, 2)
    for s, split in enumerate(splits):
        offset = (s - (len(splits) - 1) / 2) * width
        color = SPLIT_COLORS[s % len(SPLIT_COLORS)]
        total = max(1, table[s].sum())
        bars = ax_count.bar(x + offset, table[s], width, color=color, label=f"{split} ({int(table[s].sum())})")
        ax_count.bar_label(bars, fontsize=6.5, rotation=90, padding=2)
        ax_share.bar(x + offset, 100 * table[s] / total, width, color=color)
    ax_count.set_ylim(0, table.max() * 1.22 + 1)
    ax_count.set_ylabel("images")
    ax_count.set_title("images per class")
    ax_share.set_ylabel("% of the split")
    ax_share.set_title("share of each split")
    for ax in (ax_count, ax_share):
        ax.set_xticks(x, labels=names, rotation=30, ha="right", rotation_mode="anchor")
        ax.grid(axis="y", alpha=0.3)
    fig.legend(loc="outside lower center", ncol=len(splits), frameon=False, title="split (images)")
    fig.suptitle("Class distribution")
    return fig


def _count_table(counts) -> tuple[list[str], list[str], np.ndarray]:
    if not counts or not all(isinstance(c, Mapping) and c for c in counts.values()):
        raise DataError(f"class_distribution needs {{split: {{class: images}}}} with at least one split and class, "
                        f"got {counts!r}; use LabelledImages.class_counts() per split")
    splits = list(counts)
    names = list(dict.fromkeys(name for split in splits for name in counts[split]))
    table = np.array([[int(counts[split].get(name, 0)) for name in names] for split in splits])
    return splits, names, table


# --------------------------------------------------------------------------------------------
# Faces


def sample_predictions(images, report: EvaluationReport, n: int = 16, *, columns: int = 8,
                       seed: int = 0) -> Figure:
    """A grid of correctly and wrongly classified faces, each with its true label and top-3 classes.

    Half of the ``n`` faces are wrong predictions (fewer if there are not enough), drawn at
    random with ``seed``; frames are green for correct and red for wrong.
    """
    pixels = aligned_pixels(images, report)
    _check_positive(n=n, columns=columns)
    correct = report.y_pred == report.y_true
    rng = np.random.default_rng(seed)
    n_wrong = min(int((~correct).sum()), n // 2)
    n_correct = min(int(correct.sum()), n - n_wrong)
    n_wrong = min(int((~correct).sum()), n - n_correct)
    groups = [(f"correct ({int(correct.sum())} of {len(correct)} images)", CORRECT_COLOR,
               _pick(np.flatnonzero(correct), n_correct, rng)),
              (f"wrong ({int((~correct).sum())} of {len(correct)} images)", WRONG_COLOR,
               _pick(np.flatnonzero(~correct), n_wrong, rng))]
    groups = [g for g in groups if len(g[2])]
    columns = min(columns, max(len(g[2]) for g in groups))
    heights = [math.ceil(len(g[2]) / columns) for g in groups]
    fig = Figure(figsize=(1.6 * columns, 2.4 * sum(heights) + 0.45 * len(groups)), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(groups), 1, height_ratios=heights))
    for subfig, (title, color, index) in zip(subfigs, groups):
        subfig.suptitle(title, color=color, fontsize=11, fontweight="bold")
        axes = np.atleast_1d(subfig.subplots(math.ceil(len(index) / columns), columns)).ravel()
        for ax, i in zip(axes, index):
            _show_face(ax, pixels[i], frame=color)
            ax.set_title(_top_k_title(report, i, 3), fontsize=8.5, loc="left")
        for ax in axes[len(index):]:
            ax.set_axis_off()
    return fig


def confused_pairs(images, report: EvaluationReport, top: int = 6, *, examples: int = 6) -> Figure:
    """The ``top`` most frequent (true, predicted) confusions, with counts and example faces.

    The examples are the most confident mistakes of each pair (highest predicted probability),
    which are the most telling: mislabelled images and genuinely ambiguous faces show up here.
    """
    pixels = aligned_pixels(images, report)
    _check_positive(top=top, examples=examples)
    pairs = most_confused(report, top)
    if not pairs:
        fig = Figure(figsize=(7, 1.5), layout="constrained")
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No confusions: every image was classified correctly.", ha="center", va="center")
        return fig
    fig = Figure(figsize=(1.9 + 1.25 * examples, 1.6 * len(pairs) + 0.5), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(pairs), examples + 1, width_ratios=[1.5] + [1.0] * examples))
    names = report.class_names
    for row, (true, pred, count) in zip(axes, pairs):
        share = count / max(1, int(np.sum(report.y_true == true)))
        row[0].set_axis_off()
        row[0].text(0.0, 0.5, f"{names[true]} \u2192 {names[pred]}\n{count} images\n"
                              f"{share:.1%} of {names[true]}", ha="left", va="center", fontsize=10)
        index = np.flatnonzero((report.y_true == true) & (report.y_pred == pred))
        index = index[np.argsort(-report.probs[index, pred], kind="stable")][:examples]
        for ax, i in zip(row[1:], index):
            _show_face(ax, pixels[i], frame=WRONG_COLOR)
            ax.set_title(f"{names[pred]} {report.probs[i, pred]:.2f}", fontsize=8.5)
        for ax in row[1 + len(index):]:
            ax.set_axis_off()
    fig.suptitle("Most confused pairs (true \u2192 predicted), most confident mistakes first")
    return fig


def most_confused(report: EvaluationReport, top: int) -> list[tuple[int, int, int]]:
    """``(true index, predicted index, count)`` of the largest off-diagonal confusion cells."""
    counts = np.asarray(report.confusion).copy()
    np.fill_diagonal(counts, 0)
    order = np.argsort(-counts, axis=None, kind="stable")[:top]
    pairs = [(int(i), int(j), int(counts[i, j])) for i, j in zip(*np.unravel_index(order, counts.shape))]
    return [p for p in pairs if p[2] > 0]


def gradcam_grid(model: keras.Model, images, report: EvaluationReport, n: int = 8, *, seed: int = 0,
                 alpha: float = 0.45) -> Figure:
    """Faces and their Grad-CAM heat maps for the class the report predicted.

    Faces are drawn one per true class in turn (so every emotion appears when ``n`` allows),
    at random with ``seed``. Needs the TensorFlow backend (see :mod:`emodet.evaluation.saliency`).
    """
    from emodet.evaluation.saliency import gradcam

    pixels = aligned_pixels(images, report)
    _check_positive(n=n)
    index = _one_per_class(report.y_true, len(report.class_names), n, np.random.default_rng(seed))
    heat = gradcam(model, pixels[index], class_index=report.y_pred[index])
    fig = Figure(figsize=(1.6 * len(index) + 0.9, 4.4), layout="constrained")
    axes = np.atleast_2d(fig.subplots(2, len(index)).reshape(2, -1))
    names = report.class_names
    overlay = None
    for column, i in enumerate(index):
        pred = report.y_pred[i]
        color = CORRECT_COLOR if pred == report.y_true[i] else WRONG_COLOR
        _show_face(axes[0, column], pixels[i], frame=color)
        axes[0, column].set_title(f"true {names[report.y_true[i]]}\npred {names[pred]} {report.probs[i, pred]:.2f}",
                                  fontsize=8.5)
        _show_face(axes[1, column], pixels[i], frame=color)
        overlay = axes[1, column].imshow(heat[column], cmap="jet", alpha=alpha, vmin=0, vmax=1)
    axes[0, 0].set_ylabel("face")
    axes[1, 0].set_ylabel("Grad-CAM")
    fig.colorbar(overlay, ax=axes[1, :].tolist(), shrink=0.9, label="relevance")
    fig.suptitle("Grad-CAM: where the model looked for its predicted class")
    return fig


def _one_per_class(y_true: np.ndarray, n_classes: int, n: int, rng) -> np.ndarray:
    """Up to ``n`` indices, cycling over the classes so each is represented before any repeats."""
    pools = [list(rng.permutation(np.flatnonzero(y_true == k))) for k in range(n_classes)]
    picked: list[int] = []
    while len(picked) < n and any(pools):
        for pool in pools:
            if pool and len(picked) < n:
                picked.append(int(pool.pop()))
    return np.array(picked, dtype=int)


def aligned_pixels(images, report: EvaluationReport) -> np.ndarray:
    """The evaluated images as a uint8 array, checked to be one per report row."""
    pixels = np.asarray(getattr(images, "images", images))
    if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[-1] not in (1, 3):
        raise ConfigError(f"images must be uint8 (N, H, W, 1|3), got {pixels.dtype} {pixels.shape}; "
                          "pass the LabelledImages the report was computed on")
    if len(pixels) != len(report.y_true):
        raise DataError(f"got {len(pixels)} images for a report on {len(report.y_true)}; pass the same "
                        "images, in the same order, that the report was computed on")
    if not len(pixels):
        raise DataError("the report holds no images, so there are no faces to show; evaluate a non-empty split")
    return pixels


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if int(value) < 1:
            raise ConfigError(f"{name} must be at least 1, got {value!r}")


def _pick(index: np.ndarray, count: int, rng) -> np.ndarray:
    return np.sort(rng.choice(index, size=count, replace=False)) if count else np.array([], dtype=int)


def _show_face(ax, face: np.ndarray, frame: str) -> None:
    # Nearest-neighbour shows the pixels the model saw (FER2013 is 48x48) and keeps PNGs small.
    if face.shape[-1] == 1:
        ax.imshow(face[..., 0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(face, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(frame)
        spine.set_linewidth(2.5)


def _top_k_title(report: EvaluationReport, i: int, k: int) -> str:
    order = np.argsort(-report.probs[i], kind="stable")[:k]
    lines = [f"true: {report.class_names[report.y_true[i]]}"]
    lines += [f"{rank}. {report.class_names[c]} {report.probs[i, c]:.2f}" for rank, c in enumerate(order, 1)]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Calibration


def calibration_bins(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin: image count, mean confidence and accuracy.

    Confidence is the top-1 probability; bin ``b`` holds confidences in ``(b/bins, (b+1)/bins]``
    (the first bin also holds 0). Empty bins have NaN confidence and accuracy.
    """
    probs, y_true = _check_probs(probs, y_true, bins)
    confidence = probs.max(axis=1) if len(probs) else np.zeros(0)
    correct = (probs.argmax(axis=1) == y_true) if len(probs) else np.zeros(0, dtype=bool)
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, weights=confidence, minlength=bins) / count
        accuracy = np.bincount(which, weights=correct.astype(float), minlength=bins) / count
    return {"count": count, "confidence": mean_confidence, "accuracy": accuracy,
            "edges": np.linspace(0.0, 1.0, bins + 1)}


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """ECE: the image-weighted mean gap between accuracy and confidence over the bins.

    ``sum_b (n_b / N) * |accuracy_b - confidence_b|`` with the bins of :func:`calibration_bins`;
    0 is perfectly calibrated. NaN for no images, like the report's accuracy.
    """
    table = calibration_bins(probs, y_true, bins)
    total = table["count"].sum()
    if total == 0:
        return float("nan")
    filled = table["count"] > 0
    gaps = np.abs(table["accuracy"][filled] - table["confidence"][filled])
    return float(np.sum(table["count"][filled] / total * gaps))


def reliability_diagram(report: EvaluationReport, bins: int = 15) -> Figure:
    """Accuracy against confidence per bin (with the gap to the diagonal) and the confidence histogram."""
    table = calibration_bins(report.probs, report.y_true, bins)
    ece = expected_calibration_error(report.probs, report.y_true, bins)
    edges, width = table["edges"], 1.0 / bins
    filled = table["count"] > 0
    fig = Figure(figsize=(6.2, 6.4), layout="constrained")
    ax, ax_hist = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax.bar(edges[:-1][filled], table["accuracy"][filled], width, align="edge", color="#4c72b0",
           edgecolor="white", label="accuracy")
    gap_bottom = np.minimum(table["accuracy"], table["confidence"])[filled]
    gap_height = np.abs(table["accuracy"] - table["confidence"])[filled]
    ax.bar(edges[:-1][filled], gap_height, width, bottom=gap_bottom, align="edge", color=WRONG_COLOR, alpha=0.3,
           edgecolor=WRONG_COLOR, hatch="//", label="gap to confidence")
    ax.plot([0, 1], [0, 1], ls="--", color="#333333", lw=1, label="perfect calibration")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", frameon=False)
    ax.set_title(f"Reliability diagram: ECE {ece:.4f} ({bins} bins)\n{_describe(report)}", fontsize=10)
    ax_hist.bar(edges[:-1], table["count"], width, align="edge", color="#888888", edgecolor="white")
    ax_hist.set_xlabel("confidence (top-1 probability)")
    ax_hist.set_ylabel("images")
    return fig


def _check_probs(probs, y_true, bins) -> tuple[np.ndarray, np.ndarray]:
    probs, y_true = np.asarray(probs, dtype=float), np.asarray(y_true)
    if probs.ndim != 2 or y_true.shape != (len(probs),):
        raise ConfigError(f"calibration needs probs (N, K) and y_true (N,), got {probs.shape} and {y_true.shape}")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ConfigError(f"bins must be a positive integer, got {bins!r}")
    return probs, y_true


def _describe(report: EvaluationReport) -> str:
    name = f"{report.name}: " if getattr(report, "name", "") else ""
    augmented = f", {tta_label(report.tta)}" if getattr(report, "tta", None) else ""
    return f"{name}{len(report.y_true)} images{augmented}"
