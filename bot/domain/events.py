"""Events: the facts a table's log is made of, and who caused them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class EventKind(StrEnum):
    """Every kind of event a table's log may hold (the names are a public contract)."""

    TABLE_OPENED = "table_opened"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"
    MEMBER_ASSIGNED = "member_assigned"
    TABLE_STARTED = "table_started"
    OFFER_TABLED = "offer_tabled"
    OFFER_ACCEPTED = "offer_accepted"
    AGREEMENT_REACHED = "agreement_reached"
    OFFER_REJECTED = "offer_rejected"
    TURN_PASSED = "turn_passed"
    TURN_EXPIRED = "turn_expired"
    STATEMENT = "statement"
    WALKED_AWAY = "walked_away"
    TABLE_PAUSED = "table_paused"
    TABLE_RESUMED = "table_resumed"
    DEADLINE_EXTENDED = "deadline_extended"
    EVENT_INJECTED = "event_injected"
    ACTION_REVERTED = "action_reverted"
    ACTION_REFUSED = "action_refused"
    CAUCUS_MESSAGE = "caucus_message"
    TABLE_CLOSED = "table_closed"
    REMINDER_SENT = "reminder_sent"


#: Kinds that begin a turn action the facilitator may undo.
UNDOABLE_KINDS = frozenset(
    {
        EventKind.OFFER_TABLED,
        EventKind.OFFER_ACCEPTED,
        EventKind.OFFER_REJECTED,
        EventKind.TURN_PASSED,
        EventKind.TURN_EXPIRED,
        EventKind.WALKED_AWAY,
    }
)

#: Kinds that a turn action may cause in the same breath; undone together with it.
CONSEQUENCE_KINDS = frozenset({EventKind.AGREEMENT_REACHED, EventKind.TABLE_CLOSED})


#: Kinds that only a facilitator's command logs (with that facilitator as the actor).
FACILITATOR_KINDS = frozenset(
    {
        EventKind.TABLE_OPENED,
        EventKind.TABLE_STARTED,
        EventKind.TABLE_PAUSED,
        EventKind.TABLE_RESUMED,
        EventKind.DEADLINE_EXTENDED,
        EventKind.EVENT_INJECTED,
        EventKind.ACTION_REVERTED,
        EventKind.TABLE_CLOSED,
    }
)


class Actor(BaseModel):
    """Who did something: a Discord user (or a named player in `parley play`)."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    name: str
    delegation: str | None = None
    role: str | None = None


class NewEvent(BaseModel):
    """An event the engine decided on, before the log gives it a number and a time."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    actor: Actor | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Event(NewEvent):
    """An event as logged: numbered per table and stamped in UTC."""

    seq: int = Field(ge=1)
    at: AwareDatetime

    @classmethod
    def stamp(cls, new: NewEvent, seq: int, at: datetime) -> Event:
        """Number and time a decided event."""
        return cls(kind=new.kind, actor=new.actor, data=new.data, seq=seq, at=at)


def facilitators(events: Iterable[Event]) -> dict[str, str]:
    """Who acted as a facilitator at a table (user id to name, in order of first act).

    An assignment counts only when it placed someone else: where players may choose
    their delegation, a player's own move is logged as ``member_assigned`` too.
    """
    found: dict[str, str] = {}
    for event in events:
        actor = event.actor
        if actor is None:
            continue
        placed_other = (
            event.kind is EventKind.MEMBER_ASSIGNED and event.data.get("user_id") != actor.user_id
        )
        if event.kind in FACILITATOR_KINDS or placed_other:
            found.setdefault(actor.user_id, actor.name)
    return found
