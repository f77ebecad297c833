"""The service over a real SQLite log: closed tables stay reachable, a failed write
changes nothing (not even the cache), bounded memory, listings without replay, and each
table's own copy of its prompts."""

from __future__ import annotations

import io
import shutil
import sqlite3
from pathlib import Path

import pytest

from bot import cli, paths
from bot.domain import commands as c
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.state import Phase
from bot.scenarios import ScenarioLibrary
from bot.service import LogUnavailable, Tables
from bot.store import Store
from tests.test_store import FAC, raw_events, seat, who


async def fill_disk(tables: Tables) -> None:
    """Let the log's connection grow no further (see :func:`stop_growth`)."""
    await stop_growth(tables.store)


async def stop_growth(store: Store) -> None:
    """Let a store's connection grow no further: SQLite then answers 'database or disk is
    full' (SQLITE_FULL), as on a full disk."""

    def stop(db: sqlite3.Connection) -> None:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")

    await store.on_writer(stop)


async def free_disk(tables: Tables) -> None:
    await tables.store.on_writer(lambda db: db.execute("PRAGMA max_page_count = 1073741823"))


async def write_until_full(tables: Tables, tid: int) -> int:
    """Statements until the log is full (a page may have room left); returns how many
    went in before the failure."""
    for n in range(10_000):
        try:
            await tables.act(tid, c.Say(who=who("alice"), text="x" * 2000))
        except LogUnavailable:
            return n
    raise AssertionError("the log never filled up")


@pytest.fixture
async def tables(tmp_path: Path):
    async with await Store.open(tmp_path / "log.db") as store:
        yield Tables(store, ScenarioLibrary())


async def test_a_full_disk_changes_nothing_and_the_cache_stays_with_the_log(
    tmp_path: Path, tables: Tables
) -> None:
    """A turn action the log cannot take raises LogUnavailable; the table is exactly as the
    log says (the cache never runs ahead), and once there is room the same action works."""
    tid = await seat(tables)
    before = await tables.state(tid)
    await fill_disk(tables)
    await write_until_full(tables, tid)
    logged = raw_events(tmp_path / "log.db", tid)
    offer = c.Offer(who=who("alice"), give=("us-liaison-office",), note="n" * 4000)
    with pytest.raises(LogUnavailable, match=r"disk is full.*nothing changed"):
        await tables.act(tid, offer)
    after = await tables.state(tid)
    assert (after.turn, after.round, after.last_seq) == (before.turn, before.round, logged[-1][0])
    assert raw_events(tmp_path / "log.db", tid) == logged
    await free_disk(tables)
    tabled = await tables.act(tid, offer)
    assert tabled.kinds == ["offer_tabled"] and tabled.events[0].seq == logged[-1][0] + 1
    assert (await tables.state(tid)).turn == "dprk"


async def test_a_locked_database_is_log_unavailable(tmp_path: Path) -> None:
    """Another program holding the write lock makes an action fail cleanly, not hang."""
    async with await Store.open(tmp_path / "log.db", busy_timeout_ms=50) as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        other = sqlite3.connect(tmp_path / "log.db", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(LogUnavailable, match="locked"):
                await tables.act(tid, c.Pass(who=who("alice")))
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert (await tables.act(tid, c.Pass(who=who("alice")))).ok


async def test_play_prints_error_naming_the_line_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`parley play` on a log that cannot take a line prints `error: line N: ...` and
    exits 3; nothing of that line is logged."""
    db = tmp_path / "log.db"
    script = [
        "instructor: session open scenario=hanoi-2019",
        "instructor: session assign member=alice delegation=us role=head",
        *(f'alice: say text="{"x" * 1500}"' for _ in range(200)),
    ]
    out = io.StringIO()

    async def open_full(path: str) -> Store:
        """The real store, on a log that cannot grow any more (SQLITE_FULL)."""
        store = await Store.open(path)
        await stop_growth(store)
        return store

    code, _ = await cli.play_lines(script[:2], str(db), ["instructor"], io.StringIO())
    assert code == 0
    monkeypatch.setattr(cli, "_open_store", open_full)
    code, _ = await cli.play_lines(script[2:], str(db), ["instructor"], out)
    assert code == cli.EXIT_LOG_UNAVAILABLE == 3
    lines = out.getvalue().splitlines()
    assert lines[-1].startswith("error: line ") and "disk is full" in lines[-1]
    failed_line = int(lines[-1].split()[2].rstrip(":"))
    assert all(line == "ok statement" for line in lines[:-1])
    assert failed_line == len(lines)  # one result line per line played, the error last
    statements = [k for _, k, _ in raw_events(db) if k == "statement"]
    assert len(statements) == len(lines) - 1


async def test_a_closed_table_stays_the_channels_table_and_undo_reopens_it(
    tables: Tables,
) -> None:
    """After /session end the channel still finds its table; players are refused with
    wrong_phase (logged there); undo of the end reopens it where it was."""
    tid = await seat(tables, channel="sec-a")
    assert (await tables.act(tid, c.Offer(who=who("alice"), give=("us-liaison-office",)))).ok
    assert (await tables.act(tid, c.End(who=FAC))).ok
    assert await tables.table_in(None, "sec-a") == tid
    refused = await tables.act(tid, c.Pass(who=who("carol")))
    assert refused.refusal is not None and refused.refusal.code is RefusalCode.WRONG_PHASE
    assert "ended it with /session end" in refused.refusal.message
    undone = await tables.act(tid, c.Undo(who=FAC))
    assert undone.kinds == ["action_reverted"]
    state = await tables.state(tid)
    assert state.phase is Phase.NEGOTIATING and state.turn == "dprk"
    assert state.standing is not None
    [summary] = await tables.tables()
    assert (summary.phase, summary.row.closed_at, summary.close_reason) == (
        "negotiating",
        None,
        None,
    )


async def test_a_newer_table_in_the_channel_wins_and_the_old_cannot_reopen(
    tables: Tables,
) -> None:
    """Once a channel has opened a new table, it is the channel's table; undoing the old
    one's close would leave two open tables in one channel, so it is refused."""
    old = await seat(tables, channel="sec-b")
    await tables.act(old, c.End(who=FAC))
    new = (await tables.open(FAC, "hanoi-2019", channel_id="sec-b")).table_id
    assert await tables.table_in(None, "sec-b") == new
    with pytest.raises(Refusal) as caught:
        await tables.act(old, c.Undo(who=FAC))
    assert caught.value.code is RefusalCode.TABLE_EXISTS
    assert (await tables.state(old)).phase is Phase.CLOSED


async def test_the_cache_is_bounded_and_closed_tables_leave_it(tmp_path: Path) -> None:
    """At most cache_tables tables stay in memory (least recently used go first), and a
    table leaves as it closes; an evicted table reads back from the log unchanged."""
    async with await Store.open(tmp_path / "log.db") as store:
        tables = Tables(store, ScenarioLibrary(), cache_tables=2)
        ids = [await seat(tables, channel=f"ch-{n}") for n in range(3)]
        assert tables.cached == ids[1:]
        state = await tables.state(ids[0])
        assert state.phase is Phase.NEGOTIATING and tables.cached == [ids[2], ids[0]]
        await tables.act(ids[2], c.End(who=FAC))
        assert tables.cached == [ids[0]]
        assert (await tables.state(ids[2])).phase is Phase.CLOSED


async def test_listing_tables_replays_none(tmp_path: Path) -> None:
    """/session list reads each table's phase and agreements from the summary kept with
    every write: a fresh service lists them without replaying a single table."""
    db = tmp_path / "log.db"
    async with await Store.open(db) as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        await tables.act(
            tid,
            c.Offer(who=who("alice"), give=("us-liaison-office",), ask=("dprk-liaison-access",)),
        )
        await tables.act(tid, c.Accept(who=who("carol")))
        other = await seat(tables, channel="other")
        await tables.act(other, c.WalkAway(who=who("alice")))
    async with await Store.open(db) as store:
        fresh = Tables(store, ScenarioLibrary())
        listed = {t.row.id: (t.phase, t.agreed, t.close_reason) for t in await fresh.tables()}
        assert listed == {tid: ("negotiating", 2, None), other: ("closed", 0, "walked_away")}
        assert fresh.cached == []


async def test_a_table_keeps_the_prompts_it_opened_with(tmp_path: Path) -> None:
    """Editing prompts/ after a table opened changes neither its briefs nor its debrief."""
    prompts = tmp_path / "prompts"
    shutil.copytree(paths.PROMPTS_DIR, prompts)
    library = ScenarioLibrary(paths.RULES_DIR, prompts)
    async with await Store.open(tmp_path / "log.db") as store:
        tables = Tables(store, library)
        tid = await seat(tables)
        scenario = (await tables.state(tid)).scenario
        brief = scenario.delegations[0].brief
        original = (prompts / brief).read_text(encoding="utf-8")
        (prompts / brief).write_text("Rewritten after the class.", encoding="utf-8")
        (prompts / scenario.prompts.debrief).write_text("New questions.", encoding="utf-8")
        assert await tables.prompt(tid, brief) == original
        export = await tables.export(tid)
        assert export["prompts"][brief] == original
        assert "New questions." not in export["prompts"].values()
