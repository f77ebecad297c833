"""Real logs for the review tests: tables played through the engine into a temporary log.

Each table is a ``parley play`` script run by :func:`bot.cli.play_lines` (the demo table
of the Hanoi scenario under the Singapore rule, a package table, an action-for-action
table full of hostile text, and a table left open), then read back with
:func:`bot.review.export.build_export`. The engine's own view of each table (a replay of
the stored events) is kept beside the export, so the tests can check the pages against
the log and not only against the export.
"""

from __future__ import annotations

import asyncio
import io
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from bot import paths
from bot.cli import play_lines
from bot.domain.events import Event
from bot.domain.state import Replay, TableState
from bot.review.export import build_export
from bot.store import Store

DEMO_SCRIPT = paths.PROMPTS_DIR / "hanoi-2019" / "demo.play"

PACKAGE_SCRIPT = """\
instructor: session open scenario=hanoi-2019 sequencing=package title="Seminar B"
alice: join
bob: join
carol: join
dave: join
instructor: session assign member=alice delegation=us role=head
instructor: session assign member=bob delegation=us role=member
instructor: session assign member=carol delegation=dprk role=head
instructor: session assign member=dave delegation=dprk role=member
instructor: session start
bob: offer give=us-liaison-office ask=dprk-liaison-access
alice: offer give=us-liaison-office,us-security-assurance,us-sector-relief \
ask=dprk-liaison-access,dprk-declaration-inspectors,dprk-handover,dprk-dmz-pullback \
note="The big deal."
carol: reject reason="Unacceptable."
alice: say text="We walk if we must."
carol: offer give=dprk-yongbyon ask=us-lift-five-resolutions
alice: offer give=us-liaison-office,us-security-assurance,us-sector-relief,us-humanitarian \
ask=dprk-liaison-access,dprk-yongbyon,dprk-test-moratorium,dprk-dmz-pullback,dprk-remains
carol: accept
"""

#: Every user-written field carries markup or mathtext that must come out as text.
HOSTILE_SCRIPT = """\
instructor: session open scenario=hanoi-2019 sequencing=parallel \
title="<b>Bold</b> & $x^2$ \\"quoted\\""
al<i>ce: join
bob: join
instructor: session assign member=al<i>ce delegation=us role=head
instructor: session assign member=bob delegation=dprk role=head
instructor: session start
al<i>ce: say text="<script>alert('x')</script> *not emphasis* $5 & more"
al<i>ce: offer give=us-liaison-office ask=dprk-liaison-access \
note="</td><img src=http://example.com/x.png>"
bob: walkaway
"""

#: A table still negotiating: stops after the first offer.
OPEN_SCRIPT = """\
instructor: session open scenario=hanoi-2019 sequencing=singapore title="Seminar C"
alice: join
carol: join
instructor: session assign member=alice delegation=us role=head
instructor: session assign member=carol delegation=dprk role=head
instructor: session start
alice: offer give=us-liaison-office ask=dprk-liaison-access
"""


@dataclass
class Played:
    """A table played into the log: its export and the engine's replayed state."""

    name: str
    table_id: int
    export: dict[str, Any]
    events: list[Event]
    state: TableState


async def _play_all(db: Path) -> dict[str, Played]:
    scripts = {
        "demo": DEMO_SCRIPT.read_text(encoding="utf-8"),
        "package": PACKAGE_SCRIPT,
        "hostile": HOSTILE_SCRIPT,
        "open": OPEN_SCRIPT,
    }
    played: dict[str, Played] = {}
    for name, script in scripts.items():
        lines = script.splitlines()
        out = io.StringIO()
        code, table_id = await play_lines(lines, str(db), ["instructor"], out, channel=name)
        assert code == 0 and table_id is not None, out.getvalue()
        async with await Store.open(str(db)) as store:
            export = await build_export(store, table_id)
            events = await store.events(table_id)
            scenario = await store.scenario(table_id)
        played[name] = Played(name, table_id, export, events, Replay(scenario, events).state)
    return played


@pytest.fixture(scope="session")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Played]:
    """The four played tables, by name: demo, package, hostile, open."""
    db = tmp_path_factory.mktemp("review") / "review.db"
    return asyncio.run(_play_all(db))


@pytest.fixture(scope="session")
def debrief() -> str:
    """The Hanoi scenario's debrief questions (Markdown)."""
    return (paths.PROMPTS_DIR / "hanoi-2019" / "debrief.md").read_text(encoding="utf-8")


# -- reading the pages back ----------------------------------------------------------------


@dataclass
class Element:
    """One element of a parsed page: tag, attributes, and the text inside it."""

    tag: str
    attrs: dict[str, str]
    text: str = ""


class Page(HTMLParser):
    """A parsed HTML page, with every element and its text (void elements excepted)."""

    VOID = frozenset({"meta", "link", "br", "img", "input", "hr", "col", "source", "path"})

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.html = html
        self.elements: list[Element] = []
        self._open: list[tuple[Element, list[str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append((element, []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0].tag == tag:
                for element, parts in self._open[i:]:
                    element.text = "".join(parts)
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for _, parts in self._open:
            parts.append(data)

    def find(self, tag: str | None = None, **attrs: str) -> list[Element]:
        """Elements with this tag (any if None) whose attributes match (``_`` for ``-``)."""
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [
            e
            for e in self.elements
            if (tag is None or e.tag == tag) and all(e.attrs.get(k) == v for k, v in wanted.items())
        ]

    def with_attr(self, name: str, tag: str | None = None) -> list[Element]:
        """Elements that carry attribute ``name``."""
        return [e for e in self.elements if name in e.attrs and (tag is None or e.tag == tag)]

    def by_id(self, element_id: str) -> Element:
        """The one element with this id."""
        found = self.find(id=element_id)
        assert len(found) == 1, f"{len(found)} elements with id {element_id!r}"
        return found[0]


def squash(text: str) -> str:
    """Whitespace collapsed to single spaces."""
    return re.sub(r"\s+", " ", text).strip()
