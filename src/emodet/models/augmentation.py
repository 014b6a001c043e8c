"""Training-time augmentation as Keras layers inside the model (inactive at inference).

One ``strength`` scales the whole recipe: 0 turns it off, 1 is the standard FER recipe
(flip, +-15 degree rotation, 15% zoom, 10% shift, brightness/contrast, random erasing), 2 doubles
the geometric and photometric ranges. ``blur`` adds a Gaussian blur of random strength (sigma up
to ``blur`` pixels), for faces from softer cameras than FER2013's. Layers work on 0..255 images
before normalisation.
"""

from __future__ import annotations

import keras

VALUE_RANGE = (0, 255)


def build_augmentation(strength: float, seed: int | None = None, blur: float = 0.0) -> keras.Sequential | None:
    """The augmentation stack for ``strength``, or ``None`` when ``strength`` is 0."""
    if strength <= 0:
        return None
    s = float(strength)
    camera = [keras.layers.RandomGaussianBlur(factor=1.0, kernel_size=5, sigma=(0.01, float(blur)),
                                              value_range=VALUE_RANGE, seed=seed)] if blur > 0 else []
    return keras.Sequential(
        [
            *camera,
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(min(0.042 * s, 0.25), fill_mode="reflect", seed=seed),
            keras.layers.RandomZoom((-0.15 * s, 0.15 * s), fill_mode="reflect", seed=seed),
            keras.layers.RandomTranslation(0.1 * s, 0.1 * s, fill_mode="reflect", seed=seed),
            keras.layers.RandomBrightness(min(0.2 * s, 0.9), value_range=VALUE_RANGE, seed=seed),
            keras.layers.RandomContrast(min(0.3 * s, 0.9), value_range=VALUE_RANGE, seed=seed),
            keras.layers.RandomErasing(factor=min(0.5 * s, 1.0), scale=(0.02, 0.2), fill_value=127.0,
                                       value_range=VALUE_RANGE, seed=seed),
        ],
        name="augmentation",
    )
