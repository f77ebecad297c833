"""The Discord client: settings, the log, commands, buttons and the clock in one place."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import discord
import yarl

from bot.discord_app import announcements
from bot.discord_app.clock import Clock
from bot.discord_app.pacing import Pace, paced_session, server_of
from bot.discord_app.publish import Publisher
from bot.discord_app.replies import ParleyTree
from bot.discord_app.shards import Shards
from bot.domain import commands as c
from bot.domain.errors import Refusal
from bot.scenarios import ScenarioLibrary
from bot.service import Outcome, Tables, open_tables, utc_now
from bot.settings import Settings

log = logging.getLogger("parley.discord")

#: How many new objects the garbage collector's youngest generation takes before it is
#: collected, in a tuned bot (CPython's default is 700; see :func:`tune_garbage_collector`).
YOUNG_OBJECTS = 10_000

#: How many interaction ids to remember in memory (the log remembers them for good).
_SEEN_LIMIT = 10_000

#: Discord lets one identify through per rate-limit bucket every this many seconds.
IDENTIFY_INTERVAL_SECONDS = 5.0


def point_at(settings: Settings) -> None:
    """Send discord.py's REST and gateway traffic to the configured servers."""
    discord.http.Route.BASE = settings.api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def records_caucus(library: ScenarioLibrary) -> bool:
    """Whether any scenario (or variant) records the messages written in caucus rooms."""
    return any(
        scenario.rules_for(variant).record_caucus
        for scenario in library.all()
        for variant in scenario.variant_names()
    )


def intents(library: ScenarioLibrary) -> discord.Intents:
    """The gateway intents Parley needs: guilds (channels, threads, roles).

    Commands and buttons arrive as interactions, which carry the member and their
    permissions, so the privileged members intent is never needed. Message content (also
    privileged) is asked for only when a scenario records caucus messages.
    """
    wanted = discord.Intents.none()
    wanted.guilds = True
    if records_caucus(library):
        wanted.guild_messages = True
        wanted.message_content = True
    return wanted


class ParleyBot(discord.Client):
    """Parley on Discord: one connection, every server the bot is in."""

    #: The shards this process runs (None: one connection for every server).
    sharding: Shards | None = None

    def __init__(
        self,
        settings: Settings,
        library: ScenarioLibrary | None = None,
        now: Callable[[], datetime] = utc_now,
        tune_gc: bool = False,
        **client_options: Any,
    ) -> None:
        library = library or ScenarioLibrary()
        #: The pace of this process's requests with the bot's token (see :mod:`pacing`).
        self.pace = Pace(settings.requests_a_second())
        super().__init__(
            intents=intents(library),
            allowed_mentions=discord.AllowedMentions.none(),
            http_trace=paced_session(
                self.pace, settings.api_base, lambda path: server_of(path, self._guild_of)
            ),
            **client_options,
        )
        self.settings = settings
        self.library = library
        #: The time (injected in tests, so turns need no real minutes).
        self.now = now
        #: Tune the garbage collector once set up (``parley run``; see
        #: :func:`tune_garbage_collector`).
        self.tune_gc = tune_gc
        self.tree = ParleyTree(self)
        self._tables: Tables | None = None
        self.publisher = Publisher(self)
        self.clock = Clock(self)
        self._seen: OrderedDict[int, float] = OrderedDict()
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def tables(self) -> Tables:
        """The service over the log (available once the bot has set up)."""
        if self._tables is None:
            raise RuntimeError("the bot has not been set up yet")
        return self._tables

    async def setup_hook(self) -> None:
        from bot.discord_app import commands as slash_commands
        from bot.discord_app import components

        announcements.templates()  # a broken announcements file stops the start, clearly
        for error in self.library.errors:
            log.error("scenario not loaded:\n%s", error.render())
        self._tables = await open_tables(self.settings.db, self.library, clock=self.now)
        components.register(self)
        slash_commands.register(self)
        guilds = [discord.Object(id=g) for g in self.settings.guild_ids]
        for guild in guilds:
            self.tree.copy_global_to(guild=guild)
            await self.tree.sync(guild=guild)
        if not guilds:
            await self.tree.sync()
        log.info(
            "commands synced to %s", ", ".join(map(str, self.settings.guild_ids)) or "all servers"
        )
        log.info(
            "requests with the bot's token paced at %d a second (PARLEY_REQUESTS_PER_SECOND)",
            self.pace.limit,
        )
        if self.tune_gc:
            frozen = tune_garbage_collector()
            log.info(
                "garbage collector tuned: %d objects of the startup heap frozen, the young "
                "generation collected every %d new objects",
                frozen,
                YOUNG_OBJECTS,
            )
        self.clock.start()

    async def on_ready(self) -> None:
        log.info("logged in as %s (%s)", self.user, self.user.id if self.user else "?")

    def runs_tables_of(self, guild_id: str | None) -> bool:
        """Whether this process runs the clock (and counterparts) of a server's tables:
        every server's, unless it runs only some shards."""
        return self.sharding is None or self.sharding.runs(guild_id)

    async def on_message(self, message: discord.Message) -> None:
        """Record a member's message in their own caucus room, where the scenario says so."""
        if message.author.bot or self._tables is None or not message.content:
            return
        table_id = await self.tables.table_of_room(str(message.channel.id))
        if table_id is None:
            return
        state = await self.tables.state(table_id)
        member = state.member(str(message.author.id))
        places = await self.tables.places(table_id)
        own_room = member is not None and places.get(f"room:{member.delegation}") == str(
            message.channel.id
        )
        if not state.rules.record_caucus or not own_room:
            return
        who = c.Who(user_id=str(message.author.id), name=message.author.display_name)
        await self.tables.act(
            table_id, c.CaucusMessage(who=who, text=message.content), key=f"message:{message.id}"
        )

    async def close(self) -> None:
        """Stop the clock, let announcements in flight finish, then disconnect."""
        await self.clock.stop()
        self.publisher.flush()
        if self._background:
            await asyncio.wait(self._background, timeout=10)
        await super().close()
        self.pace.close()
        if self._tables is not None:
            await self._tables.close()
            self._tables = None

    def _guild_of(self, channel_id: int) -> int | None:
        """The server of a cached channel (for taking turns at the request budget)."""
        guild = getattr(self.get_channel(channel_id), "guild", None)
        return guild.id if guild is not None else None

    # -- helpers for commands and buttons ---------------------------------------------

    def first_delivery(self, interaction: discord.Interaction[Any]) -> bool:
        """False if this interaction was seen before in this process."""
        if interaction.id in self._seen:
            return False
        self._seen[interaction.id] = time.monotonic()
        while len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    def is_facilitator(self, interaction: discord.Interaction[Any]) -> bool:
        """Manage Server (or Administrator), or the configured facilitator role."""
        permissions = interaction.permissions
        if permissions.manage_guild or permissions.administrator:
            return True
        wanted = self.settings.facilitator_role
        member = interaction.user
        if wanted and isinstance(member, discord.Member):
            return any(role.name == wanted or str(role.id) == wanted for role in member.roles)
        return False

    def who(self, interaction: discord.Interaction[Any]) -> c.Who:
        """The person behind an interaction, as the rules know them."""
        user = interaction.user
        return c.Who(
            user_id=str(user.id),
            name=user.display_name,
            facilitator=self.is_facilitator(interaction),
        )

    async def table_here(self, interaction: discord.Interaction[Any]) -> int:
        """The open table of the interaction's channel (or of the caucus room it is in)."""
        guild = str(interaction.guild_id) if interaction.guild_id else None
        return await self.tables.table_in(guild, str(interaction.channel_id))

    async def act(
        self, interaction: discord.Interaction[Any], command: c.Command, table_id: int | None = None
    ) -> Outcome:
        """Apply a command for an interaction (once per interaction id) and publish it.

        A refusal is raised (after it is logged) so the one error path answers it.
        """
        if table_id is None:
            table_id = await self.table_here(interaction)
        return self.follow_up(await self.tables.act(table_id, command, key=str(interaction.id)))

    async def log_refusal(
        self,
        interaction: discord.Interaction[Any],
        table_id: int,
        command_name: str,
        args: dict[str, Any],
        refusal: Refusal,
    ) -> None:
        """Log an attempt refused here, before the rules saw it, in the table's log (once
        per interaction id); the caller then raises the refusal for the one error path."""
        key = str(interaction.id)
        who = self.who(interaction)
        await self.tables.refuse(table_id, who, command_name, args, refusal, key=key)

    def follow_up(self, outcome: Outcome) -> Outcome:
        """Raise a refusal (the one error path answers it), or announce what happened.

        A repeated delivery was announced the first time, so it is not announced again.
        """
        if outcome.refusal is not None:
            raise outcome.refusal
        if not outcome.repeated:
            self.spawn(self.publisher.publish(outcome.table_id, outcome))
            self.clock.poke(outcome.table_id, outcome)
        return outcome

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """Run a follow-up (announcements) in the background, logging its failure."""
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)
        return task


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("a background task failed", exc_info=task.exception())


class ShardedParleyBot(ParleyBot, discord.AutoShardedClient):
    """Parley on some shards of the bot's servers (``PARLEY_SHARD_COUNT``, ``PARLEY_SHARD_IDS``).

    Several processes, each with its own shard ids, share the servers and the one log:
    Discord sends a server's interactions to its shard's connection, and each process
    runs the clocks of its own servers' tables only (see :meth:`runs_tables_of`).
    """

    def __init__(
        self,
        settings: Settings,
        library: ScenarioLibrary | None = None,
        now: Callable[[], datetime] = utc_now,
        tune_gc: bool = False,
    ) -> None:
        shards = Shards.from_settings(settings)
        if shards is None:
            raise ValueError("a sharded bot needs PARLEY_SHARD_COUNT")
        super().__init__(
            settings,
            library,
            now,
            tune_gc,
            shard_count=shards.count,
            shard_ids=list(shards.ids),
        )
        self.sharding = shards
        #: How many identify rate-limit buckets there are (Discord's ``max_concurrency``).
        self._identify_buckets = 1
        self._identified_at: dict[int, float] = {}
        self._identifying = asyncio.Lock()

    async def setup_hook(self) -> None:
        limits = await self.fetch_session_start_limits()
        self._identify_buckets = max(limits.max_concurrency, 1)
        assert self.sharding is not None
        log.info(
            "running %s (%d session starts left, %d identify at once)",
            self.sharding.describe(),
            limits.remaining,
            self._identify_buckets,
        )
        if limits.remaining < len(self.sharding.ids):
            log.warning(
                "Discord allows %d more session starts for %.0f minutes; shards past them "
                "will not connect until then",
                limits.remaining,
                limits.reset_after / 60_000,
            )
        await super().setup_hook()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Keep to Discord's identify rate limit: one identify per bucket
        (``shard_id % max_concurrency``) every 5 seconds. discord.py alone waits 5 s before
        every shard but the first, whatever ``max_concurrency`` allows."""
        bucket = (shard_id or 0) % self._identify_buckets
        async with self._identifying:
            last = self._identified_at.get(bucket)
            if last is not None:
                wait = IDENTIFY_INTERVAL_SECONDS - (time.monotonic() - last)
                if wait > 0:
                    await asyncio.sleep(wait)
            self._identified_at[bucket] = time.monotonic()


def make_bot(
    settings: Settings,
    library: ScenarioLibrary | None = None,
    now: Callable[[], datetime] = utc_now,
    tune_gc: bool = False,
) -> ParleyBot:
    """The bot ``parley run`` starts: sharded when ``PARLEY_SHARD_COUNT`` is set, else one
    plain connection."""
    if settings.shard_count is not None:
        return ShardedParleyBot(settings, library, now, tune_gc)
    return ParleyBot(settings, library, now, tune_gc)


def tune_garbage_collector() -> int:
    """Tune the garbage collector for a long-running bot once it is set up; how many
    objects were frozen.

    A full collection walks every container object of the heap: about 0.7 µs each on the
    2-core machine of the benchmarks, some 60 ms for the 70,000 objects of the modules,
    classes, commands, scenarios and templates a started bot holds, all of which live as
    long as the process. The bot's event loop stands still meanwhile. So:

    * :func:`gc.freeze` (after a collection, so no garbage is frozen) moves them to the
      permanent generation: a full collection walks only what the bot made since. Frozen
      objects are still freed by reference counting; a cycle among them would not be,
      which costs nothing for objects made to last the process.
    * The youngest generation is collected after :data:`YOUNG_OBJECTS` new objects instead
      of CPython's 700. An interaction's objects (discord.py's, an offer's buttons, which
      form cycles) live for the few milliseconds of its answer: collected that often they
      are still alive, move to the older generations and make full collections frequent.
      A youngest collection of 10,000 live objects takes about 0.3 ms there.

    In the Discord bench (50 tables at once) this took the full collections in the bot's
    process during the measured loop from about four of 60-85 ms each to none.
    ``parley run`` does this; tests, which start many bots in one process, do not.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_OBJECTS, middle, old)
    return gc.get_freeze_count()
