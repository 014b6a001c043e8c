"""The evaluation report as one self-contained HTML page (what ``emodet report`` writes).

:func:`write_report` turns an :class:`~emodet.evaluation.metrics.EvaluationReport` (plus, when
given, the model, the evaluated images and the training history) into ``NAME.html`` with every
figure embedded as a base64 PNG and the CSS inline, so the file opens offline and can be mailed
or archived alone. Beside it go ``NAME_figures/*.png`` (the same figures, for slides). Every
number in the page's tables is the value in ``report.to_dict()`` (the evaluation JSON) printed
with :data:`DECIMALS` decimals, and carries the exact value in ``data-value``.

:func:`emodet.training.run_report.report_run` does the same for a training run directory.

Sections whose inputs are missing (no model: no Grad-CAM; no images: no sample grids; no
history: no training curves) are left out, and the page says which and why.
"""

from __future__ import annotations

import base64
import html
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from emodet.errors import ConfigError, DataError
from emodet.evaluation import plots
from emodet.evaluation.selection import RECALL_FLOOR
from emodet.inference.tta import tta_label

if TYPE_CHECKING:
    from emodet.evaluation.metrics import EvaluationReport

#: Decimals for scores in the HTML tables (the JSON keeps full precision).
DECIMALS = 4
#: Confidence bins for the ECE and the reliability diagram.
CALIBRATION_BINS = 15


@dataclass(frozen=True)
class ReportInputs:
    """Everything a report can show; only ``report`` is required."""

    report: EvaluationReport
    # The evaluated images, row-aligned with the report (uint8 (N, H, W, 1|3)).
    pixels: np.ndarray | None = None
    model: object | None = None  # keras.Model
    history: tuple[dict, ...] = ()
    best_epoch: int | None = None
    # {split: {class: images}} for the class-distribution section.
    split_counts: Mapping[str, Mapping[str, int]] | None = None
    # Extra summary rows (label -> text), e.g. the run directory and data source.
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    body: str


def write_report(path: str | Path, report: EvaluationReport, *, model=None, data=None, history=None,
                 best_epoch: int | None = None, split_counts: Mapping[str, Mapping[str, int]] | None = None,
                 details: Mapping[str, str] | None = None, title: str | None = None,
                 dpi: int = 100) -> Path:
    """Write the HTML report for ``report`` to ``path`` (``.html``); return the path.

    ``data`` is the :class:`~emodet.data.images.LabelledImages` (or uint8 image array) the report
    was computed on, in the same order. ``history`` is a list of ``history.csv`` rows, or a
    ``FitResult``/``TrainResult`` (whose ``best_epoch`` is then used). ``split_counts`` defaults
    to the class counts of the evaluated images.
    """
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"report path {str(path)!r} must end in .html")
    rows, best_epoch = _history(history, best_epoch)
    inputs = ReportInputs(report, _pixels(data, report), _checked_model(model, report), rows, best_epoch,
                          split_counts or {report.name or "evaluated": _class_counts(report)}, dict(details or {}))
    figures_dir = path.with_name(path.stem + "_figures")
    figures_dir.mkdir(parents=True, exist_ok=True)
    for stale in figures_dir.glob("[0-9][0-9]-*.png"):  # an earlier report's figures, which may differ
        stale.unlink()
    page = render_page(inputs, title or _default_title(report), figures_dir, dpi)
    path.write_text(page, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# Inputs


def _history(history, best_epoch: int | None) -> tuple[tuple[dict, ...], int | None]:
    if history is None:
        return (), best_epoch
    if hasattr(history, "history") and hasattr(history, "best_epoch"):
        best_epoch = history.best_epoch if best_epoch is None else best_epoch
        history = history.history
    if isinstance(history, (str, Path, Mapping)) or not isinstance(history, Sequence):
        raise ConfigError(f"history must be a list of history.csv rows or a FitResult/TrainResult, "
                          f"got {type(history).__name__}; read a run's rows with "
                          "emodet.training.recorder.read_history(run_dir)")
    return tuple(dict(row) for row in history), (int(best_epoch) if best_epoch else None)


def _pixels(data, report) -> np.ndarray | None:
    if data is None:
        return None
    ids = getattr(data, "ids", None)
    if ids is not None and report.ids is not None and (len(ids) != len(report.ids) or np.any(ids != report.ids)):
        raise DataError(f"the data ({getattr(data, 'name', '') or 'images'}, {len(ids)} images) is not the data "
                        f"the report was computed on ({report.name or 'report'}, {len(report.ids)} images); "
                        "pass the same LabelledImages given to evaluate()")
    return plots.aligned_pixels(data, report)


def _checked_model(model, report):
    if model is None:
        return None
    from emodet.models.classifier import describe

    names = describe(model).class_names
    if tuple(names) != tuple(report.class_names):
        raise DataError(f"the model predicts {list(names)} but the report is on {list(report.class_names)}; "
                        "pass the model that produced the report")
    return model


def _class_counts(report) -> dict[str, int]:
    counts = np.bincount(np.asarray(report.y_true, dtype=int), minlength=len(report.class_names))
    return dict(zip(report.class_names, counts.tolist()))


def _default_title(report) -> str:
    return f"emodet evaluation: {report.name}" if report.name else "emodet evaluation"


# --------------------------------------------------------------------------------------------
# The page


def render_page(inputs: ReportInputs, title: str, figures_dir: Path, dpi: int = 100) -> str:
    """The whole HTML document; figures are also written to ``figures_dir`` as PNG files."""
    figures = _FigureWriter(figures_dir, dpi)
    sections, skipped = [], []
    for build in _SECTION_BUILDERS:
        section = build(inputs, figures)
        if isinstance(section, Section):
            sections.append(section)
        elif section:  # a reason it is left out (None: nothing to leave out, e.g. one validation set)
            skipped.append(section)
    sections[0] = Section(sections[0].anchor, sections[0].title, sections[0].body + _skipped_note(skipped))
    nav = " ".join(f'<a href="#{s.anchor}">{_e(s.title)}</a>' for s in sections)
    body = "\n".join(f'<section id="{s.anchor}">\n<h2>{_e(s.title)}</h2>\n{s.body}\n</section>' for s in sections)
    from emodet import __version__

    stamp = time.strftime("%Y-%m-%d %H:%M")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_e(title)}</title>\n'
            f"<style>{_CSS}</style>\n</head>\n<body>\n<header>\n<h1>{_e(title)}</h1>\n"
            f'<p class="meta">written {stamp} by emodet {_e(__version__)}</p>\n<nav>{nav}</nav>\n</header>\n'
            f"<main>\n{body}\n</main>\n</body>\n</html>\n")


class _FigureWriter:
    """Saves each figure as a numbered PNG and returns the ``<figure>`` element embedding it."""

    def __init__(self, folder: Path, dpi: int):
        self.folder = folder
        self.dpi = dpi
        self.count = 0

    def __call__(self, fig, slug: str, caption: str) -> str:
        self.count += 1
        png = plots.png_bytes(fig, self.dpi)
        (self.folder / f"{self.count:02d}-{slug}.png").write_bytes(png)
        data = base64.b64encode(png).decode("ascii")
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
                f"<figcaption>{_e(caption)}</figcaption></figure>")


def _summary(inputs: ReportInputs, figures) -> Section:
    report = inputs.report
    about = [_text_row("model", _model_text(inputs.model)),
             _text_row("evaluated on", f"{report.name or 'unnamed split'}: {len(report.y_true)} images"
                       + (f" (with {tta_label(report.tta)})" if report.tta else "")),
             _text_row("classes", ", ".join(report.class_names))]
    about += [_text_row(label, text) for label, text in inputs.details.items()]
    if inputs.best_epoch:
        about.append(_text_row("chosen checkpoint", f"epoch {inputs.best_epoch}"))
    body = ('<div class="pair">\n'
            f'<table class="kv about">\n{"".join(about)}</table>\n'
            f'<table class="kv">\n{"".join(_score_rows(report))}</table>\n'
            "</div>\n" + _subsets_table(report))
    return Section("summary", "Summary", body)


def _score_rows(report) -> list[str]:
    macro, weighted = report.averaged("macro"), report.averaged("weighted")
    ece = plots.expected_calibration_error(report.probs, report.y_true, CALIBRATION_BINS)
    return [_number_row("accuracy", report.accuracy, "accuracy"),
            _number_row("macro F1", macro["f1"], "macro.f1"),
            _number_row("macro precision", macro["precision"], "macro.precision"),
            _number_row("macro recall", macro["recall"], "macro.recall"),
            _number_row("weighted F1", weighted["f1"], "weighted.f1"),
            _number_row(f"expected calibration error ({CALIBRATION_BINS} bins)", ece, "ece")]


def _subsets_table(report) -> str:
    if not report.subsets:
        return ""
    head = "<tr><th>subset</th><th>images</th><th>accuracy</th><th>macro F1</th></tr>\n"
    rows = []
    for key, sub in report.subsets.items():
        prefix = f"subsets.{key}"
        rows.append(f"<tr><td>{_e(key.replace('_', ' '))}</td>{_int_cell(len(sub.y_true), prefix + '.images')}"
                    f"{_number_cell(sub.accuracy, prefix + '.accuracy')}"
                    f"{_number_cell(sub.averaged('macro')['f1'], prefix + '.macro.f1')}</tr>\n")
    return ('<h3>Subsets</h3>\n<p class="note">The same predictions scored on part of the images; '
            "<em>without train duplicates</em> leaves out images whose pixels also occur in the training "
            "split, which a model may simply have memorised.</p>\n"
            f'<table class="scores">\n{head}{"".join(rows)}</table>\n')


def _training(inputs: ReportInputs, figures) -> Section | str:
    if not inputs.history:
        return "training curves (no training history given)"
    fig = plots.training_curves(inputs.history, inputs.best_epoch)
    note = ('<p class="note">Stage 1 trains the head on a frozen backbone; stage 2 fine-tunes the backbone\'s '
            "top blocks at a lower learning rate. The kept weights are those of the chosen checkpoint.</p>")
    return Section("training", "Training curves", note + figures(fig, "training-curves", "Training curves"))


def _validation_sets(inputs: ReportInputs, figures) -> Section | None:
    """Each validation set's scores at the chosen epoch, and the selection score over them (nothing
    for a history without per-set scores: a report without training, or a run from before them)."""
    suffix = "_worst_recall"
    row = next((r for r in inputs.history if r.get("epoch") == inputs.best_epoch), None)
    names = [key[4:-len(suffix)] for key in (row or {}) if key.startswith("val_") and key.endswith(suffix)]
    if not names:
        return None
    head = "<tr><th>validation set</th><th>accuracy</th><th>macro-F1</th><th>worst class recall</th></tr>\n"
    rows = "".join(f"<tr><th>{_e(name)}</th>" + "".join(
        _number_cell(row[f"val_{name}_{metric}"], f"sets.{name}.{metric}") for metric in
        ("accuracy", "macro_f1", "worst_recall")) + "</tr>\n" for name in names)
    note = (f'<p class="note">The epoch is chosen by one score over every set (emodet.evaluation.selection): the '
            f"mean macro-F1, provided every class on every set reaches {RECALL_FLOOR:.0%} recall. "
            f"At epoch {inputs.best_epoch} it is {format_number(row.get('val_score', float('nan')))}. "
            "The other sections pool every set.</p>")
    return Section("validation-sets", "Validation sets", note + f'<table class="scores">\n{head}{rows}</table>\n')


def _confusion(inputs: ReportInputs, figures) -> Section:
    report = inputs.report
    body = ('<div class="pair">'
            + figures(plots.confusion_matrix(report, normalize=False), "confusion-counts", "Confusion matrix (counts)")
            + figures(plots.confusion_matrix(report, normalize=True), "confusion-normalised",
                      "Confusion matrix (row-normalised)")
            + "</div>")
    return Section("confusion", "Confusion matrices", body)


def _per_class(inputs: ReportInputs, figures) -> Section:
    report = inputs.report
    head = "<tr><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>\n"
    rows = []
    for name, m in report.per_class.items():
        key = f"per_class.{name}"
        rows.append(f"<tr><td>{_e(name)}</td>{_prf_cells(m, key)}{_int_cell(m['support'], key + '.support')}</tr>\n")
    for average in ("macro", "weighted"):
        rows.append(f'<tr class="total"><td>{average} average</td>{_prf_cells(report.averaged(average), average)}'
                    f"{_int_cell(len(report.y_true), 'images')}</tr>\n")
    table = f'<table class="scores">\n{head}{"".join(rows)}</table>\n'
    return Section("per-class", "Per-class metrics",
                   table + figures(plots.per_class_metrics(report), "per-class", "Per-class precision, recall, F1"))


def _distribution(inputs: ReportInputs, figures) -> Section:
    return Section("distribution", "Class distribution",
                   figures(plots.class_distribution(inputs.split_counts), "class-distribution", "Class distribution"))


def _samples(inputs: ReportInputs, figures) -> Section | str:
    if inputs.pixels is None:
        return "sample predictions (no images given)"
    fig = plots.sample_predictions(inputs.pixels, inputs.report)
    note = '<p class="note">Random faces; each shows its true class and the model\'s three most probable classes.</p>'
    return Section("samples", "Sample predictions", note + figures(fig, "sample-predictions", "Sample predictions"))


def _confused(inputs: ReportInputs, figures) -> Section | str:
    if inputs.pixels is None:
        return "most confused pairs (no images given)"
    fig = plots.confused_pairs(inputs.pixels, inputs.report)
    return Section("confused", "Most confused pairs", figures(fig, "confused-pairs", "Most confused pairs"))


def _gradcam(inputs: ReportInputs, figures) -> Section | str:
    if inputs.model is None or inputs.pixels is None:
        return "Grad-CAM (needs both the model and the images)"
    import keras

    if keras.backend.backend() != "tensorflow":
        return f"Grad-CAM (needs the TensorFlow backend, Keras runs on {keras.backend.backend()})"
    from emodet.models.members import ensemble_members

    model = (ensemble_members(inputs.model) or [inputs.model])[0]
    fig = plots.gradcam_grid(model, inputs.pixels, inputs.report)
    note = ('<p class="note">Grad-CAM weights the backbone\'s last feature map by the gradient of the predicted '
            "class's log-probability: warm colours mark the regions that raised it.</p>")
    if model is not inputs.model:
        note += (f'<p class="note">The model is an ensemble; the maps show where its first member, '
                 f"{_e(model.name)}, found evidence for the class the ensemble predicted.</p>")
    return Section("gradcam", "Grad-CAM", note + figures(fig, "gradcam", "Grad-CAM heat maps"))


def _calibration(inputs: ReportInputs, figures) -> Section:
    fig = plots.reliability_diagram(inputs.report, CALIBRATION_BINS)
    note = ('<p class="note">Confidence is the top-1 probability. Bars below the diagonal mean the model is '
            "over-confident in that range; the ECE is the image-weighted mean gap.</p>")
    return Section("calibration", "Calibration", note + figures(fig, "reliability", "Reliability diagram"))


_SECTION_BUILDERS = (_summary, _training, _validation_sets, _confusion, _per_class, _distribution, _samples,
                     _confused, _gradcam, _calibration)


# --------------------------------------------------------------------------------------------
# HTML pieces


def format_number(value: float) -> str:
    """How the tables print a score: :data:`DECIMALS` decimals, ``n/a`` for NaN."""
    return "n/a" if value is None or np.isnan(value) else f"{value:.{DECIMALS}f}"


def _number_cell(value: float, key: str) -> str:
    return f'<td class="num" data-key="{_e(key)}" data-value="{float(value)!r}">{format_number(value)}</td>'


def _prf_cells(metrics: Mapping[str, float], key: str) -> str:
    """Precision, recall and F1 cells keyed ``KEY.precision`` and so on, as in the JSON."""
    return "".join(_number_cell(metrics[m], f"{key}.{m}") for m in ("precision", "recall", "f1"))


def _int_cell(value: int, key: str) -> str:
    return f'<td class="num" data-key="{_e(key)}" data-value="{int(value)}">{int(value)}</td>'


def _number_row(label: str, value: float, key: str) -> str:
    return f"<tr><th>{_e(label)}</th>{_number_cell(value, key)}</tr>\n"


def _text_row(label: str, text: str) -> str:
    return f"<tr><th>{_e(label)}</th><td>{_e(text)}</td></tr>\n"


def _model_text(model) -> str:
    if model is None:
        return "not given"
    from emodet.models.classifier import describe

    contract = describe(model)
    return (f"{contract.backbone}, {contract.image_size}x{contract.image_size} px {contract.color_mode} input, "
            f"{model.count_params():,} parameters")


def _skipped_note(skipped: list[str]) -> str:
    if not skipped:
        return ""
    return f'<p class="note">Not shown: {_e("; ".join(skipped))}.</p>\n'


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def parse_table_values(page: str) -> dict[str, float]:
    """``data-key -> data-value`` of every number in a written page (for checks and tooling)."""
    return {key: float(value) for key, value in re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', page)}


_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0;
       color: #1d1d1f; background: #f6f7f9; line-height: 1.45; }
header { background: #22304a; color: #fff; padding: 18px 32px 12px; }
header h1 { margin: 0 0 4px; font-size: 1.5em; font-weight: 600; }
header .meta { margin: 0 0 10px; color: #c9d3e6; font-size: 0.85em; }
nav a { color: #fff; margin-right: 14px; font-size: 0.9em; text-decoration: none;
        border-bottom: 1px dotted #9fb0d0; }
main { max-width: 1280px; margin: 0 auto; padding: 8px 32px 40px; }
section { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; margin: 18px 0;
          padding: 6px 22px 18px; }
h2 { font-size: 1.2em; border-bottom: 1px solid #e1e4ea; padding-bottom: 6px; }
h3 { font-size: 1.0em; margin-top: 20px; }
table { border-collapse: collapse; font-size: 0.92em; margin: 8px 0 14px; }
th, td { padding: 4px 12px; border-bottom: 1px solid #eceef2; text-align: left; vertical-align: top; }
table.scores th { background: #f0f2f6; }
table.kv th { color: #4a5568; font-weight: 500; }
table.about { flex: 1 1 520px; }
table.about th { width: 140px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; font-family: ui-monospace, "DejaVu Sans Mono",
         monospace; }
tr.total td { font-weight: 600; background: #fafbfc; }
figure { margin: 10px 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { color: #6b7280; font-size: 0.85em; margin-top: 4px; }
.pair { display: flex; flex-wrap: wrap; gap: 16px 40px; align-items: flex-start; }
.pair figure { flex: 1 1 520px; }
.note { color: #4a5568; font-size: 0.9em; }
"""
