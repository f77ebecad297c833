"""`parley play` as a real process: the line parser, one result line per action line, the
clock, facilitators by name, and a table continued across runs."""

from __future__ import annotations

import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import play_lines

ROOT = Path(__file__).resolve().parent.parent
RESULT = re.compile(r"(ok( [a-z_]+)*|refused [a-z_]+: \S.*)")

SEATED = """\
instructor: session open scenario=hanoi-2019 sequencing=singapore title="Rehearsal"
alice: join
bob: join
carol: join
instructor: session assign member=alice delegation=us role=head
instructor: session assign member=bob delegation=us
instructor: session assign member=carol delegation=dprk role=head
instructor: session start
"""
SEATED_RESULTS = [
    "ok table_opened",
    *["ok member_joined"] * 3,
    *["ok member_assigned"] * 3,
    "ok table_started",
]


def play(db: Path, text: str, *options: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot.cli play --db DB` with ``text`` on standard input."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "play", "--db", str(db), *options],
        input=text,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def logged(db: Path) -> list[tuple[int, str, str]]:
    """(table id, seq, kind) of every event, read with plain sqlite3."""
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT table_id, seq, kind FROM events ORDER BY table_id, seq"
        ).fetchall()


# -- malformed lines ---------------------------------------------------------------------------

MALFORMED = {
    "no colon": ("alice join", "expected 'NAME: COMMAND"),
    "name with a space": ("alice smith: join", "expected 'NAME: COMMAND"),
    "no command": ("alice:", "a command is missing"),
    "unknown command": ("alice: dance", "unknown command 'dance'"),
    "unknown session command": ("instructor: session dance", "unknown command 'session dance'"),
    "unknown key": ("alice: offer give=us-travel-ban colour=red", "takes no 'colour'"),
    "key on a keyless command": ("carol: accept now=yes", "takes no 'now'"),
    "not key=value": ("alice: reject because", "expected key=value, got 'because'"),
    "key twice": ("alice: reject reason=a reason=b", "'reason' is given twice"),
    "missing required key": ("instructor: session assign member=bob", "needs delegation"),
    "say without text": ("alice: say", "needs text"),
    "unbalanced quotes": ('carol: say text="We came in good faith.', "cannot split"),
    "clock without a sign": ("clock 5", "expected 'clock +MINUTES'"),
    "clock without minutes": ("clock +", "expected 'clock +MINUTES'"),
    "clock alone": ("clock", "expected 'clock +MINUTES'"),
    "clock minutes not a number": ("clock +ten", "expected 'clock +MINUTES'"),
    "clock backwards": ("clock -5", "expected 'clock +MINUTES'"),
    "clock zero": ("clock +0", "only moves forward"),
    "clock nan": ("clock +nan", "only moves forward"),
    "clock too far": ("clock +1e300", "only moves forward"),
    "extend minutes not a number": ("instructor: session extend minutes=ten", "is not a number"),
    "autoassign seed not a number": ("instructor: session autoassign seed=x", "is not a number"),
    "blank statement": ('alice: say text="   "', "say needs some text"),
    "seed not a whole number": (
        "instructor: session seat delegation=dprk strategy=linear seed=1.5",
        "seed='1.5' is not a whole number",
    ),
    "control character": ('alice: say text="a\x00b"', "control character U+0000 at column 19"),
    "text as UTF-16": ("a\x00l\x00i\x00c\x00e\x00:\x00 \x00j\x00o\x00i\x00n\x00", "U+0000"),
}


#: The forms also run as real processes (all at once); every form runs in-process too.
IN_A_PROCESS = [
    "no colon",
    "unknown command",
    "unknown key",
    "not key=value",
    "missing required key",
    "unbalanced quotes",
    "clock without a sign",
    "clock minutes not a number",
    "clock nan",
    "extend minutes not a number",
]
MALFORMED_SCRIPT = "# a comment\n\nalice: join\n{}\nbob: join\n"
NO_TABLE = (
    "refused unknown_table: There is no table in this channel. A facilitator opens "
    "one with /session open."
)


@pytest.fixture(scope="module")
def malformed_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str]]:
    """The IN_A_PROCESS forms, each at line 4 of its own script, all processes at once."""
    procs = {}
    for name in IN_A_PROCESS:
        text = MALFORMED[name][0]
        db = tmp_path_factory.mktemp("malformed") / "log.db"
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "play", "--db", str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert procs[name].stdin is not None
        procs[name].stdin.write(MALFORMED_SCRIPT.format(text))
        procs[name].stdin.close()
    results = {}
    for name, proc in procs.items():
        assert proc.stdout is not None and proc.stderr is not None
        results[name] = (proc.wait(timeout=60), proc.stdout.read(), proc.stderr.read())
    return results


@pytest.mark.parametrize("form", IN_A_PROCESS)
def test_a_malformed_line_exits_2_naming_its_line_number(
    malformed_runs: dict[str, tuple[int, str, str]], form: str
) -> None:
    """A malformed form stops the process with exit 2 and `line N: what is wrong` on stderr."""
    code, stdout, stderr = malformed_runs[form]
    assert code == 2, (code, stdout, stderr)
    assert stderr.startswith("parley play: line 4: "), stderr
    assert MALFORMED[form][1] in stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr
    # the line before was played (no table: refused), the bad line and those after were not
    assert stdout.splitlines() == [NO_TABLE]


@pytest.mark.parametrize("form", list(MALFORMED))
async def test_every_malformed_form_stops_play_lines_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    """Every malformed form, through the same play_lines the command runs: exit code 2."""
    out = io.StringIO()
    lines = MALFORMED_SCRIPT.format(MALFORMED[form][0]).splitlines(keepends=True)
    code, table_id = await play_lines(lines, str(tmp_path / "log.db"), ["instructor"], out)
    assert (code, table_id) == (2, None)
    err = capsys.readouterr().err
    assert err.startswith("parley play: line 4: ") and MALFORMED[form][1] in err
    assert out.getvalue().splitlines() == [NO_TABLE]


@pytest.mark.parametrize(
    "text",
    ["instructor: session extend minutes=soon", 'alice: say text=""'],
    ids=["extend", "empty statement"],
)
def test_a_malformed_line_on_an_open_table_logs_nothing(tmp_path: Path, text: str) -> None:
    """A value that does not parse, on a running table: exit 2 and nothing more in the log."""
    db = tmp_path / "log.db"
    run = play(db, SEATED + text + "\n")
    assert run.returncode == 2
    assert run.stderr.startswith("parley play: line 9: ")
    assert run.stdout.splitlines() == SEATED_RESULTS
    assert len(logged(db)) == len(SEATED_RESULTS)


@pytest.mark.parametrize(
    "locale", [{"LC_ALL": "C"}, {"LC_ALL": "C.UTF-8", "PYTHONUTF8": "0"}], ids=["C", "UTF-8"]
)
def test_a_line_that_is_not_utf8_exits_2_naming_its_line_and_byte(
    tmp_path: Path, locale: dict[str, str]
) -> None:
    """A byte that is not UTF-8 stops play at its line, named with the byte; nothing logged."""
    db = tmp_path / "log.db"
    script = SEATED.encode() + 'alice: say text="caf\xe9 noir"\nbob: join\n'.encode("latin-1")
    env = {k: v for k, v in os.environ.items() if k not in ("LANG", "LC_CTYPE", "PYTHONUTF8")}
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "play", "--db", str(db)],
        input=script,
        capture_output=True,
        cwd=ROOT,
        timeout=60,
        env={**env, **locale},
    )
    stderr = run.stderr.decode()
    assert run.returncode == 2, stderr
    assert stderr.startswith("parley play: line 9: ") and "byte 0xe9" in stderr, stderr
    assert "UTF-8" in stderr and "Traceback" not in stderr and "settings" not in stderr
    assert run.stdout.decode().splitlines() == SEATED_RESULTS
    assert len(logged(db)) == len(SEATED_RESULTS)


async def test_play_lines_refuses_text_that_cannot_be_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line holding a lone surrogate (text no log can store) is a malformed line: exit 2."""
    lines = [*SEATED.splitlines(keepends=True), 'alice: say text="half \ud83d"\n']
    out = io.StringIO()
    code, _ = await play_lines(lines, str(tmp_path / "log.db"), ["instructor"], out)
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("parley play: line 9: ") and "not UTF-8" in err, err
    assert out.getvalue().splitlines() == SEATED_RESULTS


def test_a_script_saved_with_a_byte_order_mark_plays(tmp_path: Path) -> None:
    """A script starting with a UTF-8 byte order mark (Notepad's "UTF-8 with BOM") plays its
    first line as written (its facilitator was refused as not a facilitator)."""
    db = tmp_path / "log.db"
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "play", "--db", str(db)],
        input=b"\xef\xbb\xbf" + SEATED.encode(),
        capture_output=True,
        cwd=ROOT,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode().splitlines() == SEATED_RESULTS


def test_a_player_may_be_named_like_the_clock(tmp_path: Path) -> None:
    """`clockwork: join` is a player's line, not a malformed clock line."""
    run = play(tmp_path / "log.db", SEATED + "clockwork: join\nclock: join\nclock+1\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-3:] == ["ok member_joined", "ok member_joined", "ok clock"]


# -- result lines ---------------------------------------------------------------------------------

SCRIPT = """\
# A rehearsal with comments, blank lines and odd spacing.

instructor: session open scenario=hanoi-2019 sequencing=singapore title="Section B"
   # an indented comment
alice: join
bob: join
carol: join
dave: join
erin: join
instructor: session assign member=alice delegation=us role=head
instructor: session assign member=bob delegation=us role=member
instructor: session assign member=carol delegation=dprk role=head
instructor: session assign member=dave delegation=dprk role=member
alice: offer give=us-liaison-office ask=dprk-liaison-access
instructor: session start

carol: pass
erin: pass
alice: accept
alice: offer give=us-liaison-office ask=dprk-liaison-access note="A first step, in good faith."
dave: accept
bob: offer give=us-liaison-office ask=dprk-liaison-access
carol: accept
alice: offer give=us-security-assurance ask=us-security-assurance
alice: offer give=us-security-assurance ask=dprk-yongbyon
alice: offer give=dprk-remains ask=us-travel-ban
alice: offer give=us-liaison-office ask=dprk-remains
alice: offer give=us-travel-ban,us-humanitarian,us-security-assurance,us-exercises ask=dprk-remains
instructor: session inject event=nonsense
alice: session end
    alice:    say    text="Spacing does not matter."
instructor: session undo
instructor: session undo
instructor: session undo
clock +1
instructor: session pause
instructor: session pause
instructor: session resume
instructor: session extend minutes=5
instructor: session end
carol: offer give=dprk-remains ask=us-travel-ban
"""
EXPECTED = [
    "ok table_opened",
    *["ok member_joined"] * 5,
    *["ok member_assigned"] * 4,
    "refused wrong_phase",
    "ok table_started",
    "refused not_your_turn",
    "refused not_a_member",
    "refused no_standing_offer",
    "ok offer_tabled",
    "refused role_not_allowed",
    "refused not_your_turn",
    "ok offer_accepted agreement_reached",
    "refused duplicate_item",
    "refused basket_closed",
    "refused wrong_giver",
    "refused item_already_agreed",
    "refused too_many_items",
    "refused bad_argument",
    "refused not_facilitator",
    "ok statement",
    "ok action_reverted",
    "ok action_reverted",
    "refused nothing_to_undo",
    "ok clock",
    "ok table_paused",
    "refused wrong_phase",
    "ok table_resumed",
    "ok deadline_extended",
    "ok table_closed",
    "refused wrong_phase",
]


def test_one_result_line_per_action_line_and_nothing_else(tmp_path: Path) -> None:
    """Every action line prints exactly one `ok KIND...` or `refused CODE: message` line."""
    db = tmp_path / "log.db"
    run = play(db, SCRIPT)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    out = run.stdout.splitlines()
    actions = [
        line for line in SCRIPT.splitlines() if line.strip() and not line.strip().startswith("#")
    ]
    assert len(out) == len(actions) == len(EXPECTED)
    assert all(RESULT.fullmatch(line) for line in out), out
    assert [line.split(":")[0] for line in out] == EXPECTED
    # the kinds printed are the kinds logged, in order (a refusal logs one action_refused)
    printed = [
        kind
        for line in out
        for kind in (["action_refused"] if line.startswith("refused") else line.split()[1:])
        if kind != "clock"
    ]
    assert [kind for _, _, kind in logged(db)] == printed


def test_blank_and_comment_lines_print_nothing(tmp_path: Path) -> None:
    """A script of only blanks and comments prints nothing, logs nothing, exits 0."""
    run = play(tmp_path / "log.db", "\n   \n# one\n  # two\n\t\n#alice: join\n")
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")
    assert logged(tmp_path / "log.db") == []


def test_a_line_with_no_table_is_refused_unknown_table(tmp_path: Path) -> None:
    """Acting before any table is open in the channel: refused unknown_table, exit 0."""
    run = play(tmp_path / "log.db", "alice: join\ninstructor: session start\n")
    assert run.returncode == 0
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == ["refused unknown_table"] * 2


def test_a_bad_scenario_or_variant_is_refused_bad_argument(tmp_path: Path) -> None:
    """An unknown scenario or sequencing variant at open: refused bad_argument naming them."""
    run = play(
        tmp_path / "log.db",
        "instructor: session open scenario=yalta-1945\n"
        "instructor: session open scenario=hanoi-2019 sequencing=chaos\n",
    )
    assert run.returncode == 0
    first, second = run.stdout.splitlines()
    assert first.startswith("refused bad_argument: ") and "hanoi-2019" in first
    assert second.startswith("refused bad_argument: ") and "singapore" in second


# -- the clock -----------------------------------------------------------------------------------

CLOCK_SCRIPT = (
    SEATED
    + """\
clock +7.5
clock +0.5
clock +1
clock +1
alice: pass
carol: pass
clock +8
clock +2
clock +30
clock +600
instructor: session resume
clock +9
clock +1000
clock +5
"""
)


def test_clock_lines_print_the_events_the_time_move_caused(tmp_path: Path) -> None:
    """hanoi-2019 (10-minute turns, reminder 2 before): reminders, expiries, and the idle
    pause once every delegation's turn has expired in a row."""
    db = tmp_path / "log.db"
    run = play(db, CLOCK_SCRIPT)
    assert run.returncode == 0, run.stderr
    out = [line.split(":")[0] for line in run.stdout.splitlines()]
    assert out[: len(SEATED_RESULTS)] == SEATED_RESULTS
    expired = "turn_expired"
    assert out[len(SEATED_RESULTS) :] == [
        "ok clock",  # 7.5 minutes in: nothing yet
        "ok clock reminder_sent",  # 8: two minutes before the deadline
        "ok clock",  # 9: the reminder goes out once
        f"ok clock {expired}",  # 10: the US turn expires; the DPRK's 10 minutes begin
        "refused not_your_turn",
        "ok turn_passed",  # the DPRK acts: the expiries in a row start again
        "ok clock reminder_sent",  # 18
        f"ok clock {expired}",  # 20: the US turn expires, round 2
        f"ok clock {expired} table_paused",  # 30: the DPRK's too: a round lost, so it pauses
        "ok clock",  # paused: the clock is frozen
        "ok table_resumed",  # the US on move with a whole turn
        "ok clock reminder_sent",  # 9 minutes on
        f"ok clock {expired} {expired} table_paused",  # again at most one round is lost
        "ok clock",
    ]
    kinds = [kind for _, _, kind in logged(db)]
    assert kinds.count(expired) == 1 + 1 + 1 + 2
    assert kinds[-1] == "table_paused"


def test_extend_moves_the_deadline_the_clock_sees(tmp_path: Path) -> None:
    """After `session extend minutes=5` the turn expires 5 minutes later than it would have."""
    run = play(
        tmp_path / "log.db",
        SEATED + "instructor: session extend minutes=5\nclock +12\nclock +1\nclock +2\n",
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[len(SEATED_RESULTS) :] == [
        "ok deadline_extended",
        "ok clock",  # 12 of 15 minutes
        "ok clock reminder_sent",  # 13
        "ok clock turn_expired",  # 15
    ]


# -- facilitators ---------------------------------------------------------------------------------


def test_facilitators_are_the_names_given_with_the_option(tmp_path: Path) -> None:
    """--facilitator (repeatable, comma-separated) replaces the default `instructor`."""
    script = (
        "instructor: session open scenario=hanoi-2019\n"
        "prof: session open scenario=hanoi-2019 sequencing=parallel\n"
        "alice: join\n"
        "carol: join\n"
        "ta1: session assign member=alice delegation=us role=head\n"
        "ta2: session assign member=carol delegation=dprk role=head\n"
        "instructor: session start\n"
        "alice: session start\n"
        "ta2: session start\n"
        "alice: session pause\n"
        "prof: session pause\n"
    )
    run = play(tmp_path / "log.db", script, "--facilitator", "prof", "--facilitator", "ta1, ta2")
    assert run.returncode == 0, run.stderr
    assert [line.split(":")[0] for line in run.stdout.splitlines()] == [
        "refused not_facilitator",
        "ok table_opened",
        "ok member_joined",
        "ok member_joined",
        "ok member_assigned",
        "ok member_assigned",
        "refused not_facilitator",
        "refused not_facilitator",
        "ok table_started",
        "refused not_facilitator",
        "ok table_paused",
    ]


def test_a_facilitator_named_in_the_option_still_cannot_play(tmp_path: Path) -> None:
    """A facilitator is not a delegation member: their offer is refused not_a_member."""
    script = SEATED.replace("instructor:", "prof:") + "prof: pass\n"
    run = play(tmp_path / "log.db", script, "--facilitator=prof")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].startswith("refused not_a_member: ")


# -- continuing a table ---------------------------------------------------------------------------


def test_a_table_continues_in_a_second_run_on_the_same_db(tmp_path: Path) -> None:
    """A second `parley play` on the same --db and channel goes on with the open table."""
    db = tmp_path / "log.db"
    first = play(
        db, SEATED + "alice: offer give=us-liaison-office ask=dprk-liaison-access\nclock +8\n"
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-2:] == ["ok offer_tabled", "ok clock reminder_sent"]

    second = play(
        db,
        # the clock goes on from the first run's last event (8 minutes into the DPRK's turn),
        # not from the wall clock: two more minutes and the DPRK's turn expires
        "clock +1\n"
        "clock +1\n"
        "instructor: session open scenario=hanoi-2019\n"
        "alice: pass\n"
        "carol: accept\n"
        "clock +8\n",
    )
    assert second.returncode == 0, second.stderr
    assert [line.split(":")[0] for line in second.stdout.splitlines()] == [
        "ok clock",
        "ok clock turn_expired",
        "refused table_exists",
        "ok turn_passed",
        "ok offer_accepted agreement_reached",
        "ok clock reminder_sent",
    ]
    rows = logged(db)
    assert {t for t, _, _ in rows} == {1}
    assert [s for _, s, _ in rows] == list(range(1, len(rows) + 1))

    # the export's timestamps never go back, though the second run began on the wall clock
    export = subprocess.run(
        [sys.executable, "-m", "bot.cli", "export", "1", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    times = [e["at"] for e in json.loads(export.stdout)["events"]]
    assert times == sorted(times)

    # another channel in the same file is another table
    other = play(db, "carol: pass\n", "--channel", "section-c")
    assert other.stdout.startswith("refused unknown_table")
