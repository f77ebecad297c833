"""The comparison page as the class picture: deal, left on the table, Pareto-optimal and
rounds to the first agreement per table, a summary per rule mode, and anonymized pages."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from pathlib import Path

from bot.cli import play_lines
from bot.review.anonymize import anonymize, table_letter
from bot.review.compare import by_rule_mode, first_agreement_round, render_comparison

from .conftest import DEMO_SCRIPT, PACKAGE_SCRIPT, Page, Played

COMPARED = ("demo", "package", "hostile")
#: Every name a player or facilitator has in the review tables' scripts.
NAMES = ("alice", "bob", "carol", "dave", "erin", "al<i>ce", "instructor")


def exports(tables: dict[str, Played]) -> list[dict]:  # type: ignore[type-arg]
    return [tables[n].export for n in COMPARED]


def test_rows_for_deal_first_agreement_and_the_rule_modes(tables: dict[str, Played]) -> None:
    """Each table shows whether it made a deal and in which round the first agreement
    came; the rule-mode table counts tables and deals per variant."""
    page = Page(render_comparison(exports(tables)))
    assert page.find("tr", data_measure="deal") and page.find("tr", data_measure="first_agreement")
    modes = {m["variant"]: m for m in by_rule_mode(exports(tables))}
    assert set(modes) == {"singapore", "package", "parallel"}
    for name in COMPARED:
        export = tables[name].export
        mode = modes[export["table"]["variant"]]
        assert mode["tables"] == 1
        assert mode["deals"] == (1 if export["outcome"]["agreements"] else 0)
        assert mode["refusals"] == sum(export["outcome"]["refusals"].values())
    assert page.find("tr", data_variant="package")


def test_first_agreement_round_comes_from_the_agreements(tables: dict[str, Played]) -> None:
    """Rounds to the first agreement: the smallest round among the table's agreements."""
    demo = tables["demo"].export
    rounds = [a["round"] for a in demo["outcome"]["agreements"]]
    assert first_agreement_round(demo) == min(rounds)
    assert first_agreement_round(tables["hostile"].export) is None  # a walk-out, no deal


def test_anonymized_exports_keep_no_name_id_or_title(tables: dict[str, Played]) -> None:
    """Anonymized copies name nobody: students are "Student N" (the same person the same
    label in every table), facilitators "Facilitator N", tables "Table A"..."""
    originals = exports(tables)
    before = json.dumps(originals)
    copies = anonymize(originals)
    assert json.dumps(originals) == before  # the originals are untouched
    text = json.dumps([{k: v for k, v in c.items() if k != "scenario"} for c in copies])
    for event_texts in ("We walk if we must.",):  # what players wrote stays
        assert event_texts in text
    people = [
        json.dumps([c["members"], c["table"], [e["actor"] for e in c["events"]]]) for c in copies
    ]
    for name in NAMES:
        assert all(f'"{name}"' not in p for p in people), name
    assert [c["table"]["title"] for c in copies] == ["Table A", "Table B", "Table C"]
    alice = {
        m["name"]
        for c in copies[:2]
        for m in c["members"]
        if m["delegation"] == "us" and m["role"] == "head"
    }
    assert len(alice) == 1 and alice.pop().startswith("Student ")


def test_an_anonymized_page_names_no_player(tables: dict[str, Played]) -> None:
    """The anonymized comparison page contains no player name or table title."""
    html = render_comparison(exports(tables), anonymized=True)
    for name in ("alice", "carol", "Seminar B", "<b>Bold</b>", "&lt;b&gt;Bold"):
        assert name not in html
    assert "Table A" in html and "Table C" in html


def test_table_letters_go_past_z() -> None:
    """A..Z, then AA, AB: a class of more than 26 tables still gets labels."""
    assert [table_letter(i) for i in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]


def test_parley_compare_anonymize(tmp_path: Path) -> None:
    """`parley compare --anonymize` writes a page without the players' names."""
    db = tmp_path / "class.db"
    ids = []
    for channel, script in (("a", DEMO_SCRIPT.read_text(encoding="utf-8")), ("b", PACKAGE_SCRIPT)):
        code, table_id = asyncio.run(
            play_lines(script.splitlines(), str(db), ["instructor"], io.StringIO(), channel)
        )
        assert code == 0 and table_id is not None
        ids.append(str(table_id))
    out = tmp_path / "class.html"
    command = [sys.executable, "-m", "bot.cli", "compare", *ids, "--db", str(db)]
    run = subprocess.run(
        [*command, "--anonymize", "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    html = out.read_text(encoding="utf-8")
    assert "alice" not in html and "Seminar B" not in html and "Table B" in html


def test_the_class_plane_marks_every_table_with_a_linked_title(
    tables: dict[str, Played],
) -> None:
    """Every compared table's outcome is one mark on the class plane, naming the table on
    hover and linking to its column; the frontier is drawn."""
    html = render_comparison(exports(tables))
    page = Page(html)
    assert page.find("svg", data_chart="class")
    plane = html[html.index('id="class"') :]
    plane = plane[: plane.index("</section>")]
    for name in COMPARED:
        table = tables[name].export["table"]
        link = f'xlink:href="#t{table["id"]}"'
        assert plane.count(link) == 1, name
        after = plane[plane.index(link) :]
        title = re.search(r"<title>([^<]*)</title>", after)
        assert title and f"#{table['id']}" in title.group(1)
        assert page.by_id(f"t{table['id']}")
    assert re.search(r'id="class-frontier', plane) and re.search(r'id="class-zopa', plane)
