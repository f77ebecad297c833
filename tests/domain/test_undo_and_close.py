"""Undo (a new event cancelling the last turn action) and the close with its scores.

The harness checks every undo: the state after it equals the state just before the
undone action, leaving out the clock fields (``conftest.CLOCK_FIELDS``: an undone turn
comes back with a fresh clock) and counting a pause as negotiating.
"""

from __future__ import annotations

from datetime import timedelta

from bot.domain import commands as c
from bot.domain.errors import RefusalCode as R
from bot.domain.events import Score
from bot.domain.scenario import Scenario
from bot.domain.state import Phase

from .conftest import Table, kinds, seated

MIN = timedelta(minutes=1)


def test_undo_reverts_the_last_turn_action(mini: Scenario) -> None:
    """Undo of an offer removes it and gives the turn back, with a fresh deadline."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1"])
    t.now += 4 * MIN
    [undo] = t.do("fac", c.Undo)
    assert undo.data.reverts == [offer.seq]
    assert t.state.standing is None and (t.state.turn, t.state.round) == ("a", 1)
    assert t.state.deadline == t.now + 10 * MIN
    assert t.undo_checks == 1
    assert t.replayed() == t.state
    assert len(t.events) == undo.seq  # nothing is deleted from the log


def test_undo_of_an_accept_reverts_its_agreement_too(mini: Scenario) -> None:
    """Undoing an accept also undoes the agreement it formed; the offer stands again."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    accepted, agreement = t.do("b_head", c.Accept)
    [undo] = t.do("fac", c.Undo)
    assert undo.data.reverts == [accepted.seq, agreement.seq]
    assert t.state.agreements == []
    assert t.state.standing is not None and t.state.standing.seq == offer.seq
    assert t.state.turn == "b"
    assert t.undo_checks == 1


def test_undo_of_a_walk_away_reopens_the_table(mini: Scenario) -> None:
    """Undoing a walk-away undoes the close it caused; the walker has the turn again."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"])
    walked, closed = t.do("b_head", c.WalkAway)
    [undo] = t.do("fac", c.Undo)
    assert undo.data.reverts == [walked.seq, closed.seq]
    assert (t.state.phase, t.state.turn, t.state.close_reason) == (Phase.NEGOTIATING, "b", None)
    assert t.state.standing is not None
    assert kinds(t.do("b_head", c.Accept)) == ["offer_accepted", "agreement_reached"]


def test_undo_of_a_max_rounds_close_reopens_the_last_turn(mini: Scenario) -> None:
    """Undoing the pass that hit max rounds undoes the close with it."""
    t = seated(mini)
    for _ in range(10):
        t.do(f"{t.state.turn}_head", c.Pass)
    assert t.state.phase is Phase.CLOSED
    t.do("fac", c.Undo)
    assert (t.state.phase, t.state.turn, t.state.round) == (Phase.NEGOTIATING, "b", 5)


def test_undo_of_an_expiry(mini: Scenario) -> None:
    """An expired turn is a turn action too and may be undone."""
    t = seated(mini)
    [expired] = t.advance(minutes=10)
    [undo] = t.do("fac", c.Undo)
    assert undo.data.reverts == [expired.seq]
    assert (t.state.turn, t.state.round) == ("a", 1)
    assert t.state.deadline == t.now + 10 * MIN


def test_repeated_undo_walks_further_back(mini: Scenario) -> None:
    """Each undo reverts the latest action still standing, back to the start of play."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("b_head", c.Accept)
    t.offer("a_head", give=["a-peace"])
    t.do("b_member", c.Reject)
    states = []
    for _ in range(4):
        states.append((t.state.turn, len(t.state.agreements), t.state.standing is not None))
        t.do("fac", c.Undo)
    states.append((t.state.turn, len(t.state.agreements), t.state.standing is not None))
    assert states == [
        ("a", 1, False),  # after the reject
        ("b", 1, True),  # after a's second offer
        ("a", 1, False),  # after the agreement
        ("b", 0, True),  # after a's first offer
        ("a", 0, False),  # at the start
    ]
    assert t.undo_checks == 4
    t.refuse("fac", c.Undo, R.NOTHING_TO_UNDO)
    assert t.replayed() == t.state


def test_undo_skips_statements_and_clock_controls(mini: Scenario) -> None:
    """Statements, injects and reminders are not turn actions: undo goes past them."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1"])
    t.do("b_member", c.Say, text="Hm.")
    t.do("fac", c.Inject, event="news")
    t.advance(minutes=8)
    [undo] = t.do("fac", c.Undo)
    assert undo.data.reverts == [offer.seq]
    assert t.undo_checks == 1


def test_undo_after_pause_and_resume_gives_the_turn_back(mini: Scenario) -> None:
    """An action undone after a pause and resume returns the turn to its delegation."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("fac", c.Pause)
    t.do("fac", c.Resume)
    t.do("fac", c.Undo)
    assert (t.state.turn, t.state.round, t.state.standing) == ("a", 1, None)
    assert t.undo_checks == 1
    assert t.replayed() == t.state


def test_undo_while_paused_keeps_the_table_paused(mini: Scenario) -> None:
    """Undo during a pause reverts the action and leaves a full turn on the frozen clock."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"])
    t.do("fac", c.Pause)
    t.do("fac", c.Undo)
    assert (t.state.phase, t.state.turn, t.state.standing) == (Phase.PAUSED, "a", None)
    assert t.state.remaining_seconds == 600 and t.state.deadline is None
    t.do("fac", c.Resume)
    assert t.state.deadline == t.now + 10 * MIN


def test_nothing_to_undo(mini: Scenario) -> None:
    """Undo before any turn action is refused with nothing_to_undo."""
    t = seated(mini)
    t.do("a_member", c.Say, text="Good morning.")
    refusal = t.refuse("fac", c.Undo, R.NOTHING_TO_UNDO)
    assert "no turn action" in refusal.message


def test_undo_of_session_end_reopens_the_table_where_it_was(mini: Scenario) -> None:
    """An accidental /session end is taken back by undo: the table reopens with the same
    turn, round and standing offer, and the turn on move gets a fresh clock."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1"])
    t.do("fac", c.End)
    assert t.state.phase is Phase.CLOSED
    t.now += 5 * MIN
    [undo] = t.do("fac", c.Undo)
    assert undo.data.reverts == [offer.seq + 1]
    assert (t.state.phase, t.state.turn, t.state.round) == (Phase.NEGOTIATING, "b", 1)
    assert t.state.standing is not None and t.state.standing.seq == offer.seq
    assert t.state.close_reason is None
    assert t.state.deadline == t.now + 10 * MIN
    assert t.undo_checks == 1
    assert t.replayed() == t.state


def test_undo_of_session_end_while_paused_reopens_it_paused(mini: Scenario) -> None:
    """A table ended while paused comes back paused, with a full turn on the clock."""
    t = seated(mini)
    t.do("fac", c.Pause)
    t.do("fac", c.End)
    t.do("fac", c.Undo)
    assert t.state.phase is Phase.PAUSED
    assert t.state.remaining_seconds == 600


def test_undo_of_an_end_after_a_pause_into_the_turn_holds_no_deadline(mini: Scenario) -> None:
    """Paused 4 minutes into a turn, ended, undone: paused with a full turn held and no
    deadline running (/status would show one), the same when the log is folded again."""
    t = seated(mini)
    t.advance(minutes=4)
    t.do("fac", c.Pause)
    t.do("fac", c.End)
    t.do("fac", c.Undo)
    assert t.state.phase is Phase.PAUSED
    assert (t.state.deadline, t.state.remaining_seconds) == (None, 600)
    assert t.replayed() == t.state
    t.advance(minutes=1)
    t.do("fac", c.Resume)
    assert t.state.deadline == t.now + 10 * MIN


def test_players_are_refused_on_a_closed_table_with_how_it_closed(mini: Scenario) -> None:
    """After a close, a turn action is refused with wrong_phase saying how the table closed."""
    t = seated(mini)
    t.do("a_head", c.WalkAway)
    refusal = t.refuse("b_head", c.Pass, R.WRONG_PHASE)
    assert "closed" in refusal.message and "walked away" in refusal.message


def test_undo_is_not_available_before_the_start(mini: Scenario) -> None:
    """Undo in setup is refused with wrong_phase (membership changes are not undone)."""
    t = Table(mini).seat()
    t.refuse("fac", c.Undo, R.WRONG_PHASE)


# -- ending and scoring ----------------------------------------------------------------------


def test_close_lists_agreed_items_in_order_with_scores_and_batna(mini: Scenario) -> None:
    """The close event has the agreed items in agreement order and each side's score and BATNA."""
    t = seated(mini)
    t.offer("a_head", give=["a-rem"], ask=["b-rem"])
    t.do("b_head", c.Accept)
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    t.do("b_head", c.Accept)
    t.offer("a_head", give=["a-peace"])
    [closed] = t.do("fac", c.End)
    assert closed.data.reason == "facilitator"
    assert closed.actor is not None and closed.actor.user_id == "fac"
    assert closed.data.agreed == ["a-rem", "b-rem", "a-rel1", "b-rel1"]
    # a: 0 + 2 - 1 + 2 = 3, b: 1 + 0 + 3 - 1 = 3; the standing offer does not count
    assert closed.data.dumped()["scores"] == {
        "a": {"score": 3, "batna": 3},
        "b": {"score": 3, "batna": 2},
        "press": {"score": 0, "batna": 0},
    }
    assert t.state.scores() == closed.data.dumped()["scores"]
    assert t.state.phase is Phase.CLOSED and t.state.standing is None


def test_close_by_agreement_scores_the_final_agreement(mini: Scenario) -> None:
    """When an agreement closes the table (package) its items are scored in the close."""
    t = seated(mini, "package")
    t.offer("a_head", give=["a-rel1", "a-peace", "a-nuke"], ask=["b-rem"])
    closed = t.do("b_head", c.Accept)[-1]
    assert closed.data.agreed == ["a-rel1", "a-peace", "a-nuke", "b-rem"]
    assert closed.data.scores["a"] == Score(score=-5 + 2, batna=3)
    assert closed.data.scores["b"] == Score(score=13, batna=2)
    assert t.state.scores() == closed.data.dumped()["scores"]


def test_end_before_the_start_closes_with_nothing_agreed(mini: Scenario) -> None:
    """The facilitator may end a table that never started; nothing is agreed."""
    t = Table(mini)
    [closed] = t.do("fac", c.End)
    assert closed.data.agreed == [] and t.state.phase is Phase.CLOSED


def test_undo_of_an_expiry_that_closed_the_table(mini: Scenario) -> None:
    """Undoing the expiry that hit max rounds reopens the table on that last turn."""
    t = seated(mini)
    for _ in range(mini.rules.max_rounds):
        t.do("a_head", c.Pass)
        t.advance(minutes=10)
    assert t.state.close_reason == "max_rounds"
    [undo] = t.do("fac", c.Undo)
    assert len(undo.data.reverts) == 2
    assert (t.state.phase, t.state.turn, t.state.round) == (Phase.NEGOTIATING, "b", 5)
    assert t.state.deadline == t.now + 10 * MIN
    assert t.undo_checks == 1


def test_undo_of_a_package_agreement_reopens_the_table(mini: Scenario) -> None:
    """Undoing the accept that closed a package table brings the offer back to the table."""
    t = seated(mini, "package")
    [offer] = t.offer("a_head", give=["a-rel1", "a-peace", "a-nuke"], ask=["b-rem"])
    t.do("b_head", c.Accept)
    [undo] = t.do("fac", c.Undo)
    assert len(undo.data.reverts) == 3  # accepted, agreement, close
    assert t.state.phase is Phase.NEGOTIATING and t.state.agreements == []
    assert t.state.standing is not None and t.state.standing.seq == offer.seq


def test_undo_that_restores_an_offer_restores_its_imbalance_mark(mini: Scenario) -> None:
    """An imbalanced offer brought back by undo stands with its imbalance, as tabled."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1", "a-rel2"])
    t.do("b_head", c.Reject)
    assert t.state.standing is None
    t.do("fac", c.Undo)
    assert t.state.standing is not None and t.state.standing.seq == offer.seq
    assert t.state.standing.imbalance == 3
    assert t.state.offers[offer.seq].imbalance == 3


def test_open_items_never_go_stale_through_agreements_and_undo(mini: Scenario) -> None:
    """Open items, worked out once per number of agreements, follow every agreement and
    its undo, and match a fresh fold of the log."""
    t = seated(mini)

    def open_ids(giver: str | None = None) -> list[str]:
        return [i.id for i in t.state.open_items(giver)]

    before = open_ids()
    assert "a-rel1" in before and "a-peace" not in before  # Singapore order
    t.offer("a_head", give=["a-rel1"], ask=["b-rel1"])
    assert open_ids() == before
    t.do("b_head", c.Accept)
    agreed = open_ids()
    assert "a-rel1" not in agreed and "b-rel1" not in agreed and "a-peace" in agreed
    assert open_ids("a") == [i for i in agreed if i.startswith("a-")]
    t.do("fac", c.Undo)
    assert open_ids() == before
    t.offer("b_head", give=["b-rel1"], ask=["a-rel2"])
    t.do("a_head", c.Accept)
    assert "a-rel1" in open_ids() and "a-rel2" not in open_ids() and "a-peace" in open_ids()
    assert open_ids() == [i.id for i in t.replayed().open_items()]
