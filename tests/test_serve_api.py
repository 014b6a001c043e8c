"""`emodet serve` routes and errors through FastAPI's TestClient (the real app, model and detector)."""

import io

import pytest
from conftest import SAMPLES
from fastapi.testclient import TestClient
from PIL import Image
from starlette.websockets import WebSocketDisconnect

from emodet.inference.settings import InferenceSettings
from emodet.labels import FER7
from emodet.serving.app import create_app
from emodet.serving.settings import ServeSettings

ASTRONAUT = (SAMPLES / "astronaut.jpg").read_bytes()


def _client(**settings):
    app = create_app(ServeSettings(inference=InferenceSettings(detector="yunet"), **settings))
    client = TestClient(app)
    client.__enter__()
    assert app.state.engine.wait_ready(120), app.state.engine.error
    return client


@pytest.fixture(scope="module")
def client(model_cache):
    client = _client(max_upload_bytes=2_000_000, max_pixels=5_000_000)
    yield client
    client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def keyed(model_cache):
    client = _client(api_key="s3cret", cors_origins=("http://example.test",))
    yield client
    client.__exit__(None, None, None)


def _png(width, height) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (90, 90, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def test_health_readiness_and_model_contract(client):
    assert client.get("/healthz").json() == {"status": "ok", "client_disconnects": 0}
    assert client.get("/readyz").status_code == 200
    info = client.get("/v1/model").json()
    assert info["class_names"] == list(FER7) and info["detector"] == "yunet" and info["batching"] is True
    assert info["input_size"] > 0 and info["emodet_version"]


@pytest.mark.parametrize("how", ["raw", "multipart"])
def test_detect_returns_the_same_json_as_the_cli(client, how):
    kwargs = ({"content": ASTRONAUT, "headers": {"Content-Type": "image/jpeg"}} if how == "raw"
              else {"files": {"file": ("astronaut.jpg", ASTRONAUT, "image/jpeg")}})
    response = client.post("/v1/detect?top_k=2", **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["width"], body["height"]) == (512, 512) and len(body["faces"]) == 1
    face = body["faces"][0]
    assert face["label"] == "happy" and set(face["probs"]) == set(FER7)
    assert sum(face["probs"].values()) == pytest.approx(1.0, abs=1e-4)
    assert [t["label"] for t in face["top"]][0] == "happy" and len(face["top"]) == 2
    assert body["timings"]["total_ms"] > 0 and body["annotated_image"] is None


def test_annotate_and_min_score(client):
    body = client.post("/v1/detect?annotate=true", content=ASTRONAUT, headers={"Content-Type": "image/jpeg"}).json()
    import base64

    image = Image.open(io.BytesIO(base64.b64decode(body["annotated_image"])))
    assert image.size == (512, 512)
    strict = client.post("/v1/detect?min_score=0.999", content=ASTRONAUT, headers={"Content-Type": "image/jpeg"})
    assert strict.json()["faces"] == []


@pytest.mark.parametrize("content, content_type, status, fragment", [
    (b"hello", "text/plain", 415, "Content-Type text/plain is not accepted"),
    (b"hello", "image/png", 415, "not an image"),
    (ASTRONAUT[: len(ASTRONAUT) // 3], "image/jpeg", 400, "damaged or truncated"),
    (b"", "image/jpeg", 400, "empty"),
    (b"x" * 2_100_000, "image/jpeg", 413, "larger than this server's limit"),
    (_png(3000, 2000), "image/png", 413, "above this server's limit"),
    (b"GIF89a" + _png(8, 8), "image/gif", 415, "not accepted"),
])
def test_bad_uploads_get_json_errors_and_the_server_goes_on(client, content, content_type, status, fragment):
    response = client.post("/v1/detect", content=content, headers={"Content-Type": content_type})
    assert response.status_code == status and fragment in response.json()["error"]
    assert client.post("/v1/detect", content=ASTRONAUT, headers={"Content-Type": "image/jpeg"}).status_code == 200


def test_every_error_has_one_shape(client):
    """Bad query parameters (422), unknown routes (404) and methods (405) answer {"error": ...} as
    the API's own errors do, naming what was wrong."""
    for query, name in (("top_k=0", "top_k"), ("min_score=2", "min_score")):
        response = client.post(f"/v1/detect?{query}", content=ASTRONAUT, headers={"Content-Type": "image/jpeg"})
        assert response.status_code == 422 and list(response.json()) == ["error"] and name in response.json()["error"]
    response = client.get("/v1/nowhere")
    assert response.status_code == 404 and "no such route: /v1/nowhere" in response.json()["error"]
    response = client.get("/v1/detect")
    assert response.status_code == 405 and "GET is not allowed on /v1/detect" in response.json()["error"]


def test_several_files_in_one_request_are_refused_not_dropped(client):
    files = [("file", ("a.jpg", ASTRONAUT, "image/jpeg")), ("file", ("b.jpg", ASTRONAUT, "image/jpeg"))]
    response = client.post("/v1/detect", files=files)
    assert response.status_code == 400 and "holds 2 files; send one image per request" in response.json()["error"]
    other = [("file", ("a.jpg", ASTRONAUT, "image/jpeg")), ("extra", ("b.jpg", ASTRONAUT, "image/jpeg"))]
    assert client.post("/v1/detect", files=other).status_code == 400
    assert client.post("/v1/detect", files=files[:1]).status_code == 200


def test_api_key_and_cors(keyed):
    assert keyed.get("/v1/model").status_code == 401
    assert keyed.get("/v1/model", headers={"X-API-Key": "wrong"}).status_code == 401
    assert keyed.get("/v1/model", headers={"X-API-Key": "s3cret"}).status_code == 200
    assert keyed.get("/v1/model", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert keyed.get("/healthz").status_code == 200  # probes need no key
    allowed = keyed.options("/v1/detect",
                            headers={"Origin": "http://example.test", "Access-Control-Request-Method": "POST"})
    assert allowed.headers.get("access-control-allow-origin") == "http://example.test"
    other = keyed.options("/v1/detect", headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in other.headers


def test_cors_is_off_by_default(client):
    response = client.get("/v1/model", headers={"Origin": "http://example.test"})
    assert "access-control-allow-origin" not in response.headers


def test_openapi_declares_the_response_schemas(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"DetectResponse", "Face", "ModelInfo", "ErrorResponse"} <= set(schemas)
    assert "413" in spec["paths"]["/v1/detect"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_the_page_is_served_with_its_assets_and_no_cdn(client):
    page = client.get("/").text
    assert "getUserMedia" in client.get("/static/app.js").text
    assert "http://" not in page and "https://" not in page  # works offline
    assert client.get("/static/style.css").status_code == 200


def test_stream_tracks_faces_and_closes_on_garbage(client):
    with client.websocket_connect("/v1/stream") as socket:
        ids = []
        for _ in range(3):
            socket.send_bytes(ASTRONAUT)
            answer = socket.receive_json()
            assert answer["faces"][0]["label"] == "happy"
            ids.append(answer["faces"][0]["track_id"])
        assert ids[0] == ids[1] == ids[2] and answer["frame"] == 3
        socket.send_bytes(b"garbage")
        with pytest.raises(WebSocketDisconnect) as info:
            socket.receive_json()
        assert info.value.code == 1003 and "frame 4" in info.value.reason
    with client.websocket_connect("/v1/stream") as socket:  # a new connection: a new tracker, unaffected
        socket.send_bytes(ASTRONAUT)
        assert socket.receive_json()["faces"][0]["track_id"] == 1
        socket.send_text("hello")
        with pytest.raises(WebSocketDisconnect) as info:
            socket.receive_json()
        assert info.value.code == 1003 and "binary" in info.value.reason


def test_stream_needs_the_key_when_one_is_set(keyed):
    with pytest.raises(WebSocketDisconnect) as info:
        with keyed.websocket_connect("/v1/stream") as socket:
            socket.receive_json()
    assert info.value.code == 1008
    with keyed.websocket_connect("/v1/stream?api_key=s3cret") as socket:
        socket.send_bytes(ASTRONAUT)
        assert len(socket.receive_json()["faces"]) == 1


def test_batching_merges_concurrent_requests(model_cache):
    from concurrent.futures import ThreadPoolExecutor

    client = _client(workers=4, batch_wait_ms=20)
    try:
        engine = client.app.state.engine
        calls = engine.batcher.calls
        with ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda _: client.post("/v1/detect", content=ASTRONAUT,
                                                          headers={"Content-Type": "image/jpeg"}).status_code,
                                  range(16)))
        assert codes == [200] * 16
        assert engine.batcher.faces >= 16 and engine.batcher.calls - calls < 16  # some calls held several faces
    finally:
        client.__exit__(None, None, None)
