"""Property-based tests: random actors run random commands at random times.

Each example seats a table (mini under each of its variants, or trio), starts it, and
plays a random list of steps: offers built from random item ids (or from the items open at
that moment, so that agreements happen), accept / reject / pass / walk away / statements
by any member, observer or stranger, facilitator commands (undo, pause, resume, extend,
inject, end) and moves of the clock. After every step it checks:

- a refused attempt changes nothing but ``last_seq`` and is logged as ``action_refused``;
- only the delegation on move changes the turn state (turn, round, standing offer,
  agreements); anyone else's action, a statement or a clock control leaves it as it was,
  and an expiry passes the turn of the delegation that was on move;
- at most one standing offer, by a delegation in the order, holding no agreed item;
- no item is agreed twice;
- under singapore no agreement holds an item of a gated basket whose earlier gated
  baskets had no agreement before it;
- replaying the whole log from scratch gives the state built incrementally;
- undo: the harness (``conftest.Table``) compares the state after every undo with the
  state just before the undone action. Compared: every ``TableState`` field except the
  clock and log position (``deadline``, ``remaining_seconds``, ``reminded``,
  ``last_seq``), which an undo legitimately renews, with a paused table counted as
  negotiating (undo does not revert a pause). ``undoable`` *is* compared. The check is
  skipped when members joined, left or were reassigned since the undone action.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from bot.domain import commands as c
from bot.domain.errors import Refusal
from bot.domain.events import EventKind
from bot.domain.scenario import Scenario, Sequencing
from bot.domain.state import Phase, TableState

from .conftest import Table, fields, load, snapshot

SCENARIOS: dict[str, Scenario] = {
    "mini": load("mini"),
    "trio": load("trio"),
    "council": load("council"),  # four delegations, a chair, each acceptance rule
}
#: More examples for a deeper search: PARLEY_EXAMPLES=5000 pytest tests/domain/test_properties.py
SCALE = int(os.environ.get("PARLEY_EXAMPLES", "0"))

TABLES = [
    *(("mini", v) for v in SCENARIOS["mini"].variant_names()),
    ("trio", "singapore"),
    *(("council", v) for v in SCENARIOS["council"].variant_names()),
]

TURN_KINDS = frozenset(
    {
        EventKind.OFFER_TABLED,
        EventKind.OFFER_ACCEPTED,
        EventKind.AGREEMENT_REACHED,
        EventKind.OFFER_REJECTED,
        EventKind.TURN_PASSED,
        EventKind.WALKED_AWAY,
    }
)
PLAYER_COMMANDS: dict[str, type[c.Command]] = {
    "accept": c.Accept,
    "reject": c.Reject,
    "pass": c.Pass,
    "walkaway": c.WalkAway,
}
FACILITATOR_COMMANDS: dict[str, tuple[type[c.Command], dict[str, Any]]] = {
    "undo": (c.Undo, {}),
    "pause": (c.Pause, {}),
    "resume": (c.Resume, {}),
    "extend": (c.Extend, {"minutes": 3}),
    "inject": (c.Inject, {"event": "news"}),
    "start": (c.Start, {}),
}


def actors(scenario: Scenario) -> list[str]:
    names = [f"{d.id}_{r}" for d in scenario.delegations for r in ("head", "member")]
    return [*names, "obs", "stranger", "fac"]


@dataclass(frozen=True)
class Step:
    """One random step: ``what`` names it; the rest are its random arguments."""

    what: str
    actor: str = ""
    give: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    picks: tuple[tuple[int, ...], tuple[int, ...]] = ((), ())
    minutes: float = 0


@st.composite
def plays(draw: st.DrawFn) -> tuple[str, str, list[Step]]:
    name, variant = draw(st.sampled_from(TABLES))
    scenario = SCENARIOS[name]
    # "@head" / "@member": whoever of that role is on move when the step runs, so that
    # a fair share of the random actions is taken by the delegation whose turn it is.
    who = st.sampled_from([*actors(scenario), "@head", "@head", "@head", "@member"])
    ids = st.sampled_from([i.id for i in scenario.items] + ["nothing"])
    indexes = st.lists(st.integers(0, 9), max_size=2).map(tuple)
    step = st.one_of(
        st.builds(
            Step,
            what=st.just("offer"),
            actor=who,
            give=st.lists(ids, max_size=3).map(tuple),
            ask=st.lists(ids, max_size=3).map(tuple),
        ),
        st.builds(Step, what=st.just("open_offer"), actor=who, picks=st.tuples(indexes, indexes)),
        st.builds(Step, what=st.just("open_offer"), actor=who, picks=st.tuples(indexes, indexes)),
        st.builds(Step, what=st.just("cover_offer"), actor=who, picks=st.tuples(indexes, indexes)),
        st.builds(Step, what=st.sampled_from(sorted(PLAYER_COMMANDS)), actor=who),
        st.builds(Step, what=st.sampled_from(["accept", "accept", "pass"]), actor=who),
        st.builds(Step, what=st.just("say"), actor=who),
        st.builds(Step, what=st.just("draft"), actor=who, picks=st.tuples(indexes, indexes)),
        *[
            st.builds(
                Step,
                what=st.just("draft"),
                actor=st.just("@chair"),
                picks=st.tuples(indexes, indexes),
            )
        ]
        * 3,
        st.builds(Step, what=st.just("accept"), actor=st.just("@head")),
        st.builds(Step, what=st.sampled_from(sorted(FACILITATOR_COMMANDS)), actor=who),
        st.builds(Step, what=st.sampled_from(sorted(FACILITATOR_COMMANDS)), actor=st.just("fac")),
        st.builds(Step, what=st.sampled_from(["accept", "offer_accept"]), actor=st.just("@head")),
        st.builds(Step, what=st.sampled_from(["undo", "pause", "resume"]), actor=st.just("fac")),
        st.builds(Step, what=st.just("clock"), minutes=st.sampled_from([1, 3, 8, 10, 25, 70])),
    )
    steps = draw(st.lists(step, min_size=4, max_size=40))
    if draw(st.integers(0, 9)) == 0:  # now and then the play ends with /session end
        steps.append(Step(what="end", actor=draw(st.sampled_from(["fac", "@head"]))))
    return name, variant, steps


def pick(items: list[str], indexes: tuple[int, ...]) -> tuple[str, ...]:
    if not items:
        return ()
    return tuple(dict.fromkeys(items[i % len(items)] for i in indexes))


def resolve(t: Table, actor: str) -> str:
    """The actor's name, "@head" and "@member" standing for the delegation on move,
    "@chair" for the chair's head."""
    if actor == "@chair":
        return f"{t.state.rules.chair or 'a'}_head"
    if actor.startswith("@"):
        return f"{t.state.turn or 'a'}_{actor[1:]}"
    return actor


def command_for(t: Table, step: Step) -> c.Command:
    """Build the command a step stands for, against the table as it is now."""
    actor = resolve(t, step.actor)
    if step.what == "offer":
        return t.command(actor, c.Offer, give=step.give, ask=step.ask)
    if step.what in {"open_offer", "cover_offer"}:
        member = t.state.member(t.who(actor).user_id)
        mine = member.delegation if member and member.delegation else "a"
        open_items = t.state.open_items()
        give = pick([i.id for i in open_items if i.giver == mine], step.picks[0])
        ask = pick([i.id for i in open_items if i.giver != mine], step.picks[1])
        if step.what == "cover_offer":  # one open item of each gated basket, if it can
            for basket in t.state.scenario.baskets_in_order():
                in_basket = [i for i in open_items if i.basket == basket.id]
                if basket.gated and in_basket:
                    item = in_basket[sum(step.picks[0]) % len(in_basket)]
                    if item.giver == mine:
                        give = tuple(dict.fromkeys((*give, item.id)))
                    else:
                        ask = tuple(dict.fromkeys((*ask, item.id)))
        return t.command(actor, c.Offer, give=give, ask=ask)
    if step.what == "draft":  # a chair's draft of open items (refused unless the chair's)
        items = pick([i.id for i in t.state.open_items()], step.picks[0] + step.picks[1])
        return t.command(actor, c.Draft, items=items)
    if step.what == "offer_accept":  # accept if there is something to accept, else offer
        standing = t.state.standing
        if standing is None or standing.by == t.state.turn:
            return command_for(t, Step("open_offer", actor, picks=((0,), (1,))))
        return t.command(actor, c.Accept)
    if step.what in PLAYER_COMMANDS:
        return t.command(actor, PLAYER_COMMANDS[step.what])
    if step.what == "say":
        return t.command(actor, c.Say, text="A statement for the record.")
    if step.what == "end":
        return t.command(actor, c.End)
    cls, kwargs = FACILITATOR_COMMANDS[step.what]
    return t.command(actor, cls, **kwargs)


def turn_state(state: TableState) -> tuple[Any, ...]:
    return (state.turn, state.round, state.standing, state.agreements)


def check_invariants(t: Table) -> None:
    state = t.state
    agreed_items = [item for a in state.agreements for item in a.items]
    assert len(agreed_items) == len(set(agreed_items)), "an item was agreed twice"
    standing = state.standing
    if standing is not None:
        assert state.phase is not Phase.CLOSED
        assert standing.by in state.order and standing.by not in standing.accepted_by
        assert not set(standing.items) & set(agreed_items)
    if state.phase is Phase.CLOSED:
        assert state.turn is None and state.deadline is None
    elif state.phase is Phase.NEGOTIATING:
        assert state.turn in state.order and state.deadline is not None
        assert 1 <= state.round <= state.rules.max_rounds
    if state.rules.sequencing is Sequencing.SINGAPORE:
        gated = [b for b in state.scenario.baskets_in_order() if b.gated]
        settled: set[str] = set()
        for agreement in state.agreements:
            for item_id in agreement.items:
                basket = state.item(item_id).basket
                if basket not in {b.id for b in gated}:
                    continue  # ungated: always open
                for earlier in gated:
                    if earlier.id == basket:
                        break
                    assert earlier.id in settled, f"{item_id} agreed before {earlier.id}"
            settled |= {state.item(i).basket for i in agreement.items}
    if state.rules.sequencing is Sequencing.PACKAGE:
        assert len(state.agreements) <= 1
    assert t.replayed() == state, "replaying the log gives another state"


def check_support(before: TableState, accepted: Any, agreed: bool) -> None:
    """An acceptance forms the agreement exactly when the acceptance rule is met, and says
    who has accepted and who is still awaited, by the rule's own definition."""
    offer = before.standing
    assert offer is not None
    support = before.support(offer, accepted.delegation)
    assert agreed == (support.needed == 0)
    assert accepted.accepted == list(support.accepted)
    assert accepted.waiting == list(support.waiting)
    givers = {before.item(i).giver for i in offer.items} - {offer.by}
    if agreed:  # every giver accepted; under all, everyone; under a quorum, enough did
        assert givers <= set(support.accepted)
        rule = before.rules.acceptance.value
        if rule == "all":
            assert set(support.accepted) == set(before.order) - {offer.by}
        if rule == "quorum":
            assert 1 + len(support.accepted) >= (before.rules.quorum or 0)


def run_step(t: Table, step: Step) -> None:
    saved = snapshot(t.state)
    if step.what == "clock":
        events = t.advance(minutes=step.minutes)
        turn = saved.turn
        for e in events:
            if e.kind is EventKind.TURN_EXPIRED:
                assert e.data.delegation == turn
                turn = e.data.turn
        return
    command = command_for(t, step)
    try:
        events = t.submit(command)
    except Refusal as refusal:
        event(f"refused {refusal.code.value}")
        assert t.events[-1].kind is EventKind.ACTION_REFUSED
        assert t.events[-1].data.code == refusal.code.value
        assert fields(t.state, {"last_seq", "refusals"}) == fields(saved, {"last_seq", "refusals"})
        return
    event(f"ok {step.what}")
    member = saved.member(command.who.user_id)
    on_move = member is not None and member.delegation == saved.turn
    acted = {e.kind for e in events}
    if acted & TURN_KINDS:
        assert on_move, f"{command.name} by someone not on move changed the turn"
        assert events[0].actor is not None and events[0].actor.delegation == saved.turn
        if EventKind.OFFER_ACCEPTED in acted:
            check_support(saved, events[0].data, EventKind.AGREEMENT_REACHED in acted)
        if EventKind.AGREEMENT_REACHED in acted:
            event(f"agreement ({saved.rules.acceptance.value})")
    elif EventKind.ACTION_REVERTED in acted:
        event("undone")
    elif EventKind.TABLE_CLOSED not in acted:
        assert turn_state(t.state) == turn_state(saved), f"{command.name} moved the turn"


@settings(
    max_examples=SCALE or 150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(plays())
def test_random_plays_keep_the_rules(play: tuple[str, str, list[Step]]) -> None:
    """Random actors and commands never break the table's invariants, step after step."""
    name, variant, steps = play
    t = Table(SCENARIOS[name], variant).seat()
    t.do("fac", c.Start)
    for step in steps:
        run_step(t, step)
        check_invariants(t)
    if t.undo_checks:
        event("undo compared with the state before the action")


@settings(max_examples=SCALE or 60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plays(), st.integers(1, 6))
def test_undoing_the_last_actions_equals_never_having_taken_them(
    play: tuple[str, str, list[Step]], count: int
) -> None:
    """Undo after undo lands on the state of a table that never took those actions."""
    name, variant, steps = play
    t = Table(SCENARIOS[name], variant).seat()
    t.do("fac", c.Start)
    for step in steps:
        if step.what in {"clock", "end", "undo", "pause", "resume", "start"}:
            continue  # only turn actions here, so every undo has a state to compare with
        with contextlib.suppress(Refusal):
            t.submit(command_for(t, step))
    undone = 0
    while undone < count and t.state.undoable:
        t.do("fac", c.Undo)
        undone += 1
    assert t.undo_checks == undone
    check_invariants(t)
