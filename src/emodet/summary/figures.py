"""The detection report's figures (matplotlib, no display): timelines, who was on screen when, and how
emotions spread over the faces and photos of a collection. Every figure has a title, labelled axes
with units, and the emotions in their colours (:func:`emodet.labels.class_rgb`)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from emodet.labels import class_rgb
from emodet.summary.model import PhotoSummary, Track, VideoSummary
from emodet.summary.series import resample

#: Points a timeline draws at most (longer series are averaged into this many time bins).
TIMELINE_POINTS = 600
#: Tracks drawn in a video's "who was on screen" chart at most (the longest ones).
CHART_TRACKS = 30


def color(name: str) -> tuple[float, float, float]:
    """The colour of an emotion as matplotlib takes it."""
    return tuple(c / 255 for c in class_rgb(name))


def track_timeline(track: Track, class_names) -> Figure:
    """The track's probabilities over the video's time, with the dominant emotion as a band above."""
    times, probs = resample(track.times, track.probs, TIMELINE_POINTS)
    fig = Figure(figsize=(8, 2.6))
    ax = fig.add_subplot()
    for k, name in enumerate(class_names):
        ax.plot(times, probs[:, k], color=color(name), linewidth=1.3, label=name)
    _band(ax, times, probs.argmax(axis=1), class_names, y=1.04, height=0.1, step=track.step)
    ax.set_xlim(track.start, max(track.end, track.start + 1e-3))
    ax.set_ylim(0, 1.16)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_xlabel("time in the video (s)")
    ax.set_ylabel("probability")
    ax.set_title(f"Person #{track.track_id}: emotion probabilities over time (band: the dominant one)", fontsize=10)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def on_screen(video: VideoSummary, class_names) -> Figure:
    """One row per tracked person: when they were on screen, coloured by their dominant emotion."""
    tracks = sorted(video.tracks, key=lambda t: -t.duration)[:CHART_TRACKS]
    tracks.sort(key=lambda t: t.start)
    rows = [(f"#{t.track_id}", t) for t in tracks] + ([("others", None)] if video.others else [])
    fig = Figure(figsize=(8, 0.9 + 0.32 * max(len(rows), 1)))
    ax = fig.add_subplot()
    for row, (_, track) in enumerate(rows):
        for item in ([track] if track is not None else video.others):
            times, probs = resample(item.times, item.probs, TIMELINE_POINTS)
            _band(ax, times, probs.argmax(axis=1), class_names, y=row - 0.35, height=0.7, step=item.step)
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_ylim(len(rows) - 0.5, -0.5)
    start = float(video.times[0]) if len(video.times) else 0.0
    ax.set_xlim(start, max(float(video.times[-1] + video.step) if len(video.times) else 0.0, start + 0.1))
    ax.set_xlabel("time in the video (s)")
    ax.set_ylabel("person (track)")
    ax.set_title("Who was on screen when, coloured by the dominant emotion", fontsize=10)
    _legend(ax, class_names)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def video_emotions(video: VideoSummary, class_names) -> Figure:
    """The whole video's emotion over time: the mean probabilities of the faces on screen, stacked."""
    seen = ~np.isnan(video.mean_probs[:, 0]) if len(video.times) else np.zeros(0, bool)
    times, probs = resample(video.times[seen], video.mean_probs[seen], TIMELINE_POINTS)
    fig = Figure(figsize=(8, 2.6))
    ax = fig.add_subplot()
    if len(times):
        ax.stackplot(times, probs.T, colors=[color(name) for name in class_names], labels=class_names,
                     step="mid" if len(times) < 3 else None)
        ax.set_xlim(times[0], times[-1] if len(times) > 1 else times[0] + 1)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    else:
        ax.text(0.5, 0.5, "no face on screen", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time in the video (s)")
    ax.set_ylabel("mean probability")
    ax.set_title("The whole video: the mean emotion of the faces on screen over time", fontsize=10)
    fig.tight_layout()
    return fig


def photo_distribution(photos: PhotoSummary, class_names) -> Figure:
    """How emotions spread over the faces (counts) and over the photos (share showing each)."""
    fig = Figure(figsize=(8, 2.8))
    left, right = fig.subplots(1, 2)
    colors = [color(name) for name in class_names]
    faces = [photos.faces_per_class.get(name, 0) for name in class_names]
    with_faces = max(photos.photos - photos.no_face_count, 1)
    shares = [100 * photos.photos_per_class.get(name, 0) / with_faces for name in class_names]
    left.bar(class_names, faces, color=colors)
    left.set_ylabel("faces")
    left.set_title(f"Faces by emotion ({photos.faces} faces)", fontsize=10)
    right.bar(class_names, shares, color=colors)
    right.set_ylabel("photos with a face (%)")
    right.set_ylim(0, 100)
    right.set_title("Photos showing each emotion (at least one face)", fontsize=10)
    for ax in (left, right):
        ax.set_xlabel("emotion")
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _band(ax, times, labels, class_names, *, y: float, height: float, step: float) -> None:
    """Runs of the same dominant class along ``times`` as coloured bars from y to y + height."""
    if not len(times):
        return
    width = np.diff(times, append=times[-1] + max(step, 1e-3))
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    for first, stop in zip(starts, ends):
        span = float(times[stop - 1] + width[stop - 1] - times[first])
        ax.broken_barh([(float(times[first]), span)], (y, height), color=color(class_names[labels[first]]))


def _legend(ax, class_names) -> None:
    ax.legend(handles=[Patch(color=color(name), label=name) for name in class_names], loc="center left",
              bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
