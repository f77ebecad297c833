"""`parley simulate` and a counterpart seated in `parley play`: the command line's contract
(JSON keys, errors), the log path through the service, and moves on the passing line."""

from __future__ import annotations

import asyncio
import fcntl
import io
import json
import os
import pty
import sqlite3
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main, play_lines

ROOT = Path(__file__).resolve().parent.parent.parent
ROW_KEYS = {
    "sequencing",
    "strategies",
    "runs",
    "deals",
    "deal_rate",
    "mean_joint_gain",
    "mean_left_on_table",
    "mean_rounds",
    "refusals",
    "deals_above_batnas",
}


def simulate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["simulate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_json_has_every_key_mode_and_pair(capsys: pytest.CaptureFixture[str]) -> None:
    """The JSON names the scenario, runs and seed, and has one row per mode and ordered pair
    of strategies with exactly the issue's keys; no counterpart was ever refused."""
    code, out, err = simulate(capsys, "hanoi-2019", "--runs", "3", "--seed", "5", "--json")
    assert code == 0, err
    report: dict[str, Any] = json.loads(out)
    assert set(report) == {"scenario", "runs", "seed", "results"}  # the keys, exactly
    assert (report["scenario"], report["runs"], report["seed"]) == ("hanoi-2019", 3, 5)
    rows = report["results"]
    assert len(rows) == 3 * 16
    assert {r["sequencing"] for r in rows} == {"singapore", "package", "parallel"}
    for row in rows:
        assert set(row) == ROW_KEYS
        assert set(row["strategies"]) == {"us", "dprk"}
        assert row["runs"] == 3 and 0 <= row["deals"] <= 3
        assert row["deal_rate"] == round(row["deals"] / 3, 3)
        assert row["refusals"] == 0
        assert 0 <= row["deals_above_batnas"] <= row["deals"]
        assert 1 <= row["mean_rounds"] <= 10


def test_simulate_text_is_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --json it prints an aligned table with a header and one line per row."""
    code, out, _ = simulate(
        capsys, "hanoi-2019", "--runs", "2", "--sequencing", "package", "--strategies", "linear"
    )
    assert code == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("mode"))
    assert header.split() == [
        "mode", "us", "dprk", "deals", "rate", ">=", "BATNAs", "joint", "gain", "left", "rounds",
        "refused"
    ]  # fmt: skip
    assert any(line.startswith("package    linear") or line.split()[:3] ==
               ["package", "linear", "linear"] for line in lines)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--strategies", "boulware,bluffer"], "unknown strategy 'bluffer'"),
        (["--sequencing", "grand-bargain"], "no variant with sequencing 'grand-bargain'"),
        (["--runs", "0"], "--runs must be 1 to"),
    ],
)
def test_simulate_refuses_bad_options_with_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """A strategy or mode that does not exist, or no runs, is a usage error saying which."""
    code, out, err = simulate(capsys, "hanoi-2019", *args)
    assert code == 2 and out == ""
    assert message in err


def test_simulate_an_unknown_scenario_fails_clearly(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown scenario exits 1 naming the scenarios there are."""
    code, _, err = simulate(capsys, "yalta-1945")
    assert code == 1 and "hanoi-2019" in err


def test_simulate_into_a_log_gives_the_in_memory_numbers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With --db every table is played through the service into SQLite, with the counterparts
    as the actors, and the figures are those of the in-memory run."""
    args = ["hanoi-2019", "--runs", "2", "--strategies", "linear,conceder", "--json"]
    _, memory, _ = simulate(capsys, *args)
    db = tmp_path / "sim.db"
    code, logged, err = simulate(capsys, *args, "--db", str(db))
    assert code == 0, err
    assert json.loads(logged) == json.loads(memory)
    with sqlite3.connect(db) as conn:
        tables = conn.execute("SELECT COUNT(*) FROM tables").fetchone()[0]
        actors = [json.loads(a) for (a,) in conn.execute(
            "SELECT actor FROM events WHERE kind = 'offer_tabled'")]  # fmt: skip
    assert tables == 3 * 4 * 2
    assert actors and all(a["counterpart"] in {"linear", "conceder"} for a in actors)


def test_a_seated_counterpart_moves_on_the_line_that_passed_it_the_turn(tmp_path: Path) -> None:
    """In `parley play` the counterpart acts at once; its kinds follow the person's on the
    line that handed it the turn, and after unseat the delegation's person plays again."""
    script = """\
instructor: session open scenario=hanoi-2019 sequencing=singapore
instructor: session assign member=alice delegation=us role=head
instructor: session assign member=carol delegation=dprk role=head
instructor: session seat delegation=dprk strategy=conceder
instructor: session start
alice: offer give=us-liaison-office ask=dprk-liaison-access
carol: pass
instructor: session unseat delegation=dprk
alice: pass
carol: pass
"""
    out = io.StringIO()
    db = tmp_path / "p.db"
    code, _ = asyncio.run(play_lines(script.splitlines(), str(db), ["instructor"], out))
    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[3] == "ok counterpart_seated"
    kinds = lines[5].split()
    assert kinds[:2] == ["ok", "offer_tabled"] and len(kinds) > 2  # then the counterpart's
    assert lines[6].startswith("refused not_your_turn")  # the US is on move again
    assert lines[7] == "ok counterpart_unseated"
    assert lines[8:] == ["ok turn_passed", "ok turn_passed"]  # carol is head again
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT actor FROM events WHERE actor LIKE '%counterpart:dprk%'")
        acted = [json.loads(a) for (a,) in rows]
    assert acted and all(a["counterpart"] == "conceder" for a in acted)


def test_parley_simulate_runs_as_a_process() -> None:
    """`python -m bot.cli simulate` works as a real process (no terminal: no progress bar)."""
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "simulate", "hanoi-2019", "--runs", "1", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert len(json.loads(done.stdout)["results"]) == 48


def simulate_on_a_terminal(runs: int) -> tuple[int, str, str]:
    """`parley simulate` of one mode and one pair, `runs` tables, with standard error on a
    terminal (a pseudo-terminal); (exit code, stdout, what the terminal showed)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 wide
    argv = ["simulate", "hanoi-2019", "--sequencing", "package", "--strategies", "conceder"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *argv, "--runs", str(runs), "--json"],
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=ROOT,
        text=True,
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    out, _ = proc.communicate(timeout=120)
    os.close(leader)
    return proc.returncode, out, shown.decode(errors="replace")


def test_a_progress_bar_shows_on_a_terminal_from_500_tables() -> None:
    """On a terminal, 500 tables show a progress bar on standard error; 499 show none."""
    code, out, shown = simulate_on_a_terminal(500)
    assert code == 0 and json.loads(out)["results"][0]["runs"] == 500
    assert "simulating hanoi-2019" in shown and "/500 [" in shown, shown
    code, out, shown = simulate_on_a_terminal(499)
    assert code == 0 and json.loads(out)["results"][0]["runs"] == 499
    assert shown == ""


def test_a_counterpart_move_the_rules_refuse_is_logged_and_the_table_moves_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If a strategy misjudged the rules, its attempt is refused and logged under the
    counterpart's name, and it passes instead, in the service and in memory alike."""
    from bot.counterparts import Counterpart
    from bot.counterparts import simulate as sim
    from bot.domain import commands as c
    from bot.scenarios import ScenarioLibrary

    def blunder(self: Counterpart, state: object) -> c.Command:
        return c.Offer(who=self.who, give=("no-such-item",))

    monkeypatch.setattr(Counterpart, "decide", blunder)
    script = """\
instructor: session open scenario=hanoi-2019
instructor: session assign member=alice delegation=us role=head
instructor: session seat delegation=dprk strategy=linear
instructor: session start
alice: pass
"""
    out = io.StringIO()
    db = tmp_path / "p.db"
    asyncio.run(play_lines(script.splitlines(), str(db), ["instructor"], out))
    assert out.getvalue().splitlines()[-1] == "ok turn_passed action_refused turn_passed"
    with sqlite3.connect(db) as conn:
        (actor,) = conn.execute("SELECT actor FROM events WHERE kind = 'action_refused'").fetchone()
    assert json.loads(actor)["counterpart"] == "linear"

    scenario = ScenarioLibrary().get("hanoi-2019")
    table = sim.MemoryTable(scenario)
    state = sim.play_table(scenario, "singapore", {"us": "linear", "dprk": "linear"}, 1, table)
    assert state.refusals == {"unknown_item": 20} and state.agreed == {}
    assert {r.code.value for r in table.refused} == {"unknown_item"}
