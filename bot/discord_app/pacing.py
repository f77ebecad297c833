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
from types import SimpleNamespace
from typing import Any

import aiohttp


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
        #: How many starts there were, how many had to wait, and for how long in all (s).
        self.started, self.waited, self.waited_for = 0, 0, 0.0
        self._asking = 0

    @property
    def busy(self) -> bool:
        """Whether requests are waiting for their turn (the budget is spent for now; a
        start that need not wait never shows here, as it returns without yielding)."""
        return self._asking > 0

    async def start(self) -> None:
        """Return when one more start keeps within the pace, and count it."""
        self._asking += 1
        try:
            await self._start()
        finally:
            self._asking -= 1

    async def _start(self) -> None:
        async with self._turn:
            now = self._now()
            while True:
                while self._starts and self._starts[0] <= now - self.per:
                    self._starts.popleft()
                if len(self._starts) < self.limit:
                    self._starts.append(now)
                    self.started += 1
                    return
                wait = self._starts[0] + self.per - now
                self.waited += 1
                self.waited_for += wait
                await self._sleep(wait)
                now = self._now()


def paced_session(pace: Pace, api_base: str) -> aiohttp.TraceConfig:
    """A trace for discord.py's HTTP session (``Client(http_trace=...)``) that holds every
    request to ``api_base`` made with the bot's token until ``pace`` lets it start.

    The hook runs as the request goes out, after discord.py has waited for the route's own
    limit, so a request waiting for its channel does not spend the bot's global budget.
    Answers to interactions and their webhooks share the session but not the global limit,
    so they pass at once; so do the gateway and attachments, outside ``api_base``. A retry
    after a 429 goes out again, and counts again, as it does on Discord.
    """
    base = api_base.rstrip("/") + "/"
    trace = aiohttp.TraceConfig()

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        url = str(params.url)
        if url.startswith(base) and not url[len(base) :].startswith(("interactions/", "webhooks/")):
            await pace.start()

    trace.on_request_start.append(on_request_start)
    return trace
