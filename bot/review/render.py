"""An export in the format asked for: the one place that knows every format.

The text formats live in :mod:`bot.review.export` (JSON, CSV, Markdown) and the HTML
report in :mod:`bot.review.report`, which reads the export; this module sits above both,
so neither imports the other's way back.
"""

from __future__ import annotations

from typing import Any

from bot.review.export import FORMATS, to_csv, to_json, to_markdown
from bot.review.report import read_debrief, render_report


def render(export: dict[str, Any], fmt: str) -> str:
    """An export in one of :data:`~bot.review.export.FORMATS`."""
    if fmt == "html":
        return render_report(export, read_debrief(export))
    if fmt == "json":
        return to_json(export)
    if fmt == "csv":
        return to_csv(export)
    if fmt == "markdown":
        return to_markdown(export)
    raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
