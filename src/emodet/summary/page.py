"""The detection report: one self-contained HTML file (figures and thumbnails embedded, CSS inline,
no script, no network), readable on a phone, that says what the faces of a run showed.

Videos and streams get, per tracked person, a thumbnail, when they were on screen, the share of
time in each emotion and a timeline of the probabilities; the whole video gets who-was-on-screen
and the mean emotion over time. Photo collections get the distribution over faces and photos, a
gallery by emotion, the least confident faces, the photos without a face. Failed inputs are
listed with their reasons, and the head of the page says which model, detector, settings and
emodet version produced the records, and what was wrong with them.
"""

from __future__ import annotations

import base64
import html
import time
from pathlib import Path

import numpy as np

from emodet.labels import class_color
from emodet.summary import figures
from emodet.summary.builder import MIN_TRACK_SECONDS
from emodet.summary.model import DetectionSummary, FaceRef, Track, VideoSummary

#: Timelines drawn per video at most (the longest tracks); the others are in its table.
TIMELINES_PER_VIDEO = 12
#: Resolution of the embedded figures.
DPI = 90


def write_report(summary: DetectionSummary, path: str | Path, title: str | None = None) -> Path:
    """Write ``summary`` as the HTML report at ``path`` (atomically) and return the path."""
    path = Path(path)
    text = render(summary, title or f"What the faces showed: {_inputs_title(summary)}")
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    return path


def render(summary: DetectionSummary, title: str) -> str:
    """The whole HTML document."""
    from emodet import __version__

    sections = [_about(summary)] + [_video(v, summary.class_names, n) for n, v in enumerate(summary.videos, 1)]
    if summary.photos.photos:
        sections.append(_photos(summary))
    if summary.failure_count:
        sections.append(_failures(summary))
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_e(title)}</title>\n'
            f"<style>{_CSS}</style>\n</head>\n<body>\n<header><h1>{_e(title)}</h1>\n"
            f'<p class="meta">written {stamp} by emodet {_e(__version__)}</p></header>\n<main>\n'
            + "\n".join(sections) + "\n</main>\n</body>\n</html>\n")


def _inputs_title(summary: DetectionSummary) -> str:
    names = [Path(v.source).name for v in summary.videos]
    parts = names[:2] + ([f"{len(names) - 2} more videos"] if len(names) > 2 else [])
    if summary.photos.photos:
        parts.append(f"{summary.photos.photos} photos")
    return ", ".join(parts) or "no results"


def _about(summary: DetectionSummary) -> str:
    tracked = sum(len(v.tracks) for v in summary.videos)
    rows = [("inputs", f"{len(summary.videos)} video(s) or stream(s) with {tracked} person track(s); "
                       f"{summary.photos.photos} photo(s) with {summary.photos.faces} face(s); "
                       f"{summary.failure_count} failed"),
            ("classes", ", ".join(summary.class_names))]
    for number, header in enumerate(summary.headers[:5], 1):
        label = "produced by" if len(summary.headers) == 1 else f"run part {number}"
        rows.append((label, _header_text(header)))
    if len(summary.headers) > 5:
        rows.append(("", f"... and {len(summary.headers) - 5} more resumed parts"))
    body = _kv(rows)
    problems = summary.problems + summary.notes
    if not summary.headers:
        problems = problems or ["no run header: the model and settings that produced these records are unknown"]
    if problems:
        body += '<div class="problems"><b>Read with care:</b><ul>' + "".join(f"<li>{_e(p)}</li>" for p in problems) \
            + "</ul></div>"
    if not summary.videos and not summary.photos.photos and not summary.failure_count:
        body += '<p class="problems">The records hold no results: nothing was detected, or the run ' \
                "stopped before its first input finished.</p>"
    return _section("about", "About these results", body)


def _header_text(header: dict) -> str:
    settings = header.get("settings") or {}
    model = header.get("model", "unknown")
    if header.get("model_version"):
        model += f" (model version {header['model_version']})"
    parts = [f"model {model}", f"detector {settings.get('detector', 'unknown')}",
             ", ".join(f"{k} {v}" for k, v in settings.items() if k != "detector" and v not in (None, {}, ())),
             f"stride {header.get('stride', 1)}", f"engine {header.get('engine', 'local')}",
             f"emodet {header.get('emodet_version', 'unknown')}", f"started {header.get('started', 'unknown')}"]
    return "; ".join(p for p in parts if p)


def _video(video: VideoSummary, class_names, number: int) -> str:
    anchor = f"video-{number}"
    if not video.analysed_frames:
        return _section(anchor, video.source, "<p>No frame of this video was analysed (it failed or held no frames; "
                                              "see the failed inputs).</p>")
    faced = int(np.sum(video.faces > 0))
    facts = (f"{_duration(video.duration)} analysed, {video.analysed_frames} frames "
             f"(one every {video.step:.2f} s), {video.width}x{video.height}; a face in {faced} frames "
             f"({100 * faced / video.analysed_frames:.0f}%); {len(video.tracks)} person track(s) of at least "
             f"{MIN_TRACK_SECONDS:g} s" + (f", {len(video.others)} shorter ones folded into 'others' "
                                     f"({sum(t.duration for t in video.others):.1f} s in all)" if video.others else "")
             + ("" if video.completed is not None else "; the run did not finish this video"))
    body = f"<p>{_e(facts)}</p>"
    if video.tracks or video.others:
        body += _figure(figures.on_screen(video, class_names), "who was on screen when")
    body += _figure(figures.video_emotions(video, class_names), "the whole video's emotion over time")
    if video.tracks:
        body += _track_table(video.tracks, class_names)
        drawn = sorted(video.tracks, key=lambda t: -t.duration)[:TIMELINES_PER_VIDEO]
        for track in sorted(drawn, key=lambda t: t.start):
            body += _figure(figures.track_timeline(track, class_names), f"person #{track.track_id}'s timeline")
        if len(video.tracks) > len(drawn):
            body += f"<p>Timelines of the {len(drawn)} longest tracks are drawn; the others are in the table.</p>"
    return _section(anchor, f"Video: {video.source}", body)


def _track_table(tracks: list[Track], class_names) -> str:
    rows = []
    for track in tracks:
        shares = track.shares
        bar = "".join(f'<span style="width:{100 * shares[n]:.1f}%;background:{class_color(n)}" title="{n} '
                      f'{100 * shares[n]:.0f}%"></span>' for n in class_names if shares[n] > 0)
        top = ", ".join(f"{n} {100 * s:.0f}%" for n, s in sorted(shares.items(), key=lambda i: -i[1])[:3] if s > 0)
        rows.append(f"<tr><td>{_thumbnail(track.best)}</td><td>#{_e(track.track_id)}</td>"
                    f'<td class="num">{track.start:.1f}-{track.end:.1f} s<br>({_duration(track.duration)})</td>'
                    f"<td><b>{_e(track.label)}</b></td><td>"
                    f'<div class="shares">{bar}</div><small>{_e(top)}</small></td></tr>')
    return ('<div class="scroll"><table><tr><th>clearest face</th><th>person</th><th>on screen</th>'
            "<th>mostly</th><th>share of time in each emotion</th></tr>" + "".join(rows) + "</table></div>")


def _photos(summary: DetectionSummary) -> str:
    photos = summary.photos
    body = (f"<p>{photos.photos} photo(s), {photos.faces} face(s); {photos.no_face_count} photo(s) without a "
            "face.</p>" + _figure(figures.photo_distribution(photos, summary.class_names),
                                  "emotions over faces and photos"))
    body += "<h3>Gallery: the most confident faces of each emotion</h3>"
    for name in summary.class_names:
        refs = photos.gallery.get(name) or []
        if refs:
            body += (f'<h4><span class="dot" style="background:{class_color(name)}"></span>{_e(name)} '
                     f"({photos.faces_per_class.get(name, 0)} faces)</h4>" + _gallery(refs))
    if photos.least_confident:
        body += "<h3>The least confident faces: worth a second look</h3>" + _gallery(photos.least_confident, top=2)
    if photos.no_face_count:
        listed = "".join(f"<li>{_e(s)}</li>" for s in photos.no_face)
        more = photos.no_face_count - len(photos.no_face)
        body += (f"<h3>Photos with no face ({photos.no_face_count})</h3><ul class='names'>{listed}</ul>"
                 + (f"<p>... and {more} more (all are in the records).</p>" if more else ""))
    return _section("photos", "Photos", body)


def _gallery(refs: list[FaceRef], top: int = 1) -> str:
    cells = []
    for ref in refs:
        caption = ", ".join(f"{n} {100 * p:.0f}%" for n, p in ref.top(top))
        cells.append(f'<figure class="face">{_thumbnail(ref)}<figcaption>{_e(caption)}<br>'
                     f'<small>{_e(Path(ref.source).name)}</small></figcaption></figure>')
    return '<div class="gallery">' + "".join(cells) + "</div>"


def _failures(summary: DetectionSummary) -> str:
    rows = "".join(f"<tr><td>{_e(source)}</td><td>{_e(reason)}</td></tr>" for source, reason in summary.failures)
    more = summary.failure_count - len(summary.failures)
    return _section("failed", f"Failed inputs ({summary.failure_count})",
                    f'<div class="scroll"><table><tr><th>input</th><th>reason</th></tr>{rows}</table></div>'
                    + (f"<p>... and {more} more (all are in the records).</p>" if more else ""))


def _thumbnail(ref: FaceRef | None) -> str:
    if ref is None or ref.thumbnail is None:
        return '<span class="nothumb">no picture</span>'
    import cv2

    ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(ref.thumbnail[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 85])
    data = base64.b64encode(jpeg.tobytes()).decode("ascii")
    return f'<img class="thumb" src="data:image/jpeg;base64,{data}" alt="{_e(ref.label)} face">'


def _figure(fig, caption: str) -> str:
    from emodet.plotting import png_bytes

    data = base64.b64encode(png_bytes(fig, DPI)).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{_e(caption)}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{_e(anchor)}">\n<h2>{_e(title)}</h2>\n{body}\n</section>'


def _kv(rows) -> str:
    return '<table class="kv">' + "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows) + "</table>"


def _duration(seconds: float) -> str:
    minutes, rest = divmod(max(seconds, 0.0), 60)
    return f"{int(minutes)} min {rest:.0f} s" if minutes else f"{rest:.1f} s"


def _e(text) -> str:
    return html.escape(str(text))


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; margin: 0; color: #1d1d1f;
       background: #f6f7f9; line-height: 1.45; }
header { background: #22304a; color: #fff; padding: 14px 20px 8px; }
header h1 { margin: 0 0 4px; font-size: 1.3em; font-weight: 600; overflow-wrap: anywhere; }
header .meta { margin: 0 0 6px; color: #c9d3e6; font-size: 0.85em; }
main { max-width: 1100px; margin: 0 auto; padding: 4px 12px 32px; }
section { background: #fff; border: 1px solid #e1e4ea; border-radius: 8px; margin: 14px 0; padding: 4px 16px 14px; }
h2 { font-size: 1.15em; border-bottom: 1px solid #e1e4ea; padding-bottom: 6px; overflow-wrap: anywhere; }
h3 { font-size: 1.0em; margin-top: 18px; } h4 { margin: 12px 0 4px; font-size: 0.95em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 6px 0 12px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eceef2; text-align: left; vertical-align: middle; }
table.kv th { color: #4a5568; font-weight: 500; white-space: nowrap; vertical-align: top; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.scroll { overflow-x: auto; }
figure { margin: 10px 0; } figure img { max-width: 100%; height: auto; }
figcaption { color: #556; font-size: 0.85em; }
img.thumb { width: 72px; height: auto; border-radius: 4px; display: block; }
.nothumb { color: #99a; font-size: 0.8em; }
.shares { display: flex; width: 220px; max-width: 40vw; height: 12px; border-radius: 3px; overflow: hidden;
          background: #eee; }
.shares span { display: block; height: 100%; }
.gallery { display: flex; flex-wrap: wrap; gap: 8px; }
figure.face { margin: 0; width: 96px; font-size: 0.78em; overflow-wrap: anywhere; }
figure.face img.thumb { width: 96px; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 6px; }
.problems { background: #fff6e5; border: 1px solid #f0c36d; border-radius: 6px; padding: 6px 12px; }
ul.names { columns: 2 240px; font-size: 0.85em; overflow-wrap: anywhere; }
"""
