"""The bot's clock (bot.discord_app.clock) over a real log, with the time injected and its
looks taken one at a time (no sleeping): a table the clock cannot handle costs the other
tables nothing, at a restart as while running."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from bot.discord_app.app import ParleyBot
from bot.discord_app.clock import Clock
from bot.scenarios import ScenarioLibrary
from bot.service import Outcome, Tables
from bot.store import Store
from tests.discord_app.conftest import ManualClock
from tests.test_store import seat


class Publisher:
    """Keeps what the clock would announce."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    async def publish(self, table_id: int, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def kinds(self, table_id: int) -> list[str]:
        return [k for o in self.outcomes if o.table_id == table_id for k in o.kinds]


class Bot:
    """What the clock uses of :class:`ParleyBot`: the service, the time, its servers and
    the publisher (one process, no shards)."""

    sharding = None

    def __init__(self, tables: Tables, now: ManualClock) -> None:
        self.tables = tables
        self.now = now
        self.publisher = Publisher()
        self.tasks: list[asyncio.Task[Any]] = []

    def runs_tables_of(self, guild_id: str | None) -> bool:
        return True

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self.tasks.append(task)
        return task

    async def settled(self) -> None:
        await asyncio.gather(*self.tasks)


def clock_of(bot: Bot) -> Clock:
    return Clock(cast(ParleyBot, bot))


@pytest.fixture
def now() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def two_tables(tmp_path: Path, now: ManualClock) -> AsyncIterator[tuple[Path, int, int]]:
    """Two started Hanoi tables (10-minute turns); the first one's stored scenario does
    not load (a rule field this version does not know, as a newer Parley would write)."""
    db = tmp_path / "parley.db"
    async with await Store.open(db) as store:
        tables = Tables(store, ScenarioLibrary(), clock=now)
        broken = await seat(tables, channel="one")
        fine = await seat(tables, channel="two")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE tables SET scenario_json = replace(scenario_json, "
            '\'"turn_minutes":10.0\', \'"turn_minutes":10.0,"tempo":"fast"\') WHERE id = ?',
            (broken,),
        )
    yield db, broken, fine


@contextlib.asynccontextmanager
async def running(db: Path, now: ManualClock) -> AsyncIterator[tuple[Bot, Clock]]:
    async with await Store.open(db) as store:
        bot = Bot(Tables(store, ScenarioLibrary(), clock=now), now)
        yield bot, clock_of(bot)


async def test_a_table_the_clock_cannot_tick_does_not_stop_the_others(
    two_tables: tuple[Path, int, int], now: ManualClock
) -> None:
    """One table failing its tick leaves the others' reminders and expiries on time."""
    db, broken, fine = two_tables
    async with running(db, now) as (bot, clock):
        await clock.tick()  # the first look after a start: nothing is overdue yet
        now.advance(minutes=8)  # both tables' reminders are due
        await clock.tick()
        now.advance(minutes=2)  # and both deadlines
        await clock.tick()
        await bot.settled()
        assert bot.publisher.kinds(fine) == ["reminder_sent", "turn_expired"]
        assert bot.publisher.kinds(broken) == []
        assert (await bot.tables.state(fine)).turn == "dprk"
        assert clock.ready.is_set()


async def test_a_table_the_clock_cannot_restart_does_not_keep_the_others_waiting(
    two_tables: tuple[Path, int, int], now: ManualClock
) -> None:
    """Back after an outage, one table failing its fresh clock does not hold back the
    others' fresh clocks, nor the clock's readiness."""
    db, broken, fine = two_tables
    now.advance(minutes=60)
    async with running(db, now) as (bot, clock):
        await clock.tick()
        await bot.settled()
        assert bot.publisher.kinds(fine) == ["deadline_extended"]
        assert bot.publisher.kinds(broken) == [] and broken in clock._overdue
        assert clock.ready.is_set()
        state = await bot.tables.state(fine)
        assert state.deadline == now() + timedelta(minutes=10)
        await clock.tick()  # nothing more: the broken table waits before it is tried again
        await bot.settled()
        assert bot.publisher.kinds(fine) == ["deadline_extended"]
