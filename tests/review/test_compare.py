"""The comparison page: tables of one scenario side by side, checked against their logs."""

from __future__ import annotations

import copy
import re
from collections import Counter

import pytest

from bot.review.compare import render_comparison

from .conftest import Page, Played

COMPARED = ("demo", "package", "hostile")


@pytest.fixture(scope="module")
def page(tables: dict[str, Played]) -> Page:
    """The comparison of the Singapore, package and action-for-action tables."""
    return Page(render_comparison([tables[n].export for n in COMPARED]))


def cells(page: Page, measure: str) -> list[str]:
    """The data-value of each table's cell in the row of ``measure``."""
    row = page.find("tr", data_measure=measure)
    assert len(row) == 1, f"no row for {measure}"
    html = re.search(rf'<tr data-measure="{re.escape(measure)}">.*?</tr>', page.html, re.S)
    assert html
    return re.findall(r'data-value="([^"]*)"', html.group(0))


def test_fewer_than_two_tables_is_refused(tables: dict[str, Played]) -> None:
    """Comparing one table (or none) raises ValueError saying two are needed."""
    with pytest.raises(ValueError, match="at least 2 tables"):
        render_comparison([tables["demo"].export])
    with pytest.raises(ValueError, match="at least 2 tables"):
        render_comparison([])


def test_tables_of_different_scenarios_are_refused(tables: dict[str, Played]) -> None:
    """Tables of two scenarios raise ValueError naming each table's scenario."""
    other = copy.deepcopy(tables["package"].export)
    other["table"]["scenario"] = "cuban-missile-crisis"
    with pytest.raises(ValueError, match=r"same scenario.*cuban-missile-crisis"):
        render_comparison([tables["demo"].export, other])


def test_the_same_table_twice_is_refused(tables: dict[str, Played]) -> None:
    """Listing one table twice raises ValueError."""
    with pytest.raises(ValueError, match="more than once"):
        render_comparison([tables["demo"].export, tables["demo"].export])


def test_one_column_per_table(tables: dict[str, Played], page: Page) -> None:
    """The side-by-side table has a column per table, in the order given, titled by table."""
    heads = page.with_attr("data-table", "th")
    assert [int(h.attrs["data-table"]) for h in heads] == [tables[n].table_id for n in COMPARED]
    for head, name in zip(heads, COMPARED, strict=True):
        assert tables[name].export["table"]["title"] in head.text


def test_outcome_rounds_and_agreements(tables: dict[str, Played], page: Page) -> None:
    """Outcome, rounds used and agreements per basket match each table's log."""
    exports = [tables[n].export for n in COMPARED]
    assert cells(page, "variant") == ["singapore", "package", "parallel"]
    assert cells(page, "outcome") == [e["outcome"]["reason"] for e in exports]
    assert cells(page, "rounds") == [str(tables[n].state.round) for n in COMPARED]
    for basket in ("relations", "peace", "denuclearization", "remains"):
        expected = [
            str(
                sum(
                    1
                    for item in tables[n].state.agreed
                    if tables[n].state.item(item).basket == basket
                )
            )
            for n in COMPARED
        ]
        assert cells(page, f"basket:{basket}") == expected, basket


def test_scores_and_joint_gain_match_the_engine(tables: dict[str, Played], page: Page) -> None:
    """Each side's score and the joint gain are the engine's, from a replay of the log."""
    for delegation in ("us", "dprk"):
        assert cells(page, f"score:{delegation}") == [
            str(tables[n].state.scores()[delegation]["score"]) for n in COMPARED
        ]
    assert cells(page, "joint_gain") == [
        str(sum(s["score"] - s["batna"] for s in tables[n].state.scores().values()))
        if tables[n].state.agreements
        else "0"  # with no deal, each side keeps its BATNA
        for n in COMPARED
    ]


def test_refusal_counts_by_code_match_the_logs(tables: dict[str, Played], page: Page) -> None:
    """Refused attempts, in total and by code, are counted from each table's log."""
    logged = [
        Counter(e.data.code for e in tables[n].events if e.kind == "action_refused")
        for n in COMPARED
    ]
    assert cells(page, "refusals") == [str(sum(c.values())) for c in logged]
    codes = set().union(*logged)
    assert codes
    for code in codes:
        assert cells(page, f"refusal:{code}") == [str(c.get(code, 0)) for c in logged]


def test_a_chart_per_measure(page: Page) -> None:
    """The class plane, and rounds, agreements per basket, scores, joint gain and refusals
    each get an SVG chart."""
    charts = {svg.attrs["data-chart"] for svg in page.find("svg")}
    assert charts == {
        "class",
        "cmp-rounds",
        "cmp-baskets",
        "cmp-scores",
        "cmp-gain",
        "cmp-refusals",
    }
    ids = [e.attrs["id"] for e in page.with_attr("id")]
    assert len(ids) == len(set(ids))


def test_comparison_is_self_contained(page: Page) -> None:
    """No script, no external reference, and a CSP forbidding any fetch."""
    assert not page.find("script") and not page.find("img")
    for element in page.with_attr("href") + page.with_attr("xlink:href"):
        ref = element.attrs.get("href") or element.attrs["xlink:href"]
        assert ref.startswith(("#", "data:")), ref
    csp = page.find("meta", http_equiv="Content-Security-Policy")[0].attrs["content"]
    assert "default-src 'none'" in csp


def test_titles_are_escaped(page: Page) -> None:
    """A table title with markup appears as text in the header, the columns and the charts."""
    assert "<b>Bold" not in page.html
    assert page.html.count("&lt;b&gt;Bold&lt;/b&gt;") >= 3
