"""Training under a Keras dtype policy, and saving the result in float32 whatever it trained in.

``mixed_bfloat16`` computes convolutions in bfloat16 while keeping float32 weights: on CPUs with
BF16 instructions it trains ``small_cnn`` 13% faster (MobileNetV2's depthwise convolutions 28%
slower; docs/BENCHMARKS.md). Inference files stay float32 so that every
runtime (ONNX, TFLite, Keras on any CPU) reads them alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import keras


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Make ``name`` Keras' global dtype policy inside the block, restoring the previous one after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
