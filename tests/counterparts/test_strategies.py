"""The counterparts' strategies: legal moves only, the promised concession shapes, and
reproducible simulations."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from bot.counterparts import Counterpart, Tactic
from bot.counterparts import simulate as sim
from bot.domain import commands as c
from bot.domain.scenario import Scenario
from bot.domain.state import Phase, Seat, TableState, replay
from bot.scenarios import ScenarioLibrary

MODES = ["singapore", "package", "parallel"]


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A valid random scenario (2 to 4 delegations, each mode a variant) with random rules:
    item limit, reciprocity, balance policy and tolerance, public weights, rounds."""
    k = draw(st.integers(2, 4))
    offering = [f"d{i}" for i in range(k)]
    gated = draw(st.integers(0, 3))
    ungated = draw(st.integers(1 if gated == 0 else 0, 2))
    baskets = [
        {"id": f"b{i}", "title": f"Basket {i}", "order": i + 1, "gated": i < gated}
        for i in range(gated + ungated)
    ]
    slots = [(f"b{b}", d) for b in range(gated) for d in offering]
    for _ in range(draw(st.integers(max(0, 2 - len(slots)), 8))):
        slots.append(
            (f"b{draw(st.integers(0, len(baskets) - 1))}", draw(st.sampled_from(offering)))
        )
    items = [
        {
            "id": f"i{n}",
            "title": f"Item {n}",
            "basket": basket,
            "giver": giver,
            "weight": draw(st.integers(1, 5)),
            "values": {d: draw(st.integers(-5, 5)) for d in offering},
        }
        for n, (basket, giver) in enumerate(slots)
    ]
    rules: dict[str, Any] = {
        "sequencing": draw(st.sampled_from(MODES)),
        "max_items_per_offer": draw(st.integers(1, 8)),
        "reciprocity": draw(st.booleans()),
        "balance": draw(st.sampled_from(["off", "advise", "enforce"])),
        "balance_tolerance": draw(st.integers(0, 3)),
        "max_rounds": draw(st.integers(1, 6)),
    }
    return Scenario.model_validate(
        {
            "id": "random",
            "title": "Random",
            "sources": [{"id": "s", "title": "S"}],
            "prompts": {"background": "b.md", "debrief": "d.md"},
            "delegations": [
                {"id": d, "name": d.upper(), "batna": draw(st.integers(-3, 6)), "brief": "x.md"}
                for d in offering
            ],
            "baskets": baskets,
            "items": items,
            "rules": rules,
            "variants": {mode: {} for mode in MODES},
        }
    )


@settings(max_examples=150, deadline=None)
@given(
    scenarios(),
    st.sampled_from(MODES),
    st.lists(st.sampled_from(c.STRATEGIES), min_size=4, max_size=4),
    st.integers(0, 2**32 - 1),
)
def test_counterparts_never_make_a_move_the_rules_refuse(
    scenario: Scenario, mode: str, chosen: list[str], seed: int
) -> None:
    """Counterparts of every strategy play random scenarios under every mode to the close
    with no refused move (the engine, not the strategy, judges each one) and never walk away."""
    strategies = dict(zip(scenario.offering, chosen, strict=False))
    table = sim.MemoryTable(scenario)
    state = sim.play_table(scenario, mode, strategies, seed, table)
    assert table.refused == [], [r.message for r in table.refused]
    assert state.refusals == {}
    assert state.phase is Phase.CLOSED
    assert "walked_away" not in [e.kind.value for e in table.events]
    event(f"{mode}: {'deal' if state.agreed else 'no deal'}")


def test_hanoi_counterparts_never_walk_away() -> None:
    """On Hanoi, every mode and ordered pair of strategies, no counterpart walks away."""
    scenario = _hanoi()
    _, runs = sim.plan(scenario, MODES, list(c.STRATEGIES), runs=3, seed=7)
    assert len(runs) == 3 * 16 * 3
    for run in runs:
        table = sim.MemoryTable(scenario)
        state = sim.play_table(scenario, run.variant, run.strategies, run.seed, table)
        kinds = [e.kind.value for e in table.events]
        assert state.phase is Phase.CLOSED and "walked_away" not in kinds, run.strategies


def test_each_strategy_draws_its_exponent_from_its_documented_range() -> None:
    """Boulware's e is drawn from 0.1-0.3 and Conceder's from 2-5, spread over each range;
    linear's is exactly 1 and tit-for-tat has none."""
    rng = random.Random(5)
    for name, low, high in (("boulware", 0.1, 0.3), ("conceder", 2.0, 5.0)):
        drawn = [Tactic.draw(name, 20, 4, rng).e for _ in range(400)]
        exponents = [e for e in drawn if e is not None]
        assert len(exponents) == 400 and all(low <= e <= high for e in exponents), name
        tenth = (high - low) / 10
        assert min(exponents) < low + tenth and max(exponents) > high - tenth, name
    assert {Tactic.draw("linear", 20, 4, rng).e for _ in range(20)} == {1.0}
    assert Tactic.draw("tit-for-tat", 20, 4, rng).e is None


@settings(max_examples=60, deadline=None)
@given(
    scenarios(),
    st.sampled_from(MODES),
    st.lists(st.sampled_from(c.STRATEGIES), min_size=4, max_size=4),
    st.integers(0, 2**32 - 1),
    st.integers(1, 4),
)
def test_a_counterpart_that_kept_playing_decides_as_a_fresh_one(
    scenario: Scenario, mode: str, chosen: list[str], seed: int, undos: int
) -> None:
    """What a counterpart keeps from its last turn never goes stale: through a table and
    undos of its last moves, it decides as one seated just then would."""
    strategies = dict(zip(scenario.offering, chosen, strict=False))
    table = sim.MemoryTable(scenario)
    kept: dict[str, Counterpart] = {}
    original = Counterpart.decide

    def checked(self: Counterpart, state: TableState) -> c.Command:
        player = kept.setdefault(self.me, Counterpart(scenario, mode, self.seat))
        fresh = Counterpart(scenario, mode, self.seat)
        move = original(player, state)
        assert move == original(fresh, state)
        return move

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Counterpart, "decide", checked)
        sim.play_table(scenario, mode, strategies, seed, table)
        for _ in range(undos):
            if table.act(c.Undo(who=sim.FACILITATOR)):
                table.play_counterparts()


def _hanoi() -> Scenario:
    return ScenarioLibrary().get("hanoi-2019")


def _targets(strategy: str, seed: int) -> list[tuple[float, float]]:
    """(time, share of its range still asked) at each of the US counterpart's turns, in a
    Hanoi table (action for action) against a Boulware DPRK that concedes little."""
    scenario = _hanoi()
    seen: list[tuple[float, float]] = []
    original = Counterpart.decide

    def watched(self: Counterpart, state: TableState) -> c.Command:
        if self.me == "us":
            span = self.tactic.span or 1
            seen.append((self.time(state), (self.target(state) - self.tactic.u_min) / span))
        return original(self, state)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Counterpart, "decide", watched)
        sim.play_table(scenario, "parallel", {"us": strategy, "dprk": "boulware"}, seed)
    return seen


@pytest.mark.parametrize("seed", range(5))
def test_boulware_concedes_late_and_conceder_early(seed: int) -> None:
    """In play, Boulware still asks for over 85% of its range at mid-table and Conceder for
    under half; linear is in between; each target only falls as the table goes on."""
    for strategy, low, high in (
        ("boulware", 0.85, 1.0),
        ("linear", 0.35, 0.65),
        ("conceder", 0.0, 0.5),
    ):
        seen = _targets(strategy, seed)
        assert [t for t, _ in seen] == sorted(t for t, _ in seen)
        shares = [share for _, share in seen]
        assert shares == sorted(shares, reverse=True), strategy
        middle = min(seen, key=lambda pair: abs(pair[0] - 0.5))[1]
        assert low <= middle <= high, (strategy, middle)


def test_tactic_curves_follow_the_convention() -> None:
    """u(t) = u_max - (u_max - u_min) * t^(1/e): e < 1 concedes late, e > 1 early; every
    curve runs from u_max at t = 0 to the BATNA at t = 1."""
    rng = random.Random(3)
    for name in ("boulware", "linear", "conceder"):
        tactic = Tactic.draw(name, 20, 4, rng)
        assert tactic.target(0.0) == 20 and tactic.target(1.0) == 4
    assert Tactic("x", 20, 0, 0.2).target(0.5) == pytest.approx(20 - 20 * 0.5**5)
    assert Tactic("x", 20, 0, 2.0).target(0.5) == pytest.approx(20 - 20 * 0.5**0.5)


def test_tit_for_tat_mirrors_the_other_sides_concessions() -> None:
    """Tit-for-tat opens a tenth down, gives back exactly what the other side conceded,
    hardens when they harden, never leaves [BATNA, best], and falls to its BATNA at the
    deadline."""
    tft = Tactic("tit-for-tat", 20, 0, None)
    assert tft.target(0.0) == 18
    assert tft.target(0.3, [3]) == 15
    assert tft.target(0.3, [3, -2]) == 17
    assert tft.target(0.3, [-9]) == 20
    assert tft.target(0.3, [40]) == 0
    assert tft.target(1.0, []) == 0


def test_a_counterpart_accepts_an_offer_worth_its_target_and_rejects_a_poor_one() -> None:
    """Under the package, a counterpart accepts a deal worth at least its target and turns
    down one worth less to it."""
    scenario = _hanoi()
    table = sim.MemoryTable(scenario)
    sim.play_table(scenario, "package", {"us": "linear", "dprk": "linear"}, 7, table)
    state = table.state
    seat = Seat("dprk", "linear", 0, 7, "counterpart:dprk")
    player = Counterpart(scenario, "package", seat)
    rich = [i.id for i in scenario.items if i.values.get("dprk", 0) > 0][:12]
    poor = [i.id for i in scenario.items if i.values.get("dprk", 0) < 0][:12]
    target = player.target(state)
    plan = player.plan(state, target)
    assert player.acceptable(state, rich, plan, target, None) == (player.utility(rich) >= target)
    assert not player.acceptable(state, poor, plan, target, None)


def test_the_kept_step_is_worked_out_again_when_the_open_items_change() -> None:
    """The step kept from the last turn serves only the same plan with the same items open."""
    scenario = _hanoi()
    seat = Seat("us", "linear", 0, 7, "counterpart:us")
    player = Counterpart(scenario, "singapore", seat)
    every = tuple(i.id for i in scenario.items)
    plan = {i for i in every if player.value[i] > 0}
    first = player._first_fit(plan, every)
    fewer = every[len(every) // 2 :]
    fresh = Counterpart(scenario, "singapore", seat)._first_fit(plan, fewer)
    assert player._first_fit(plan, fewer) == fresh != first
    assert player._first_fit(plan, every) == first


def test_what_a_counterpart_makes_of_the_agreements_follows_each_agreement() -> None:
    """The kept reading of the agreements is worked out again when one is added."""
    scenario = _hanoi()
    table = sim.MemoryTable(scenario)
    sim.play_table(scenario, "singapore", {"us": "conceder", "dprk": "conceder"}, 7, table)
    seat = Seat("us", "conceder", 0, 7, "counterpart:us")
    player = Counterpart(scenario, "singapore", seat)
    states = [replay(scenario, table.events[:n]) for n in range(1, len(table.events) + 1)]
    seen = set()
    for state in states[-1:] + states:  # the last first: a cache kept from it would be stale
        settled = player.settled(state)
        fresh = Counterpart(scenario, "singapore", seat).settled(state)
        assert settled == fresh
        assert settled.utility == player.utility(state.agreed)
        assert settled.worth == {i for i in player._worth if i not in state.agreed}
        seen.add(len(state.agreements))
    assert len(seen) > 2


def test_the_kept_ranking_of_open_items_follows_the_open_items() -> None:
    """The open items in step order are read again when the open items change."""
    scenario = _hanoi()
    player = Counterpart(scenario, "singapore", Seat("us", "linear", 0, 7, "counterpart:us"))
    every = tuple(i.id for i in scenario.items)
    fewer = every[len(every) // 2 :]
    for open_ids in (every, fewer, every):
        assert player._ranked_among(open_ids) == [i for i in player._ranked if i in open_ids]


def test_the_words_of_a_step_name_its_own_items() -> None:
    """Each step's words, kept once worked out, name that step's items."""
    scenario = _hanoi()
    player = Counterpart(scenario, "singapore", Seat("us", "linear", 0, 7, "counterpart:us"))
    mine = [i.id for i in scenario.items if i.giver == "us"]
    theirs = [i.id for i in scenario.items if i.giver != "us"]
    steps = [((mine[0],), (theirs[0],)), ((mine[1],), ()), ((mine[0],), (theirs[0],))]
    titles = {i.id: i.title[:1].lower() + i.title[1:] for i in scenario.items}
    for give, ask in steps:
        words = player._words((give, ask))
        assert all(titles[i] in words for i in (*give, *ask))
        assert ("nothing in return yet" in words) == (not ask)


def test_a_seeded_simulation_gives_the_same_numbers_twice() -> None:
    """The same seed gives the same results, table for table; another seed differs."""
    scenario = _hanoi()

    def run(seed: int) -> list[dict[str, object]]:
        results = sim.simulate(scenario, MODES, ["boulware", "conceder"], runs=4, seed=seed)
        return [r.to_json() for r in results]

    first = run(11)
    assert first == run(11)
    assert first != run(12)
    assert all(row["refusals"] == 0 for row in first)
    assert {row["sequencing"] for row in first} == set(MODES)
    assert len(first) == 3 * 4  # every mode, every ordered pair of two strategies


# -- what a counterpart keeps or shares, against a plain reading -----------------------------
# The reference functions below are the counterpart's step search and plan as first
# written, with nothing kept and nothing shared: the kept and shared paths must decide
# exactly as they do.


def _reference_plan(p: Counterpart, state: TableState, target: float) -> set[str]:
    agreed = state.agreed
    plan = {i for i in p.value if p.value[i] > 0 and i not in agreed}
    utility = p.utility(agreed) + p.utility(plan)
    gated = set() if p.rules.sequencing.value == "parallel" else set(p._gated)
    needed = {b: 0 for b in gated if b not in state.agreed_baskets}
    for i in plan:
        if p._basket[i] in needed:
            needed[p._basket[i]] += 1
    for step in p.concessions:
        if step.item in agreed or utility - step.cost < target:
            continue
        basket = p._basket[step.item]
        if step.add:
            plan.add(step.item)
            if basket in needed:
                needed[basket] += 1
        elif basket in needed and needed[basket] == 1:
            continue
        else:
            plan.discard(step.item)
            if basket in needed:
                needed[basket] -= 1
        utility -= step.cost
    return plan


def _reference_balanced(
    p: Counterpart, give: list[str], ask: list[str], spare: list[str]
) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    weight, value, tolerance = p._weight, p.value, p.rules.balance_tolerance
    give, ask = list(give), list(ask)
    gap = sum(weight[i] for i in give) - sum(weight[i] for i in ask)
    for _ in range(len(spare) + len(give) + len(ask)):
        if abs(gap) <= tolerance:
            return [(tuple(give), tuple(ask))]
        heavy, light = (give, ask) if gap > 0 else (ask, give)
        best: tuple[int, int] | None = None
        change: tuple[list[str], str, bool] | None = None
        if len(heavy) > 1:
            for i in heavy:
                key = (abs(abs(gap) - weight[i]), value[i])
                if best is None or key < best:
                    best, change = key, (heavy, i, False)
        named = set(give) | set(ask)
        for i in spare:
            if (i in p._mine) == (gap < 0) and i not in named:
                key = (abs(abs(gap) - weight[i]), -value[i])
                if best is None or key < best:
                    best, change = key, (light, i, True)
        if change is None:
            return []
        where, item, add = change
        if add:
            where.append(item)
        else:
            where.remove(item)
        gap += weight[item] if add == (where is give) else -weight[item]
    return []


def _reference_first_fit(
    p: Counterpart, plan: set[str], open_ids: tuple[str, ...]
) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    open_now = set(open_ids)
    wanted = [i for i in p._ranked if i in open_now and i in plan]
    if not wanted:
        return None
    package = p.rules.sequencing.value == "package"
    reciprocal = p.rules.reciprocity or p.rules.sequencing.value == "parallel"
    enforced = p.rules.balance.value == "enforce"
    if package:
        covered = {p._basket[i] for i in wanted}
        extra = []
        for basket in p.scenario.baskets_in_order():
            if basket.gated and basket.id not in covered:
                choices = [i for i in open_ids if p._basket[i] == basket.id]
                if choices:
                    extra.append(max(choices, key=lambda i: (p.value[i], -p._order[i])))
        wanted = extra + wanted
    for size in range(min(p.rules.max_items_per_offer, len(wanted)), 0, -1):
        chosen = wanted[:size]
        if package:
            first: dict[str, str] = {}
            for i in wanted:
                if p._basket[i] in p._gated:
                    first.setdefault(p._basket[i], i)
            chosen = list(first.values())[:size]
            chosen += [i for i in wanted if i not in chosen][: size - len(chosen)]
        give = [i for i in chosen if i in p._mine]
        ask = [i for i in chosen if i not in p._mine]
        spare = [i for i in open_ids if i not in chosen]

        def cheapest(mine: bool, spare: list[str] = spare) -> list[str]:
            side = [i for i in spare if (i in p._mine) == mine]
            return sorted(side, key=lambda i: (-p.value[i], p._order[i]))[:1]

        if reciprocal and not give:
            give += cheapest(True)
        if reciprocal and not ask:
            ask += cheapest(False)
        if package:
            candidates = [(tuple(give), tuple(ask))]
        else:
            candidates = _reference_balanced(p, give, ask, spare)
            if not enforced:
                candidates.append((tuple(give), tuple(ask)))
        for step in candidates:
            if p._fits(*step):
                return step
    return None


@settings(max_examples=200, deadline=None)
@given(
    scenarios(),
    st.sampled_from(MODES),
    st.sampled_from(c.STRATEGIES),
    st.integers(0, 2**32 - 1),
    st.data(),
)
def test_the_step_search_and_the_plan_decide_as_the_plain_reading(
    scenario: Scenario, mode: str, strategy: str, seed: int, data: st.DataObject
) -> None:
    """For random plans, open items and targets, the counterpart's plan and first step
    (with its kept ranking, shared seat reading, balancing shortcuts and kept step) are
    exactly those of the plain reference search, asked again and again."""
    table = sim.MemoryTable(scenario)
    state = sim.play_table(scenario, mode, dict.fromkeys(scenario.offering, strategy), seed, table)
    me = scenario.offering[0]
    player = Counterpart(scenario, mode, Seat(me, strategy, 0, seed, f"counterpart:{me}"))
    ids = [i.id for i in scenario.items]
    for _ in range(4):
        plan = set(data.draw(st.lists(st.sampled_from(ids), unique=True)))
        open_ids = tuple(i for i in ids if data.draw(st.booleans()))
        assert player._first_fit(plan, open_ids) == _reference_first_fit(player, plan, open_ids)
        target = data.draw(st.floats(-30, 30))
        assert player.plan(state, target) == _reference_plan(player, state, target)
        # an offer of one side's items mostly, to balance from far off
        side = data.draw(st.booleans())
        chosen = [i for i in open_ids if (i in player._mine) == side or data.draw(st.booleans())]
        if chosen:  # as every step names an item
            give = [i for i in chosen if i in player._mine]
            ask = [i for i in chosen if i not in player._mine]
            spare = [i for i in open_ids if i not in chosen]
            expected = _reference_balanced(player, give, ask, spare)
            assert player._balanced(give, ask, chosen, open_ids) == (expected or [None])[0]


def test_a_seat_reads_its_scenario_once_and_a_changed_copy_anew() -> None:
    """Counterparts in the same seat share one reading of the scenario, which says what
    the scenario says; a copy of the scenario with other values gets a reading of its own."""
    scenario = _hanoi()
    seat = Seat("us", "linear", 0, 7, "counterpart:us")
    first, second = (Counterpart(scenario, "singapore", seat) for _ in range(2))
    assert first.value is second.value
    assert first.value == {i.id: i.values.get("us", 0) for i in scenario.items}
    assert first._worth == {i.id for i in scenario.items if i.values.get("us", 0) > 0}
    assert first._mine == {i.id for i in scenario.items if i.giver == "us"}
    assert first.tactic.u_max == sum(v for v in first.value.values() if v > 0)
    assert all(
        (first.their[i.id] > 0) == (i.giver == "us")
        and 0.75 * i.weight <= abs(first.their[i.id]) <= 1.25 * i.weight
        for i in scenario.items
    )
    flipped = [
        i.model_copy(update={"values": {d: -v for d, v in i.values.items()}})
        for i in scenario.items
    ]
    other = scenario.model_copy(update={"items": flipped})
    copied = Counterpart(other, "singapore", seat)
    assert copied.value == {i.id: i.values.get("us", 0) for i in flipped} != first.value
    assert Counterpart(other, "package", seat)._package and not copied._package


def test_an_offer_made_again_is_the_same_command_with_the_same_words() -> None:
    """The offer kept for a step serves that step with the same opening words only: the
    same step at another moment of the tactic gets its own words."""
    scenario = _hanoi()
    player = Counterpart(scenario, "singapore", Seat("us", "boulware", 0, 7, "counterpart:us"))
    table = sim.MemoryTable(scenario)
    sim.play_table(scenario, "singapore", {"us": "boulware", "dprk": "boulware"}, 7, table)
    state = table.state
    plan = {i for i, v in player.value.items() if v > 0}
    early, again, late = (player._next_step(state, plan, t) for t in (0.1, 0.2, 0.9))
    assert early is not None and late is not None
    assert again is early
    assert (early.give, early.ask) == (late.give, late.ask)
    assert early.note.startswith("Our position is firm: ")
    assert late.note.startswith("Time is short, so we move: ")
    assert early.note.split(": ", 1)[1] == late.note.split(": ", 1)[1]


@given(
    st.integers(-20, 40),
    st.integers(-20, 40),
    st.floats(0.05, 6.0),
    st.floats(-0.5, 1.5),
)
def test_a_tactic_target_is_its_curve_exactly(u_max: int, u_min: int, e: float, t: float) -> None:
    """The kept span and power give exactly u_max - span * t ** (1 / e), t kept in [0, 1]."""
    tactic = Tactic("x", u_max, u_min, e)
    clamped = min(1.0, max(0.0, t))
    for _ in range(2):  # worked out, then kept
        assert tactic.target(t) == float(u_max - max(0, u_max - u_min) * clamped ** (1 / e))
