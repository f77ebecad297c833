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
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Hashable
from types import SimpleNamespace
from typing import Any

import aiohttp


class Pace:
    """At most ``limit`` starts in any ``per`` seconds (a sliding window over the start
    times). Starts that must wait are served by key in turn, first come first served
    within a key: one server's burst of requests (a key is a Discord server) does not make
    every other server wait behind all of it."""

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
        #: Waiting starts by key, the key to serve next first.
        self._waiting: OrderedDict[Hashable, deque[asyncio.Future[None]]] = OrderedDict()
        self._serving: asyncio.Task[None] | None = None
        #: How many starts there were, and how many of them had to wait.
        self.started, self.waited = 0, 0

    @property
    def busy(self) -> bool:
        """Whether starts are waiting for their turn (the budget is spent for now)."""
        return bool(self._waiting)

    async def start(self, key: Hashable = None) -> None:
        """Return when one more start keeps within the pace, and count it."""
        if not self._waiting and self._take():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(waiter)
        self.waited += 1
        if self._serving is None:
            self._serving = asyncio.create_task(self._serve())
        try:
            await waiter
        except asyncio.CancelledError:
            queue = self._waiting.get(key)
            if queue is not None and waiter in queue:
                queue.remove(waiter)
                if not queue:
                    del self._waiting[key]
            raise

    def close(self) -> None:
        """Stop serving (the bot is closing); starts still waiting are cancelled."""
        if self._serving is not None:
            self._serving.cancel()
        for queue in self._waiting.values():
            for waiter in queue:
                waiter.cancel()
        self._waiting.clear()

    def _take(self) -> bool:
        """Count a start now if the window has room for it."""
        now = self._now()
        while self._starts and self._starts[0] <= now - self.per:
            self._starts.popleft()
        if len(self._starts) >= self.limit:
            return False
        self._starts.append(now)
        self.started += 1
        return True

    async def _serve(self) -> None:
        """Let the waiting starts go as the window makes room: the next key's first, and
        that key to the back of the line."""
        try:
            while self._waiting:
                key, queue = next(iter(self._waiting.items()))
                if queue[0].done():  # given up while it waited (its task cancelled)
                    queue.popleft()
                    if not queue:
                        del self._waiting[key]
                    continue
                if not self._take():
                    await self._sleep(self._starts[0] + self.per - self._now())
                    continue
                waiter = queue.popleft()
                del self._waiting[key]
                if queue:
                    self._waiting[key] = queue
                waiter.set_result(None)
        finally:
            self._serving = None


def paced_session(
    pace: Pace, api_base: str, key: Callable[[str], Hashable] = lambda path: None
) -> aiohttp.TraceConfig:
    """A trace for discord.py's HTTP session (``Client(http_trace=...)``) that holds every
    request to ``api_base`` made with the bot's token until ``pace`` lets it start.

    The hook runs as the request goes out, after discord.py has waited for the route's own
    limit, so a request waiting for its channel does not spend the bot's global budget.
    Answers to interactions and their webhooks share the session but not the global limit,
    so they pass at once; so do the gateway and attachments, outside ``api_base``. A retry
    after a 429 goes out again, and counts again, as it does on Discord. ``key`` tells
    whose request it is from its path (``channels/123/messages``): see :func:`server_of`.
    """
    base = api_base.rstrip("/") + "/"
    trace = aiohttp.TraceConfig()

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        url = str(params.url)
        if not url.startswith(base):
            return
        path = url[len(base) :]
        if not path.startswith(("interactions/", "webhooks/")):
            await pace.start(key(path))

    trace.on_request_start.append(on_request_start)
    return trace


def server_of(path: str, guild_of_channel: Callable[[int], int | None]) -> Hashable:
    """Whose request a REST path is, for taking turns: the server (guild) it concerns, from
    the path or from the channel in it (``guild_of_channel``: the bot's cache); the channel
    itself if its server is unknown (a DM); None for the rest (the bot's own user, say)."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) < 2 or not parts[1].isdigit():
        return None
    if parts[0] == "guilds":
        return int(parts[1])
    if parts[0] == "channels":
        channel = int(parts[1])
        guild = guild_of_channel(channel)
        return guild if guild is not None else ("channel", channel)
    return None
