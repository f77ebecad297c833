"""Events: the facts a table's log is made of, and who caused them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)


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
    COUNTERPART_SEATED = "counterpart_seated"
    COUNTERPART_UNSEATED = "counterpart_unseated"


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

#: Kinds of a delegation's own turn actions (anything but the clock moving the turn on).
TURN_ACTION_KINDS = frozenset(
    {
        EventKind.OFFER_TABLED,
        EventKind.OFFER_ACCEPTED,
        EventKind.OFFER_REJECTED,
        EventKind.TURN_PASSED,
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
    #: The strategy, when a scripted counterpart acted (not a person); only then logged.
    counterpart: str | None = None

    @model_serializer(mode="wrap")
    def _without_person_marker(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        if self.counterpart is None:
            dumped.pop("counterpart", None)
        return dumped


# -- what each kind of event says --------------------------------------------------------
# One model per kind. Only the fields an event was given are logged and exported
# (``exclude_unset``), so the log keeps exactly the shape it always had: add fields here,
# never rename them.


class EventData(BaseModel):
    """The data of one event; each kind has its own subclass."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClassVar[EventKind]

    #: The round the event happened in (absent before the table started).
    round: int | None = None

    def given(self, field: str) -> bool:
        """Whether the event says anything about ``field`` (None included)."""
        return field in self.model_fields_set

    def dumped(self) -> dict[str, Any]:
        """The data as logged: the fields given, in JSON types."""
        return self.model_dump(mode="json", exclude_unset=True)


class TurnChange(EventData):
    """An event that may hand the turn on: who moves next, in which round, by when."""

    turn: str | None = None
    next_round: int | None = None
    #: ISO 8601 UTC; None when no clock runs (the table closed).
    deadline: str | None = None

    @property
    def moves_turn(self) -> bool:
        """Whether the event names who moves next."""
        return self.given("turn")

    @property
    def deadline_at(self) -> datetime | None:
        """The deadline as a datetime."""
        return datetime.fromisoformat(self.deadline) if self.deadline else None


class TableOpened(EventData):
    kind = EventKind.TABLE_OPENED
    scenario: str
    variant: str
    sequencing: str
    title: str = ""
    rules: dict[str, Any] = Field(default_factory=dict)
    #: A student's practice table against counterparts (logged only when true).
    practice: bool = False


class MemberJoined(EventData):
    kind = EventKind.MEMBER_JOINED
    user_id: str
    name: str
    delegation: str | None = None
    role: str | None = None


class MemberLeft(EventData):
    kind = EventKind.MEMBER_LEFT
    user_id: str


class MemberAssigned(EventData):
    kind = EventKind.MEMBER_ASSIGNED
    user_id: str
    name: str
    delegation: str | None = None
    role: str | None = None
    previous: str | None = None
    #: ``succession`` when a head left and the next member took over.
    reason: str | None = None


class TableStarted(TurnChange):
    kind = EventKind.TABLE_STARTED
    order: list[str]


class OfferTabled(TurnChange):
    kind = EventKind.OFFER_TABLED
    delegation: str
    give: list[str]
    ask: list[str]
    note: str = ""
    #: The other delegation's offer this one answers, or None.
    answers: int | None = None
    #: The delegation's own standing offer this one replaces, or None.
    revises: int | None = None
    weight_given: int = 0
    weight_asked: int = 0
    #: Given minus asked public weight, when the balance policy advises against it.
    imbalance: int | None = None
    #: A chair's draft: it names items of any delegations (logged only when true).
    draft: bool = False


class OfferAccepted(TurnChange):
    kind = EventKind.OFFER_ACCEPTED
    offer: int
    delegation: str
    #: The delegations that have accepted the offer so far, this one included.
    accepted: list[str] = Field(default_factory=list)
    #: Those whose acceptance is still needed (under a quorum: who could still give it).
    waiting: list[str] = Field(default_factory=list)


class AgreementReached(TurnChange):
    kind = EventKind.AGREEMENT_REACHED
    offer: int
    items: list[str]
    delegations: list[str] = Field(default_factory=list)


class OfferRejected(TurnChange):
    kind = EventKind.OFFER_REJECTED
    offer: int
    reason: str = ""


class TurnPassed(TurnChange):
    kind = EventKind.TURN_PASSED


class TurnExpired(TurnChange):
    kind = EventKind.TURN_EXPIRED
    delegation: str


class Statement(EventData):
    kind = EventKind.STATEMENT
    text: str


class WalkedAway(TurnChange):
    kind = EventKind.WALKED_AWAY
    delegation: str


class TablePaused(EventData):
    kind = EventKind.TABLE_PAUSED
    remaining_seconds: float
    #: Why the table paused when no facilitator paused it (``idle``).
    reason: str | None = None


class TableResumed(TurnChange):
    kind = EventKind.TABLE_RESUMED


class DeadlineExtended(TurnChange):
    kind = EventKind.DEADLINE_EXTENDED
    minutes: float
    remaining_seconds: float | None = None
    #: Why, when no facilitator extended it (``outage``: the bot was away past a deadline).
    reason: str | None = None


class EventInjected(EventData):
    kind = EventKind.EVENT_INJECTED
    event: str
    title: str
    prompt: str
    #: The inject's text as posted (kept so a later edit of prompts/ changes nothing).
    text: str | None = None


class ActionReverted(TurnChange):
    kind = EventKind.ACTION_REVERTED
    reverts: list[int]
    remaining_seconds: float | None = None


class ActionRefused(EventData):
    kind = EventKind.ACTION_REFUSED
    code: str
    message: str
    command: str
    args: dict[str, Any] = Field(default_factory=dict)


class CaucusMessage(EventData):
    kind = EventKind.CAUCUS_MESSAGE
    delegation: str | None = None
    text: str


class Score(BaseModel):
    """A delegation's score (its private values of what is agreed) and BATNA."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    score: int
    batna: int


#: How a table closed, in words, by its close reason.
CLOSE_REASONS = {
    "walked_away": "a delegation walked away",
    "max_rounds": "the last round was played",
    "package_agreed": "the package was agreed",
    "all_agreed": "every item was agreed",
    "facilitator": "a facilitator ended it with /session end",
}


class TableClosed(EventData):
    kind = EventKind.TABLE_CLOSED
    #: ``walked_away``, ``max_rounds``, ``package_agreed``, ``all_agreed``, ``facilitator``.
    reason: str
    agreed: list[str] = Field(default_factory=list)
    scores: dict[str, Score] = Field(default_factory=dict)
    #: The offer still on the table when it closed (it was never answered), or None.
    withdrawn: int | None = None
    #: An offer tabled on the very last turn, which closed the table (also ``withdrawn``).
    last_offer: int | None = None


class ReminderSent(EventData):
    kind = EventKind.REMINDER_SENT
    delegation: str | None = None
    deadline: str | None = None


class CounterpartSeated(EventData):
    kind = EventKind.COUNTERPART_SEATED
    delegation: str
    strategy: str
    think_seconds: float
    seed: int = 0
    #: The counterpart's member id and name at the table.
    user_id: str
    name: str
    #: The person who was the delegation's head, now a member while the counterpart sits.
    demoted: str | None = None


class CounterpartUnseated(EventData):
    kind = EventKind.COUNTERPART_UNSEATED
    delegation: str
    user_id: str
    #: The person made head again (the one the seat demoted, if still in the delegation).
    restored: str | None = None


#: The data model of each kind.
DATA_MODELS: dict[EventKind, type[EventData]] = {
    model.kind: model
    for model in (
        TableOpened,
        MemberJoined,
        MemberLeft,
        MemberAssigned,
        TableStarted,
        OfferTabled,
        OfferAccepted,
        AgreementReached,
        OfferRejected,
        TurnPassed,
        TurnExpired,
        Statement,
        WalkedAway,
        TablePaused,
        TableResumed,
        DeadlineExtended,
        EventInjected,
        ActionReverted,
        ActionRefused,
        CaucusMessage,
        TableClosed,
        ReminderSent,
        CounterpartSeated,
        CounterpartUnseated,
    )
}
assert set(DATA_MODELS) == set(EventKind), "every kind needs its data model"


class NewEvent(BaseModel):
    """An event the engine decided on, before the log gives it a number and a time.

    ``data`` may be given as a dict: it is validated by the model of ``kind``.
    """

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    actor: Actor | None = None
    data: SerializeAsAny[EventData]

    @model_validator(mode="before")
    @classmethod
    def _data_of_kind(cls, value: Any) -> Any:
        if isinstance(value, dict) and "kind" in value:
            kind = value["kind"]
            model = DATA_MODELS[kind if isinstance(kind, EventKind) else EventKind(kind)]
            data = value.get("data", {})
            if isinstance(data, EventData):
                if not isinstance(data, model):
                    raise ValueError(f"{type(data).__name__} is not the data of {model.kind}")
            else:
                value = {**value, "data": model.model_validate(data or {})}
        return value

    def with_data(self, **more: Any) -> Self:
        """The same event with more (or other) data: the engine's own values, of the
        fields' types (unknown fields are refused, as on every write; the store checks
        every event's data against its model again when it reads it back)."""
        model = type(self.data)
        unknown = set(more) - set(model.model_fields)
        if unknown:
            raise ValueError(f"{model.kind} has no field {', '.join(sorted(unknown))}")
        return self.model_copy(update={"data": self.data.model_copy(update=more)})


class Event(NewEvent):
    """An event as logged: numbered per table and stamped in UTC."""

    seq: int = Field(ge=1)
    at: AwareDatetime

    @classmethod
    def stamp(cls, new: NewEvent, seq: int, at: datetime) -> Event:
        """Number and time a decided event."""
        return cls(kind=new.kind, actor=new.actor, data=new.data, seq=seq, at=at)


def begins_undo_step(event: NewEvent) -> bool:
    """Whether the facilitator's undo may revert this event (with what followed from it):
    a turn action, or a facilitator's /session end."""
    if event.kind in UNDOABLE_KINDS:
        return True
    return isinstance(event.data, TableClosed) and event.data.reason == "facilitator"


def note_facilitator(found: dict[str, str], event: Event) -> None:
    """Add the event's actor to ``found`` (user id to name) if they acted as a facilitator.

    An assignment counts only when it placed someone else: where players may choose
    their delegation, a player's own move is logged as ``member_assigned`` too.
    """
    actor = event.actor
    if actor is None:
        return
    placed_other = isinstance(event.data, MemberAssigned) and event.data.user_id != actor.user_id
    if event.kind in FACILITATOR_KINDS or placed_other:
        found.setdefault(actor.user_id, actor.name)
