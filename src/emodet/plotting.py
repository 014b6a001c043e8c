"""What every figure of emodet's pages shares: rendering without a display."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def png_bytes(fig: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, rendered with the Agg canvas (no display needed).

    The "Software" metadata is dropped so the file carries no URL.
    """
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)  # attaches itself to the figure
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()
