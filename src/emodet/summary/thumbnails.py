"""Thumbnails the records alone cannot give: cut afterwards from the sources that are still there.

``emodet detect --report`` cuts its thumbnails while it has each image (no input is read twice);
``emodet summarize`` has only the records, so it reads back the few images and video frames its
report shows (one per track, the gallery's faces), when their files are still where the records say.
"""

from __future__ import annotations

from collections import defaultdict

from emodet.errors import EmodetError
from emodet.summary.model import DetectionSummary, FaceRef, crop_thumbnail

#: Inputs read back at most for thumbnails (a summary of a huge run shows a bounded number of faces).
MAX_SOURCES = 300


def fill_thumbnails(summary: DetectionSummary) -> None:
    """Cut the missing thumbnails of ``summary`` from their sources; note in the summary what could not be."""
    from emodet.inference.remote import is_remote

    missing = defaultdict(list)
    for ref in summary.faces():
        if ref.thumbnail is None:
            missing[ref.source].append(ref)
    unread = []
    for number, (source, refs) in enumerate(missing.items()):
        if number >= MAX_SOURCES or is_remote(source) or not _cut(source, refs):
            unread.append(source)
    if unread:
        summary.notes.append(f"{len(unread)} input(s) could not be read back for thumbnails (moved, deleted, "
                             f"remote or beyond the first {MAX_SOURCES}), e.g. {unread[0]}: their faces show "
                             "without a picture; emodet detect --report cuts them during the run")


def _cut(source: str, refs: list[FaceRef]) -> bool:
    try:
        if refs[0].frame is None:
            from emodet.imageio import read_image

            image = read_image(source)
            for ref in refs:
                ref.thumbnail = crop_thumbnail(image, ref.box)
        else:
            _cut_frames(source, refs)
    except (EmodetError, OSError):
        return False
    return all(ref.thumbnail is not None for ref in refs)


def _cut_frames(source: str, refs: list[FaceRef]) -> None:
    from emodet.inference.video import FrameReader

    for ref in sorted(refs, key=lambda r: r.frame):
        for frame in FrameReader(source, start=ref.frame, stop=ref.frame + 1):
            ref.thumbnail = crop_thumbnail(frame.rgb, ref.box)
