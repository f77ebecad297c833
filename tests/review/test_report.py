"""The HTML report of one table, checked against the log it was made from."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.domain.events import Event, EventKind
from bot.domain.scenario import Scenario
from bot.review import charts
from bot.review.export import joint_statement
from bot.review.markdown import markdown_to_html
from bot.review.narrate import describe
from bot.review.report import participation, read_debrief, render_report
from bot.scenarios import ScenarioLibrary

from .conftest import Page, Played, squash


@pytest.fixture(scope="module")
def pages(tables: dict[str, Played], debrief: str) -> dict[str, Page]:
    """Each played table's report, parsed."""
    return {name: Page(render_report(t.export, debrief)) for name, t in tables.items()}


def transcript_rows(page: Page) -> list[Any]:
    return [e for e in page.with_attr("data-seq", "tr")]


ALL = ("demo", "package", "hostile", "open")


@pytest.mark.parametrize("name", ALL)
def test_every_event_has_exactly_one_transcript_row(
    name: str, tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """The transcript has one row per logged event, in log order, none twice."""
    seqs = [int(row.attrs["data-seq"]) for row in transcript_rows(pages[name])]
    assert seqs == [e.seq for e in tables[name].events]
    assert len(set(seqs)) == len(seqs)


@pytest.mark.parametrize("name", ALL)
def test_each_row_tells_its_event(
    name: str, tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """Each row holds its event's kind and the narrator's sentence for it."""
    export = tables[name].export
    scenario = Scenario.model_validate(export["scenario"])
    for event in export["events"]:
        row = pages[name].by_id(f"e{event['seq']}")
        assert row.attrs["data-kind"] == event["kind"]
        assert squash(describe(event, scenario)) in squash(row.text)


def test_the_transcript_marks_an_imbalanced_offer_with_its_weights() -> None:
    """An offer tabled with an imbalance warning (balance: advise) says so in the transcript."""
    scenario = ScenarioLibrary().get("hanoi-2019")
    data = {"delegation": "us", "give": ["us-liaison-office"], "ask": [], "weight_given": 3}
    at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    balanced = Event(kind=EventKind.OFFER_TABLED, data=data, seq=7, at=at)
    marked = Event(kind=EventKind.OFFER_TABLED, data={**data, "imbalance": 3}, seq=7, at=at)
    assert "imbalanced" not in describe(balanced, scenario)
    assert describe(marked, scenario).endswith("[imbalanced: gives weight 3, asks weight 0]")


def test_refused_attempts_are_marked_with_their_code(
    tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """Every refused attempt's row is marked refused and carries its code, and no other is."""
    page = pages["demo"]
    for event in tables["demo"].export["events"]:
        row = page.by_id(f"e{event['seq']}")
        classes = row.attrs["class"].split()
        if event["kind"] == "action_refused":
            assert "refused" in classes
            assert row.attrs["data-code"] == event["data"]["code"]
            assert f"refused · {event['data']['code']}" in row.text
        else:
            assert "refused" not in classes and "data-code" not in row.attrs


def test_counter_offers_link_to_the_offer_they_answer(
    tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """A counter-offer's row links to the answered offer's row, which links back."""
    page = pages["demo"]
    counters = [
        e
        for e in tables["demo"].export["events"]
        if e["kind"] == "offer_tabled" and e["data"].get("answers")
    ]
    assert counters, "the demo has a counter-offer"
    for event in counters:
        answered = event["data"]["answers"]
        assert 'class="badge counter"' in _row_html(page, event["seq"])
        assert f'href="#e{answered}"' in _row_html(page, event["seq"])
        assert f'href="#e{event["seq"]}"' in _row_html(page, answered)
        page.by_id(f"e{answered}")


def test_undone_actions_are_struck_and_linked(
    tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """An undone action stays in the transcript, marked undone and linked to its undo."""
    undone = [e for e in tables["demo"].export["events"] if e["reverted_by"]]
    assert undone
    for event in undone:
        row = pages["demo"].by_id(f"e{event['seq']}")
        assert "reverted" in row.attrs["class"].split()
        assert f'href="#e{event["reverted_by"]}"' in _row_html(pages["demo"], event["seq"])


def _row_html(page: Page, seq: int) -> str:
    match = re.search(rf'<tr id="e{seq}".*?</tr>', page.html, re.S)
    assert match, f"no row for #{seq}"
    return match.group(0)


@pytest.mark.parametrize("name", ALL)
def test_scores_match_the_engine(
    name: str, tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """Each delegation's score and BATNA in the report are the engine's, from a replay."""
    engine = tables[name].state.scores()
    shown = {
        row.attrs["data-delegation"]: {
            "score": int(row.attrs["data-score"]),
            "batna": int(row.attrs["data-batna"]),
        }
        for row in pages[name].with_attr("data-score", "tr")
    }
    assert shown == engine
    gain = pages[name].with_attr("data-joint-gain")[0]
    agreed = bool(tables[name].state.agreements)  # with no deal, each side keeps its BATNA
    expected = sum(s["score"] - s["batna"] for s in engine.values()) if agreed else 0
    assert int(gain.attrs["data-joint-gain"]) == expected


def test_closed_table_scores_match_the_close_announcement(
    tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """The scores shown are the ones the engine announced when the table closed."""
    closed = next(e for e in tables["demo"].events if e.kind == "table_closed")
    for row in pages["demo"].with_attr("data-score", "tr"):
        announced = closed.data.scores[row.attrs["data-delegation"]]
        assert int(row.attrs["data-score"]) == announced.score
        assert int(row.attrs["data-batna"]) == announced.batna


@pytest.mark.parametrize("name", ALL)
def test_refusal_counts_match_the_log(
    name: str, tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """The refusals table counts exactly the log's refused attempts, code by code."""
    logged = Counter(e.data.code for e in tables[name].events if e.kind == "action_refused")
    shown = {
        row.attrs["data-code"]: int(row.attrs["data-count"])
        for row in pages[name].with_attr("data-count", "tr")
    }
    assert shown == dict(logged)
    marked = Counter(
        row.attrs["data-code"] for row in transcript_rows(pages[name]) if "data-code" in row.attrs
    )
    assert marked == logged


def test_joint_statement_in_basket_order(tables: dict[str, Played], pages: dict[str, Page]) -> None:
    """The joint statement lists every agreed clause under its basket, in basket order."""
    export = tables["demo"].export
    section = pages["demo"].by_id("statement")
    text = squash(section.text)
    expected = joint_statement(export)
    assert [title for title, _ in expected] == [
        b.title
        for b in Scenario.model_validate(export["scenario"]).baskets_in_order()
        if any(a["basket"] == b.id for a in export["outcome"]["agreed"])
    ]
    position = -1
    for title, clauses in expected:
        for piece in (title, *clauses):
            found = text.find(squash(piece), position + 1)
            assert found > position, f"{piece!r} out of order"
            position = found


def test_nothing_agreed_says_so(pages: dict[str, Page]) -> None:
    """A table that agreed nothing says so in the joint statement."""
    assert "Nothing was agreed." in pages["hostile"].by_id("statement").text


def test_header_names_scenario_rules_dates_and_facilitators(
    tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """The header shows the table title, scenario, rules variant, dates and facilitators."""
    export = tables["demo"].export
    header = squash(pages["demo"].find("header")[0].text)
    scenario = Scenario.model_validate(export["scenario"])
    assert export["table"]["title"] in header
    assert scenario.title in header
    assert "(singapore)" in header and scenario.variants["singapore"].title in header
    assert export["table"]["opened_at"][:10] in header
    assert "instructor" in header


def test_participants_are_grouped_by_delegation(
    tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """Each member is listed in their delegation's card with their role; observers apart."""
    page = pages["demo"]
    for member in tables["demo"].export["members"]:
        if member["delegation"] is None:
            continue
        card = page.find("div", data_delegation=member["delegation"])[0]
        assert member["name"] in card.text and member["role"] in card.text
    observers = [
        c
        for c in page.find("div")
        if "Observers" in c.text and "delegation" in c.attrs.get("class", "")
    ]
    assert observers and "erin" in observers[-1].text


def test_participation_counts_per_player(tables: dict[str, Played], pages: dict[str, Page]) -> None:
    """Turn actions, statements and refusals per player match a count of the log."""
    actions = {"offer_tabled", "offer_accepted", "offer_rejected", "turn_passed", "walked_away"}
    expected: dict[str, Counter[str]] = {}
    for e in tables["demo"].events:
        if e.actor is None:
            continue
        column = (
            "actions"
            if e.kind in actions
            else "statements"
            if e.kind in ("statement", "caucus_message")
            else "refusals"
            if e.kind == "action_refused"
            else None
        )
        if column:
            expected.setdefault(e.actor.user_id, Counter())[column] += 1
    rows = {r.attrs["data-user"]: r for r in pages["demo"].with_attr("data-actions", "tr")}
    for user, counts in expected.items():
        for column in ("actions", "statements", "refusals"):
            assert int(rows[user].attrs[f"data-{column}"]) == counts[column], (user, column)
    assert {p["user_id"] for p in participation(tables["demo"].export)} >= set(expected)


def test_injects_are_listed_where_they_happened(
    tables: dict[str, Played], pages: dict[str, Page]
) -> None:
    """Each inject is listed with its round and a link to its transcript row."""
    section = pages["demo"].by_id("injects")
    injected = [e for e in tables["demo"].export["events"] if e["kind"] == "event_injected"]
    assert injected
    rounds = charts.event_rounds(tables["demo"].export["events"])
    for e in injected:
        assert e["data"]["title"] in section.text
        assert f"#{e['seq']}" in section.text
        row = pages["demo"].by_id(f"e{e['seq']}")
        assert "inject" in row.attrs["class"].split()
        assert f'<td class="round">{rounds[e["seq"] - 1]}</td>' in _row_html(
            pages["demo"], e["seq"]
        )


def test_debrief_questions_are_rendered(pages: dict[str, Page], debrief: str) -> None:
    """The debrief prompt appears as a heading and a numbered list of its twelve questions."""
    section = pages["demo"].by_id("debrief")
    assert "did your table go small, go big, or go home?" in section.text
    html = pages["demo"].html[pages["demo"].html.index('id="debrief"') :]
    assert html.count("<li>") == len(re.findall(r"^\d+\. ", debrief, re.M)) == 12
    assert "<strong>Go small or go big?</strong>" in html
    assert "<code>basket_closed</code>" in html


def test_debrief_is_read_from_the_scenario_prompts(tables: dict[str, Played], debrief: str) -> None:
    """read_debrief finds the prompt file the export's scenario names."""
    assert read_debrief(tables["demo"].export) == debrief


def test_no_debrief_no_section(tables: dict[str, Played]) -> None:
    """Without debrief text the report has no debrief section."""
    assert 'id="debrief"' not in render_report(tables["demo"].export)


@pytest.mark.parametrize("name", ALL)
def test_page_is_self_contained(name: str, pages: dict[str, Page]) -> None:
    """No script, no external stylesheet or image, every link in-page, a CSP forbidding fetches."""
    page = pages[name]
    assert not page.find("script")
    assert not page.find("img")
    for link in page.find("link"):
        assert link.attrs["href"].startswith("data:")
    for element in page.with_attr("href") + page.with_attr("xlink:href") + page.with_attr("src"):
        ref = element.attrs.get("href") or element.attrs.get("xlink:href") or element.attrs["src"]
        assert ref.startswith(("#", "data:")), ref
    for ref in re.findall(r"url\(\s*['\"]?([^)'\"]*)", page.html):
        assert ref.startswith("#"), ref
    assert "@import" not in page.html and "@font-face" not in page.html
    csp = page.find("meta", http_equiv="Content-Security-Policy")[0].attrs["content"]
    assert "default-src 'none'" in csp


def test_charts_are_responsive_inline_svg(pages: dict[str, Page]) -> None:
    """Charts are inline SVG with width 100% and a viewBox, and no XML prolog or doctype."""
    page = pages["demo"]
    svgs = page.find("svg")
    assert {s.attrs["data-chart"] for s in svgs} == {"timeline", "participation", "value"}
    for svg in svgs:
        assert svg.attrs["width"] == "100%"
        assert "height" not in svg.attrs
        assert re.fullmatch(
            r"0 0 [\d.]+ [\d.]+", svg.attrs["viewbox"]
        )  # the parser lowercases names
    assert "<?xml" not in page.html and "<!DOCTYPE svg" not in page.html
    ids = [e.attrs["id"] for e in page.with_attr("id")]
    assert len(ids) == len(set(ids)), "element ids are unique across charts and page"


def test_timeline_marks_offers_counters_refusals_and_agreements(
    tables: dict[str, Played],
) -> None:
    """The timeline counts the demo's offers, counter-offers, refusals by code and agreements."""
    export = tables["demo"].export
    data = charts.timeline_data(export, Scenario.model_validate(export["scenario"]))
    marks = Counter(mark for (_, _, mark), n in data.counts.items() for _ in range(n))
    assert marks["agreement"] >= 4
    assert marks["counter"] >= 1 and marks["offer"] >= 4
    assert {m.split(":")[1] for m in marks if m.startswith("refused:")} == set(
        export["outcome"]["refusals"]
    )
    assert data.injects == [(2, "April in Pyongyang")]
    assert data.rows[:4] == [
        b.title for b in Scenario.model_validate(export["scenario"]).baskets_in_order()
    ]


def test_user_text_is_escaped(pages: dict[str, Page]) -> None:
    """Markup in names, titles, notes and statements comes out as text, never as markup."""
    page = pages["hostile"]
    html = page.html
    assert "<script" not in html and "<img" not in html and "<b>Bold" not in html
    assert "<i>ce" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # Jinja's autoescape
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; $x^2$" in html
    assert "al<i>ce" in page.find("header")[0].text or "al<i>ce" in page.by_id("participants").text
    assert "<em>not emphasis</em>" not in html


def test_chart_ids_are_prefixed_but_chart_text_is_not() -> None:
    """Ids in a chart get its prefix; text that merely looks like an id is left as written."""
    svg = charts.bars_svg("cmp-x", "T", ['id="a" href="#b"', "two"], {"n": [1, 2]})
    assert 'id="a" href="#b"' in svg
    ids = re.findall(r'<[^>]*\bid="([^"]+)"', svg)
    assert ids and all(i.startswith("cmp-x-") for i in ids)
    refs = re.findall(r'(?:href="#|url\(#)([^")]+)', svg.replace('href="#b"', ""))
    assert refs and all(r.startswith("cmp-x-") for r in refs)


def test_open_table_renders(pages: dict[str, Page]) -> None:
    """A table still negotiating renders, saying it is not closed."""
    assert "not closed (negotiating)" in pages["open"].html


def test_reverted_round_is_the_undone_actions_round(tables: dict[str, Played]) -> None:
    """An undo belongs to the round it takes the table back to."""
    events = tables["demo"].export["events"]
    rounds = charts.event_rounds(events)
    for i, e in enumerate(events):
        if e["kind"] == "action_reverted":
            undone = e["data"]["reverts"][0]
            assert rounds[i] == rounds[undone - 1]


# -- the Markdown renderer ---------------------------------------------------------------


def test_markdown_headings_lists_and_emphasis() -> None:
    """Headings move down two levels; lists, paragraphs, strong, emphasis and code render."""
    html = markdown_to_html(
        "# Title\n\nA *soft* and **hard** `code` line\ncontinued.\n\n"
        "1. one\n   more\n2. two\n\n- a\n- b\n\n> quoted\n"
    )
    assert "<h3>Title</h3>" in html
    assert (
        "<p>A <em>soft</em> and <strong>hard</strong> <code>code</code> line continued.</p>" in html
    )
    assert "<ol><li>one more</li><li>two</li></ol>" in html
    assert "<ul><li>a</li><li>b</li></ul>" in html
    assert "<blockquote><p>quoted</p></blockquote>" in html


def test_markdown_escapes_everything() -> None:
    """Raw HTML, attributes and link targets in Markdown are escaped, never passed through."""
    html = markdown_to_html(
        '<script>x</script> <a href="javascript:y">z</a> [t](javascript:alert(1)) & `<b>`'
    )
    assert "<script" not in html and "<a " not in html and "<b>" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html and "<code>&lt;b&gt;</code>" in html


def test_markdown_ordered_list_keeps_its_start() -> None:
    """An ordered list that starts at 3 keeps its start number; fenced code stays verbatim."""
    html = markdown_to_html("3. c\n4. d\n\n```\n*x* <y>\n```\n")
    assert '<ol start="3">' in html
    assert "<pre><code>*x* &lt;y&gt;</code></pre>" in html
