"""The webcam page in a real headless Chromium, its camera faked from a video of a bundled sample."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import CHROMIUM, load_sample
from serving_process import Server

pytestmark = pytest.mark.slow
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream"]


def write_y4m(path: Path, frames: int = 50) -> Path:
    """A 640x480 Y4M clip (Chromium's fake-camera format) of the astronaut's face swaying slowly
    (back and forth, so the clip Chromium loops has no jump)."""
    face = cv2.resize(load_sample("astronaut.jpg")[30:250, 140:310], (200, 260))
    with open(path, "wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F25:1 Ip A1:1 C420jpeg\n")
        for i in range(frames):
            frame = np.full((480, 640, 3), 110, np.uint8)
            x = 200 + abs(i - frames // 2)
            frame[100:360, x:x + 200] = face
            out.write(b"FRAME\n" + cv2.cvtColor(frame, cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


@pytest.fixture(scope="module", autouse=True)
def _browser(chromium):
    """Every test here needs Debian's Chromium (conftest's ``chromium``: a skip, or a failure under CI)."""


@pytest.fixture(scope="module")
def server(model_cache):
    with Server("--detector", "yunet", env={"EMODET_CACHE": str(model_cache)}) as running:
        yield running


def test_the_page_shows_a_face_box_and_its_emotion_from_the_camera(server, tmp_path):
    from playwright.sync_api import sync_playwright

    camera = write_y4m(tmp_path / "camera.y4m")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=FLAGS + [f"--use-file-for-fake-video-capture={camera}"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.goto(server.url + "/?autostart=1")
            page.wait_for_function("window.emodetLastAnswer && window.emodetLastAnswer.faces.length > 0",
                                   timeout=30_000)
            answer = page.evaluate("window.emodetLastAnswer")
            assert answer["width"] == 640 and answer["faces"][0]["label"] in answer["faces"][0]["probs"]
            page.wait_for_selector("#bars .face .bar", timeout=10_000)
            assert page.inner_text("#status") == "live"
            assert "Face #" in page.inner_text("#bars")
            # The overlay canvas has the box drawn on it: some pixels are the box colour.
            blue = page.evaluate("""() => { const c = document.getElementById('overlay');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
                for (let i = 0; i < d.length; i += 4) if (d[i] === 58 && d[i + 1] === 110 && d[i + 2] === 232) n++;
                return n; }""")
            assert blue > 100
            # Each tracked face has its timeline: a line per emotion in the emotion's colour (from /v1/model).
            page.wait_for_function("[...window.emodetHistory.values()].some((p) => p[p.length - 1].t - p[0].t > 4)",
                                   timeout=30_000)  # 4 of the 30 seconds: a 32-pixel stretch of each line
            page.wait_for_selector("#bars .face canvas.timeline", timeout=10_000)
            coloured = page.evaluate("""() => { const c = document.querySelector('#bars canvas.timeline');
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
                for (let i = 0; i < d.length; i += 4) if (d[i] > 150 || d[i + 1] > 150 || d[i + 2] > 150) n++;
                return n; }""")
            assert coloured > 100  # lines drawn, not only the dark background and the two labels
            page.screenshot(path=str(tmp_path / "page.png"))
            # The drop zone: a photo returns the annotated result.
            page.set_input_files("#file", str(Path(__file__).resolve().parents[1] / "src" / "emodet" / "assets"
                                              / "samples" / "astronaut.jpg"))
            page.wait_for_selector("#annotated:not([hidden])", timeout=15_000)
            assert "happy" in page.inner_text("#photo-faces")
        finally:
            browser.close()
    assert (tmp_path / "page.png").stat().st_size > 10_000
