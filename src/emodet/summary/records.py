"""Reading the records of detection runs as a stream, noting what is wrong instead of failing.

A run's records are JSON Lines: a ``--jsonl`` journal of ``emodet detect``, or the ``part-NNNNN.jsonl``
shards a Ray run writes into its ``--output-dir``. :class:`RecordReader` takes any number of files
and folders, yields one record (a dict) at a time, so that millions of them never sit in memory
together, and collects what a reader of the report must know: a cut last line, a line that is not
a record, a shard missing from a folder's numbering, records written by another emodet version or
with no run header at all. Only inputs that cannot be read at all (a path that does not exist, a
folder without shards) raise :class:`~emodet.errors.EmodetError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from emodet.errors import EmodetError
from emodet.inference.sinks import RUN_KEY

#: The file names of a Ray run's shards inside its output folder.
SHARD_PATTERN = re.compile(r"part-(\d+)\.jsonl$")


class RecordReader:
    """The records of ``paths`` (JSON Lines files, or folders of ``part-NNNNN.jsonl`` shards), in order.

    After iterating, :attr:`headers` holds the run headers met (the model, classes and settings of
    each run or resumed part), :attr:`problems` one sentence per thing found wrong, and
    :attr:`files` the files read.
    """

    def __init__(self, paths: Sequence[str | Path]):
        if not paths:
            raise EmodetError("no records given: name a --jsonl file of emodet detect or a Ray --output-dir")
        self.problems: list[str] = []
        self.files = [f for path in paths for f in self._files(Path(path))]
        self.headers: list[dict] = []
        self.records = 0
        self._loads = _json_parser()

    def __iter__(self) -> Iterator[dict]:
        for path in self.files:
            yield from self._read(path)
        self._check_versions()

    def _files(self, path: Path) -> list[Path]:
        if path.is_file():
            return [path]
        if not path.is_dir():
            raise EmodetError(f"records {path} do not exist: give the --jsonl file of an emodet detect run, "
                              "or the --output-dir of a Ray run")
        shards = sorted((int(m.group(1)), p) for p in path.iterdir() if (m := SHARD_PATTERN.match(p.name)))
        if not shards:
            raise EmodetError(f"folder {path} holds no part-NNNNN.jsonl shards: give the --output-dir of an "
                              "emodet detect --engine ray run, or a --jsonl file")
        missing = sorted(set(range(shards[-1][0] + 1)) - {number for number, _ in shards})
        if missing:
            names = ", ".join(f"part-{n:05d}.jsonl" for n in missing[:5]) + (" ..." if len(missing) > 5 else "")
            self.problems.append(f"{path}: {len(missing)} shard(s) missing ({names}): their records are not "
                                 "in this summary; copy them back, or rerun the Ray job to redo their inputs")
        return [p for _, p in shards]

    def _read(self, path: Path) -> Iterator[dict]:
        bad = 0
        try:
            with open(path, "rb") as file:
                for line in file:
                    record = _parse(line, self._loads)
                    if record is None:
                        if line.endswith(b"\n"):
                            bad += bool(line.strip())
                        else:
                            self.problems.append(f"{path}: the last line is cut short (the run was stopped while "
                                                 "writing it): that one record is missing")
                    elif RUN_KEY in record and "source" not in record:
                        self.headers.append(record[RUN_KEY] if isinstance(record[RUN_KEY], dict) else {})
                    elif "source" in record:
                        self.records += 1
                        yield record
                    else:
                        bad += 1
        except OSError as exc:
            self.problems.append(f"{path}: cannot be read ({exc.strerror or exc}): its records are missing")
        if bad:
            self.problems.append(f"{path}: {bad} line(s) are not detection records and were skipped")

    def _check_versions(self) -> None:
        from emodet import __version__

        if self.records and not self.headers:
            self.problems.append("the records carry no run header (written by an emodet older than 0.1.0's "
                                 "detection report): the model and settings that produced them are unknown")
        versions = sorted({str(h.get("emodet_version")) for h in self.headers} - {__version__})
        if versions:
            self.problems.append(f"records written by emodet {', '.join(versions)}, read by emodet {__version__}: "
                                 "fields this version does not know are ignored")


def _parse(line: bytes, loads) -> dict | None:
    try:
        value = loads(line)
    except ValueError:  # json's and orjson's decode errors both are
        return None
    return value if isinstance(value, dict) else None


def _json_parser():
    """orjson's parser when it is installed (the report extra brings it; about twice as fast on records,
    most of the time of a summary), else the standard library's."""
    try:
        import orjson
    except ImportError:
        return json.loads
    return orjson.loads
