"""The log's design for speed, kept honest: group commit with acknowledgement after the
commit, one unit failing alone, reads that do not wait behind writes, snapshots that a
cold replay starts from (and ignores when unusable), wake-ups kept in the table row."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest

from bot import snapshots
from bot.domain import commands as c
from bot.domain import engine
from bot.domain import state as state_module
from bot.domain.events import Event
from bot.domain.state import Replay
from bot.scenarios import ScenarioLibrary
from bot.service import Tables
from bot.store import LogUnavailable, Snapshot, Store, StoreError
from tests.test_store import FAC, raw_events, seat, who


@pytest.fixture
async def tables(tmp_path: Path):
    """Tables on a fresh database file."""
    async with await Store.open(tmp_path / "log.db") as store:
        yield Tables(store, ScenarioLibrary())


async def hold_writer(store: Store) -> tuple[threading.Event, asyncio.Future[bool]]:
    """Keep the writer thread busy with the writer's connection until the returned event
    is set: writes meanwhile queue up for the thread."""
    started, gate = threading.Event(), threading.Event()

    def wait(db: object) -> bool:
        started.set()
        return gate.wait(10)

    held = asyncio.ensure_future(store.on_writer(wait))
    assert await asyncio.to_thread(started.wait, 10)
    return gate, held


def committed_kinds(db: str, table_id: int) -> list[str]:
    """The kinds a separate plain sqlite3 connection sees committed for a table."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT kind FROM events WHERE table_id = ? ORDER BY seq", (table_id,)
        ).fetchall()
    return [kind for (kind,) in rows]


async def test_actions_on_many_tables_share_commits_and_each_is_committed_when_answered(
    tables: Tables,
) -> None:
    """Forty tables acting at once take fewer commits than actions, and every answer
    comes after its events are visible to another connection."""
    ids = [await seat(tables, channel=f"room-{n}") for n in range(40)]
    commits_before, units_before = tables.store.group_commits
    seen_committed: list[bool] = []

    async def say(tid: int) -> None:
        outcome = await tables.act(tid, c.Say(who=who("alice"), text=f"at {tid}"))
        assert outcome.ok
        # answered: the statement must already be committed
        kinds = await asyncio.to_thread(committed_kinds, tables.store.path, tid)
        seen_committed.append(kinds[-1] == "statement" and len(kinds) == outcome.events[-1].seq)

    await asyncio.gather(*(say(tid) for tid in ids))
    commits, units = tables.store.group_commits
    assert units - units_before == 40
    assert commits - commits_before < 40
    assert seen_committed == [True] * 40


async def test_a_failing_unit_leaves_the_units_it_shares_a_commit_with(tmp_path: Path) -> None:
    """In one group commit, a unit that raises is undone alone; the others commit."""
    async with await Store.open(tmp_path / "log.db") as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        # Hold the writer so that the next units queue up and share one transaction.
        gate, held = await hold_writer(store)

        def boom(tx: object) -> None:
            tx.set_place(tid, "status", "111")  # type: ignore[attr-defined]
            raise ValueError("this unit fails")

        first = asyncio.ensure_future(store.set_place(tid, "room:us", "222"))
        failing = asyncio.ensure_future(store.write(boom))
        last = asyncio.ensure_future(store.set_place(tid, "room:dprk", "333"))
        while store._writer._jobs.qsize() < 3:  # the three wait behind the held job
            await asyncio.sleep(0.001)  # (they are queued within a loop turn or two)
        commits_before, _ = store.group_commits
        gate.set()
        assert await held is True
        await first
        with pytest.raises(ValueError, match="this unit fails"):
            await failing
        await last
        assert store.group_commits[0] - commits_before == 1  # the three together
        assert await store.places(tid) == {"room:us": "222", "room:dprk": "333"}


async def test_reads_answer_while_the_writer_is_busy(tables: Tables) -> None:
    """With the writer thread held inside a transaction, a table's state and listing
    still come back (reads use their own connection and the committed state)."""
    tid = await seat(tables)
    gate, held = await hold_writer(tables.store)
    try:
        state = await asyncio.wait_for(tables.state(tid), timeout=5)
        assert state.phase.value == "negotiating"
        listing = await asyncio.wait_for(tables.tables(), timeout=5)
        assert [summary.row.id for summary in listing] == [tid]
        # a write waits for the writer, and is answered only after its commit
        said = asyncio.ensure_future(tables.act(tid, c.Say(who=who("alice"), text="later")))
        await asyncio.sleep(0.05)
        assert not said.done()
    finally:
        gate.set()
    await held
    assert (await said).ok
    assert (await tables.state(tid)).last_seq == (await said).events[-1].seq


async def test_another_process_write_is_seen_by_the_next_read(tmp_path: Path) -> None:
    """A cached state is checked against the log: what another connection logged shows."""
    db = tmp_path / "log.db"
    async with await Store.open(db) as one, await Store.open(db) as two:
        first, second = Tables(one, ScenarioLibrary()), Tables(two, ScenarioLibrary())
        tid = await seat(first)
        before = await second.state(tid)
        said = await first.act(tid, c.Say(who=who("carol"), text="from the other process"))
        after = await second.state(tid)
        assert after.last_seq == said.events[-1].seq > before.last_seq
        # and the second one's next action is numbered after it, no gap, no clash
        passed = await second.act(tid, c.Pass(who=who("alice")))
        assert passed.ok and passed.events[0].seq == said.events[-1].seq + 1


def count_catch_up_reads(monkeypatch: pytest.MonkeyPatch, store: Store) -> list[int]:
    """Record the table of every catch-up read a unit of ``store`` makes inside its
    transaction."""
    from bot.store import Transaction

    reads: list[int] = []
    original = Transaction.events_after

    def counted(self: Transaction, table_id: int, after: int) -> list[Event]:
        if self._db is store._writer._db:
            reads.append(table_id)
        return original(self, table_id, after)

    monkeypatch.setattr(Transaction, "events_after", counted)
    return reads


async def test_an_action_reads_to_catch_up_only_when_another_process_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's data_version tells a unit whether another connection committed since its
    table's fold last caught up: if not, the catch-up read is skipped; if so, it is made,
    and the action is numbered after the other process's events."""
    db = tmp_path / "log.db"
    async with await Store.open(db) as one, await Store.open(db) as two:
        first, second = Tables(one, ScenarioLibrary()), Tables(two, ScenarioLibrary())
        tid = await seat(first)
        await second.act(tid, c.Say(who=who("bob"), text="caught up once"))
        reads = count_catch_up_reads(monkeypatch, two)
        for n in range(3):
            await second.act(tid, c.Say(who=who("bob"), text=f"alone {n}"))
        assert reads == []
        said = await first.act(tid, c.Say(who=who("carol"), text="from the other process"))
        passed = await second.act(tid, c.Pass(who=who("alice")))  # no read before it
        assert reads == [tid]
        assert passed.ok and passed.events[0].seq == said.events[-1].seq + 1
        assert passed.state is not None and passed.state.last_seq == passed.events[-1].seq


async def test_a_maintenance_job_that_writes_makes_the_next_action_catch_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job on the writer's own connection (which data_version does not see) makes the
    next action read to catch up only if it changed rows: a checkpoint does not, an
    insert does, and the action is numbered after the inserted event."""
    async with await Store.open(tmp_path / "log.db") as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        await tables.act(tid, c.Say(who=who("bob"), text="caught up once"))
        reads = count_catch_up_reads(monkeypatch, store)
        await store.on_writer(lambda db: db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall())
        await tables.act(tid, c.Say(who=who("bob"), text="after a checkpoint"))
        assert reads == []
        last = (await tables.state(tid)).last_seq
        row = (tid, last + 1, "2026-12-02T00:00:00+00:00", "statement", None, '{"text":"x"}')
        await store.on_writer(lambda db: db.execute("INSERT INTO events VALUES (?,?,?,?,?,?)", row))
        said = await tables.act(tid, c.Say(who=who("bob"), text="after the insert"))
        assert reads == [tid]
        assert said.events[0].seq == last + 2


async def test_two_services_on_one_store_see_each_others_actions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two services sharing one store write through one connection, which data_version
    cannot tell apart: every action then reads to catch up, and none is misnumbered."""
    async with await Store.open(tmp_path / "log.db") as store:
        first, second = Tables(store, ScenarioLibrary()), Tables(store, ScenarioLibrary())
        tid = await seat(first)
        await second.act(tid, c.Say(who=who("bob"), text="second, once"))
        reads = count_catch_up_reads(monkeypatch, store)
        seqs = []
        for n in range(4):
            acting = (first, second)[n % 2]
            said = await acting.act(tid, c.Say(who=who("bob"), text=f"turn {n}"))
            seqs.append(said.events[0].seq)
        assert reads == [tid] * 4
        assert seqs == list(range(seqs[0], seqs[0] + 4))


async def long_table(tables: Tables, actions: int) -> int:
    """A started table with ``actions`` more actions on it: observers joining, and a
    pass (an undoable turn action) after every third, up to 18 (nine rounds)."""
    tid = await seat(tables)
    for n in range(actions):
        assert (await tables.act(tid, c.Join(who=who(f"observer-{n}")))).ok
        if n % 3 == 2 and n < 54:
            state = await tables.state(tid)
            head = {"us": "alice", "dprk": "carol"}[state.turn or "us"]
            assert (await tables.act(tid, c.Pass(who=who(head)))).ok
    return tid


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows, checkpoints and snapshot intervals small enough for a short table."""
    monkeypatch.setattr(state_module, "CHECKPOINT_EVERY", 4)
    monkeypatch.setattr(state_module, "WINDOW", 8)
    monkeypatch.setattr("bot.service.SNAPSHOT_EVERY", 8)


async def test_a_cold_replay_starts_from_the_snapshot_and_reads_only_what_follows(
    tmp_path: Path, small_windows: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long table keeps a snapshot; a fresh service folds only the events after it and
    reaches the same state as a fold of the whole log."""
    db = tmp_path / "log.db"
    async with await Store.open(db) as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await long_table(tables, 60)
        kept = await store.snapshot(tid)
        assert kept is not None and kept.format == snapshots.FORMAT and kept.seq > 20
        scenario = await store.scenario(tid)
        whole = Replay(scenario, await store.events(tid), window=None).state

        reads: list[int] = []
        stream = store.stream

        def counting(table_id: int, after: int = 0):  # type: ignore[no-untyped-def]
            reads.append(after)
            return stream(table_id, after)

        monkeypatch.setattr(store, "stream", counting)
        cold = await Tables(store, ScenarioLibrary()).state(tid)
        assert reads == [kept.seq]
        assert cold == whole


async def test_an_unusable_snapshot_is_ignored_and_the_log_folded(
    tmp_path: Path, small_windows: None
) -> None:
    """A snapshot in another format (an older Parley) or damaged is passed over."""
    db = tmp_path / "log.db"
    async with await Store.open(db) as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await long_table(tables, 40)
        whole = Replay(await store.scenario(tid), await store.events(tid), window=None).state
        kept = await store.snapshot(tid)
        assert kept is not None
    for bad in (
        Snapshot(kept.seq + 1, "pickle-0-older", kept.state),
        Snapshot(kept.seq + 2, snapshots.FORMAT, b"not a pickle"),
    ):
        async with await Store.open(db) as store:
            await store.put_snapshot(tid, bad)
            assert await Tables(store, ScenarioLibrary()).state(tid) == whole


async def test_undo_past_the_snapshot_folds_the_log_again(
    tmp_path: Path, small_windows: None
) -> None:
    """Undo after undo on a fresh service reaches back past its snapshot and window, and
    every state matches a fold of the whole log."""
    db = tmp_path / "log.db"
    async with await Store.open(db) as store:
        tid = await long_table(Tables(store, ScenarioLibrary()), 54)
        tables = Tables(store, ScenarioLibrary())
        scenario = await store.scenario(tid)
        for _ in range(18):
            undone = await tables.act(tid, c.Undo(who=FAC))
            assert undone.ok, undone.refusal
            whole = Replay(scenario, await store.events(tid), window=None).state
            assert await tables.state(tid) == whole
        assert [k for _, k, _ in raw_events(db, tid)].count("action_reverted") == 18


async def test_wakeups_come_from_the_rows_as_the_rules_say(tables: Tables) -> None:
    """The wake-ups listed from the table rows are those the rules give each state."""
    ids = [await seat(tables, channel=f"w-{n}", start=n % 2 == 0) for n in range(4)]
    await tables.act(ids[0], c.Pass(who=who("alice")))
    listed = await tables.wakeups()
    assert listed == {tid: engine.next_wakeup(await tables.state(tid)) for tid in ids}
    assert listed[ids[1]] is None and listed[ids[0]] is not None
    only_some = await tables.wakeups(guilds=lambda guild: guild is not None)
    assert only_some == {}


async def test_a_read_after_a_commit_sees_it_whatever_other_reads_are_in_flight(
    tmp_path: Path,
) -> None:
    """Tables opened at once are each found by a read right after their answer, while
    other reads run on the same connection (none holds an old snapshot open)."""
    for trial in range(12):
        async with await Store.open(tmp_path / f"log-{trial}.db") as store:
            tables = Tables(store, ScenarioLibrary())

            async def open_and_read(n: int, tables: Tables = tables, store: Store = store) -> bool:
                opened = await tables.open(FAC, "hanoi-2019", channel_id=f"c{n}")
                return await store.table(opened.table_id) is not None

            assert await asyncio.gather(*(open_and_read(n) for n in range(5))) == [True] * 5


async def test_the_writer_survives_sqlite_failing_under_a_batch(tmp_path: Path) -> None:
    """When SQLite itself fails mid-batch (here a unit ends the transaction under the
    others), every unit of it gets a clear error, nothing is half-kept, and the next
    write goes through: the writer thread never dies with callers left waiting."""
    async with await Store.open(tmp_path / "log.db") as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        gate, held = await hold_writer(store)

        def breaks(tx: object) -> None:
            tx._db.execute("COMMIT")  # type: ignore[attr-defined]

        broken = asyncio.ensure_future(store.write(breaks))
        other = asyncio.ensure_future(store.set_place(tid, "room:us", "222"))
        while store._writer._jobs.qsize() < 2:
            await asyncio.sleep(0.001)
        gate.set()
        await held
        results = await asyncio.wait_for(
            asyncio.gather(broken, other, return_exceptions=True), timeout=10
        )
        assert all(isinstance(r, Exception) for r in results), results
        assert any(isinstance(r, LogUnavailable) for r in results)
        assert await store.places(tid) == {}
        said = await tables.act(tid, c.Say(who=who("alice"), text="still writing"))
        assert said.ok and said.events[0].kind.value == "statement"
        # the same on the loop, where a unit alone commits when nothing stands in its way
        with pytest.raises(LogUnavailable):
            await asyncio.wait_for(store.write(breaks), timeout=10)
        said = await tables.act(tid, c.Say(who=who("alice"), text="and still writing"))
        assert said.ok and said.events[0].kind.value == "statement"


async def test_a_write_after_close_is_refused_at_once(tmp_path: Path) -> None:
    """Writing to a closed log raises a StoreError rather than waiting for ever."""
    store = await Store.open(tmp_path / "log.db")
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.set_place(1, "status", "1")


async def test_a_table_logged_before_wakeups_were_kept_gets_its_summary_once(
    tmp_path: Path,
) -> None:
    """A row with no kept wake-up (logged by an older Parley) is worked out from its log
    once, and kept: the next look reads it from the row."""
    db = tmp_path / "log.db"
    async with await Store.open(db) as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        expected = engine.next_wakeup(await tables.state(tid))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE tables SET wakeup_at = NULL, summary_seq = NULL")
    async with await Store.open(db) as store:
        fresh = Tables(store, ScenarioLibrary())
        assert [w.known for w in await store.wakeups()] == [False]
        assert await fresh.wakeups() == {tid: expected}
        (kept,) = await store.wakeups()
        assert kept.known and kept.at == expected


async def test_a_write_commits_on_the_loop_unless_it_would_wait(tmp_path: Path) -> None:
    """With the write lock free, units commit on the event loop's own thread; while
    another connection holds it, they go to the writer thread, the loop stays free, and
    they commit once the lock is let go."""
    async with await Store.open(tmp_path / "log.db", busy_timeout_ms=20_000) as store:
        where: list[str] = []

        def unit(tx: object) -> str:
            where.append(threading.current_thread().name)
            return "done"

        assert await store.write(unit) == "done"
        assert where == [threading.current_thread().name]

        other = sqlite3.connect(store.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process is writing
        try:
            waiting = asyncio.ensure_future(store.write(unit))
            while len(where) < 1 or not store._writer._queued:
                await asyncio.sleep(0.001)
            # the loop answers reads and timers meanwhile
            await asyncio.wait_for(store.schema_version(), timeout=5)
            assert not waiting.done() and where == [threading.current_thread().name]
        finally:
            other.execute("COMMIT")
            other.close()
        assert await asyncio.wait_for(waiting, timeout=10) == "done"
        assert where[1] == "parley-log-writer"
        # and once the thread is idle again, the next write is back on the loop
        while store._writer._queued:
            await asyncio.sleep(0.001)
        await store.write(unit)
        assert where[2] == threading.current_thread().name


async def test_the_write_ahead_log_is_checkpointed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commits made on the loop do not checkpoint there, but the writer's threads do, so
    the WAL file stays small however many commits are made."""
    from bot import store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_PAGES", 30)
    async with await Store.open(tmp_path / "log.db") as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        for n in range(300):
            await tables.act(tid, c.Say(who=who("alice"), text=f"statement {n} " + "x" * 500))
        await store.on_writer(lambda db: None)  # any checkpoint queued is done
        pages = (tmp_path / "log.db-wal").stat().st_size // 4096
        # 300 commits of two pages or more each, 600 pages and more unchecked; kept near 30
        # (at most twice the commits due while the copier copies; the first checkpoint
        # comes after the table's opening, with its scenario and prompts: about 80 pages)
        assert pages < 200, pages


async def test_checkpoints_keep_the_wal_near_its_page_target_whatever_a_commit_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer checkpoints when the WAL holds about CHECKPOINT_PAGES pages, not after a
    fixed count of commits: big commits are checkpointed more often than small ones, and
    either way the WAL a checkpoint finds stays near the target."""
    from bot import store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_PAGES", 40)
    checkpoints, pages = {}, {}
    for size in (20, 3_000):  # a page or two per commit; four or five
        async with await Store.open(tmp_path / f"log-{size}.db") as store:
            tables = Tables(store, ScenarioLibrary())
            tid = await seat(tables)
            for n in range(400):
                await tables.act(tid, c.Say(who=who("alice"), text=f"{n} ".ljust(size, "x")))
            await store.on_writer(lambda db: None)  # any checkpoint queued is done
            checkpoints[size], pages[size] = store._writer.checkpoints, store._writer.wal_pages
    # about 2.5 times the pages per commit: 2 to 2.5 times the checkpoints (a fixed count
    # of commits would make it 1)
    assert checkpoints[3_000] >= 1.5 * checkpoints[20], checkpoints
    assert all(10 <= found <= 2 * 40 + 10 for found in pages.values()), pages


async def test_checkpoints_are_copied_beside_the_commits_by_a_thread_of_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copier's thread makes each checkpoint's copy on its own connection, the writer
    finishes every one of them, and the thread ends with the log."""
    from bot import store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_PAGES", 40)
    async with await Store.open(tmp_path / "log.db") as store:
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        for n in range(300):
            await tables.act(tid, c.Say(who=who("alice"), text=f"statement {n}"))
        await store.on_writer(lambda db: None)  # any checkpoint queued is done
        writer = store._writer
        assert writer.checkpoints >= 5
        # (a copy SQLite answers busy, which no test here provokes, is left to the finish)
        assert writer.checkpoints - 1 <= writer._copier.copies <= writer.checkpoints + 1
        copier = writer._copier._thread
        assert copier.name == "parley-log-checkpointer" and copier.is_alive()
    assert not copier.is_alive()


async def test_a_copier_that_cannot_open_the_file_leaves_checkpoints_to_the_writer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the copier's connection fails, the writer's own connection copies the whole WAL
    at each checkpoint, so the WAL still stays small."""
    from bot import store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_PAGES", 40)
    async with await Store.open(tmp_path / "log.db") as store:
        store._writer._copier._path = str(tmp_path)  # a folder: SQLite cannot open it
        tables = Tables(store, ScenarioLibrary())
        tid = await seat(tables)
        for n in range(300):
            await tables.act(tid, c.Say(who=who("alice"), text=f"statement {n}"))
        await store.on_writer(lambda db: None)
        assert store._writer._copier.copies == 0
        assert store._writer.checkpoints >= 5
        assert 0 < store._writer.wal_pages <= 2 * 40 + 10
        assert len(committed_kinds(str(tmp_path / "log.db"), tid)) > 300


async def test_units_written_just_before_close_are_committed(tmp_path: Path) -> None:
    """Units written in the loop turn the log closes in are still committed, and their
    callers answered, before the connections close."""
    store = await Store.open(tmp_path / "log.db")
    tables = Tables(store, ScenarioLibrary())
    tid = await seat(tables)
    places = [asyncio.ensure_future(store.set_place(tid, f"room:{n}", str(n))) for n in range(3)]
    await asyncio.sleep(0)  # the three have written their units; no commit has run yet
    await store.close()
    await asyncio.wait_for(asyncio.gather(*places), timeout=10)
    with sqlite3.connect(tmp_path / "log.db") as conn:
        rows = conn.execute("SELECT name FROM places WHERE table_id = ?", (tid,)).fetchall()
    assert sorted(name for (name,) in rows) == ["room:0", "room:1", "room:2"]


async def test_a_lookup_sqlite_answers_busy_goes_through_the_reader(tables: Tables) -> None:
    """The small reads made on the loop never wait: when SQLite answers busy there, the
    same read goes through the reader connection and gives the same answer."""
    tid = await seat(tables)
    store = tables.store
    expected = (await store.places(tid), await store.head(tid), await store.table(tid))

    class Busy:
        def execute(self, *args: object) -> None:
            raise sqlite3.OperationalError("database is locked")

    peek, store._peek = store._peek, Busy()  # type: ignore[assignment]
    try:
        assert (await store.places(tid), await store.head(tid), await store.table(tid)) == expected
    finally:
        store._peek = peek
