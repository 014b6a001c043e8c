"""The one place where the service's defaults and limits live."""

from __future__ import annotations

from dataclasses import dataclass, field

from emodet.inference.settings import InferenceSettings

#: Environment variable read for the API key when ``--api-key`` is not given.
API_KEY_ENV = "EMODET_API_KEY"


@dataclass(frozen=True)
class ServeSettings:
    model: str | None = None  # a model file; None: the bundled model
    model_name: str | None = None  # what the user asked for (a path, or a models:/ registry reference)
    model_version: str | None = None  # the registry version a reference resolved to
    # How faces are found, cut out and classified, as in `emodet detect` (its smoothing applies per
    # WebSocket connection).
    inference: InferenceSettings = field(default_factory=InferenceSettings)
    host: str = "127.0.0.1"  # loopback only unless --host 0.0.0.0 is asked for
    port: int = 8000
    api_key: str | None = None  # when set, /v1/* needs it (X-API-Key header, Bearer token or ?api_key=)
    cors_origins: tuple[str, ...] = field(default=())  # CORS is off unless origins are given
    max_upload_bytes: int = 10 * 1024 * 1024  # larger bodies: 413
    max_pixels: int = 40_000_000  # larger images (decompression bombs): 413
    queue_size: int = 64  # requests in flight at once; beyond: 503 with Retry-After
    timeout_s: float = 15.0  # per request; beyond: 504
    batching: bool = True  # classify the faces of concurrent requests in one call
    max_batch: int = 32  # faces per classifier call
    batch_wait_ms: float = 1.0  # how long the first face waits for company (3 ms measured slower)
    workers: int = 4  # threads decoding and detecting faces (one detector each; two per core measured best)
    # OpenCV's own threads per call (0: its default, one per core). With several workers the
    # parallelism is across requests: 1 keeps each request on one core instead of workers x cores.
    library_threads: int = 1
    max_frame_bytes: int = 2 * 1024 * 1024  # WebSocket frames; larger: the connection is closed
