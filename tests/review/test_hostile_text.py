"""What players type cannot change how the review outputs read: Markdown syntax in a
statement stays text in the transcript, a right-to-left override in a name ends with the
name, and a very long word neither widens a page nor floods a chart.

The table is played through `parley play` (``play_lines``) into a fresh log and read back
with ``build_export``, as the other review tests do.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli import play_lines
from bot.review import charts
from bot.review.compare import render_comparison
from bot.review.export import build_export, to_markdown
from bot.review.report import render_report
from bot.store import Store

from .conftest import Page
from .test_browser import browser, load_offline
from .test_browser import chromium as chromium  # a fixture, used by name

RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE: what follows it shows reversed
SPOOF = f"x{RLO}yz"  # a name whose override would run on into whatever follows it
LONG = "B" * 300  # a name with no space to break at
TITLE = "T" * 300  # a table title with no space to break at
MARKUP = (
    "[click](javascript:alert(1)) ![pixel](http://evil.example/p.png) "
    "**bold** _em_ ~~struck~~ `code` $x^2$ # not a heading"
)
PIPE = "a\\|b | c"  # a backslash before a pipe, and a bare pipe

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = [
    f'instructor: session open scenario=hanoi-2019 sequencing=singapore title="{TITLE}"',
    "alice: join",
    f"{SPOOF}: join",
    f"{LONG}: join",
    "instructor: session assign member=alice delegation=us role=head",
    f"instructor: session assign member={SPOOF} delegation=dprk role=head",
    f"instructor: session assign member={LONG} delegation=dprk role=member",
    "instructor: session start",
    f'alice: say text="{MARKUP}"',
    f"alice: say text='{PIPE}'",
    'alice: offer give=us-liaison-office ask=dprk-liaison-access note="~~a~~ *b*"',
    "instructor: session undo",
    f'{SPOOF}: say text="hello"',
    f'{LONG}: say text="{"C" * 4000}"',
    "alice: offer give=us-liaison-office ask=dprk-liaison-access",
    f"{SPOOF}: accept",
    "instructor: session end",
]

SECOND = [
    'instructor: session open scenario=hanoi-2019 sequencing=package title="Seminar B"',
    "dora: join",
    "instructor: session assign member=dora delegation=us role=head",
    "instructor: session end",
]


async def _play(db: str) -> list[dict[str, Any]]:
    exports = []
    for channel, script in (("hostile-text", SCRIPT), ("second", SECOND)):
        out = io.StringIO()
        code, table_id = await play_lines(script, db, ["instructor"], out, channel=channel)
        assert code == 0 and table_id is not None, out.getvalue()
        assert all(line.startswith("ok") for line in out.getvalue().splitlines()), out.getvalue()
        async with await Store.open(db) as store:
            exports.append(await build_export(store, table_id))
    return exports


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The hostile table's export, and a plain second table of the same scenario."""
    db = tmp_path_factory.mktemp("hostile-text") / "log.db"
    return asyncio.run(_play(str(db)))


def _unescaped(text: str, char: str) -> int:
    """How many times ``char`` occurs in ``text`` not escaped by a backslash."""
    return len(re.findall(rf"(?<!\\)(?:\\\\)*{re.escape(char)}", text))


def _open_direction(text: str) -> int:
    """How many explicit embeddings, overrides and isolates ``text`` leaves open."""
    embeddings = sum(text.count(c) for c in "\u202a\u202b\u202d\u202e") - text.count("\u202c")
    isolates = sum(text.count(c) for c in "\u2066\u2067\u2068") - text.count("\u2069")
    return embeddings + isolates


def _row(md: str, needle: str) -> str:
    (line,) = [line for line in md.splitlines() if line.startswith("|") and needle in line]
    return line


def test_markdown_statement_makes_no_link_image_emphasis_code_or_math(
    exports: list[dict[str, Any]],
) -> None:
    """Markdown syntax in a statement is escaped: no link, image, emphasis, code or math."""
    line = _row(to_markdown(exports[0]), "javascript")
    said = line[line.index("said:") :]
    for char in "[]*_`~$":
        assert _unescaped(said, char) == 0, (char, said)


def test_markdown_backslash_before_a_pipe_does_not_split_the_cell(
    exports: list[dict[str, Any]],
) -> None:
    """A statement holding ``\\|`` stays one cell: the row keeps its four columns."""
    line = _row(to_markdown(exports[0]), 'said: "a')
    assert _unescaped(line, "|") == 5, line


def test_markdown_undone_offer_is_struck_through_and_its_note_is_not(
    exports: list[dict[str, Any]],
) -> None:
    """An undone row is struck through by the export; ``~~`` and ``*`` in its note are text."""
    line = _row(to_markdown(exports[0]), "(undone by #")
    cell = line.split(" | ")[3]
    assert cell.startswith("~~") and "~~ (undone by #" in cell, cell
    inner = cell[2 : cell.index("~~ (undone by #")]
    assert _unescaped(inner, "~") == 0 and _unescaped(inner, "*") == 0, inner


def test_markdown_override_in_a_name_ends_with_the_name(exports: list[dict[str, Any]]) -> None:
    """A right-to-left override in a name is closed before the role and the next name."""
    md = to_markdown(exports[0])
    (dprk,) = [line for line in md.splitlines() if line.startswith("- **DPRK**")]
    assert _open_direction(dprk[: dprk.index(" (head)")]) == 0, dprk
    said = _row(md, 'said: "hello"')
    assert _open_direction(said[: said.index(" (DPRK, head)")]) == 0, said


def _name_closed(text: str) -> bool:
    """Whether ``text`` leaves no direction open by the end of the spoofing name."""
    return _open_direction(text[: text.index(" ", text.index(SPOOF))]) == 0


def test_report_override_in_a_name_ends_with_the_name(exports: list[dict[str, Any]]) -> None:
    """In the report's transcript and participation chart the override stops at the name."""
    page = Page(render_report(exports[0]))
    texts = [e.text for e in page.find("span", **{"class": "text"}) if RLO in e.text]
    labels = [e.text for e in page.find("text") if RLO in e.text]
    assert len(texts) >= 4 and labels
    for text in texts + labels:
        assert _name_closed(text), text


def test_participation_chart_cuts_a_long_name_short() -> None:
    """A 300-letter name is a few lines in the participation chart, not a column of text."""
    svg = charts.participation_svg([(f"{LONG} (DPRK)", 1, 1, 0), ("alice (US)", 1, 0, 0)])
    shown = sum(len(run) for run in re.findall("B+", svg))
    assert 0 < shown <= 100, shown


def test_comparison_chart_cuts_a_long_title_short() -> None:
    """A 300-letter title is a few lines under the comparison's bars."""
    svg = charts.bars_svg(
        "cmp-rounds", "Rounds used", [f"#1 {TITLE}", "#2 Seminar B"], {"r": [1, 2]}
    )
    shown = sum(len(run) for run in re.findall("T{2,}", svg))
    assert 0 < shown <= 60, shown


#: How far a page scrolls sideways (0 or less: it fits its width).
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@contextlib.asynccontextmanager
async def page_in_chromium(
    chromium: str, tmp_path: Path, html: str
) -> AsyncIterator[tuple[Any, Path]]:
    """``html`` saved as a page, and a headless Chromium tab to load it in."""
    page = tmp_path / "page.html"
    page.write_text(html, encoding="utf-8")
    async with browser(chromium, tmp_path) as tab:
        yield tab, page


async def test_report_with_long_words_fits_a_phone(
    chromium: str,
    exports: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """A title and a name with no space to break at do not make the report scroll sideways."""
    async with page_in_chromium(chromium, tmp_path, render_report(exports[0])) as (tab, page):
        for width, phone in ((1280, False), (390, True)):
            await load_offline(tab, page, width, 844, phone=phone)
            overflow = await tab.evaluate(SIDEWAYS)
            assert overflow <= 0, (width, overflow)


async def test_report_tables_with_a_long_name_fit_a_desktop_screen(
    chromium: str,
    exports: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """On a desktop screen a 300-letter name breaks: no table has to scroll sideways."""
    async with page_in_chromium(chromium, tmp_path, render_report(exports[0])) as (tab, page):
        await load_offline(tab, page, 1280, 900)
        wide = await tab.evaluate(
            "[...document.querySelectorAll('.table-wrap')]"
            ".filter(w => w.scrollWidth > w.clientWidth).map(w => w.closest('section').id)"
        )
        assert wide == [], wide


async def test_comparison_with_a_long_title_fits_a_phone(
    chromium: str,
    exports: list[dict[str, Any]],
    tmp_path: Path,
) -> None:
    """A table title with no space to break at does not make the comparison scroll sideways."""
    async with page_in_chromium(chromium, tmp_path, render_comparison(exports)) as (tab, page):
        await load_offline(tab, page, 390, 844, phone=True)
        overflow = await tab.evaluate(SIDEWAYS)
        assert overflow <= 0, overflow


async def test_an_emoji_name_exports_without_a_font_warning(tmp_path: Path) -> None:
    """A player named with emoji (no glyph in matplotlib's font): `parley export` writes the
    report and says only that (the SVG keeps the text, which the browser draws)."""
    db = tmp_path / "log.db"
    script = [
        "instructor: session open scenario=hanoi-2019\n",
        "👩‍👩‍👧: join\n",
        "instructor: session assign member=👩‍👩‍👧 delegation=us role=head\n",
    ]
    code, _ = await play_lines(script, str(db), ["instructor"], io.StringIO())
    assert code == 0
    report = tmp_path / "report.html"
    run = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "export",
        "1",
        "--db",
        str(db),
        "-o",
        str(report),
        cwd=ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await run.communicate()
    assert run.returncode == 0 and err.decode() == f"Wrote {report}\n", err.decode()
    assert "👩‍👩‍👧" in report.read_text(encoding="utf-8")
