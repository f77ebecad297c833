"""Counterpart against counterpart, through the real rules: what a scenario's rule modes
tend to produce.

Each simulated table is opened, seated, started and played by the engine exactly as the
service would, its events folded by the same :class:`Replay`; only the log is a list in
memory (the command line's ``--db`` plays through the service and SQLite instead). Every
run is seeded from the simulation's seed, the mode, the strategies and the run's number,
so the same arguments give the same numbers. Pure: no I/O.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.analysis import analyze
from bot.analysis.space import Measures, Space
from bot.counterparts.counterpart import Counterpart
from bot.domain import commands as c
from bot.domain import engine
from bot.domain.errors import Refusal
from bot.domain.events import Event, NewEvent
from bot.domain.scenario import Scenario
from bot.domain.state import Replay, TableState

#: The instructor who opens simulated tables.
FACILITATOR = c.Who(user_id="simulation", name="simulation", facilitator=True)
#: Beyond this many strategy combinations (many delegations), each strategy plays every
#: delegation in turn against the others all playing ``linear``, plus every strategy
#: against itself.
MAX_COMBINATIONS = 64
START = datetime(2019, 2, 27, 9, 0, tzinfo=UTC)
#: How far a simulated table's clock moves per event (made once: it moves on every one).
TICK = timedelta(seconds=1)


@dataclass(frozen=True)
class TableResult:
    """How one simulated table ended."""

    agreed: tuple[str, ...]
    rounds: int
    refusals: int
    joint_gain: int
    left_on_table: int
    close_reason: str | None
    #: Whether every delegation ended at or above its BATNA with something agreed.
    above_batnas: bool = False

    @property
    def deal(self) -> bool:
        """Whether anything was agreed."""
        return bool(self.agreed)


@dataclass
class Result:
    """One rule mode and one assignment of strategies, over every run."""

    sequencing: str
    variant: str
    strategies: dict[str, str]
    tables: list[TableResult] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return len(self.tables)

    @property
    def deals(self) -> int:
        return sum(t.deal for t in self.tables)

    def _mean(self, values: Iterable[float]) -> float:
        found = list(values)
        return round(sum(found) / len(found), 3) if found else 0.0

    def to_json(self) -> dict[str, object]:
        """A row of ``results`` (the keys are a public contract)."""
        return {
            "sequencing": self.sequencing,
            "strategies": dict(self.strategies),
            "runs": self.runs,
            "deals": self.deals,
            "deal_rate": round(self.deals / self.runs, 3) if self.runs else 0.0,
            "mean_joint_gain": self._mean(t.joint_gain for t in self.tables),
            "mean_left_on_table": self._mean(t.left_on_table for t in self.tables),
            "mean_rounds": self._mean(t.rounds for t in self.tables),
            "refusals": sum(t.refusals for t in self.tables),
            # beyond the keys: deals that leave every delegation at or above its BATNA
            "deals_above_batnas": sum(t.above_batnas for t in self.tables),
        }


def combinations(delegations: Sequence[str], strategies: Sequence[str]) -> list[dict[str, str]]:
    """The strategy assignments to simulate: every one when there are few, else each
    strategy against itself and in each seat against ``linear`` elsewhere."""
    if len(strategies) ** len(delegations) <= MAX_COMBINATIONS:
        return [
            dict(zip(delegations, chosen, strict=True))
            for chosen in itertools.product(strategies, repeat=len(delegations))
        ]
    found: list[dict[str, str]] = [{d: s for d in delegations} for s in strategies]
    for seat in delegations:
        for s in strategies:
            combo = {d: (s if d == seat else "linear") for d in delegations}
            if combo not in found:
                found.append(combo)
    return found


def variant_for(scenario: Scenario, sequencing: str) -> str:
    """The scenario's first variant with this sequencing mode (a ValueError if none)."""
    for name in scenario.variant_names():
        if scenario.rules_for(name).sequencing.value == sequencing:
            return name
    modes = sorted({scenario.rules_for(n).sequencing.value for n in scenario.variant_names()})
    raise ValueError(
        f"scenario {scenario.id!r} has no variant with sequencing {sequencing!r}; "
        f"it has: {', '.join(modes)}"
    )


def run_seed(seed: int, variant: str, strategies: dict[str, str], run: int) -> int:
    """The seed of one run, from everything that names it."""
    named = ",".join(f"{d}={s}" for d, s in strategies.items())
    return random.Random(f"{seed}:{variant}:{named}:{run}").getrandbits(32)


class Scorer:
    """A mode's outcome space, measuring outcomes once each (many tables end alike)."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self._seen: dict[frozenset[str], Measures] = {}

    def measure(self, agreed: Sequence[str]) -> Measures:
        key = frozenset(agreed)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = self.space.measure(sorted(key))
        return found


@dataclass(frozen=True)
class Run:
    """One table to simulate: its result row, rule variant, strategies and seed."""

    result: Result
    variant: str
    strategies: dict[str, str]
    seed: int
    scorer: Scorer


def plan(
    scenario: Scenario, sequencings: Sequence[str], strategies: Sequence[str], runs: int, seed: int
) -> tuple[list[Result], list[Run]]:
    """The result rows (empty yet) and every table to play for them, in order.

    A ValueError names a mode the scenario lacks or a strategy that does not exist.
    """
    unknown = [s for s in strategies if s not in c.STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; strategies: {', '.join(c.STRATEGIES)}")
    results: list[Result] = []
    tables: list[Run] = []
    for sequencing in sequencings:
        variant = variant_for(scenario, sequencing)
        scorer = Scorer(analyze(scenario, variant))
        for combo in combinations(scenario.offering, strategies):
            result = Result(sequencing, variant, combo)
            results.append(result)
            tables += [
                Run(result, variant, combo, run_seed(seed, variant, combo, n), scorer)
                for n in range(runs)
            ]
    return results, tables


def simulate(
    scenario: Scenario,
    sequencings: Sequence[str],
    strategies: Sequence[str],
    runs: int,
    seed: int,
    progress: Callable[[int], object] | None = None,
) -> list[Result]:
    """Every mode against every strategy assignment, ``runs`` tables each, in memory."""
    results, tables = plan(scenario, sequencings, strategies, runs, seed)
    for run in tables:
        state = play_table(scenario, run.variant, run.strategies, run.seed)
        run.result.tables.append(table_result(state, run.scorer))
        if progress is not None:
            progress(1)
    return results


def table_result(state: TableState, scorer: Scorer) -> TableResult:
    """How a closed table ended, measured against its mode's outcome space."""
    agreed = tuple(state.agreed)
    measures = scorer.measure(agreed)
    return TableResult(
        agreed=agreed,
        rounds=state.round,
        refusals=sum(state.refusals.values()),
        joint_gain=measures.joint_gain,
        left_on_table=measures.left_on_table,
        close_reason=state.close_reason,
        above_batnas=bool(agreed) and all(g >= 0 for g in measures.gains.values()),
    )


class MemoryTable:
    """A table whose log is a list: the engine decides, the replay folds, the clock
    moves a second per event."""

    def __init__(self, scenario: Scenario) -> None:
        self.replay = Replay(scenario)
        self.now = START
        self.seq = 0
        self.refused: list[Refusal] = []
        #: The log.
        self.events: list[Event] = []

    @property
    def state(self) -> TableState:
        return self.replay.state

    def log(self, decided: Iterable[NewEvent]) -> None:
        for new in decided:
            self.seq += 1
            self.now += TICK
            event = Event.stamp(new, self.seq, self.now)
            self.events.append(event)
            self.replay.apply(event)

    def act(self, command: c.Command) -> bool:
        """Apply a command; a refusal is kept (and counted in the state) like the log's."""
        try:
            decided = engine.decide(self.state, command, self.now)
        except Refusal as refusal:
            self.refused.append(refusal)
            self.log(
                [
                    engine.refused(
                        self.state, command.who, command.name, command.arguments(), refusal
                    )
                ]
            )
            return False
        self.log(decided)
        return True

    def play_counterparts(self) -> None:
        """Let the seated counterparts move while the turn is theirs, until the table
        closes or a person is on move. A refused move is followed by a pass, so a faulty
        strategy cannot stall a table (the refusal stays in the log, and the simulation
        reports it)."""
        players: dict[str, Counterpart] = {}
        limit = 4 * self.state.rules.max_rounds * max(1, len(self.state.order)) + 8
        for _ in range(limit):
            state = self.state
            seat = state.seat_on_move()
            if seat is None:
                return
            player = players.get(seat.delegation)
            # (the same seat is most often the very same object: no need to compare it)
            if player is None or (player.seat is not seat and player.seat != seat):
                player = players[seat.delegation] = Counterpart(state.scenario, state.variant, seat)
            if not self.act(player.decide(state)):
                self.act(c.Pass(who=player.who))


def play_table(
    scenario: Scenario,
    variant: str,
    strategies: dict[str, str],
    seed: int,
    table: MemoryTable | None = None,
) -> TableState:
    """One table played to its close by counterparts only (in ``table`` if given)."""
    table = table if table is not None else MemoryTable(scenario)
    table.log([engine.open_table(scenario, FACILITATOR, variant, None)])
    for delegation, strategy in strategies.items():
        seat = c.Seat(
            who=FACILITATOR,
            delegation=delegation,
            strategy=strategy,
            think_seconds=0,
            seed=seed,
        )
        if not table.act(seat):
            raise ValueError(f"cannot seat {strategy} as {delegation}: {table.refused[-1]}")
    table.act(c.Start(who=FACILITATOR))
    table.play_counterparts()
    return table.state
