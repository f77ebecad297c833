"""The report's Value section (issue 8, point 4): sentences, measures, the utility plane with
the negotiation dance, the move classes, and the gains table of a three-delegation table.

The tables are the played logs of ``conftest.py`` and a three-delegation table played here;
each page is rendered from the table's real export, ``analysis`` included.
"""

from __future__ import annotations

import asyncio
import copy
import io
import re
from pathlib import Path
from typing import Any

import pytest

from bot.analysis import analyze
from bot.cli import play_lines
from bot.domain.scenario import Scenario
from bot.review import charts
from bot.review.export import build_export
from bot.review.report import nearest_better, render_report, value_sentences
from bot.store import Store

from .conftest import Page, Played, squash
from .test_browser import browser, chromium, load_offline

__all__ = ["chromium"]  # the browser fixture, used by the Chromium test below

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

TRIO_SCRIPT = """\
instructor: session open scenario=trio title="Trio table"
ann: join
ben: join
cat: join
instructor: session assign member=ann delegation=a role=head
instructor: session assign member=ben delegation=b role=head
instructor: session assign member=cat delegation=c role=head
instructor: session start
ann: offer give=a-x ask=b-x
ben: reject
cat: offer give=c-x ask=a-x
ann: accept
ben: accept
instructor: session end
"""


async def _play_trio(db: Path) -> dict[str, Any]:
    out = io.StringIO()
    code, table_id = await play_lines(TRIO_SCRIPT.splitlines(), str(db), ["instructor"], out)
    assert code == 0 and table_id is not None, out.getvalue()
    async with await Store.open(str(db)) as store:
        return await build_export(store, table_id)


@pytest.fixture(scope="module")
def trio_export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A three-delegation table (tests/fixtures/scenarios/trio.toml) that agrees a deal."""
    db = tmp_path_factory.mktemp("trio") / "trio.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PARLEY_RULES_DIR", str(FIXTURES / "scenarios"))
        patch.setenv("PARLEY_PROMPTS_DIR", str(FIXTURES / "prompts"))
        return asyncio.run(_play_trio(db))


@pytest.fixture(scope="module")
def exports(tables: dict[str, Played]) -> dict[str, dict[str, Any]]:
    """Each played table's export (the real one, with its ``analysis``)."""
    assert all("analysis" in t.export for t in tables.values())
    return {name: t.export for name, t in tables.items()}


@pytest.fixture(scope="module")
def pages(exports: dict[str, dict[str, Any]]) -> dict[str, Page]:
    """Each played table's report, parsed."""
    return {name: Page(render_report(export)) for name, export in exports.items()}


def value_svg(html: str) -> str:
    """The utility plane's ``<svg>`` element, as written in the page."""
    found = re.search(r'<svg class="chart" data-chart="value".*?</svg>', html, re.S)
    assert found, "no utility plane in the page"
    return found.group(0)


def offer_links(svg: str) -> list[tuple[str, str]]:
    """(address, hover text) of every linked mark in a chart."""
    return re.findall(r'<a xlink:href="(#e\d+)"><title>([^<]*)</title>', svg)


@pytest.mark.parametrize("name", ["demo", "package", "hostile", "open"])
def test_value_section_renders_for_deal_and_no_deal(
    name: str, exports: dict[str, dict[str, Any]], pages: dict[str, Page]
) -> None:
    """Deal, no-deal and open tables get sentences, measures, the plane and the move table."""
    section = pages[name].by_id("value")
    text = squash(section.text)
    assert pages[name].find("a", href="#value"), "the section is in the table of contents"
    assert pages[name].find("svg", data_chart="value")
    assert pages[name].find("table", **{"class": "moves"})
    deal = bool(exports[name]["outcome"]["agreed"])
    if deal:
        assert "This deal" in text or "The deal was Pareto-optimal" in text
    elif exports[name]["outcome"]["phase"] == "closed":
        assert "No deal was reached" in text
    else:
        assert "Nothing is agreed yet" in text
    outcome = exports[name]["analysis"]["outcome"]
    assert page_measure(pages[name], "joint-gain") == str(outcome["joint_gain"])
    assert page_measure(pages[name], "pareto-optimal") == (
        "yes" if outcome["pareto_optimal"] else "no"
    )


def page_measure(page: Page, key: str) -> str:
    """The text of one measure of the Value section."""
    [found] = page.find("dd", data_measure=key)
    return found.text


def test_no_deal_marks_the_batna_point(exports: dict[str, dict[str, Any]]) -> None:
    """With no deal the outcome mark sits at the BATNAs and says so on hover."""
    svg = value_svg(render_report(exports["hostile"]))
    assert "No deal: each side keeps its BATNA (United States 8, DPRK 7)" in svg
    assert '<g id="value-outcome"><title>' in svg


@pytest.mark.parametrize("name", ["demo", "package", "hostile", "open"])
def test_every_offer_has_a_titled_link_to_its_transcript_row(
    name: str, exports: dict[str, dict[str, Any]], pages: dict[str, Page]
) -> None:
    """Each offer has one mark on the plane, titled with its name and linked to its own row."""
    export = exports[name]
    svg = value_svg(pages[name].html)
    links = offer_links(svg)
    offers = export["analysis"]["offers"]
    assert offers, "the table made offers"
    titles = [t for _, t in links if t.startswith("Offer #")]
    assert len(titles) == len(offers) == len(re.findall(r"<title>Offer #", svg))
    for offer in offers:
        expected = f"#e{offer['seq']}"
        [title] = [t for href, t in links if href == expected]
        assert title.startswith(f"Offer #{offer['seq']} by ")
        assert (offer["move"] or "first offer") in title
        row = pages[name].by_id(f"e{offer['seq']}")
        assert row.attrs["data-kind"] == "offer_tabled"
    for href, _ in links:
        pages[name].by_id(href[1:])  # every link lands on a row
    assert 'target="_blank"' not in svg
    ids = [e.attrs["id"] for e in pages[name].with_attr("id")]
    assert len(ids) == len(set(ids)), "element ids stay unique with the plane on the page"


def test_sentences_state_what_was_left_on_the_table(
    exports: dict[str, dict[str, Any]], pages: dict[str, Page]
) -> None:
    """The demo's sentences give analysis.outcome.left_on_table and what would do better."""
    export = exports["demo"]
    left = export["analysis"]["outcome"]["left_on_table"]
    assert left > 0 and not export["analysis"]["outcome"]["pareto_optimal"]
    readout = squash(pages["demo"].by_id("value").text)
    assert f"This deal left {left} points on the table: adding" in readout
    assert "would have given both sides more" in readout or " as much" in readout
    assert page_measure(pages["demo"], "left-on-table") == str(left)


def test_no_deal_sentence_counts_the_better_outcomes(exports: dict[str, dict[str, Any]]) -> None:
    """A walk-out hears how many outcomes beat both BATNAs and the left-on-table number."""
    export = exports["hostile"]
    scenario = Scenario.model_validate(export["scenario"])
    space = analyze(scenario, export["table"]["variant"])
    better = space.better_for_all
    [first, *_] = value_sentences(export, scenario)
    left = export["analysis"]["outcome"]["left_on_table"]
    assert first == (
        f"No deal was reached although {better:,} outcomes would have left both sides better "
        f"off than their BATNAs: {left} points of joint gain were left on the table."
    )


def test_nearest_better_names_added_and_removed_items() -> None:
    """The suggestion is the better frontier point with fewest items changed, by title."""
    scenario = Scenario.model_validate(
        {
            "id": "t",
            "title": "T",
            "sources": [{"id": "s", "title": "S"}],
            "prompts": {"background": "b.md", "debrief": "d.md"},
            "delegations": [
                {"id": "a", "name": "Ay", "brief": "a.md"},
                {"id": "b", "name": "Bee", "brief": "b.md"},
            ],
            "baskets": [{"id": "k", "title": "K", "order": 1}],
            "items": [
                {"id": "a1", "title": "A one", "basket": "k", "giver": "a", "weight": 1,
                 "values": {"a": -1, "b": 3}},
                {"id": "b1", "title": "B one", "basket": "k", "giver": "b", "weight": 1,
                 "values": {"a": 3, "b": -1}},
                {"id": "b2", "title": "B <two>", "basket": "k", "giver": "b", "weight": 1,
                 "values": {"a": 1, "b": -2}},
            ],
        }
    )  # fmt: skip
    frontier = [
        {"items": ["a1", "b1"], "scores": {"a": 2, "b": 2}},
        {"items": ["a1", "b1", "b2"], "scores": {"a": 3, "b": 0}},
    ]
    said = nearest_better(scenario, {"a": 1, "b": 1}, ["a1", "b1", "b2"], frontier)
    assert said == "leaving out “B <two>” would have given both sides more"
    said = nearest_better(scenario, {"a": -1, "b": 2}, ["a1"], frontier)
    assert said == "adding “B one” (Bee) would have given Ay more and Bee as much"
    assert nearest_better(scenario, {"a": 2, "b": 2}, ["a1", "b1"], frontier) == ""


def test_user_text_in_the_value_section_is_escaped(exports: dict[str, dict[str, Any]]) -> None:
    """Markup in delegation names and item titles is text in sentences and hover titles."""
    export = copy.deepcopy(exports["demo"])
    for delegation in export["scenario"]["delegations"]:
        if delegation["id"] == "us":
            delegation["name"] = "<b>US</b> & co"
    for item in export["scenario"]["items"]:
        item["title"] = f"<i>{item['title']}</i>"
    html = render_report(export)
    value = html[html.index('id="value"') : html.index('id="participation"')]
    assert "<b>US" not in value and "<i>" not in value
    assert "&lt;b&gt;US&lt;/b&gt; &amp; co" in value
    assert "&lt;i&gt;" in value


def test_export_without_analysis_still_renders(tables: dict[str, Played]) -> None:
    """An older export (no ``analysis`` key) renders, with a short note for the section."""
    export = {k: v for k, v in tables["demo"].export.items() if k != "analysis"}
    page = Page(render_report(export))
    section = page.by_id("value")
    assert "has no analysis of value" in section.text
    assert not page.find("svg", data_chart="value")
    assert page.by_id("transcript")


def test_three_delegations_show_the_gains_table(trio_export: dict[str, Any]) -> None:
    """Three delegations get each gain against its best possible gain, and no plane."""
    page = Page(render_report(trio_export))
    section = page.by_id("value")
    assert not page.find("svg", data_chart="value")
    scenario = Scenario.model_validate(trio_export["scenario"])
    space = analyze(scenario, trio_export["table"]["variant"])
    best = dict(zip(space.delegations, space.best_gains, strict=True))
    gains = trio_export["analysis"]["outcome"]["gains"]
    rows = page.with_attr("data-best-gain", "tr")
    assert {r.attrs["data-delegation"]: int(r.attrs["data-gain"]) for r in rows} == gains
    assert {r.attrs["data-delegation"]: int(r.attrs["data-best-gain"]) for r in rows} == best
    text = squash(section.text)
    assert "Gains against the best possible" in text
    for name in ("Alpha", "Beta", "Gamma"):
        assert name in text
    left = trio_export["analysis"]["outcome"]["left_on_table"]
    assert (
        f"This deal left {left} points on the table: adding “Gamma lends a painting” (Gamma) "
        "would have given Alpha and Beta more and Gamma as much." in text
    )
    moves = page.find("table", **{"class": "moves"})
    assert moves and "Alpha" in moves[0].text


def test_zopa_polygon_follows_the_staircase() -> None:
    """The shaded ZOPA starts at the BATNA point and steps down under each frontier point."""
    frontier = [(10, 0), (6, 4), (2, 8), (0, 9)]
    assert charts.zopa_polygon(frontier, (1, 1)) == [
        (1, 1),
        (1, 8),
        (2, 8),
        (2, 4),
        (6, 4),
        (6, 1),
    ]
    assert charts.zopa_polygon(frontier, (7, 5)) == []


async def test_value_section_in_chromium(
    chromium: str, exports: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """In Chromium the plane shows, offer titles are in the DOM, and a click reaches the row."""
    export = exports["demo"]
    page = tmp_path / "report.html"
    page.write_text(render_report(export), encoding="utf-8")
    async with browser(chromium, tmp_path) as devtools:
        await load_offline(devtools, page)
        seen = await devtools.evaluate(
            """(() => {
              const section = document.getElementById('value');
              section.scrollIntoView();
              const svg = section.querySelector('svg.chart[data-chart=value]');
              const box = svg.getBoundingClientRect();
              const style = getComputedStyle(section);
              return {visible: style.display !== 'none' && style.visibility === 'visible',
                      width: box.width, height: box.height,
                      titles: [...svg.querySelectorAll('a > title')].map(t => t.textContent),
                      hrefs: [...svg.querySelectorAll('a')].map(
                        a => a.getAttribute('href') || a.getAttributeNS(
                          'http://www.w3.org/1999/xlink', 'href'))};
            })()"""
        )
        assert seen["visible"] and seen["width"] > 300 and seen["height"] > 300, seen
        offers = export["analysis"]["offers"]
        titles = [t for t in seen["titles"] if t.startswith("Offer #")]
        assert len(titles) == len(offers)
        for offer in offers:
            assert any(t.startswith(f"Offer #{offer['seq']} by ") for t in titles)
        for href in seen["hrefs"]:
            assert await devtools.evaluate(f"!!document.getElementById('{href[1:]}')")
        first = offers[0]["seq"]
        hash_ = await devtools.evaluate(
            f"""(() => {{
              const a = [...document.querySelectorAll('#value svg a')].find(
                a => a.getAttributeNS('http://www.w3.org/1999/xlink', 'href') === '#e{first}');
              a.dispatchEvent(new MouseEvent('click', {{bubbles: true, cancelable: true}}));
              return new Promise(r => setTimeout(() => r(location.hash), 200));
            }})()"""
        )
        assert hash_ == f"#e{first}"
        await devtools.send("Emulation.setEmulatedMedia", media="print")
        printed = await devtools.evaluate(
            "document.querySelector('#value svg.chart').getBoundingClientRect().height"
        )
        assert printed > 200
