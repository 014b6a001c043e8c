"""Grad-CAM: where in a face the classifier looked when it chose a class.

The heat map weights each channel of the backbone's last feature map by the mean gradient of
the class score with respect to it (Selvaraju et al., 2017), keeps the positive evidence and
scales it to [0, 1] per image. It is computed through the classifier's named stages
(``face_input`` -> ``normalization`` -> ``backbone`` -> ``emotion_head``), skipping the
augmentation layer, so it explains exactly what inference computes.

Gradients need a backend-specific API; only TensorFlow's ``GradientTape`` is implemented.
"""

from __future__ import annotations

import keras
import numpy as np

from emodet.errors import ConfigError

# Keeps log(p) finite when a probability underflows to zero.
_EPSILON = 1e-12


def gradcam(model: keras.Model, images, class_index=None, *, batch_size: int = 32) -> np.ndarray:
    """Grad-CAM heat maps, float32 ``(N, H, W)`` in [0, 1], at the images' own resolution.

    ``images`` is uint8 ``(N, H, W, 1|3)`` (or a :class:`~emodet.data.images.LabelledImages`).
    ``class_index`` chooses the explained class: ``None`` for each image's predicted class, an
    int for one class for all images, or one index per image. The score differentiated is the
    class's log-probability: unlike the probability it does not saturate near 1, so a confident
    prediction still yields a map. An image without positive evidence gets an all-zero map.
    """
    _require_tensorflow()
    stages = _stages(model)
    pixels = _rgb_pixels(images)
    if batch_size < 1:
        raise ConfigError(f"gradcam batch_size must be at least 1, got {batch_size}")
    n_classes = len(stages[-1].class_names)
    classes = _class_indices(class_index, len(pixels), n_classes)
    maps = [_gradcam_batch(stages, pixels[i:i + batch_size], None if classes is None else classes[i:i + batch_size])
            for i in range(0, len(pixels), batch_size)]
    if not maps:
        return np.zeros((0, *pixels.shape[1:3]), dtype=np.float32)
    return _normalise(_resize(np.concatenate(maps), pixels.shape[1:3]))


def _require_tensorflow() -> None:
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise ConfigError(f"Grad-CAM needs gradients, which emodet computes with TensorFlow, but Keras runs on the "
                          f"{backend!r} backend; set the environment variable KERAS_BACKEND=tensorflow "
                          "before Python starts")


def _stages(model: keras.Model) -> tuple:
    """The classifier's inference stages, checked by :func:`describe` to be an emodet model."""
    from emodet.models.classifier import describe
    from emodet.models.members import ensemble_members

    describe(model)
    if ensemble_members(model):
        raise ConfigError(f"Grad-CAM explains one classifier, and {model.name!r} is an ensemble; explain one member "
                          "at a time: emodet.models.members.ensemble_members(model)")
    names = ("face_input", "normalization", "backbone", "emotion_head")
    return tuple(model.get_layer(name) for name in names)


def _rgb_pixels(images) -> np.ndarray:
    pixels = np.asarray(getattr(images, "images", images))
    if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[-1] not in (1, 3):
        raise ConfigError(f"Grad-CAM images must be uint8 (N, H, W, 1|3), got {pixels.dtype} {pixels.shape}; "
                          "pass LabelledImages.images or faces as loaded by emodet")
    return np.repeat(pixels, 3, axis=-1) if pixels.shape[-1] == 1 else pixels


def _class_indices(class_index, n_images: int, n_classes: int) -> np.ndarray | None:
    if class_index is None:
        return None
    classes = np.broadcast_to(np.asarray(class_index), (n_images,)) if np.ndim(class_index) == 0 \
        else np.asarray(class_index)
    if classes.shape != (n_images,) or not np.issubdtype(classes.dtype, np.integer):
        raise ConfigError(f"class_index must be None, an int or {n_images} ints (one per image), got {class_index!r}")
    if n_images and (classes.min() < 0 or classes.max() >= n_classes):
        raise ConfigError(f"class_index must lie in 0..{n_classes - 1} (the model's classes), got {class_index!r}")
    return classes.astype(np.int32)


def _gradcam_batch(stages, pixels: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """Unnormalised, rectified class activation maps at the feature map's resolution."""
    import tensorflow as tf

    face_input, normalization, backbone, head = stages
    features = backbone(normalization(face_input(pixels)), training=False)
    with tf.GradientTape() as tape:
        tape.watch(features)
        probs = head(features, training=False)
        chosen = tf.argmax(probs, axis=1, output_type=tf.int32) if classes is None else tf.constant(classes)
        score = tf.math.log(tf.gather(probs, chosen, batch_dims=1) + _EPSILON)
    grads = tape.gradient(score, features)
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    return tf.nn.relu(tf.reduce_sum(weights * features, axis=-1)).numpy()


def _resize(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    resized = keras.ops.image.resize(maps[..., None].astype("float32"), size, interpolation="bilinear")
    return np.asarray(keras.ops.convert_to_numpy(resized))[..., 0]


def _normalise(maps: np.ndarray) -> np.ndarray:
    """Scale each map to peak at 1; maps with no positive value stay 0."""
    peak = maps.reshape(len(maps), -1).max(axis=1)
    scale = np.where(peak > 0, peak, 1.0)
    return np.clip(maps / scale[:, None, None], 0.0, 1.0).astype(np.float32)
