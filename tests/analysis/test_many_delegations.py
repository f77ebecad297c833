"""Five and six delegations, where the fronts are merged by the bitset filter (here with
small blocks, so that its loops run several times): random small scenarios (up to 10
items), every mode, every measure against brute force."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.analysis import utilities
from bot.domain.scenario import Scenario

from .test_dominance import _blocks
from .test_space import MODES, _both, _gains, _vector, scenarios

MANY = settings(max_examples=100, deadline=None)


@MANY
@given(scenario=scenarios(5, 6), mode=st.sampled_from(MODES))
def test_space_figures(mode: str, scenario: Scenario) -> None:
    """Counts, frontier, maximum joint gain, best gains, Nash and Kalai points equal brute
    force's with five or six delegations."""
    with _blocks():
        space, truth = _both(scenario, mode)
    assert (space.outcomes, space.zopa) == (truth.outcomes, truth.zopa)
    assert {_vector(space, p.scores) for p in space.frontier} == truth.frontier()
    for point in space.frontier:
        assert truth.contains(truth.mask(point.items))
        assert utilities(scenario, point.items) == point.scores
    assert space.max_joint_gain == truth.max_joint_gain()
    assert space.best_gains == truth.best_gains()
    best = truth.max_product()
    if best is None:
        assert space.nash is None and space.kalai is None
        return
    assert space.nash is not None and space.kalai is not None
    assert math.prod(_gains(space, _vector(space, space.nash.scores))) == best
    gains = _gains(space, _vector(space, space.kalai.scores))
    assert (truth.min_share(gains), sum(gains)) == truth.max_min_share()


@MANY
@given(scenario=scenarios(5, 6), mode=st.sampled_from(MODES), data=st.data())
def test_measures(mode: str, scenario: Scenario, data: st.DataObject) -> None:
    """``dominated`` of random subsets and ``measure`` of random outcomes (optimality,
    distance to the frontier) agree with brute force with five or six delegations."""
    space, truth = _both(scenario, mode)
    ids = [item.id for item in scenario.items]
    for _ in range(5):
        vector = space.vector(data.draw(st.sets(st.sampled_from(ids), min_size=1)))
        assert space.dominated(vector) == truth.dominated(vector)
    if not truth.outcomes:
        return
    frontier = truth.frontier()
    for _ in range(5):
        mask = int(truth.masks[data.draw(st.integers(0, truth.outcomes - 1))])
        m = space.measure(sorted(truth.items(mask)))
        vector = tuple(int(x) for x in truth.vectors[truth.masks == mask][0])
        assert m.pareto_optimal == (vector in frontier)
        expected = min(math.dist(vector, f) for f in frontier)
        assert m.distance_to_frontier == pytest.approx(expected)
