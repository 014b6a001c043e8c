"""The detection report of a run in progress (``emodet detect --report``): each record is summarised
as the run writes it, with the image it came from at hand, so the thumbnails are cut without reading
any input twice, and the report is written when the run ends, interrupted or not."""

from __future__ import annotations

from pathlib import Path

from emodet.summary.builder import SummaryBuilder


class RunReport:
    """Give it every record of the run (:meth:`add`), and through :meth:`observe` the image of each
    result just before; ``earlier`` are the records of the parts of the run before a resume."""

    def __init__(self, path: Path, class_names, headers: list[dict], earlier=()):
        from emodet.extras import require

        require("report", "--report")  # said before any work is done
        self.path = Path(path)
        self.headers = headers
        self.builder = SummaryBuilder(class_names)
        for record in earlier:
            self.builder.add(record)
        self._seen = None

    def observe(self, record, image) -> None:
        self._seen = (record, image)

    def add(self, record) -> None:
        image = self._seen[1] if self._seen is not None and self._seen[0] is record else None
        self._seen = None
        self.builder.add(record.to_dict(), image)

    def write(self) -> Path:
        """Write the report of every record added; faces of resumed parts get thumbnails from their sources."""
        from emodet.summary import write_report
        from emodet.summary.thumbnails import fill_thumbnails

        summary = self.builder.finish(self.headers)
        fill_thumbnails(summary)
        return write_report(summary, self.path)
