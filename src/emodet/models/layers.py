"""emodet's serialisable Keras layers: the input contract, backbone normalisation and the head.

They are registered under the ``emodet`` package name, so a saved ``.keras`` model loads with
``keras.saving.load_model`` once this module is imported, and nothing else emodet-specific.
Only ``keras.ops`` is used, so they run on the TensorFlow, JAX and PyTorch backends.
"""

from __future__ import annotations

import keras
from keras import ops

from emodet.labels import check_class_names

#: ITU-R BT.601 luma weights, the same conversion OpenCV and PIL use for RGB -> gray.
LUMA = (0.299, 0.587, 0.114)
NORMALIZATIONS = ("tf", "torch", "caffe", "raw", "unit")
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="emodet")
class FaceInput(keras.layers.Layer):
    """RGB uint8 faces of any size -> float32 ``image_size`` squares in 0..255.

    With ``color_mode="grayscale"`` colour is reduced to luma and repeated to three channels,
    so colour photos at inference match grayscale training data such as FER2013.
    ``source_size`` records the resolution of the faces the model was trained on (FER2013: 48,
    even for a model that upsamples them to 64): inference hands faces over at that size, so a
    photo's face reaches the network through the same resampling as the training faces did.
    0 means unknown (faces are then handed over at ``image_size``).
    """

    def __init__(self, image_size: int, color_mode: str = "grayscale", source_size: int = 0, **kwargs):
        super().__init__(**kwargs)
        if color_mode not in ("grayscale", "rgb"):
            raise ValueError(f"color_mode must be 'grayscale' or 'rgb', got {color_mode!r}")
        self.image_size = int(image_size)
        self.color_mode = color_mode
        self.source_size = int(source_size)

    def call(self, images):
        x = ops.cast(images, "float32")
        if self.color_mode == "grayscale":
            luma = ops.sum(x * ops.convert_to_tensor(LUMA, dtype="float32"), axis=-1, keepdims=True)
            x = ops.repeat(luma, 3, axis=-1)
        size = (self.image_size, self.image_size)
        return ops.image.resize(x, size, interpolation="bilinear", antialias=False)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.image_size, self.image_size, 3)

    def get_config(self):
        return {**super().get_config(), "image_size": self.image_size, "color_mode": self.color_mode,
                "source_size": self.source_size}


@keras.saving.register_keras_serializable(package="emodet")
class BackboneNormalization(keras.layers.Layer):
    """0..255 RGB -> the value range a backbone's ImageNet weights were trained on.

    ``tf``: [-1, 1] (MobileNet family); ``torch``: ImageNet mean/std; ``caffe``: BGR minus the
    ImageNet mean (ResNet50, VGG16); ``raw``: unchanged (EfficientNets normalise inside);
    ``unit``: [0, 1] (the from-scratch CNN).
    """

    def __init__(self, mode: str, **kwargs):
        super().__init__(**kwargs)
        if mode not in NORMALIZATIONS:
            raise ValueError(f"normalization mode must be one of {NORMALIZATIONS}, got {mode!r}")
        self.mode = mode

    def call(self, x):
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "unit":
            return x / 255.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(_IMAGENET_MEAN, dtype="float32")
            std = ops.convert_to_tensor(_IMAGENET_STD, dtype="float32")
            return (x / 255.0 - mean) / std
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(_CAFFE_MEAN_BGR, dtype="float32")
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package="emodet")
class EmotionHead(keras.layers.Layer):
    """Backbone feature map -> class probabilities; carries the class names it predicts."""

    def __init__(self, class_names, dropout: float = 0.3, **kwargs):
        super().__init__(**kwargs)
        self.class_names = check_class_names(class_names)
        self.dropout_rate = float(dropout)
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout")
        self.classifier = keras.layers.Dense(len(self.class_names), activation="softmax", name="classifier",
                                             dtype="float32")

    def build(self, input_shape):
        self.classifier.build((input_shape[0], input_shape[-1]))
        self.built = True

    def call(self, features, training=None):
        x = self.pool(features)
        x = self.dropout(x, training=training)
        return self.classifier(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(self.class_names))

    def get_config(self):
        return {**super().get_config(), "class_names": list(self.class_names), "dropout": self.dropout_rate}
