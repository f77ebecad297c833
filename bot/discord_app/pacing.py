"""Keeping under Discord's global rate limit instead of learning it from refusals.

Discord lets a bot make 50 requests a second with its token, over all its processes
(answers to interactions are outside that limit). discord.py waits out each route's limit
from the headers Discord sends, but it learns of the global one only from a 429, and every
429 counts towards the invalid requests that get a bot's address banned for an hour
(10,000 in ten minutes). So Parley paces its own requests: at most so many start in any
second (``PARLEY_REQUESTS_PER_SECOND``, see :meth:`Settings.requests_a_second`), the rest
wait their turn in order.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import discord


class Pace:
    """At most ``limit`` starts in any ``per`` seconds (a sliding window over the start
    times), granted in the order asked."""

    def __init__(
        self,
        limit: int,
        per: float = 1.0,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if limit < 1 or per <= 0:
            raise ValueError(f"a pace needs at least 1 start in a positive time, not {limit}/{per}")
        self.limit, self.per = limit, per
        self._now, self._sleep = now, sleep
        self._starts: deque[float] = deque()
        self._turn = asyncio.Lock()  # first come, first served
        #: How many starts had to wait, and for how long in all (seconds).
        self.waited, self.waited_for = 0, 0.0

    async def start(self) -> None:
        """Return when one more start keeps within the pace, and count it."""
        async with self._turn:
            now = self._now()
            while True:
                while self._starts and self._starts[0] <= now - self.per:
                    self._starts.popleft()
                if len(self._starts) < self.limit:
                    self._starts.append(now)
                    return
                wait = self._starts[0] + self.per - now
                self.waited += 1
                self.waited_for += wait
                await self._sleep(wait)
                now = self._now()


def pace_requests(http: discord.http.HTTPClient, pace: Pace) -> None:
    """Make every request of ``http`` (the bot token's; interactions' answers go another
    way) wait for its start in ``pace``. A retry after a 429 inside discord.py is not
    paced again: it already waited what Discord asked."""
    request = http.request

    async def paced(route: discord.http.Route, **kwargs: Any) -> Any:
        await pace.start()
        return await request(route, **kwargs)

    http.request = paced  # type: ignore[method-assign]
