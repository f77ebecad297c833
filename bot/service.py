"""Tables: the one place commands meet the rules and the log.

An action is one unit written to the log (one commit, see :mod:`bot.store`):
inside the transaction it checks the idempotency key, catches the table's cached state up
with anything another process logged, decides with the rules, and appends the events (or
the refused attempt), the table's summary and the key. Only after the commit is the
outcome returned, so a user is told of nothing that is not in the log. Actions on one
table are applied one at a time.

Reads never wait behind writes: a table's last committed state is kept, and one index
lookup on a separate read connection tells whether it is still the latest.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from bot import snapshots
from bot.counterparts import Counterpart
from bot.domain import commands as c
from bot.domain import engine
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.events import Event, NewEvent, TableOpened
from bot.domain.scenario import Scenario
from bot.domain.state import HistoryNeeded, Phase, Replay, Seat, TableState
from bot.scenarios import ScenarioLibrary
from bot.store import (
    LogUnavailable,
    Remembered,
    Snapshot,
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

log = logging.getLogger("parley.service")

#: How long a practice table's counterparts think before they act (at most half a turn).
PRACTICE_THINK_SECONDS = 10.0

#: How many replayed tables to keep in memory; closed and least recently used go first.
CACHE_TABLES = 256
#: How far (in events) a table's replay base may run ahead of its kept snapshot before a
#: new snapshot is written with the next action.
SNAPSHOT_EVERY = 1024
#: How often an action is tried again because its undo reached back past the events the
#: cached state holds (the table is then folded from its log again, further back).
MAX_ATTEMPTS = 8
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
    def wakeup(self) -> datetime | None:
        """When the clock next has something to do for the table, as of :attr:`state`
        (None: nothing until someone acts)."""
        if self.state is None:
            raise LookupError("this outcome carries no state")
        return engine.next_wakeup(self.state)

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
        self._held: OrderedDict[int, _Held] = OrderedDict()
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._rows: dict[int, TableRow] = {}
        self._prompts: dict[int, dict[str, str]] = {}
        # Another service on the same store writes through the same connection, which
        # SQLite's data_version does not tell apart: then every action reads to catch up.
        store.services += 1

    async def close(self) -> None:
        """Close the log."""
        await self.store.close()

    @property
    def cached(self) -> list[int]:
        """Ids of the tables whose state is held in memory, least recently used first."""
        return list(self._held)

    # -- reading ------------------------------------------------------------------------

    async def state(self, table_id: int) -> TableState:
        """A table's current state: the last committed one, if the log has nothing newer
        (one index lookup, not queued behind writes); else read from the log. The state
        returned is a copy no later action changes."""
        held = self._held.get(table_id)
        if held is not None and await self.store.head(table_id) == held.view.last_seq:
            self._held.move_to_end(table_id)
            return held.view
        async with self._lock(table_id):
            held = await self._caught_up(table_id)
            return held.view

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

    async def wakeups(
        self, guilds: Callable[[str | None], bool] | None = None
    ) -> dict[int, datetime | None]:
        """Every open table's next wake-up (of the servers ``guilds`` accepts), as kept
        with each write: one query, no replay (except for tables last written before the
        wake-up was kept)."""
        found: dict[int, datetime | None] = {}
        for wakeup in await self.store.wakeups():
            if guilds is not None and not guilds(wakeup.guild_id):
                continue
            if wakeup.known:
                found[wakeup.table_id] = wakeup.at
                continue
            # Worked out once from the log, then kept, so the next look reads it.
            try:
                state = await self.state(wakeup.table_id)
            except StoreError:  # the log itself: the clock tries it all again shortly
                raise
            except Exception:  # a log this version cannot fold: the others are still read
                log.exception("table %s: its next wake-up could not be read", wakeup.table_id)
                continue
            summary = _summary([], state)
            await self.store.write(functools.partial(_fill_summary, wakeup.table_id, summary))
            found[wakeup.table_id] = summary[3]
        return found

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
        try:
            opened = engine.open_table(scenario, who, variant, title)
        except Refusal as refusal:
            # Not allowed: logged in the channel's open table if it has one.
            existing = await self.store.open_table_in(guild_id, channel_id) if channel_id else None
            if existing is None:
                raise
            args = {"scenario": scenario_id, "sequencing": variant, "title": title}
            return await self.refuse(existing.id, who, "session open", args, refusal, key)
        now = self.clock()
        events = [Event.stamp(opened, 1, now)]
        new = _NewTable(scenario, guild_id, channel_id, now, prompts, events, key, _summary(events))
        created = await self.store.write(
            functools.partial(_create_table, new, one_per_channel=True)
        )
        if isinstance(created, _Seen):
            return self._repeated(created)
        if isinstance(created, _Exists):
            busy = Refusal(
                RefusalCode.TABLE_EXISTS,
                "This channel already has an open table. Use another channel, or "
                "end that table first with /session end.",
            )
            args = {"scenario": scenario_id, "sequencing": variant, "title": title}
            return await self.refuse(created.table_id, who, "session open", args, busy, key)
        return self._opened(new, created.table_id, Replay(scenario, events))

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
        for other in scenario.delegations:
            if other.offers and other.id != chosen.id:
                engine.check_counterpart_seat(other)
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
        opened = engine.open_table(scenario, chair, variant, title).with_data(practice=True)
        first = Event.stamp(opened, 1, now)
        replay = Replay(scenario, [first])
        turn_seconds = replay.state.rules.turn_minutes * 60
        think = min(PRACTICE_THINK_SECONDS, turn_seconds / 2)
        commands: list[c.Command] = [
            c.Assign(who=chair, member=student, delegation=delegation, role="head"),
            *(
                c.Seat(
                    who=chair, delegation=other, strategy=strategy, think_seconds=think, seed=seed
                )
                for other in scenario.offering
                if other != delegation
            ),
            c.Start(who=chair),
        ]
        events = [first]
        for command in commands:
            for new in engine.decide(replay.state, command, now):
                event = Event.stamp(new, replay.state.last_seq + 1, now)
                replay.apply(event)
                events.append(event)
        summary = _summary(events, replay.state)
        table = _NewTable(scenario, guild_id, channel_id, now, prompts, events, key, summary, True)
        created = await self.store.write(functools.partial(_create_table, table))
        if isinstance(created, _Seen):
            return self._repeated(created)
        assert isinstance(created, _Created)
        return self._opened(table, created.table_id, replay)

    async def act(self, table_id: int, command: c.Command, key: str | None = None) -> Outcome:
        """Apply a person's command to a table; a refusal is logged and returned."""

        def plan(state: TableState, now: datetime) -> _Plan:
            try:
                return _Plan(engine.decide(state, command, now))
            except Refusal as refusal:
                args = command.arguments()
                attempt = engine.refused(state, command.who, command.name, args, refusal)
                return _Plan([attempt], refusal)

        return await self._commit(table_id, plan, key)

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

        def plan(state: TableState, now: datetime) -> _Plan:
            return _Plan([engine.refused(state, who, command_name, args, refusal)], refusal)

        return await self._commit(table_id, plan, key)

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

        def plan(state: TableState, now: datetime) -> _Plan | None:
            seat = state.seat_on_move()
            due = engine.counterpart_due(state)
            if seat is None or due is None or (not at_once and due > now):
                return None
            player = self._counterpart(table_id, state, seat)
            command = player.decide(state)
            try:
                return _Plan(engine.decide(state, command, now))
            except Refusal as refusal:
                args = command.arguments()
                attempt = engine.refused(state, command.who, command.name, args, refusal)
                # a refused attempt changes nothing the rules read: the pass is decided
                # on the same state
                return _Plan([attempt, *engine.decide(state, c.Pass(who=player.who), now)])

        return await self._commit(table_id, plan)

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
        """The seat's player (kept with the cached table while the seat is the same: it
        is pure, so a fresh one after a restart plays the same). Called from an action's
        unit, under the table's lock: nothing else touches the
        table's players meanwhile."""
        held = self._held.get(table_id)
        players = held.players if held is not None else {}
        player = players.get(seat.delegation)
        if player is None or player.seat != seat:
            player = players[seat.delegation] = Counterpart(state.scenario, state.variant, seat)
        return player

    async def restart_clock(self, table_id: int) -> Outcome:
        """After the bot was away past a table's deadline: a fresh clock for the turn on
        move (logged once), rather than a burst of expiries. Nothing if none is overdue."""
        return await self._by_clock(table_id, engine.fresh_clock)

    # -- internals ----------------------------------------------------------------------

    async def _by_clock(
        self, table_id: int, rule: Callable[[TableState, datetime], list[NewEvent]]
    ) -> Outcome:
        def plan(state: TableState, now: datetime) -> _Plan | None:
            decided = rule(state, now)
            return _Plan(decided) if decided else None

        return await self._commit(table_id, plan)

    async def _commit(
        self,
        table_id: int,
        plan: Callable[[TableState, datetime], _Plan | None],
        key: str | None = None,
    ) -> Outcome:
        """Decide and log an action as one unit written to the log.

        ``plan`` says what the action comes to on a state (None: nothing to log). Inside
        the transaction the unit first catches the cached fold up with anything another
        process logged, so ``plan`` always sees the latest state. Nobody else touches the
        fold meanwhile: it is used only under the table's lock, and readers get the last
        committed copy. If the unit does not commit, the fold (which ran ahead of the
        log) is dropped, to be read again next time.
        """
        async with self._lock(table_id):
            for _ in range(MAX_ATTEMPTS):
                held = await self._caught_up(table_id, from_log=False)
                unit = functools.partial(self._decide, table_id, held, plan, self.clock(), key)
                try:
                    result = await self.store.write(unit)
                except HistoryNeeded as needed:  # an undo reaching past the fold's window
                    held.replay, held.epoch = await self._load(table_id, keep_from=needed.seq), None
                    continue
                except BaseException:
                    held.replay = None
                    raise
                if isinstance(result, _Seen):
                    return self._repeated(result, table_id)
                return self._committed(table_id, held, result)
        raise LogUnavailable(f"the log could not record this (table #{table_id}); nothing changed")

    def _decide(
        self,
        table_id: int,
        held: _Held,
        plan: Callable[[TableState, datetime], _Plan | None],
        now: datetime,
        key: str | None,
        tx: Transaction,
    ) -> _Write | _Seen | None:
        """The unit of one action (run by the store in its transaction): the key,
        catch-up, decision, events and what is kept beside them."""
        if (seen := _recall(tx, key, table_id)) is not None:
            return seen
        replay = held.replay
        assert replay is not None
        if held.epoch != tx.epoch or self.store.services > 1:  # someone else may have written
            for event in tx.events_after(table_id, replay.state.last_seq):
                replay.apply(event)
                held.summary = None  # another process wrote the row's summary since
            held.epoch = tx.epoch
        decided = plan(replay.state, now)
        if decided is None:
            return None
        write = self._fold(table_id, held, replay, decided, now, key)
        _append(write, tx)
        return write

    def _fold(
        self,
        table_id: int,
        held: _Held,
        replay: Replay,
        decided: _Plan,
        now: datetime,
        key: str | None,
    ) -> _Write:
        """Number ``decided``'s events, fold them into ``replay`` (ahead of the log until
        the unit commits) and say what the unit is to write."""
        before = replay.state
        after = before.last_seq
        was_closed = before.close_reason is not None
        events = [Event.stamp(new, after + 1 + i, now) for i, new in enumerate(decided.events)]
        for event in events:
            replay.apply(event)
        state = replay.state
        closed = state.close_reason is not None
        summary = _summary(events, state)
        snapshot = None
        if replay.base.last_seq - held.snapshot_seq >= SNAPSHOT_EVERY:
            snapshot = snapshots.dump(replay.base)
        return _Write(
            table_id=table_id,
            events=events,
            key=key,
            refusal=decided.refusal,
            summary=summary if summary[:4] != held.summary else None,
            closed=(now if closed else None) if closed != was_closed else _SAME,
            snapshot=snapshot,
        )

    def _committed(self, table_id: int, held: _Held, write: _Write | None) -> Outcome:
        """The outcome of a committed unit (None: it had nothing to log); the cache
        moves on with it."""
        assert held.replay is not None
        if held.replay.state.last_seq != held.view.last_seq:
            held.view = held.replay.state.snapshot()
        self._keep(table_id, held)
        if write is None:
            self._settle(table_id, held)
            return Outcome(table_id, state=held.view)
        if write.snapshot is not None:
            held.snapshot_seq = write.snapshot.seq
        if write.summary is not None:
            held.summary = write.summary[:4]
        if write.closed is not _SAME:
            self._rows.pop(table_id, None)  # its row changed: read it again
        self._settle(table_id, held)
        return Outcome(table_id, write.events, write.refusal, state=held.view)

    def _opened(self, created: _NewTable, table_id: int, replay: Replay) -> Outcome:
        """The outcome of a table just created; its state is cached."""
        held = _Held(replay.state.snapshot(), replay)
        self._keep(table_id, held)
        self._prompts[table_id] = created.prompts
        return Outcome(table_id, created.events, state=held.view)

    @staticmethod
    def _repeated(seen: _Seen, table_id: int | None = None) -> Outcome:
        refusal = None
        if "refusal" in seen.remembered.outcome:
            info = seen.remembered.outcome["refusal"]
            refusal = Refusal(RefusalCode(info["code"]), info["message"])
        table_id = seen.remembered.table_id or table_id or 0
        return Outcome(table_id, seen.events, refusal, repeated=True)

    def _lock(self, table_id: int) -> asyncio.Lock:
        lock = self._locks.get(table_id)
        if lock is None:
            lock = self._locks[table_id] = asyncio.Lock()
        return lock

    async def _caught_up(self, table_id: int, from_log: bool = True) -> _Held:
        """The table's cache entry with a fold (call under the table's lock): read from
        the log if not held; with ``from_log``, caught up with events logged since."""
        held = self._held.get(table_id)
        if held is not None and held.replay is not None:
            self._held.move_to_end(table_id)
            replay = held.replay
            if from_log:
                try:
                    async for event in self.store.stream(table_id, after=replay.state.last_seq):
                        replay.apply(event)
                except HistoryNeeded:
                    held.replay = None
                    return await self._caught_up(table_id)
                if replay.state.last_seq != held.view.last_seq:
                    held.view = replay.state.snapshot()
                    self._settle(table_id, held)
            return held
        snapshot_seq = held.snapshot_seq if held is not None else 0
        replay = await self._load(table_id)
        fresh = _Held(replay.state.snapshot(), replay, snapshot_seq)
        self._keep(table_id, fresh)
        await self._maybe_snapshot(table_id, fresh)
        self._settle(table_id, fresh)
        return fresh

    async def _load(self, table_id: int, keep_from: int | None = None) -> Replay:
        """Fold a table's log: from its snapshot if it has a usable one (and ``keep_from``
        does not reach before it), else from the start, keeping events from
        ``keep_from`` on."""
        row = await self.store.table(table_id)
        if row is None:
            raise Refusal(RefusalCode.UNKNOWN_TABLE, f"There is no table #{table_id}.")
        self._rows[table_id] = row
        scenario = await self.store.scenario(table_id)
        if keep_from is None:
            kept = await self.store.snapshot(table_id)
            saved = snapshots.load(kept, scenario) if kept is not None else None
            if saved is not None:
                replay = Replay.resume(scenario, saved)
                try:
                    async for event in self.store.stream(table_id, after=saved.last_seq):
                        replay.apply(event)
                except HistoryNeeded as needed:
                    return await self._load(table_id, keep_from=needed.seq)
                return replay
        replay = Replay(scenario, keep_from=keep_from)
        try:
            async for event in self.store.stream(table_id):
                replay.apply(event)
        except HistoryNeeded as needed:  # only when keep_from was set too late
            return await self._load(table_id, keep_from=needed.seq)
        replay.keep_from = None
        return replay

    async def _maybe_snapshot(self, table_id: int, held: _Held) -> None:
        """After a long fold from the log, keep a snapshot so the next one is short."""
        assert held.replay is not None
        base = held.replay.base
        if base.last_seq - held.snapshot_seq < SNAPSHOT_EVERY:
            return
        kept = await self.store.snapshot(table_id)
        if kept is not None and kept.seq >= base.last_seq - SNAPSHOT_EVERY:
            held.snapshot_seq = kept.seq
            return
        snapshot = snapshots.dump(base)
        try:
            await self.store.put_snapshot(table_id, snapshot)
        except LogUnavailable:
            return  # only a shortcut missed
        held.snapshot_seq = snapshot.seq

    def _keep(self, table_id: int, held: _Held) -> None:
        """Cache a table, evicting the least recently used beyond the limit."""
        held.lock = self._lock(table_id)
        self._held[table_id] = held
        self._held.move_to_end(table_id)
        while len(self._held) > self.cache_tables:
            evicted, _ = self._held.popitem(last=False)
            self._forget(evicted)
            self._rows.pop(evicted, None)

    def _settle(self, table_id: int, held: _Held) -> None:
        """A closed table leaves the cache (its log is read again if it is needed)."""
        if held.view.phase is Phase.CLOSED:
            self._held.pop(table_id, None)
            self._forget(table_id)

    def _forget(self, table_id: int) -> None:
        """Drop what is kept of a table beside its state."""
        self._prompts.pop(table_id, None)


#: What a table's row keeps beside the log: phase, number agreed, close reason, next
#: wake-up, and the sequence number it is as of.
_Summary = tuple[str, int, str | None, datetime | None, int]


def _summary(events: Sequence[Event], state: TableState | None = None) -> _Summary:
    """The row summary of a table whose latest events are ``events`` (or, with none
    given, of ``state`` as it is)."""
    last = events[-1].seq if events else state.last_seq if state is not None else 0
    if state is None:
        return ("setup", 0, None, None, last)
    wakeup = engine.next_wakeup(state)
    return (state.phase.value, len(state.agreed), state.close_reason, wakeup, last)


class _Same:
    """A table row's closed mark stays as it is."""


_SAME = _Same()


@dataclass
class _Held:
    """A cached table: its last committed state, and the fold the next action starts
    from (None when it must be read from the log again)."""

    view: TableState
    replay: Replay | None
    #: The sequence number of the snapshot kept beside the log (0: none).
    snapshot_seq: int = 0
    #: The row's summary as last written from here (None: not known).
    summary: tuple[str, int, str | None, datetime | None] | None = None
    #: The writer's epoch in which the fold was last caught up with the log inside a
    #: transaction (None: not yet); within the same epoch nobody else has written.
    epoch: int | None = None
    #: The players of its counterpart seats, by delegation.
    players: dict[str, Counterpart] = field(default_factory=dict)
    #: The table's lock, kept alive while the table is cached (the locks are weakly
    #: held, so an idle table's goes; a busy one's is not made anew for every action).
    lock: asyncio.Lock | None = None


@dataclass(frozen=True)
class _Plan:
    """What an action comes to: events to log, and the refusal if it was refused."""

    events: list[NewEvent]
    refusal: Refusal | None = None


@dataclass(frozen=True)
class _Write:
    """One action's unit: its numbered events and what is kept beside them."""

    table_id: int
    events: list[Event]
    key: str | None
    refusal: Refusal | None
    #: The row's new summary (None: as it was).
    summary: _Summary | None
    #: The row's closed mark: closed at, reopened (None), or as it was.
    closed: datetime | _Same | None
    snapshot: Snapshot | None


@dataclass(frozen=True)
class _NewTable:
    """A table to create with its first events."""

    scenario: Scenario
    guild_id: str | None
    channel_id: str | None
    at: datetime
    prompts: dict[str, str]
    events: list[Event]
    key: str | None
    summary: _Summary
    practice: bool = False


@dataclass(frozen=True)
class _Seen:
    """The action's key was applied before: what it produced then."""

    remembered: Remembered
    events: list[Event]


@dataclass(frozen=True)
class _Exists:
    """The channel already has an open table."""

    table_id: int


@dataclass(frozen=True)
class _Created:
    table_id: int


def _recall(tx: Transaction, key: str | None, table_id: int | None = None) -> _Seen | None:
    if key is None or (seen := tx.recall(key)) is None:
        return None
    events: list[Event] = []
    where = seen.table_id or table_id
    if where is not None and seen.first_seq is not None and seen.last_seq is not None:
        # the events the first delivery logged, so the repeat reports the same outcome
        events = tx.events_between(where, seen.first_seq, seen.last_seq)
    return _Seen(seen, events)


def _append(write: _Write, tx: Transaction) -> None:
    """Log an action's events and keep its summary, key and snapshot (in its unit)."""
    table_id = write.table_id
    if write.closed is None:  # an undone close reopens the table, if its channel is free
        other = tx.open_table_id(*tx.channel(table_id))
        if other is not None and other != table_id:
            raise Refusal(
                RefusalCode.TABLE_EXISTS,
                f"This channel has opened table #{other} since, so table #{table_id} cannot "
                "reopen here. End the newer table first, or leave this one closed.",
            )
    tx.insert(table_id, write.events)
    if not isinstance(write.closed, _Same):
        tx.set_closed(table_id, write.closed)
    if write.summary is not None:
        tx.set_summary(table_id, *write.summary)
    if write.key is not None:
        outcome = Outcome(table_id, write.events, write.refusal).to_json()
        tx.remember(write.key, table_id, write.events, outcome)
    if write.snapshot is not None:
        tx.put_snapshot(table_id, write.snapshot)


def _fill_summary(table_id: int, summary: _Summary, tx: Transaction) -> None:
    tx.set_summary(table_id, *summary, if_unknown=True)


def _create_table(
    new: _NewTable, tx: Transaction, one_per_channel: bool = False
) -> _Seen | _Exists | _Created:
    """The unit that opens a table."""
    if (seen := _recall(tx, new.key)) is not None:
        return seen
    if one_per_channel:
        existing = tx.open_table_id(new.guild_id, new.channel_id)
        if existing is not None:
            return _Exists(existing)
    opened = new.events[0].data
    assert isinstance(opened, TableOpened)
    # The unique index on open tables backs the check up against other processes.
    table_id = tx.create_table(
        new.scenario,
        opened.variant,
        opened.title,
        new.guild_id,
        new.channel_id,
        new.at,
        new.prompts,
        new.practice,
    )
    tx.insert(table_id, new.events)
    tx.set_summary(table_id, *new.summary)
    if new.key is not None:
        tx.remember(new.key, table_id, new.events, {"kinds": [e.kind.value for e in new.events]})
    return _Created(table_id)
