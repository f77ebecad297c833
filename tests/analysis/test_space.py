"""Property tests of ``bot.analysis.space``: random small scenarios, every mode, against a
brute-force enumeration of every subset of the items (``tests/analysis/brute.py``).

A random scenario has 2 to 4 offering delegations (sometimes one more that does not offer
and whose values must count nothing), 1 to 4 baskets in a random order (some gated, each
gated basket holding an item given by every offering delegation, as the schema demands),
1 to 10 items listed in a random order, values in -5..5 (sometimes left out: 0), random
BATNAs, and a package limit of 1 to 10 items (so some package spaces are empty); each mode is
a variant, or for the base mode sometimes only the base rules.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bot.analysis import Space, analyze, pareto, utilities
from bot.domain.scenario import Scenario

from .brute import Brute, brute

MODES = ["singapore", "package", "parallel"]
EXAMPLES = settings(max_examples=80, deadline=None)


@st.composite
def scenarios(draw: st.DrawFn, fewest: int = 2, most: int = 4) -> Scenario:
    """A valid random scenario with every sequencing mode as a variant (``fewest`` to
    ``most`` offering delegations)."""
    k = draw(st.integers(fewest, most))
    offering = [f"d{i}" for i in range(k)]
    observer = draw(st.booleans())
    everyone = offering + (["obs"] if observer else [])
    gated = draw(st.integers(0, min(4, 10 // k)))
    ungated = draw(st.integers(1 if gated == 0 else 0, 4 - gated))
    orders = draw(st.permutations(range(1, gated + ungated + 1)))
    baskets = [
        {"id": f"b{i}", "title": f"Basket {i}", "order": orders[i], "gated": i < gated}
        for i in range(gated + ungated)
    ]
    # one item per (gated basket, offering delegation), then free ones
    slots = [(f"b{b}", d) for b in range(gated) for d in offering]
    extra = draw(st.integers(max(0, 1 - len(slots)), 10 - len(slots)))
    for _ in range(extra):
        slots.append(
            (f"b{draw(st.integers(0, len(baskets) - 1))}", draw(st.sampled_from(offering)))
        )
    value = st.one_of(st.integers(-5, 5), st.none())
    items = []
    for i, (basket, giver) in enumerate(draw(st.permutations(slots))):
        values = {d: v for d in everyone if (v := draw(value)) is not None}
        items.append(
            {
                "id": f"i{i}",
                "title": f"Item {i}",
                "basket": basket,
                "giver": giver,
                "weight": 1,
                "values": values,
            }
        )
    delegations: list[dict[str, Any]] = [
        {"id": d, "name": d.upper(), "batna": draw(st.integers(-4, 5)), "brief": f"{d}.md"}
        for d in offering
    ]
    if observer:
        delegations.insert(
            draw(st.integers(0, k)),
            {"id": "obs", "name": "Observer", "offers": False, "batna": 50, "brief": "o.md"},
        )
    # the base mode is sometimes reached through the base rules, not a variant
    base, limit = draw(st.sampled_from(MODES)), draw(st.integers(1, 10))
    variants: dict[str, Any] = {"singapore": {}, "package": {}, "parallel": {}}
    if draw(st.booleans()):
        del variants[base]
    return Scenario.model_validate(
        {
            "id": "random",
            "title": "Random",
            "sources": [{"id": "s", "title": "S"}],
            "prompts": {"background": "b.md", "debrief": "d.md"},
            "delegations": delegations,
            "baskets": baskets,
            "items": items,
            "rules": {"sequencing": base, "max_items_per_offer": limit},
            "variants": variants,
        }
    )


def _both(scenario: Scenario, mode: str) -> tuple[Space, Brute]:
    space, truth = analyze(scenario, mode), brute(scenario, mode)
    event(f"mode {mode}")
    event("no outcome" if not truth.outcomes else "empty ZOPA" if not truth.zopa else "a ZOPA")
    event(f"{len(space.delegations)} delegations")
    return space, truth


def _vector(space: Space, scores: dict[str, int]) -> tuple[int, ...]:
    return tuple(scores[d] for d in space.delegations)


def _gains(space: Space, vector: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(u - b for u, b in zip(vector, space.batnas, strict=True))


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES))
def test_outcome_and_zopa_counts(mode: str, scenario: Scenario) -> None:
    """The number of outcomes and of ZOPA outcomes equal those of every subset checked."""
    space, truth = _both(scenario, mode)
    assert space.delegations == tuple(scenario.offering)
    assert space.outcomes == truth.outcomes
    assert space.zopa == truth.zopa


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES))
def test_frontier(mode: str, scenario: Scenario) -> None:
    """The frontier is the brute-force set of undominated vectors, each point's items are
    an outcome of the mode that really scores its vector, and ``pareto`` agrees."""
    space, truth = _both(scenario, mode)
    frontier = truth.frontier()
    vectors = [_vector(space, p.scores) for p in space.frontier]
    assert len(vectors) == len(set(vectors))
    assert set(vectors) == frontier
    assert vectors == sorted(vectors, reverse=True)
    assert set(pareto(list(truth.unique_vectors()))) == frontier
    for point in space.frontier:
        assert len(set(point.items)) == len(point.items)
        assert truth.contains(truth.mask(point.items))
        assert utilities(scenario, point.items) == point.scores
        assert space.vector(point.items) == _vector(space, point.scores)


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES))
def test_max_joint_gain(mode: str, scenario: Scenario) -> None:
    """The maximum joint gain is the brute-force largest sum minus the BATNAs (None: no
    outcome)."""
    space, truth = _both(scenario, mode)
    assert space.max_joint_gain == truth.max_joint_gain()


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES))
def test_nash_point(mode: str, scenario: Scenario) -> None:
    """The Nash point is a ZOPA outcome whose product of gains is the brute-force maximum
    (None exactly when the ZOPA is empty)."""
    space, truth = _both(scenario, mode)
    best = truth.max_product()
    if best is None:
        assert space.nash is None
        return
    assert space.nash is not None
    assert truth.contains(truth.mask(space.nash.items))
    assert utilities(scenario, space.nash.items) == space.nash.scores
    gains = _gains(space, _vector(space, space.nash.scores))
    assert min(gains) >= 0
    assert math.prod(gains) == best


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES))
def test_kalai_point(mode: str, scenario: Scenario) -> None:
    """The Kalai point is a ZOPA outcome whose smallest share of the best gains is the
    brute-force maximum, with the largest joint gain among ties."""
    space, truth = _both(scenario, mode)
    assert space.best_gains == truth.best_gains()
    best = truth.max_min_share()
    if best is None:
        assert space.kalai is None
        return
    assert space.kalai is not None
    assert truth.contains(truth.mask(space.kalai.items))
    assert utilities(scenario, space.kalai.items) == space.kalai.scores
    gains = _gains(space, _vector(space, space.kalai.scores))
    assert min(gains) >= 0
    assert (truth.min_share(gains), sum(gains)) == best


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES), data=st.data())
def test_dominated(mode: str, scenario: Scenario, data: st.DataObject) -> None:
    """``dominated`` says whether some outcome of the space beats a random subset (in the
    space or not), as brute force does."""
    space, truth = _both(scenario, mode)
    ids = [item.id for item in scenario.items]
    for _ in range(8):
        chosen = data.draw(st.sets(st.sampled_from(ids), min_size=1))
        vector = space.vector(chosen)
        assert space.dominated(vector) == truth.dominated(vector)
    for point in space.frontier:
        assert not space.dominated(_vector(space, point.scores))


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES), data=st.data())
def test_contains(mode: str, scenario: Scenario, data: st.DataObject) -> None:
    """``contains`` says whether a random subset is an outcome of the mode, as brute
    force does."""
    space, truth = _both(scenario, mode)
    ids = [item.id for item in scenario.items]
    for _ in range(8):
        chosen = data.draw(st.sets(st.sampled_from(ids), min_size=1))
        assert space.contains(chosen) == truth.contains(truth.mask(chosen))


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES), data=st.data())
def test_measure_of_outcomes(mode: str, scenario: Scenario, data: st.DataObject) -> None:
    """``measure`` of random outcomes of the space: scores, gains, joint gain, value left
    on the table, Pareto-optimality and the distances, all as brute force says."""
    space, truth = _both(scenario, mode)
    if not truth.outcomes:
        return
    frontier = truth.frontier()
    best = truth.max_joint_gain()
    assert best is not None
    for _ in range(5):
        mask = int(truth.masks[data.draw(st.integers(0, truth.outcomes - 1))])
        items = sorted(truth.items(mask))
        m = space.measure(items)
        vector = tuple(int(x) for x in truth.vectors[truth.masks == mask][0])
        gains = _gains(space, vector)
        assert m.scores == dict(zip(space.delegations, vector, strict=True))
        assert m.gains == dict(zip(space.delegations, gains, strict=True))
        assert m.joint_gain == sum(gains)
        assert m.left_on_table == best - sum(gains) >= 0
        assert m.pareto_optimal == (vector in frontier) == (not truth.dominated(vector))
        assert m.distance_to_frontier == pytest.approx(min(math.dist(vector, f) for f in frontier))
        assert (m.distance_to_frontier == 0) == (vector in frontier)
        if space.nash is None:
            assert m.distance_to_nash is None
        else:
            nash = _vector(space, space.nash.scores)
            assert m.distance_to_nash == pytest.approx(math.dist(vector, nash))


@EXAMPLES
@given(scenario=scenarios(), mode=st.sampled_from(MODES))
def test_measure_of_no_deal(mode: str, scenario: Scenario) -> None:
    """``measure`` of no deal: everyone keeps the BATNA, no gain, the whole maximum left on
    the table when a ZOPA existed (else nothing), never Pareto-optimal."""
    space, truth = _both(scenario, mode)
    m = space.measure([])
    batnas = tuple(int(b) for b in truth.batnas)
    assert m.scores == dict(zip(space.delegations, batnas, strict=True))
    assert set(m.gains.values()) == {0}
    assert m.joint_gain == 0
    best = truth.max_joint_gain()
    assert m.left_on_table == (best if truth.zopa else 0)
    if truth.zopa:
        assert best is not None and m.left_on_table >= 0
    assert m.pareto_optimal is False
    frontier = truth.frontier()
    expected = min((math.dist(batnas, f) for f in frontier), default=0.0)
    assert m.distance_to_frontier == pytest.approx(expected)
    if space.nash is None:
        assert m.distance_to_nash is None
    else:
        assert m.distance_to_nash == pytest.approx(
            math.dist(batnas, _vector(space, space.nash.scores))
        )


def test_empty_package_space() -> None:
    """A package limit below the number of gated baskets leaves no outcome: no frontier,
    no joint gain, no Nash or Kalai point, and no deal leaves nothing on the table."""
    scenario = Scenario.model_validate(
        {
            "id": "tight",
            "title": "Tight",
            "sources": [{"id": "s", "title": "S"}],
            "prompts": {"background": "b.md", "debrief": "d.md"},
            "delegations": [
                {"id": "a", "name": "A", "brief": "a.md"},
                {"id": "b", "name": "B", "brief": "b.md"},
            ],
            "baskets": [
                {"id": "one", "title": "One", "order": 1},
                {"id": "two", "title": "Two", "order": 2},
            ],
            "items": [
                {
                    "id": f"{d}{n}",
                    "title": "T",
                    "basket": basket,
                    "giver": d,
                    "weight": 1,
                    "values": {"a": 1, "b": 1},
                }
                for n, basket in enumerate(["one", "two"])
                for d in ("a", "b")
            ],
            "variants": {"package": {"max_items_per_offer": 1}},
        }
    )
    space = analyze(scenario, "package")
    assert (space.outcomes, space.zopa, space.frontier) == (0, 0, [])
    assert space.max_joint_gain is None and space.nash is None and space.kalai is None
    m = space.measure([])
    assert (m.joint_gain, m.left_on_table, m.distance_to_frontier) == (0, 0, 0.0)
