"""Parley through the fake Discord: interaction latency and throughput, next to a floor.

Run from the repository root (nothing is asserted; figures are printed)::

    .venv/bin/python bench/discord_bench.py            # full run (1, 10 and 50 tables)
    .venv/bin/python bench/discord_bench.py --quick    # a few seconds, as a smoke check

The fake Discord server (``tests/fakediscord``) and the simulated users run in this
process; each bot under test runs in a process of its own (this script with ``--serve``),
connected to the fake over loopback like a bot to Discord, so the bot's event loop and
garbage collector carry the bot alone, as in production, and the fake's timestamps are
all taken in this process. This process collects its garbage before each measured loop
and not during it (the real Discord's pauses are not the bot's). ``--one-process`` runs
the bots in this process and event loop instead, as the bench did until 2026-12-02 (the
bot then shares its loop and its collector with the fake's record of every request and
the 50 clients' caches). Two bots
are measured on the same fake in the same run, one after the other (the fake sends each
INTERACTION_CREATE to the newest connected session):

* **floor**: a bare ``discord.Client`` with one ``/ping`` command that answers "pong" with
  ``interaction.response.send_message``: the cost of discord.py and the fake alone;
* **Parley**: the real ``ParleyBot`` with a fresh SQLite log in a temporary directory; in
  a process of its own it tunes its garbage collector once set up, as ``parley run``
  does (``bot.discord_app.app.tune_garbage_collector``); the floor, a bare bot, does not.

For each concurrency level N, N "tables" play at once (``asyncio.gather``); each table
sends its actions one after the other, each as soon as the previous one is answered, like
a player who waits for the answer. Parley's tables each have their own channel and four
players (a shared facilitator opens, seats and starts them, which is timed separately as
*setup*); the measured loop is a fixed cycle of valid turn actions and statements::

    US head /offer -> DPRK member /reject -> US member /say -> US member /pass ->
    DPRK head /offer -> US head /reject -> DPRK member /say -> DPRK member /pass

The Hanoi scenario ends a table after 10 rounds; to keep tables going for hundreds of
actions the bench plays a copy of ``rules/hanoi-2019.toml`` whose only change is
``max_rounds`` (see ``MAX_ROUNDS``).

Per interaction two latencies are measured from the moment the fake delivers
INTERACTION_CREATE (``InteractionRecord.created_monotonic``):

* **first callback**: the bot's first ``POST /interactions/{id}/{token}/callback`` reaching
  the fake (Parley's ephemeral defer; the floor's whole answer);
* **final answer**: what the user reads, i.e. the callback itself for types 4/7/8/9 or the
  first follow-up (or ``@original`` edit) after a type 5/6 defer.

The final answer's time is also split in three, by ``time.monotonic()`` (one clock for
every process of the machine): *to the bot*, until the bot's client dispatches the
interaction to its code (:class:`Stamped`); *in the bot*, until its first callback reaches
the fake's handler; *the rest*, the fake's handling and any follow-up.

Throughput is actions answered per second over the whole measured loop of a level (from
the start of the ``gather`` to the last answer). The fake's ``interaction_deadline`` is
raised to 30 s so that overload shows as latency, not as failures; interactions without an
answer (within 60 s), failed callbacks and refusals are counted.

With ``--status-every SECONDS`` a facilitator also sends a read-only command at that
interval while the tables play (without waiting for the previous one's answer, so a slow
answer does not thin the samples): ``/session status`` in the tables' channels, round
robin, for Parley; ``/ping`` in the pingers' channels for the floor. Those samples are
reported apart, by command, and are not counted in the throughput.

The fake applies no rate limits, and Parley runs unpaced (:data:`UNPACED`): what is
measured is the bot. With ``--discord-limits`` the fake applies Discord's (see
``tests/fakediscord/README.md``) to Parley's measured loops, Parley keeps its own pace as on
Discord, and the bench prints how many actions a second were announced until the last
announcement was out, and the requests refused with 429.

To show where Parley's time goes, a :class:`Probe` counts inside the running bot without
changing its code: time in ``Tables.act``, read statements, clock ticks, the log's group
commits, and the *backlog*: how long the background publisher (offer messages,
turn posts, status edits) still needed after the last answer; a bot in its own process
sends these figures back over its stdout when asked. ``--profile FILE`` writes cProfile
stats of the Parley bot's process (with ``--one-process``: of the whole run).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import logging
import math
import os
import platform
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve()
ROOT = BENCH.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import discord  # noqa: E402
from discord import app_commands  # noqa: E402

from bot import paths  # noqa: E402
from bot.discord_app.app import ParleyBot, point_at  # noqa: E402
from bot.scenarios import ScenarioLibrary  # noqa: E402
from bot.settings import Settings  # noqa: E402
from tests.fakediscord import (  # noqa: E402
    FakeChannel,
    FakeDiscord,
    FakeMessage,
    FakeUser,
    InteractionRecord,
    RateLimits,
)

#: Concurrency levels of the full run: (tables at once, actions per table).
FULL_LEVELS: tuple[tuple[int, int], ...] = ((1, 400), (10, 100), (50, 40))
#: The ``--quick`` smoke run.
QUICK_LEVELS: tuple[tuple[int, int], ...] = ((1, 8), (3, 4))
#: Rounds allowed at a bench table (the scenario's own limit is 10).
MAX_ROUNDS = 1000
#: Discord's 3 s window, raised so that overload shows up as latency.
INTERACTION_DEADLINE = 30.0
#: How long a simulated user waits for an answer before counting it as never answered.
ANSWER_TIMEOUT = 60.0
SCENARIO = "hanoi-2019"
SEQUENCING = "singapore"
#: The longest JSON line a bot's own process may answer with (every action's time in it).
ANSWER_LIMIT = 64 * 2**20

# -- the fake, with timestamps ------------------------------------------------------------


class TimedFake(FakeDiscord):
    """The fake Discord, stamping when each interaction got its first callback and its
    final answer (``time.monotonic()``, the clock of ``created_monotonic``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.first_callback_at: dict[int, float] = {}
        self.first_callback_status: dict[int, int] = {}
        #: When each interaction's first callback reached the handler (before handling).
        self.first_callback_reached: dict[int, float] = {}
        self.answered_at: dict[int, float] = {}
        self._answer_waiters: dict[int, asyncio.Future[float]] = {}

    async def _callback(self, req: Any) -> Any:
        iid = req.int_param("interaction_id")
        self.first_callback_reached.setdefault(iid, time.monotonic())
        try:
            return await super()._callback(req)
        finally:
            now = time.monotonic()
            if iid not in self.first_callback_at:
                self.first_callback_at[iid] = now
                rec = self.interaction_responses.get(iid)
                if rec is not None and rec.attempts:
                    self.first_callback_status[iid] = rec.attempts[0][1]
            self._check_answered(self.interaction_responses.get(iid), now)

    async def _followup(self, req: Any) -> Any:
        result = await super()._followup(req)
        self._check_answered(self._tokens.get(req.params["token"]), time.monotonic())
        return result

    async def _edit_webhook_message(self, req: Any) -> Any:
        result = await super()._edit_webhook_message(req)
        self._check_answered(self._tokens.get(req.params["token"]), time.monotonic())
        return result

    def _is_answered(self, rec: InteractionRecord) -> bool:
        """What the user sees is complete (as ``answered`` in tests/discord_app/conftest)."""
        if rec.callback_type in (4, 7, 8, 9):
            return True
        if rec.callback_type in (5, 6):
            if rec.followups:
                return True
            if rec.original_message_id is not None:
                return not self.message(rec.original_message_id).loading
        return False

    def _check_answered(self, rec: InteractionRecord | None, now: float) -> None:
        if rec is None or rec.id in self.answered_at or not self._is_answered(rec):
            return
        self.answered_at[rec.id] = now
        waiter = self._answer_waiters.pop(rec.id, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)

    async def answer_of(self, rec: InteractionRecord, within: float) -> float | None:
        """When the interaction was answered, waiting up to ``within`` seconds (or None)."""
        if rec.id in self.answered_at:
            return self.answered_at[rec.id]
        waiter = self._answer_waiters.setdefault(rec.id, asyncio.get_running_loop().create_future())
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), within)
        except TimeoutError:
            return None

    async def message_in(
        self, channel: FakeChannel, predicate: Callable[[FakeMessage], bool], within: float
    ) -> FakeMessage:
        """The first live message of one channel matching ``predicate`` (only that channel's
        messages are scanned, so many tables can wait at once)."""
        deadline = time.monotonic() + within
        while True:
            changed = self._changed
            for message in self.messages[channel.id]:
                if not message.deleted and predicate(message):
                    return message
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching message in #{channel.name}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)


# -- samples and figures ------------------------------------------------------------------


@dataclass
class Sample:
    """One interaction: what it was and how long its answers took (seconds, or None)."""

    kind: str
    first: float | None
    final: float | None
    text: str = ""
    callback_status: int | None = None
    #: Where the final answer's time went (see :func:`where_the_time_went`): from the
    #: fake's dispatch until the bot's client dispatched the interaction, and until the
    #: bot's first callback reached the fake's HTTP handler.
    to_bot: float | None = None
    to_callback: float | None = None
    iid: int = 0
    created: float = 0.0

    @property
    def refused(self) -> bool:
        return self.text.startswith("⛔") or "Something went wrong" in self.text


@dataclass
class Level:
    """The samples of one bot at one concurrency level."""

    system: str
    tables: int
    actions_per_table: int
    samples: list[Sample] = field(default_factory=list)
    wall: float = 0.0
    backlog: float | None = None
    setup_samples: list[Sample] = field(default_factory=list)
    setup_wall: float = 0.0
    #: CPU seconds of the bot's process during the measured loop and its backlog (with
    #: ``--one-process`` that process also runs the fake and the users).
    cpu: float | None = None
    #: The seconds each full garbage collection of the bot's process took, in that time.
    full_collections: list[float] = field(default_factory=list)
    #: A facilitator's read-only command sent at intervals during the loop (if asked).
    status_samples: list[Sample] = field(default_factory=list)
    #: Inside Parley during the measured loop and its backlog (see :class:`Probe`).
    act_times: list[float] = field(default_factory=list)
    statements: int | None = None
    ticks: int = 0
    tick_time: float = 0.0
    #: Group commits of the log during the loop and its backlog, and the units in them.
    commits: int = 0
    units: int = 0
    #: With ``--discord-limits``: the requests the fake refused with 429 in that time.
    rate_limited: list[str] | None = None

    @property
    def answered(self) -> int:
        return sum(1 for s in self.samples if s.final is not None)

    @property
    def throughput(self) -> float:
        return self.answered / self.wall if self.wall > 0 else 0.0


def percentile(values: Sequence[float], p: float) -> float | None:
    """Nearest-rank percentile (``p`` in 0..100) or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def collections(pauses: Sequence[float]) -> str:
    """``count / longest ms`` of some garbage collections."""
    return f"{len(pauses)} / {max(pauses, default=0) * 1000:.0f}"


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def latency_cells(samples: Sequence[Sample]) -> list[str]:
    firsts = [s.first for s in samples if s.first is not None]
    finals = [s.final for s in samples if s.final is not None]
    return [
        ms(percentile(firsts, 50)),
        ms(percentile(firsts, 99)),
        ms(percentile(finals, 50)),
        ms(percentile(finals, 99)),
    ]


def where_the_time_went(
    levels: Sequence[tuple[int, int]], by_key: dict[tuple[str, int], Level]
) -> str:
    """The final answer's time in three parts (the p50 of each): *to the bot*, from the
    fake's dispatch until the bot's client dispatched the interaction (the fake sending
    it, the socket, the bot's loop getting to it); *in the bot*, until its first callback
    reached the fake's HTTP handler (the command, the request, the fake's loop getting to
    it); *the rest*, the fake handling it and any follow-up."""
    rows = []
    for n, _ in levels:
        for system in ("floor", "Parley"):
            level = by_key.get((system, n))
            if level is None:
                continue
            groups: dict[str, list[Sample]] = {}
            for sample in level.samples:
                groups.setdefault(sample.kind, []).append(sample)
            for sample in level.status_samples:
                groups.setdefault(f"{sample.kind} (sampled)", []).append(sample)
            for kind, picked in sorted(groups.items()):
                timed = [
                    (s.to_bot, s.to_callback, s.final)
                    for s in picked
                    if s.to_bot is not None and s.to_callback is not None and s.final is not None
                ]
                if not timed:
                    continue
                parts = (
                    [t[0] for t in timed],
                    [t[1] - t[0] for t in timed],
                    [t[2] - t[1] for t in timed],
                    [t[2] for t in timed],
                )
                cells = [ms(percentile(part, 50)) for part in parts]
                rows.append([system, str(n), kind, str(len(timed)), *cells])
    header = ["system", "tables", "command", "n", "to the bot", "in the bot", "the rest", "final"]
    return (
        "Where the final answer's time went (ms, p50 of each part): to the bot (the fake's "
        "dispatch\nuntil the bot's client dispatched it), in the bot (until its callback "
        "reached the fake's\nhandler), the rest (the fake's handling, any follow-up)\n"
        + render(rows, header)
    )


def render(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            h.ljust(w) if i < 2 else h.rjust(w)
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    ]
    lines.append("  ".join("-" * w for w in widths))
    for row in rows:
        lines.append(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(lines)


# -- driving one interaction --------------------------------------------------------------


async def timed(
    fake: TimedFake, kind: str, deliver: Coroutine[Any, Any, InteractionRecord]
) -> tuple[Sample, InteractionRecord]:
    """Deliver one interaction (``wait=False``) and wait for its final answer."""
    rec = await deliver
    answered = await fake.answer_of(rec, ANSWER_TIMEOUT)
    first = fake.first_callback_at.get(rec.id)
    text = ""
    if rec.followups:
        text = rec.followups[0].content or ""
    elif rec.content:
        text = rec.content
    reached = fake.first_callback_reached.get(rec.id)
    sample = Sample(
        kind=kind,
        first=None if first is None else first - rec.created_monotonic,
        final=None if answered is None else answered - rec.created_monotonic,
        text=text,
        callback_status=fake.first_callback_status.get(rec.id),
        to_callback=None if reached is None else reached - rec.created_monotonic,
        iid=rec.id,
        created=rec.created_monotonic,
    )
    return sample, rec


async def sample_at_intervals(
    fake: TimedFake,
    kind: str,
    send: Callable[[int], Coroutine[Any, Any, InteractionRecord]],
    every: float,
    stop: asyncio.Event,
) -> list[Sample]:
    """Deliver ``send(i)`` every ``every`` seconds until ``stop`` is set, each without
    waiting for the previous answer; return their samples once all are answered."""
    pending: list[asyncio.Task[tuple[Sample, InteractionRecord]]] = []
    index = 0
    while not stop.is_set():
        pending.append(asyncio.create_task(timed(fake, kind, send(index))))
        index += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
    return [sample for sample, _rec in await asyncio.gather(*pending)]


async def while_sampling(
    fake: TimedFake,
    kind: str,
    send: Callable[[int], Coroutine[Any, Any, InteractionRecord]],
    every: float | None,
    load: Awaitable[Any],
) -> tuple[Any, list[Sample]]:
    """Run ``load``; meanwhile (if ``every`` is set) sample ``send`` at that interval."""
    if every is None:
        return await load, []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_at_intervals(fake, kind, send, every, stop))
    try:
        result = await load
    except BaseException:
        sampler.cancel()
        raise
    finally:
        stop.set()
    return result, await sampler


@contextlib.contextmanager
def apparatus_quiet(bot: Bot) -> Iterator[None]:
    """With the bot in a process of its own, keep this process's garbage collector (the
    fake's and the users' objects: the real Discord has none) out of a measured loop:
    collect before it, none during it. With the bot in this process, nothing changes."""
    if not isinstance(bot, BotInItsProcess) or not gc.isenabled():
        yield
        return
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def arrived(samples: Sequence[Sample], arrivals: dict[str, float]) -> None:
    """Note when the bot's client dispatched each sample's interaction (from its drain)."""
    for sample in samples:
        at = arrivals.get(str(sample.iid))
        sample.to_bot = None if at is None else at - sample.created


async def measured(
    bot: Bot,
    fake: TimedFake,
    kind: str,
    send: Callable[[int], Coroutine[Any, Any, InteractionRecord]],
    every: float | None,
    load: Callable[[], Awaitable[Any]],
) -> tuple[float, Any, list[Sample]]:
    """A level's measured loop: the bot's counts started afresh, this process's collector
    kept out (:func:`apparatus_quiet`), ``load()`` started and run while ``send`` is
    sampled (see :func:`while_sampling`). When it started, what ``load`` gave, and the
    samples."""
    with apparatus_quiet(bot):
        await bot.reset()
        started = time.monotonic()
        results, samples = await while_sampling(fake, kind, send, every, load())
    return started, results, samples


# -- the floor: a bare discord.py bot -----------------------------------------------------


class Stamped(discord.Client):
    """A client that notes when it dispatches each interaction to its own code
    (``time.monotonic()``: one clock for every process of the machine)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: dict[int, float] = {}

    def dispatch(self, event: str, /, *args: Any, **kwargs: Any) -> None:
        if event == "interaction":
            self.arrivals[args[0].id] = time.monotonic()
        super().dispatch(event, *args, **kwargs)


class FloorBot(Stamped):
    """The least a discord.py bot can do: one command answered at once."""

    def __init__(self, guild_id: int) -> None:
        wanted = discord.Intents.none()
        wanted.guilds = True  # what Parley asks for when no scenario records caucus rooms
        super().__init__(
            intents=wanted,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
        )
        self.guild_id = guild_id
        self.tree = app_commands.CommandTree(self)

        @self.tree.command(name="ping", description="Answer pong.")
        async def ping(interaction: discord.Interaction[Any]) -> None:
            await interaction.response.send_message("pong")

    async def setup_hook(self) -> None:
        guild = discord.Object(id=self.guild_id)
        self.tree.copy_global_to(guild=guild)
        await self.tree.sync(guild=guild)


async def connect(fake: FakeDiscord, client: discord.Client) -> asyncio.Task[None]:
    """Log a client in to the fake and wait until its commands are synced (as conftest)."""
    identified = fake.identify_count
    await client.login(fake.token)
    task = asyncio.create_task(client.connect(reconnect=True))
    await fake.wait_for_ready(min_identifies=identified + 1, commands=True, timeout=30)
    return task


async def disconnect(client: discord.Client, task: asyncio.Task[None]) -> None:
    """Close the client (before the fake stops, so the loop can finish)."""
    await client.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


async def floor_level(
    fake: TimedFake,
    bot: Bot,
    pingers: list[tuple[FakeUser, FakeChannel]],
    n: int,
    actions: int,
    status_every: float | None = None,
    facilitator: FakeUser | None = None,
) -> Level:
    level = Level("floor", n, actions)

    async def one_channel(user: FakeUser, channel: FakeChannel) -> list[Sample]:
        samples = []
        for _ in range(actions):
            sample, _rec = await timed(fake, "ping", fake.slash(user, channel, "ping", wait=False))
            samples.append(sample)
        return samples

    def status(index: int) -> Coroutine[Any, Any, InteractionRecord]:
        user, channel = pingers[index % n]
        return fake.slash(facilitator or user, channel, "ping", wait=False)

    def load() -> Awaitable[list[list[Sample]]]:
        return asyncio.gather(*(one_channel(u, c) for u, c in pingers[:n]))

    started, results, level.status_samples = await measured(
        bot, fake, "ping", status, status_every, load
    )
    level.wall = time.monotonic() - started
    level.samples = [s for samples in results for s in samples]
    counted = await bot.drain()
    level.cpu, level.full_collections = counted["cpu"], counted["full_collections"]
    arrived([*level.samples, *level.status_samples], counted["arrivals"])
    return level


# -- Parley -------------------------------------------------------------------------------


@dataclass
class Table:
    """One table: its channel and four players (the facilitator is shared)."""

    channel: FakeChannel
    us_head: FakeUser
    us_member: FakeUser
    dprk_head: FakeUser
    dprk_member: FakeUser


#: The measured loop: (player attribute, command, options). Every action is valid in
#: turn: offers and rejects alternate between the delegations, a pass hands the turn
#: over, statements are allowed at any time. Relations items are open from the start.
CYCLE: tuple[tuple[str, str, dict[str, str]], ...] = (
    (
        "us_head",
        "offer",
        {"give": "us-liaison-office", "ask": "dprk-liaison-access", "note": "A channel first."},
    ),
    ("dprk_member", "reject", {"reason": "Not on these terms."}),
    ("us_member", "say", {"text": "We remain ready to talk."}),
    ("us_member", "pass", {}),
    ("dprk_head", "offer", {"give": "dprk-family-reunions", "ask": "us-travel-ban"}),
    ("us_head", "reject", {"reason": "Travel stays restricted for now."}),
    ("dprk_member", "say", {"text": "The door is open."}),
    ("dprk_member", "pass", {}),
)


def bench_library(folder: Path) -> ScenarioLibrary:
    """The scenario library with hanoi-2019's ``max_rounds`` raised to ``MAX_ROUNDS``."""
    source = (paths.RULES_DIR / f"{SCENARIO}.toml").read_text(encoding="utf-8")
    changed, count = re.subn(
        r"^max_rounds = \d+$", f"max_rounds = {MAX_ROUNDS}", source, flags=re.MULTILINE
    )
    if count != 1:
        raise RuntimeError(f"expected one max_rounds line in {SCENARIO}.toml, found {count}")
    rules = folder / "rules"
    rules.mkdir()
    (rules / f"{SCENARIO}.toml").write_text(changed, encoding="utf-8")
    library = ScenarioLibrary(rules, paths.PROMPTS_DIR)
    if library.errors or library.ids() != [SCENARIO]:
        raise RuntimeError(f"the bench scenario did not load: {library.errors}")
    return library


class Probe:
    """Counters inside the running Parley bot. The bot's code is not changed: two bound
    methods are shadowed on their instances and SQLite's trace callback counts statements.

    * ``act_times``: seconds spent in ``Tables.act`` (waiting for the table, then its unit
      and the commit that holds it), per call;
    * ``tick_spans``: runs of the clock's ``tick`` (it visits every open table
      after each action's poke) and the time they took;
    * ``statements``: SQL statements run on the log's read connections (the aiosqlite
      reader, and the one small lookups use on the loop; writes are counted as group
      commits and the units they held).
    """

    def __init__(self) -> None:
        self.act_times: list[float] = []
        self.tick_spans: list[tuple[float, float]] = []
        self.tick_started: float | None = None
        self.statements: int | None = None
        self.store: Any = None
        self.commits_at_reset = (0, 0)

    async def attach(self, bot: ParleyBot) -> None:
        """Start counting; called at the end of the bot's ``setup_hook``."""
        tables = bot.tables
        store = self.store = tables.store
        act = tables.act
        tick = bot.clock.tick

        async def timed_act(*args: Any, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return await act(*args, **kwargs)
            finally:
                self.act_times.append(time.monotonic() - started)

        async def timed_tick() -> Any:
            self.tick_started = time.monotonic()  # the clock runs one tick at a time
            try:
                return await tick()
            finally:
                self.tick_spans.append((self.tick_started, time.monotonic()))
                self.tick_started = None

        tables.act = timed_act  # type: ignore[method-assign]
        bot.clock.tick = timed_tick  # type: ignore[method-assign]
        db = getattr(store, "_db", None)  # the aiosqlite connection, if still so named
        if db is not None and hasattr(db, "set_trace_callback"):
            self.statements = 0
            await db.set_trace_callback(self._statement)
        peek = getattr(store, "_peek", None)  # the loop's lookup connection, if any
        if peek is not None:
            self.statements = self.statements or 0
            peek.set_trace_callback(self._statement)

    def _statement(self, _sql: str) -> None:  # on aiosqlite's worker thread or the loop
        if self.statements is not None:
            self.statements += 1

    def reset(self) -> None:
        self.act_times = []
        if self.statements is not None:
            self.statements = 0
        self.tick_spans = []
        self.commits_at_reset = self.group_commits()

    def group_commits(self) -> tuple[int, int]:
        """The store's group commits so far and the units they held."""
        return getattr(self.store, "group_commits", (0, 0))

    def figures(self) -> dict[str, Any]:
        """What was counted since the last :meth:`reset`, as JSON-ready values."""
        commits, units = self.group_commits()
        return {
            "act_times": list(self.act_times),
            "statements": self.statements,
            "tick_spans": [list(span) for span in self.tick_spans],
            "tick_started": self.tick_started,
            "commits": commits - self.commits_at_reset[0],
            "units": units - self.commits_at_reset[1],
        }


class ProbedParley(Stamped, ParleyBot):
    """The real bot, with a :class:`Probe` attached once it has set up."""

    def __init__(
        self, settings: Settings, library: ScenarioLibrary, probe: Probe, tune_gc: bool
    ) -> None:
        super().__init__(settings, library, tune_gc=tune_gc)
        self.probe = probe

    async def setup_hook(self) -> None:
        await super().setup_hook()
        await self.probe.attach(self)


async def drain(bot: ParleyBot) -> None:
    """Wait until the bot's background announcements are all posted."""
    while bot._background:
        await asyncio.wait(list(bot._background))


# -- the bot under test, in this process or in its own ------------------------------------


class BotUnderTest:
    """A connected bot (the floor or Parley) in this process's event loop."""

    def __init__(self, client: discord.Client, task: asyncio.Task[None], probe: Probe | None):
        self.client, self.task, self.probe = client, task, probe
        self.cpu_at_reset = time.process_time()
        self.collections = Collections()

    async def reset(self) -> None:
        """Start the counts afresh: the process's CPU time, its garbage collections and
        (Parley) the probe's."""
        self.cpu_at_reset = time.process_time()
        self.collections.reset()
        if isinstance(self.client, Stamped):
            self.client.arrivals.clear()
        if self.probe is not None:
            self.probe.reset()

    async def drain(self) -> dict[str, Any]:
        """Wait for the bot's announcements; the CPU seconds of the process (in every
        thread), its full collections and the probe's figures since the last reset."""
        figures: dict[str, Any] = {}
        if self.probe is not None:
            assert isinstance(self.client, ParleyBot)
            await drain(self.client)
            figures = self.probe.figures()
        arrivals = self.client.arrivals if isinstance(self.client, Stamped) else {}
        return {
            **figures,
            "cpu": time.process_time() - self.cpu_at_reset,
            "full_collections": list(self.collections.full),
            "arrivals": {str(iid): at for iid, at in arrivals.items()},
        }

    async def stop(self) -> None:
        self.collections.stop()
        await disconnect(self.client, self.task)


class Collections:
    """How long each full (generation 2) garbage collection of this process took, in
    seconds, from ``gc.callbacks``."""

    def __init__(self) -> None:
        self.full: list[float] = []
        self.started: float | None = None
        gc.callbacks.append(self._observe)

    def _observe(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started is not None:
            self.full.append(time.perf_counter() - self.started)
            self.started = None

    def reset(self) -> None:
        self.full = []

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._observe)


class BotInItsProcess:
    """A connected bot in a process of its own (``--serve``, where a :class:`BotUnderTest`
    runs it), driven over its stdin and answering on its stdout, one JSON line per
    command: the same three calls. Its log records are counted there and added to
    ``logs`` when it stops."""

    def __init__(self, child: asyncio.subprocess.Process, logs: CountingHandler | None) -> None:
        self.child, self.logs = child, logs

    async def _ask(self, command: str) -> dict[str, Any]:
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(f"{command}\n".encode())
        await self.child.stdin.drain()
        line = await self.child.stdout.readline()
        if not line:
            code = await self.child.wait()
            raise RuntimeError(f"the bot's process ended (exit {code}) before answering {command}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def reset(self) -> None:
        await self._ask("reset")

    async def drain(self) -> dict[str, Any]:
        return await self._ask("drain")

    async def stop(self) -> None:
        try:
            answer = await self._ask("stop")
        finally:
            with contextlib.suppress(ProcessLookupError):
                if self.child.returncode is None:
                    try:
                        await asyncio.wait_for(self.child.wait(), 30)
                    except TimeoutError:
                        self.child.kill()
                        await self.child.wait()
        if self.logs is not None:
            for level, name, message, count in answer.get("logs", []):
                self.logs.counts[(level, name, message)] += count


#: A bot under test, wherever it runs.
Bot = BotUnderTest | BotInItsProcess


#: Parley's own pace of requests when the fake applies no rate limits: a Discord without
#: limits, so that what is measured is the bot, not its pace (``--discord-limits`` plays
#: with the pace Parley keeps on Discord, the default of PARLEY_REQUESTS_PER_SECOND).
UNPACED = 1_000_000


def bot_config(settings: Settings, rules: Path) -> dict[str, Any]:
    """What a bot's own process needs to connect to the fake (``--serve``'s argument)."""
    assert settings.discord_token is not None
    return {
        "token": settings.discord_token.get_secret_value(),
        "db": settings.db,
        "guild_id": settings.guild_ids[0],
        "api_base": settings.api_base,
        "gateway_url": settings.gateway_url,
        "requests_per_second": settings.requests_per_second,
        "rules": str(rules),
    }


def config_settings(config: dict[str, Any]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        discord_token=config["token"],
        db=config["db"],
        guild_ids=[config["guild_id"]],
        api_base=config["api_base"],
        gateway_url=config["gateway_url"],
        requests_per_second=config["requests_per_second"],
    )


def make_client(kind: str, config: dict[str, Any]) -> tuple[discord.Client, Probe | None]:
    """The floor bot or the probed Parley bot, for ``config`` (see :func:`bot_config`)."""
    if kind == "floor":
        return FloorBot(config["guild_id"]), None
    probe = Probe()
    library = ScenarioLibrary(Path(config["rules"]), paths.PROMPTS_DIR)
    settings = config_settings(config)
    return ProbedParley(settings, library, probe, config.get("tune_gc", False)), probe


async def start_bot(
    fake: TimedFake,
    kind: str,
    config: dict[str, Any],
    own_process: bool,
    logs: CountingHandler | None = None,
    profile: str | None = None,
) -> Bot:
    """Connect the ``kind`` bot ("floor" or "parley") and wait until its commands are
    synced: in a process of its own, or (``own_process=False``) in this event loop."""
    if not own_process:
        client, probe = make_client(kind, config)
        return BotUnderTest(client, await connect(fake, client), probe)
    identified = fake.identify_count
    # In a process of its own Parley tunes its garbage collector, as `parley run` does.
    config = {**config, "tune_gc": True}
    command = [sys.executable, str(BENCH), "--serve", kind, json.dumps(config)]
    if profile:
        command += ["--profile", profile]
    child = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=ROOT,
        limit=ANSWER_LIMIT,
    )
    ready = asyncio.create_task(
        fake.wait_for_ready(min_identifies=identified + 1, commands=True, timeout=30)
    )
    ended = asyncio.create_task(child.wait())
    await asyncio.wait({ready, ended}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        raise RuntimeError(f"the {kind} bot's process ended (exit {child.returncode}) at start")
    ended.cancel()
    try:
        ready.result()
    except BaseException:
        child.kill()
        await child.wait()
        raise
    return BotInItsProcess(child, logs)


async def serve(kind: str, config: dict[str, Any]) -> None:
    """The bot's own process: connect, then answer the bench's commands on stdin
    (``reset``, ``drain``, ``stop``) with one JSON line each on stdout."""
    logs = CountingHandler()
    logging.basicConfig(level=logging.WARNING, handlers=[logs], force=True)
    point_at(config_settings(config))
    client, probe = make_client(kind, config)
    await client.login(config["token"])
    task = asyncio.create_task(client.connect(reconnect=True))
    bot = BotUnderTest(client, task, probe)
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin)

    def answer(value: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()

    while line := (await commands.readline()).decode().strip():
        if line == "reset":
            await bot.reset()
            answer({})
        elif line == "drain":
            answer(await bot.drain())
        elif line == "stop":
            break
    await bot.stop()
    answer({"logs": [[*key, count] for key, count in logs.counts.items()]})


async def setup_table(fake: TimedFake, prof: FakeUser, table: Table, title: str) -> list[Sample]:
    """Open, join by button (x4), assign (x4) and start one table."""
    samples = []
    sample, _ = await timed(
        fake,
        "session open",
        fake.slash(
            prof,
            table.channel,
            "session open",
            {"scenario": SCENARIO, "sequencing": SEQUENCING, "title": title},
            wait=False,
        ),
    )
    samples.append(sample)
    try:
        opening = await fake.message_in(
            table.channel,
            lambda m: any(
                c.get("custom_id", "").startswith("parley:join:") for c in m.iter_components()
            ),
            ANSWER_TIMEOUT,
        )
    except TimeoutError as exc:
        answer = "no answer" if sample.final is None else repr(sample.text[:300])
        raise TimeoutError(f"{exc} (the /session open answered: {answer})") from None
    join_id = next(
        c["custom_id"]
        for c in opening.iter_components()
        if c.get("custom_id", "").startswith("parley:join:")
    )
    seats = (
        (table.us_head, "us", "head"),
        (table.us_member, "us", "member"),
        (table.dprk_head, "dprk", "head"),
        (table.dprk_member, "dprk", "member"),
    )
    for player, _delegation, _role in seats:
        sample, _ = await timed(
            fake, "join button", fake.click(player, opening, join_id, wait=False)
        )
        samples.append(sample)
    for player, delegation, role in seats:
        sample, _ = await timed(
            fake,
            "session assign",
            fake.slash(
                prof,
                table.channel,
                "session assign",
                {"member": player, "delegation": delegation, "role": role},
                wait=False,
            ),
        )
        samples.append(sample)
    sample, _ = await timed(
        fake, "session start", fake.slash(prof, table.channel, "session start", wait=False)
    )
    samples.append(sample)
    return samples


async def play_table(fake: TimedFake, table: Table, actions: int) -> list[Sample]:
    samples = []
    for index in range(actions):
        player, command, options = CYCLE[index % len(CYCLE)]
        sample, _ = await timed(
            fake,
            command,
            fake.slash(getattr(table, player), table.channel, command, options, wait=False),
        )
        samples.append(sample)
    return samples


async def parley_level(
    fake: TimedFake,
    bot: Bot,
    prof: FakeUser,
    tables: list[Table],
    actions: int,
    status_every: float | None = None,
    limits: RateLimits | None = None,
) -> Level:
    level = Level("Parley", len(tables), actions)
    started = time.monotonic()
    setups = await asyncio.gather(
        *(setup_table(fake, prof, t, f"Bench {len(tables)}-{i}") for i, t in enumerate(tables))
    )
    await bot.drain()  # caucus rooms and briefs are posted before the clock starts
    level.setup_wall = time.monotonic() - started
    level.setup_samples = [s for samples in setups for s in samples]

    def status(index: int) -> Coroutine[Any, Any, InteractionRecord]:
        channel = tables[index % len(tables)].channel
        return fake.slash(prof, channel, "session status", wait=False)

    def load() -> Awaitable[list[list[Sample]]]:
        return asyncio.gather(*(play_table(fake, t, actions) for t in tables))

    refused_before = len(fake.rate_limited)
    fake.rate_limits = limits
    started, results, level.status_samples = await measured(
        bot, fake, "session status", status, status_every, load
    )
    level.wall = time.monotonic() - started
    level.samples = [s for samples in results for s in samples]
    counted = await bot.drain()
    ended = time.monotonic()  # time.monotonic is one clock for every process of the machine
    if limits is not None:
        level.rate_limited = fake.rate_limited[refused_before:]
        fake.rate_limits = None
    level.backlog = ended - started - level.wall
    level.act_times = counted["act_times"]
    level.statements = counted["statements"]
    spans = [tuple(span) for span in counted["tick_spans"]]
    if counted["tick_started"] is not None:
        spans.append((counted["tick_started"], ended))
    overlaps = [min(b, ended) - max(a, started) for a, b in spans if b > started]
    level.ticks, level.tick_time = len(overlaps), sum(overlaps)
    level.commits, level.units = counted["commits"], counted["units"]
    level.cpu, level.full_collections = counted["cpu"], counted["full_collections"]
    arrived([*level.samples, *level.status_samples], counted["arrivals"])
    return level


# -- the run ------------------------------------------------------------------------------


class CountingHandler(logging.Handler):
    """Counts warnings and errors logged by the bot, discord.py and the fake."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: Counter[tuple[str, str, str]] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().splitlines()[0][:140]
        if "voice will NOT be supported" in message:
            return
        if record.exc_info and record.exc_info[1] is not None:
            message += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"[:200]
        self.counts[(record.levelname, record.name, message)] += 1


async def run(
    levels: Sequence[tuple[int, int]],
    status_every: float | None = None,
    own_processes: bool = True,
    logs: CountingHandler | None = None,
    profile: str | None = None,
    limits: RateLimits | None = None,
) -> tuple[list[Level], TimedFake]:
    """Play every level on the floor, then on Parley; ``status_every``: see the module.
    ``own_processes``: each bot in a process of its own (whose warnings and errors are
    added to ``logs``, and which ``profile`` names the Parley one's cProfile file).
    ``limits``: the fake applies them to Parley's measured loops (see ``--discord-limits``)."""
    most = max(n for n, _ in levels)
    results: list[Level] = []
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        library = bench_library(Path(tmp))
        async with TimedFake(interaction_deadline=INTERACTION_DEADLINE) as fake:
            # Seed every channel and user before any bot connects (GUILD_CREATE lists them).
            prof = fake.add_facilitator("prof")
            pingers = [
                (fake.add_player(f"pinger-{i:02d}"), fake.add_channel(f"ping-{i:02d}"))
                for i in range(most)
            ]
            tables_per_level = []
            for n, _ in levels:
                tables = []
                for i in range(n):
                    tag = f"t{n}-{i:02d}"
                    tables.append(
                        Table(
                            fake.add_channel(tag),
                            fake.add_player(f"{tag}-us-head"),
                            fake.add_player(f"{tag}-us-member"),
                            fake.add_player(f"{tag}-dprk-head"),
                            fake.add_player(f"{tag}-dprk-member"),
                        )
                    )
                tables_per_level.append(tables)

            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                discord_token=fake.token,
                db=str(Path(tmp) / "parley.db"),
                guild_ids=[fake.guild.id],
                api_base=fake.api_base,
                gateway_url=fake.gateway_url,
                requests_per_second=None if limits else UNPACED,
            )
            point_at(settings)
            config = bot_config(settings, library.rules_dir)

            floor = await start_bot(fake, "floor", config, own_processes, logs)
            try:
                for n, actions in levels:
                    level = await floor_level(fake, floor, pingers, n, actions, status_every, prof)
                    results.append(level)
                    print(f"  floor  N={n:<3} done", file=sys.stderr, flush=True)
            finally:
                await floor.stop()

            parley = await start_bot(fake, "parley", config, own_processes, logs, profile)
            try:
                for (n, actions), tables in zip(levels, tables_per_level, strict=True):
                    level = await parley_level(
                        fake, parley, prof, tables, actions, status_every, limits
                    )
                    results.append(level)
                    print(f"  Parley N={n:<3} done", file=sys.stderr, flush=True)
            finally:
                await parley.stop()  # the bot closes before the fake stops
    return results, fake


def at_discords_limits(levels: Sequence[Level]) -> str:
    """What Discord's rate limits did to Parley's loops: answers are outside them, so the
    loop runs as fast as without; the announcements queue, and the table's players read
    them only when the backlog is posted."""
    limits = RateLimits()
    budget = limits.global_
    posts = limits.routes[("POST", "/channels/{channel_id}/messages")]
    assert budget is not None
    rows = []
    for r in levels:
        refused = r.rate_limited or []
        whole = r.wall + (r.backlog or 0.0)
        rows.append(
            [
                "Parley",
                str(r.tables),
                str(r.answered),
                f"{r.wall:.2f}",
                "-" if r.backlog is None else f"{r.backlog:.2f}",
                f"{r.answered / whole:.1f}" if whole > 0 else "-",
                str(len(refused)),
                str(sum(1 for line in refused if line.endswith("(global)"))),
            ]
        )
    header = ["system", "tables", "actions", "loop s", "backlog s", "announced/s"]
    return (
        f"At Discord's rate limits (the fake's: {budget.limit} requests a bot every "
        f"{budget.seconds:g} s, interactions' answers exempt; a channel's messages posted or\n"
        f"edited {posts.limit} in {posts.seconds:g} s): actions announced a second, from the "
        "loop's start until the last "
        "announcement was\nposted, and the requests refused with 429 (of them global)\n"
        + render(rows, [*header, "429s", "global"])
    )


def report(
    levels: Sequence[tuple[int, int]],
    results: list[Level],
    fake: TimedFake,
    logs: CountingHandler,
    one_process: bool = False,
) -> None:
    header = [
        "system",
        "tables",
        "actions",
        "1st cb p50",
        "1st cb p99",
        "final p50",
        "final p99",
        "actions/s",
        "CPU/action",
        "full GCs",
        "no answer",
        "refused",
    ]
    rows = []
    by_key = {(r.system, r.tables): r for r in results}
    for n, _ in levels:
        for system in ("floor", "Parley"):
            r = by_key[(system, n)]
            rows.append(
                [
                    system,
                    str(n),
                    str(len(r.samples)),
                    *latency_cells(r.samples),
                    f"{r.throughput:.1f}",
                    "-" if r.cpu is None else f"{r.cpu / max(len(r.samples), 1) * 1000:.2f}",
                    collections(r.full_collections),
                    str(len(r.samples) - r.answered),
                    str(sum(1 for s in r.samples if s.refused)),
                ]
            )
    print(
        "Interaction latency (ms, from INTERACTION_CREATE delivered), throughput; the bot's "
        "process\nover the measured loop and its backlog: its CPU time per action (ms, every "
        "thread), its full\ngarbage collections (count / the longest in ms)"
        + ("; in this process the fake and the users as well" if one_process else "")
    )
    print(render(rows, header))
    print()

    print("Parley by command in the measured loop (ms): first callback / final answer p50, p99")
    kinds = sorted({s.kind for r in results if r.system == "Parley" for s in r.samples})
    rows = []
    for n, _ in levels:
        r = by_key[("Parley", n)]
        for kind in kinds:
            picked = [s for s in r.samples if s.kind == kind]
            if picked:
                rows.append(["Parley", str(n), kind, str(len(picked)), *latency_cells(picked)])
    print(
        render(
            rows, ["system", "tables", "command", "n", "cb p50", "cb p99", "final p50", "final p99"]
        )
    )
    print()

    if any(r.status_samples for r in results):
        print(
            "A facilitator's read-only command at intervals during the loop (ms), not in "
            "the figures above"
        )
        rows = []
        for n, _ in levels:
            for system in ("floor", "Parley"):
                r = by_key[(system, n)]
                picked = r.status_samples
                if picked:
                    unanswered = sum(1 for s in picked if s.final is None)
                    rows.append(
                        [
                            system,
                            str(n),
                            picked[0].kind,
                            str(len(picked)),
                            *latency_cells(picked),
                            str(unanswered),
                            str(sum(1 for s in picked if s.refused)),
                        ]
                    )
        header = ["system", "tables", "command", "n", "cb p50", "cb p99", "final p50"]
        print(render(rows, [*header, "final p99", "no answer", "refused"]))
        print()

    print(where_the_time_went(levels, by_key))
    print()

    print("Parley setup, not in the figures above (open, 4 join buttons, 4 assigns, start)")
    rows = []
    for n, _ in levels:
        r = by_key[("Parley", n)]
        rows.append(
            [
                "Parley",
                str(n),
                str(len(r.setup_samples)),
                *latency_cells(r.setup_samples),
                f"{r.setup_wall:.2f}",
                str(len(r.setup_samples) - sum(1 for s in r.setup_samples if s.final is not None)),
                str(sum(1 for s in r.setup_samples if s.refused)),
            ]
        )
    header = ["system", "tables", "n", "cb p50", "cb p99", "final p50", "final p99"]
    print(render(rows, [*header, "wall s", "no answer", "refused"]))
    print()

    print(
        "Inside Parley during the measured loop, until its announcements were posted: "
        "Tables.act (ms),\nread statements per action, clock ticks, the announcement "
        "backlog left after the last answer,\nand the log's group commits (units written, "
        "commits, units per commit)"
    )
    rows = []
    for n, _ in levels:
        r = by_key[("Parley", n)]
        answered = max(r.answered, 1)
        rows.append(
            [
                "Parley",
                str(n),
                f"{r.wall:.2f}",
                ms(percentile(r.act_times, 50)),
                ms(percentile(r.act_times, 99)),
                "-" if r.statements is None else f"{r.statements / answered:.1f}",
                str(r.ticks),
                f"{r.tick_time:.2f}",
                "-" if r.backlog is None else f"{r.backlog:.2f}",
                str(r.units),
                str(r.commits),
                f"{r.units / max(r.commits, 1):.1f}",
            ]
        )
    header = ["system", "tables", "loop s", "act p50", "act p99", "reads/action", "ticks"]
    header += ["tick s", "backlog s", "units", "commits", "units/commit"]
    print(render(rows, header))
    print()
    limited = [r for r in results if r.rate_limited is not None]
    if limited:
        print(at_discords_limits(limited))
        print()

    every = [s for r in results for s in (*r.setup_samples, *r.samples, *r.status_samples)]
    refused = [s for s in every if s.refused]
    failed_callbacks = [s for s in every if s.callback_status not in (None, 200)]
    print(
        f"Fake: {len(fake.requests)} REST requests, {len(fake.interaction_responses)} "
        f"interactions, failed callbacks {len(failed_callbacks)}, "
        f"unhandled routes {len(fake.unhandled)}, fake errors {len(fake.server_errors)}"
    )
    for sample in refused[:5]:
        print(f"  refused {sample.kind}: {sample.text.splitlines()[0][:160]}")
    if logs.counts:
        print("Warnings and errors logged:")
        for (level, name, message), count in logs.counts.most_common(8):
            print(f"  {count:>5} x {level} {name}: {message}")
    else:
        print("Warnings and errors logged: none")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a very short smoke run")
    parser.add_argument(
        "--levels",
        help="comma-separated TABLESxACTIONS, e.g. 1x200,10x40 (overrides the defaults)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="write cProfile stats of the Parley bot's process (--one-process: of the run)",
    )
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="run the bots in this process and event loop, beside the fake and the users",
    )
    parser.add_argument(
        "--discord-limits",
        action="store_true",
        help="the fake applies Discord's rate limits to Parley's measured loops",
    )
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)  # a bot's own process
    parser.add_argument(
        "--status-every",
        type=float,
        metavar="SECONDS",
        help="a facilitator sends /session status (the floor: /ping) at this interval",
    )
    args = parser.parse_args(argv)
    if args.serve:
        kind, config = args.serve
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        asyncio.run(serve(kind, json.loads(config)))
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        return
    if args.levels:
        levels = tuple(
            (int(n), int(a)) for n, a in (part.split("x") for part in args.levels.split(","))
        )
    else:
        levels = QUICK_LEVELS if args.quick else FULL_LEVELS

    logs = CountingHandler()
    logging.basicConfig(level=logging.WARNING, handlers=[logs], force=True)

    print(
        f"Parley Discord bench: Python {platform.python_version()}, discord.py "
        f"{discord.__version__}, {platform.machine()}, levels "
        + ", ".join(f"{n} x {a}" for n, a in levels)
        + f" (tables x actions each); {SCENARIO}/{SEQUENCING} with max_rounds={MAX_ROUNDS}; "
        f"fake interaction deadline {INTERACTION_DEADLINE:.0f} s; "
        + ("bots in this process; " if args.one_process else "each bot in its own process; ")
        + ("Discord's rate limits on Parley's loops; " if args.discord_limits else "")
        + f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    )
    profiler = cProfile.Profile() if args.profile and args.one_process else None
    started = time.monotonic()
    if profiler is not None:
        profiler.enable()
    bots_profile = None if args.one_process else args.profile
    results, fake = asyncio.run(
        run(
            levels,
            args.status_every,
            not args.one_process,
            logs,
            bots_profile,
            RateLimits() if args.discord_limits else None,
        )
    )
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    print(
        f"(whole run {time.monotonic() - started:.1f} s; load average {os.getloadavg()[0]:.2f} "
        "at the end: other processes on the machine skew the figures)"
    )
    print()
    report(levels, results, fake, logs, args.one_process)


if __name__ == "__main__":
    main()
