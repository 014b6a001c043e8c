"""Reading frames from video files, webcams and network streams with OpenCV.

:class:`FrameReader` yields RGB frames with their index and timestamp, honours a frame stride,
and records why it stopped (the end of a file, a stream that dropped, too many broken frames)
instead of raising mid-stream, so the frames already processed are never lost.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emodet.errors import ConfigError, MediaError

VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"})
_URL = re.compile(r"^(rtsp|rtmp|http|https|udp|tcp)://", re.IGNORECASE)


def is_url(source: str) -> bool:
    return bool(_URL.match(str(source)))


def is_webcam(source) -> bool:
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


@dataclass
class Frame:
    index: int  # position in the source, counting skipped (strided) frames
    timestamp: float  # seconds from the start
    rgb: np.ndarray


@dataclass
class FrameReader:
    """Iterate over ``source`` (a video path, a webcam index or a URL), every ``stride``-th frame.

    After iteration, ``ended`` says why it stopped: ``"end"`` for the normal end of a file,
    or a message for a stream that dropped or a file whose frames could not be decoded.
    """

    source: str | int
    stride: int = 1
    max_failures: int = 10  # consecutive unreadable frames tolerated before giving up
    # Read only frames start..stop-1 of a file (stop None: to its end), so several workers can
    # share one long video; frame indices (and the stride) still count from the file's start.
    start: int = 0
    stop: int | None = None
    ended: str | None = field(default=None, init=False)
    frames_read: int = field(default=0, init=False)
    fps: float = field(default=0.0, init=False)
    total_frames: int = field(default=0, init=False)

    def __post_init__(self):
        if self.stride < 1:
            raise ConfigError(f"frame stride must be at least 1, got {self.stride}")
        if self.start < 0 or (self.stop is not None and self.stop <= self.start):
            raise ConfigError(f"frame range must satisfy 0 <= start < stop, got {self.start}..{self.stop}")

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        capture, live = self._open()
        fps = self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        total = self.total_frames = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0)
        started = time.monotonic()
        index, failures = self._seek(capture, live), 0
        try:
            while True:
                if self.stop is not None and index >= self.stop:
                    self.ended = "end"
                    return
                if not capture.grab():
                    # The normal end: past the last frame a file (or a video served over HTTP) announced,
                    # or a range that starts past the real end of a file whose frame count was an estimate.
                    past_end = (total > 0 and index >= total - 1) or (not live and total == 0)
                    if past_end or (self.start > 0 and index == self.start):
                        self.ended = "end"
                        return
                    failures += 1
                    if failures >= self.max_failures:
                        self.ended = self._stop_message(live, index, total)
                        return
                    continue
                failures = 0
                if index % self.stride == 0:
                    ok, bgr = capture.retrieve()
                    if ok and bgr is not None:
                        self.frames_read += 1
                        stamp = time.monotonic() - started if live or fps <= 0 else index / fps
                        yield Frame(index, stamp, np.ascontiguousarray(bgr[..., ::-1]))
                index += 1
        finally:
            capture.release()

    def _seek(self, capture, live: bool) -> int:
        """Position a file at frame ``start``; returns the index of the next frame grabbed."""
        import cv2

        if self.start == 0:
            return 0
        if live:
            raise ConfigError(f"a frame range needs a video file, not a live source ({self.source})")
        capture.set(cv2.CAP_PROP_POS_FRAMES, self.start)
        return self.start

    def _open(self):
        import cv2

        live = is_webcam(self.source) or is_url(str(self.source))
        if is_webcam(self.source):
            capture = cv2.VideoCapture(int(self.source))
            what = f"webcam {self.source}"
        else:
            if not live and not Path(self.source).is_file():
                raise MediaError(f"video {self.source} does not exist")
            capture = cv2.VideoCapture(str(self.source))
            what = f"stream {self.source}" if live else f"video {self.source}"
        if not capture.isOpened():
            capture.release()
            hint = ("check the camera index (0 is usually the first camera) and that no other program uses it"
                    if is_webcam(self.source) else
                    "check the URL and that the server is reachable" if live else
                    "it is not a video OpenCV can decode (MP4/H.264, AVI/MJPEG, ...)")
            raise MediaError(f"cannot open {what}: {hint}")
        return capture, live

    def _stop_message(self, live: bool, index: int, total: int) -> str:
        if live:
            return f"stream {self.source} stopped sending frames after frame {index}"
        return f"video {self.source}: frame {index} of {total} could not be decoded; stopped there"


def frame_ranges(path: str, frames_per_range: int, stride: int = 1) -> list[tuple[int, int | None]]:
    """``path``'s frames cut into ranges of about ``frames_per_range`` frames, ``(start, stop)`` each
    (the last open-ended, in case the file's frame count is short), so several workers can share
    one long video. Each range starts on a strided frame. A file whose container gives no frame
    count, or that cannot be opened, is one range (its error then comes from reading it)."""
    import cv2

    if frames_per_range < 1:
        raise ConfigError(f"frames per range must be at least 1, got {frames_per_range}")
    capture = cv2.VideoCapture(str(path)) if Path(path).is_file() else None
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if capture is not None and capture.isOpened() else 0
    if capture is not None:
        capture.release()
    span = -(-frames_per_range // stride) * stride
    count = max(1, -(-total // span))
    return [(k * span, (k + 1) * span if k < count - 1 else None) for k in range(count)]
