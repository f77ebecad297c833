"""Brute force for the analysis tests: every subset of a scenario's items, checked against
ANALYTICS.md's rule modes directly, with numpy.

Subset ``m`` (1 .. 2^n - 1) holds item ``i`` of ``scenario.items`` (file order) when bit
``i`` of ``m`` is set. The mode constraints are written from the definitions, not from the
walk in ``bot/analysis/space.py``:

- singapore: for each gated basket (by ``order``) holding an item of the subset, every
  gated basket before it holds one too;
- package: every gated basket holds an item, and at most ``max_items_per_offer`` items;
- parallel: any non-empty subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from bot.domain.scenario import Scenario, Sequencing

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass
class Brute:
    """Every outcome of one scenario under one variant, by brute force."""

    scenario: Scenario
    ids: list[str]
    delegations: list[str]
    batnas: IntArray  # (k,)
    masks: IntArray  # (m,) the subsets in the space
    vectors: IntArray  # (m, k) their utility vectors

    @property
    def outcomes(self) -> int:
        """How many outcomes the space holds."""
        return len(self.masks)

    @property
    def rational(self) -> BoolArray:
        """Which outcomes are in the ZOPA."""
        return np.asarray((self.vectors >= self.batnas).all(axis=1))

    @property
    def zopa(self) -> int:
        """How many outcomes are in the ZOPA."""
        return int(self.rational.sum())

    def items(self, mask: int) -> set[str]:
        """The item ids of a subset."""
        return {i for b, i in enumerate(self.ids) if mask >> b & 1}

    def mask(self, items: object) -> int:
        """The subset of some item ids."""
        assert isinstance(items, tuple | list | set | frozenset)
        return sum(1 << self.ids.index(i) for i in items)

    def contains(self, mask: int) -> bool:
        """Whether a subset is an outcome of the space."""
        return bool((self.masks == mask).any())

    def unique_vectors(self) -> set[tuple[int, ...]]:
        """The distinct utility vectors of the space."""
        return {tuple(int(x) for x in row) for row in _unique(self.vectors)}

    def frontier(self) -> set[tuple[int, ...]]:
        """The utility vectors no outcome dominates (pairwise, with numpy)."""
        if not self.outcomes:
            return set()
        v = _unique(self.vectors)
        ge = (v[:, None, :] >= v[None, :, :]).all(axis=2)
        gt = (v[:, None, :] > v[None, :, :]).any(axis=2)
        dominated = (ge & gt).any(axis=0)  # [i, j]: i dominates j
        return {tuple(int(x) for x in row) for row in v[~dominated]}

    def dominated(self, vector: tuple[int, ...]) -> bool:
        """Whether some outcome is at least as good for all and better for one."""
        if not self.outcomes:
            return False
        u = np.asarray(vector)
        ge = (self.vectors >= u).all(axis=1)
        gt = (self.vectors > u).any(axis=1)
        return bool((ge & gt).any())

    def max_joint_gain(self) -> int | None:
        """The largest sum of utilities minus the sum of BATNAs."""
        if not self.outcomes:
            return None
        return int(self.vectors.sum(axis=1).max() - self.batnas.sum())

    def zopa_gains(self) -> IntArray:
        """The gains of every ZOPA outcome (rows)."""
        return np.asarray(self.vectors[self.rational] - self.batnas)

    def max_product(self) -> int | None:
        """The largest product of gains over the ZOPA (exact, as Python ints)."""
        gains = _unique(self.zopa_gains())
        if not len(gains):
            return None
        return max(_prod(row) for row in gains)

    def best_gains(self) -> tuple[int, ...]:
        """Each delegation's best gain in the ZOPA (zeros when it is empty)."""
        gains = self.zopa_gains()
        if not len(gains):
            return tuple(0 for _ in self.delegations)
        return tuple(int(x) for x in gains.max(axis=0))

    def min_share(self, gains: tuple[int, ...], best: tuple[int, ...] | None = None) -> Fraction:
        """The smallest fraction of each delegation's best ZOPA gain (1 where that is 0)."""
        best = best if best is not None else self.best_gains()
        return min(Fraction(g, b) if b else Fraction(1) for g, b in zip(gains, best, strict=True))

    def max_min_share(self) -> tuple[Fraction, int] | None:
        """The largest smallest share over the ZOPA, and the largest joint gain at it."""
        gains = _unique(self.zopa_gains())
        if not len(gains):
            return None
        best = self.best_gains()
        return max(
            (self.min_share(tuple(int(x) for x in row), best), int(row.sum())) for row in gains
        )


def _unique(rows: IntArray) -> IntArray:
    """The distinct rows (``np.unique(axis=0)`` is slow on a million rows: pack each row
    into one integer first)."""
    if not len(rows):
        return rows
    low = rows.min(axis=0)
    span = rows.max(axis=0) - low + 1
    if float(np.prod(span.astype(float))) >= 2.0**62:
        return np.asarray(np.unique(rows, axis=0))
    key = np.zeros(len(rows), dtype=np.int64)
    for c in range(rows.shape[1]):
        key = key * span[c] + (rows[:, c] - low[c])
    _, first = np.unique(key, return_index=True)
    return np.asarray(rows[first])


def _prod(row: IntArray) -> int:
    out = 1
    for x in row:
        out *= int(x)
    return out


def allowed(scenario: Scenario, variant: str, masks: IntArray) -> BoolArray:
    """Which subsets (bit ``i``: ``scenario.items[i]``) the variant's mode allows."""
    rules = scenario.rules_for(variant)
    gated = [b.id for b in sorted(scenario.baskets, key=lambda b: b.order) if b.gated]
    # has[g]: the subset holds an item of the g-th gated basket (a mask of its items)
    has = [
        (masks & sum(1 << i for i, item in enumerate(scenario.items) if item.basket == b)) != 0
        for b in gated
    ]
    ok = masks > 0  # the empty set is no deal
    if rules.sequencing is Sequencing.SINGAPORE:
        for g in range(1, len(gated)):
            earlier = np.logical_and.reduce(has[:g])
            ok &= ~has[g] | earlier
    elif rules.sequencing is Sequencing.PACKAGE:
        for h in has:
            ok &= h
        ok &= np.bitwise_count(masks) <= rules.max_items_per_offer
    return np.asarray(ok)


def brute(scenario: Scenario, variant: str) -> Brute:
    """Every outcome of ``scenario`` under ``variant``: enumerate all 2^n subsets."""
    delegations = scenario.offering
    n = len(scenario.items)
    masks = np.arange(1 << n, dtype=np.int64)
    masks = masks[allowed(scenario, variant, masks)]
    vectors = np.zeros((len(masks), len(delegations)), dtype=np.int64)
    for i, item in enumerate(scenario.items):
        taken = ((masks >> i) & 1).astype(bool)
        vectors[taken] += np.array([item.values.get(d, 0) for d in delegations], dtype=np.int64)
    batnas = []
    for d in delegations:
        delegation = scenario.delegation(d)
        assert delegation is not None
        batnas.append(delegation.batna)
    return Brute(
        scenario=scenario,
        ids=[item.id for item in scenario.items],
        delegations=delegations,
        batnas=np.array(batnas, dtype=np.int64),
        masks=masks,
        vectors=vectors,
    )
