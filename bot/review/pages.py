"""What the review pages share: the Jinja2 templates, the page header, and the facts about a
table that both the report and the comparison show.

Every page is rendered from ``templates/`` (``base.html`` is the frame: the stylesheet, the
Content-Security-Policy, the header and the footer) with autoescaping on, so every value a
template prints is HTML-escaped unless it is :class:`~markupsafe.Markup`. Only two kinds of
value are Markup: the charts' SVG (drawn by :mod:`bot.review.charts`, which escapes every
text it writes) and the debrief questions (:func:`bot.review.markdown.markdown_to_html`,
built from escaped parts).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from bot.domain.scenario import Scenario

#: How a table ended, in words (by the export's ``outcome.reason``).
CLOSE_REASONS = {
    "walked_away": "a delegation walked away",
    "max_rounds": "the last round ended",
    "package_agreed": "the package was agreed",
    "all_agreed": "every item was agreed",
    "facilitator": "ended by the facilitator",
}


@dataclass(frozen=True, slots=True)
class PageHeader:
    """The dark band at the top of a page: what the page is, its title, and key facts."""

    kicker: str
    title: str
    subtitle: str
    #: (term, description) pairs.
    facts: Sequence[tuple[str, str]]


@cache
def environment() -> Environment:
    """The review pages' Jinja2 environment: templates from the package, autoescaped,
    and an undefined name is an error rather than an empty string."""
    return Environment(
        loader=PackageLoader("bot.review", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_page(template: str, **context: Any) -> str:
    """Render one of ``templates/`` with ``context``."""
    return environment().get_template(template).render(**context)


_pause_lock = threading.Lock()
_pauses = 0
_collecting = True


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a page is built and rendered.

    A page of a long table allocates hundreds of thousands of objects (typed events, rows,
    matplotlib artists) while its export, as many again, is alive; each full collection
    walks all of them, and a 10,000-event report set off four, a third of its time. The
    page makes little cyclic garbage (its figures), collected once the pause ends.
    Pauses may overlap (pages rendered in threads): the last one out restores the
    collector as the first one in found it.
    """
    global _pauses, _collecting
    with _pause_lock:
        if _pauses == 0:
            _collecting = gc.isenabled()
            gc.disable()
        _pauses += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pauses -= 1
            if _pauses == 0 and _collecting:
                gc.enable()


# -- facts both pages show ---------------------------------------------------------------------


def when(iso: str | None) -> str:
    """An ISO 8601 UTC time as ``YYYY-MM-DD HH:MM UTC`` (or a dash)."""
    if not iso:
        return "—"
    return f"{iso[:10]} {iso[11:16]} UTC"


def variant_title(scenario: Scenario, variant: str) -> str:
    """The variant's title from the scenario, or its name."""
    found = scenario.variants.get(variant)
    return found.title if found and found.title else variant


def outcome_text(export: dict[str, Any]) -> str:
    """How the table ended, in words."""
    outcome = export["outcome"]
    if outcome["phase"] != "closed":
        return f"not closed ({outcome['phase']})"
    reason = outcome.get("reason") or ""
    return CLOSE_REASONS.get(reason, reason or "closed")


def agreements_count(export: dict[str, Any]) -> int:
    """How many agreements the table reached (undone ones excluded)."""
    return len({a["agreement_seq"] for a in export["outcome"]["agreed"]})
