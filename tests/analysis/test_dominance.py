"""The dominance machinery of ``bot.analysis.space`` against naive pairwise checks: the
bitset filter (``_covered``, forced through several blocks and chunks), the merge of
fronts, ``pareto``, the grouping of equal rows, and exact Python integers for values too
large for int64."""

from __future__ import annotations

import itertools
import math
from contextlib import AbstractContextManager, nullcontext
from unittest.mock import patch

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.analysis import analyze, pareto
from bot.analysis import space as module
from bot.domain.scenario import Scenario

Vector = tuple[int, ...]
SOME = settings(max_examples=150, deadline=None)


@st.composite
def vector_lists(draw: st.DrawFn, size: int = 80) -> list[Vector]:
    """1 to ``size`` vectors of 1 to 6 coordinates in a narrow range (ties and duplicates
    are common), sometimes with one coordinate spread wide."""
    k = draw(st.integers(1, 6))
    wide = draw(st.integers(0, 10**6))
    coordinate = st.integers(-3, 3)
    vectors = draw(st.lists(st.tuples(*[coordinate] * k), min_size=1, max_size=size))
    return [(v[0] * wide, *v[1:]) if wide > 1 else v for v in vectors]


def _dominates(a: Vector, b: Vector) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and a != b


def _naive_pareto(vectors: list[Vector]) -> set[Vector]:
    return {v for v in vectors if not any(_dominates(w, v) for w in vectors)}


def _blocks(small: bool = True) -> AbstractContextManager[object]:
    """Small: blocks of 64 others, chunks of 3 rows and 2 thresholds at a time, so that
    every loop of ``_covered`` and ``_bitsets`` runs several times even on a few rows;
    else the shipped sizes."""
    return patch.multiple(module, BLOCK=64, CHUNK=3, THRESHOLDS=2) if small else nullcontext()


@SOME
@given(points=vector_lists(), others=vector_lists(200), small=st.booleans())
def test_covered_against_naive(points: list[Vector], others: list[Vector], small: bool) -> None:
    """``_covered(points, others)`` marks exactly the points some other vector is at
    least as good as everywhere (ties count), whatever the block sizes."""
    k = len(points[0])
    others = [(o * k)[:k] for o in others]  # the same number of coordinates
    with _blocks(small):
        got = module._covered(module._rows(points, k), module._rows(others, k))
    expected = [any(all(o >= p for o, p in zip(w, v, strict=True)) for w in others) for v in points]
    assert got.tolist() == expected


@SOME
@given(vectors=vector_lists(200), small=st.booleans())
def test_pareto_against_naive(vectors: list[Vector], small: bool) -> None:
    """``pareto`` keeps each undominated vector once (duplicates and ties included), in
    its documented order, whatever the block sizes."""
    with _blocks(small):
        kept = pareto(vectors)
    assert len(kept) == len(set(kept))
    assert set(kept) == _naive_pareto(vectors)
    k = len(vectors[0])
    order = (lambda v: (-v[0], -v[1])) if k == 2 else (lambda v: (-sum(v), v))
    assert kept == sorted(kept, key=order)


@SOME
@given(data=st.data(), parts=st.integers(1, 4))
def test_merge_fronts_against_naive(data: st.DataObject, parts: int) -> None:
    """Merging fronts keeps the undominated vectors of their union, each with the tag of
    the first front that holds it."""
    k = data.draw(st.integers(1, 6))
    fronts = []
    for _ in range(parts):
        vectors = data.draw(st.lists(st.tuples(*[st.integers(-3, 3)] * k), min_size=1))
        fronts.append(sorted(_naive_pareto(vectors)))
    layers = [
        module._Layer(module._rows(f, k), np.arange(len(f), dtype=np.int64) + 1000 * i)
        for i, f in enumerate(fronts)
    ]
    with _blocks():
        merged = module._merge_fronts(layers)
    union = [v for f in fronts for v in f]
    got = {tuple(r): t for r, t in zip(merged.rows.tolist(), merged.tags.tolist(), strict=True)}
    assert set(got) == _naive_pareto(union)
    for vector, tag in got.items():
        i = next(i for i, f in enumerate(fronts) if vector in f)
        assert tag == 1000 * i + fronts[i].index(vector)


@SOME
@given(vectors=vector_lists(60))
def test_group_against_naive(vectors: list[Vector]) -> None:
    """``_group`` finds the first occurrence of each distinct row and maps every row to
    it, for int64 rows (packed into one key, or not when the ranges are too wide) and for
    Python-int rows."""
    k = len(vectors[0])
    wide = [(v[0] * 2**40, *v[1:]) for v in vectors]  # too wide to pack with 2+ columns
    for rows in (module._rows(vectors, k), module._rows(wide, k), np.array(vectors, object)):
        first, inverse = module._group(rows)
        listed = [tuple(r) for r in rows.tolist()]
        assert sorted(first.tolist()) == sorted(listed.index(v) for v in set(listed))
        assert [listed[first[i]] for i in inverse] == listed


def test_huge_values_stay_exact() -> None:
    """Values beyond int64 are analysed in exact Python integers: frontier, counts,
    maximum joint gain, Nash point, dominance and distance agree with enumeration."""
    big = 2**70
    values = [(3, -1, 2), (-2, 4, 1), (1, 1, -3), (2, -2, 2), (-1, 3, 3), (0, 2, -1)]
    scenario = Scenario.model_validate(
        {
            "id": "huge",
            "title": "Huge",
            "sources": [{"id": "s", "title": "S"}],
            "prompts": {"background": "b.md", "debrief": "d.md"},
            "delegations": [
                {"id": d, "name": d.upper(), "batna": big, "brief": f"{d}.md"}
                for d in ("a", "b", "c")
            ],
            "baskets": [{"id": "all", "title": "All", "order": 1, "gated": False}],
            "items": [
                {
                    "id": f"i{i}",
                    "title": f"Item {i}",
                    "basket": "all",
                    "giver": "a",
                    "weight": 1,
                    "values": {d: big * x + i for d, x in zip("abc", v, strict=True)},
                }
                for i, v in enumerate(values)
            ],
            "variants": {"parallel": {}},
        }
    )
    space = analyze(scenario, "parallel")
    ids = [item.id for item in scenario.items]
    subsets = [s for r in range(1, len(ids) + 1) for s in itertools.combinations(ids, r)]
    vectors = {space.vector(s) for s in subsets}
    frontier = _naive_pareto(list(vectors))
    batnas = space.batnas
    zopa = [s for s in subsets if all(u >= b for u, b in zip(space.vector(s), batnas, strict=True))]
    assert set(space.front) == frontier
    assert (space.outcomes, space.zopa) == (len(subsets), len(zopa))
    assert space.max_joint_gain == max(sum(v) for v in vectors) - sum(batnas)
    assert space.nash is not None
    products = [
        math.prod(u - b for u, b in zip(space.vector(s), batnas, strict=True)) for s in zopa
    ]
    assert math.prod(space.nash.scores[d] - b for d, b in zip("abc", batnas, strict=True)) == max(
        products
    )
    for s in subsets[::5]:
        vector = space.vector(s)
        assert space.dominated(vector) == (vector not in frontier)
        expected = min(math.dist(vector, f) for f in frontier)
        assert math.isclose(space.distance_to_frontier(vector), expected)
