"""The MLflow model registry: versions, aliases, lineage, references, and every bad input it meets.

A real MLflow store each time (SQLite in a temporary folder, as ``--registry DIR`` creates it).
"""

import sqlite3
import subprocess
import sys
import threading

import numpy as np
import pytest
from conftest import SAMPLES, read_records

from emodet.cli import main
from emodet.errors import ConfigError, RegistryError
from emodet.registry import open_registry, parse_reference
from emodet.registry.store import TAG


@pytest.fixture
def registry(tmp_path):
    """A registry holding the bundled model as version 1, the champion."""
    path = tmp_path / "registry"
    assert main(["registry", "add", "--name", "emodet", "--alias", "champion", "--registry", str(path)]) == 0
    return path


def test_references_parse_and_bad_ones_say_the_forms():
    assert parse_reference("models:/emodet@champion").alias == "champion"
    assert parse_reference("models:/emodet/3").version == "3"
    with pytest.raises(ConfigError, match="models:/NAME@ALIAS"):
        parse_reference("models:/emodet")


def test_the_bundled_model_registers_with_its_lineage_tags(registry):
    from emodet.bundled import bundled_model_path
    from emodet.registry.store import _sha256

    store = open_registry(registry, create=False)
    champion = store.resolve("models:/emodet@champion")
    assert champion.version == "1" and champion.aliases == ("champion",)
    assert champion.tags[TAG + "sha256"] == _sha256(bundled_model_path())
    assert champion.tags[TAG + "classes"].split(",")[0] == "angry"
    path = store.model_path("models:/emodet@champion")  # downloaded once, checked against its SHA-256
    assert path.read_bytes() == bundled_model_path().read_bytes()
    assert (path.parent / "profile.json").is_file()  # the drift check's reference travels with the model


def test_promote_and_rollback_move_the_alias_and_keep_its_history(registry, capsys):
    from emodet.bundled import bundled_model_path

    reg = ["--registry", str(registry)]
    assert main(["registry", "add", str(bundled_model_path()), "--name", "emodet", *reg]) == 0
    assert main(["registry", "promote", "emodet", "2", *reg]) == 0
    assert "version 2 (was version 1)" in capsys.readouterr().out
    assert main(["registry", "list", "emodet", *reg]) == 0
    table = capsys.readouterr().out
    assert "2 champion" in table and "1 -" in table
    assert main(["registry", "rollback", "emodet", *reg]) == 0
    assert open_registry(registry).resolve("models:/emodet@champion").version == "1"
    assert main(["registry", "rollback", "emodet", *reg]) == 2  # nothing older to go back to
    assert "only ever pointed at version 1" in capsys.readouterr().err


@pytest.mark.parametrize("argv, fragment", [
    (["registry", "promote", "emodet", "7"], "has no version 7 (its versions: 1)"),
    (["registry", "promote", "emodet", "1"], "already has the alias 'champion'"),
    (["registry", "list", "emodet", "--registry", "http://127.0.0.1:9"], "cannot be reached"),
    (["info", "models:/emodet@production"], "no version of 'emodet'"),
    (["info", "models:/emodet"], "is not a registry model reference"),
    (["compare", "candidate.keras", "--data", "folder:x", "--promote"], "needs the candidate as a registry reference"),
])
def test_bad_registry_input_is_one_line(registry, argv, fragment, capsys):
    if "--registry" not in argv:
        argv = [*argv, "--registry", str(registry)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and fragment in err


def test_a_reference_without_a_registry_says_how_to_name_one(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("EMODET_REGISTRY", raising=False)
    assert main(["detect", str(SAMPLES / "astronaut.jpg"), "--model", "models:/emodet@champion"]) == 2
    assert "--registry DIR" in capsys.readouterr().err
    assert main(["registry", "list", "emodet", "--registry", str(tmp_path / "none")]) == 2
    assert "there is no registry at" in capsys.readouterr().err


def test_a_locked_registry_is_reported_and_left_unchanged(registry, capsys):
    from emodet.bundled import bundled_model_path

    assert main(["registry", "add", str(bundled_model_path()), "--name", "emodet", "--registry", str(registry)]) == 0
    locker = sqlite3.connect(registry / "mlflow.db", isolation_level=None, check_same_thread=False)
    locker.execute("BEGIN EXCLUSIVE")  # another process in the middle of writing
    released = threading.Timer(30, locker.rollback)
    released.start()
    try:
        assert main(["registry", "promote", "emodet", "2", "--registry", str(registry)]) == 2
    finally:
        released.cancel()
        locker.rollback()
        locker.close()
    assert "locked by another process" in capsys.readouterr().err
    assert open_registry(registry).resolve("models:/emodet@champion").version == "1"


def test_a_model_with_other_classes_cannot_take_the_champion_alias(registry, tmp_path):
    from emodet.labels import FERPLUS8
    from emodet.models.classifier import build_model

    other = tmp_path / "ferplus.keras"
    build_model("small_cnn", FERPLUS8, image_size=48, weights=None).save(other)
    store = open_registry(registry)
    version = store.register(store.log_model_file(other), "emodet")
    with pytest.raises(RegistryError, match="contempt"):
        store.promote("emodet", version.version)
    assert store.resolve("models:/emodet@champion").version == "1"


def test_detect_and_the_python_api_load_a_version_by_reference(registry, tmp_path):
    from emodet import EmotionDetector

    sample = str(SAMPLES / "astronaut.jpg")
    out = tmp_path / "out.jsonl"
    assert main(["detect", sample, "--model", "models:/emodet@champion", "--registry", str(registry),
                 "--jsonl", str(out), "--quiet"]) == 0
    faces = read_records(out)[0]["faces"]
    by_reference = EmotionDetector("models:/emodet/1", registry=str(registry))(sample).faces
    bundled = EmotionDetector()(sample).faces
    assert len(faces) == len(bundled) == 1
    assert np.allclose(by_reference[0].probs, bundled[0].probs, atol=1e-5)
    assert faces[0]["label"] == bundled[0].label


def test_the_plain_detect_path_never_imports_mlflow():
    code = ("import sys; from emodet.cli import main; "
            f"rc = main(['detect', {str(SAMPLES / 'astronaut.jpg')!r}, '--quiet']); "
            "assert rc == 0; assert 'mlflow' not in sys.modules, 'mlflow imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.fixture
def mlflow_server(tmp_path):
    """A real `mlflow server` on 127.0.0.1 (tracking, registry and artifact proxy over HTTP): its URI."""
    import os
    import socket
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                               "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
                               "--artifacts-destination", str(tmp_path / "server-artifacts"), "--workers", "1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ},
                              start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.5)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, 15)
        server.wait(30)


def test_a_team_mlflow_server_works_like_a_folder(mlflow_server):
    uri = mlflow_server
    assert main(["registry", "add", "--name", "emodet", "--alias", "champion", "--registry", uri]) == 0
    store = open_registry(uri)
    path = store.model_path("models:/emodet@champion")  # downloaded through the server
    from emodet.bundled import bundled_model_path

    assert path.read_bytes() == bundled_model_path().read_bytes()
    assert store.resolve("models:/emodet/1").aliases == ("champion",)


@pytest.mark.parametrize("where", ["folder", "server"])
def test_promotions_at_the_same_time_are_none_of_them_lost(where, tmp_path, request):
    """Three `emodet registry promote` processes at once (versions 2, 3, 4): each one that says it
    moved the alias is in the alias history, in the order they happened, the champion is the last of
    them, and any that did not move it said so (status 2, one line). Against one SQLite registry
    folder and against an `mlflow server`."""
    from emodet.bundled import bundled_model_path

    location = str(tmp_path / "registry") if where == "folder" else request.getfixturevalue("mlflow_server")
    store = open_registry(location)
    for _ in range(4):
        store.register(store.log_model_file(bundled_model_path()), "emodet")
    store.promote("emodet", "1")
    commands = [[sys.executable, "-m", "emodet.cli", "registry", "promote", "emodet", str(v), "--registry", location]
                for v in (2, 3, 4)]
    runs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    results = [(run.wait(300), *run.communicate()) for run in runs]
    moved = [str(v) for v, (code, out, err) in zip((2, 3, 4), results) if code == 0]
    for code, _, err in results:
        assert code in (0, 2) and "Traceback" not in err, err
        assert code == 0 or len(err.strip().splitlines()) == 1
    history = store._alias_history("emodet", "champion")
    assert history[0] == "1" and sorted(history[1:]) == sorted(moved) and len(moved) >= 1
    assert store.alias_version("emodet").version == history[-1]
    assert not [m for m in store.client.search_registered_models() if m.name.startswith("emodet-lock.")]


def test_a_refused_add_leaves_nothing_behind(tmp_path, capsys):
    path = tmp_path / "registry"
    assert main(["registry", "add", "--name", "bad/name with spaces", "--registry", str(path)]) == 2
    assert "cannot name a registered model" in capsys.readouterr().err
    assert not (path / "mlflow.db").exists() and not list(path.rglob("*.keras"))
