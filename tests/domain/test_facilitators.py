"""Who counts as a facilitator, from the log: never a player who moved themselves."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain import commands as c
from bot.domain import engine
from bot.domain.events import Event
from bot.domain.scenario import Scenario
from bot.domain.state import Replay
from bot.review.export import export_dict
from bot.store import TableRow


def test_a_player_switching_delegation_is_not_a_facilitator(mini: Scenario) -> None:
    """Self-chosen moves log member_assigned by the player: not a facilitator's act."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    prof = c.Who(user_id="p", name="Prof", facilitator=True)
    pat = c.Who(user_id="x", name="Pat")
    events: list[Event] = []
    replay = Replay(mini)

    def log(new: list) -> None:  # type: ignore[type-arg]
        for item in new:
            event = Event.stamp(item, len(events) + 1, now)
            events.append(event)
            replay.apply(event)

    log([engine.open_table(mini, prof, "open", "t")])
    log(engine.decide(replay.state, c.Join(who=pat, delegation="a"), now))
    log(engine.decide(replay.state, c.Join(who=pat, delegation="b"), now))
    assert events[-1].kind == "member_assigned" and events[-1].actor.user_id == "x"  # type: ignore[union-attr]
    log(
        engine.decide(
            replay.state,
            c.Assign(who=prof, member=c.Who(user_id="y", name="Yan"), delegation="a", role="head"),
            now,
        )
    )
    assert replay.state.facilitators == {"p": "Prof"}
    row = TableRow(1, None, "ch", mini.id, "open", "t", now, None)
    assert export_dict(row, mini, events)["table"]["facilitators"] == [
        {"user_id": "p", "name": "Prof"}
    ]
