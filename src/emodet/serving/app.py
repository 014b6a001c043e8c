"""The FastAPI application behind ``emodet serve``: routes, limits, the WebSocket stream, the page.

Every error is JSON (``{"error": "..."}``), FastAPI's own included, with the status a client can
act on: 401 without the API key, 413 for too many bytes or pixels, 415 for what is not an image (or
not an accepted content type), 400 for a damaged image or a multipart body without exactly one
file, 422 for a bad query parameter, 404 and 405 for an unknown route or method, 503 (with
Retry-After) while the model loads or when the queue is full, 504 past the per-request timeout.
A client that drops mid-upload is normal traffic: one log line, counted in ``/healthz``.
Inference runs in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from emodet import __version__
from emodet.labels import class_color
from emodet.serving.engine import BadImage, Engine
from emodet.serving.schemas import DetectResponse, ErrorResponse, ModelInfo
from emodet.serving.settings import ServeSettings

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/bmp", "application/octet-stream")
STATIC = Path(str(resources.files("emodet") / "serving" / "static"))
_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 413, 415, 422, 503, 504)}
_log = logging.getLogger("emodet.serve")


class HTTPFailure(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        self.status, self.message, self.headers = status, message, headers


def create_app(settings: ServeSettings | None = None, engine: Engine | None = None) -> FastAPI:
    """The application; the engine (model and detectors) loads in the background at start-up."""
    settings = settings or ServeSettings()
    engine = engine or Engine(settings)
    executor = ThreadPoolExecutor(settings.workers, thread_name_prefix="emodet-worker")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loader = threading.Thread(target=_load_quietly, args=(engine,), name="emodet-load", daemon=True)
        loader.start()
        yield
        executor.shutdown(wait=True)  # in-flight work finishes before the process exits
        engine.close()

    app = FastAPI(title="emodet", version=__version__, lifespan=lifespan,
                  description="Faces and their emotions in images and live streams.")
    app.state.engine = engine
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["*"])

    app.state.client_disconnects = 0
    _add_error_handlers(app)
    _add_page_and_probes(app, engine)
    _add_api(app, engine, executor, settings)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """One error shape for every error: ``{"error": "..."}``, FastAPI's validation and routing included."""

    @app.exception_handler(HTTPFailure)
    async def failure(request, exc: HTTPFailure):
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg', '')}"
                             for e in exc.errors())
        return JSONResponse({"error": f"bad request parameter(s): {problems}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def routing(request, exc: StarletteHTTPException):
        message = {404: f"no such route: {request.url.path} (see /docs)",
                   405: f"{request.method} is not allowed on {request.url.path} (see /docs)"}
        return JSONResponse({"error": message.get(exc.status_code, str(exc.detail))}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(ClientDisconnect)
    async def disconnected(request, exc: ClientDisconnect):
        app.state.client_disconnects += 1
        _log.warning("client %s disconnected during its upload to %s",
                     request.client.host if request.client else "?", request.url.path)
        return JSONResponse({"error": "the client disconnected before its upload ended"}, status_code=400)


def _add_page_and_probes(app: FastAPI, engine: Engine) -> None:
    """The web page and the liveness and readiness probes (no API key: orchestrators call them)."""

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz")
    async def healthz():
        """The process is up (the model may still be loading: see /readyz), and how many clients
        dropped their connection mid-upload since it started."""
        return {"status": "ok", "client_disconnects": app.state.client_disconnects}

    @app.get("/readyz", responses=_ERRORS)
    async def readyz():
        """Ready once the model and the face detector are loaded and warmed up."""
        if not engine.ready:
            raise HTTPFailure(503, engine.error or "the model is still loading", {"Retry-After": "1"})
        return {"status": "ready"}


def _add_api(app: FastAPI, engine: Engine, executor: ThreadPoolExecutor, settings: ServeSettings) -> None:
    """The versioned API: the model's contract, one image, and a live stream of frames."""
    state = {"inflight": 0}

    @app.get("/v1/model", response_model=ModelInfo, responses=_ERRORS)
    async def model_info(request: Request):
        """The served model's contract, the face detector and emodet's version."""
        _authorise(request, settings)
        _require_ready(engine)
        classifier = engine.classifier
        return ModelInfo(class_names=list(classifier.class_names), input_size=classifier.image_size,
                         color_mode=classifier.color_mode,
                         model=settings.model_name or settings.model or "bundled",
                         version=_model_version(settings), detector=settings.inference.detector,
                         emodet_version=__version__, batching=settings.batching,
                         class_colors={name: class_color(name) for name in classifier.class_names})

    @app.post("/v1/detect", response_model=DetectResponse, responses=_ERRORS)
    async def detect(request: Request,
                     min_score: float = Query(0.0, ge=0.0, le=1.0, description="drop faces the detector scored lower"),
                     top_k: int = Query(3, ge=1, le=20, description="how many emotions `top` lists per face"),
                     annotate: bool = Query(False, description="also return the image with boxes and labels")):
        """Faces and emotions in one image: a multipart upload (field `file`) or the raw body
        (Content-Type image/jpeg, image/png, image/webp, image/bmp or application/octet-stream)."""
        _authorise(request, settings)
        _require_ready(engine)
        data = await _image_bytes(request, settings.max_upload_bytes)
        if state["inflight"] >= settings.queue_size:
            raise HTTPFailure(503, f"the server is busy ({settings.queue_size} requests in flight); retry shortly",
                              {"Retry-After": "1"})
        state["inflight"] += 1
        try:
            future = executor.submit(engine.analyse, data, min_score=min_score)
            result, rgb, timings = await asyncio.wait_for(asyncio.wrap_future(future), settings.timeout_s)
        except BadImage as exc:
            raise HTTPFailure(exc.status, str(exc)) from None
        except TimeoutError:
            raise HTTPFailure(504, f"the request took longer than {settings.timeout_s:g} s; retry, or send a "
                                   "smaller image") from None
        finally:
            state["inflight"] -= 1
        return _response(result, timings, top_k, rgb if annotate else None)

    @app.websocket("/v1/stream")
    async def stream(socket: WebSocket):
        """Send frames (binary JPEG/PNG messages); each answer is the newest frame's faces, smoothed
        per face track. Frames that arrive while one is processed replace each other (dropped)."""
        if not _key_ok(socket.headers, socket.query_params, settings):
            await socket.close(code=1008, reason="a valid API key is required (?api_key=...)")
            return
        await socket.accept()
        await _serve_stream(socket, engine, executor, settings)


def _load_quietly(engine: Engine) -> None:
    try:
        engine.load()
    except Exception as exc:  # reported by /readyz, and by the CLI that waits for readiness
        engine.error = engine.error or f"the model could not be loaded: {exc}"


async def _serve_stream(socket: WebSocket, engine: Engine, executor, settings: ServeSettings) -> None:
    tracker = engine.new_tracker()
    slot = {"data": None, "received": 0, "dropped": 0, "closed": False, "reason": None}
    arrived = asyncio.Event()

    async def receive():
        try:
            while True:
                message = await socket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("bytes")
                if data is None:
                    slot["reason"] = (1003, "send frames as binary messages holding a JPEG or PNG image")
                    break
                if len(data) > settings.max_frame_bytes:
                    slot["reason"] = (1009, f"frame of {len(data)} bytes is above the {settings.max_frame_bytes} limit")
                    break
                if slot["data"] is not None:
                    slot["dropped"] += 1  # never a backlog: the newest frame wins
                slot["data"], slot["received"] = data, slot["received"] + 1
                arrived.set()
        finally:
            slot["closed"] = True
            arrived.set()

    receiver = asyncio.create_task(receive())
    try:
        while True:
            await arrived.wait()
            arrived.clear()
            data, slot["data"] = slot["data"], None
            if data is None:
                if slot["closed"]:
                    break
                continue
            if not engine.ready:
                await socket.send_json({"error": "the model is still loading"})
                continue
            try:
                result, _, timings = await asyncio.wrap_future(executor.submit(engine.analyse, data, tracker=tracker))
            except BadImage as exc:
                slot["reason"] = (1003, f"frame {slot['received']}: {exc}"[:120])
                break
            body = _response(result, timings, 3, None).model_dump()
            await socket.send_json({**body, "frame": slot["received"], "dropped": slot["dropped"]})
    except WebSocketDisconnect:
        pass
    finally:
        receiver.cancel()
        if slot["reason"]:
            code, reason = slot["reason"]
            with contextlib.suppress(Exception):
                await socket.close(code=code, reason=reason[:120])


def _response(result, timings: dict, top_k: int, rgb) -> DetectResponse:
    faces = []
    for face in result.faces:
        data = face.to_dict()
        data["top"] = [{"label": label, "probability": p} for label, p in face.top(top_k)]
        faces.append(data)
    annotated = None
    if rgb is not None:
        import cv2

        ok, png = cv2.imencode(".png", result.draw(rgb)[..., ::-1])
        annotated = base64.b64encode(png.tobytes()).decode("ascii") if ok else None
    width, height = result.image_size
    return DetectResponse(width=width, height=height, faces=faces, timings=timings, annotated_image=annotated)


async def _image_bytes(request: Request, limit: int) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data" and content_type not in IMAGE_TYPES:
        raise HTTPFailure(415, f"Content-Type {content_type or '(none)'} is not accepted; send multipart/form-data "
                               f"with a `file` field, or the raw image as one of {', '.join(IMAGE_TYPES)}")
    body = await _read_limited(request, limit)
    if content_type != "multipart/form-data":
        return body
    from starlette.formparsers import MultiPartException, MultiPartParser

    async def once():
        yield body

    try:
        form = await MultiPartParser(request.headers, once()).parse()
    except MultiPartException as exc:
        raise HTTPFailure(400, f"the multipart body cannot be parsed ({exc})") from None
    files = [value for _, value in form.multi_items() if not isinstance(value, str)]
    if len(files) > 1:
        raise HTTPFailure(400, f"the multipart body holds {len(files)} files; send one image per request "
                               "(in a `file` field)")
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPFailure(400, "the multipart body has no `file` field holding the image")
    return await upload.read()


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    too_large = HTTPFailure(413, f"the upload is larger than this server's limit of {limit:,} bytes")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _authorise(request: Request, settings: ServeSettings) -> None:
    if not _key_ok(request.headers, request.query_params, settings):
        raise HTTPFailure(401, "a valid API key is required: send it as the X-API-Key header "
                               "(or Authorization: Bearer KEY)", {"WWW-Authenticate": "Bearer"})


def _key_ok(headers, query, settings: ServeSettings) -> bool:
    if not settings.api_key:
        return True
    bearer = headers.get("authorization", "")
    given = headers.get("x-api-key") or (bearer[7:] if bearer.lower().startswith("bearer ") else None) \
        or query.get("api_key") or ""
    return hmac.compare_digest(given.encode(), settings.api_key.encode())


def _require_ready(engine: Engine) -> None:
    if not engine.ready:
        raise HTTPFailure(503, engine.error or "the model is still loading; retry shortly", {"Retry-After": "1"})


def _model_version(settings: ServeSettings) -> str | None:
    if settings.model:
        return settings.model_version
    from emodet.bundled import MODEL_NAME

    return MODEL_NAME
