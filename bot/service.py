"""Tables: the one place commands meet the rules and the log.

Each action runs in one write transaction: catch up on events another process may have
logged, decide with the rules, append the events (or the refused attempt), remember the
idempotency key, commit. Only then is the outcome returned, so a user is told of nothing
that is not in the log. Actions on one table are applied one at a time.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot.counterparts import Counterpart
from bot.domain import commands as c
from bot.domain import engine
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.events import Event, NewEvent, TableOpened
from bot.domain.scenario import Scenario
from bot.domain.state import Phase, Replay, Seat, TableState
from bot.scenarios import ScenarioLibrary
from bot.store import (
    LogUnavailable,
    Remembered,
    Store,
    StoreError,
    TableRow,
    Transaction,
    utc_now,
)

__all__ = [
    "LogUnavailable",
    "Outcome",
    "Places",
    "StoreError",
    "TableRow",
    "TableSummary",
    "Tables",
    "open_tables",
    "utc_now",
]

#: How long a practice table's counterparts think before they act (at most half a turn).
PRACTICE_THINK_SECONDS = 10.0

#: How many replayed tables to keep in memory; closed and least recently used go first.
CACHE_TABLES = 256
#: The most counterpart moves played in one go (two counterparts could otherwise play a
#: whole table; max_rounds closes it long before).
MAX_COUNTERPART_MOVES = 10_000


class Places(Protocol):
    """Where a table lives outside the log (Discord rooms and messages), by name."""

    async def places(self, table_id: int) -> dict[str, str]:
        """Every place of a table: name (``status``, ``room:us``, ``offer:12``) to id."""
        ...

    async def remember_place(self, table_id: int, name: str, place_id: str) -> None:
        """Remember where something of the table now lives."""
        ...


@dataclass(frozen=True)
class TableSummary:
    """A table as a listing shows it (no replay needed)."""

    row: TableRow
    phase: str
    agreed: int
    close_reason: str | None


@dataclass
class Outcome:
    """What an action came to: the events it logged, or the refusal (also logged)."""

    table_id: int
    events: list[Event] = field(default_factory=list)
    refusal: Refusal | None = None
    repeated: bool = False
    #: The table right after these events (for announcing them, even if more followed).
    state: TableState | None = None

    @property
    def ok(self) -> bool:
        """Whether the action was applied."""
        return self.refusal is None

    @property
    def kinds(self) -> list[str]:
        """The kinds of the events logged (``action_refused`` for a refusal)."""
        return [e.kind.value for e in self.events]

    def to_json(self) -> dict[str, Any]:
        """The outcome as remembered under an idempotency key."""
        if self.refusal is not None:
            return {"refusal": {"code": self.refusal.code.value, "message": self.refusal.message}}
        return {"kinds": self.kinds}


async def open_tables(
    db: str, library: ScenarioLibrary, clock: Callable[[], datetime] = utc_now
) -> Tables:
    """The service over the log at ``db`` (a :class:`StoreError` if it cannot be used)."""
    return Tables(await Store.open(db), library, clock=clock)


def prompt_copy(library: ScenarioLibrary, scenario: Scenario) -> dict[str, str]:
    """The texts of every prompt file a scenario names, to keep with a new table."""
    names = [
        scenario.prompts.background,
        scenario.prompts.debrief,
        *(d.brief for d in scenario.delegations),
        *(e.prompt for e in scenario.events),
    ]
    return {name: library.prompt(name) for name in dict.fromkeys(names)}


class Tables:
    """Negotiation tables backed by the log: every read and write of Discord, the clock
    and ``parley play`` goes through here."""

    def __init__(
        self,
        store: Store,
        library: ScenarioLibrary,
        clock: Callable[[], datetime] = utc_now,
        cache_tables: int = CACHE_TABLES,
    ) -> None:
        self.store = store
        self.library = library
        self.clock = clock
        self.cache_tables = cache_tables
        self._replays: OrderedDict[int, Replay] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._rows: dict[int, TableRow] = {}
        self._prompts: dict[int, dict[str, str]] = {}
        self._counterparts: dict[tuple[int, str], Counterpart] = {}

    async def close(self) -> None:
        """Close the log."""
        await self.store.close()

    @property
    def cached(self) -> list[int]:
        """Ids of the tables whose state is held in memory, least recently used first."""
        return list(self._replays)

    # -- reading ------------------------------------------------------------------------

    async def state(self, table_id: int) -> TableState:
        """A table's current state (from the cache, caught up with the log)."""
        async with self._lock(table_id):
            replay = await self._replay(table_id)
            for event in await self.store.events(table_id, after=replay.state.last_seq):
                replay.apply(event)
            self._settle(table_id, replay)
            return replay.state

    async def table_in(self, guild_id: str | None, channel_id: str) -> int:
        """A channel's table (or the table whose caucus room it is): the open one, else the
        latest closed one, so facilitators can still review and undo it; else
        ``unknown_table``."""
        row = await self.store.latest_table_in(guild_id, channel_id)
        if row is not None:
            return row.id
        table_id = await self.store.table_of_place(channel_id)
        if table_id is None:
            raise Refusal(
                RefusalCode.UNKNOWN_TABLE,
                "There is no table in this channel. A facilitator opens one with /session open.",
            )
        return table_id

    async def table(self, table_id: int) -> TableRow:
        """A table's row (its server, channel, title), or ``unknown_table``."""
        row = self._rows.get(table_id)
        if row is None or row.closed_at is None:
            row = await self.store.table(table_id)
            if row is None:
                raise Refusal(RefusalCode.UNKNOWN_TABLE, f"There is no table #{table_id}.")
        return row

    async def tables(self, guild_id: str | None = None) -> list[TableSummary]:
        """Every table (of one server), newest first, with phase and outcome in brief."""
        found = []
        for row in await self.store.tables(guild_id):
            if row.phase is None or row.agreed is None:  # logged before schema 5
                state = await self.state(row.id)
                summary = TableSummary(
                    row, state.phase.value, len(state.agreed), state.close_reason
                )
                found.append(summary)
            else:
                found.append(TableSummary(row, row.phase, row.agreed, row.close_reason))
        return found

    async def open_tables(self, guilds: Callable[[str | None], bool] | None = None) -> list[int]:
        """Ids of tables not yet closed (the clock watches these); with ``guilds``, only
        those of the servers it accepts (a shard's own)."""
        rows = await self.store.open_tables()
        return [row.id for row in rows if guilds is None or guilds(row.guild_id)]

    async def table_of_room(self, channel_id: str) -> int | None:
        """The table whose caucus room this channel is, if any."""
        return await self.store.table_of_place(channel_id)

    async def prompt(self, table_id: int, name: str) -> str:
        """A prompt file's text as the table has it (its copy from when it opened)."""
        prompts = self._prompts.get(table_id)
        if prompts is None:
            prompts = await self.store.prompts(table_id) or {}
            self._prompts[table_id] = prompts
        if name in prompts:
            return prompts[name]
        return self.library.prompt(name)  # a table logged before its prompts were kept

    async def prompts(self, table_id: int) -> dict[str, str]:
        """The table's copy of its prompt files (empty for tables logged before it)."""
        return await self.store.prompts(table_id) or {}

    async def events(self, table_id: int) -> list[Event]:
        """A table's whole log (for exports)."""
        await self.table(table_id)
        return await self.store.events(table_id)

    async def export(self, table_id: int) -> dict[str, Any]:
        """The table's ``parley-log/1`` export."""
        from bot.review.export import export_dict

        row = await self.table(table_id)
        scenario = await self.store.scenario(table_id)
        events = await self.store.events(table_id)
        return export_dict(row, scenario, events, await self.prompts(table_id))

    async def places(self, table_id: int) -> dict[str, str]:
        """Where a table lives in Discord: name (``status``, ``room:us``...) to Discord id."""
        return await self.store.places(table_id)

    async def remember_place(self, table_id: int, name: str, place_id: str) -> None:
        """Remember where something of the table now lives in Discord."""
        await self.store.set_place(table_id, name, place_id)

    async def next_wakeup(self, table_id: int) -> datetime | None:
        """When the clock next has something to do for a table (a reminder or expiry)."""
        return engine.next_wakeup(await self.state(table_id))

    async def check(self, table_id: int, command: c.Command) -> Refusal | None:
        """Whether the rules would allow ``command`` now (nothing is logged either way)."""
        state = await self.state(table_id)
        try:
            engine.decide(state, command, self.clock())
        except Refusal as refusal:
            return refusal
        return None

    def scenario(self, scenario_id: str) -> Scenario:
        """A scenario from the library (a ``bad_argument`` refusal if unknown)."""
        return self.library.get(scenario_id)

    # -- writing ------------------------------------------------------------------------

    async def open(
        self,
        who: c.Who,
        scenario_id: str,
        variant: str | None = None,
        title: str | None = None,
        guild_id: str | None = None,
        channel_id: str | None = None,
        key: str | None = None,
    ) -> Outcome:
        """Open a table in a channel (one open table per channel)."""
        scenario = self.library.get(scenario_id)  # raises a bad_argument refusal
        prompts = prompt_copy(self.library, scenario)
        now = self.clock()
        async with self.store.writing() as tx:
            if key is not None and (seen := await tx.recall(key)) is not None:
                return await self._repeat(tx, seen)
            existing = await tx.open_table_id(guild_id, channel_id)
            try:
                opened = engine.open_table(scenario, who, variant, title)
                if existing is not None:
                    raise Refusal(
                        RefusalCode.TABLE_EXISTS,
                        "This channel already has an open table. Use another channel, or "
                        "end that table first with /session end.",
                    )
            except Refusal as refusal:
                if existing is None:
                    raise
                return await self._refuse(
                    tx,
                    existing,
                    command_name="session open",
                    args={"scenario": scenario_id, "sequencing": variant, "title": title},
                    who=who,
                    refusal=refusal,
                    now=now,
                    key=key,
                )
            data = opened.data
            assert isinstance(data, TableOpened)
            # The unique index on open tables backs this check up against other processes.
            table_id = await tx.create_table(
                scenario, data.variant, data.title, guild_id, channel_id, now, prompts
            )
            events = await tx.append(table_id, [opened], now)
            replay = Replay(scenario, events)
            outcome = Outcome(table_id, events, state=replay.state.snapshot())
            if key is not None:
                await tx.remember(key, table_id, events, outcome.to_json())
        self._keep(table_id, replay)
        self._prompts[table_id] = prompts
        return outcome

    def check_practice(
        self, scenario_id: str, delegation: str, strategy: str, variant: str | None = None
    ) -> Scenario:
        """The scenario of a practice table, if ``delegation``, ``strategy`` and ``variant``
        make one (a ``bad_argument`` refusal saying what to choose otherwise)."""
        scenario = self.library.get(scenario_id)
        chosen = scenario.delegation(delegation)
        if chosen is None or not chosen.offers:
            raise Refusal(
                RefusalCode.BAD_ARGUMENT,
                f"{scenario.title} has no delegation {delegation!r} that takes turns; choose "
                f"one of: {', '.join(scenario.offering)}.",
            )
        if strategy not in c.STRATEGIES:
            raise Refusal(
                RefusalCode.BAD_ARGUMENT,
                f"There is no strategy {strategy!r}; choose one of: {', '.join(c.STRATEGIES)}.",
            )
        if variant is not None and variant not in scenario.variant_names():
            raise Refusal(
                RefusalCode.BAD_ARGUMENT,
                f"Scenario {scenario.id!r} has no sequencing variant {variant!r}. "
                f"Choose one of: {', '.join(scenario.variant_names())}.",
            )
        return scenario

    async def practice(
        self,
        who: c.Who,
        scenario_id: str,
        delegation: str,
        strategy: str,
        variant: str | None = None,
        guild_id: str | None = None,
        channel_id: str | None = None,
        seed: int = 0,
        key: str | None = None,
    ) -> Outcome:
        """Open a practice table and start it at once: ``who`` heads ``delegation``, a
        counterpart playing ``strategy`` sits in every other offering delegation.

        The student runs their own practice table, so they act as its facilitator. All of
        it is one transaction: the table is there started, or not at all.
        """
        scenario = self.check_practice(scenario_id, delegation, strategy, variant)
        prompts = prompt_copy(self.library, scenario)
        now = self.clock()
        chair = who.model_copy(update={"facilitator": True})
        student = who.model_copy(update={"facilitator": False})
        side = scenario.delegation(delegation)
        assert side is not None
        title = f"Practice: {who.name} as {side.name}"
        async with self.store.writing() as tx:
            if key is not None and (seen := await tx.recall(key)) is not None:
                return await self._repeat(tx, seen)
            opened = engine.open_table(scenario, chair, variant, title).with_data(practice=True)
            data = opened.data
            assert isinstance(data, TableOpened)
            table_id = await tx.create_table(
                scenario, data.variant, data.title, guild_id, channel_id, now, prompts, True
            )
            events = await tx.append(table_id, [opened], now)
            replay = Replay(scenario, events)
            turn_seconds = replay.state.rules.turn_minutes * 60
            think = min(PRACTICE_THINK_SECONDS, turn_seconds / 2)
            commands: list[c.Command] = [
                c.Assign(who=chair, member=student, delegation=delegation, role="head"),
                *(
                    c.Seat(
                        who=chair,
                        delegation=other,
                        strategy=strategy,
                        think_seconds=think,
                        seed=seed,
                    )
                    for other in scenario.offering
                    if other != delegation
                ),
                c.Start(who=chair),
            ]
            for command in commands:
                step = await self._append(
                    tx, replay, table_id, engine.decide(replay.state, command, now), now
                )
                events += step.events
            outcome = Outcome(table_id, events, state=replay.state.snapshot())
            if key is not None:
                await tx.remember(key, table_id, events, outcome.to_json())
        self._keep(table_id, replay)
        self._prompts[table_id] = prompts
        return outcome

    async def act(self, table_id: int, command: c.Command, key: str | None = None) -> Outcome:
        """Apply a person's command to a table; a refusal is logged and returned."""
        async with self._writing(table_id) as (replay, tx):
            if key is not None and (seen := await tx.recall(key)) is not None:
                return await self._repeat(tx, seen, table_id)
            now = self.clock()
            try:
                decided = engine.decide(replay.state, command, now)
            except Refusal as refusal:
                return await self._refuse(
                    tx,
                    table_id,
                    command_name=command.name,
                    args=command.arguments(),
                    who=command.who,
                    refusal=refusal,
                    now=now,
                    key=key,
                    state=replay.state,
                )
            outcome = await self._append(tx, replay, table_id, decided, now)
            if key is not None:
                await tx.remember(key, table_id, outcome.events, outcome.to_json())
            return outcome

    async def refuse(
        self,
        table_id: int,
        who: c.Who,
        command_name: str,
        args: dict[str, Any],
        refusal: Refusal,
        key: str | None = None,
    ) -> Outcome:
        """Log an attempt an adapter refused before the rules saw it (e.g. a permission)."""
        async with self._writing(table_id) as (replay, tx):
            if key is not None and (seen := await tx.recall(key)) is not None:
                return await self._repeat(tx, seen, table_id)
            return await self._refuse(
                tx,
                table_id,
                command_name=command_name,
                args=args,
                who=who,
                refusal=refusal,
                now=self.clock(),
                key=key,
                state=replay.state,
            )

    async def tick(self, table_id: int) -> Outcome:
        """Let the clock act on a table: reminders and expired turns due by now, then the
        seated counterpart on move if it has thought long enough."""
        clocked = await self._by_clock(table_id, engine.due)
        moved = await self.counterpart_turn(table_id)
        if not moved.events:
            return clocked
        return Outcome(table_id, [*clocked.events, *moved.events], state=moved.state)

    async def counterpart_turn(self, table_id: int, at_once: bool = False) -> Outcome:
        """The move of the counterpart on move, once its think time is up (``at_once``:
        now). Nothing if no counterpart is on move.

        It acts through the rules like a person; if they refuse its move (a strategy
        misjudged them), the refusal is logged and it passes, so the table moves on.
        """
        async with self._writing(table_id) as (replay, tx):
            state = replay.state
            seat = state.seat_on_move()
            due = engine.counterpart_due(state)
            now = self.clock()
            if seat is None or due is None or (not at_once and due > now):
                return Outcome(table_id, state=state.snapshot())
            player = self._counterpart(table_id, state, seat)
            command = player.decide(state)
            refused: list[Event] = []
            try:
                decided = engine.decide(state, command, now)
            except Refusal as refusal:
                refused = (
                    await self._refuse(
                        tx,
                        table_id,
                        command_name=command.name,
                        args=command.arguments(),
                        who=command.who,
                        refusal=refusal,
                        now=now,
                        key=None,
                        state=state,
                    )
                ).events
                decided = engine.decide(replay.state, c.Pass(who=player.who), now)
            outcome = await self._append(tx, replay, table_id, decided, now)
            outcome.events[:0] = refused
            return outcome

    async def counterparts_play(self, table_id: int) -> list[Outcome]:
        """Every counterpart move due at once, in turn, until a person is on move (as
        ``parley play`` and simulations run them)."""
        moves = []
        for _ in range(MAX_COUNTERPART_MOVES):
            outcome = await self.counterpart_turn(table_id, at_once=True)
            if not outcome.events:
                break
            moves.append(outcome)
        return moves

    def _counterpart(self, table_id: int, state: TableState, seat: Seat) -> Counterpart:
        """The seat's player (kept while the seat is the same: it is pure, so a fresh one
        after a restart plays the same)."""
        key = (table_id, seat.delegation)
        player = self._counterparts.get(key)
        if player is None or player.seat != seat:
            player = self._counterparts[key] = Counterpart(state.scenario, state.variant, seat)
        return player

    async def restart_clock(self, table_id: int) -> Outcome:
        """After the bot was away past a table's deadline: a fresh clock for the turn on
        move (logged once), rather than a burst of expiries. Nothing if none is overdue."""
        return await self._by_clock(table_id, engine.fresh_clock)

    # -- internals ----------------------------------------------------------------------

    async def _by_clock(
        self, table_id: int, rule: Callable[[TableState, datetime], list[NewEvent]]
    ) -> Outcome:
        async with self._writing(table_id) as (replay, tx):
            now = self.clock()
            decided = rule(replay.state, now)
            if not decided:
                return Outcome(table_id, state=replay.state.snapshot())
            return await self._append(tx, replay, table_id, decided, now)

    @asynccontextmanager
    async def _writing(self, table_id: int) -> AsyncIterator[tuple[Replay, Transaction]]:
        """One write transaction on one table, its cached state caught up with the log.

        If the transaction does not commit, the cached state (which may have run ahead
        of the log) is dropped, to be read again from the log next time.
        """
        async with self._lock(table_id):
            replay = await self._replay(table_id)
            try:
                async with self.store.writing() as tx:
                    for event in await tx.events_after(table_id, replay.state.last_seq):
                        replay.apply(event)
                    yield replay, tx
            except BaseException:
                self._replays.pop(table_id, None)
                raise
            self._settle(table_id, replay)

    def _lock(self, table_id: int) -> asyncio.Lock:
        lock = self._locks.get(table_id)
        if lock is None:
            lock = self._locks[table_id] = asyncio.Lock()
        return lock

    async def _replay(self, table_id: int) -> Replay:
        replay = self._replays.get(table_id)
        if replay is None:
            row = await self.store.table(table_id)
            if row is None:
                raise Refusal(RefusalCode.UNKNOWN_TABLE, f"There is no table #{table_id}.")
            self._rows[table_id] = row
            scenario = await self.store.scenario(table_id)
            replay = Replay(scenario, await self.store.events(table_id))
            self._keep(table_id, replay)
        else:
            self._replays.move_to_end(table_id)
        return replay

    def _keep(self, table_id: int, replay: Replay) -> None:
        """Cache a table's replay, evicting the least recently used beyond the limit."""
        self._replays[table_id] = replay
        self._replays.move_to_end(table_id)
        while len(self._replays) > self.cache_tables:
            evicted, _ = self._replays.popitem(last=False)
            self._forget(evicted)
            self._rows.pop(evicted, None)

    def _settle(self, table_id: int, replay: Replay) -> None:
        """A closed table leaves the cache (its log is read again if it is needed)."""
        if replay.state.phase is Phase.CLOSED:
            self._replays.pop(table_id, None)
            self._forget(table_id)

    def _forget(self, table_id: int) -> None:
        """Drop what is kept of a table beside its replay."""
        self._prompts.pop(table_id, None)
        for seat in [key for key in self._counterparts if key[0] == table_id]:
            del self._counterparts[seat]

    async def _append(
        self,
        tx: Transaction,
        replay: Replay,
        table_id: int,
        decided: list[NewEvent],
        now: datetime,
    ) -> Outcome:
        before = replay.state
        was_closed = before.close_reason is not None
        phase, agreed = before.phase, len(before.agreed)
        events = await tx.append(table_id, decided, now, after=before.last_seq)
        for event in events:
            replay.apply(event)
        state = replay.state
        closed = state.close_reason is not None
        if closed != was_closed:
            if not closed:
                await self._may_reopen(tx, table_id)
            await tx.set_closed(table_id, now if closed else None)
            self._rows.pop(table_id, None)  # its row changed: read it again
        if (state.phase, len(state.agreed), closed) != (phase, agreed, was_closed):
            await tx.set_summary(table_id, state.phase.value, len(state.agreed), state.close_reason)
        return Outcome(table_id, events, state=state.snapshot())

    async def _may_reopen(self, tx: Transaction, table_id: int) -> None:
        """An undone close may reopen a table only if its channel has no other open table."""
        row = await self.table(table_id)
        other = await tx.open_table_id(row.guild_id, row.channel_id)
        if other is not None and other != table_id:
            raise Refusal(
                RefusalCode.TABLE_EXISTS,
                f"This channel has opened table #{other} since, so table #{table_id} cannot "
                "reopen here. End the newer table first, or leave this one closed.",
            )

    async def _refuse(
        self,
        tx: Transaction,
        table_id: int,
        *,
        command_name: str,
        args: dict[str, Any],
        who: c.Who,
        refusal: Refusal,
        now: datetime,
        key: str | None,
        state: TableState | None = None,
    ) -> Outcome:
        attempt = engine.refused(state, who, command_name, args, refusal)
        after = state.last_seq if state is not None else None
        events = await tx.append(table_id, [attempt], now, after=after)
        replay = self._replays.get(table_id)
        if replay is not None and replay.state.last_seq == events[0].seq - 1:
            replay.apply(events[0])
        outcome = Outcome(table_id, events, refusal)
        if key is not None:
            await tx.remember(key, table_id, events, outcome.to_json())
        return outcome

    async def _repeat(
        self, tx: Transaction, seen: Remembered, table_id: int | None = None
    ) -> Outcome:
        refusal = None
        if "refusal" in seen.outcome:
            info = seen.outcome["refusal"]
            refusal = Refusal(RefusalCode(info["code"]), info["message"])
        table_id = seen.table_id or table_id or 0
        events: list[Event] = []
        if seen.first_seq is not None and seen.last_seq is not None:
            # the events the first delivery logged, so the repeat reports the same outcome
            logged = await tx.events_after(table_id, seen.first_seq - 1)
            events = [e for e in logged if e.seq <= seen.last_seq]
        return Outcome(table_id, events, refusal, repeated=True)
