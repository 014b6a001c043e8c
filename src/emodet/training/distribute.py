"""Data-parallel training across devices and machines, with each backend's own tools.

One training step runs on every device ("replica") at once, each on its slice of the batch;
gradients are averaged before the update, so all replicas keep the same weights:

- TensorFlow backend: ``tf.distribute.MirroredStrategy`` over the devices of one machine, or
  ``MultiWorkerMirroredStrategy`` across machines (each process finds the others in ``TF_CONFIG``).
- JAX backend: Keras 3's ``keras.distribution.DataParallel`` over every device JAX sees; across
  machines each process first joins the job named by ``KERAS_DISTRIBUTION_JOB_ADDRESSES``,
  ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``.

Batch size and learning rate follow the linear scaling rule (Goyal et al., 2017): the recipe's
``train.batch_size`` is per replica, so a step sees ``batch_size x replicas`` images, and the
learning rates are multiplied by the replica count (``lr_scaling="none"`` keeps them).

``devices`` splits a CPU into that many logical devices (TensorFlow's logical device configuration,
JAX's XLA host platform device count): how data parallelism is tested without accelerators. Both
must be set before the backend starts, so :func:`plan_distribution` comes before any other tensor
work in the process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

from emodet.config import DISTRIBUTIONS as KINDS
from emodet.config import LR_SCALING, TrainConfig
from emodet.errors import ConfigError

_JAX_ENV = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID")


@dataclass(frozen=True)
class Distribution:
    """How this process takes part in training: the strategy, how many replicas, which worker it is."""

    kind: str = "none"
    replicas: int = 1
    worker: int = 0
    workers: int = 1
    lr_scaling: str = "linear"
    strategy: object = None  # a tf.distribute strategy or a keras.distribution.DataParallel

    @property
    def is_chief(self) -> bool:
        """Whether this process writes the run (the other workers write theirs under ``worker-N/``)."""
        return self.worker == 0

    @property
    def input_dtype(self) -> str | None:
        """TensorFlow's collectives between machines take no uint8, and Keras reduces a first batch."""
        return "float32" if self.kind == "multi-worker" else None

    @property
    def batch_multiple(self) -> int:
        """Every batch must split evenly over JAX's devices; TensorFlow takes uneven last batches."""
        return self.replicas if self.kind == "data-parallel" else 1

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build, compile, fit and reload models inside this block so that they are distributed."""
        if self.kind in ("mirrored", "multi-worker"):
            with self.strategy.scope():
                yield
            return
        if self.kind == "data-parallel":
            import keras

            previous = keras.distribution.distribution()
            keras.distribution.set_distribution(self.strategy)
            try:
                yield
            finally:
                keras.distribution.set_distribution(previous)
            return
        yield

    def scaled(self, config: TrainConfig) -> TrainConfig:
        """``config`` with the global batch size and, under linear scaling, the scaled learning rates."""
        if self.replicas == 1:
            return config
        factor = self.replicas if self.lr_scaling == "linear" else 1
        return dataclasses.replace(config, batch_size=config.batch_size * self.replicas,
                                   head_lr=config.head_lr * factor, finetune_lr=config.finetune_lr * factor)

    def describe(self) -> str:
        if self.kind == "none":
            return "one device"
        where = f", worker {self.worker} of {self.workers}" if self.workers > 1 else ""
        return f"{self.kind} over {self.replicas} replicas{where} (learning rate scaling: {self.lr_scaling})"


def plan_distribution(kind: str = "none", *, devices: int = 0, lr_scaling: str = "linear") -> Distribution:
    """The distribution for ``kind`` on the backend in use ("auto" picks the backend's own).

    ``devices`` > 0 splits the CPU into that many logical devices when there is no accelerator.
    """
    import keras

    if kind not in KINDS:
        raise ConfigError(f"unknown distribution {kind!r}; choose one of {', '.join(KINDS)}")
    if lr_scaling not in LR_SCALING:
        raise ConfigError(f"unknown learning rate scaling {lr_scaling!r}; choose linear or none")
    if devices < 0:
        raise ConfigError(f"--devices must be 0 (all there are) or a positive count, got {devices}")
    if kind == "none":
        return Distribution()
    backend = keras.backend.backend()
    if kind == "auto":
        kind = "data-parallel" if backend == "jax" else "multi-worker" if _tf_config_workers() > 1 else "mirrored"
    wanted = "jax" if kind == "data-parallel" else "tensorflow"
    if backend != wanted:
        raise ConfigError(f"--distribute {kind} needs Keras on the {wanted} backend, but it runs on {backend}; "
                          f"set KERAS_BACKEND={wanted} or use --distribute auto")
    if kind == "data-parallel":
        return _jax_data_parallel(devices, lr_scaling)
    return _tensorflow(kind, devices, lr_scaling)


def _tf_config_workers() -> int:
    cluster = _tf_config().get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _tf_config() -> dict:
    text = os.environ.get("TF_CONFIG", "")
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({error}); it must look like "
                          '{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                          '"task": {"type": "worker", "index": 0}}'
                          ) from None


def _tensorflow(kind: str, devices: int, lr_scaling: str) -> Distribution:
    import tensorflow as tf

    if devices:
        _split_cpu_tensorflow(tf, devices)
    if kind == "mirrored":
        strategy = tf.distribute.MirroredStrategy(_local_tf_devices(tf))
        return Distribution(kind, strategy.num_replicas_in_sync, lr_scaling=lr_scaling, strategy=strategy)
    config = _tf_config()
    if _tf_config_workers() < 2:
        raise ConfigError("--distribute multi-worker needs TF_CONFIG to list the workers, e.g. "
                          'TF_CONFIG=\'{"cluster": {"worker": ["10.0.0.1:12345", "10.0.0.2:12345"]}, '
                          '"task": {"type": "worker", "index": 0}}\' on the first machine (index 1 on the second)')
    strategy = _multi_worker_strategy(tf)
    task = config.get("task", {})
    chiefs = len(config["cluster"].get("chief", []))
    worker = 0 if task.get("type") == "chief" else int(task.get("index", 0)) + chiefs
    return Distribution(kind, strategy.num_replicas_in_sync, worker, _tf_config_workers(), lr_scaling, strategy)


def _multi_worker_strategy(tf):
    """``MultiWorkerMirroredStrategy`` whose ``reduce`` also takes a nested batch.

    Keras 3's ``fit`` reduces its first (x, y, weights) batch in one call to learn the shapes it
    builds the model state from; this strategy's ``reduce`` takes one value only, so fit fails
    before the first step (keras-team/keras#20585). Reducing each part on its own is what the
    single-machine strategies do.
    """

    class NestedReduce(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            parent = super()
            return tf.nest.map_structure(
                lambda v: parent.reduce(reduce_op, v, axis) if isinstance(v, tf.distribute.DistributedValues) else v,
                value)

    return NestedReduce()


def _split_cpu_tensorflow(tf, devices: int) -> None:
    if tf.config.list_physical_devices("GPU"):
        return  # accelerators are the devices; --devices only splits a CPU
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
    except RuntimeError:
        if len(tf.config.list_logical_devices("CPU")) != devices:
            raise ConfigError(f"cannot split the CPU into {devices} devices: TensorFlow had already started in "
                              "this process; plan the distribution before any other TensorFlow work") from None


def _local_tf_devices(tf) -> list[str]:
    gpus = tf.config.list_logical_devices("GPU")
    return [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]


def _jax_data_parallel(devices: int, lr_scaling: str) -> Distribution:
    import keras

    if devices:
        _split_cpu_jax(devices)
    if all(os.environ.get(name) for name in _JAX_ENV):
        keras.distribution.initialize()  # joins the multi-process job those variables describe
    found = keras.distribution.list_devices()
    import jax

    strategy = keras.distribution.DataParallel(devices=found)
    return Distribution("data-parallel", len(found), jax.process_index(), jax.process_count(), lr_scaling, strategy)


def _split_cpu_jax(devices: int) -> None:
    import jax

    flag = f"--xla_force_host_platform_device_count={devices}"
    flags = os.environ.get("XLA_FLAGS", "")
    if flag not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {flag}".strip()
    try:
        jax.config.update("jax_num_cpu_devices", devices)
    except (AttributeError, RuntimeError):
        pass  # older JAX reads XLA_FLAGS; newer refuses once started (checked below)
    found = jax.devices()
    if found[0].platform == "cpu" and len(found) != devices:
        raise ConfigError(f"cannot split the CPU into {devices} devices: JAX had already started with {len(found)}; "
                          f"set XLA_FLAGS={flag} before starting Python")
