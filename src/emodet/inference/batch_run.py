"""A local batch detection run: inputs through the pipeline into its outputs, resumable, stoppable, tallied.

:class:`BatchRun` is what ``emodet detect`` runs in one process: it opens the outputs asked for
(the journal and the JSON Lines, JSON and CSV files of :mod:`emodet.inference.sinks`, annotated
copies, the detection report), says which inputs an earlier part of the run already finished,
runs :func:`emodet.inference.batch.process` over the rest, writes every record everywhere as it
comes, and closes everything however the run ends. The CLI keeps the arguments, the progress bar
and what is printed; the Ray engine (:mod:`emodet.inference.ray_engine`) shares ``process`` and the
records' format.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from emodet.errors import EmodetError
from emodet.inference.batch import process, run_header
from emodet.inference.sinks import AnnotatedSaver, CsvSink, Journal, JsonSink, Record, journal_path
from emodet.inference.sources import Input


@dataclass
class Tally:
    """What a run did: images, video frames, faces, and the inputs that failed with their reasons."""

    images: int = 0
    frames: int = 0
    faces: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def add(self, record: Record) -> None:
        if record.error:
            self.failures.append((record.source, record.error))
        elif record.result is not None:
            self.faces += len(record.result.faces)
            if record.result.frame_index is None:
                self.images += 1
            else:
                self.frames += 1


@dataclass(frozen=True)
class Resumption:
    """Which inputs a resumed run skips: those an earlier part finished (failed ones too, unless retried)."""

    to_run: list[Input]
    skipped: int
    retried: int  # inputs that failed before and run again
    journal_missing: bool  # resuming from a journal that does not exist: everything runs


class BatchRun:
    """One run of ``detector`` over inputs into the outputs given (any may be ``None``).

    ``resume`` keeps what the journal (``jsonl``, else ``FILE.journal.jsonl`` beside ``json`` or
    ``csv``) records as finished and appends the rest; ``retry_failed`` runs the failed inputs
    again. ``report`` writes the detection report (HTML) when the run ends.
    """

    def __init__(self, detector, *, jsonl: Path | None = None, json: Path | None = None, csv: Path | None = None,
                 save: Path | None = None, report: Path | None = None, stride: int = 1, resume: bool = False,
                 retry_failed: bool = False):
        self.detector = detector
        self.stride = stride
        self.header = run_header(detector.describe(), stride=stride)
        try:
            self._open(jsonl, json, csv, resume, retry_failed)
        except OSError as exc:
            raise EmodetError(f"cannot write the output file {exc.filename or ''}: {exc.strerror or exc}; "
                              "choose a folder that exists and is writable") from None
        self.saver = AnnotatedSaver(save) if save else None
        self.report = self._report(report, resume)

    def _open(self, jsonl, json, csv, resume: bool, retry_failed: bool) -> None:
        path = journal_path(jsonl, json, csv)
        self.journal = Journal(path, resume=resume, retry_failed=retry_failed, header=self.header) if path else None
        self.sinks = ([JsonSink(json, self.journal)] if json else []) + \
            ([CsvSink(csv, self.detector.class_names, self.journal, resume=resume)] if csv else [])

    def _report(self, path: Path | None, resume: bool):
        if path is None:
            return None
        from emodet.inference.sinks import read_headers
        from emodet.summary.collector import RunReport
        from emodet.summary.records import RecordReader

        if resume and self.journal is not None:  # the earlier parts' records, streamed from the journal
            return RunReport(path, self.detector.class_names, read_headers(self.journal.path),
                             RecordReader([self.journal.path]))
        return RunReport(path, self.detector.class_names, [self.header])

    @property
    def earlier_failures(self) -> int:
        """Inputs that failed in an earlier part of the run and were not retried."""
        return 0 if self.journal is None else len(self.journal.failed_before - self.journal.retried)

    def resumption(self, inputs: list[Input]) -> Resumption:
        """The inputs left to run after what the journal records as finished."""
        if self.journal is None or not self.journal.existed:
            return Resumption(list(inputs), 0, 0, journal_missing=self.journal is not None)
        to_run = [i for i in inputs if i.name not in self.journal.done]
        return Resumption(to_run, len(inputs) - len(to_run), sum(i.name in self.journal.retried for i in to_run),
                          journal_missing=False)

    def run(self, inputs: list[Input], *, on_record: Callable[[Record], None] | None = None,
            on_frame: Callable[[], None] | None = None, should_stop: Callable[[], bool] = lambda: False) -> Tally:
        """Detect in every input, writing each record everywhere as it comes; ``should_stop`` is asked
        after each record (a signal arrived): the run then ends there, its outputs whole."""
        tally = Tally()
        try:
            for record in process(self.detector, inputs, stride=self.stride, saver=self.saver, on_frame=on_frame,
                                  observe=self.report.observe if self.report else None):
                self._write(record)
                tally.add(record)
                if on_record is not None:
                    on_record(record)
                if should_stop():
                    break
        finally:
            self.close()
        return tally

    def _write(self, record: Record) -> None:
        if self.journal is not None:
            self.journal.write(record)
        for sink in self.sinks:
            sink.write(record)
        if self.report is not None:
            self.report.add(record)

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
        for sink in self.sinks:
            sink.close()
        if self.saver is not None:
            self.saver.close()

    def write_report(self) -> Path | None:
        """Write the detection report, if one was asked for; its path."""
        return None if self.report is None else self.report.write()
