"""The clock: reminders and expiries, from deadlines kept in the log.

It sleeps until the earliest deadline (or reminder) of any open table, or until an
action pokes it; after a restart it reads the deadlines back from the log, so a turn
that ran out while the bot was down expires at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain.engine import next_wakeup
from bot.store import utc_now

if TYPE_CHECKING:
    from bot.discord_app.app import ParleyBot

log = logging.getLogger("parley.clock")

#: The longest the clock sleeps without looking (new tables poke it anyway).
MAX_SLEEP_SECONDS = 30.0


class Clock:
    """Runs each table's due reminders and expiries."""

    def __init__(self, bot: ParleyBot) -> None:
        self.bot = bot
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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

    def poke(self) -> None:
        """Look again now (a deadline may have changed)."""
        self._wake.set()

    async def tick(self) -> datetime | None:
        """Run whatever is due on every open table; return when to look next."""
        store = self.bot.store
        assert store is not None
        soonest: datetime | None = None
        for row in await store.open_tables():
            state = await self.bot.tables.state(row.id)
            wakeup = next_wakeup(state)
            if wakeup is not None and wakeup <= utc_now():
                outcome = await self.bot.tables.tick(row.id)
                if outcome.events:
                    await self.bot.publisher.publish(row.id, outcome)
                wakeup = next_wakeup(await self.bot.tables.state(row.id))
            if wakeup is not None and (soonest is None or wakeup < soonest):
                soonest = wakeup
        return soonest

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
                soonest = None
            delay = MAX_SLEEP_SECONDS
            if soonest is not None:
                delay = min(max((soonest - utc_now()).total_seconds(), 0.05), delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
