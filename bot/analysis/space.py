"""The outcome space of a scenario under a rule mode, and the measures of ANALYTICS.md.

An outcome is a non-empty set of agreed items; a delegation's utility of it is the sum of
its private values of those items. Items are additive and independent, so the space is
walked item by item, basket by basket, as a small state machine that enforces the mode's
constraint (Singapore's gating, the package's coverage and item limit). Two exact passes:

- **Fronts**: for each state, the utility vectors no other vector of the same state
  dominates, each with one item set that reaches it. Pruning within a state is safe
  because what can still be added depends only on the state. The frontier, the maximum
  joint gain, and the Nash and Kalai-Smorodinsky points all lie on the final front.
- **Counts**: how many item sets reach each utility vector (for the number of outcomes and
  of outcomes in the ZOPA).

Nothing is sampled. Pure: no I/O, no discord, no aiosqlite.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from bot.domain.scenario import Item, Scenario, Sequencing

#: A utility vector, one entry per offering delegation in scenario order.
Vector = tuple[int, ...]
#: A state of the walk: (chain, took in the current gated basket, items taken so far).
State = tuple[str, bool, int]

OPEN, CLOSED = "open", "closed"


@dataclass(frozen=True)
class Point:
    """An outcome with each delegation's utility of it."""

    items: tuple[str, ...]
    scores: dict[str, int]

    def to_json(self) -> dict[str, object]:
        """``{"items": [...], "scores": {delegation: utility}}``."""
        return {"items": list(self.items), "scores": dict(self.scores)}


@dataclass(frozen=True)
class Measures:
    """What ANALYTICS.md says of one outcome (no deal: each delegation keeps its BATNA)."""

    scores: dict[str, int]
    gains: dict[str, int]
    joint_gain: int
    left_on_table: int
    pareto_optimal: bool
    distance_to_frontier: float
    distance_to_nash: float | None

    def to_json(self) -> dict[str, object]:
        """The export's ``analysis.outcome``."""
        return {
            "scores": dict(self.scores),
            "gains": dict(self.gains),
            "joint_gain": self.joint_gain,
            "left_on_table": self.left_on_table,
            "pareto_optimal": self.pareto_optimal,
            "distance_to_frontier": round(self.distance_to_frontier, 3),
            "distance_to_nash": None
            if self.distance_to_nash is None
            else round(self.distance_to_nash, 3),
        }


def utilities(scenario: Scenario, items: Iterable[str]) -> dict[str, int]:
    """Each offering delegation's utility of a set of items (unknown ids count nothing)."""
    chosen = [scenario.item(i) for i in items]
    return {
        d: sum(item.values.get(d, 0) for item in chosen if item is not None)
        for d in scenario.offering
    }


@dataclass
class Space:
    """The outcome space of one scenario under one sequencing mode, analysed exactly."""

    scenario: Scenario
    variant: str
    sequencing: Sequencing
    delegations: tuple[str, ...]
    batnas: Vector
    #: Utility vectors of the Pareto frontier, each with one item set reaching it.
    front: dict[Vector, tuple[str, ...]]
    #: How many outcomes the mode allows (non-empty item sets).
    outcomes: int
    #: How many of them leave every delegation at or above its BATNA.
    zopa: int
    #: How many leave every delegation strictly better off than its BATNA.
    better_for_all: int
    #: True for ``parallel``: any set of items, an upper bound on what offers can build.
    upper_bound: bool = False
    #: The package's item limit (the variant's ``max_items_per_offer``).
    rules_limit: int = 0

    # -- the space ------------------------------------------------------------------------

    @cached_property
    def frontier(self) -> list[Point]:
        """The Pareto frontier, by the first delegation's utility (highest first)."""
        return [self._point(v) for v in sorted(self.front, reverse=True)]

    @cached_property
    def max_joint_gain(self) -> int | None:
        """The largest sum of utilities minus the sum of BATNAs (None: no outcome)."""
        if not self.front:
            return None
        return max(sum(v) for v in self.front) - sum(self.batnas)

    @cached_property
    def _zopa_front(self) -> list[Vector]:
        return [v for v in self.front if self._rational(v)]

    @cached_property
    def nash(self) -> Point | None:
        """The ZOPA outcome maximising the product of gains (ties: larger joint gain)."""
        if not self._zopa_front:
            return None
        best = max(self._zopa_front, key=lambda v: (math.prod(self._gains(v)), sum(v), v))
        return self._point(best)

    @cached_property
    def best_gains(self) -> Vector:
        """Each delegation's best gain in the ZOPA."""
        if not self._zopa_front:
            return tuple(0 for _ in self.delegations)
        gains = [self._gains(v) for v in self._zopa_front]
        return tuple(max(g[i] for g in gains) for i in range(len(self.delegations)))

    @cached_property
    def kalai(self) -> Point | None:
        """The ZOPA outcome maximising the smallest share of each delegation's best gain
        (ties: the larger joint gain)."""
        if not self._zopa_front:
            return None

        def share(v: Vector) -> tuple[float, int, Vector]:
            fractions = [
                g / best if best else 1.0
                for g, best in zip(self._gains(v), self.best_gains, strict=True)
            ]
            return min(fractions), sum(v), v

        return self._point(max(self._zopa_front, key=share))

    # -- one outcome ----------------------------------------------------------------------

    def vector(self, items: Iterable[str]) -> Vector:
        """The utility vector of a set of items."""
        scores = utilities(self.scenario, items)
        return tuple(scores[d] for d in self.delegations)

    def dominated(self, vector: Vector) -> bool:
        """Whether an outcome of the space is at least as good for all and better for one."""
        return any(
            all(f >= u for f, u in zip(front, vector, strict=True)) and front != vector
            for front in self.front
        )

    def distance_to_frontier(self, vector: Vector) -> float:
        """The Euclidean distance, in utility space, to the nearest frontier point."""
        if not self.front:
            return 0.0
        return min(math.dist(vector, front) for front in self.front)

    def contains(self, items: Iterable[str]) -> bool:
        """Whether ``items`` is an outcome of this space (the mode allows it)."""
        chosen = set(items)
        walk = _walk(self.scenario, self.sequencing, self.rules_limit)
        state: State | None = walk.start()
        for index, item in enumerate(walk.items):
            if state is not None and item.id in chosen:
                state = walk.take(state, index)
                chosen.discard(item.id)
            if state is not None and index in walk.gated_ends:
                state = walk.leave_basket(state)
        return state is not None and state[2] > 0 and not chosen

    def measure(self, items: Sequence[str]) -> Measures:
        """Every measure of the outcome ``items`` (empty: no deal).

        Raises :class:`ValueError` if ``items`` is not an outcome of this space (measured
        against another mode's space, its frontier would mean nothing).
        """
        deal = bool(items)
        if deal and not self.contains(items):
            raise ValueError(
                f"{sorted(items)} is not an outcome under {self.variant!r} "
                f"({self.sequencing.value}); measure it against its own rule mode"
            )
        vector = self.vector(items) if deal else self.batnas
        gains = self._gains(vector)
        joint = sum(gains)
        best = self.max_joint_gain or 0
        # no deal: the whole maximum was left, if a deal could have been rational
        left = best - joint if deal else (best if self.zopa else 0)
        nash = self.nash
        return Measures(
            scores=dict(zip(self.delegations, vector, strict=True)),
            gains=dict(zip(self.delegations, gains, strict=True)),
            joint_gain=joint,
            left_on_table=left,
            pareto_optimal=deal and not self.dominated(vector),
            distance_to_frontier=self.distance_to_frontier(vector),
            distance_to_nash=None if nash is None else math.dist(vector, self.vector(nash.items)),
        )

    # -- helpers --------------------------------------------------------------------------

    def _rational(self, vector: Vector) -> bool:
        return all(u >= b for u, b in zip(vector, self.batnas, strict=True))

    def _gains(self, vector: Vector) -> Vector:
        return tuple(u - b for u, b in zip(vector, self.batnas, strict=True))

    def _point(self, vector: Vector) -> Point:
        return Point(self.front[vector], dict(zip(self.delegations, vector, strict=True)))


# -- the walk ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Walk:
    """The items in walking order (gated baskets in order, then the rest) and the mode's
    constraint as transitions between states."""

    items: list[Item]
    gated_ends: set[int]  # indices of the last item of each gated basket
    mode: Sequencing
    limit: int | None  # the package's item limit

    def start(self) -> State:
        return (OPEN, False, 0)

    def take(self, state: State, index: int) -> State | None:
        """The state after taking item ``index`` (None: the mode forbids it)."""
        chain, took, count = state
        gated = index <= max(self.gated_ends, default=-1)
        if gated and self.mode is Sequencing.SINGAPORE and chain == CLOSED:
            return None  # a later basket while an earlier one has nothing
        count = count + 1 if self.limit is not None else 1  # only the package counts
        if self.limit is not None and count > self.limit:
            return None
        return (chain, took or gated, count)

    def leave_basket(self, state: State) -> State | None:
        """The state after the last item of a gated basket."""
        chain, took, count = state
        if self.mode is Sequencing.PACKAGE and not took:
            return None  # a package covers every gated basket
        if chain == OPEN and not took:
            chain = CLOSED  # nothing here: no later gated basket may open
        return (chain, False, count)


def _walk(scenario: Scenario, mode: Sequencing, limit: int) -> _Walk:
    gated: list[Item] = []
    gated_ends: set[int] = set()
    ungated: list[Item] = []
    for basket in scenario.baskets_in_order():
        items = [i for i in scenario.items if i.basket == basket.id]
        if not basket.gated or mode is Sequencing.PARALLEL:
            ungated += items
        elif items:
            gated += items
            gated_ends.add(len(gated) - 1)
    package = mode is Sequencing.PACKAGE
    return _Walk(gated + ungated, gated_ends, mode, limit if package else None)


#: Per state, what reaches each vector: a witness bitmask (fronts) or a count (counts).
Layers = dict[State, dict[Vector, int]]


def _run(
    walk: _Walk,
    values: list[Vector],
    seed: int,
    grow: Callable[[int, int], int],
    merge: Callable[[dict[Vector, int], dict[Vector, int]], dict[Vector, int]],
    clamp: Callable[[Vector, int], Vector | None] | None = None,
) -> Layers:
    """Walk the items once: ``grow(what, index)`` is what reaches a vector after taking
    item ``index``; ``merge`` combines two layers of one state; ``clamp(vector, index)``,
    if given, rewrites (or drops, with None) every vector after item ``index``."""
    zero: Vector = tuple(0 for _ in values[0]) if values else ()
    start = clamp(zero, -1) if clamp is not None else zero
    if start is None:  # nothing can meet the thresholds
        return {}
    layers: Layers = {walk.start(): {start: seed}}
    for index, value in enumerate(values):
        nxt: Layers = {}
        for state, layer in layers.items():
            taken = walk.take(state, index)
            if taken is not None:
                grown = {_add(v, value): grow(w, index) for v, w in layer.items()}
                nxt[taken] = merge(nxt[taken], grown) if taken in nxt else grown
            nxt[state] = merge(nxt[state], layer) if state in nxt else layer
        if index in walk.gated_ends:
            crossed: Layers = {}
            for state, layer in nxt.items():
                after = walk.leave_basket(state)
                if after is not None:
                    crossed[after] = merge(crossed[after], layer) if after in crossed else layer
            nxt = crossed
        if clamp is not None:  # counting: vectors that clamp alike add up
            for state, layer in nxt.items():
                clamped: dict[Vector, int] = {}
                for v, n in layer.items():
                    c = clamp(v, index)
                    if c is not None:
                        clamped[c] = clamped.get(c, 0) + n
                nxt[state] = clamped
        layers = nxt
    return layers


#: A coordinate whose threshold is met whatever items follow.
MET = sys.maxsize


def _count_outcomes(walk: _Walk) -> int:
    """How many outcomes the mode allows (the walk's states alone, no utilities)."""
    layers = _run(walk, [() for _ in walk.items], 1, lambda n, _: n, _merge_count)
    return sum(n for state, layer in layers.items() if state[2] for n in layer.values())


def _count_rational(walk: _Walk, values: list[Vector], batnas: Vector) -> tuple[int, int]:
    """How many outcomes leave every delegation at or above its BATNA, and how many
    strictly above.

    Counting every distinct utility vector would be exact but slow with many delegations;
    instead a vector is dropped as soon as the items still to come cannot lift one of its
    coordinates to the BATNA, and a coordinate is marked :data:`MET` once they cannot pull
    it below BATNA + 1: only the vectors still undecided are told apart.
    """
    size = len(batnas)
    high = [0] * size  # the most the items still to come can add, per delegation
    low = [0] * size  # the most they can take away
    # After item i: a coordinate below drop[i + 1] can no longer reach its BATNA; one
    # above met[i + 1] stays above it whatever follows.
    drop: list[Vector] = [()] * (len(values) + 1)
    met: list[Vector] = [()] * (len(values) + 1)
    for i in reversed(range(len(values) + 1)):
        drop[i] = tuple(b - h for b, h in zip(batnas, high, strict=True))
        met[i] = tuple(b - lo for b, lo in zip(batnas, low, strict=True))
        if i:
            for d in range(size):
                high[d] += max(values[i - 1][d], 0)
                low[d] += min(values[i - 1][d], 0)

    def clamp(vector: Vector, index: int) -> Vector | None:
        floor, ceiling = drop[index + 1], met[index + 1]
        out = []
        for u, f, c in zip(vector, floor, ceiling, strict=True):
            if u == MET or u > c:
                out.append(MET)
            elif u < f:
                return None
            else:
                out.append(u)
        return tuple(out)

    layers = _run(walk, values, 1, lambda n, _: n, _merge_count, clamp)
    at_least = above = 0
    for state, layer in layers.items():
        if not state[2]:
            continue
        for vector, n in layer.items():
            at_least += n  # what survived meets every BATNA (nothing is left to come)
            if all(u == MET or u > b for u, b in zip(vector, batnas, strict=True)):
                above += n
    return at_least, above


def analyze(scenario: Scenario, variant: str) -> Space:
    """The outcome space of ``scenario`` under one of its sequencing variants."""
    rules = scenario.rules_for(variant)
    delegations = tuple(scenario.offering)
    walk = _walk(scenario, rules.sequencing, rules.max_items_per_offer)
    values = [tuple(item.values.get(d, 0) for d in delegations) for item in walk.items]
    ids = [item.id for item in walk.items]
    fronts = _run(walk, values, 0, lambda w, i: w | 1 << i, _merge_front)
    front: dict[Vector, int] = {}
    for state, layer in fronts.items():
        if state[2]:  # the empty set is no deal, not an outcome
            front = _merge_front(front, layer)
    batnas: list[int] = []
    for d in delegations:
        delegation = scenario.delegation(d)
        assert delegation is not None
        batnas.append(delegation.batna)
    zopa, better_for_all = _count_rational(walk, values, tuple(batnas))
    return Space(
        scenario=scenario,
        variant=variant,
        sequencing=rules.sequencing,
        delegations=delegations,
        batnas=tuple(batnas),
        front={v: tuple(ids[i] for i in range(len(ids)) if w >> i & 1) for v, w in front.items()},
        outcomes=_count_outcomes(walk),
        zopa=zopa,
        better_for_all=better_for_all,
        upper_bound=rules.sequencing is Sequencing.PARALLEL,
        rules_limit=rules.max_items_per_offer,
    )


def _add(a: Vector, b: Vector) -> Vector:
    return tuple(x if x == MET else x + y for x, y in zip(a, b, strict=True))


def _merge_count(a: dict[Vector, int], b: dict[Vector, int]) -> dict[Vector, int]:
    """``a`` with ``b``'s counts added (``a`` is changed: the walk owns its layers)."""
    for v, n in b.items():
        a[v] = a.get(v, 0) + n
    return a


def _merge_front(a: dict[Vector, int], b: dict[Vector, int]) -> dict[Vector, int]:
    """The non-dominated vectors of both, each with a witness (the first one seen)."""
    merged = dict(a)
    for v, w in b.items():
        merged.setdefault(v, w)
    return {v: merged[v] for v in pareto(list(merged))}


def pareto(vectors: list[Vector]) -> list[Vector]:
    """The vectors no other vector dominates (at least as good in all, better in one)."""
    if not vectors:
        return []
    if len(vectors[0]) == 2:  # a staircase: sweep by the first utility, highest first
        kept: list[Vector] = []
        best_second = -math.inf
        for v in sorted(set(vectors), key=lambda v: (-v[0], -v[1])):
            if v[1] > best_second:
                kept.append(v)
                best_second = v[1]
        return kept
    # Only a vector with a larger (or equal) sum can dominate another: in that order,
    # each vector is checked against those kept so far, all at once with numpy.
    ordered = np.array(sorted(set(vectors), key=lambda v: (-sum(v), v)), dtype=np.int64)
    kept_rows = np.empty_like(ordered)
    n = 0
    for row in ordered:
        if n and bool((kept_rows[:n] >= row).all(axis=1).any()):
            continue
        kept_rows[n] = row
        n += 1
    return [tuple(int(x) for x in row) for row in kept_rows[:n]]
