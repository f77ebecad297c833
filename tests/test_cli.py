"""The `parley` command line as real processes: demo, export (json, csv, markdown), tables,
check, and usage errors."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "hanoi-2019.toml"
PROMPTS = ROOT / "prompts"
PARLEY = Path(sys.executable).parent / "parley"
GATED_ORDER = ["relations", "peace", "denuclearization"]


def parley(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the installed `parley` script."""
    return subprocess.run(
        [str(PARLEY), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def parley_many(*argvs: list[str | Path], cwd: Path = ROOT) -> list[tuple[int, str, str]]:
    """Run several `parley` commands at once; (exit code, stdout, stderr) of each."""
    procs = [
        subprocess.Popen(
            [str(PARLEY), *map(str, argv)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        for argv in argvs
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append((proc.returncode, out, err))
    return results


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`parley demo` into a fresh file, then its table exported in every format."""
    where = tmp_path_factory.mktemp("demo")
    db = where / "demo.db"
    run = parley("demo", "--db", db, cwd=where)
    found = re.search(r"parley export (\d+) --db", run.stdout)
    table = found.group(1) if found else "1"
    (j, jout, jerr), (c, cout, cerr), (m, mout, merr), tables = parley_many(
        ["export", table, "--db", db, "--format", "json"],
        ["export", table, "--db", db, "--format", "csv"],
        ["export", table, "--db", db, "--format", "markdown"],
        ["tables", "--db", db],
    )
    assert (j, c, m) == (0, 0, 0), (jerr, cerr, merr)
    return {
        "where": where,
        "db": db,
        "run": run,
        "table": table,
        "json": json.loads(jout),
        "csv": cout,
        "markdown": mout,
        "tables": tables,
    }


# -- demo -------------------------------------------------------------------------------------


def test_demo_exits_0_and_prints_the_transcript(demo: dict[str, Any]) -> None:
    """`parley demo` plays every script line, prints each result and the transcript."""
    run = demo["run"]
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    script = (PROMPTS / "hanoi-2019" / "demo.play").read_text().splitlines()
    actions = [line for line in script if line.strip() and not line.strip().startswith("#")]
    played = [line for line in run.stdout.splitlines() if " -> " in line]
    assert len(played) == len(actions)
    assert all(re.search(r" -> (ok( [a-z_]+)*|refused [a-z_]+: .+)$", p) for p in played)
    assert "## Transcript" in run.stdout and "## Joint statement" in run.stdout
    assert f"parley export {demo['table']} --db" in run.stdout
    assert demo["db"].exists()


def test_demo_json_export_is_parley_log_1(demo: dict[str, Any]) -> None:
    """The JSON export: format parley-log/1, its keys, every event's fields, seqs 1..N."""
    export = demo["json"]
    assert export["format"] == "parley-log/1"
    assert {"table", "scenario", "members", "events", "outcome"} <= export.keys()
    events = export["events"]
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for e in events:
        assert {"seq", "at", "kind", "actor", "data"} <= e.keys()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|\+00:00)", e["at"])
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", e["kind"])
        if e["actor"] is not None:
            assert {"user_id", "name", "delegation", "role"} <= e["actor"].keys()
    assert export["table"]["scenario"] == "hanoi-2019"
    assert export["scenario"]["id"] == "hanoi-2019"
    names = {m["name"]: (m["delegation"], m["role"]) for m in export["members"]}
    assert names["alice"] == ("us", "head") and names["erin"] == (None, None)


def test_demo_agrees_basket_by_basket_in_singapore_order(demo: dict[str, Any]) -> None:
    """Agreements come relations first, then peace, then denuclearization."""
    scenario = tomllib.loads(RULES.read_text())
    basket_of = {i["id"]: i["basket"] for i in scenario["items"]}
    agreements = [e for e in demo["json"]["events"] if e["kind"] == "agreement_reached"]
    assert len(agreements) == 4
    firsts: list[str] = []
    for agreement in agreements:
        baskets = {basket_of[i] for i in agreement["data"]["items"]}
        firsts += [b for b in GATED_ORDER if b in baskets and b not in firsts]
    assert firsts == GATED_ORDER
    first_baskets = [
        {basket_of[i] for i in a["data"]["items"]} - {"remains"} for a in agreements[:3]
    ]
    assert first_baskets == [{b} for b in GATED_ORDER]
    listed = demo["json"]["outcome"]["agreements"]  # the outcome lists them too, in order
    assert [(a["seq"], a["items"]) for a in listed] == [
        (e["seq"], e["data"]["items"]) for e in agreements
    ]


def test_demo_logs_refusals_an_inject_a_statement_and_an_undo(demo: dict[str, Any]) -> None:
    """The demo's log holds refusals of several codes, an inject, statements and an undo."""
    events = demo["json"]["events"]
    kinds = Counter(e["kind"] for e in events)
    codes = Counter(e["data"]["code"] for e in events if e["kind"] == "action_refused")
    assert len(codes) >= 5
    assert {"wrong_phase", "not_your_turn", "not_a_member", "basket_closed"} <= codes.keys()
    assert demo["json"]["outcome"]["refusals"] == dict(codes)
    assert kinds["event_injected"] >= 1 and kinds["statement"] >= 1
    [revert] = [e for e in events if e["kind"] == "action_reverted"]
    by_seq = {e["seq"]: e for e in events}
    for seq in revert["data"]["reverts"]:
        assert seq < revert["seq"] and by_seq[seq]["reverted_by"] == revert["seq"]
    assert events[-1]["kind"] == "table_closed"


def test_demo_close_scores_are_the_sums_of_private_values(demo: dict[str, Any]) -> None:
    """table_closed and outcome scores = sum of each side's values in the TOML; BATNAs too."""
    scenario = tomllib.loads(RULES.read_text())
    values = {i["id"]: i["values"] for i in scenario["items"]}
    batna = {d["id"]: d["batna"] for d in scenario["delegations"]}
    events = demo["json"]["events"]
    agreed = [i for e in events if e["kind"] == "agreement_reached" for i in e["data"]["items"]]
    closed = events[-1]["data"]
    assert sorted(closed["agreed"]) == sorted(agreed)
    expected = {d: {"score": sum(values[i][d] for i in agreed), "batna": batna[d]} for d in batna}
    assert closed["scores"] == expected
    outcome = demo["json"]["outcome"]
    assert [a["item"] for a in outcome["agreed"]] == agreed
    for d, want in expected.items():
        assert outcome["scores"][d]["score"] == want["score"]
        assert outcome["scores"][d]["batna"] == want["batna"]
        assert outcome["scores"][d]["beats_batna"] is (want["score"] > want["batna"])
    # the demo's promise: both sides above their BATNA
    assert all(s["score"] > s["batna"] for s in expected.values())


def test_demo_csv_has_one_row_per_event_and_a_header(demo: dict[str, Any]) -> None:
    """The CSV export: a header, then one row per event with its seq and kind."""
    rows = list(csv.reader(io.StringIO(demo["csv"])))
    header, body = rows[0], rows[1:]
    assert {"seq", "at", "kind", "data"} <= set(header)
    events = demo["json"]["events"]
    assert len(body) == len(events)
    seq, kind, data = header.index("seq"), header.index("kind"), header.index("data")
    assert [(int(r[seq]), r[kind]) for r in body] == [(e["seq"], e["kind"]) for e in events]
    assert [json.loads(r[data]) for r in body] == [e["data"] for e in events]


def test_demo_markdown_holds_the_joint_statement(demo: dict[str, Any]) -> None:
    """The Markdown export carries the agreed text, basket titles in order, and the scores."""
    md = demo["markdown"]
    scenario = tomllib.loads(RULES.read_text())
    statement = md[md.index("## Joint statement") :]
    titles = {b["id"]: b["title"] for b in scenario["baskets"]}
    positions = [statement.index(titles[b]) for b in [*GATED_ORDER, "remains"]]
    assert positions == sorted(positions)
    texts = {i["id"]: i["text"] for i in scenario["items"]}
    for agreed in demo["json"]["outcome"]["agreed"]:
        assert texts[agreed["item"]] in statement
    assert "## Scores" in md


def test_tables_lists_the_demo_table(demo: dict[str, Any]) -> None:
    """`parley tables` lists the demo table, closed, with its scenario and title."""
    code, out, err = demo["tables"]
    assert code == 0, err
    header, *rows = out.splitlines()
    assert "status" in header and "scenario" in header
    [row] = rows
    assert row.split()[:2] == [demo["table"], "closed"]
    assert "hanoi-2019" in row and "Seminar A" in row


def test_tables_on_an_empty_database_says_so(tmp_path: Path) -> None:
    """`parley tables` on a new file exits 0 and says there are no tables yet."""
    run = parley("tables", "--db", tmp_path / "new.db")
    assert run.returncode == 0 and "No tables yet" in run.stdout


# -- export -------------------------------------------------------------------------------------


def test_export_of_a_missing_table_exits_1_with_a_clear_message(demo: dict[str, Any]) -> None:
    """`parley export 999` exits 1, says there is no table 999, points to `parley tables`."""
    run = parley("export", "999", "--db", demo["db"])
    assert run.returncode == 1
    assert run.stdout == ""
    assert "no table 999" in run.stderr and "parley tables" in run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_export_to_a_file(demo: dict[str, Any], tmp_path: Path) -> None:
    """`-o FILE` writes the export there (same content as standard output)."""
    out = tmp_path / "log.json"
    run = parley("export", demo["table"], "--db", demo["db"], "-o", out)
    assert run.returncode == 0 and run.stdout == ""
    assert json.loads(out.read_text()) == demo["json"]


# -- check ----------------------------------------------------------------------------------------

BROKEN = {
    "weight": (
        (
            "weight = 3\nvalues = { us = -1, dprk = 3 }",
            "weight = 7\nvalues = { us = -1, dprk = 3 }",
        ),
        "items[0].weight: ",
    ),
    "basket": (
        (
            'basket = "relations"\ngiver = "us"\nweight = 2',
            'basket = "trade"\ngiver = "us"\nweight = 2',
        ),
        "items[1].basket: unknown basket 'trade'",
    ),
    "batna": (("batna = 8", 'batna = "eight"'), "delegations[0].batna: "),
    "sequencing": (
        ('sequencing = "singapore"\nmax_items', 'sequencing = "sideways"\nmax_items'),
        "rules.sequencing: ",
    ),
    "prompt": (("brief-us.md", "brief-usa.md"), "delegations[0].brief: prompt file not found"),
    "syntax": (('title = "Hanoi 2019', 'title = "Hanoi 2019 \\q'), "not valid TOML"),
}


def test_check_accepts_the_shipped_scenario() -> None:
    """`parley check rules/hanoi-2019.toml` exits 0 and says ok."""
    run = parley("check", "rules/hanoi-2019.toml")
    assert run.returncode == 0, run.stdout
    assert run.stdout.startswith("rules/hanoi-2019.toml: ok")


def test_check_names_file_field_and_problem_for_broken_files(tmp_path: Path) -> None:
    """Broken copies exit 1 with `file: field.path: problem`; a good file among them is ok."""
    source = RULES.read_text()
    files = []
    for name, ((old, new), _) in BROKEN.items():
        assert old in source, name
        path = tmp_path / f"{name}.toml"
        path.write_text(source.replace(old, new, 1))
        files.append(path)
    (alone, _, _), (together, out, err) = parley_many(
        ["check", files[0], "--prompts", PROMPTS],
        ["check", *files, RULES, "--prompts", PROMPTS],
    )
    assert alone == 1
    assert together == 1 and "Traceback" not in err
    lines = out.splitlines()
    for path, (name, (_, problem)) in zip(files, BROKEN.items(), strict=True):
        mine = [line for line in lines if line.startswith(f"{path}: ")]
        assert mine, name
        assert any(problem in line for line in mine), (name, mine)
    assert f"{RULES}: ok" in out


def test_check_of_a_missing_file_exits_1(tmp_path: Path) -> None:
    """A file that does not exist is reported as such, exit 1."""
    run = parley("check", tmp_path / "nowhere.toml")
    assert run.returncode == 1
    assert run.stdout.startswith(f"{tmp_path / 'nowhere.toml'}: ")


# -- usage errors ---------------------------------------------------------------------------------


def test_usage_errors_exit_2() -> None:
    """argparse refuses a missing command, an unknown one, a bad id or format: exit 2."""
    results = parley_many(
        [],
        ["dance"],
        ["export"],
        ["export", "one"],
        ["export", "1", "--format", "pdf"],
        ["check"],
        ["play", "--dbb", "x.db"],
    )
    for code, out, err in results:
        assert code == 2, (code, out, err)
        assert "usage: parley" in err and "Traceback" not in err
        assert out == ""


def test_help_lists_the_commands() -> None:
    """`parley --help` exits 0 and names the commands."""
    run = parley("--help")
    assert run.returncode == 0
    for command in ("demo", "play", "tables", "export", "check"):
        assert command in run.stdout


def test_demo_writes_the_html_report(demo: dict[str, Any]) -> None:
    """`parley demo` ends by writing the self-contained HTML report and printing its path."""
    line = next(x for x in demo["run"].stdout.splitlines() if x.startswith("HTML report: "))
    report = Path(line.removeprefix("HTML report: "))
    page = report.read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "Seminar A" in page


def test_export_format_follows_the_file_name(demo: dict[str, Any], tmp_path: Path) -> None:
    """Without --format, `-o report.html` gives HTML, `-o log.csv` CSV; stdout defaults to HTML."""
    for name, start in (("report.html", "<!doctype html>"), ("log.csv", "table_id,seq,")):
        out = tmp_path / name
        assert parley("export", demo["table"], "--db", demo["db"], "-o", out).returncode == 0
        assert out.read_text(encoding="utf-8").startswith(start)
    run = parley("export", demo["table"], "--db", demo["db"])
    assert run.returncode == 0 and run.stdout.startswith("<!doctype html>")


def test_compare_writes_one_page_and_refuses_mixed_input(
    demo: dict[str, Any], tmp_path: Path
) -> None:
    """`parley compare` writes the comparison page; one table or an unknown id is refused."""
    db = tmp_path / "two.db"  # a copy: the module's demo log stays as it was
    shutil.copy(demo["db"], db)
    script = (ROOT / "prompts" / "hanoi-2019" / "demo.play").read_text(encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "play", "--db", str(db), "--channel", "b"],
        input=script,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    out = tmp_path / "compare.html"
    run = parley("compare", demo["table"], "2", "--db", db, "-o", out)
    assert run.returncode == 0, run.stderr
    assert "<svg" in out.read_text(encoding="utf-8")
    assert parley("compare", demo["table"], "--db", db).returncode == 2
    assert parley("compare", demo["table"], "99", "--db", db).returncode == 1


def test_a_table_with_no_deal_keeps_each_batna(tmp_path: Path) -> None:
    """Nothing agreed: margins and joint gain are 0, nobody beats their BATNA, pages say so."""
    db = tmp_path / "nodeal.db"
    script = "\n".join(
        [
            "instructor: session open scenario=hanoi-2019",
            "instructor: session assign member=alice delegation=us role=head",
            "instructor: session assign member=carol delegation=dprk role=head",
            "instructor: session start",
            "alice: walkaway",
        ]
    )
    played = subprocess.run(
        [sys.executable, "-m", "bot.cli", "play", "--db", str(db)],
        input=script,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert played.stdout.splitlines()[-1] == "ok walked_away table_closed"
    exported = json.loads(parley("export", "1", "--db", db, "--format", "json").stdout)
    outcome = exported["outcome"]
    assert outcome["agreements"] == [] and outcome["joint_gain"] == 0
    for score in outcome["scores"].values():
        assert score["score"] == 0 and score["margin"] == 0 and not score["beats_batna"]
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "play", "--db", str(db), "--channel", "b"],
        input=script,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    page = tmp_path / "compare.html"
    assert parley("compare", "1", "2", "--db", db, "-o", page).returncode == 0
    assert page.read_text(encoding="utf-8").count("no deal") >= 4
