"""Feeding :class:`LabelledImages` to Keras in batches, backend-neutrally (numpy in, numpy out).

The model takes RGB uint8 of any size and does its own resizing and normalisation, so a batch
here is only a slice of the stored images with grayscale repeated to three channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from emodet.data.images import LabelledImages, to_rgb_batch
from emodet.data.mixture import mixture_order


@dataclass(frozen=True)
class Mixture:
    """Which training source each image came from (``origin``, an index per image) and each
    source's share of an epoch (:func:`emodet.data.mixture.mixture_order`)."""

    origin: np.ndarray
    shares: tuple[float, ...]


def balanced_class_weights(labels: np.ndarray, num_classes: int, power: float = 1.0) -> np.ndarray:
    """Inverse-frequency weights (scikit-learn's "balanced") raised to ``power``, 1.0 for absent classes.

    ``power`` 0.5 (square root) lifts rare classes such as disgust without letting a few hundred
    images dominate the loss the way full balancing does.
    """
    from sklearn.utils.class_weight import compute_class_weight

    weights = np.ones(num_classes, dtype=np.float32)
    present = np.unique(labels)
    weights[present] = compute_class_weight("balanced", classes=present, y=labels) ** float(power)
    return weights


def mix_batch(images: np.ndarray, targets: np.ndarray, sample_weights: np.ndarray | None, alpha: float,
              rng: np.random.Generator):
    """Mixup: each face blended with another face of the batch, by a share drawn from Beta(alpha, alpha).

    The targets and sample weights are blended by the same share, so a face that is 70% one image
    teaches 70% of that image's class. Images stay uint8 (the models' input contract); rounding moves
    a pixel by at most half a level. Returns ``(images, targets, sample_weights)``.
    """
    share = rng.beta(alpha, alpha, size=len(images)).astype(np.float32)
    partner = rng.permutation(len(images))
    pixels = share[:, None, None, None] * images + (1 - share[:, None, None, None]) * images[partner]
    mixed_targets = share[:, None] * targets + (1 - share[:, None]) * targets[partner]
    mixed_weights = None if sample_weights is None else share * sample_weights + (1 - share) * sample_weights[partner]
    return np.rint(pixels).astype(images.dtype), mixed_targets.astype(np.float32), mixed_weights


class ImageBatches(keras.utils.PyDataset):
    """Batches of ``(images, targets[, sample_weights])``; reshuffled each epoch when ``shuffle``.

    The shuffle order depends only on ``seed`` and the epoch number, so a resumed run sees
    the same batches it would have seen without the interruption. ``multiple_of`` > 1 leaves out
    the last ``len(data) % multiple_of`` images of each pass (a different few each epoch when
    shuffled) so that every batch splits evenly over that many devices. ``dtype`` converts the
    images (from uint8) for runtimes that cannot move uint8 between machines. ``mixup`` > 0 blends
    each batch's faces and targets (:func:`mix_batch`), the same blend for a batch index and epoch
    on every run.
    """

    def __init__(self, data: LabelledImages, batch_size: int, *, shuffle: bool = False, seed: int = 0,
                 class_weights: np.ndarray | None = None, with_targets: bool = True, epoch: int = 0,
                 multiple_of: int = 1, dtype: str | None = None, mixture: Mixture | None = None,
                 mixup: float = 0.0):
        super().__init__()
        self.mixup = mixup
        self.mixture = mixture
        self.dtype = dtype
        self.used = len(data) - len(data) % max(1, multiple_of)
        self.data = data
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.with_targets = with_targets
        self.sample_weights = None if class_weights is None else class_weights[data.labels].astype(np.float32)
        self.epoch = epoch
        self.order = self._order()

    def __len__(self) -> int:
        return int(np.ceil(self.used / self.batch_size))

    def __getitem__(self, index: int):
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        images = to_rgb_batch(self.data.images[rows])
        if not self.with_targets:
            return (self._typed(images),)
        targets = self.data.targets[rows]
        weights = None if self.sample_weights is None else self.sample_weights[rows]
        if self.mixup > 0:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            images, targets, weights = mix_batch(images, targets, weights, self.mixup, rng)
        if weights is None:
            return self._typed(images), targets
        return self._typed(images), targets, weights

    def _typed(self, images: np.ndarray) -> np.ndarray:
        return images if self.dtype is None else images.astype(self.dtype)

    def on_epoch_end(self) -> None:
        self.epoch += 1
        self.order = self._order()

    def _order(self) -> np.ndarray:
        return self.order_for(self.epoch)

    def order_for(self, epoch: int) -> np.ndarray:
        """The rows of epoch ``epoch``: by share of each source with a ``mixture``, else a permutation."""
        if not self.shuffle:
            return np.arange(self.used)
        if self.mixture is not None:
            return mixture_order(self.mixture.origin, self.mixture.shares, epoch, self.seed)[:self.used]
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.data))[:self.used]
