"""A real `emodet serve` process on 127.0.0.1: load, limits, full queue, timeouts, graceful shutdown."""

import signal
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from conftest import SAMPLES
from PIL import Image
from serving_process import Server

pytestmark = pytest.mark.slow
ASTRONAUT = (SAMPLES / "astronaut.jpg").read_bytes()
JPEG = {"Content-Type": "image/jpeg"}


@pytest.fixture(scope="module")
def server(model_cache):
    with Server("--detector", "yunet", env={"EMODET_CACHE": str(model_cache)}) as running:
        yield running


def _bomb(tmp_path) -> bytes:
    """A small PNG whose header declares 20000 x 20000 pixels."""
    path = tmp_path / "bomb.png"
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = data[12:29]
    ihdr[4:12] = struct.pack(">II", 20000, 20000)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)))
    return bytes(data)


def test_sixteen_concurrent_clients_get_no_error(server):
    with httpx.Client(base_url=server.url, timeout=60) as client, ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda _: client.post("/v1/detect", content=ASTRONAUT, headers=JPEG).status_code,
                              range(64)))
    assert codes == [200] * 64


def test_limits_in_a_real_process_and_it_keeps_serving(server, tmp_path):
    with httpx.Client(base_url=server.url, timeout=60) as client:
        bomb = client.post("/v1/detect", content=_bomb(tmp_path), headers={"Content-Type": "image/png"})
        assert bomb.status_code == 413 and "pixels" in bomb.json()["error"]
        huge = client.post("/v1/detect", content=b"\xff" * (11 * 2 ** 20), headers=JPEG)
        assert huge.status_code == 413
        assert client.post("/v1/detect", content=ASTRONAUT, headers=JPEG).status_code == 200


def test_a_full_queue_answers_503_with_retry_after(model_cache):
    with Server("--detector", "yunet", "--queue-size", "1", "--workers", "1",
                env={"EMODET_CACHE": str(model_cache)}) as busy:
        with httpx.Client(base_url=busy.url, timeout=60) as client, ThreadPoolExecutor(12) as pool:
            responses = list(pool.map(lambda _: client.post("/v1/detect", content=ASTRONAUT, headers=JPEG), range(24)))
            codes = [r.status_code for r in responses]
            assert 503 in codes and 200 in codes and set(codes) <= {200, 503}
            assert all(r.headers.get("retry-after") == "1" for r in responses if r.status_code == 503)
            assert client.post("/v1/detect", content=ASTRONAUT, headers=JPEG).status_code == 200


def test_a_request_past_the_timeout_is_504(model_cache):
    with Server("--detector", "yunet", "--timeout", "0.001", env={"EMODET_CACHE": str(model_cache)}) as slow:
        response = httpx.post(slow.url + "/v1/detect", content=ASTRONAUT, headers=JPEG, timeout=60)
        assert response.status_code == 504 and "longer than" in response.json()["error"]
        assert httpx.get(slow.url + "/healthz").status_code == 200


def test_graceful_shutdown_finishes_requests_in_flight(model_cache):
    running = Server("--detector", "yunet", "--workers", "1", env={"EMODET_CACHE": str(model_cache)})
    results, sent = [], threading.Semaphore(0)

    def on_sent(event: str, info) -> None:  # httpcore's trace: the request has left the client whole
        if event == "http11.send_request_body.complete":
            sent.release()

    def call():
        try:
            with httpx.Client(timeout=60) as client:
                request = client.build_request("POST", running.url + "/v1/detect", content=ASTRONAUT, headers=JPEG,
                                               extensions={"trace": on_sent})
                results.append(client.send(request).status_code)
        except httpx.HTTPError as exc:
            results.append(repr(exc))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    assert all(sent.acquire(timeout=60) for _ in threads), "not every request reached the server"
    deadline = time.monotonic() + 60
    while not results and time.monotonic() < deadline:  # once one is answered, the others are queued
        time.sleep(0.005)
    running.process.send_signal(signal.SIGTERM)
    for thread in threads:
        thread.join(60)
    assert results == [200] * 8
    # uvicorn shuts down gracefully, then re-raises the signal it caught (the conventional exit).
    assert running.process.wait(60) in (0, -signal.SIGTERM)


def test_clients_dropping_mid_upload_are_one_line_each_and_counted(model_cache):
    """Ten clients that send part of a declared body and hang up: no traceback in the server's log,
    at most one line each, the count in /healthz, and the server goes on answering."""
    import socket

    with Server("--detector", "yunet", env={"EMODET_CACHE": str(model_cache)}) as server:
        for _ in range(10):
            with socket.create_connection(("127.0.0.1", server.port)) as raw:
                raw.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
                            b"Content-Length: 100000\r\n\r\n" + ASTRONAUT[:2000])
                time.sleep(0.05)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            deadline = time.monotonic() + 20
            while client.get("/healthz").json()["client_disconnects"] < 10 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert client.get("/healthz").json()["client_disconnects"] == 10
            assert client.post("/v1/detect", content=ASTRONAUT, headers=JPEG).status_code == 200
        server.stop()
        log = server.process.stdout.read()
    assert "Traceback" not in log and "ClientDisconnect" not in log
    assert log.count("disconnected during its upload") <= 10 and len(log.splitlines()) <= 12, log[-2000:]


@pytest.mark.parametrize("attempt", range(4))
def test_a_port_in_use_or_out_of_range_is_one_clean_message(attempt):
    """The port is checked before anything loads: a busy port or --port 99999 ends with one line and
    status 2, never an abort (status 134) or a traceback (four starts, as the abort came 1 in 4)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        for value in (str(port), "99999"):
            done = subprocess.run([sys.executable, "-m", "emodet.cli", "serve", "--port", value],
                                  capture_output=True, text=True, timeout=120)
            output = done.stdout + done.stderr
            assert done.returncode == 2, output
            assert "Traceback" not in output and "terminate called" not in output
            expected = f"cannot listen on 127.0.0.1:{port}" if value == str(port) else "--port must be a TCP port"
            assert expected in output
