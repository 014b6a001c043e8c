"""`pip install emodet` alone (no extras): detection works without TensorFlow or Keras, and a verb
that needs an extra says which one in one line.

Builds a fresh virtual environment with the lean install (pip's cache makes it about half a minute
after the first time) and runs the installed `emodet` there, as a user would.
"""

import subprocess
import venv
from pathlib import Path

import pytest
from conftest import read_records
from test_video import make_video

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "src" / "emodet" / "assets" / "samples"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lean(tmp_path_factory) -> Path:
    """The bin/ folder of a virtual environment holding emodet without extras."""
    root = tmp_path_factory.mktemp("lean") / "venv"
    venv.create(root, with_pip=True)
    installed = subprocess.run([root / "bin" / "python", "-m", "pip", "install", "--quiet", str(REPO)],
                               capture_output=True, text=True, timeout=1200)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root / "bin"


def _run(lean: Path, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(lean / args[0]), *args[1:]], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_the_lean_install_has_no_tensorflow_keras_or_training_libraries(lean):
    code = ("import importlib.util as u; print([m for m in ('tensorflow', 'keras', 'sklearn', 'matplotlib', "
            "'scipy', 'tf2onnx') if u.find_spec(m)])")
    assert _run(lean, "python", "-c", code).stdout.strip() == "[]"


def test_detect_a_photo_a_folder_and_a_video_without_tensorflow(lean, tmp_path):
    photo = _run(lean, "emodet", "detect", str(SAMPLES / "astronaut.jpg"))
    assert photo.returncode == 0, photo.stderr
    assert "happy" in photo.stdout and "1 face(s)" in photo.stdout
    assert "tensorflow" not in photo.stderr.lower() and "cuda" not in photo.stderr.lower()

    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut.jpg", "camera.png"):
        (folder / name).write_bytes((SAMPLES / name).read_bytes())
    (folder / "notes.jpg").write_text("not an image")
    video = make_video(tmp_path / "clip.mp4")
    records = tmp_path / "out.jsonl"
    batch = _run(lean, "emodet", "detect", str(folder), str(video), "--jsonl", str(records))
    assert batch.returncode == 1, batch.stdout + batch.stderr  # one input failed: recorded, the run went on
    lines = read_records(records)
    sources = {Path(line["source"]).name for line in lines}
    assert {"astronaut.jpg", "camera.png", "notes.jpg", "clip.mp4"} <= sources
    assert sum(1 for line in lines if Path(line["source"]).name == "clip.mp4" and "frame" in line) == 12
    assert any("error" in line for line in lines if Path(line["source"]).name == "notes.jpg")
    summary = _run(lean, "emodet", "summarize", str(records), "--csv", str(tmp_path / "tracks.csv"))
    assert summary.returncode == 0 and "clip.mp4" in summary.stdout, summary.stderr  # no extra needed for this
    assert (tmp_path / "tracks.csv").read_text().count("\n") == 1 + 12


def test_the_python_api_without_tensorflow(lean):
    code = (f"import sys, emodet; r = emodet.EmotionDetector()({str(SAMPLES / 'astronaut.jpg')!r}); "
            "print(r.faces[0].label, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    result = _run(lean, "python", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["happy", "False", "False"]
    assert result.stderr == ""  # nothing printed by the library or the runtimes under it


@pytest.mark.parametrize(("argv", "extra"), [
    (["emodet", "train", "--data", "fer2013:x.csv"], "train"),
    (["emodet", "evaluate", "--data", "fer2013:x.csv"], "train"),
    (["emodet", "detect", str(SAMPLES / "astronaut.jpg"), "--model", "model.keras"], "train"),
    (["emodet", "serve"], "serve"),
    (["emodet", "detect", str(SAMPLES / "astronaut.jpg"), "--report", "report.html"], "report"),
    (["python", "-c", "import emodet; emodet.train"], "train"),
])
def test_a_feature_whose_extra_is_missing_says_which_in_one_line(lean, tmp_path, argv, extra):
    if argv[-1] == "model.keras":
        (tmp_path / "model.keras").write_bytes(b"")
    result = _run(lean, *argv, cwd=tmp_path)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert f"pip install 'emodet[{extra}]'" in last, result.stderr
    if argv[0] == "emodet":
        assert result.stderr.strip().count("\n") == 0, result.stderr  # one line, no traceback

