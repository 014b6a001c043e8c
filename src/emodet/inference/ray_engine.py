"""Batch detection on Ray Data: the same detect -> align -> classify pipeline, over many workers.

``emodet detect SOURCES --engine ray --output-dir DIR`` lists the inputs like the single-process
CLI (local paths, globs, or URIs of any filesystem pyarrow or fsspec reads: ``s3://``, ``gs://``,
``hdfs://``, ``file://``), cuts every video into ranges of frames (:data:`FRAMES_PER_TASK`) so
that one long video keeps many actors busy, then runs the images and ranges as a Ray Dataset: a
``map_batches`` stage whose actor pool loads the model and the face detector once per actor
(each actor pinned to one CPU, its OpenCV, ONNX Runtime and TensorFlow threads set to one, or a
GPU per actor when asked), classifying each batch of images together. Results stream back to
the driver, which appends each input's records, exactly the lines of ``--jsonl``, to JSON Lines
shards ``DIR/part-NNNNN.jsonl`` as they arrive (a video's frames range by range, not in frame
order, and its final ``completed`` record once every range is in), so a job that dies keeps
every finished input; a rerun skips those (the ``--resume`` semantics of the single-process CLI,
failed inputs included unless ``retry_failed``; a video not finished is done again). A failed
input is a record with its error, never a lost job; Ray retries the tasks of an actor that died.
With ``parquet`` each shard also gets a ``part-NNNNN.parquet`` twin holding the same records and
fields (nested as in the JSON), written when the job ends (and by a rerun for shards that lack a
current one).

Ray is started locally in-process by default; ``address`` joins a running cluster
(``ray start --head`` on one machine, ``ray start --address HEAD:6379`` on the others). Nothing
here is imported by the single-process path.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from emodet.errors import ConfigError, MediaError
from emodet.inference.ray_reaper import start_reaper
from emodet.inference.runtime import runs_without_tensorflow
from emodet.inference.settings import InferenceSettings
from emodet.inference.sinks import Record, finished_sources, header_line, read_headers, read_jsonl
from emodet.inference.stopping import StopOnSignals, Stopped

SHARD_RECORDS = 10_000  # records per JSON Lines shard before the next one is started
FRAMES_PER_TASK = 300  # a video is cut into ranges of this many frames, each a task for any actor
# Frames (counted in strides) a range reads before its first one and drops, so that face tracks and
# temporal smoothing have settled there as in one pass (0.6 ** 12, 0.2%, of the past remains).
WARMUP_FRAMES = 12
SHARD_GLOB = "part-*.jsonl"


@dataclass
class RaySummary:
    output_dir: Path
    inputs: int = 0  # inputs processed by this run
    skipped: int = 0  # inputs finished by an earlier run
    records: int = 0
    faces: int = 0
    failures: list = field(default_factory=list)  # (input, error) of this run
    replaced_workers: int = 0  # actors that died and were replaced (Ray retried their batches)
    stopped_by: int = 0  # the signal (SIGTERM, SIGINT) that ended the job early, if one did
    warnings: list = field(default_factory=list)  # what the caller should tell the user (e.g. --workers too high)


#: Memory one actor needs beside the driver, by model format: a TensorFlow ``.keras`` actor (the
#: bundled model included) about 1 GB, an ONNX or TFLite one about 0.25 GB (measured: ``--workers 6``
#: of ``.keras`` actors peaked at 7.2 GB on the 2-core machine).
ACTOR_MEMORY_GB = {"keras": 1.0, "exported": 0.25}


def detect_with_ray(sources: list[str], output_dir: str | os.PathLike, *, model: str | None = None,
                    settings: InferenceSettings | None = None, workers: int | None = None, address: str | None = None,
                    batch_size: int = 32, stride: int = 1, gpus_per_worker: float = 0.0,
                    retry_failed: bool = False, parquet: bool = False,
                    frames_per_task: int = FRAMES_PER_TASK, decode_in_tasks: bool | None = None) -> RaySummary:
    """Detect emotions in every input of ``sources`` with a pool of ``workers`` Ray actors; a video
    is cut into ranges of ``frames_per_task`` frames that any actor may take. Each actor runs an
    :class:`~emodet.inference.pipeline.EmotionDetector` with ``settings`` (default: their defaults).

    ``decode_in_tasks`` reads and decodes images in Ray tasks of their own, ahead of the actors,
    so that actors holding a GPU spend it on detection only; by default it is on exactly when
    ``gpus_per_worker`` is set (on CPUs the actors decode their own images: see the README).
    Started locally, Ray then gets one CPU more than ``workers`` for those tasks.
    """
    from emodet import __version__
    from emodet.inference.batch import run_header
    from emodet.inference.sources import expand_sources

    output_dir = _writable(Path(output_dir))
    done, failed_before = _finished(output_dir)
    if retry_failed:
        done -= failed_before  # tried again: their error records go
    inputs = [i for i in expand_sources(sources) if i.name not in done]
    summary = RaySummary(output_dir, inputs=len(inputs), skipped=len(done))
    streams = [i.name for i in inputs if i.kind == "stream"]
    if streams:
        raise ConfigError(f"--engine ray processes files, not live streams or webcams ({streams[0]}); "
                          "use the single-process `emodet detect` for those")
    if not inputs:
        if parquet:
            write_parquet_twins(output_dir)
        return summary
    decode_in_tasks = gpus_per_worker > 0 if decode_in_tasks is None else decode_in_tasks
    warning = workers_warning(workers, model, address)
    if warning:
        summary.warnings.append(warning)
    ray = _start_ray(address, workers and workers + int(decode_in_tasks))
    reaper = None
    try:
        # A local cluster's leftovers are ended if this process is killed outright (Ray leaves two agents a minute).
        reaper = start_reaper() if address is None else None
        default = _default_pool(ray, gpus_per_worker, decode_in_tasks)
        pool = workers or (min(default, memory_cap(model)) if address is None else default)
        items, videos = _work_items(inputs, frames_per_task, stride)
        dataset = _dataset(ray, items, inputs, model, settings or InferenceSettings(), pool, batch_size, stride,
                           gpus_per_worker, decode_in_tasks)
        pids = set()
        # Installed after Ray starts, whose native handler would print a stack dump and exit at once.
        header = run_header({"emodet_version": __version__, "model": model or "bundled",
                             "settings": (settings or InferenceSettings()).to_dict()}, stride=stride, engine="ray")
        with _ShardWriter(output_dir, keep=done, header=header) as writer, StopOnSignals(raise_stop=True) as stop:
            try:
                _collect(dataset.iter_rows(), writer, videos, summary, pids)
            except Stopped:
                pass  # the results so far are written; the summary says why it ended
            summary.stopped_by = stop.signal
        summary.replaced_workers = _replaced_actors(ray, pids, pool)
    finally:
        if address is None:
            ray.shutdown()
        if reaper is not None:
            reaper.done()
    if parquet:
        write_parquet_twins(output_dir)
    return summary


def _collect(rows, writer, videos, summary: RaySummary, pids: set) -> None:
    """Write each result row to the shards as it arrives and count it in ``summary``."""
    for row in rows:
        pids.add(row["worker"])
        if row["done"] >= 0:  # one range of a video finished: the video's last record once all are
            if videos.range_done(row["source"], int(row["done"])):
                final = Record(row["source"], completed=videos.frames[row["source"]])
                writer.write(json.dumps(final.to_dict()))
                summary.records += 1
            continue
        writer.write(row["record"])
        summary.records += 1
        summary.faces += int(row["faces"])
        if row["error"]:
            summary.failures.append((row["source"], row["error"]))


def workers_warning(workers: int | None, model: str | None, address: str | None) -> str | None:
    """What to tell the user when ``workers`` actors started here would need more memory than is
    available (a cluster's memory is not this machine's: ``address`` set, no warning)."""
    cap = memory_cap(model)
    if not workers or address is not None or workers <= cap:
        return None
    return (f"--workers {workers} is more than this machine's memory holds ({cap} actor(s) of about "
            f"{_actor_gb(model):g} GB each in {_available_gb():.1f} GB available); going on as asked, but expect "
            "swapping or workers killed for memory")


def memory_cap(model: str | None) -> int:
    """How many actors of this model the memory available now holds (at least 1)."""
    return max(1, int(_available_gb() // _actor_gb(model)))


def _actor_gb(model: str | None) -> float:
    return ACTOR_MEMORY_GB["exported" if runs_without_tensorflow(model) else "keras"]


def _available_gb() -> float:
    """Memory available to new processes (MemAvailable), in GB; the total when /proc is not there."""
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) / 2 ** 20
    except (OSError, KeyError, ValueError):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30


def _replaced_actors(ray, pids: set, pool: int) -> int:
    """How many times this job's actors died and were restarted, from Ray's own actor table.

    The public state API (``ray.util.state``) needs the dashboard, which the engine does not start,
    so the table is read from the GCS client behind ``ray.state``. Should that private interface
    change, the count falls back to the process ids seen in the rows, which misses a replacement
    that finished no batch.
    """
    try:
        from ray._private.state import actors

        job = ray.get_runtime_context().get_job_id()
        return sum(int(a.get("NumRestarts", 0)) for a in actors().values()
                   if a.get("JobID") == job and "DetectActor" in str(a.get("ActorClassName", "")))
    except (ImportError, AttributeError, TypeError, ValueError):
        return max(0, len(pids - {0}) - pool)  # more processes than actors: some were replaced


def write_parquet_twins(folder: Path) -> list[Path]:
    """Write ``part-NNNNN.parquet`` for every JSON Lines shard whose twin is missing or older."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    written = []
    for shard in sorted(Path(folder).glob(SHARD_GLOB)):
        twin = shard.with_suffix(".parquet")
        if twin.exists() and twin.stat().st_mtime_ns >= shard.stat().st_mtime_ns:
            continue
        records = read_jsonl(shard)
        keys = list(dict.fromkeys(key for record in records for key in record))  # a failure lacks "faces"
        table = pa.Table.from_pylist([{key: record.get(key) for key in keys} for record in records])
        tmp = twin.with_suffix(".parquet.tmp")
        pq.write_table(table, tmp)
        os.replace(tmp, twin)
        written.append(twin)
    return written


class _VideoProgress:
    """How many ranges of each video are still out, and the frames read in those that finished."""

    def __init__(self, ranges: dict[str, int]):
        self.left = dict(ranges)
        self.frames = dict.fromkeys(ranges, 0)

    def range_done(self, video: str, frames: int) -> bool:
        """Count one finished range; True when it was the video's last."""
        self.left[video] -= 1
        self.frames[video] += frames
        return self.left[video] == 0


def _work_items(inputs, frames_per_task: int, stride: int) -> tuple[list[dict], _VideoProgress]:
    """The rows of the job: one per image, one per frame range of each video."""
    from emodet.inference.remote import is_remote
    from emodet.inference.video import frame_ranges

    items, ranges = [], {}
    for item in inputs:
        if item.error:
            continue
        local_video = item.kind == "video" and not is_remote(item.name)  # a remote one is copied whole, once
        spans = frame_ranges(item.name, frames_per_task, stride) if local_video else [(0, None)]
        if item.kind == "video":
            ranges[item.name] = len(spans)
        items += [{"name": item.name, "kind": item.kind, "start": start, "stop": -1 if stop is None else stop}
                  for start, stop in spans]
    return items, _VideoProgress(ranges)


class DetectActor:
    """One Ray actor: an :class:`EmotionDetector` loaded once, run over batches of inputs."""

    def __init__(self, model: str | None, settings: InferenceSettings, stride: int):
        _single_threaded(tensorflow=not runs_without_tensorflow(model))  # ONNX and TFLite run without TensorFlow
        from emodet.inference.loading import load_classifier
        from emodet.inference.pipeline import EmotionDetector

        self.detector = EmotionDetector(load_classifier(model, threads=1), settings=settings)
        self.detector.classifier, self.detector.face_detector  # load now, once per actor
        self.stride = stride

    def __call__(self, batch: dict) -> dict:
        from emodet.inference.batch import process, read_input_image
        from emodet.inference.sources import Input

        decoded = dict(zip(map(str, batch["name"]), zip(batch["pixels"], batch["decode_error"]))) \
            if "pixels" in batch else {}

        def read(name: str):
            if name not in decoded:
                return read_input_image(name)
            pixels, error = decoded[name]
            if error:
                raise MediaError(str(error))
            return pixels

        items, starts = [], []
        for name, kind, start, stop in zip(batch["name"], batch["kind"], batch["start"], batch["stop"]):
            warm = max(0, int(start) - WARMUP_FRAMES * self.stride)
            items.append(Input(str(name), str(kind), start=warm, stop=None if stop < 0 else int(stop)))
            starts.append(int(start))
        records = [record.to_dict() for record in process(self.detector, items, stride=self.stride, read=read)]
        return _rows(_without_warmup(items, starts, records), os.getpid())


def _decode_images(batch: dict) -> dict:
    """A Ray task ahead of the actors: the batch's images decoded (``pixels``, or ``decode_error``);
    video ranges pass through, their frames decoded by the actor that reads them."""
    import numpy as np

    from emodet.errors import EmodetError
    from emodet.inference.batch import read_input_image

    _single_threaded(tensorflow=False)
    nothing = np.zeros((0, 0, 3), np.uint8)
    pixels, errors = [], []
    for name, kind in zip(batch["name"], batch["kind"]):
        try:
            pixels.append(read_input_image(str(name)) if kind == "image" else nothing)
            errors.append("")
        except EmodetError as exc:
            pixels.append(nothing)
            errors.append(str(exc))
    return {**batch, "pixels": pixels, "decode_error": errors}


def _without_warmup(items: list, starts: list[int], records: list[dict]) -> list[dict]:
    """The records of ``items`` (in their order: one per image; a video range's frames, then its one
    final record) without the warm-up frames read before each range's start, nor their count."""
    kept, records = [], iter(records)
    for item, start in zip(items, starts):
        if item.kind != "video":
            kept.append(next(records))
            continue
        dropped = 0
        for record in records:
            if record.get("frame", start) < start:
                dropped += 1
                continue
            if record.get("completed"):
                record["frames"] -= dropped
            elif "frame" in record:
                record["segment"] = start  # track ids start anew in each range: a report links them
            kept.append(record)
            if record.get("completed") or "error" in record:
                break
    return kept


def _rows(records: list[dict], worker: int = 0) -> dict:
    """Columns for the driver: the ``--jsonl`` line, what the summary counts (no parsing there), the
    actor's process id (a replaced actor shows up as one process more than the pool has), and for
    the end of a video range the frames it read (``done``; -1 on other rows), not written as such."""
    def done(record):
        return int(record["frames"]) if record.get("completed") else -1

    return {"record": ["" if done(r) >= 0 else json.dumps(r) for r in records],
            "source": [r["source"] for r in records], "faces": [len(r.get("faces", ())) for r in records],
            "error": [r.get("error") or "" for r in records], "worker": [worker] * len(records),
            "done": [done(r) for r in records]}


def _dataset(ray, items, inputs, model, settings, workers: int, batch_size: int, stride: int, gpus: float,
             decode_in_tasks: bool):
    import ray.data

    unresolved = _rows([{"source": i.name, "error": i.error} for i in inputs if i.error])
    errors = [dict(zip(unresolved, values)) for values in zip(*unresolved.values())]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), workers * 4))) if items else None
    if dataset is not None:
        batch_size = max(1, min(batch_size, -(-len(items) // (2 * workers))))  # a small job still uses every actor
        if decode_in_tasks:
            dataset = dataset.map_batches(_decode_images, batch_size=batch_size, num_cpus=1)
        # A dead actor is restarted and its unfinished batch retried, as often as it takes: Ray Data's
        # own default for actor pools (max_restarts=-1, max_task_retries=-1), exercised by the tests.
        dataset = dataset.map_batches(
            DetectActor, fn_constructor_kwargs={"model": model, "settings": settings, "stride": stride},
            batch_size=batch_size, compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=1,
            num_gpus=gpus or None)
    if errors:
        unresolved = ray.data.from_items(errors)
        dataset = unresolved if dataset is None else dataset.union(unresolved)
    return dataset


def _start_ray(address: str | None, workers: int | None):
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")  # the C++ core's warnings are not for end users
    env = {"OMP_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
           **{name: os.environ[name] for name in ("KERAS_HOME", "EMODET_CACHE", "KERAS_BACKEND")
              if os.environ.get(name)}}
    options = dict(include_dashboard=False, log_to_driver=False, configure_logging=True, logging_level="ERROR",
                   runtime_env={"env_vars": env})
    if address is None and workers:
        options["num_cpus"] = max(workers, 1)
    if address not in (None, "auto", "local"):
        _probe(address)  # ray.init would retry an unreachable head for minutes
    try:
        ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(f"cannot join the Ray cluster at {address!r} ({str(exc).splitlines()[0][:200]}); check "
                          "the address (HOST:6379, or 'auto' on a cluster node) and that `ray start --head` "
                          "runs there") from None
    import logging

    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    return ray


def _probe(address: str) -> None:
    import socket

    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
            return
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
    raise ConfigError(f"cannot reach the Ray cluster at {address!r} ({reason}); give the head node as HOST:PORT "
                      "(port 6379 by default, as `ray start --head` prints it), or leave --address out to run "
                      "Ray in this process")


def _default_pool(ray, gpus_per_worker: float, decode_in_tasks: bool) -> int:
    """Actors when ``--workers`` is not given: one per GPU share, else one per CPU (less one for
    the decoding tasks when they run)."""
    resources = ray.cluster_resources()
    if gpus_per_worker > 0:
        return max(1, int(resources.get("GPU", 0) / gpus_per_worker))
    return max(1, int(resources.get("CPU", 1)) - int(decode_in_tasks))


def _single_threaded(tensorflow: bool = True) -> None:
    """One core per actor: the parallelism is across actors, not threads inside each."""
    import cv2

    cv2.setNumThreads(1)
    if not tensorflow:
        return
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except (ImportError, RuntimeError):  # another backend, or TensorFlow already started
        pass


def _writable(folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".emodet-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"cannot write results into {folder} ({exc.strerror}); choose an --output-dir you "
                          "can write to") from None
    return folder


def _finished(folder: Path) -> tuple[set[str], set[str]]:
    records = [r for shard in sorted(folder.glob(SHARD_GLOB)) for r in read_jsonl(shard)]
    return finished_sources(records)


class _ShardWriter:
    """Appends records to ``part-NNNNN.jsonl`` shards, one unbuffered full line each.

    The old shards first keep only the records of the inputs in ``keep`` (those finished and not
    retried): the frames of a video cut short, a cut last line and retried errors go.
    """

    def __init__(self, folder: Path, keep: set[str], header: dict):
        self.folder = folder
        self.keep = keep
        self.header = header
        self.file = None
        self.count = 0

    def __enter__(self):
        for shard in sorted(self.folder.glob(SHARD_GLOB)):
            records = read_jsonl(shard)
            kept = [r for r in records if r["source"] in self.keep]
            if len(kept) != len(records) or not shard.read_text().endswith("\n"):
                tmp = shard.with_suffix(".tmp")
                tmp.write_text("".join([header_line(h) for h in read_headers(shard)]
                                       + [json.dumps(r) + "\n" for r in kept]))
                os.replace(tmp, shard)
        self.index = len(list(self.folder.glob(SHARD_GLOB)))
        return self

    def write(self, line: str) -> None:
        """Append one record, given as its JSON text."""
        if self.file is None or self.count >= SHARD_RECORDS:
            self._next_shard()
        self.file.write((line + "\n").encode("utf-8"))
        self.count += 1

    def _next_shard(self) -> None:
        if self.file is not None:
            self.file.close()
        self.file = open(self.folder / f"part-{self.index:05d}.jsonl", "ab", buffering=0)
        self.file.write(header_line(self.header).encode("utf-8"))
        self.index += 1
        self.count = 0

    def __exit__(self, *exc):
        if self.file is not None:
            self.file.close()
