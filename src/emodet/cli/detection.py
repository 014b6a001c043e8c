"""``emodet detect``: faces and emotions in images, folders, videos and streams, written as it goes;
``emodet summarize``: what the faces of such a run showed, from the records it wrote."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from emodet.cli.common import (
    EXIT_FAILURES,
    add_inference_options,
    check_output_folder,
    inference_settings,
    quiet_media_libraries,
)
from emodet.errors import EmodetError
from emodet.extras import require
from emodet.inference.stopping import StopOnSignals
from emodet.registry.cli import add_registry_option, model_location


def add_detect(verbs) -> None:
    p = verbs.add_parser("detect", help="find faces and their emotions in images, folders, videos and streams",
                         description="SOURCE: an image, a directory (searched recursively, symlinked folders not "
                                     "followed), a glob, a video file, a webcam index (0) or a stream URL (rtsp://, "
                                     "http://). A bad input is recorded and skipped; the exit status is 1 if any "
                                     "input failed. Every output survives an interruption (Ctrl-C, SIGTERM: the "
                                     "current record is finished, outputs are closed and the summary printed) and "
                                     "holds each record once after --resume.")
    p.add_argument("sources", nargs="+", metavar="SOURCE")
    p.add_argument("--model", help="a .keras, .onnx or .tflite model, or a registry version: models:/NAME@ALIAS "
                                   "or models:/NAME/VERSION (default: the bundled model)")
    add_registry_option(p)
    p.add_argument("--json", type=Path,
                   help="write all results as one JSON array to this file, rebuilt from the run's journal "
                        "(the --jsonl file, or FILE.journal.jsonl beside it) when the run ends or is interrupted")
    p.add_argument("--jsonl", type=Path, help="write one JSON object per image or frame to this file, as it goes")
    p.add_argument("--csv", type=Path, help="write one row per face to this CSV file, as it goes")
    p.add_argument("--save", type=Path, metavar="DIR", help="save annotated images and videos into DIR")
    p.add_argument("--report", type=Path, metavar="HTML",
                   help="write a report of what the faces showed (per-person timelines for videos, galleries for "
                        "photos, failures) to this HTML file when the run ends; needs the report extra. For records "
                        "already written (a --jsonl file, a Ray --output-dir): emodet summarize")
    p.add_argument("--stride", type=int, default=1, help="on video, process every N-th frame")
    add_inference_options(p)
    p.add_argument("--resume", action="store_true",
                   help="skip inputs already finished in the outputs of an earlier run (read from its journal) "
                        "and add the rest; inputs that failed are skipped too, unless --retry-failed")
    p.add_argument("--retry-failed", action="store_true",
                   help="with --resume, process again the inputs that failed (their error records are replaced)")
    p.add_argument("--quiet", action="store_true", help="no table and no progress bar; only the summary")
    p.add_argument("--verbose", action="store_true",
                   help="show the libraries' own messages (OpenCV, ffmpeg, Pillow), hidden by default")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: a pool of Ray actors, one core each, results in "
                        "--output-dir (needs the ray extra)")
    p.add_argument("--output-dir", type=Path, help="with --engine ray: where the part-NNNNN.jsonl shards go; a rerun "
                                                   "skips the inputs already there")
    p.add_argument("--parquet", action="store_true",
                   help="with --engine ray: also write each shard as part-NNNNN.parquet (the same records and fields)")
    p.add_argument("--workers", type=int,
                   help="with --engine ray: actors (default: the cluster's CPUs, locally at most what the memory "
                        "available holds: about 1 GB per .keras actor, 0.25 GB per .onnx/.tflite one; more is "
                        "allowed, with a warning)")
    p.add_argument("--frames-per-task", type=int,
                   help="with --engine ray: cut videos into ranges of this many frames, each a task any actor may "
                        "take (default 300), so one long video uses many workers")
    p.add_argument("--gpus-per-worker", type=float,
                   help="with --engine ray: GPUs each actor holds (e.g. 1, or 0.5 to share one between two); "
                        "--workers then defaults to the cluster's GPUs divided by this")
    p.add_argument("--decode-in-tasks", action="store_true", default=None,
                   help="with --engine ray: decode images in Ray tasks ahead of the actors (default: only when the "
                        "actors hold GPUs; a local Ray then gets one CPU more than --workers for them)")
    p.add_argument("--address", help="with --engine ray: a running Ray cluster to join (HOST:6379, or auto); "
                                     "default: Ray started in this process")
    p.set_defaults(handler=_run_detect)


def add_summarize(verbs) -> None:
    p = verbs.add_parser("summarize", help="what the faces of a detection run showed: per-person timelines, "
                                           "galleries, an HTML report",
                         description="Summarise records that emodet detect already wrote (--jsonl files, Ray "
                                     "--output-dir folders of part-NNNNN.jsonl shards, or several), streaming "
                                     "through them: a short summary on the terminal, and with --report one "
                                     "self-contained HTML page (thumbnails are cut from the inputs that are still "
                                     "there). Damaged records (a cut last line, a missing shard, another emodet "
                                     "version) are noted on the report, not fatal.")
    p.add_argument("records", nargs="+", metavar="RECORDS", help="a --jsonl file or a Ray --output-dir")
    p.add_argument("--report", type=Path, metavar="HTML", help="write the HTML report here (needs the report extra)")
    p.add_argument("--csv", type=Path, help="write the per-track time series here: one row per track and frame")
    p.add_argument("--parquet", type=Path, help="the same time series as Parquet (needs pyarrow: the report extra)")
    p.add_argument("--title", help="the report's title (default: the inputs' names)")
    p.add_argument("--no-thumbnails", action="store_true",
                   help="do not read the inputs back for face thumbnails (faster; the report shows none)")
    p.set_defaults(handler=_run_summarize)


def _run_summarize(args) -> int:
    from emodet.summary import summarize, write_report
    from emodet.summary.tables import write_timeline_csv, write_timeline_parquet

    for flag, path in (("--report", args.report), ("--csv", args.csv), ("--parquet", args.parquet)):
        check_output_folder(path, flag)
    if args.report:
        require("report", "emodet summarize --report")
    if args.parquet:
        require("report", "emodet summarize --parquet", module="pyarrow")
    summary = summarize(args.records, thumbnails=bool(args.report) and not args.no_thumbnails)
    for line in _summary_lines(summary):
        print(line)
    for path, write in ((args.report, lambda p: write_report(summary, p, args.title)),
                        (args.csv, lambda p: write_timeline_csv(summary, p)),
                        (args.parquet, lambda p: write_timeline_parquet(summary, p))):
        if path:
            print(f"wrote {write(path)}")
    return 0


def _summary_lines(summary) -> list[str]:
    """The terminal's short version of the report."""
    lines = [f"warning: {problem}" for problem in summary.problems]
    for video in summary.videos:
        lines.append(f"{video.source}: {video.duration:.1f} s, {video.analysed_frames} frames analysed, "
                     f"{len(video.tracks)} person(s) tracked" + (f", {len(video.others)} short track(s)"
                                                                  if video.others else ""))
        for track in video.tracks:
            shares = sorted(track.shares.items(), key=lambda item: -item[1])[:3]
            lines.append(f"  #{track.track_id}: {track.start:.1f}-{track.end:.1f} s, mostly {track.label} ("
                         + ", ".join(f"{name} {share:.0%}" for name, share in shares if share > 0) + ")")
    photos = summary.photos
    if photos.photos:
        spread = ", ".join(f"{name} {count}" for name, count in photos.faces_per_class.items() if count)
        lines.append(f"{photos.photos} photo(s), {photos.faces} face(s) ({spread or 'none'}), "
                     f"{photos.no_face_count} without a face")
    if summary.failure_count:
        lines.append(f"{summary.failure_count} input(s) failed" + "".join(
            f"\n  failed: {source}: {reason}" for source, reason in summary.failures[:5]))
    if not (summary.videos or photos.photos or summary.failure_count):
        lines.append("the records hold no results")
    return lines


def _run_detect(args) -> int:
    from emodet.inference.batch_run import BatchRun
    from emodet.inference.pipeline import EmotionDetector
    from emodet.inference.sources import expand_sources

    _check_detect_args(args)
    if args.report:
        require("report", "emodet detect --report")
    settings = inference_settings(args)
    if not args.verbose:
        quiet_media_libraries()
    if args.engine == "ray":
        return _detect_on_ray(args, settings)
    detector = EmotionDetector(model_location(args.model, args.registry), settings=settings)
    detector.class_names  # load the model and the face detector now, so a bad --model
    detector.face_detector  # or --detector fails before any work is done
    inputs = expand_sources(args.sources)
    run = BatchRun(detector, jsonl=args.jsonl, json=args.json, csv=args.csv, save=args.save, report=args.report,
                   stride=args.stride, resume=args.resume, retry_failed=args.retry_failed)
    if args.resume:
        inputs = _resumed(run, inputs)
    with StopOnSignals() as stop, _Progress(inputs, enabled=not args.quiet) as progress:
        def on_record(record):
            if not args.quiet:
                _print_record(record, progress.write)
            if record.result is None or record.result.frame_index is None:
                progress.input_done()

        tally = run.run(inputs, on_record=on_record, on_frame=progress.frame, should_stop=lambda: bool(stop.signal))
    print(_tally_text(tally))
    if args.report:
        print(f"report: {run.write_report()}")
    if run.earlier_failures:
        print(f"{run.earlier_failures} input(s) failed in an earlier part of this run and were skipped "
              "(--retry-failed tries them again)")
    if stop.signal:
        print(f"interrupted by {stop.signal_name}: the outputs hold every finished input; "
              "continue with the same command and --resume", file=sys.stderr)
        return 128 + stop.signal
    return EXIT_FAILURES if tally.failures or run.earlier_failures else 0


def _resumed(run, inputs: list) -> list:
    """The inputs left after an earlier part of the run, said on the terminal."""
    left = run.resumption(inputs)
    if left.journal_missing:
        print(f"resuming: {run.journal.path} does not exist, so no input is recorded as done and all "
              f"{len(inputs)} will run; to skip the finished inputs of an earlier run, resume with the "
              "--jsonl/--json/--csv it wrote")
    else:
        print(f"resuming: {left.skipped} input(s) already done, {len(left.to_run)} to go"
              + (f" ({left.retried} failed before, retried)" if left.retried else ""))
    return left.to_run


def _detect_on_ray(args, settings) -> int:
    try:
        from emodet.inference.ray_engine import detect_with_ray
    except ImportError as exc:
        raise EmodetError(f"--engine ray needs Ray ({exc}); install it with pip install \"emodet[ray]\"") from None
    flags = (("--json", args.json), ("--jsonl", args.jsonl), ("--csv", args.csv), ("--save", args.save),
             ("--resume", args.resume), ("--report", args.report))
    unsupported = [flag for flag, value in flags if value]
    if unsupported or not args.output_dir:
        raise EmodetError("--engine ray writes its results into --output-dir (JSON Lines shards) and always resumes; "
                          "emodet summarize DIR --report R.html reports on them; "
                          + (f"{', '.join(unsupported)} go with the local engine" if unsupported
                             else "give --output-dir"))
    for flag, value in (("--workers", args.workers), ("--frames-per-task", args.frames_per_task)):
        if value is not None and value < 1:
            raise EmodetError(f"{flag} must be at least 1, got {value}")
    if args.gpus_per_worker is not None and args.gpus_per_worker <= 0:
        raise EmodetError("--gpus-per-worker must be positive (leave it out for CPU-only actors), "
                          f"got {args.gpus_per_worker}")
    model = model_location(args.model, args.registry)
    summary = detect_with_ray(args.sources, args.output_dir, model=str(model) if model else None,
                              settings=settings, workers=args.workers, address=args.address,
                              stride=args.stride, retry_failed=args.retry_failed, parquet=args.parquet,
                              decode_in_tasks=args.decode_in_tasks, gpus_per_worker=args.gpus_per_worker or 0.0,
                              **({"frames_per_task": args.frames_per_task} if args.frames_per_task else {}))
    for warning in summary.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{summary.inputs} input(s) processed, {summary.skipped} already done; {summary.records} record(s), "
          f"{summary.faces} face(s), {len(summary.failures)} failed; results in {summary.output_dir}")
    if summary.replaced_workers:
        print(f"{summary.replaced_workers} worker(s) died and were replaced; Ray retried their unfinished batches "
              "(every input above has its records)")
    for source, error in summary.failures[:5]:
        print(f"  failed: {source}: {error}")
    if summary.stopped_by:
        print(f"interrupted by {signal.Signals(summary.stopped_by).name}: the shards hold every finished input; "
              "run the same command again to do the rest", file=sys.stderr)
        return 128 + summary.stopped_by
    return EXIT_FAILURES if summary.failures else 0


def _check_detect_args(args) -> None:
    if args.stride < 1:
        raise EmodetError(f"--stride must be at least 1, got {args.stride}")
    check_output_folder(args.report, "--report")
    if args.resume and not (args.jsonl or args.csv or args.json):
        raise EmodetError("--resume needs --jsonl, --csv or --json: the outputs that record which inputs are done")
    if args.retry_failed and not args.resume and args.engine != "ray":
        raise EmodetError("--retry-failed goes with --resume (it says what to do with inputs that failed before)")
    ray_only = [flag for flag, value in (("--output-dir", args.output_dir), ("--parquet", args.parquet),
                                         ("--workers", args.workers), ("--address", args.address),
                                         ("--frames-per-task", args.frames_per_task),
                                         ("--decode-in-tasks", args.decode_in_tasks),
                                         ("--gpus-per-worker", args.gpus_per_worker)) if value]
    if ray_only and args.engine != "ray":
        raise EmodetError(f"{', '.join(ray_only)} go(es) with --engine ray; "
                          "the local engine writes --jsonl/--csv/--json")


def _tally_text(tally) -> str:
    lines = [f"{tally.images} image(s), {tally.frames} video frame(s), {tally.faces} face(s), "
             f"{len(tally.failures)} failed"]
    lines += [f"  failed: {source}: {error}" for source, error in tally.failures]
    return "\n".join(lines)


class _Progress:
    """A progress bar on stderr over inputs, showing frames per second on video."""

    def __init__(self, inputs, enabled: bool):
        import time

        from tqdm import tqdm

        show = enabled and sys.stderr.isatty() and (len(inputs) > 1 or any(i.kind != "image" for i in inputs))
        self.bar = tqdm(total=len(inputs), unit="input", disable=not show, file=sys.stderr, leave=False,
                        dynamic_ncols=True)
        self.clock = time.monotonic
        self.start = self.clock()
        self.frames = 0

    def frame(self) -> None:
        self.frames += 1
        if self.frames % 10 == 0:
            rate = self.frames / max(self.clock() - self.start, 1e-9)
            self.bar.set_postfix_str(f"{self.frames} frames, {rate:.1f} fps")

    def input_done(self) -> None:
        self.bar.update(1)

    def write(self, text: str) -> None:
        self.bar.write(text, file=sys.stdout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.bar.close()


def _print_record(record, write) -> None:
    if record.error:
        write(f"{record.source}: error: {record.error}")
        return
    result = record.result
    if result is None:
        return
    where = record.source if result.frame_index is None else f"{record.source} frame {result.frame_index} " \
                                                              f"({result.timestamp:.2f}s)"
    if record.note:
        write(f"{where}: note: {record.note}")
    if not result.faces:
        if result.frame_index is None:
            write(f"{where}: no face found")
        return
    for face in result.faces:
        x, y, w, h = (int(round(v)) for v in face.box)
        top = ", ".join(f"{name} {p:.2f}" for name, p in face.top(3))
        track = f" #{face.track_id}" if face.track_id is not None else ""
        write(f"{where}{track}: {face.label:<8} {face.score:5.1%}  box {x},{y},{w}x{h}  [{top}]")
