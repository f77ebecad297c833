"""The log: one SQLite file, append-only events, numbered per table.

A write is a *unit*: a plain function of a :class:`Transaction`, run whole on the writer's
connection, so an action costs one commit however many statements it takes. Units written
in the same turn of the event loop share one ``BEGIN IMMEDIATE`` transaction (group
commit), each in its own savepoint: one unit failing leaves the others in, and each caller
hears back only after the commit that holds its unit. That commit is made on the loop
itself when it need not wait (in WAL mode with ``synchronous=NORMAL`` it appends to the
WAL without a sync, cheaper than a trip to a thread and back); whenever it would wait (the
write lock held by another process, a checkpoint, maintenance) the units go to the writer
thread instead, which waits for them. Checkpoints are made mostly beside the commits, on a
thread and connection of their own (see :class:`_Copier`). Two processes writing to the
same file take turns at the write lock, and a table's sequence stays gap-free and unique
because a unit checks the table's last number inside the transaction. The database itself
refuses UPDATE and DELETE on events.

Reads go through aiosqlite on a second, read-only connection: in WAL mode they see the
last commit without waiting behind the writer. The one-row check of a table's last number
and the other small reads by an index (a table's row, its places, the table of a
channel) are made on the loop, on a third connection that never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import aiosqlite

from bot.domain.events import Actor, Event, NewEvent
from bot.domain.scenario import STORED, Scenario

#: Numbered migrations; each runs once, all pending ones in one transaction.
MIGRATIONS: Sequence[str] = (
    # 1: tables and their append-only events
    """
    CREATE TABLE tables (
        id INTEGER PRIMARY KEY,
        guild_id TEXT,
        channel_id TEXT,
        scenario_id TEXT NOT NULL,
        variant TEXT NOT NULL,
        title TEXT NOT NULL,
        scenario_json TEXT NOT NULL,
        opened_at TEXT NOT NULL,
        closed_at TEXT
    );
    CREATE UNIQUE INDEX one_open_table_per_channel
        ON tables (guild_id, channel_id) WHERE closed_at IS NULL AND channel_id IS NOT NULL;
    CREATE TABLE events (
        table_id INTEGER NOT NULL REFERENCES tables (id),
        seq INTEGER NOT NULL CHECK (seq >= 1),
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT,
        data TEXT NOT NULL,
        PRIMARY KEY (table_id, seq)
    ) WITHOUT ROWID;
    CREATE TRIGGER events_are_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END;
    CREATE TRIGGER events_are_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END;
    """,
    # 2: idempotency keys, so the same incoming action is never applied twice
    """
    CREATE TABLE actions (
        key TEXT PRIMARY KEY,
        table_id INTEGER REFERENCES tables (id),
        first_seq INTEGER,
        last_seq INTEGER,
        outcome TEXT NOT NULL,
        at TEXT NOT NULL
    );
    """,
    # 3: where a table lives in Discord (rooms, status message), outside the event log
    """
    CREATE TABLE places (
        table_id INTEGER NOT NULL REFERENCES tables (id),
        name TEXT NOT NULL,
        discord_id TEXT NOT NULL,
        PRIMARY KEY (table_id, name)
    ) WITHOUT ROWID;
    """,
    # 4: INSERT OR REPLACE would overwrite an event without firing the DELETE trigger
    """
    CREATE TRIGGER events_are_append_only_replace BEFORE INSERT ON events
        WHEN EXISTS (SELECT 1 FROM events WHERE table_id = NEW.table_id AND seq = NEW.seq)
        BEGIN SELECT RAISE(ABORT, 'events are append-only: REPLACE refused'); END;
    """,
    # 5: a table's summary for listings (kept with each write, so a list replays nothing),
    # and the copy of its prompts (briefs, injects, debrief) as they were when it opened
    """
    ALTER TABLE tables ADD COLUMN phase TEXT;
    ALTER TABLE tables ADD COLUMN agreed INTEGER;
    ALTER TABLE tables ADD COLUMN close_reason TEXT;
    ALTER TABLE tables ADD COLUMN prompts_json TEXT;
    """,
    # 6: practice tables (a student against counterparts), left out of listings by default
    """
    ALTER TABLE tables ADD COLUMN practice INTEGER NOT NULL DEFAULT 0;
    """,
    # 7: the clock's next wake-up kept with the summary (valid as of summary_seq), so a
    # restart schedules every open table without replaying one; and one snapshot of each
    # long table's state (a cache beside the log: a cold replay folds only what follows)
    """
    ALTER TABLE tables ADD COLUMN wakeup_at TEXT;
    ALTER TABLE tables ADD COLUMN summary_seq INTEGER;
    CREATE TABLE snapshots (
        table_id INTEGER PRIMARY KEY REFERENCES tables (id),
        seq INTEGER NOT NULL,
        format TEXT NOT NULL,
        state BLOB NOT NULL
    );
    """,
    # 8: every command finds its table by its channel (or caucus room), so both lookups
    # use an index rather than reading every row
    """
    CREATE INDEX tables_by_channel ON tables (guild_id, channel_id);
    CREATE INDEX places_by_discord_id ON places (discord_id);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class TableRow:
    """A table as the database lists it."""

    id: int
    guild_id: str | None
    channel_id: str | None
    scenario_id: str
    variant: str
    title: str
    opened_at: datetime
    closed_at: datetime | None
    #: The summary kept with each write (None for tables logged before schema 5).
    phase: str | None = None
    agreed: int | None = None
    close_reason: str | None = None
    #: A student's practice table against counterparts (see ``/practice``).
    practice: bool = False


@dataclass(frozen=True)
class Remembered:
    """What an earlier delivery of the same action produced."""

    table_id: int | None
    first_seq: int | None
    last_seq: int | None
    outcome: dict[str, Any]


class StoreError(Exception):
    """The database cannot be used (wrong file, newer schema, corrupt)."""


class LogUnavailable(StoreError):
    """A write could not be committed (disk full, read-only or locked file): nothing changed."""


@dataclass(frozen=True)
class Wakeup:
    """An open table's next wake-up as its summary keeps it."""

    table_id: int
    guild_id: str | None
    #: When the clock next has something to do (None: nothing until someone acts).
    at: datetime | None
    #: False for a table last written before the wake-up was kept: replay it to know.
    known: bool


@dataclass(frozen=True)
class Snapshot:
    """A table's state as of ``seq``, in the serialized ``format`` it was written in."""

    seq: int
    format: str
    state: bytes


#: The integers SQLite stores (a table id outside them cannot be asked about).
_SQLITE_INTEGERS = range(-(2**63), 2**63)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


#: How an event's data is written (json.dumps with these options would build an encoder
#: per call).
_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def _actor_json(actor: Actor | None) -> str | None:
    """An actor's JSON, kept (actors are frozen, and a table's members act again and
    again)."""
    return actor.model_dump_json() if actor is not None else None


def event_row(table_id: int, event: Event) -> tuple[int, int, str, str, str | None, str]:
    """An event as the log's row stores it: table, seq, at, kind, actor and data (JSON)."""
    return (
        table_id,
        event.seq,
        event.at.isoformat(),
        event.kind.value,
        _actor_json(event.actor),
        _COMPACT_JSON.encode(event.data.dumped()),
    )


def _row_to_event(row: sqlite3.Row | tuple[Any, ...]) -> Event:
    seq, at, kind, actor, data = row
    return Event(
        seq=seq,
        at=datetime.fromisoformat(at),
        kind=kind,
        actor=Actor.model_validate_json(actor) if actor else None,
        data=json.loads(data),
    )


@functools.lru_cache(maxsize=32)
def _scenario(text: str) -> Scenario:
    """A scenario from its JSON (tables opened from the same file share one object)."""
    return Scenario.model_validate_json(text, context=STORED)


def _row_to_table(row: sqlite3.Row | tuple[Any, ...]) -> TableRow:
    id_, guild, channel, scenario, variant, title, opened, closed = row[:8]
    phase, agreed, reason, practice = row[8:]
    return TableRow(
        id=id_,
        guild_id=guild,
        channel_id=channel,
        scenario_id=scenario,
        variant=variant,
        title=title,
        opened_at=datetime.fromisoformat(opened),
        closed_at=datetime.fromisoformat(closed) if closed else None,
        phase=phase,
        agreed=agreed,
        close_reason=reason,
        practice=bool(practice),
    )


_TABLE_COLUMNS = (
    "id, guild_id, channel_id, scenario_id, variant, title, opened_at, closed_at, "
    "phase, agreed, close_reason, practice"
)


T = TypeVar("T")

#: The most units one group commit takes (the rest wait for the next).
MAX_BATCH = 512

#: The most units one commit on the event loop takes: their Python work (the rules'
#: decisions) runs there, so a burst is cut into commits of a few milliseconds each, with
#: the loop's other callbacks in between.
LOOP_BATCH = 64

#: Pages the write-ahead log may hold before it is checkpointed: SQLite's own default
#: (``wal_autocheckpoint``). The writer's connection does not checkpoint on commit, so that
#: a commit on the event loop never waits on a sync of the file; the copier's thread and
#: then the writer's thread checkpoint instead (see :class:`_Copier`), after as many
#: commits as it takes to fill this many pages (worked out from what the last checkpoint
#: found: an action's commit adds one or two pages, a group commit of many tables' more).
CHECKPOINT_PAGES = 1000

_EVENT_COLUMNS = "seq, at, kind, actor, data"

#: Events read per query when a table's log is streamed.
STREAM_CHUNK = 2_000

#: What :meth:`_Writer._gather` answers when it took everything queued.
_QUEUE_EMPTY = object()

#: A unit's result: its value, or the error its caller gets.
_Result = tuple[Any, BaseException | None]


@dataclass
class _Job(Generic[T]):
    """A unit on its way to be written, and where its answer goes."""

    run: Callable[[Transaction], T] | None
    #: Run on the bare connection outside any transaction (maintenance, tests).
    bare: Callable[[sqlite3.Connection], T] | None
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[T] = field(repr=False)


def _answer(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # the caller gave up waiting (cancelled); the commit stands
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


def _answer_all(answers: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, value, error in answers:
        _answer(future, value, error)


class _Busy(Exception):
    """Another connection holds SQLite's write lock (a commit that must not wait)."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLite answered "database is locked": another connection holds the lock."""
    return exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class _Copier:
    """The first half of each checkpoint, on a thread and a connection of its own: it
    copies the WAL back into the database file, and syncs it, while the writer goes on
    committing. The writer's connection then finishes the checkpoint between two of its
    transactions, copying only what was committed meanwhile, so that its next transaction
    starts the WAL over. (A checkpoint made only beside the commits never catches up with
    them, and the WAL would grow without end.)"""

    def __init__(self, path: str) -> None:
        self._path = path
        self._wanted = threading.Event()
        self._stopping = False
        #: A copy was asked for, and the writer has not finished its checkpoint yet.
        self.asked = False
        #: The copy asked for is made (or could not be: the finish then copies it all).
        self.copied = threading.Event()
        #: The WAL's pages when the last copy began (-1: it could not be made).
        self.pages = -1
        #: Copies made so far (for benchmarks and tests).
        self.copies = 0
        self._thread = threading.Thread(
            target=self._work, name="parley-log-checkpointer", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def ask(self) -> None:
        """Start a copy (the writer's, while it holds its connection)."""
        self.asked = True
        self.pages = -1
        self.copied.clear()
        self._wanted.set()

    def stop(self) -> None:
        """End the thread, after the copy under way if there is one."""
        self._stopping = True
        self._wanted.set()
        if self._thread.is_alive():
            self._thread.join()

    def _work(self) -> None:
        db: sqlite3.Connection | None = None
        try:
            while True:
                self._wanted.wait()
                self._wanted.clear()
                if self._stopping:
                    return
                try:
                    if db is None:
                        db = sqlite3.connect(self._path, timeout=0, isolation_level=None)
                    # (run to its end: a statement left open keeps a read lock, and then
                    # the WAL could not start over)
                    rows = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.pages = int(rows[0][1]) if rows else -1
                    self.copies += 1
                except sqlite3.Error:
                    pass  # left to the writer's own connection, which copies it all
                finally:
                    self.copied.set()
        finally:
            self.copied.set()  # nobody waits for a copy that will not come
            if db is not None:
                db.close()


class _Writer:
    """The writer's connection, and the thread that writes when the event loop must not.

    A batch of units is committed on the event loop itself when nothing stands in its way:
    no job is queued for the thread and SQLite's write lock is free at once. That costs the
    commit alone (in WAL mode with ``synchronous=NORMAL`` a commit appends to the WAL and
    does not sync), where a trip to a thread and back costs several times as much. Any
    wait goes to the thread instead: the write lock held by another process (the thread
    waits for it up to the busy timeout), the checkpoints that sync the file, maintenance
    jobs, and every batch queued behind them, in order.
    """

    def __init__(self, db: sqlite3.Connection, path: str, busy_timeout_ms: int) -> None:
        self._db = db
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._work, name="parley-log-writer", daemon=True)
        self._closed = False
        #: Held while a job is queued or the writer closes, so no job is queued after the
        #: queue was emptied for good; guards :attr:`_queued` too.
        self._gate = threading.Lock()
        #: Jobs queued for the thread and not yet done (the loop writes only at 0).
        self._queued = 0
        #: Held by whoever uses the connection: the thread, or the loop committing.
        self._in_use = threading.Lock()
        #: Commits since the last checkpoint, and how many are to come before the next.
        self._since_checkpoint = 0
        self._checkpoint_after = max(1, CHECKPOINT_PAGES // 4)  # until one has been measured
        #: Commits since the last checkpoint when the copier was asked to copy.
        self._asked_after = 0
        self._copier = _Copier(path)
        #: Checkpoints so far, and the WAL pages the last one found (for benchmarks, tests).
        self.checkpoints = 0
        self.wal_pages = 0
        #: Group commits so far, and units committed in them (for benchmarks and tests).
        self.commits = 0
        self.units = 0
        #: The connection's ``data_version`` at its last transaction (it changes when any
        #: other connection commits), and the epoch it began (see :class:`Transaction`).
        self._data_version: int | None = None
        self.epoch = 0

    def start(self) -> None:
        self._copier.start()
        self._thread.start()

    def check_open(self) -> None:
        if self._closed:
            raise StoreError(f"{self._path}: the log is closed")

    def submit(self, *jobs: _Job[Any]) -> None:
        """Queue jobs for the thread, in order."""
        with self._gate:
            self.check_open()
            self._queued += len(jobs)
            for job in jobs:
                self._jobs.put(job)

    def write(self, batch: list[_Job[Any]]) -> None:
        """Commit ``batch`` here and now if nothing stands in the way, else queue it for
        the thread; either way each unit's future is answered after its commit."""
        try:
            results = self._write_here(batch)
            if results is None:
                self.submit(*batch)
                return
        except StoreError as closed:
            results = [(None, closed)] * len(batch)
        for job, (value, error) in zip(batch, results, strict=True):
            _answer(job.future, value, error)

    def _write_here(self, batch: list[_Job[Any]]) -> list[_Result] | None:
        """The batch's results, committed on the caller's thread; None when that would
        mean waiting (a job queued for the thread, or the write lock held elsewhere)."""
        with self._gate:
            self.check_open()
            if self._queued or not self._in_use.acquire(blocking=False):
                return None
        try:
            results = self._transact(batch, wait=False)
            checkpoint = self._checkpoint_due()
        finally:
            self._in_use.release()
        if checkpoint:  # it syncs the file: the thread's work (and, queued, every write
            # after it goes to the thread too, until it is done; the copier made it short)
            loop = batch[0].loop
            with contextlib.suppress(StoreError):  # closing: the close checkpoints
                self.submit(_Job(None, self._checkpoint, loop, loop.create_future()))
        return results

    async def close(self) -> None:
        with self._gate:
            if self._closed:
                return
            self._closed = True
            self._jobs.put(None)  # queued jobs before it are still written
        await asyncio.to_thread(self._thread.join)

    def _work(self) -> None:
        try:
            job = self._jobs.get()
            while job is not None:
                if job.bare is not None:
                    with self._in_use:
                        self._run_bare(job)
                    self._done(1)
                    job = self._jobs.get()
                    continue
                batch, stopped_at = self._gather(job)
                with self._in_use:
                    self._commit(batch)
                self._done(len(batch))
                job = stopped_at if stopped_at is not _QUEUE_EMPTY else self._jobs.get()
        finally:
            # Nothing more is taken, and whatever is still queued hears that the log
            # closed under it.
            with self._gate:
                self._closed = True
            self._fail_queued()
            self._copier.stop()
            with self._in_use:
                self._db.close()

    def _done(self, jobs: int) -> None:
        with self._gate:
            self._queued -= jobs

    def _gather(self, first: _Job[Any]) -> tuple[list[_Job[Any]], Any]:
        """``first`` and the units queued behind it (up to :data:`MAX_BATCH`), and what
        stopped the gathering: a bare job or the close (``None``) to handle next, else
        :data:`_QUEUE_EMPTY`."""
        batch = [first]
        while len(batch) < MAX_BATCH:
            try:
                more = self._jobs.get_nowait()
            except queue.Empty:
                break
            if more is None or more.bare is not None:
                return batch, more
            batch.append(more)
        return batch, _QUEUE_EMPTY

    def _fail_queued(self) -> None:
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                error = StoreError(f"{self._path}: the log closed before this was written")
                job.loop.call_soon_threadsafe(_answer, job.future, None, error)

    def _run_bare(self, job: _Job[Any]) -> None:
        assert job.bare is not None
        changes = self._db.total_changes
        try:
            value, error = job.bare(self._db), None
        except BaseException as exc:  # handed to the caller
            value, error = None, exc
        if self._db.total_changes != changes:  # it wrote, on this very connection
            self.epoch += 1
        job.loop.call_soon_threadsafe(_answer, job.future, value, error)

    def _commit(self, batch: list[_Job[Any]]) -> None:
        """Commit a batch on the thread (waiting for the write lock if need be) and
        answer each caller on its own loop."""
        try:
            results = self._transact(batch, wait=True)
        except BaseException as exc:  # not an Exception: answer, then let it through
            self._deliver(batch, self._failed(batch, exc))
            raise
        assert results is not None  # (it waited for the lock)
        self._deliver(batch, results)
        if self._checkpoint_due():
            self._checkpoint(self._db)

    def _checkpoint_due(self) -> bool:
        """Whether the writer's connection is to finish a checkpoint now (called after a
        commit, holding the connection). Once the WAL holds about
        :data:`CHECKPOINT_PAGES` pages, the copier is asked to copy it first; the finish
        is due when the copy is made, or when twice as many commits were made meanwhile
        (a slow disk), and then waits for the copy, so the WAL stays bounded."""
        copier = self._copier
        if not copier.asked:
            if self._since_checkpoint >= self._checkpoint_after:
                self._asked_after = self._since_checkpoint
                copier.ask()
            return False
        return copier.copied.is_set() or self._since_checkpoint >= 2 * self._checkpoint_after

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        """Finish a checkpoint: copy the WAL back into the database file as far as readers
        allow (what the copier did not copy yet; it never waits for readers, and a failure
        is left for the next checkpoint, the WAL keeps everything until then), and work
        out how many commits fill :data:`CHECKPOINT_PAGES` pages, from the pages the
        commits since the last checkpoint took: as the copy found them when it began (by
        its end the WAL may have started over), else as found here. (If a reader kept the
        last checkpoint from starting the WAL over, its older pages count too, and the
        next one comes sooner.)"""
        copied = -1
        if self._copier.asked:
            self._copier.copied.wait()  # one checkpoint at a time
            self._copier.asked = False
            copied = self._copier.pages
        commits, self._since_checkpoint = self._since_checkpoint, 0
        try:
            rows = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            return
        self.checkpoints += 1
        pages = int(rows[0][1]) if rows else -1
        if copied > 0:
            pages, commits = copied, self._asked_after
        if pages > 0 and commits > 0:
            self.wal_pages = pages
            after = CHECKPOINT_PAGES * commits // pages
            self._checkpoint_after = max(1, min(CHECKPOINT_PAGES, after))

    @staticmethod
    def _deliver(batch: list[_Job[Any]], results: list[_Result]) -> None:
        """Answer each unit's caller on its own loop (from the thread)."""
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for job, (value, error) in zip(batch, results, strict=True):
            by_loop.setdefault(job.loop, []).append((job.future, value, error))
        for loop, answers in by_loop.items():
            loop.call_soon_threadsafe(_answer_all, answers)

    def _transact(self, batch: list[_Job[Any]], wait: bool) -> list[_Result] | None:
        """Run the batch's units in one transaction and commit it: each unit's result.

        Without ``wait``, None if another connection holds the write lock (nothing was
        done). If SQLite itself fails (an I/O error, a transaction ended under it), every
        unit gets an error and nothing is kept.
        """
        db = self._db
        try:
            self._begin(wait)
            version = db.execute("PRAGMA data_version").fetchone()[0]
        except _Busy:
            return None
        except sqlite3.OperationalError as exc:
            return self._failed(batch, exc)
        if version != self._data_version:  # another connection committed since
            self._data_version = version
            self.epoch += 1
        try:
            results = self._run_units(batch)
            if not isinstance(results, list):  # a unit failed alone: nothing to keep
                return self._failed(batch, results[1], culprit=results[0])
            db.execute("COMMIT")
        except Exception as exc:  # SQLite itself failed (an I/O error, a bad state)
            return self._failed(batch, exc)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise
        self.commits += 1
        self.units += len(batch)
        self._since_checkpoint += 1
        return results

    def _begin(self, wait: bool) -> None:
        """``BEGIN IMMEDIATE``. The connection itself never waits for the write lock (its
        busy timeout is 0, so that a commit on the loop cannot block it); waiting for
        another connection to let the lock go happens here, on the thread, up to the busy
        timeout. Without ``wait``, :class:`_Busy` when the lock is held."""
        deadline = time.monotonic() + self._busy_timeout_ms / 1000
        pause = 0.001
        while True:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if not wait:
                    raise _Busy() from exc
                if time.monotonic() >= deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def _run_units(self, batch: list[_Job[Any]]) -> list[_Result] | tuple[_Job[Any], BaseException]:
        """Each unit in its own savepoint, so one failing leaves the others in; a unit
        alone needs none (its failure rolls the transaction back, answered as the failed
        unit and its error)."""
        db = self._db
        tx = Transaction(db, self.epoch)
        results: list[_Result] = []
        alone = len(batch) == 1
        for job in batch:
            assert job.run is not None
            if not alone:
                db.execute("SAVEPOINT unit")
            try:
                value = job.run(tx)
            except BaseException as exc:  # the unit's own failure, handed to its caller
                if alone or not db.in_transaction:  # (SQLite may have rolled it all back)
                    return job, exc
                db.execute("ROLLBACK TO unit")
                db.execute("RELEASE unit")
                results.append((None, _as_unavailable(exc)))
            else:
                if not alone:
                    db.execute("RELEASE unit")
                results.append((value, None))
        return results

    def _failed(
        self, batch: list[_Job[Any]], exc: BaseException, culprit: _Job[Any] | None = None
    ) -> list[_Result]:
        """Nothing of the batch is kept: roll back, and each caller's error (the unit
        that failed gets its own; the others, that the log could not take them)."""
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        error = _as_unavailable(exc)
        results: list[_Result] = []
        for job in batch:
            mine = error
            if job is not culprit and not isinstance(error, LogUnavailable):
                mine = LogUnavailable(
                    "the log could not record this (a write it shared a commit with "
                    "failed); nothing changed"
                )
            results.append((None, mine))
        return results


def _as_unavailable(exc: BaseException) -> BaseException:
    """SQLite's refusal to write (full, read-only, locked) as :class:`LogUnavailable`."""
    if isinstance(exc, sqlite3.OperationalError):
        error = LogUnavailable(_unavailable(exc))
        error.__cause__ = exc
        return error
    return exc


def _connect_writer(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    """The writer's connection, schema brought up to date (runs before its thread).

    Switching a new file to WAL needs the file to itself, and SQLite answers "locked"
    at once rather than waiting: when two processes open a new file together, the one
    that loses tries again for up to the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.01
    while True:
        try:
            return _connect_writer_once(path, busy_timeout_ms)
        except _Locked:
            if time.monotonic() + pause > deadline:
                raise StoreError(f"{path}: cannot use this database: it stays locked") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


class _Locked(Exception):
    """The file was locked while the writer's connection was being set up."""


def _connect_writer_once(path: str, busy_timeout_ms: int) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA wal_autocheckpoint = 0")  # the writer thread checkpoints
        db.execute("PRAGMA foreign_keys = ON")
        _migrate(db, path)
        db.execute("PRAGMA busy_timeout = 0")  # from now on the writer waits itself
    except sqlite3.OperationalError as exc:
        db.close()
        if "locked" in str(exc) or "busy" in str(exc):
            raise _Locked() from exc
        raise StoreError(f"{path}: cannot use this database: {exc}") from None
    except sqlite3.DatabaseError as exc:
        db.close()
        raise StoreError(f"{path}: cannot use this database: {exc}") from None
    except BaseException:
        db.close()
        raise
    return db


def _migrate(db: sqlite3.Connection, path: str) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has schema version {version}, newer than this Parley "
                f"({SCHEMA_VERSION}); upgrade Parley to use it."
            )
        for number in range(version + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[number - 1]):
                db.execute(statement)
        if version < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise


class Store:
    """The SQLite log. Open with :meth:`open`; use as an async context manager."""

    def __init__(
        self, reader: aiosqlite.Connection, peek: sqlite3.Connection, writer: _Writer, path: str
    ) -> None:
        self._db = reader
        self._peek = peek
        self._writer = writer
        #: Units written since the loop last committed (see :meth:`write`).
        self._pending: list[_Job[Any]] = []
        self.path = path
        #: Services (:class:`~bot.service.Tables`) made on this store, ever.
        self.services = 0

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = 30_000) -> Store:
        """Open (creating if needed) the database file and bring its schema up to date."""
        try:
            # Checked first without aiosqlite: its worker thread outlives a failed connect.
            sqlite3.connect(str(path)).close()
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open this database: {exc}") from None
        db = await asyncio.to_thread(_connect_writer, str(path), busy_timeout_ms)
        writer = _Writer(db, str(path), busy_timeout_ms)
        writer.start()
        try:
            reader = await aiosqlite.connect(str(path), isolation_level=None)
            try:
                await reader.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
                await reader.execute("PRAGMA query_only = ON")
            except BaseException:
                await reader.close()
                raise
        except BaseException:
            await writer.close()
            raise
        try:  # for the reads small enough to make on the loop, and that never wait
            peek = sqlite3.connect(
                str(path), timeout=0, isolation_level=None, check_same_thread=False
            )
            peek.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            await reader.close()
            await writer.close()
            raise StoreError(f"{path}: cannot open this database: {exc}") from None
        return cls(reader, peek, writer, str(path))

    async def close(self) -> None:
        """Close the connections (units already written are committed first)."""
        while self._pending:
            self._flush()
        await self._writer.close()
        await self._db.close()
        self._peek.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def group_commits(self) -> tuple[int, int]:
        """Commits so far and the units they held (how much group commit shared)."""
        return self._writer.commits, self._writer.units

    async def schema_version(self) -> int:
        """The schema version the file is at."""
        rows = await self._fetchall("PRAGMA user_version")
        return int(rows[0][0]) if rows else 0

    # -- writing ------------------------------------------------------------------------

    async def write(self, unit: Callable[[Transaction], T]) -> T:
        """Run ``unit`` on the writer's connection inside a write transaction and return
        what it returned once that transaction has committed.

        Units written in the same turn of the loop are committed together, on the loop
        when that need not wait, else on the writer thread (see :class:`_Writer`). The
        unit runs in its own savepoint of a transaction it may share with units from
        other callers. If it raises, its changes are undone and the exception comes back
        here; others are unaffected. When the database cannot take the write (disk full,
        a read-only or locked file), :class:`LogUnavailable` is raised and nothing of the
        unit is kept.
        """
        self._writer.check_open()
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(unit, None, loop, loop.create_future())
        self._pending.append(job)
        if len(self._pending) == 1:
            loop.call_soon(self._flush)
        return await job.future

    def _flush(self) -> None:
        """Commit the units written since the loop last came here, at most
        :data:`LOOP_BATCH` at a time (group commit: callers that wrote in the same turn of
        the loop share one transaction)."""
        batch, self._pending = self._pending[:LOOP_BATCH], self._pending[LOOP_BATCH:]
        if self._pending:
            self._pending[0].loop.call_soon(self._flush)
        if batch:
            self._writer.write(batch)

    async def on_writer(self, run: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``run`` on the writer's own connection between transactions (maintenance,
        tests that make the disk look full)."""
        loop = asyncio.get_running_loop()
        job: _Job[T] = _Job(None, run, loop, loop.create_future())
        self._writer.submit(job)
        return await job.future

    async def set_place(self, table_id: int, name: str, discord_id: str) -> None:
        """Remember where something of the table lives in Discord (its own unit)."""
        await self.write(lambda tx: tx.set_place(table_id, name, discord_id))

    async def put_snapshot(self, table_id: int, snapshot: Snapshot) -> None:
        """Keep a snapshot of a table's state (replacing an older one)."""
        await self.write(lambda tx: tx.put_snapshot(table_id, snapshot))

    # -- reading ------------------------------------------------------------------------

    async def _fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        # One trip that runs, reads and closes the statement: a statement left open
        # between trips would hold the connection's read snapshot, and reads of other
        # tasks in between would not see commits made since.
        return list(await self._db.execute_fetchall(sql, tuple(params)))

    async def _lookup(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        """A small read by an index (a row or a few), made on the loop: a few microseconds,
        where a trip to the reader's thread and back costs many. Its connection never
        waits; if SQLite answers busy for a moment, the read goes through the reader."""
        try:
            return self._peek.execute(sql, tuple(params)).fetchall()
        except sqlite3.OperationalError:
            return await self._fetchall(sql, params)

    async def events(self, table_id: int, after: int = 0) -> list[Event]:
        """A table's events after ``after``, in sequence."""
        return [event async for event in self.stream(table_id, after)]

    async def stream(self, table_id: int, after: int = 0) -> AsyncIterator[Event]:
        """A table's events after ``after``, in sequence, read in chunks (a long table is
        never all in memory at once; each chunk is its own query, see :meth:`_fetchall`)."""
        while rows := await self._fetchall(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE table_id = ? AND seq > ? "
            f"ORDER BY seq LIMIT {STREAM_CHUNK}",
            (table_id, after),
        ):
            for row in rows:
                yield _row_to_event(row)
            after = rows[-1][0]

    async def event(self, table_id: int, seq: int) -> Event | None:
        """One event of a table by its sequence number."""
        rows = await self._lookup(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE table_id = ? AND seq = ?",
            (table_id, seq),
        )
        return _row_to_event(rows[0]) if rows else None

    async def head(self, table_id: int) -> int:
        """The highest sequence number logged for a table (0 if none): one index lookup,
        to tell whether a cached state is still the latest."""
        rows = await self._lookup(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE table_id = ?", (table_id,)
        )
        return int(rows[0][0])

    async def snapshot(self, table_id: int) -> Snapshot | None:
        """The table's kept snapshot, if any."""
        rows = await self._fetchall(
            "SELECT seq, format, state FROM snapshots WHERE table_id = ?", (table_id,)
        )
        return Snapshot(rows[0][0], rows[0][1], bytes(rows[0][2])) if rows else None

    async def table(self, table_id: int) -> TableRow | None:
        """One table's row, if it exists (any int may be asked: one SQLite cannot hold, a
        number typed by someone, names no table)."""
        if table_id not in _SQLITE_INTEGERS:
            return None
        rows = await self._lookup(f"SELECT {_TABLE_COLUMNS} FROM tables WHERE id = ?", (table_id,))
        return _row_to_table(rows[0]) if rows else None

    async def tables(self, guild_id: str | None = None) -> list[TableRow]:
        """Every table, or every table of one server, newest first."""
        if guild_id is None:
            rows = await self._fetchall(f"SELECT {_TABLE_COLUMNS} FROM tables ORDER BY id DESC")
        else:
            rows = await self._fetchall(
                f"SELECT {_TABLE_COLUMNS} FROM tables WHERE guild_id = ? ORDER BY id DESC",
                (guild_id,),
            )
        return [_row_to_table(row) for row in rows]

    async def open_table_in(self, guild_id: str | None, channel_id: str) -> TableRow | None:
        """The table still open in a channel, if any."""
        rows = await self._lookup(
            f"SELECT {_TABLE_COLUMNS} FROM tables WHERE guild_id IS ? AND channel_id = ? "
            "AND closed_at IS NULL",
            (guild_id, channel_id),
        )
        return _row_to_table(rows[0]) if rows else None

    async def latest_table_in(self, guild_id: str | None, channel_id: str) -> TableRow | None:
        """A channel's table: the open one, else the one opened last (closed), if any."""
        rows = await self._lookup(
            f"SELECT {_TABLE_COLUMNS} FROM tables WHERE guild_id IS ? AND channel_id = ? "
            "ORDER BY closed_at IS NULL DESC, id DESC LIMIT 1",
            (guild_id, channel_id),
        )
        return _row_to_table(rows[0]) if rows else None

    async def prompts(self, table_id: int) -> dict[str, str] | None:
        """The table's copy of its prompt files (None for tables logged before schema 5)."""
        rows = await self._fetchall("SELECT prompts_json FROM tables WHERE id = ?", (table_id,))
        if not rows or rows[0][0] is None:
            return None
        found: dict[str, str] = json.loads(rows[0][0])
        return found

    async def scenario(self, table_id: int) -> Scenario:
        """The scenario exactly as it was when the table opened."""
        rows = await self._fetchall("SELECT scenario_json FROM tables WHERE id = ?", (table_id,))
        if not rows:
            raise KeyError(table_id)
        return _scenario(rows[0][0])

    async def places(self, table_id: int) -> dict[str, str]:
        """Where a table lives in Discord: name (``status``, ``room:us``...) to Discord id."""
        rows = await self._lookup(
            "SELECT name, discord_id FROM places WHERE table_id = ?", (table_id,)
        )
        return {name: discord_id for name, discord_id in rows}

    async def table_of_place(self, discord_id: str) -> int | None:
        """The table whose caucus room is this Discord channel (the latest), if any."""
        rows = await self._lookup(
            "SELECT p.table_id FROM places AS p JOIN tables AS t ON t.id = p.table_id "
            "WHERE p.discord_id = ? AND p.name LIKE 'room:%' "
            "ORDER BY t.closed_at IS NULL DESC, t.id DESC LIMIT 1",
            (discord_id,),
        )
        return int(rows[0][0]) if rows else None

    async def open_tables(self) -> list[TableRow]:
        """Tables not yet closed (the clock scheduler watches these)."""
        rows = await self._fetchall(
            f"SELECT {_TABLE_COLUMNS} FROM tables WHERE closed_at IS NULL ORDER BY id"
        )
        return [_row_to_table(row) for row in rows]

    async def wakeups(self) -> list[Wakeup]:
        """Every open table's next wake-up as its summary keeps it (one query)."""
        rows = await self._fetchall(
            "SELECT id, guild_id, wakeup_at, summary_seq FROM tables WHERE closed_at IS NULL "
            "ORDER BY id"
        )
        return [
            Wakeup(
                table_id,
                guild,
                datetime.fromisoformat(at) if at else None,
                known=summary_seq is not None,
            )
            for table_id, guild, at, summary_seq in rows
        ]


class Transaction:
    """What a unit may do inside :meth:`Store.write` (plain calls on the writer's
    connection, made on the loop or on the writer thread)."""

    def __init__(self, db: sqlite3.Connection, epoch: int = 0) -> None:
        self._db = db
        #: Which stretch of the writer's transactions this one belongs to: a new one
        #: begins whenever another connection (another process) may have written since
        #: the last transaction. What a unit read in an earlier transaction of the same
        #: epoch, and kept up to date with its own writes, is still current.
        self.epoch = epoch

    def create_table(
        self,
        scenario: Scenario,
        variant: str,
        title: str,
        guild_id: str | None,
        channel_id: str | None,
        at: datetime,
        prompts: dict[str, str] | None = None,
        practice: bool = False,
    ) -> int:
        """Add a table row (with its scenario and prompts snapshot) and return its id."""
        try:
            cursor = self._db.execute(
                "INSERT INTO tables (guild_id, channel_id, scenario_id, variant, title, "
                "scenario_json, opened_at, phase, agreed, prompts_json, practice) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'setup', 0, ?, ?)",
                (
                    guild_id,
                    channel_id,
                    scenario.id,
                    variant,
                    title,
                    scenario.model_dump_json(),
                    at.isoformat(),
                    json.dumps(prompts or {}, ensure_ascii=False),
                    int(practice),
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise TableExists(guild_id, channel_id) from exc
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def open_table_id(self, guild_id: str | None, channel_id: str | None) -> int | None:
        """The id of the table still open in a channel, if any."""
        if channel_id is None:
            return None
        row = self._db.execute(
            "SELECT id FROM tables WHERE guild_id IS ? AND channel_id = ? AND closed_at IS NULL",
            (guild_id, channel_id),
        ).fetchone()
        return int(row[0]) if row else None

    def channel(self, table_id: int) -> tuple[str | None, str | None]:
        """The server and channel a table was opened in."""
        row = self._db.execute(
            "SELECT guild_id, channel_id FROM tables WHERE id = ?", (table_id,)
        ).fetchone()
        return (row[0], row[1]) if row else (None, None)

    def last_seq(self, table_id: int) -> int:
        """The highest sequence number logged for the table (0 if none)."""
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE table_id = ?", (table_id,)
        ).fetchone()
        return int(row[0]) if row else 0

    def events_after(self, table_id: int, after: int) -> list[Event]:
        """Events logged since ``after`` (by another process: to catch up before deciding)."""
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE table_id = ? AND seq > ? ORDER BY seq",
            (table_id, after),
        ).fetchall()
        return [_row_to_event(row) for row in rows]

    def events_between(self, table_id: int, first: int, last: int) -> list[Event]:
        """A table's events from ``first`` to ``last`` included."""
        rows = self._db.execute(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE table_id = ? AND seq BETWEEN ? AND ? "
            "ORDER BY seq",
            (table_id, first, last),
        ).fetchall()
        return [_row_to_event(row) for row in rows]

    def append(
        self, table_id: int, new: Sequence[NewEvent], at: datetime, after: int | None = None
    ) -> list[Event]:
        """Log events with the next sequence numbers (after ``after`` if the caller knows
        the table's last number; the primary key refuses a wrong one)."""
        start = (after if after is not None else self.last_seq(table_id)) + 1
        events = [Event.stamp(e, start + i, at) for i, e in enumerate(new)]
        self.insert(table_id, events)
        return events

    def insert(self, table_id: int, events: Sequence[Event]) -> None:
        """Log events already numbered (the primary key refuses a number taken)."""
        self._db.executemany(
            "INSERT INTO events (table_id, seq, at, kind, actor, data) VALUES (?, ?, ?, ?, ?, ?)",
            [event_row(table_id, e) for e in events],
        )

    def set_closed(self, table_id: int, at: datetime | None) -> None:
        """Mark the table row closed (or open again, after an undo of its close).

        Reopening fails with :class:`TableExists` if the channel has opened a newer table.
        """
        try:
            self._db.execute(
                "UPDATE tables SET closed_at = ? WHERE id = ?",
                (at.isoformat() if at else None, table_id),
            )
        except sqlite3.IntegrityError as exc:
            raise TableExists(None, None) from exc

    def set_summary(
        self,
        table_id: int,
        phase: str,
        agreed: int,
        close_reason: str | None,
        wakeup: datetime | None,
        seq: int,
        *,
        if_unknown: bool = False,
    ) -> None:
        """Keep the table's listing summary and next wake-up (as of ``seq``) up to date;
        ``if_unknown``: only for a row that has none yet (worked out for a table logged
        before the wake-up was kept, and no write has kept one since)."""
        self._db.execute(
            "UPDATE tables SET phase = ?, agreed = ?, close_reason = ?, wakeup_at = ?, "
            "summary_seq = ? WHERE id = ?" + (" AND summary_seq IS NULL" if if_unknown else ""),
            (phase, agreed, close_reason, wakeup.isoformat() if wakeup else None, seq, table_id),
        )

    def recall(self, key: str) -> Remembered | None:
        """What an action with this idempotency key produced before, if it was seen."""
        row = self._db.execute(
            "SELECT table_id, first_seq, last_seq, outcome FROM actions WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        return Remembered(row[0], row[1], row[2], json.loads(row[3]))

    def remember(
        self, key: str, table_id: int | None, events: Sequence[Event], outcome: dict[str, Any]
    ) -> None:
        """Record that the action with ``key`` was applied, and what came of it."""
        self._db.execute(
            "INSERT INTO actions (key, table_id, first_seq, last_seq, outcome, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                key,
                table_id,
                events[0].seq if events else None,
                events[-1].seq if events else None,
                json.dumps(outcome),
                utc_now().isoformat(),
            ),
        )

    def set_place(self, table_id: int, name: str, discord_id: str) -> None:
        """Remember where something of the table lives in Discord."""
        self._db.execute(
            "INSERT INTO places (table_id, name, discord_id) VALUES (?, ?, ?) "
            "ON CONFLICT (table_id, name) DO UPDATE SET discord_id = excluded.discord_id",
            (table_id, name, discord_id),
        )

    def put_snapshot(self, table_id: int, snapshot: Snapshot) -> None:
        """Keep a snapshot of the table's state, replacing an older one (never a newer)."""
        self._db.execute(
            "INSERT INTO snapshots (table_id, seq, format, state) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (table_id) DO UPDATE SET seq = excluded.seq, format = excluded.format, "
            "state = excluded.state WHERE excluded.seq > snapshots.seq",
            (table_id, snapshot.seq, snapshot.format, snapshot.state),
        )


class TableExists(Exception):
    """A channel already has an open table."""

    def __init__(self, guild_id: str | None, channel_id: str | None) -> None:
        super().__init__(f"channel {channel_id} already has an open table")
        self.guild_id = guild_id
        self.channel_id = channel_id


def _unavailable(exc: sqlite3.OperationalError) -> str:
    text = str(exc)
    if "full" in text:
        why = "the disk is full"
    elif "readonly" in text or "read-only" in text:
        why = "the database file cannot be written"
    elif "locked" in text or "busy" in text:
        why = "the database is locked by another program"
    else:
        why = text
    return f"the log could not record this ({why}); nothing changed"


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (triggers keep their inner semicolons)."""
    statements, current = [], ""
    for line in script.strip().splitlines():
        current += line + "\n"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
