"""Refusals and offer rules of the engine, one rule at a time, through the public API."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.domain import commands as c
from bot.domain.engine import open_table
from bot.domain.errors import Refusal
from bot.domain.errors import RefusalCode as R
from bot.domain.events import EventKind
from bot.domain.scenario import Scenario, load_scenario
from bot.domain.state import Phase

from .conftest import FACILITATOR, PROMPTS, SCENARIOS, Table, kinds, seated

# -- who may act ----------------------------------------------------------------------------


def test_stranger_is_not_a_member(mini: Scenario) -> None:
    """Someone who never joined cannot take a turn action."""
    t = seated(mini)
    refusal = t.refuse("stranger", c.Offer, R.NOT_A_MEMBER, give=("a-rel1",))
    assert "not at this table" in refusal.message


def test_observer_is_not_a_member(mini: Scenario) -> None:
    """An observer (joined without a delegation) cannot act or make statements."""
    t = seated(mini)
    refusal = t.refuse("obs", c.Pass, R.NOT_A_MEMBER)
    assert "observing" in refusal.message
    t.refuse("obs", c.Say, R.NOT_A_MEMBER, text="hello")


def test_refused_attempt_is_logged_with_code_message_command_and_args(mini: Scenario) -> None:
    """A refusal is logged as action_refused {code, message, command, args} with the actor."""
    t = seated(mini)
    refusal = t.refuse("b_head", c.Offer, R.NOT_YOUR_TURN, give=("b-rel1",), note="hi")
    logged = t.events[-1]
    assert logged.data.dumped() == {
        "code": "not_your_turn",
        "message": refusal.message,
        "command": "offer",
        "args": {"give": ["b-rel1"], "ask": [], "note": "hi"},
    }
    assert logged.actor is not None
    assert (logged.actor.delegation, logged.actor.role) == ("b", "head")
    assert t.replayed() == t.state


def test_non_offering_delegation_takes_no_turns(mini: Scenario) -> None:
    """A delegation with offers = false is refused turn actions but may make statements."""
    t = seated(mini)
    refusal = t.refuse("press_head", c.Pass, R.ROLE_NOT_ALLOWED)
    assert "does not take turns" in refusal.message
    assert kinds(t.do("press_head", c.Say, text="Breaking.")) == ["statement"]


@pytest.mark.parametrize(
    ("command", "kwargs"),
    [
        (c.Start, {}),
        (c.Pause, {}),
        (c.Resume, {}),
        (c.Extend, {"minutes": 5}),
        (c.Inject, {"event": "news"}),
        (c.Undo, {}),
        (c.End, {}),
        (c.AutoAssign, {}),
    ],
)
def test_facilitator_commands_refuse_players(
    mini: Scenario, command: type[c.Command], kwargs: dict[str, object]
) -> None:
    """Every /session command is refused to a player with not_facilitator."""
    t = seated(mini, start=False)
    t.refuse("a_head", command, R.NOT_FACILITATOR, **kwargs)


def test_assign_and_open_refuse_players(mini: Scenario) -> None:
    """Assigning members and opening a table are for facilitators only."""
    t = seated(mini, start=False)
    t.refuse("a_head", c.Assign, R.NOT_FACILITATOR, member=t.who("obs"), delegation="a")
    with pytest.raises(Refusal) as caught:
        open_table(mini, t.who("a_head"), None, None)
    assert caught.value.code is R.NOT_FACILITATOR


def test_self_chosen_delegation_needs_self_select(mini: Scenario) -> None:
    """/join with a delegation is refused unless the rules let players pick their side:
    a player's role does not allow it (role_not_allowed, not not_facilitator)."""
    t = Table(mini)
    t.refuse("zoe", c.Join, R.ROLE_NOT_ALLOWED, delegation="a")
    open_table_ = Table(mini, "open")  # self_select = true
    open_table_.do("zoe", c.Join, delegation="a")
    open_table_.do("yan", c.Join, delegation="a")
    assert open_table_.state.head("a") is not None
    assert open_table_.state.member("u-zoe").role == "head"  # type: ignore[union-attr]
    assert open_table_.state.member("u-yan").role == "member"  # type: ignore[union-attr]


# -- phases -----------------------------------------------------------------------------------


def test_turn_actions_wait_for_the_start(mini: Scenario) -> None:
    """Before /session start every turn action is refused with wrong_phase."""
    t = seated(mini, start=False)
    refusal = t.refuse("a_head", c.Offer, R.WRONG_PHASE, give=("a-rel1",))
    assert "has not started" in refusal.message
    t.refuse("fac", c.Pause, R.WRONG_PHASE)
    t.refuse("fac", c.Undo, R.WRONG_PHASE)


def test_clock_controls_check_the_phase(mini: Scenario) -> None:
    """Start twice, resume while running, pause while paused: all wrong_phase."""
    t = seated(mini)
    t.refuse("fac", c.Start, R.WRONG_PHASE)
    t.refuse("fac", c.Resume, R.WRONG_PHASE)
    t.do("fac", c.Pause)
    t.refuse("fac", c.Pause, R.WRONG_PHASE)
    refusal = t.refuse("a_head", c.Pass, R.WRONG_PHASE)
    assert "paused" in refusal.message


def test_a_closed_table_refuses_everything_but_statements(mini: Scenario) -> None:
    """After the close no turn action, clock control, inject or join is accepted."""
    t = seated(mini)
    t.do("fac", c.End)
    assert t.state.phase is Phase.CLOSED
    t.refuse("a_head", c.Offer, R.WRONG_PHASE, give=("a-rel1",))
    for command in (c.Pause, c.Resume, c.End):
        t.refuse("fac", command, R.WRONG_PHASE)
    t.refuse("fac", c.Extend, R.WRONG_PHASE, minutes=5)
    t.refuse("fac", c.Inject, R.WRONG_PHASE, event="news")
    t.refuse("late", c.Join, R.WRONG_PHASE)


def test_not_your_turn_names_the_delegation_on_move(mini: Scenario) -> None:
    """A delegation acting out of turn is refused and told whose turn it is."""
    t = seated(mini)
    for command in (c.Pass, c.Reject, c.Accept, c.WalkAway):
        refusal = t.refuse("b_head", command, R.NOT_YOUR_TURN)
        assert "Alpha" in refusal.message
    t.refuse("b_member", c.Offer, R.NOT_YOUR_TURN, give=("b-rel1",))


def test_member_may_not_accept_or_walk_away(mini: Scenario) -> None:
    """Only the head may accept or walk away; a member is refused with role_not_allowed."""
    t = seated(mini)
    t.offer("a_member", give=["a-rel1"], ask=["b-rel1"])  # a member may offer
    refusal = t.refuse("b_member", c.Accept, R.ROLE_NOT_ALLOWED)
    assert "only the head" in refusal.message
    t.refuse("b_member", c.WalkAway, R.ROLE_NOT_ALLOWED)
    assert kinds(t.do("b_member", c.Reject, reason="no")) == ["offer_rejected"]


def test_the_scenario_says_which_role_may_do_what(mini: Scenario, tmp_path: Path) -> None:
    """A scenario's own roles decide who may act: its member only talks, its negotiator offers."""
    text = (SCENARIOS / "mini.toml").read_text(encoding="utf-8")
    roles = (
        'brief = "mini/brief-a.md"\n\n[delegations.roles]\n'
        'head = ["offer", "accept", "reject", "pass", "walkaway", "say"]\n'
        'member = ["say"]\nnegotiator = ["offer", "pass"]\n'
    )
    path = tmp_path / "mini.toml"
    path.write_text(text.replace('brief = "mini/brief-a.md"\n', roles, 1), encoding="utf-8")
    scenario = load_scenario(path, prompts_dir=PROMPTS)
    t = seated(scenario)
    t.do("fac", c.Assign, member=t.who("nina"), delegation="a", role="negotiator")

    refusal = t.refuse("a_member", c.Offer, R.ROLE_NOT_ALLOWED, give=("a-rel1",))
    assert "negotiator" in refusal.message  # who may, named
    t.refuse("a_member", c.Pass, R.ROLE_NOT_ALLOWED)
    assert kinds(t.do("a_member", c.Say, text="We listen.")) == ["statement"]
    assert kinds(t.offer("nina", give=["a-rel1"], ask=["b-rel1"])) == ["offer_tabled"]
    assert kinds(t.do("b_member", c.Pass)) == ["turn_passed"]  # b keeps the usual roles
    t.refuse("nina", c.WalkAway, R.ROLE_NOT_ALLOWED)


def test_no_head_at_start(mini: Scenario) -> None:
    """/session start is refused while an offering delegation has no head, naming it."""
    t = Table(mini)
    t.do("fac", c.Assign, member=t.who("a_head"), delegation="a", role="head")
    t.do("fac", c.Assign, member=t.who("b_member"), delegation="b", role="member")
    refusal = t.refuse("fac", c.Start, R.NO_HEAD)
    assert "Beta" in refusal.message and "Alpha" not in refusal.message
    t.do("fac", c.Assign, member=t.who("b_head"), delegation="b", role="head")
    assert kinds(t.do("fac", c.Start)) == ["table_started"]  # press needs no head


def test_assigning_a_new_head_demotes_the_old_one(mini: Scenario) -> None:
    """A delegation has one head: assigning another makes the previous head a member."""
    t = seated(mini, start=False)
    events = t.do("fac", c.Assign, member=t.who("a_member"), delegation="a", role="head")
    assert kinds(events) == ["member_assigned", "member_assigned"]
    assert t.state.head("a").user_id == "u-a_member"  # type: ignore[union-attr]
    assert t.state.member("u-a_head").role == "member"  # type: ignore[union-attr]


def test_autoassign_balances_and_gives_each_delegation_a_head(mini: Scenario) -> None:
    """Autoassign spreads waiting players over the offering delegations, one head each."""
    t = Table(mini)
    for n in range(5):
        t.do(f"p{n}", c.Join)
    t.do("fac", c.AutoAssign, seed=3)
    sizes = {d: len(t.state.delegation_members(d)) for d in ("a", "b", "press")}
    assert sizes == {"a": 3, "b": 2, "press": 0}
    assert t.state.head("a") and t.state.head("b")
    t.refuse("fac", c.AutoAssign, R.BAD_ARGUMENT)  # nobody left waiting


# -- offers ---------------------------------------------------------------------------------


def test_unknown_item(mini: Scenario) -> None:
    """An offer naming an item the scenario lacks is refused with unknown_item."""
    t = seated(mini)
    refusal = t.refuse("a_head", c.Offer, R.UNKNOWN_ITEM, give=("a-rel1",), ask=("b-gold",))
    assert "'b-gold'" in refusal.message


def test_duplicate_item(mini: Scenario) -> None:
    """An item listed twice (in one list or in both) is refused with duplicate_item."""
    t = seated(mini)
    t.refuse("a_head", c.Offer, R.DUPLICATE_ITEM, give=("a-rel1", "a-rel1"))
    t.refuse("a_head", c.Offer, R.DUPLICATE_ITEM, give=("a-rel1",), ask=("a-rel1",))


def test_item_already_agreed(mini: Scenario) -> None:
    """An item of an earlier agreement cannot be offered again."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("b_head", c.Accept)
    refusal = t.refuse("a_head", c.Offer, R.ITEM_ALREADY_AGREED, give=("a-rel1",))
    assert "Alpha opens an office" in refusal.message


def test_item_checks_keep_their_order(mini: Scenario) -> None:
    """An offer breaking several item rules is refused for the first of them (unknown,
    then already agreed, then listed twice), whichever of its items breaks it."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("b_head", c.Accept)
    twice_agreed = ("a-rel1", "a-rel1")
    t.refuse("a_head", c.Offer, R.UNKNOWN_ITEM, give=twice_agreed, ask=("b-gold",))
    t.refuse("a_head", c.Offer, R.ITEM_ALREADY_AGREED, give=twice_agreed)
    t.refuse("a_head", c.Offer, R.DUPLICATE_ITEM, give=("a-rel2", "a-rel2"))


def test_wrong_giver(mini: Scenario) -> None:
    """Giving the other side's item, or asking for one's own, is refused with wrong_giver."""
    t = seated(mini)
    refusal = t.refuse("a_head", c.Offer, R.WRONG_GIVER, give=("b-rel1",))
    assert "put it under ask" in refusal.message
    refusal = t.refuse("a_head", c.Offer, R.WRONG_GIVER, ask=("a-rel1",))
    assert "put it under give" in refusal.message


def test_empty_offer_is_a_bad_argument(mini: Scenario) -> None:
    """An offer with nothing to give or ask (blank ids stripped) is refused."""
    t = seated(mini)
    t.refuse("a_head", c.Offer, R.BAD_ARGUMENT, give=(" ",), ask=())


def test_item_ids_are_stripped(mini: Scenario) -> None:
    """Spaces around item ids (as typed in a comma list) do not matter."""
    t = seated(mini)
    [event] = t.offer("a_head", give=[" a-rel1 "], ask=["b-rel1 "])
    assert (event.data.give, event.data.ask) == (["a-rel1"], ["b-rel1"])


@pytest.mark.parametrize("variant", ["reciprocal", "parallel"])
def test_not_reciprocal(mini: Scenario, variant: str) -> None:
    """With reciprocity (or in parallel mode) an offer must both give and ask."""
    t = seated(mini, variant)
    t.refuse("a_head", c.Offer, R.NOT_RECIPROCAL, give=("a-rel1",))
    t.refuse("a_head", c.Offer, R.NOT_RECIPROCAL, ask=("b-rel1",))
    assert kinds(t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])) == ["offer_tabled"]


def test_action_for_action_demands_reciprocity_by_itself(mini: Scenario) -> None:
    """Parallel mode (action for action) refuses one-sided offers without a reciprocity rule."""
    assert not mini.rules_for("open").reciprocity  # parallel, and nothing more said
    t = seated(mini, "open")
    t.refuse("b_head", c.Offer, R.NOT_RECIPROCAL, give=("b-rel1",))
    t.refuse("b_head", c.Offer, R.NOT_RECIPROCAL, ask=("a-nuke",))
    assert kinds(t.offer("b_head", give=["b-rel1"], ask=["a-nuke"])) == ["offer_tabled"]


def test_one_sided_offers_allowed_without_reciprocity(mini: Scenario) -> None:
    """Under the default singapore rules a pure concession or a pure request is fine."""
    t = seated(mini)
    assert kinds(t.offer("a_head", give=["a-rel2"])) == ["offer_tabled"]
    assert kinds(t.offer("b_head", ask=["a-rel1"])) == ["offer_tabled"]


def test_too_many_items(mini: Scenario) -> None:
    """An offer naming more items than max_items_per_offer (3) is refused."""
    t = seated(mini)
    refusal = t.refuse(
        "a_head",
        c.Offer,
        R.TOO_MANY_ITEMS,
        give=("a-rel1", "a-rel2", "a-rem"),
        ask=("b-rel1",),
    )
    assert "at most 3" in refusal.message and "names 4" in refusal.message


def test_imbalanced_when_enforced(mini: Scenario) -> None:
    """Under balance = enforce an offer outside the tolerance (2) is refused."""
    t = seated(mini, "parallel")
    refusal = t.refuse("a_head", c.Offer, R.IMBALANCED, give=("a-nuke",), ask=("b-rem",))
    assert "gives 5 and asks 1" in refusal.message
    [event] = t.offer("a_head", give=["a-nuke"], ask=["b-peace"])  # 5 against 3: within 2
    assert not event.data.given("imbalance")


def test_advise_tables_the_offer_with_its_imbalance(mini: Scenario) -> None:
    """Under balance = advise an imbalanced offer is tabled with data['imbalance']."""
    t = seated(mini)
    [event] = t.offer("a_head", give=["a-rel1", "a-rel2"])
    assert event.kind is EventKind.OFFER_TABLED
    assert event.data.imbalance == 3
    assert (event.data.weight_given, event.data.weight_asked) == (3, 0)
    [event] = t.offer("b_head", give=["b-rel1"], ask=["a-rel1"])
    assert not event.data.given("imbalance")  # 2 against 2
    [event] = t.offer("a_head", ask=["b-rel1", "b-rem"])
    assert event.data.imbalance == -3


def test_balance_off_never_warns(mini: Scenario) -> None:
    """Under balance = off (the package variant) no imbalance is recorded."""
    t = seated(mini, "package")
    [event] = t.offer("a_head", give=["a-rel1", "a-peace", "a-nuke"])
    assert not event.data.given("imbalance")


# -- sequencing -------------------------------------------------------------------------------


def test_singapore_keeps_later_gated_baskets_closed(mini: Scenario) -> None:
    """Under singapore an item of a later gated basket is refused, naming what to settle."""
    t = seated(mini)
    refusal = t.refuse("a_head", c.Offer, R.BASKET_CLOSED, give=("a-rel1",), ask=("b-peace",))
    assert "Beta halts exercises" in refusal.message
    assert "opens only once Relations has an agreed item" in refusal.message
    assert "Agreed so far: nothing yet" in refusal.message
    assert "Open now: Relations, Remains" in refusal.message


def test_singapore_opens_baskets_one_by_one(mini: Scenario) -> None:
    """An agreement in a basket opens the next; the refusal lists what is agreed so far."""
    t = seated(mini)
    assert [b.id for b in t.state.open_baskets()] == ["rel", "rem"]
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("b_head", c.Accept)
    assert [b.id for b in t.state.open_baskets()] == ["rel", "peace", "rem"]
    refusal = t.refuse("a_head", c.Offer, R.BASKET_CLOSED, give=("a-nuke",))
    assert "opens only once Peace has an agreed item" in refusal.message
    assert (
        "Agreed so far: 'Alpha opens an office' (a-rel1), 'Beta hosts a visit' (b-rel1)"
        in refusal.message
    )
    t.offer("a_head", give=["a-peace"], ask=["b-peace"])
    t.do("b_head", c.Accept)
    assert kinds(t.offer("a_head", give=["a-nuke"], ask=["b-nuke"])) == ["offer_tabled"]


def test_the_kept_open_ids_and_baskets_follow_each_agreement(mini: Scenario) -> None:
    """The kept open item and basket ids are worked out again after each agreement."""
    t = seated(mini)

    def read() -> tuple[tuple[str, ...], frozenset[str]]:
        state = t.state
        assert state.open_ids() == tuple(i.id for i in state.open_items())
        assert state.open_basket_ids() == {b.id for b in state.open_baskets()}
        return state.open_ids(), state.open_basket_ids()

    before = read()
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("b_head", c.Accept)
    after = read()
    assert "a-rel1" in before[0] and "a-rel1" not in after[0]
    assert before[1] == {"rel", "rem"} and after[1] == {"rel", "peace", "rem"}


def test_singapore_does_not_open_a_basket_within_the_same_offer(mini: Scenario) -> None:
    """An offer cannot open a basket by including items of the basket before it."""
    t = seated(mini)
    t.refuse("a_head", c.Offer, R.BASKET_CLOSED, give=("a-rel1", "a-peace"))


def test_ungated_basket_is_always_open(mini: Scenario) -> None:
    """Remains (gated = false) may be traded from the first turn under singapore."""
    t = seated(mini)
    t.offer("a_head", give=["a-rem"], ask=["b-rem"])
    events = t.do("b_head", c.Accept)
    assert kinds(events) == ["offer_accepted", "agreement_reached"]
    # an ungated agreement does not open the gated baskets
    assert [b.id for b in t.state.open_baskets()] == ["rel", "rem"]


def test_package_requires_every_gated_basket(mini: Scenario) -> None:
    """Under package an offer missing a gated basket is refused, naming what is missing."""
    t = seated(mini, "package")
    refusal = t.refuse(
        "a_head", c.Offer, R.PACKAGE_INCOMPLETE, give=("a-rel1", "a-peace"), ask=("b-rem",)
    )
    assert "missing: Disarmament." in refusal.message
    assert "Remains" not in refusal.message


def test_package_closes_at_the_first_agreement(mini: Scenario) -> None:
    """The package variant: every basket open at once and the first agreement closes."""
    t = seated(mini, "package")
    t.offer("a_head", give=["a-rel1", "a-nuke"], ask=["b-peace", "b-nuke"])
    events = t.do("b_head", c.Accept)
    assert kinds(events) == ["offer_accepted", "agreement_reached", "table_closed"]
    close = events[-1].data
    assert close.reason == "package_agreed"
    assert close.agreed == ["a-rel1", "a-nuke", "b-peace", "b-nuke"]
    assert t.state.phase is Phase.CLOSED and t.state.turn is None


def test_parallel_opens_every_basket(mini: Scenario) -> None:
    """In parallel mode every basket is open from the start and agreements do not close."""
    t = seated(mini, "parallel")
    assert [b.id for b in t.state.open_baskets()] == ["rel", "peace", "nuke", "rem"]
    t.offer("a_head", give=["a-nuke"], ask=["b-nuke"])
    assert kinds(t.do("b_head", c.Accept)) == ["offer_accepted", "agreement_reached"]
    assert t.state.phase is Phase.NEGOTIATING


# -- accept / reject preconditions -----------------------------------------------------------


def test_no_standing_offer(mini: Scenario) -> None:
    """Accept and reject need a standing offer."""
    t = seated(mini)
    t.refuse("a_head", c.Accept, R.NO_STANDING_OFFER)
    t.refuse("a_head", c.Reject, R.NO_STANDING_OFFER)


def test_own_offer(mini: Scenario) -> None:
    """A delegation cannot accept or reject its own standing offer."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"])
    t.do("b_head", c.Pass)
    t.refuse("a_head", c.Accept, R.OWN_OFFER)
    t.refuse("a_head", c.Reject, R.OWN_OFFER)


def test_an_answer_to_an_offer_no_longer_standing_is_refused(mini: Scenario) -> None:
    """Accept or reject names the offer seen (its button); once replaced, it is refused."""
    t = seated(mini)
    [first] = t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("b_head", c.Pass)
    [second] = t.offer("a_head", give=["a-rel1", "a-rel2"], ask=["b-rel1"])  # a revision
    for command in (c.Accept, c.Reject):
        refusal = t.refuse("b_head", command, R.NO_STANDING_OFFER, offer=first.seq)
        assert f"#{first.seq} is no longer on the table" in refusal.message
        assert f"the standing offer is #{second.seq}" in refusal.message
    assert kinds(t.do("b_head", c.Accept, offer=second.seq)) == [
        "offer_accepted",
        "agreement_reached",
    ]


# -- bad arguments ---------------------------------------------------------------------------


def test_unknown_variant(mini: Scenario) -> None:
    """Opening with a variant the scenario lacks is refused, listing the variants."""
    with pytest.raises(Refusal) as caught:
        open_table(mini, FACILITATOR, "big-bang", None)
    assert caught.value.code is R.BAD_ARGUMENT
    assert "singapore, package, parallel, reciprocal, open" in caught.value.message


def test_open_defaults(mini: Scenario) -> None:
    """Without a variant the table opens under the scenario's default rules and title."""
    event = open_table(mini, FACILITATOR, None, None)
    assert event.data.variant == "singapore" and event.data.title == "Mini test table"
    assert event.data.rules["max_items_per_offer"] == 3
    package = open_table(mini, FACILITATOR, "package", "  Section B  ")
    assert package.data.sequencing == "package" and package.data.title == "Section B"
    assert package.data.rules["max_items_per_offer"] == 9


def test_unknown_delegation_or_role(mini: Scenario) -> None:
    """Assigning to an unknown delegation or role is a bad argument, listing the choices."""
    t = Table(mini)
    refusal = t.refuse("fac", c.Assign, R.BAD_ARGUMENT, member=t.who("x"), delegation="zz")
    assert "a, b, press" in refusal.message
    refusal = t.refuse(
        "fac", c.Assign, R.BAD_ARGUMENT, member=t.who("x"), delegation="a", role="clerk"
    )
    assert "head, member" in refusal.message
    open_ = Table(mini, "open")
    open_.refuse("x", c.Join, R.BAD_ARGUMENT, delegation="zz")


def test_unknown_inject(mini: Scenario) -> None:
    """Injecting an event the scenario lacks is a bad argument; a known one is posted."""
    t = seated(mini)
    refusal = t.refuse("fac", c.Inject, R.BAD_ARGUMENT, event="storm")
    assert "news" in refusal.message
    [event] = t.do("fac", c.Inject, event="news")
    assert event.data.event == "news" and event.data.title == "Breaking news"
    assert event.data.prompt == "mini/inject-news.md"


@pytest.mark.parametrize("minutes", [0, -5, 24 * 60 + 1])
def test_extend_needs_a_positive_bounded_number_of_minutes(mini: Scenario, minutes: float) -> None:
    """/session extend with minutes <= 0 (or above a day) is a bad argument."""
    t = seated(mini)
    t.refuse("fac", c.Extend, R.BAD_ARGUMENT, minutes=minutes)


def test_start_with_an_unknown_first_mover(mini: Scenario) -> None:
    """/session start first: must name an offering delegation."""
    t = seated(mini, start=False)
    t.refuse("fac", c.Start, R.BAD_ARGUMENT, first="press")


def test_joining_twice_is_a_bad_argument(mini: Scenario) -> None:
    """A person already at the table cannot join again."""
    t = seated(mini, start=False)
    t.refuse("obs", c.Join, R.BAD_ARGUMENT)
    t.refuse("a_head", c.Join, R.BAD_ARGUMENT)


def test_statements_are_not_turn_actions(mini: Scenario) -> None:
    """Any delegation member may /say at any time; the turn does not move."""
    t = seated(mini)
    before = (t.state.turn, t.state.round, t.state.deadline)
    [event] = t.do("b_member", c.Say, text="  We came in good faith.  ")
    assert event.kind is EventKind.STATEMENT and event.data.text == "We came in good faith."
    assert (t.state.turn, t.state.round, t.state.deadline) == before
    t.refuse("b_member", c.Say, R.BAD_ARGUMENT, text="   ")
    assert t.state.undoable == []


def test_a_statement_of_invisible_characters_only_is_refused(mini: Scenario) -> None:
    """Zero-width spaces and joiners show nothing: refused like a blank statement; text
    around them is kept as typed."""
    t = seated(mini)
    t.refuse("b_member", c.Say, R.BAD_ARGUMENT, text="\u200b \u200d\ufeff\u2060")
    [event] = t.do("b_member", c.Say, text="Yes\u200b.")
    assert event.data.text == "Yes\u200b."


def test_caucus_messages_are_recorded_when_the_scenario_says_so(mini: Scenario) -> None:
    """A caucus message is logged with the delegation when record_caucus is set."""
    t = seated(mini)
    [event] = t.do("b_member", c.CaucusMessage, text="psst")
    assert (event.data.delegation, event.data.text) == ("b", "psst")


def test_every_engine_refusal_code_has_a_test() -> None:
    """Each refusal code the engine raises appears in these tests (two are service-level)."""
    service_level = {R.TABLE_EXISTS, R.UNKNOWN_TABLE}
    here = Path(__file__).parent
    text = "".join(p.read_text() for p in here.glob("test_*.py"))
    untested = [code for code in R if code not in service_level and f"R.{code.name}" not in text]
    assert untested == []
