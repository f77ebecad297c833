"""The log on real SQLite files: append-only events, WAL, several writing processes,
idempotency keys, schema migrations, refused files, scenario snapshots, one open table
per channel."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from bot import paths
from bot.domain import commands as c
from bot.domain.engine import decide, open_table
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.events import Event, EventKind
from bot.domain.scenario import load_scenario
from bot.domain.state import Phase, Replay
from bot.review.export import build_export
from bot.scenarios import ScenarioLibrary
from bot.service import Tables
from bot.store import MIGRATIONS, SCHEMA_VERSION, Store, StoreError

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "helpers" / "append_worker.py"
PARLEY = Path(sys.executable).parent / "parley"

FAC = c.Who(user_id="fac", name="instructor", facilitator=True)
SEATS = {
    "alice": ("us", "head"),
    "bob": ("us", "member"),
    "carol": ("dprk", "head"),
    "dave": ("dprk", "member"),
}


def who(name: str) -> c.Who:
    """A player by name (user id = name)."""
    return c.Who(user_id=name, name=name)


async def seat(tables: Tables, channel: str = "room", start: bool = True) -> int:
    """Open a hanoi-2019 table in ``channel``, seat four players and an observer, start it."""
    opened = await tables.open(FAC, "hanoi-2019", "singapore", channel_id=channel)
    assert opened.ok, opened.refusal
    tid = opened.table_id
    for name in [*SEATS, "erin"]:
        assert (await tables.act(tid, c.Join(who=who(name)))).ok
    for name, (delegation, role) in SEATS.items():
        assign = c.Assign(who=FAC, member=who(name), delegation=delegation, role=role)
        assert (await tables.act(tid, assign)).ok
    if start:
        assert (await tables.act(tid, c.Start(who=FAC))).ok
    return tid


def raw_events(db: Path, table_id: int = 1) -> list[tuple[int, str, str | None]]:
    """(seq, kind, actor user id) of a table's events, read with plain sqlite3."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT seq, kind, actor FROM events WHERE table_id = ? ORDER BY seq", (table_id,)
        ).fetchall()
    return [(s, k, json.loads(a)["user_id"] if a else None) for s, k, a in rows]


@pytest.fixture
def library() -> ScenarioLibrary:
    """The shipped scenarios."""
    return ScenarioLibrary()


@pytest.fixture
async def tables(tmp_path: Path, library: ScenarioLibrary):
    """Tables on a fresh database file in tmp_path."""
    async with await Store.open(tmp_path / "log.db") as store:
        yield Tables(store, library)


# -- append-only -----------------------------------------------------------------------------


async def test_update_and_delete_on_events_fail_through_aiosqlite(
    tmp_path: Path, tables: Tables
) -> None:
    """Another aiosqlite connection cannot UPDATE, DELETE or REPLACE a logged event."""
    await seat(tables)
    before = raw_events(tmp_path / "log.db")
    async with aiosqlite.connect(tmp_path / "log.db") as db:
        for sql in (
            "UPDATE events SET kind = 'forged' WHERE seq = 1",
            "DELETE FROM events WHERE seq = 2",
            "DELETE FROM events",
            "INSERT OR REPLACE INTO events VALUES (1, 1, '2020-01-01', 'forged', NULL, '{}')",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                await db.execute(sql)
        await db.commit()
    assert raw_events(tmp_path / "log.db") == before


async def test_update_and_delete_on_events_fail_through_sqlite3(
    tmp_path: Path, tables: Tables
) -> None:
    """Plain sqlite3 (what a curious student would use) cannot change the log either."""
    await seat(tables)
    before = raw_events(tmp_path / "log.db")
    conn = sqlite3.connect(tmp_path / "log.db", isolation_level=None)
    try:
        for sql in (
            "UPDATE events SET data = '{}'",
            "UPDATE events SET seq = seq + 100 WHERE seq = 3",
            "DELETE FROM events WHERE kind = 'member_joined'",
            "REPLACE INTO events VALUES (1, 2, '2020-01-01', 'forged', NULL, '{}')",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
        # appending a fresh number is still allowed (that is what the log does)
        conn.execute("INSERT INTO events VALUES (1, 999, '2020-01-01', 'statement', NULL, '{}')")
    finally:
        conn.close()
    assert raw_events(tmp_path / "log.db")[:-1] == before


async def test_wal_mode_is_on(tmp_path: Path, tables: Tables) -> None:
    """The file is in WAL mode (persistent: a plain connection sees it) with a -wal file."""
    await seat(tables)
    with sqlite3.connect(tmp_path / "log.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (tmp_path / "log.db-wal").exists()


# -- several processes ------------------------------------------------------------------------


def test_processes_appending_to_one_table_at_once_leave_a_gap_free_sequence(tmp_path: Path) -> None:
    """Three worker processes hammering one table at once: seqs 1..N, unique, none lost."""
    db = tmp_path / "race.db"

    async def setup() -> tuple[int, int]:
        async with await Store.open(db) as store:
            tid = await seat(Tables(store, ScenarioLibrary()))
            return tid, len(await store.events(tid))

    tid, setup_events = asyncio.run(setup())
    n = 300
    workers = [("alice", "say"), ("carol", "say"), ("erin", "refused")]
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(db), str(tid), name, mode, str(n), "--handshake"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for name, mode in workers
    ]
    for proc in procs:  # every worker has imported everything and loaded the table
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    for proc in procs:  # then all go at once
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        reports.append(json.loads(out))

    logged = raw_events(db, tid)
    seqs = [s for s, _, _ in logged]
    total = setup_events + n * len(workers)
    assert seqs == list(range(1, total + 1))  # gap-free, unique, ordered

    told = [s for r in reports for s in r["seqs"]]
    assert len(told) == len(set(told)) == n * len(workers)  # each worker: one event per action
    by_seq = {s: (k, a) for s, k, a in logged}
    for report, (name, mode) in zip(reports, workers, strict=True):
        want = "statement" if mode == "say" else "action_refused"
        assert report["kinds"] == [want] * n
        assert all(by_seq[s] == (want, name) for s in report["seqs"])
        assert report["seqs"] == sorted(report["seqs"])
    assert set(told) == set(range(setup_events + 1, total + 1))
    # the writers were at it at the same time: every one began before any one finished
    # (how finely their writes interleave is up to SQLite's busy handler: a writer in a
    # tight loop may keep the lock for a while, and the others wait, losing nothing)
    assert max(r["began"] for r in reports) < min(r["ended"] for r in reports)

    # and a fresh reader replays the whole table
    async def state() -> tuple[Phase, int]:
        async with await Store.open(db) as store:
            s = await Tables(store, ScenarioLibrary()).state(tid)
            return s.phase, s.last_seq

    assert asyncio.run(state()) == (Phase.NEGOTIATING, total)


# -- idempotency --------------------------------------------------------------------------------


async def test_a_repeated_key_is_applied_once(tmp_path: Path, tables: Tables) -> None:
    """The same key twice: the same outcome comes back and the log holds one set of events."""
    tid = await seat(tables)
    offer = c.Offer(who=who("alice"), give=("us-liaison-office",), ask=("dprk-liaison-access",))
    first = await tables.act(tid, offer, key="interaction-1")
    assert first.ok and first.kinds == ["offer_tabled"]
    after_first = raw_events(tmp_path / "log.db", tid)

    again = await tables.act(tid, offer, key="interaction-1")
    assert again.repeated and again.ok
    assert again.kinds == first.kinds
    assert [e.seq for e in again.events] == [e.seq for e in first.events]

    accept = await tables.act(tid, c.Accept(who=who("carol")), key="interaction-2")
    assert accept.kinds == ["offer_accepted", "agreement_reached"]
    again = await tables.act(tid, c.Accept(who=who("carol")), key="interaction-2")
    assert again.repeated and again.kinds == accept.kinds
    logged = raw_events(tmp_path / "log.db", tid)
    assert logged[: len(after_first)] == after_first
    assert [k for _, k, _ in logged[len(after_first) :]] == ["offer_accepted", "agreement_reached"]


async def test_a_repeated_key_for_a_refusal_logs_one_attempt(
    tmp_path: Path, tables: Tables
) -> None:
    """A refused attempt delivered twice: the same refusal, one action_refused in the log."""
    tid = await seat(tables)
    first = await tables.act(tid, c.Pass(who=who("carol")), key="k-refused")
    again = await tables.act(tid, c.Pass(who=who("carol")), key="k-refused")
    assert first.refusal is not None and again.refusal is not None
    assert (again.refusal.code, again.refusal.message) == (
        first.refusal.code,
        first.refusal.message,
    )
    assert again.refusal.code is RefusalCode.NOT_YOUR_TURN and again.repeated
    kinds = Counter(k for _, k, _ in raw_events(tmp_path / "log.db", tid))
    assert kinds["action_refused"] == 1


async def test_a_repeated_key_is_remembered_by_another_connection(tmp_path: Path) -> None:
    """A key applied through one Store is recognised by a second Store on the same file."""
    db = tmp_path / "log.db"
    async with await Store.open(db) as store:
        tables = Tables(store, ScenarioLibrary())
        opened = await tables.open(FAC, "hanoi-2019", channel_id="x", key="open-1")
        tid = opened.table_id
        said = await tables.act(tid, c.Join(who=who("alice")), key="join-1")
    async with await Store.open(db) as store:
        tables = Tables(store, ScenarioLibrary())
        again = await tables.open(FAC, "hanoi-2019", channel_id="x", key="open-1")
        assert again.repeated and again.ok and again.table_id == tid
        joined = await tables.act(tid, c.Join(who=who("alice")), key="join-1")
        assert joined.repeated and joined.kinds == said.kinds == ["member_joined"]
        assert len(await store.tables()) == 1
        assert [e.kind for e in await store.events(tid)] == [
            EventKind.TABLE_OPENED,
            EventKind.MEMBER_JOINED,
        ]


# -- schema versions -----------------------------------------------------------------------------


def _events_for_v1(scenario_file: Path) -> tuple[str, list[Event]]:
    """A scenario snapshot and a short real event history, made by the pure engine."""
    scenario = load_scenario(scenario_file)
    now = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
    replay = Replay(scenario)
    events: list[Event] = []

    def log(new: list) -> None:
        for e in new:
            event = Event.stamp(e, len(events) + 1, now)
            events.append(event)
            replay.apply(event)

    log([open_table(scenario, FAC, "singapore", "Old seminar")])
    log(decide(replay.state, c.Join(who=who("alice")), now))
    log(decide(replay.state, c.Join(who=who("carol")), now))
    for name, delegation in (("alice", "us"), ("carol", "dprk")):
        command = c.Assign(who=FAC, member=who(name), delegation=delegation, role="head")
        log(decide(replay.state, command, now))
    log(decide(replay.state, c.Start(who=FAC), now))
    offer = c.Offer(who=who("alice"), give=("us-liaison-office",), ask=("dprk-remains",))
    log(decide(replay.state, offer, now))
    log(decide(replay.state, c.Accept(who=who("carol")), now))
    return scenario.model_dump_json(), events


async def test_a_version_1_database_migrates_and_stays_usable(tmp_path: Path) -> None:
    """A file at schema 1 (made by hand) is brought to SCHEMA_VERSION, data intact, usable."""
    db = tmp_path / "old.db"
    snapshot, events = _events_for_v1(paths.RULES_DIR / "hanoi-2019.toml")
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    conn.execute(
        "INSERT INTO tables (guild_id, channel_id, scenario_id, variant, title, scenario_json, "
        "opened_at) VALUES (NULL, 'old-room', 'hanoi-2019', 'singapore', 'Old seminar', ?, ?)",
        (snapshot, events[0].at.isoformat()),
    )
    conn.executemany(
        "INSERT INTO events VALUES (1, ?, ?, ?, ?, ?)",
        [
            (
                e.seq,
                e.at.isoformat(),
                e.kind.value,
                e.actor.model_dump_json() if e.actor else None,
                json.dumps(e.data.dumped()),
            )
            for e in events
        ],
    )
    conn.commit()
    conn.close()

    async with await Store.open(db) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        assert await store.events(1) == events
        tables = Tables(store, ScenarioLibrary())
        state = await tables.state(1)
        assert state.phase is Phase.NEGOTIATING and state.title == "Old seminar"
        assert set(state.agreed) == {"us-liaison-office", "dprk-remains"}
        # usable: new actions continue the sequence, keys and places work
        said = await tables.act(1, c.Say(who=who("carol"), text="Still here."), key="k1")
        assert [e.seq for e in said.events] == [len(events) + 1]
        assert (await tables.act(1, c.Say(who=who("carol"), text="x"), key="k1")).repeated
        await store.write(lambda tx: tx.set_place(1, "status", "12345"))
        assert await store.places(1) == {"status": "12345"}
        export = await build_export(store, 1)
        assert export["outcome"]["scores"]["us"]["score"] == -1 + 3
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events")


async def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    """Pending migrations run in one transaction: if one fails, none is applied."""
    db = tmp_path / "clash.db"
    conn = sqlite3.connect(db)
    # schema 1, plus a stray "places" table that makes migration 3 fail after 2 ran
    conn.executescript(MIGRATIONS[0] + "\nCREATE TABLE places (x);\nPRAGMA user_version = 1;")
    conn.close()
    with pytest.raises(StoreError, match="cannot use this database"):
        await Store.open(db)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert "actions" not in names  # migration 2 was rolled back with 3


async def test_a_database_from_a_newer_parley_is_refused(tmp_path: Path, tables: Tables) -> None:
    """A file whose user_version is above SCHEMA_VERSION: a clear StoreError, data untouched."""
    await seat(tables, start=False)
    await tables.store.close()
    db = tmp_path / "log.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = raw_events(db)
    with pytest.raises(StoreError) as caught:
        await Store.open(db)
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert "newer" in message and "upgrade Parley" in message
    assert raw_events(db) == before
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1


def test_a_newer_database_is_refused_by_the_cli_in_one_line(tmp_path: Path) -> None:
    """`parley tables` on a newer file exits 1 with a one-line message naming the version."""
    db = tmp_path / "future.db"
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    run = subprocess.run([PARLEY, "tables", "--db", db], capture_output=True, text=True, timeout=30)
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "newer than this Parley" in run.stderr


@pytest.mark.parametrize(
    "content",
    [b"name,score\nalice,3\n" * 40, bytes(range(256)) * 8],
    ids=["csv-text", "binary"],
)
async def test_a_file_that_is_not_a_database_is_a_store_error(
    tmp_path: Path, content: bytes
) -> None:
    """Opening a non-SQLite file raises StoreError naming the file, and leaves it alone."""
    path = tmp_path / "notadb.txt"
    path.write_bytes(content)
    with pytest.raises(StoreError, match=r"notadb\.txt: cannot use this database"):
        await Store.open(path)
    assert path.read_bytes() == content


@pytest.mark.parametrize("where", ["notadb.txt", "missing-dir/x.db", "a-directory"])
def test_the_cli_refuses_an_unusable_database_in_one_line(tmp_path: Path, where: str) -> None:
    """`parley tables --db` on a text file, a missing folder or a folder: exit 1, one line."""
    (tmp_path / "notadb.txt").write_text("this is a shopping list, not a database\n" * 20)
    (tmp_path / "a-directory").mkdir()
    run = subprocess.run(
        [PARLEY, "tables", "--db", where],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=30,
    )
    assert run.returncode == 1, run
    assert "Traceback" not in run.stderr
    assert run.stderr.startswith(f"parley: {where}: cannot ")
    assert run.stderr.count("\n") == 1
    assert run.stdout == ""
    assert not (tmp_path / "missing-dir").exists()


# -- the scenario snapshot ------------------------------------------------------------------------


def _edited_library(tmp_path: Path) -> tuple[Path, ScenarioLibrary]:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(paths.RULES_DIR / "hanoi-2019.toml", rules / "hanoi-2019.toml")
    return rules, ScenarioLibrary(rules, paths.PROMPTS_DIR)


async def test_a_table_replays_with_the_scenario_it_was_opened_with(tmp_path: Path) -> None:
    """Editing rules/ after a table opened changes nothing in how that table replays."""
    rules, library = _edited_library(tmp_path)
    db = tmp_path / "log.db"
    async with await Store.open(db) as store:
        tables = Tables(store, library)
        tid = await seat(tables)
        offer = c.Offer(who=who("alice"), give=("us-liaison-office",), ask=("dprk-liaison-access",))
        assert (await tables.act(tid, offer)).ok
        assert (await tables.act(tid, c.Accept(who=who("carol")))).ok
        before = await build_export(store, tid)

    # the instructor edits the copy: new values, new BATNA, a renamed item, a removed one
    text = (rules / "hanoi-2019.toml").read_text()
    text = text.replace("values = { us = -1, dprk = 3 }", "values = { us = -5, dprk = 9 }", 1)
    text = text.replace('title = "Liaison offices in both capitals"', 'title = "Embassies"')
    text = text.replace("batna = 8", "batna = 20").replace("turn_minutes = 10", "turn_minutes = 3")
    start = text.index('[[items]]\nid = "dprk-family-reunions"')
    end = text.index("# -- peace regime")
    text = text[:start] + text[end:]
    (rules / "hanoi-2019.toml").write_text(text)
    edited = ScenarioLibrary(rules, paths.PROMPTS_DIR)
    assert edited.errors == []
    new_scenario = edited.get("hanoi-2019")
    assert new_scenario.item("us-liaison-office").title == "Embassies"

    async with await Store.open(db) as store:
        tables = Tables(store, edited)
        state = await tables.state(tid)
        assert state.item("us-liaison-office").title == "Liaison offices in both capitals"
        assert state.scores()["us"] == {"score": -1 + 3, "batna": 8}
        assert state.rules.turn_minutes == 10
        # the removed item still exists for the old table
        family = c.Offer(who=who("alice"), give=("us-travel-ban",), ask=("dprk-family-reunions",))
        assert (await tables.act(tid, family)).ok
        after = await build_export(store, tid)
        assert after["scenario"] == before["scenario"]
        # a new table gets the edited scenario
        fresh = await tables.open(FAC, "hanoi-2019", channel_id="other-room")
        fresh_state = await tables.state(fresh.table_id)
        assert fresh_state.item("us-liaison-office").title == "Embassies"
        assert fresh_state.scenario.item("dprk-family-reunions") is None


# -- tables per channel ---------------------------------------------------------------------------


async def test_one_open_table_per_channel(tmp_path: Path, tables: Tables) -> None:
    """A second open in a busy channel is refused (table_exists) and logged on that table."""
    tid = await seat(tables, channel="busy")
    events_before = len(await tables.store.events(tid))
    again = await tables.open(FAC, "hanoi-2019", "package", channel_id="busy")
    assert again.refusal is not None and again.refusal.code is RefusalCode.TABLE_EXISTS
    assert again.table_id == tid
    logged = await tables.store.events(tid)
    assert len(logged) == events_before + 1
    last = logged[-1]
    assert last.kind is EventKind.ACTION_REFUSED
    assert last.data.code == "table_exists" and last.data.command == "session open"
    assert last.actor is not None and last.actor.user_id == "fac"
    assert [r.id for r in await tables.store.tables()] == [tid]

    # another channel (or the same channel name in another server) is fine
    other = await tables.open(FAC, "hanoi-2019", channel_id="quiet")
    elsewhere = await tables.open(FAC, "hanoi-2019", guild_id="g2", channel_id="busy")
    assert other.ok and elsewhere.ok
    # once the table is closed, the channel takes a new one
    assert (await tables.act(tid, c.End(who=FAC))).kinds == ["table_closed"]
    reopened = await tables.open(FAC, "hanoi-2019", channel_id="busy")
    assert reopened.ok and reopened.table_id not in (tid, other.table_id, elsewhere.table_id)
    assert (await tables.store.table(tid)).closed_at is not None


async def test_a_non_facilitator_open_in_a_busy_channel_is_logged_there(tables: Tables) -> None:
    """A player's open in a busy channel is refused not_facilitator, logged on the table."""
    tid = await seat(tables, channel="busy", start=False)
    refused = await tables.open(who("alice"), "hanoi-2019", channel_id="busy")
    assert refused.refusal is not None and refused.refusal.code is RefusalCode.NOT_FACILITATOR
    last = (await tables.store.events(tid))[-1]
    assert last.kind is EventKind.ACTION_REFUSED and last.data.code == "not_facilitator"
    # in an empty channel the refusal has no table to be logged on: it is raised
    with pytest.raises(Refusal) as caught:
        await tables.open(who("alice"), "hanoi-2019", channel_id="empty")
    assert caught.value.code is RefusalCode.NOT_FACILITATOR


async def test_unknown_table(tables: Tables) -> None:
    """Acting on, ticking or finding a table that does not exist refuses unknown_table."""
    for attempt in (
        tables.act(999, c.Join(who=who("alice"))),
        tables.tick(999),
        tables.state(999),
        tables.table_in(None, "nowhere"),
    ):
        with pytest.raises(Refusal) as caught:
            await attempt
        assert caught.value.code is RefusalCode.UNKNOWN_TABLE
    assert await tables.store.tables() == []


async def test_a_store_survives_concurrent_tasks_in_one_process(tables: Tables) -> None:
    """Many coroutines acting at once through one Store: one sequence, nothing lost."""
    tid = await seat(tables)
    base = len(await tables.store.events(tid))
    says = [
        tables.act(tid, c.Say(who=who(name), text=f"{name} {i}"))
        for i in range(30)
        for name in ("alice", "dave")
    ]
    outcomes = await asyncio.gather(*says)
    seqs = sorted(e.seq for o in outcomes for e in o.events)
    assert seqs == list(range(base + 1, base + 61))
    assert (await tables.state(tid)).last_seq == base + 60


async def test_a_table_kept_with_a_turn_over_a_year_stays_readable(
    tmp_path: Path, tables: Tables
) -> None:
    """A table opened before turns were limited to a year (its scenario copy says more)
    is still read and exported: the limit is for scenario files, not for the log."""
    tid = await seat(tables)
    await tables.close()
    with sqlite3.connect(tmp_path / "log.db") as conn:
        (text,) = conn.execute("SELECT scenario_json FROM tables WHERE id = ?", (tid,)).fetchone()
        old = json.loads(text)
        old["rules"]["turn_minutes"] = 600_000
        conn.execute("UPDATE tables SET scenario_json = ? WHERE id = ?", (json.dumps(old), tid))
    async with await Store.open(tmp_path / "log.db") as store:
        assert (await store.scenario(tid)).rules.turn_minutes == 600_000
        export = await build_export(store, tid)
    assert export["scenario"]["rules"]["turn_minutes"] == 600_000
