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

A layer of the walk (what reaches one state) is held as numpy rows, one utility vector
per row. Two fronts are merged by checking each against the other only (each is already
free of dominance) with a bitset filter (:func:`_covered`): per delegation and threshold,
the set of rows at or above it, as packed bits, so that a row's possible dominators are
the AND of a few bitsets. With more than two delegations the fronts hold thousands of
points and this is where the time goes; with two, a sort-and-sweep staircase does.

Nothing is sampled. Utilities are int64 while they stay small (below :data:`SMALL`) and
exact Python integers in object arrays beyond. Pure: no I/O, no discord, no aiosqlite.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from bot.domain.scenario import Item, Scenario, Sequencing

#: A utility vector, one entry per offering delegation in scenario order.
Vector = tuple[int, ...]
#: A state of the walk: (chain, took in the current gated basket, items taken so far).
State = tuple[str, bool, int]
#: Rows of utility vectors (int64, or Python ints in an object array), or their tags.
Array = npt.NDArray[Any]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
T = TypeVar("T")

#: Utilities stay int64 while every |utility| is below this (sums of k squares still fit).
SMALL = 2**24

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
        rows, point = self._front_rows, _rows([vector], len(self.delegations))
        at_least = (rows >= point).all(axis=1)
        return bool((at_least & (rows != point).any(axis=1)).any())

    def distance_to_frontier(self, vector: Vector) -> float:
        """The Euclidean distance, in utility space, to the nearest frontier point."""
        if not self.front:
            return 0.0
        difference = self._front_rows - _rows([vector], len(self.delegations))
        return math.sqrt(int((difference * difference).sum(axis=1).min()))

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

    @cached_property
    def _front_rows(self) -> Array:
        """The front's vectors as rows (exact: squared distances of int64 rows fit)."""
        return _rows(list(self.front), len(self.delegations))

    def _point(self, vector: Vector) -> Point:
        return Point(self.front[vector], dict(zip(self.delegations, vector, strict=True)))


# -- the walk ---------------------------------------------------------------------------------


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


def _run(
    walk: _Walk,
    start: T,
    take: Callable[[T, int], T],
    combine: Callable[[list[T], int], T],
) -> dict[State, T]:
    """Walk the items once, from ``start`` (what reaches the start state).

    ``take(layer, index)`` is what reaches the next state when item ``index`` is added to
    what reached this one; ``combine(parts, index)`` joins everything that reaches one
    state after item ``index``, in a fixed order (the states' order, taking before
    leaving out), so that witnesses are deterministic.
    """
    layers = {walk.start(): start}
    for index in range(len(walk.items)):
        parts: dict[State, list[T]] = {}
        for state, layer in layers.items():
            taken = walk.take(state, index)
            if taken is not None:
                parts.setdefault(taken, []).append(take(layer, index))
            parts.setdefault(state, []).append(layer)
        if index in walk.gated_ends:
            crossed: dict[State, list[T]] = {}
            for state, group in parts.items():
                after = walk.leave_basket(state)
                if after is not None:
                    crossed.setdefault(after, []).extend(group)
            parts = crossed
        layers = {state: combine(group, index) for state, group in parts.items()}
    return layers


@dataclass(frozen=True)
class _Layer:
    """What reaches one state: distinct utility vectors (rows) and, per row, a tag: the
    bitmask of one item set reaching it (fronts) or how many item sets do (counts)."""

    rows: Array  # (m, k)
    tags: Array  # (m,)

    def add(self, value: Array, tag: int = 0) -> _Layer:
        """Every row plus ``value``, each tag with the bits of ``tag`` set."""
        return _Layer(self.rows + value, self.tags | tag if tag else self.tags)

    def select(self, which: Array) -> _Layer:
        """The rows (and tags) a mask or an index array picks."""
        return _Layer(self.rows[which], self.tags[which])


def _join(parts: list[_Layer]) -> _Layer:
    """All the rows of several layers, in order."""
    return _Layer(np.concatenate([p.rows for p in parts]), np.concatenate([p.tags for p in parts]))


def _tags(values: Sequence[int], bits: int) -> Array:
    """Tags as int64 while ``bits`` bits fit, else as Python ints."""
    return np.array(values, dtype=np.int64 if bits <= 62 else object)


def _front(walk: _Walk, values: Array) -> _Layer:
    """The final front: the non-dominated utility vectors of the non-empty outcomes, each
    with the bitmask of one item set (bit ``i``: ``walk.items[i]``) reaching it."""
    n, k = values.shape
    start = _Layer(np.zeros((1, k), dtype=values.dtype), _tags([0], n))
    layers = _run(
        walk,
        start,
        lambda layer, index: layer.add(values[index], 1 << index),
        lambda parts, _: _merge_fronts(parts),
    )
    finals = [layer for state, layer in layers.items() if state[2]]  # no deal is no outcome
    return _merge_fronts(finals) if finals else start.select(np.zeros(0, dtype=np.int64))


def _count_outcomes(walk: _Walk) -> int:
    """How many outcomes the mode allows (the walk's states alone, no utilities)."""
    layers = _run(walk, 1, lambda n, _: n, lambda parts, _: sum(parts))
    return sum(n for state, n in layers.items() if state[2])


def _count_rational(walk: _Walk, values: Array, batnas: Array) -> tuple[int, int]:
    """How many outcomes leave every delegation at or above its BATNA, and how many
    strictly above.

    Counting every distinct utility vector would be exact but slow with many delegations;
    instead a vector is dropped as soon as the items still to come cannot lift one of its
    coordinates to the BATNA, and a coordinate is capped one above the level from which
    they cannot pull it below BATNA + 1 (it stays "met" whatever follows): only the vectors
    still undecided are told apart.
    """
    n, k = values.shape
    zero = np.zeros((1, k), dtype=values.dtype)
    # After item i, row i + 1: the most the items still to come can add (take away).
    high = np.concatenate([np.cumsum(np.maximum(values, 0)[::-1], axis=0)[::-1], zero])
    low = np.concatenate([np.cumsum(np.minimum(values, 0)[::-1], axis=0)[::-1], zero])
    floor, ceiling = batnas - high, batnas - low + 1

    def clamp(layer: _Layer, after: int) -> _Layer:
        layer = layer.select((layer.rows >= floor[after]).all(axis=1))
        layer = _Layer(np.minimum(layer.rows, ceiling[after]), layer.tags)
        first, inverse = _group(layer.rows)
        counts = np.zeros(len(first), dtype=layer.tags.dtype)
        np.add.at(counts, inverse, layer.tags)
        return _Layer(layer.rows[first], counts)

    start = clamp(_Layer(zero, _tags([1], n)), 0)
    if not len(start.rows):  # nothing can meet the thresholds
        return 0, 0
    layers = _run(
        walk,
        start,
        lambda layer, index: layer.add(values[index]),
        lambda parts, index: clamp(_join(parts), index + 1),
    )
    at_least = above = 0
    for state, layer in layers.items():
        if state[2]:  # what survived meets every BATNA (nothing is left to come)
            at_least += int(layer.tags.sum())
            above += int(layer.tags[(layer.rows > batnas).all(axis=1)].sum())
    return at_least, above


def analyze(scenario: Scenario, variant: str) -> Space:
    """The outcome space of ``scenario`` under one of its sequencing variants."""
    rules = scenario.rules_for(variant)
    delegations = tuple(scenario.offering)
    walk = _walk(scenario, rules.sequencing, rules.max_items_per_offer)
    batnas: list[int] = []
    for d in delegations:
        delegation = scenario.delegation(d)
        assert delegation is not None
        batnas.append(delegation.batna)
    vectors = [tuple(item.values.get(d, 0) for d in delegations) for item in walk.items]
    # the largest |utility| any vector of the walk can reach, the BATNAs included
    bound = max((abs(b) + sum(abs(v[d]) for v in vectors) for d, b in enumerate(batnas)), default=0)
    dtype = np.int64 if bound + 1 < SMALL else object
    values = np.array(vectors, dtype=dtype).reshape(len(vectors), len(delegations))
    front = _front(walk, values)
    ids = [item.id for item in walk.items]
    zopa, better_for_all = _count_rational(walk, values, np.array(batnas, dtype=dtype))
    return Space(
        scenario=scenario,
        variant=variant,
        sequencing=rules.sequencing,
        delegations=delegations,
        batnas=tuple(batnas),
        front={
            tuple(row): tuple(ids[i] for i in range(len(ids)) if w >> i & 1)
            for row, w in zip(front.rows.tolist(), front.tags.tolist(), strict=True)
        },
        outcomes=_count_outcomes(walk),
        zopa=zopa,
        better_for_all=better_for_all,
        upper_bound=rules.sequencing is Sequencing.PARALLEL,
        rules_limit=rules.max_items_per_offer,
    )


# -- rows of vectors ------------------------------------------------------------------------


def _rows(vectors: Sequence[Vector], k: int) -> Array:
    """Vectors as rows: int64 while every entry is small, else exact Python ints."""
    big = any(abs(x) >= SMALL for v in vectors for x in v)
    return np.array(vectors, dtype=object if big else np.int64).reshape(len(vectors), k)


def _group(rows: Array) -> tuple[IntArray, IntArray]:
    """The index of the first occurrence of each distinct row, and for each row which of
    those it equals (an index into the first array)."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if rows.dtype == object:
        seen: dict[Vector, int] = {}
        first: list[int] = []
        inverse = []
        for i, row in enumerate(rows.tolist()):
            vector = tuple(row)
            if vector not in seen:
                seen[vector] = len(first)
                first.append(i)
            inverse.append(seen[vector])
        return np.array(first, dtype=np.int64), np.array(inverse, dtype=np.int64)
    key = _pack(rows)
    if key is None:
        _, index, where = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    else:
        _, index, where = np.unique(key, return_index=True, return_inverse=True)
    return index.astype(np.int64), where.reshape(-1).astype(np.int64)


def _pack(rows: IntArray) -> IntArray | None:
    """One int64 per row that tells rows apart (None: their ranges are too wide)."""
    low = rows.min(axis=0)
    span = rows.max(axis=0) - low + 1
    if math.prod(int(s) for s in span) >= 2**62:
        return None
    key = np.zeros(len(rows), dtype=np.int64)
    for c in range(rows.shape[1]):
        key = key * span[c] + (rows[:, c] - low[c])
    return key


# -- dominance --------------------------------------------------------------------------------


def _merge_fronts(parts: list[_Layer]) -> _Layer:
    """The vectors of several fronts (each free of dominance) that no vector of another
    dominates, each with the tag of the first part that holds it."""
    if len(parts) == 1:
        return parts[0]
    joined = _join(parts)
    label = np.repeat(np.arange(len(parts)), [len(p.rows) for p in parts])
    first, _ = _group(joined.rows)
    first.sort()  # keep each vector's first occurrence, in order
    joined, label = joined.select(first), label[first]
    if joined.rows.shape[1] == 2:
        return joined.select(_staircase(joined.rows))
    keep = np.ones(len(label), dtype=bool)
    for part in range(len(parts)):
        mine = label == part
        # a part has no dominance within it and no vector equal to another part's
        keep[mine] = ~_covered(joined.rows[mine], joined.rows[~mine])
    return joined.select(keep)


def _staircase(rows: Array) -> BoolArray:
    """Which rows of two columns no other row dominates (of equal rows, the first): sweep
    by the first column, highest first, keeping the rows that raise the second."""
    order = np.argsort(-rows[:, 1], kind="stable")
    order = order[np.argsort(-rows[order, 0], kind="stable")]
    second = rows[order, 1]
    rises = np.ones(len(rows), dtype=bool)
    rises[1:] = second[1:] > np.maximum.accumulate(second)[:-1]
    keep = np.zeros(len(rows), dtype=bool)
    keep[order[rises]] = True
    return keep


#: Rows of ``others`` per bitset block, rows checked per chunk, and thresholds per
#: packing step: together they bound the memory of :func:`_covered` (a few MiB a column).
BLOCK, CHUNK, THRESHOLDS = 8192, 1024, 1024


def _covered(points: Array, others: Array | None) -> BoolArray:
    """Which rows of ``points`` some row of ``others`` is at least as good as in every
    column; with ``others`` None, some *other* row of ``points`` (rows must be distinct):
    then the dominated rows.

    Only a row with at least the same sum can cover another, so ``others`` are ordered by
    sum, highest first, and each row is checked against the prefix that reaches its own
    sum. The check is bitwise (:func:`_bitsets`): the AND, over the columns, of the bitset
    of the ``others`` at or above the row's value holds the rows that cover it.
    """
    same = others is None
    covered = np.zeros(len(points), dtype=bool)
    if not len(points) or (others is not None and not len(others)):
        return covered
    by_sum = np.argsort(-points.sum(axis=1), kind="stable")
    mine = points[by_sum]
    theirs = mine if others is None else others[np.argsort(-others.sum(axis=1), kind="stable")]
    # how many of the others reach each row's sum (others' sums are descending)
    reach = np.searchsorted(-theirs.sum(axis=1), -mine.sum(axis=1), side="right")
    found = np.zeros(len(points), dtype=bool)
    for start in range(0, len(theirs), BLOCK):
        block = theirs[start : start + BLOCK]
        tables = _bitsets(block)
        where = [np.searchsorted(values, mine[:, c]) for c, (values, _) in enumerate(tables)]
        todo = np.flatnonzero(~found & (reach > start))
        for chunk in (todo[i : i + CHUNK] for i in range(0, len(todo), CHUNK)):
            words = (min(int(reach[chunk[-1]]) - start, len(block)) + 63) // 64
            hits = tables[0][1][where[0][chunk], :words]
            for c in range(1, len(tables)):
                hits &= tables[c][1][where[c][chunk], :words]
            if same:
                _clear_own(hits, chunk - start, len(block))
            found[chunk] = hits.any(axis=1)
    covered[by_sum] = found
    return covered


def _clear_own(hits: Array, columns: IntArray, width: int) -> None:
    """Clear, in row ``r`` of ``hits``, the bit of column ``columns[r]`` (when in the
    block, ``0 <= column < width``): a row does not cover itself."""
    inside = (columns >= 0) & (columns < width)
    rows, columns = np.flatnonzero(inside), columns[inside]
    bits = np.left_shift(np.uint64(1), (columns % 64).astype(np.uint64))
    hits[rows, columns // 64] &= ~bits


def _bitsets(block: Array) -> list[tuple[Array, Array]]:
    """Per column of ``block``: its distinct values, ascending, and a table whose row
    ``j`` is the bitset (bit ``r``: row ``r`` of the block, little-endian 64-bit words) of
    the rows at or above value ``j``; one more row, all zero, stands above every value
    (where ``np.searchsorted`` puts a value above them all)."""
    size = len(block)
    words = (size + 63) // 64
    out = []
    for column in block.T:
        values = np.unique(column)
        table = np.zeros((len(values) + 1, words * 8), dtype=np.uint8)
        for i in range(0, len(values), THRESHOLDS):
            above = column[None, :] >= values[i : i + THRESHOLDS, None]
            table[i : i + len(above), : (size + 7) // 8] = np.packbits(
                above, axis=1, bitorder="little"
            )
        out.append((values, table.view("<u8")))
    return out


def pareto(vectors: list[Vector]) -> list[Vector]:
    """The vectors no other vector dominates (at least as good in all, better in one):
    for two columns by the first, highest first; else by sum, highest first, then by
    vector."""
    if not vectors:
        return []
    distinct = list(dict.fromkeys(vectors))
    k = len(distinct[0])
    rows = _rows(distinct, k)
    keep = _staircase(rows) if k == 2 else ~_covered(rows, None)
    kept = [distinct[i] for i in np.flatnonzero(keep)]
    if k == 2:
        return sorted(kept, key=lambda v: (-v[0], -v[1]))
    return sorted(kept, key=lambda v: (-sum(v), v))
