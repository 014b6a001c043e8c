"""Matching a dataset's classes to a model's, by name (see :data:`emodet.labels.SYNONYMS`).

A folder of ``anger/ disgust/ sadness/`` faces is sorted alphabetically, a FER2013 model predicts
``angry, disgust, fear, ...``: position means nothing, names do. A dataset may hold a subset of the
model's classes (CK+ has no neutral); classes the model does not know are refused, or their
images dropped when the caller says so.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from emodet.data.images import LabelledImages
from emodet.errors import DataError
from emodet.labels import canonical_label


def match_classes(data: LabelledImages, model_classes, *, drop_unknown: bool = False) -> LabelledImages:
    """``data`` relabelled in ``model_classes``' order (columns of classes it lacks are zero).

    Images of classes the model does not predict raise a :class:`DataError` listing both sides,
    or are left out with ``drop_unknown=True`` (recorded in the result's ``skipped``).
    """
    model_classes = tuple(model_classes)
    if tuple(data.class_names) == model_classes:
        return data
    columns = model_columns(data.class_names, model_classes)
    labels = data.labels
    keep = np.ones(len(data), dtype=bool)
    if None in columns:
        unknown_rows = np.isin(labels, [k for k, c in enumerate(columns) if c is None])
        if unknown_rows.any() and not drop_unknown:
            raise unknown_classes_error(data.name, data.class_names, model_classes)
        keep = ~unknown_rows
    targets = np.zeros((len(data), len(model_classes)), np.float32)
    for k, column in enumerate(columns):
        if column is not None:
            targets[:, column] += data.targets[:, k]
    dropped = tuple((str(i), f"class {data.class_names[labels[n]]!r} is not one the model predicts")
                    for n, i in enumerate(data.ids) if not keep[n])
    return dataclasses.replace(
        data, images=data.images[keep], targets=targets[keep], class_names=model_classes, ids=data.ids[keep],
        in_train=None if data.in_train is None else data.in_train[keep], skipped=data.skipped + dropped)


def model_columns(data_classes, model_classes) -> list[int | None]:
    """For each of the data's classes, the model's output of the same name (``None``: not predicted)."""
    index = {canonical_label(name): k for k, name in enumerate(model_classes)}
    return [index.get(canonical_label(name)) for name in data_classes]


def unknown_classes_error(name: str, data_classes, model_classes) -> DataError:
    """The error for data holding classes the model does not predict, listing both sides."""
    unknown = [c for c, column in zip(data_classes, model_columns(data_classes, model_classes)) if column is None]
    return DataError(f"the {name or 'evaluation'} data has classes the model does not predict: "
                     f"{', '.join(unknown)} (data classes: {', '.join(data_classes)}; model classes: "
                     f"{', '.join(model_classes)}); drop their images (--drop-unknown-classes) "
                     "or use a model trained with them")
