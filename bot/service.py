"""Tables: the one place commands meet the rules and the log.

Each action runs in one write transaction: catch up on events another process may have
logged, decide with the rules, append the events (or the refused attempt), remember the
idempotency key, commit. Only then is the outcome returned, so a user is told of nothing
that is not in the log. Actions on one table are applied one at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import commands as c
from bot.domain import engine
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.events import Actor, Event, EventKind, NewEvent
from bot.domain.scenario import Scenario
from bot.domain.state import Replay, TableState
from bot.scenarios import ScenarioLibrary
from bot.store import Remembered, Store, Transaction, utc_now


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


class Tables:
    """Negotiation tables backed by the log."""

    def __init__(
        self,
        store: Store,
        library: ScenarioLibrary,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.store = store
        self.library = library
        self.clock = clock
        self._replays: dict[int, Replay] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    # -- reading ------------------------------------------------------------------------

    async def state(self, table_id: int) -> TableState:
        """A table's current state (from the cache, caught up with the log)."""
        async with self._lock(table_id):
            replay = await self._replay(table_id)
            for event in await self.store.events(table_id, after=replay.state.last_seq):
                replay.apply(event)
            return replay.state

    async def table_in(self, guild_id: str | None, channel_id: str) -> int:
        """The open table of a channel (or of the caucus room it is), or ``unknown_table``."""
        row = await self.store.open_table_in(guild_id, channel_id)
        if row is not None:
            return row.id
        table_id = await self.store.table_of_place(channel_id)
        if table_id is None:
            raise Refusal(
                RefusalCode.UNKNOWN_TABLE,
                "There is no open table in this channel. A facilitator opens one with "
                "/session open.",
            )
        return table_id

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
            # The unique index on open tables backs this check up against other processes.
            table_id = await tx.create_table(
                scenario, opened.data["variant"], opened.data["title"], guild_id, channel_id, now
            )
            events = await tx.append(table_id, [opened], now)
            replay = Replay(scenario, events)
            outcome = Outcome(table_id, events, state=replay.state.snapshot())
            if key is not None:
                await tx.remember(key, table_id, events, outcome.to_json())
        self._replays[table_id] = replay
        return outcome

    async def act(self, table_id: int, command: c.Command, key: str | None = None) -> Outcome:
        """Apply a person's command to a table; a refusal is logged and returned."""
        async with self._lock(table_id):
            replay = await self._replay(table_id)
            async with self.store.writing() as tx:
                if key is not None and (seen := await tx.recall(key)) is not None:
                    return await self._repeat(tx, seen, table_id)
                for event in await tx.events_after(table_id, replay.state.last_seq):
                    replay.apply(event)
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
        async with self._lock(table_id):
            replay = await self._replay(table_id)
            async with self.store.writing() as tx:
                if key is not None and (seen := await tx.recall(key)) is not None:
                    return await self._repeat(tx, seen, table_id)
                for event in await tx.events_after(table_id, replay.state.last_seq):
                    replay.apply(event)
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
        """Let the clock act on a table: reminders and expired turns due by now."""
        async with self._lock(table_id):
            replay = await self._replay(table_id)
            async with self.store.writing() as tx:
                for event in await tx.events_after(table_id, replay.state.last_seq):
                    replay.apply(event)
                now = self.clock()
                decided = engine.due(replay.state, now)
                if not decided:
                    return Outcome(table_id)
                return await self._append(tx, replay, table_id, decided, now)

    # -- internals ----------------------------------------------------------------------

    def _lock(self, table_id: int) -> asyncio.Lock:
        return self._locks.setdefault(table_id, asyncio.Lock())

    async def _replay(self, table_id: int) -> Replay:
        replay = self._replays.get(table_id)
        if replay is None:
            row = await self.store.table(table_id)
            if row is None:
                raise Refusal(RefusalCode.UNKNOWN_TABLE, f"There is no table {table_id}.")
            scenario = await self.store.scenario(table_id)
            replay = Replay(scenario, await self.store.events(table_id))
            self._replays[table_id] = replay
        return replay

    async def _append(
        self,
        tx: Transaction,
        replay: Replay,
        table_id: int,
        decided: list[NewEvent],
        now: datetime,
    ) -> Outcome:
        was_closed = replay.state.close_reason is not None
        events = await tx.append(table_id, decided, now, after=replay.state.last_seq)
        for event in events:
            replay.apply(event)
        closed = replay.state.close_reason is not None
        if closed != was_closed:
            await tx.set_closed(table_id, now if closed else None)
        return Outcome(table_id, events, state=replay.state.snapshot())

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
        member = state.member(who.user_id) if state is not None else None
        actor = Actor(
            user_id=who.user_id,
            name=member.name if member else who.name,
            delegation=member.delegation if member else None,
            role=member.role if member else None,
        )
        attempt = NewEvent(
            kind=EventKind.ACTION_REFUSED,
            actor=actor,
            data={
                "code": refusal.code.value,
                "message": refusal.message,
                "command": command_name,
                "args": args,
                **({"round": state.round} if state is not None and state.round else {}),
            },
        )
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

    def scenario(self, scenario_id: str) -> Scenario:
        """A scenario from the library (a ``bad_argument`` refusal if unknown)."""
        return self.library.get(scenario_id)
