"""The turn protocol: round-robin moves, what each action does to the standing offer,
agreements with two and three delegations, and the ways a table closes."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import commands as c
from bot.domain.errors import RefusalCode as R
from bot.domain.scenario import Scenario
from bot.domain.state import Phase

from .conftest import kinds, seated


def test_round_robin_and_round_grows_when_the_order_wraps(mini: Scenario) -> None:
    """Delegations move a, b, a, b...; the round grows each time the order wraps."""
    t = seated(mini)
    assert t.state.order == ("a", "b")  # the press does not offer
    seen = []
    for _ in range(5):
        seen.append((t.state.turn, t.state.round))
        t.do(f"{t.state.turn}_member", c.Pass)
    assert seen == [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)]


def test_first_mover_sets_the_order(mini: Scenario) -> None:
    """/session start first:b (or the rules' first_mover) rotates the order."""
    t = seated(mini, first="b")
    assert (t.state.order, t.state.turn, t.state.round) == (("b", "a"), "b", 1)
    t.do("b_head", c.Pass)
    t.do("a_head", c.Pass)
    assert (t.state.turn, t.state.round) == ("b", 2)
    assert seated(mini, "open").state.turn == "b"  # the variant's first_mover


def test_every_action_passes_the_turn(mini: Scenario) -> None:
    """Offer, reject and pass each hand the turn to the next delegation with a new deadline."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1"])
    assert offer.data.turn == "b" and (t.state.turn, t.state.round) == ("b", 1)
    assert t.state.deadline == t.now + timedelta(minutes=10)
    [reject] = t.do("b_head", c.Reject, reason="  too little ")
    assert reject.data.reason == "too little" and reject.data.offer == offer.seq
    assert (t.state.turn, t.state.round) == ("a", 2)


def test_counter_offer_replaces_the_standing_offer_and_records_what_it_answers(
    mini: Scenario,
) -> None:
    """A counter-offer replaces the other side's offer and names it in `answers`."""
    t = seated(mini)
    [first] = t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    assert first.data.answers is None and first.data.revises is None
    [counter] = t.offer("b_head", give=["b-rel1"], ask=["a-rel1", "a-rel2"], note=" better ")
    assert counter.data.answers == first.seq and counter.data.revises is None
    standing = t.state.standing
    assert standing is not None
    assert (standing.seq, standing.by, standing.answers) == (counter.seq, "b", first.seq)
    assert (standing.give, standing.ask, standing.note) == (
        ("b-rel1",),
        ("a-rel1", "a-rel2"),
        "better",
    )


def test_revising_ones_own_offer_records_revises(mini: Scenario) -> None:
    """A delegation offering again over its own standing offer revises it."""
    t = seated(mini)
    [first] = t.offer("a_head", give=["a-rel1"])
    t.do("b_head", c.Pass)
    [second] = t.offer("a_head", give=["a-rel2"])
    assert second.data.revises == first.seq and second.data.answers is None
    assert t.state.standing is not None and t.state.standing.seq == second.seq


def test_pass_keeps_the_standing_offer(mini: Scenario) -> None:
    """A pass moves the turn and leaves the standing offer on the table."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1"])
    t.do("b_member", c.Pass)
    assert t.state.standing is not None and t.state.standing.seq == offer.seq
    assert t.state.turn == "a"


def test_reject_clears_the_standing_offer(mini: Scenario) -> None:
    """A reject removes the standing offer."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"])
    t.do("b_member", c.Reject)
    assert t.state.standing is None


def test_accept_forms_an_agreement_with_two_delegations(mini: Scenario) -> None:
    """With two delegations an accept agrees the offer's items at once and the turn moves."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    accepted, agreement = t.do("b_head", c.Accept)
    assert (accepted.data.offer, accepted.data.delegation) == (offer.seq, "b")
    assert agreement.data.items == ["a-rel1", "b-rel1"]
    assert agreement.data.delegations == ["a", "b"]
    assert agreement.data.offer == offer.seq and agreement.data.round == 1
    assert t.state.standing is None
    assert list(t.state.agreed) == ["a-rel1", "b-rel1"]
    assert (t.state.turn, t.state.round) == ("a", 2)


def test_walk_away_closes_with_agreed_items_standing(mini: Scenario) -> None:
    """Walking away closes the table; earlier agreements stand, nothing more is possible."""
    t = seated(mini)
    t.offer("a_head", give=["a-rem"], ask=["b-rem"])
    t.do("b_head", c.Accept)
    t.offer("a_head", give=["a-rel1"])
    walked, closed = t.do("b_head", c.WalkAway)
    assert walked.data.delegation == "b"
    assert closed.data.reason == "walked_away"
    assert closed.data.agreed == ["a-rem", "b-rem"]
    assert t.state.phase is Phase.CLOSED
    assert t.state.standing is None and t.state.turn is None and t.state.deadline is None
    assert list(t.state.agreed) == ["a-rem", "b-rem"]
    t.refuse("a_head", c.Offer, R.WRONG_PHASE, give=["a-rel1"])


def test_max_rounds_closes_after_the_last_turn_of_the_last_round(mini: Scenario) -> None:
    """With max_rounds = 5 each delegation has five turns; the last pass closes the table."""
    t = seated(mini)
    for _ in range(9):
        t.do(f"{t.state.turn}_head", c.Pass)
    assert (t.state.turn, t.state.round, t.state.phase) == ("b", 5, Phase.NEGOTIATING)
    passed, closed = t.do("b_head", c.Pass)
    assert passed.data.turn is None and passed.data.deadline is None
    assert closed.data.reason == "max_rounds"
    assert (t.state.phase, t.state.round, t.state.turn) == (Phase.CLOSED, 5, None)


def test_agreement_on_the_last_turn_counts_before_max_rounds_close(mini: Scenario) -> None:
    """An accept on the very last turn forms its agreement, then the table closes."""
    t = seated(mini)
    for _ in range(8):
        t.do(f"{t.state.turn}_head", c.Pass)
    t.offer("a_head", give=["a-rem"], ask=["b-rem"])
    events = t.do("b_head", c.Accept)
    assert kinds(events) == ["offer_accepted", "agreement_reached", "table_closed"]
    assert events[-1].data.reason == "max_rounds"
    assert events[-1].data.agreed == ["a-rem", "b-rem"]


def test_agreeing_every_item_closes_the_table(mini: Scenario) -> None:
    """Once every item is agreed there is nothing left to trade and the table closes."""
    t = seated(mini, "parallel")
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("b_head", c.Accept)
    t.offer("a_head", give=["a-rel2", "a-rem"], ask=["b-rem"])
    t.do("b_head", c.Accept)
    t.offer("a_head", give=["a-peace"], ask=["b-peace"])
    t.do("b_head", c.Accept)
    t.offer("a_head", give=["a-nuke"], ask=["b-nuke"])
    events = t.do("b_head", c.Accept)
    assert kinds(events) == ["offer_accepted", "agreement_reached", "table_closed"]
    assert events[-1].data.reason == "all_agreed"
    assert t.state.phase is Phase.CLOSED


def test_three_delegations_must_each_accept_the_same_offer(trio: Scenario) -> None:
    """With N = 3 every other offering delegation accepts in turn before the agreement."""
    t = seated(trio)
    assert t.state.order == ("a", "b", "c")
    [offer] = t.offer("a_head", give=["a-x"], ask=["b-x", "c-y"])
    [accepted] = t.do("b_head", c.Accept)
    assert accepted.data.delegation == "b"
    assert t.state.standing is not None and t.state.standing.accepted_by == ("b",)
    assert t.state.agreements == [] and t.state.turn == "c"
    accepted, agreement = t.do("c_head", c.Accept)
    assert agreement.data.offer == offer.seq
    assert agreement.data.delegations == ["a", "b", "c"]
    assert list(t.state.agreed) == ["a-x", "b-x", "c-y"]
    assert (t.state.turn, t.state.round) == ("a", 2)


def test_three_delegations_a_counter_offer_resets_the_acceptances(trio: Scenario) -> None:
    """With N = 3 a counter-offer after one acceptance starts the round of accepts anew."""
    t = seated(trio)
    t.offer("a_head", give=["a-x"], ask=["b-x"])
    t.do("b_head", c.Accept)
    [counter] = t.offer("c_head", give=["c-x"], ask=["a-x"])
    assert t.state.standing is not None and t.state.standing.accepted_by == ()
    t.do("a_head", c.Accept)  # a accepts c's offer
    assert t.state.agreements == []
    t.do("b_head", c.Accept)
    assert [a.offer for a in t.state.agreements] == [counter.seq]


def test_three_delegations_an_acceptor_cannot_accept_twice(trio: Scenario) -> None:
    """With N = 3 a delegation that already accepted the standing offer is told to wait
    (already_accepted, not bad_argument)."""
    t = seated(trio)
    t.offer("a_head", give=["a-x"])
    t.do("b_head", c.Accept)
    t.do("c_head", c.Pass)
    t.do("a_head", c.Pass)
    refusal = t.refuse("b_head", c.Accept, R.ALREADY_ACCEPTED)
    assert "already accepted" in refusal.message


def test_three_delegations_reject_after_an_acceptance_clears_the_offer(trio: Scenario) -> None:
    """With N = 3 one rejection ends the offer even if another delegation accepted it."""
    t = seated(trio)
    t.offer("a_head", give=["a-x"])
    t.do("b_head", c.Accept)
    t.do("c_head", c.Reject)
    assert t.state.standing is None and t.state.agreements == []


def test_members_may_leave_and_join_during_the_negotiation(mini: Scenario) -> None:
    """Joining and leaving are allowed while negotiating and never move the turn."""
    t = seated(mini)
    t.do("late", c.Join)
    t.do("a_member", c.Leave)
    assert t.state.member("u-a_member") is None and t.state.turn == "a"
    t.refuse("a_member", c.Leave, R.NOT_A_MEMBER)


def test_when_a_head_leaves_or_moves_the_next_member_becomes_head(mini: Scenario) -> None:
    """A head who leaves, or is moved elsewhere, hands the role on; a lone head does not."""
    t = seated(mini)
    events = t.do("a_head", c.Leave)
    assert kinds(events) == ["member_left", "member_assigned"]
    assert events[1].actor is None and events[1].data.reason == "succession"
    assert t.state.head("a") is not None and t.state.head("a").name == "A Member"  # type: ignore[union-attr]
    t.do("a_member", c.Pass)  # the new head may act: the turn goes on
    t.do("fac", c.Assign, member=t.who("b_head"), delegation="a", role="member")
    assert t.state.head("b") is not None and t.state.head("b").name == "B Member"  # type: ignore[union-attr]
    t.do("b_member", c.Leave)  # the last member of b leaves: nobody to hand it to
    assert t.state.head("b") is None
