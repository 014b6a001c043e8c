"""The service's JSON, declared so that FastAPI documents it at /docs and checks what it sends."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Emotion(BaseModel):
    label: str
    probability: float


class Face(BaseModel):
    box: list[float] = Field(description="x, y, width, height in pixels of the image")
    detection_score: float = Field(description="the face detector's confidence")
    label: str = Field(description="the most probable emotion")
    score: float = Field(description="its probability")
    probs: dict[str, float] = Field(description="every class's probability (smoothed on the stream)")
    top: list[Emotion] = Field(description="the top_k most probable emotions")
    landmarks: list[list[float]] | None = Field(None, description="eyes, nose, mouth corners (x, y)")
    track_id: int | None = Field(None, description="stable across frames of one stream connection")


class Timings(BaseModel):
    decode_ms: float
    detect_ms: float
    classify_ms: float
    total_ms: float


class DetectResponse(BaseModel):
    width: int
    height: int
    faces: list[Face]
    timings: Timings
    annotated_image: str | None = Field(None, description="with annotate=true: a PNG, base64-encoded")


class StreamResponse(DetectResponse):
    frame: int = Field(description="how many frames this connection has received")
    dropped: int = Field(description="frames replaced by a newer one before they were processed")


class ModelInfo(BaseModel):
    class_names: list[str]
    input_size: int = Field(description="side of the square face crops the classifier takes")
    color_mode: str
    model: str = Field(description="the model file, or 'bundled'")
    version: str | None = Field(None, description="the bundled model's name, or a registry version when known")
    detector: str
    emodet_version: str
    batching: bool
    class_colors: dict[str, str] = Field(default_factory=dict,
                                         description="a #rrggbb colour per class, as the page and reports draw it")


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong and what to do")
