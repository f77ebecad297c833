"""Exports are safe to open: no CSV cell runs as a spreadsheet formula, and no HTML in the
Markdown transcript renders. The table is played through `parley play` (``play_lines``)
with hostile names, title, notes, reasons and statements, then exported with
`parley export` (``bot.cli.main``) as csv and markdown."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main, play_lines
from bot.review.export import FORMULA_TRIGGERS, format_for, to_csv

SUM = "=SUM(1+1)"  # a player's name that is a formula
CAROL = "<i>carol</i>"  # a player's name that is HTML
HYPERLINK = '=HYPERLINK("http://evil.example","x")'

HOSTILE_SCRIPT = [
    "instructor: session open scenario=hanoi-2019 sequencing=singapore "
    "title=\"<script>alert('title')</script>\"",
    f"{SUM}: join",
    f"{CAROL}: join",
    "@dave: join",
    f"instructor: session assign member={SUM} delegation=us role=head",
    f"instructor: session assign member={CAROL} delegation=dprk role=head",
    "instructor: session start",
    f"{SUM}: offer give=us-liaison-office ask=dprk-liaison-access "
    'note="=2+3 <img src=x onerror=alert(1)>"',
    f'{CAROL}: reject reason="@evil <b>no</b>"',
    f"{SUM}: say text='{HYPERLINK}'",
    f'{CAROL}: say text="<script>alert(1)</script>"',
    f"{SUM}: say text=-3",
    f"{SUM}: say text=+1",
    "instructor: session end",
]

#: An opening tag, a closing tag, a comment or a doctype: what a Markdown viewer renders.
RAW_HTML = re.compile(r"<[A-Za-z/!?]")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The hostile table played into a fresh log, exported as json, csv and markdown."""
    where = tmp_path_factory.mktemp("hostile")
    db = str(where / "hostile.db")
    results = io.StringIO()
    code, table_id = asyncio.run(play_lines(HOSTILE_SCRIPT, db, ["instructor"], results))
    assert code == 0 and table_id is not None
    assert not [r for r in results.getvalue().splitlines() if not r.startswith("ok")]
    files: dict[str, Any] = {}
    for fmt, name in (("json", "log.json"), ("csv", "log.csv"), ("markdown", "log.md")):
        out = where / name
        assert main(["export", str(table_id), "--db", db, "--format", fmt, "-o", str(out)]) == 0
        files[fmt] = out.read_text(encoding="utf-8")
    files["json"] = json.loads(files["json"])
    return files


def _rows(text: str) -> tuple[list[str], list[list[str]]]:
    header, *body = list(csv.reader(io.StringIO(text)))
    return header, body


def test_no_csv_cell_starts_a_formula(exported: dict[str, Any]) -> None:
    """Not one CSV cell starts with =, +, -, @, tab or carriage return."""
    _, body = _rows(exported["csv"])
    cells = [cell for row in body for cell in row]
    assert cells and not [c for c in cells if c.startswith(FORMULA_TRIGGERS)]


def test_csv_quotes_hostile_names_and_text(exported: dict[str, Any]) -> None:
    """Names, statements, notes and reasons that start a formula get one leading quote."""
    header, body = _rows(exported["csv"])
    name, user, text = header.index("name"), header.index("user_id"), header.index("text")
    by_name = {row[name] for row in body}
    assert {f"'{SUM}", "'@dave", CAROL} <= by_name
    assert f"'{SUM}" in {row[user] for row in body}
    texts = [row[text] for row in body]
    for written in (HYPERLINK, "-3", "+1", "=2+3 <img src=x onerror=alert(1)>", "@evil <b>no</b>"):
        assert f"'{written}" in texts, written


def test_csv_keeps_the_program_numbers_and_the_raw_data(exported: dict[str, Any]) -> None:
    """Table id, seq and round stay bare numbers; the JSON data column holds the raw text."""
    header, body = _rows(exported["csv"])
    events = exported["json"]["events"]
    for column in ("table_id", "seq", "round"):
        assert all(re.fullmatch(r"\d+", row[header.index(column)]) for row in body), column
    seq, data = header.index("seq"), header.index("data")
    assert [int(row[seq]) for row in body] == [e["seq"] for e in events]
    assert [json.loads(row[data]) for row in body] == [e["data"] for e in events]
    said = [e["data"]["text"] for e in events if e["kind"] == "statement"]
    assert said == [HYPERLINK, "<script>alert(1)</script>", "-3", "+1"]


def test_csv_quotes_text_starting_with_tab_or_carriage_return(
    exported: dict[str, Any],
) -> None:
    """A tab or line end before a formula is quoted too, a lone CR never breaks a row."""
    export = json.loads(json.dumps(exported["json"]))
    statements = [e for e in export["events"] if e["kind"] == "statement"]
    statements[0]["data"]["text"] = "\t=1+1"
    statements[1]["data"]["text"] = "\r=1+1"
    statements[2]["data"]["text"] = " =1+1"
    statements[3]["data"]["text"] = "one\rtwo"
    statements[3]["data"]["round"] = -3  # a number the program wrote stays a number
    header, body = _rows(to_csv(export))
    assert len(body) == len(export["events"])
    text, round_ = header.index("text"), header.index("round")
    by_seq = {int(row[header.index("seq")]): row for row in body}
    rows = [by_seq[e["seq"]] for e in statements]
    assert [row[text] for row in rows] == ["'\t=1+1", "'\n=1+1", "' =1+1", "one\ntwo"]
    assert rows[3][round_] == "-3"


def test_markdown_shows_html_as_text(exported: dict[str, Any]) -> None:
    """Title, names, notes, reasons and statements come out escaped: no tag renders."""
    md = exported["markdown"]
    assert not RAW_HTML.search(md), RAW_HTML.findall(md)
    assert md.startswith("# &lt;script&gt;alert('title')&lt;/script&gt;\n")
    for shown in (
        "&lt;i&gt;carol&lt;/i&gt; (head)",  # the delegation list
        "&lt;i&gt;carol&lt;/i&gt; (DPRK, head)",  # the transcript
        '"&lt;script&gt;alert(1)&lt;/script&gt;"',
        "&lt;img src=x onerror=alert(1)&gt;",
        "@evil &lt;b&gt;no&lt;/b&gt;",
    ):
        assert shown in md, shown


def test_format_for_reads_the_suffix_only() -> None:
    """The format comes from the file's own suffix (a dotted folder name does not count)."""
    assert format_for("report.HTML") == "html" and format_for("log.markdown") == "markdown"
    assert format_for("out.d/report") is None and format_for("report.txt") is None
    assert format_for(str(Path("a.b") / "log.csv")) == "csv" and format_for(None) is None
