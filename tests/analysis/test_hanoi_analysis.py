"""The shipped Hanoi 2019 scenario analysed: its numbers pinned and checked independently.

The scenario has 20 items in four baskets: relations (5 items), peace (5) and
denuclearization (9) are gated in that order, remains (1) is not. BATNAs: US 8, DPRK 7.
Every item is worth more to the receiver than it costs the giver, except three DPRK items
(enrichment sites and declaration with inspectors: joint value 0; the handover of weapons:
-5). The checks below are by reasoning (the sum of the positive joint values, closed-form
counts) and by brute force over all 2^20 = 1,048,576 subsets with numpy.

What the numbers say about the seed texts' argument ("go small", step by step, against the
US all-or-nothing package of Hanoi):

- **Singapore sequencing loses no value.** Its maximum joint gain is 18, the same as with
  no constraint at all (parallel): the best outcome (every item but the handover, joint
  value 33 against BATNAs summing to 15) already holds an item of every gated basket, and
  its frontier is the parallel frontier (51 points). Order costs nothing at the frontier.
- **The package rule loses value.** One offer must cover all three gated baskets with at
  most 12 items, so the best package takes the 12 items of highest joint value (28): its
  maximum joint gain is 13, five less (28 %). The Nash product of gains falls from
  72 (US +6, DPRK +12) to 25 (+5, +5), and the ZOPA shrinks from 77,911 outcomes to
  49,275 (7.9 % of the Singapore space against 5.8 % of the package space). Only 6 of the
  61 package frontier points reach the unconstrained frontier.
- **The Hanoi offers were far from the frontier.** The US "big deal" leaves the DPRK 20
  below its BATNA and the DPRK's Hanoi offer leaves the US 9 below its own: joint gains
  of -11 and -7, 29 and 25 left on the table under Singapore rules (and neither is even an
  outcome of the package space, which needs an item of every gated basket). Walking away,
  as in Hanoi, leaves the whole 18 (13 under the package).
- **Small deals get most of the way.** The path of four small Singapore agreements in
  ``tests/test_hanoi_scenario.py`` (14 items) gives each side +6: a joint gain of 12, 6
  short of the maximum, 2.83 from the frontier.
"""

from __future__ import annotations

import math

import pytest

from bot.analysis import Point, Space, analyze
from bot.domain.scenario import Scenario
from bot.scenarios import ScenarioLibrary

from .brute import Brute, brute

US, DPRK = "us", "dprk"
VARIANTS = ["singapore", "package", "parallel"]

# The US "big deal" handed over in Hanoi, and the DPRK's Hanoi offer (Ri Yong Ho).
BIG_DEAL = (
    "dprk-declaration-inspectors",
    "dprk-handover",
    "dprk-yongbyon",
    "dprk-enrichment-sites",
    "us-lift-five-resolutions",
    "us-sector-relief",
)
HANOI_OFFER = ("dprk-yongbyon", "dprk-test-moratorium", "us-lift-five-resolutions")
# The four small Singapore agreements of tests/test_hanoi_scenario.py, together.
SMALL_DEALS = (
    "us-liaison-office",
    "dprk-liaison-access",
    "dprk-family-reunions",
    "dprk-dmz-pullback",
    "dprk-remains",
    "us-security-assurance",
    "us-exercises",
    "dprk-test-moratorium",
    "dprk-sohae",
    "us-sector-relief",
    "dprk-yongbyon",
    "dprk-punggye-ri",
    "us-end-of-war",
    "us-humanitarian",
)

#: variant: (outcomes, ZOPA, frontier points, max joint gain, Nash, Kalai, best gains)
PINNED = {
    "singapore": (984_127, 77_911, 51, 18, (14, 19), (15, 17), (14, 18)),
    "package": (844_404, 49_275, 61, 13, (13, 12), (13, 12), (9, 11)),
    "parallel": (1_048_575, 79_031, 51, 18, (14, 19), (15, 17), (14, 18)),
}


@pytest.fixture(scope="module")
def hanoi() -> Scenario:
    """The shipped scenario, as the bot loads it."""
    return ScenarioLibrary().get("hanoi-2019")


@pytest.fixture(scope="module")
def spaces(hanoi: Scenario) -> dict[str, Space]:
    """The analysed space of every variant."""
    return {v: analyze(hanoi, v) for v in VARIANTS}


@pytest.fixture(scope="module")
def truths(hanoi: Scenario) -> dict[str, Brute]:
    """Every subset of the 20 items, filtered by each variant's mode (numpy)."""
    return {v: brute(hanoi, v) for v in VARIANTS}


def _vector(point: Point | None) -> tuple[int, int]:
    assert point is not None
    return point.scores[US], point.scores[DPRK]


def test_the_variants_are_the_three_modes(hanoi: Scenario) -> None:
    """The scenario offers the three modes, the package with a 12-item limit."""
    assert sorted(hanoi.variant_names()) == sorted(VARIANTS)
    assert hanoi.rules_for("package").max_items_per_offer == 12
    assert [b.id for b in hanoi.baskets_in_order() if b.gated] == [
        "relations",
        "peace",
        "denuclearization",
    ]


@pytest.mark.parametrize("variant", VARIANTS)
def test_pinned_numbers(spaces: dict[str, Space], variant: str) -> None:
    """Outcomes, ZOPA, frontier size, maximum joint gain, Nash, Kalai and best gains."""
    space = spaces[variant]
    outcomes, zopa, front, best, nash, kalai, gains = PINNED[variant]
    assert (space.outcomes, space.zopa, len(space.frontier)) == (outcomes, zopa, front)
    assert space.max_joint_gain == best
    assert _vector(space.nash) == nash
    assert _vector(space.kalai) == kalai
    assert space.best_gains == gains


@pytest.mark.parametrize("variant", VARIANTS)
def test_brute_force_agrees(
    spaces: dict[str, Space], truths: dict[str, Brute], variant: str
) -> None:
    """All 2^20 subsets give the same outcomes, ZOPA, frontier, maximum joint gain, Nash
    product and Kalai share."""
    space, truth = spaces[variant], truths[variant]
    assert (space.outcomes, space.zopa) == (truth.outcomes, truth.zopa)
    assert {_vector(p) for p in space.frontier} == truth.frontier()
    assert space.max_joint_gain == truth.max_joint_gain()
    nash = _vector(space.nash)
    assert math.prod(u - b for u, b in zip(nash, space.batnas, strict=True)) == (
        truth.max_product()
    )
    kalai = tuple(u - b for u, b in zip(_vector(space.kalai), space.batnas, strict=True))
    assert (truth.min_share(kalai), sum(kalai)) == truth.max_min_share()
    for point in (space.nash, space.kalai, *space.frontier):
        assert point is not None and truth.contains(truth.mask(point.items))


def test_counts_in_closed_form(hanoi: Scenario, spaces: dict[str, Space]) -> None:
    """Counting by hand: 2^20 - 1 sets; Singapore's gated prefixes times the free remains
    item; the package's sets of at most 12 items with each gated basket non-empty."""
    sizes = [len([i for i in hanoi.items if i.basket == b]) for b in ("relations", "peace")]
    denuclearization = len([i for i in hanoi.items if i.basket == "denuclearization"])
    assert (sizes, denuclearization) == ([5, 5], 9)
    r, p, d = 2**5 - 1, 2**5 - 1, 2**9 - 1  # non-empty choices in each gated basket
    assert spaces["parallel"].outcomes == 2**20 - 1
    assert spaces["singapore"].outcomes == 2 * (1 + r + r * p + r * p * d) - 1
    # package: coefficients of ((1+x)^5 - 1)^2 ((1+x)^9 - 1) (1+x), up to x^12
    poly = [1]
    for n in (5, 5, 9, 1):
        factor = [math.comb(n, j) for j in range(n + 1)]
        if n > 1:
            factor[0] = 0  # a gated basket must hold an item
        poly = [
            sum(poly[i] * factor[k - i] for i in range(len(poly)) if 0 <= k - i < len(factor))
            for k in range(len(poly) + len(factor) - 1)
        ]
    assert spaces["package"].outcomes == sum(poly[:13])


def test_max_joint_gain_by_reasoning(hanoi: Scenario, spaces: dict[str, Space]) -> None:
    """Items are additive: the best outcome takes every item of positive joint value (33,
    minus BATNAs 15: 18), which covers every gated basket, so Singapore loses nothing; the
    package can hold only the 12 best items (28: 13)."""
    joint = sorted(
        ((i.values.get(US, 0) + i.values.get(DPRK, 0), i.basket) for i in hanoi.items),
        reverse=True,
    )
    batnas = 8 + 7
    positive = [(v, b) for v, b in joint if v > 0]
    assert (sum(v for v, _ in positive), len(positive)) == (33, 17)
    assert {b for _, b in positive} >= {"relations", "peace", "denuclearization"}
    assert spaces["parallel"].max_joint_gain == spaces["singapore"].max_joint_gain == 33 - batnas
    # no 12 items beat the 12 of largest joint value, and those cover every gated basket
    best12 = joint[:12]
    assert {b for _, b in best12} >= {"relations", "peace", "denuclearization"}
    assert sum(v for v, _ in best12) == 28
    assert spaces["package"].max_joint_gain == 28 - batnas == 13


def test_singapore_frontier_is_the_parallel_frontier(spaces: dict[str, Space]) -> None:
    """Gating costs nothing at the frontier: Singapore and parallel share all 51 points;
    every package frontier point is on or below that frontier, and only 6 of its 61 are on it."""
    parallel = {_vector(p) for p in spaces["parallel"].frontier}
    assert {_vector(p) for p in spaces["singapore"].frontier} == parallel
    package = {_vector(p) for p in spaces["package"].frontier}
    for u, d in package:
        assert any(fu >= u and fd >= d for fu, fd in parallel)
    below = [v for v in package if spaces["parallel"].dominated(v)]
    assert len(package) - len(below) == 6


@pytest.mark.parametrize(
    ("variant", "items", "scores", "joint", "left", "optimal", "to_frontier"),
    [
        # the Hanoi offers hold no relations or peace item: outcomes only without gating
        ("parallel", BIG_DEAL, (17, -13), -11, 29, False, 15.62),
        ("parallel", HANOI_OFFER, (-1, 9), -7, 25, False, 17.029),
        ("singapore", SMALL_DEALS, (14, 13), 12, 6, False, 2.828),
        ("singapore", (), (8, 7), 0, 18, False, 11.314),
        ("package", (), (8, 7), 0, 13, False, 7.071),
    ],
)
def test_measures_of_the_hanoi_offers(
    spaces: dict[str, Space],
    variant: str,
    items: tuple[str, ...],
    scores: tuple[int, int],
    joint: int,
    left: int,
    optimal: bool,
    to_frontier: float,
) -> None:
    """The big deal, the Hanoi offer, the small Singapore deals and walking away, measured
    (the two Hanoi offers each leave one side below its BATNA)."""
    m = spaces[variant].measure(items).to_json()
    assert (m["scores"], m["joint_gain"], m["left_on_table"]) == (
        {US: scores[0], DPRK: scores[1]},
        joint,
        left,
    )
    assert m["pareto_optimal"] is optimal
    assert m["distance_to_frontier"] == to_frontier


def test_the_hanoi_offers_are_not_singapore_outcomes(truths: dict[str, Brute]) -> None:
    """Neither Hanoi offer holds a relations or peace item: not an outcome under Singapore
    or the package, only under parallel; the small deals are a Singapore outcome."""
    for items in (BIG_DEAL, HANOI_OFFER):
        mask = truths["singapore"].mask(items)
        assert not truths["singapore"].contains(mask)
        assert not truths["package"].contains(mask)
        assert truths["parallel"].contains(mask)
    assert truths["singapore"].contains(truths["singapore"].mask(SMALL_DEALS))
    assert not truths["package"].contains(truths["package"].mask(SMALL_DEALS))  # 14 > 12


def test_an_outcome_of_another_mode_is_not_measured() -> None:
    """Measuring a set the mode does not allow (17 items, over the package's limit of 12)
    is refused rather than answered with a meaningless frontier distance."""
    scenario = ScenarioLibrary().get("hanoi-2019")
    package = analyze(scenario, "package")
    items = [i.id for i in scenario.items if sum(i.values.values()) > 0]
    assert len(items) > 12 and not package.contains(items)
    with pytest.raises(ValueError, match="not an outcome under 'package'"):
        package.measure(items)
    parallel = analyze(scenario, "parallel")
    assert parallel.contains(items)
    assert parallel.measure(items).left_on_table >= 0


@pytest.mark.parametrize("variant", ["singapore", "package"])
def test_the_hanoi_offers_are_not_measured_under_gating(
    spaces: dict[str, Space], variant: str
) -> None:
    """The big deal and the DPRK's offer skip the relations and peace baskets, so under
    Singapore or the package they are no outcome to measure."""
    for items in (BIG_DEAL, HANOI_OFFER):
        with pytest.raises(ValueError, match="not an outcome"):
            spaces[variant].measure(items)
