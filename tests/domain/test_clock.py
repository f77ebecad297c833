"""The turn clock: deadlines from the injected time, reminders, expiries, pause, resume,
extend, and when the timer must wake up next. mini: 10-minute turns, reminder 2 minutes
before, five rounds."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import commands as c
from bot.domain.engine import due, fresh_clock, next_wakeup
from bot.domain.scenario import Scenario
from bot.domain.state import Phase

from .conftest import T0, kinds, seated

MIN = timedelta(minutes=1)


def test_deadline_comes_from_the_injected_time(mini: Scenario) -> None:
    """The first deadline is start time + turn_minutes; each action restarts it from now."""
    t = seated(mini)
    assert t.state.deadline == T0 + 10 * MIN
    t.now += 3 * MIN
    t.do("a_head", c.Pass)
    assert t.state.deadline == T0 + 13 * MIN
    assert t.state.deadline.tzinfo is not None


def test_nothing_is_due_before_the_reminder(mini: Scenario) -> None:
    """Before deadline - reminder_minutes the clock brings nothing."""
    t = seated(mini)
    assert t.advance(minutes=7, seconds=59) == []


def test_reminder_before_the_deadline_is_sent_once(mini: Scenario) -> None:
    """At deadline - 2 minutes a reminder goes out, once, naming the delegation on move."""
    t = seated(mini)
    [reminder] = t.advance(minutes=8)
    assert reminder.kind.value == "reminder_sent"
    assert reminder.data.delegation == "a"
    assert reminder.data.deadline == (T0 + 10 * MIN).isoformat()
    assert t.state.reminded
    assert t.advance(minutes=1) == []
    assert t.state.turn == "a"


def test_a_late_first_look_at_the_clock_still_reminds(mini: Scenario) -> None:
    """A timer that wakes between the reminder time and the deadline sends the reminder."""
    t = seated(mini)
    assert kinds(t.advance(minutes=9, seconds=30)) == ["reminder_sent"]


def test_expiry_passes_the_turn_and_keeps_the_standing_offer(mini: Scenario) -> None:
    """At the deadline the turn is passed (turn_expired); the standing offer stays."""
    t = seated(mini)
    [offer] = t.offer("a_head", give=["a-rel1"])
    [expired] = t.advance(minutes=10)
    assert expired.kind.value == "turn_expired" and expired.data.delegation == "b"
    assert (t.state.turn, t.state.round) == ("a", 2)
    assert t.state.standing is not None and t.state.standing.seq == offer.seq
    assert t.state.deadline == T0 + 20 * MIN
    assert not t.state.reminded


def test_expiry_just_before_the_deadline_does_not_happen(mini: Scenario) -> None:
    """One second before the deadline the turn has not expired yet."""
    t = seated(mini)
    t.advance(minutes=9, seconds=59)
    assert t.state.turn == "a"
    assert kinds(t.advance(seconds=1)) == ["turn_expired"]


def test_a_long_jump_loses_at_most_one_round_then_pauses(mini: Scenario) -> None:
    """When the clock jumps far, turns expire in order until every delegation's turn has
    expired in a row; then the table pauses itself (idle) with a full turn left."""
    t = seated(mini)
    events = t.advance(minutes=38)
    assert kinds(events) == ["turn_expired", "turn_expired", "table_paused"]
    assert [e.data.delegation for e in events[:2]] == ["a", "b"]
    assert events[-1].data.reason == "idle" and events[-1].actor is None
    assert t.state.phase is Phase.PAUSED and t.state.pause_reason == "idle"
    assert (t.state.turn, t.state.round) == ("a", 2)
    assert t.state.remaining_seconds == 600
    assert due(t.state, t.now + 600 * MIN) == []
    assert t.replayed() == t.state


def test_an_action_between_expiries_keeps_the_table_going(mini: Scenario) -> None:
    """Expiries pause the table only when they come in a row: any turn action resets the
    count, so a delegation that keeps acting keeps the table open."""
    t = seated(mini)
    assert kinds(t.advance(minutes=10)) == ["turn_expired"]  # a's turn
    t.do("b_head", c.Pass)
    assert kinds(t.advance(minutes=10)) == ["turn_expired"]  # a's again
    assert t.state.phase is Phase.NEGOTIATING and t.state.turn == "b"
    assert kinds(t.advance(minutes=10)) == ["turn_expired", "table_paused"]


def test_resume_after_an_idle_pause_gives_a_full_turn(mini: Scenario) -> None:
    """The facilitator resumes an idle table and the delegation on move has a whole turn."""
    t = seated(mini)
    t.advance(minutes=20)
    assert t.state.pause_reason == "idle"
    t.do("fac", c.Resume)
    assert t.state.phase is Phase.NEGOTIATING and t.state.pause_reason is None
    assert t.state.deadline == t.now + 10 * MIN
    assert t.state.idle_expiries == 0


def test_expiries_can_reach_max_rounds(mini: Scenario) -> None:
    """Expiries count as turns: when the last round's last turn runs out, the table closes."""
    t = seated(mini)
    events = []
    for _ in range(mini.rules.max_rounds):
        t.do("a_head", c.Pass)
        events = t.advance(minutes=10)  # b's turn runs out
    assert kinds(events) == ["turn_expired", "table_closed"]
    assert events[-1].data.reason == "max_rounds"
    assert events[-1].data.round == events[-2].data.round == 5  # the last expiry's
    assert t.state.phase is Phase.CLOSED and t.state.turn is None
    assert t.state.round == mini.rules.max_rounds  # as when the last turn is passed by hand
    assert due(t.state, t.now + 600 * MIN) == []


def test_fresh_clock_after_an_outage(mini: Scenario) -> None:
    """Back after an outage past the deadline, the turn on move gets a whole new turn,
    logged once as a deadline_extended with reason outage; nothing is due if not overdue."""
    t = seated(mini)
    assert fresh_clock(t.state, t.now + 9 * MIN) == []
    t.now += 45 * MIN
    [event] = fresh_clock(t.state, t.now)
    assert event.kind.value == "deadline_extended" and event.data.reason == "outage"
    t.log([event])
    assert t.state.turn == "a" and t.state.round == 1
    assert t.state.deadline == t.now + 10 * MIN
    assert fresh_clock(t.state, t.now) == []
    assert due(t.state, t.now) == []


def test_pause_freezes_the_clock(mini: Scenario) -> None:
    """Pause records the time left and nothing is due while paused, however long."""
    t = seated(mini)
    t.now += 4 * MIN
    [paused] = t.do("fac", c.Pause)
    assert paused.data.remaining_seconds == 360
    assert (t.state.phase, t.state.remaining_seconds, t.state.deadline) == (
        Phase.PAUSED,
        360,
        None,
    )
    assert t.advance(minutes=600) == []
    assert next_wakeup(t.state) is None


def test_resume_restarts_with_the_time_that_was_left(mini: Scenario) -> None:
    """Resume sets the deadline to now + the time left at the pause; the turn is unchanged."""
    t = seated(mini)
    t.offer("a_head", give=["a-rel1"])
    t.now += 4 * MIN
    t.do("fac", c.Pause)
    t.now += 60 * MIN
    t.do("fac", c.Resume)
    assert t.state.phase is Phase.NEGOTIATING and t.state.remaining_seconds is None
    assert t.state.deadline == t.now + 6 * MIN
    assert (t.state.turn, t.state.round) == ("b", 1)
    assert kinds(t.advance(minutes=6)) == ["turn_expired"]


def test_extend_while_running_moves_the_deadline(mini: Scenario) -> None:
    """/session extend adds minutes to the running deadline and allows a new reminder."""
    t = seated(mini)
    t.advance(minutes=8)
    assert t.state.reminded
    t.do("fac", c.Extend, minutes=5)
    assert t.state.deadline == T0 + 15 * MIN
    assert not t.state.reminded
    assert t.advance(minutes=4) == []
    assert kinds(t.advance(minutes=1)) == ["reminder_sent"]


def test_extend_while_paused_adds_to_the_time_left(mini: Scenario) -> None:
    """Extending a paused table adds to remaining_seconds; resume uses the sum."""
    t = seated(mini)
    t.now += 4 * MIN
    t.do("fac", c.Pause)
    [extended] = t.do("fac", c.Extend, minutes=2.5)
    assert extended.data.remaining_seconds == 360 + 150
    assert t.state.remaining_seconds == 510 and t.state.deadline is None
    t.do("fac", c.Resume)
    assert t.state.deadline == t.now + timedelta(seconds=510)


def test_next_wakeup(mini: Scenario) -> None:
    """The timer wakes for the reminder, then for the deadline, and not at all when idle."""
    t = seated(mini, start=False)
    assert next_wakeup(t.state) is None
    t.do("fac", c.Start)
    assert next_wakeup(t.state) == T0 + 8 * MIN
    t.advance(minutes=8)
    assert next_wakeup(t.state) == T0 + 10 * MIN
    t.advance(minutes=2)
    assert next_wakeup(t.state) == T0 + 18 * MIN
    t.do("fac", c.End)
    assert next_wakeup(t.state) is None


def test_without_a_reminder_lead_the_timer_wakes_only_for_the_deadline(
    mini: Scenario,
) -> None:
    """With reminder_minutes = 0 no reminder is sent and the wakeup is the deadline."""
    t = seated(mini)
    t.state.rules = t.state.rules.model_copy(update={"reminder_minutes": 0})
    assert next_wakeup(t.state) == T0 + 10 * MIN
    assert due(t.state, T0 + 9 * MIN) == []
    assert [e.kind.value for e in due(t.state, T0 + 10 * MIN)] == ["turn_expired"]


def test_deadlines_survive_a_replay(mini: Scenario) -> None:
    """The deadline is part of the log: a state rebuilt from it has the same deadline."""
    t = seated(mini)
    t.now += 3 * MIN
    t.offer("a_head", give=["a-rel1"])
    t.advance(minutes=9)
    rebuilt = t.replayed()
    assert rebuilt == t.state
    assert rebuilt.deadline == T0 + 13 * MIN and rebuilt.reminded
