"""One InferenceSettings reaches every way detection runs: the Python API, the detect and serve
verbs, the server's worker threads and the Ray actors (built here without a Ray cluster)."""

import dataclasses

import numpy as np
import pytest
from conftest import SAMPLES, load_sample

from emodet import EmotionDetector
from emodet.cli import build_parser
from emodet.cli.common import inference_settings
from emodet.errors import ConfigError
from emodet.inference.settings import DEFAULT_MAX_SIDE, DEFAULT_SMOOTHING, InferenceSettings

CHANGED = InferenceSettings(max_side=None, smoothing=0.25, tta="flip", alignment="box", margin=0.1)


def test_defaults_in_one_place_and_bad_values_refused():
    default = InferenceSettings()
    assert (default.detector, default.max_side, default.smoothing, default.tta) == ("yunet", DEFAULT_MAX_SIDE,
                                                                                   DEFAULT_SMOOTHING, None)
    for bad in ({"smoothing": 1.0}, {"max_side": 10}, {"tracked_side": 32}, {"alignment": "eyes"}, {"tta": "rotate"}):
        with pytest.raises(ConfigError):
            InferenceSettings(**bad)


def test_the_python_api_takes_settings_and_keywords():
    detector = EmotionDetector(settings=CHANGED)
    assert detector.settings == CHANGED and detector.face_detector.max_side is None
    changed = EmotionDetector(settings=CHANGED, smoothing=0.5, tta=False)
    assert changed.settings == dataclasses.replace(CHANGED, smoothing=0.5, tta=None)
    assert EmotionDetector(detector_options={"max_side": 320}).face_detector.max_side == 320


@pytest.mark.parametrize("verb", [["detect", "photo.jpg"], ["serve"]])
def test_detect_and_serve_read_the_same_options(verb):
    args = build_parser().parse_args([*verb, "--max-side", "0", "--smoothing", "0.25", "--tta"])
    assert inference_settings(args) == dataclasses.replace(CHANGED, alignment="template", margin=0.0)
    bad = build_parser().parse_args([*verb, "--smoothing", "1.5"])
    with pytest.raises(ConfigError, match="--smoothing must be in"):
        inference_settings(bad)
    assert inference_settings(build_parser().parse_args([*verb, "--tracked-side", "0"])).tracked_side is None
    assert inference_settings(build_parser().parse_args([*verb, "--tracked-side", "480"])).tracked_side == 480
    with pytest.raises(ConfigError, match="--tracked-side must be 0"):
        inference_settings(build_parser().parse_args([*verb, "--tracked-side", "20"]))


def test_the_settings_change_what_the_pipeline_computes():
    """Flip TTA and box alignment give other probabilities than the defaults on a real face."""
    photo = load_sample("astronaut.jpg")
    plain = EmotionDetector()(photo).faces[0].probs
    changed = EmotionDetector(settings=CHANGED)(photo).faces[0].probs
    assert not np.allclose(plain, changed, atol=1e-4)


def test_the_server_threads_run_the_settings():
    from emodet.serving.engine import Engine
    from emodet.serving.settings import ServeSettings

    engine = Engine(ServeSettings(inference=CHANGED))
    engine.load()
    try:
        result, _, timings = engine.analyse((SAMPLES / "astronaut.jpg").read_bytes())
        expected = EmotionDetector(settings=CHANGED)(load_sample("astronaut.jpg")).faces[0].probs
        assert np.allclose(result.faces[0].probs, expected, atol=1e-5)
        assert set(timings) == {"decode_ms", "detect_ms", "classify_ms", "total_ms"}
        assert engine.new_tracker().smoothing == CHANGED.smoothing
    finally:
        engine.close()


def test_the_ray_actors_run_the_settings():
    from emodet.inference.ray_engine import DetectActor

    actor = DetectActor(None, CHANGED, stride=1)
    assert actor.detector.settings == CHANGED and actor.detector.face_detector.max_side is None
