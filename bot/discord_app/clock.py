"""The clock: reminders and expiries, from deadlines kept in the log.

It sleeps until the earliest deadline (or reminder) of any open table, or until an
action pokes it. After a restart it reads the deadlines back from the log; a turn whose
deadline passed while the bot was down gets a fresh clock (announced once) rather than
expiring, so time away never costs a delegation its turn.

A bot running only some shards (several processes sharing one log) runs the tables of
its own shards' servers only; the other processes run the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.discord_app.app import ParleyBot
    from bot.service import Outcome

log = logging.getLogger("parley.clock")

#: No poke about this table yet.
_UNSEEN = (-1, None)

#: The longest the clock sleeps without looking (new tables poke it anyway).
MAX_SLEEP_SECONDS = 30.0
#: How long a table the clock failed to act on waits before it is tried again.
RETRY_AFTER = timedelta(seconds=MAX_SLEEP_SECONDS)


class Clock:
    """Runs each table's due reminders and expiries.

    It keeps each open table's next wake-up; an action pokes the clock with its table,
    so only that table is read again. Every :data:`MAX_SLEEP_SECONDS` it reads them all
    (another process may share the log). It looks only at the tables of the servers its
    bot runs (:meth:`ParleyBot.runs_tables_of`: all of them unless sharded).
    """

    def __init__(self, bot: ParleyBot) -> None:
        self.bot = bot
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._due: dict[int, datetime] = {}
        #: Tables poked since the last look: the (sequence number, next wake-up) an outcome
        #: gave, or None to read it.
        self._changed: dict[int, tuple[int, datetime | None] | None] = {}
        self._read_all = True
        self._read_all_at = 0.0
        self._started = False
        #: Tables overdue when the bot came back that still need their fresh clock.
        self._overdue: set[int] = set()
        #: Set once the first tick has read every open table (the bot is then ready).
        self.ready = asyncio.Event()

    def start(self) -> None:
        """Start ticking in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="parley-clock")

    async def stop(self) -> None:
        """Stop ticking."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poke(self, table_id: int | None = None, outcome: Outcome | None = None) -> None:
        """Look again now at one table (or at every table) whose deadline may have moved;
        with the ``outcome`` that moved it, its next wake-up comes from there (no read)."""
        if table_id is None:
            self._read_all = True
        elif outcome is None or outcome.state is None:
            self._changed[table_id] = None
        else:
            seen = self._changed.get(table_id, _UNSEEN)
            if seen is not None and (seen is _UNSEEN or seen[0] < outcome.state.last_seq):
                self._changed[table_id] = (outcome.state.last_seq, outcome.wakeup)
        self._wake.set()

    async def _refresh(self, table_id: int) -> None:
        wakeup = await self.bot.tables.next_wakeup(table_id)
        if wakeup is None:
            self._due.pop(table_id, None)
        else:
            self._due[table_id] = wakeup

    async def _runs(self, table_id: int) -> bool:
        """Whether this process runs a table's clock (its server is on one of our shards)."""
        if self.bot.sharding is None:
            return True
        return self.bot.runs_tables_of((await self.bot.tables.table(table_id)).guild_id)

    async def tick(self) -> datetime | None:
        """Run whatever is due; return when to look next."""
        tables = self.bot.tables
        ours = self.bot.runs_tables_of
        if (
            not self._started
            or self._read_all
            or time.monotonic() - self._read_all_at >= MAX_SLEEP_SECONDS
        ):
            # Every table's next wake-up as kept with its last write: one query.
            self._read_all, self._read_all_at = False, time.monotonic()
            self._changed.clear()
            wakeups = await tables.wakeups(guilds=ours)
            self._due = {table_id: at for table_id, at in wakeups.items() if at is not None}
            if not self._started:
                # Back from a restart: overdue turns get a fresh clock, once, not expiries.
                # (A table whose next wake-up is still ahead has nothing overdue.)
                now = self.bot.now()
                self._overdue = {table_id for table_id, at in self._due.items() if at <= now}
        else:
            changed, self._changed = self._changed, {}
            # Pokes come from actions in our own servers; a table id alone does not say so.
            for table_id, known in changed.items():
                if not await self._runs(table_id):
                    continue
                if known is None:
                    await self._refresh(table_id)
                elif known[1] is None:
                    self._due.pop(table_id, None)
                else:
                    self._due[table_id] = known[1]
        for table_id, wakeup in sorted(self._due.items(), key=lambda item: item[1]):
            if wakeup > self.bot.now():
                break
            if table_id in self._overdue:
                if not await self._attempt(table_id, tables.restart_clock):
                    continue
                self._overdue.discard(table_id)
            await self._attempt(table_id, tables.tick)
        self._started = True
        self.ready.set()
        return min(self._due.values(), default=None)

    async def _attempt(self, table_id: int, step: Callable[[int], Awaitable[Outcome]]) -> bool:
        """Run one table's step, announce it and read the table's next wake-up. If that
        fails, the table is tried again in a while: a table the clock cannot act on (its
        log unreadable, say) holds up no other table."""
        try:
            self._publish(await step(table_id))
            await self._refresh(table_id)
        except Exception:
            log.exception("table %s: the clock could not act on it; trying again later", table_id)
            self._due[table_id] = self.bot.now() + RETRY_AFTER
            return False
        return True

    def _publish(self, outcome: Outcome) -> None:
        if outcome.events:
            self.bot.spawn(self.bot.publisher.publish(outcome.table_id, outcome))

    async def _run(self) -> None:
        while True:
            # Clear before looking, so a poke that arrives during the tick is not lost.
            self._wake.clear()
            try:
                soonest = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the clock failed a tick; trying again shortly")
                soonest, self._read_all = None, True
            delay = MAX_SLEEP_SECONDS
            if soonest is not None:
                delay = min(max((soonest - self.bot.now()).total_seconds(), 0.05), delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
