"""``emodet serve`` and ``export``: the model behind an HTTP API, or in a file for other runtimes."""

from __future__ import annotations

import os
from pathlib import Path

from emodet.cli.common import add_inference_options, inference_settings, model_stem, quiet_media_libraries
from emodet.errors import EmodetError
from emodet.registry.cli import add_registry_option, model_and_version, model_location


def add_serve(verbs) -> None:
    from emodet.serving.settings import API_KEY_ENV, ServeSettings

    d = ServeSettings()
    p = verbs.add_parser("serve", help="an HTTP API and a live webcam page (FastAPI on uvicorn)",
                         description="POST /v1/detect (an image) -> faces and emotions as JSON; GET /v1/model; "
                                     "GET /healthz, /readyz; WebSocket /v1/stream for live frames; the webcam page "
                                     "at /; OpenAPI docs at /docs. Binds 127.0.0.1 unless --host says otherwise.")
    p.add_argument("--model",
                   help="a .keras, .onnx or .tflite model or models:/NAME@ALIAS (default: the bundled model)")
    add_registry_option(p)
    add_inference_options(p)
    p.add_argument("--host", default=d.host, help=f"address to bind (default {d.host}; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=d.port)
    p.add_argument("--api-key", help=f"require this key on /v1/* (default: ${API_KEY_ENV} when set)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="allow browser calls from this origin (repeatable; CORS is off by default)")
    p.add_argument("--max-upload-mb", type=float, default=d.max_upload_bytes / 2 ** 20)
    p.add_argument("--max-pixels", type=int, default=d.max_pixels)
    p.add_argument("--queue-size", type=int, default=d.queue_size, help="requests in flight before 503")
    p.add_argument("--timeout", type=float, default=d.timeout_s, help="seconds per request before 504")
    p.add_argument("--workers", type=int, default=d.workers, help="threads decoding and detecting faces")
    p.add_argument("--library-threads", type=int, default=d.library_threads,
                   help=f"OpenCV threads per call (default {d.library_threads}: the workers run requests in "
                        "parallel; 0: OpenCV's default, one per core)")
    p.add_argument("--no-batching", action="store_true", help="classify each request's faces on their own")
    p.add_argument("--batch-wait-ms", type=float, default=d.batch_wait_ms)
    p.set_defaults(handler=_run_serve)


def _run_serve(args) -> int:
    import uvicorn

    from emodet.serving.app import create_app
    from emodet.serving.settings import API_KEY_ENV, ServeSettings

    for name, value, low in (("--port", args.port, 1), ("--queue-size", args.queue_size, 1),
                             ("--workers", args.workers, 1), ("--max-pixels", args.max_pixels, 1)):
        if value < low:
            raise EmodetError(f"{name} must be at least {low}, got {value}")
    if args.port > 65535:
        raise EmodetError(f"--port must be a TCP port from 1 to 65535, got {args.port}")
    if args.library_threads < 0:
        raise EmodetError(f"--library-threads must be 0 (OpenCV's default) or more, got {args.library_threads}")
    if args.timeout <= 0 or args.max_upload_mb <= 0 or args.batch_wait_ms < 0:
        raise EmodetError("--timeout and --max-upload-mb must be positive and --batch-wait-ms not negative")
    model, version = model_and_version(args.model, args.registry)
    settings = ServeSettings(model=str(model) if model else None, model_name=args.model, model_version=version,
                             inference=inference_settings(args), host=args.host, port=args.port,
                             api_key=args.api_key or os.environ.get(API_KEY_ENV) or None,
                             cors_origins=tuple(args.cors_origin), max_upload_bytes=int(args.max_upload_mb * 2 ** 20),
                             max_pixels=args.max_pixels, queue_size=args.queue_size, timeout_s=args.timeout,
                             workers=args.workers, batching=not args.no_batching, batch_wait_ms=args.batch_wait_ms,
                             library_threads=args.library_threads)
    listening = _listen(args.host, args.port)  # before the model loads: a port in use ends here, cleanly
    quiet_media_libraries()
    print(f"emodet serve: http://{args.host}:{args.port}/ (API docs at /docs; ready once /readyz answers 200)"
          + ("; API key required" if settings.api_key else ""), flush=True)
    config = uvicorn.Config(create_app(settings), log_level="warning",
                            timeout_graceful_shutdown=int(settings.timeout_s) + 5)
    uvicorn.Server(config).run(sockets=[listening])
    return 0


def _listen(host: str, port: int):
    """A socket bound to ``host:port`` for uvicorn, or a one-line error when it cannot be had.

    Binding here, before the app exists, means a busy port is reported before any model or
    library thread starts (uvicorn's own bind failure, reached with those threads running, now
    and then ended the process in an abort instead of its message)."""
    import socket

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
    except OSError as exc:
        raise EmodetError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; choose another --port "
                          "(or stop the process using it)") from None
    listening.set_inheritable(True)
    return listening


def add_export(verbs) -> None:
    p = verbs.add_parser("export", help="export a .keras model to ONNX, TFLite or a TensorFlow SavedModel",
                         description="The exported model keeps its class names and input contract and runs "
                                     "in `emodet detect --model` without TensorFlow (ONNX, TFLite).")
    p.add_argument("model", nargs="?", help="a .keras model or models:/NAME@ALIAS (default: the bundled model)")
    p.add_argument("--format", choices=("onnx", "tflite", "saved_model"), required=True)
    p.add_argument("--int8", metavar="SOURCE",
                   help="ONNX: quantize to 8 bits, calibrated on faces of this dataset's training split "
                        "(e.g. fer2013:fer2013.csv.gz); about 3x faster at batch 1, a quarter of the size")
    add_registry_option(p)
    p.add_argument("--output", type=Path,
                   help="output file or directory (default: the model's file name with the format's suffix, "
                        "in the current directory)")
    p.set_defaults(handler=_run_export)


def _run_export(args) -> int:
    from emodet.exporter import export

    suffix = {"onnx": ".onnx", "tflite": ".tflite", "saved_model": "_saved_model"}[args.format]
    if args.model is None:
        from emodet.bundled import MODEL_NAME, load_bundled_model

        source, name, stem = load_bundled_model(), "the bundled model", MODEL_NAME
    else:
        source, name = model_location(args.model, args.registry), args.model
        stem = model_stem(args.model, source)
    calibration = None
    if args.int8 and args.format != "onnx":
        raise EmodetError(f"--int8 quantizes ONNX exports; use --format onnx (got --format {args.format})")
    if args.int8:
        from emodet.data.sources import load_split

        calibration, stem = load_split(args.int8, "train"), stem + ".int8"
    written = export(source, args.output or Path(stem + suffix), args.format, int8_calibration=calibration)
    print(f"exported {name} to {written}")
    return 0
