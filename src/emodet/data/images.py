"""The in-memory dataset type every source produces and every consumer takes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from emodet.errors import DataError


@dataclass(frozen=True)
class LabelledImages:
    """Images with per-image class distributions.

    ``images`` is uint8 ``(N, H, W, C)`` with C = 1 (grayscale) or 3 (RGB): datasets stay at
    their stored resolution and the model resizes per batch. ``targets`` is float32 ``(N, K)``;
    hard labels are one-hot rows, FER+ votes are distributions. ``ids`` names each image's
    origin (a CSV row number or a file path) so errors and reports can point at it.
    """

    images: np.ndarray
    targets: np.ndarray
    class_names: tuple[str, ...]
    ids: np.ndarray
    name: str = ""
    # True where the image's pixels also occur in the training split (only for val/test).
    in_train: np.ndarray | None = None
    # (id, reason) for inputs that could not be read and were left out.
    skipped: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self):
        n = len(self.images)
        if self.images.dtype != np.uint8 or self.images.ndim != 4 or self.images.shape[-1] not in (1, 3):
            raise ValueError(f"images must be uint8 (N, H, W, 1|3), got {self.images.dtype} {self.images.shape}")
        if self.targets.shape != (n, len(self.class_names)):
            raise ValueError(f"targets must be ({n}, {len(self.class_names)}), got {self.targets.shape}")
        if len(self.ids) != n or (self.in_train is not None and len(self.in_train) != n):
            raise ValueError("ids and in_train must have one entry per image")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def labels(self) -> np.ndarray:
        """The winning class index of each image."""
        return np.argmax(self.targets, axis=1)

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(self.class_names))
        return dict(zip(self.class_names, counts.tolist()))

    def take(self, index: np.ndarray, name: str | None = None) -> LabelledImages:
        """A subset by integer indices or a boolean mask (skipped inputs stay recorded)."""
        return LabelledImages(
            images=self.images[index],
            targets=self.targets[index],
            class_names=self.class_names,
            ids=self.ids[index],
            name=self.name if name is None else name,
            in_train=None if self.in_train is None else self.in_train[index],
            skipped=self.skipped,
        )

    def fingerprint(self) -> str:
        """A short hash of the pixels and labels: two runs on the same data share it (registry lineage)."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.images).tobytes())
        digest.update(np.ascontiguousarray(self.labels).tobytes())
        return digest.hexdigest()[:16]

    def stratified_sample(self, limit: int, seed: int) -> LabelledImages:
        """At most ``limit`` images, keeping the class proportions; the same seed gives the same rows."""
        if limit <= 0 or limit >= len(self):
            return self
        rng = np.random.default_rng(seed)
        labels = self.labels
        picked = []
        for k in range(len(self.class_names)):
            members = np.flatnonzero(labels == k)
            share = int(round(limit * len(members) / len(self)))
            picked.append(rng.permutation(members)[:share])
        return self.take(np.sort(np.concatenate(picked)))


def one_hot(labels: np.ndarray, num_classes: int) -> np.ndarray:
    return np.eye(num_classes, dtype=np.float32)[labels]


def image_digests(images: np.ndarray) -> list[bytes]:
    """A content hash per image, to find exact pixel duplicates across splits."""
    return [hashlib.blake2b(img.tobytes(), digest_size=16).digest() for img in images]


def mark_training_duplicates(split: LabelledImages, train: LabelledImages) -> LabelledImages:
    """Return ``split`` with ``in_train`` set where its pixels also occur in ``train``."""
    if split.images.shape[1:] != train.images.shape[1:]:
        return split
    seen = set(image_digests(train.images))
    mask = np.array([d in seen for d in image_digests(split.images)], dtype=bool)
    return LabelledImages(split.images, split.targets, split.class_names, split.ids, split.name, mask, split.skipped)


def require_images(data: LabelledImages, source: str) -> LabelledImages:
    if len(data) == 0:
        raise DataError(f"{source}: the {data.name or 'dataset'} split holds no images; "
                        "check the path and that the file or folder has labelled images")
    return data


def concatenate(parts: list[LabelledImages], name: str) -> LabelledImages:
    """One dataset from several with the same classes and image size (channels widened to the most)."""
    first = parts[0]
    for part in parts[1:]:
        if part.class_names != first.class_names or part.images.shape[1:3] != first.images.shape[1:3]:
            raise DataError(f"cannot mix {part.name} ({part.images.shape[1]} px, {list(part.class_names)}) with "
                            f"{first.name} ({first.images.shape[1]} px, {list(first.class_names)})")
    channels = max(part.images.shape[-1] for part in parts)
    images = [np.repeat(p.images, channels, axis=-1) if p.images.shape[-1] < channels else p.images for p in parts]
    return LabelledImages(np.concatenate(images), np.concatenate([p.targets for p in parts]), first.class_names,
                          np.concatenate([p.ids.astype(str) for p in parts]), name)


def resized(data: LabelledImages, size: int) -> LabelledImages:
    """``data`` with its images resized (area-averaged) to ``size`` x ``size``."""
    if data.images.shape[1:3] == (size, size):
        return data
    return LabelledImages(resize_images(data.images, size), data.targets, data.class_names, data.ids, data.name)


def to_rgb_batch(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 1|3) uint8 -> (N, H, W, 3) uint8, the models' input contract."""
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def resize_images(images: np.ndarray, size: int, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """A batch ``(N, H, W[, C])`` resized to ``size`` x ``size``, keeping its channel axis (which
    OpenCV drops for one channel). Area averaging by default: it antialiases when shrinking."""
    shape = (size, size, *images.shape[3:])
    return np.stack([cv2.resize(image, (size, size), interpolation=interpolation).reshape(shape)
                     for image in images]).astype(images.dtype, copy=False)
