"""The log: one SQLite file through aiosqlite, append-only events, numbered per table.

Every write happens in one ``BEGIN IMMEDIATE`` transaction (:meth:`Store.writing`), so
two processes writing to the same file take turns, and a table's sequence stays gap-free
and unique: the next number is read and used inside the same transaction. The database
itself refuses UPDATE and DELETE on events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite

from bot.domain.events import Actor, Event, NewEvent
from bot.domain.scenario import Scenario

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


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _actor_json(actor: Actor | None) -> str | None:
    return actor.model_dump_json() if actor is not None else None


def _row_to_event(row: sqlite3.Row | tuple[Any, ...]) -> Event:
    seq, at, kind, actor, data = row
    return Event(
        seq=seq,
        at=datetime.fromisoformat(at),
        kind=kind,
        actor=Actor.model_validate_json(actor) if actor else None,
        data=json.loads(data),
    )


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


class Store:
    """The SQLite log. Open with :meth:`open`; use as an async context manager."""

    def __init__(self, db: aiosqlite.Connection, path: str) -> None:
        self._db = db
        self.path = path
        self._lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, *, busy_timeout_ms: int = 30_000) -> Store:
        """Open (creating if needed) the database file and bring its schema up to date."""
        try:
            # Checked first without aiosqlite: its worker thread outlives a failed connect.
            sqlite3.connect(str(path)).close()
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open this database: {exc}") from None
        db = await aiosqlite.connect(str(path), isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            store = cls(db, str(path))
            await store._migrate()
        except sqlite3.DatabaseError as exc:
            await db.close()
            raise StoreError(f"{path}: cannot use this database: {exc}") from None
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        """Close the connection."""
        await self._db.close()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def schema_version(self) -> int:
        """The schema version the file is at."""
        async with self._db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self) -> None:
        await self._db.execute("BEGIN IMMEDIATE")
        try:
            version = await self.schema_version()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this Parley "
                    f"({SCHEMA_VERSION}); upgrade Parley to use it."
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(MIGRATIONS[number - 1]):
                    await self._db.execute(statement)
            if version < SCHEMA_VERSION:
                await self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            await self._db.execute("COMMIT")
        except BaseException:
            await self._db.execute("ROLLBACK")
            raise

    # -- writing ------------------------------------------------------------------------

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[Transaction]:
        """One write transaction (``BEGIN IMMEDIATE``): all of it commits, or none.

        When the database cannot take the write (disk full, a read-only or locked file),
        :class:`LogUnavailable` is raised and nothing of the transaction is kept.
        """
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise LogUnavailable(_unavailable(exc)) from exc
            try:
                yield Transaction(self._db)
                await self._db.execute("COMMIT")
            except BaseException as exc:
                await self._rollback()
                if isinstance(exc, sqlite3.OperationalError):
                    raise LogUnavailable(_unavailable(exc)) from exc
                raise

    async def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk can do that)
        with contextlib.suppress(sqlite3.OperationalError):
            await self._db.execute("ROLLBACK")

    # -- reading ------------------------------------------------------------------------

    async def _fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        async with self._lock, self._db.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    async def events(self, table_id: int, after: int = 0) -> list[Event]:
        """A table's events after ``after``, in sequence."""
        rows = await self._fetchall(
            "SELECT seq, at, kind, actor, data FROM events WHERE table_id = ? AND seq > ? "
            "ORDER BY seq",
            (table_id, after),
        )
        return [_row_to_event(row) for row in rows]

    async def event(self, table_id: int, seq: int) -> Event | None:
        """One event of a table by its sequence number."""
        rows = await self._fetchall(
            "SELECT seq, at, kind, actor, data FROM events WHERE table_id = ? AND seq = ?",
            (table_id, seq),
        )
        return _row_to_event(rows[0]) if rows else None

    async def table(self, table_id: int) -> TableRow | None:
        """One table's row, if it exists."""
        rows = await self._fetchall(
            f"SELECT {_TABLE_COLUMNS} FROM tables WHERE id = ?", (table_id,)
        )
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
        rows = await self._fetchall(
            f"SELECT {_TABLE_COLUMNS} FROM tables WHERE guild_id IS ? AND channel_id = ? "
            "AND closed_at IS NULL",
            (guild_id, channel_id),
        )
        return _row_to_table(rows[0]) if rows else None

    async def latest_table_in(self, guild_id: str | None, channel_id: str) -> TableRow | None:
        """A channel's table: the open one, else the one opened last (closed), if any."""
        rows = await self._fetchall(
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
        return Scenario.model_validate_json(rows[0][0])

    async def places(self, table_id: int) -> dict[str, str]:
        """Where a table lives in Discord: name (``status``, ``room:us``...) to Discord id."""
        rows = await self._fetchall(
            "SELECT name, discord_id FROM places WHERE table_id = ?", (table_id,)
        )
        return {name: discord_id for name, discord_id in rows}

    async def table_of_place(self, discord_id: str) -> int | None:
        """The table whose caucus room is this Discord channel (the latest), if any."""
        rows = await self._fetchall(
            "SELECT p.table_id FROM places AS p JOIN tables AS t ON t.id = p.table_id "
            "WHERE p.discord_id = ? AND p.name LIKE 'room:%' "
            "ORDER BY t.closed_at IS NULL DESC, t.id DESC LIMIT 1",
            (discord_id,),
        )
        return int(rows[0][0]) if rows else None

    async def set_place(self, table_id: int, name: str, discord_id: str) -> None:
        """Remember where something of the table lives in Discord (its own transaction)."""
        async with self.writing() as tx:
            await tx.set_place(table_id, name, discord_id)

    async def open_tables(self) -> list[TableRow]:
        """Tables not yet closed (the clock scheduler watches these)."""
        rows = await self._fetchall(
            f"SELECT {_TABLE_COLUMNS} FROM tables WHERE closed_at IS NULL ORDER BY id"
        )
        return [_row_to_table(row) for row in rows]


class Transaction:
    """What may be done inside :meth:`Store.writing`."""

    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def create_table(
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
            cursor = await self._db.execute(
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

    async def open_table_id(self, guild_id: str | None, channel_id: str | None) -> int | None:
        """The id of the table still open in a channel, if any."""
        if channel_id is None:
            return None
        async with self._db.execute(
            "SELECT id FROM tables WHERE guild_id IS ? AND channel_id = ? AND closed_at IS NULL",
            (guild_id, channel_id),
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def last_seq(self, table_id: int) -> int:
        """The highest sequence number logged for the table (0 if none)."""
        async with self._db.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE table_id = ?", (table_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def events_after(self, table_id: int, after: int) -> list[Event]:
        """Events another writer logged since ``after`` (to catch up before deciding)."""
        async with self._db.execute(
            "SELECT seq, at, kind, actor, data FROM events WHERE table_id = ? AND seq > ? "
            "ORDER BY seq",
            (table_id, after),
        ) as cursor:
            return [_row_to_event(row) for row in await cursor.fetchall()]

    async def append(
        self, table_id: int, new: Sequence[NewEvent], at: datetime, after: int | None = None
    ) -> list[Event]:
        """Log events with the next sequence numbers.

        ``after`` is the table's last sequence number when the caller already read it in
        this transaction (the primary key refuses a wrong one); otherwise it is looked up.
        """
        start = (after if after is not None else await self.last_seq(table_id)) + 1
        events = [Event.stamp(e, start + i, at) for i, e in enumerate(new)]
        await self._db.executemany(
            "INSERT INTO events (table_id, seq, at, kind, actor, data) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    table_id,
                    e.seq,
                    e.at.isoformat(),
                    e.kind.value,
                    _actor_json(e.actor),
                    json.dumps(e.data.dumped(), ensure_ascii=False, separators=(",", ":")),
                )
                for e in events
            ],
        )
        return events

    async def set_closed(self, table_id: int, at: datetime | None) -> None:
        """Mark the table row closed (or open again, after an undo of its close).

        Reopening fails with :class:`TableExists` if the channel has opened a newer table.
        """
        try:
            await self._db.execute(
                "UPDATE tables SET closed_at = ? WHERE id = ?",
                (at.isoformat() if at else None, table_id),
            )
        except sqlite3.IntegrityError as exc:
            raise TableExists(None, None) from exc

    async def set_summary(
        self, table_id: int, phase: str, agreed: int, close_reason: str | None
    ) -> None:
        """Keep the table's listing summary up to date."""
        await self._db.execute(
            "UPDATE tables SET phase = ?, agreed = ?, close_reason = ? WHERE id = ?",
            (phase, agreed, close_reason, table_id),
        )

    async def recall(self, key: str) -> Remembered | None:
        """What an action with this idempotency key produced before, if it was seen."""
        async with self._db.execute(
            "SELECT table_id, first_seq, last_seq, outcome FROM actions WHERE key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        return Remembered(row[0], row[1], row[2], json.loads(row[3]))

    async def remember(
        self, key: str, table_id: int | None, events: Sequence[Event], outcome: dict[str, Any]
    ) -> None:
        """Record that the action with ``key`` was applied, and what came of it."""
        await self._db.execute(
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

    async def set_place(self, table_id: int, name: str, discord_id: str) -> None:
        """Remember where something of the table lives in Discord."""
        await self._db.execute(
            "INSERT INTO places (table_id, name, discord_id) VALUES (?, ?, ?) "
            "ON CONFLICT (table_id, name) DO UPDATE SET discord_id = excluded.discord_id",
            (table_id, name, discord_id),
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
