"""The ``parley-log/1`` export as pydantic models, and its JSON Schema.

The models mirror :func:`bot.review.export.export_dict` field by field; the events are a
union discriminated on ``kind``, one model per kind, whose ``data`` is that kind's model
from :data:`bot.domain.events.DATA_MODELS`. So the schema follows the event models: a
field added to an event's data is in the schema with no edit here.

:func:`export_schema` gives the JSON Schema (draft 2020-12) that ``parley schema``
prints. :class:`ExportedEvent` is one exported event read back as the typed
:class:`~bot.domain.events.Event` (plus ``reverted_by``), which is what the review pages
read: :func:`parse_events` parses an export's events once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from bot.analysis import Move
from bot.domain.events import DATA_MODELS, Actor, Event
from bot.domain.scenario import Scenario, Sequencing
from bot.domain.state import Phase

FORMAT = "parley-log/1"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://parley.invalid/schema/parley-log-1.json"
SCHEMA_TITLE = "Parley table log (parley-log/1)"

#: A time as the export writes it: ISO 8601 in UTC, ending in ``Z``.
UtcTime = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$",
        json_schema_extra={"format": "date-time"},
    ),
]


def utc_text(event: Event) -> str:
    """The event's time as the export writes it (``2025-03-01T10:00:00Z``)."""
    return event.at.isoformat().replace("+00:00", "Z")


# -- one exported event, read back --------------------------------------------------------


class ExportedEvent(Event):
    """An event of the export, typed: the logged :class:`Event` and what undid it."""

    #: The ``action_reverted`` event that undid this one, or None.
    reverted_by: int | None = None

    @property
    def at_text(self) -> str:
        """The time as the export writes it."""
        return utc_text(self)


def parse_events(events: Iterable[Mapping[str, Any] | ExportedEvent]) -> list[ExportedEvent]:
    """An export's events as typed events (ones already parsed are kept as they are)."""
    return [e if isinstance(e, ExportedEvent) else ExportedEvent.model_validate(e) for e in events]


# -- the export's parts -----------------------------------------------------------------------


class _Part(BaseModel):
    """A part of the export: exactly the keys ``export_dict`` writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Facilitator(_Part):
    """Someone who acted as a facilitator at the table."""

    user_id: str
    name: str


class TableInfo(_Part):
    """The table: where it lives, its rules and where it got to."""

    id: int
    title: str
    scenario: str
    variant: str
    sequencing: Sequencing
    guild_id: str | None
    channel_id: str | None
    opened_at: UtcTime
    closed_at: UtcTime | None
    phase: Phase
    round: int
    facilitators: list[Facilitator]


class MemberInfo(_Part):
    """Someone who joined the table; an observer has no delegation."""

    user_id: str
    name: str
    delegation: str | None
    role: str | None
    left: bool


class EventRecord(_Part):
    """An exported event: ``seq``, ``at``, ``kind``, ``actor``, ``data``, ``reverted_by``.

    Each kind has its own subclass (:data:`EVENT_MODELS`), whose ``kind`` is a constant
    and whose ``data`` is that kind's model.
    """

    seq: int = Field(ge=1)
    at: UtcTime


def _event_model(kind: str, data: type[BaseModel]) -> type[EventRecord]:
    fields: dict[str, Any] = {
        "kind": (Literal[kind], ...),
        # who did it; null for the bot
        "actor": (Actor | None, ...),
        "data": (data, ...),
        # the action_reverted event that undid this one, or null
        "reverted_by": (int | None, ...),
    }
    return create_model(
        f"{data.__name__}Event",
        __base__=EventRecord,
        __doc__=f"An exported event of kind `{kind}`.",
        **fields,
    )


#: One model per kind of event.
EVENT_MODELS: dict[str, type[EventRecord]] = {
    kind.value: _event_model(kind.value, model) for kind, model in DATA_MODELS.items()
}

if TYPE_CHECKING:
    AnyEvent = EventRecord
else:
    AnyEvent = Annotated[Union[tuple(EVENT_MODELS.values())], Field(discriminator="kind")]  # noqa: UP007


class AgreedItem(_Part):
    """An agreed item, with the agreement that settled it."""

    item: str
    title: str
    basket: str
    giver: str
    text: str
    agreement_seq: int
    round: int


class AgreementInfo(_Part):
    """One agreement: the accepted offer and its items."""

    seq: int
    offer: int
    round: int
    items: list[str]


class OutcomeScore(_Part):
    """A delegation's score against its BATNA (no margin when nothing was agreed)."""

    score: int
    batna: int
    margin: int
    beats_batna: bool


class Outcome(_Part):
    """How the table ended (or stands): agreements, scores and refusals."""

    phase: Phase
    reason: str | None
    rounds: int
    agreed: list[AgreedItem]
    agreements: list[AgreementInfo]
    scores: dict[str, OutcomeScore]
    joint_gain: int
    #: Refused attempts by code.
    refusals: dict[str, int]


class AnalysisPoint(_Part):
    """An outcome of the space: its items and each offering delegation's utility."""

    items: list[str]
    scores: dict[str, int]


class AnalysisOffer(_Part):
    """A tabled offer (not undone) in the negotiation dance: each offering delegation's
    utility of what was agreed when it was tabled plus its items, and the offering
    delegation's move since its previous offer (null for its first)."""

    seq: int = Field(ge=1)
    delegation: str
    scores: dict[str, int]
    move: Move | None


class AnalysisOutcome(_Part):
    """The measures of the table's outcome (no deal: each delegation keeps its BATNA)."""

    scores: dict[str, int]
    gains: dict[str, int]
    joint_gain: int
    left_on_table: int
    pareto_optimal: bool
    distance_to_frontier: float = Field(ge=0)
    #: Null when the zone of possible agreement is empty (no Nash point).
    distance_to_nash: float | None = Field(ge=0)


class Analysis(_Part):
    """What the outcome space of the table's rule mode says of the table (ANALYTICS.md).

    Only ``sequencing`` and ``offers`` are required, so a partial analysis (an older
    writer's) still validates; ``export_dict`` writes every key.
    """

    #: The sequencing rule of the table's variant.
    sequencing: Sequencing
    offers: list[AnalysisOffer]
    variant: str | None = None
    #: True under ``parallel``: the space counts any set of items, an upper bound.
    upper_bound: bool = False
    #: How many outcomes the mode allows, and how many of them are in the ZOPA.
    outcomes: int = Field(default=0, ge=0)
    zopa: int = Field(default=0, ge=0)
    #: Null when the mode allows no outcome at all.
    max_joint_gain: int | None = None
    #: Null when the ZOPA is empty.
    nash: AnalysisPoint | None = None
    kalai: AnalysisPoint | None = None
    #: The Pareto frontier for two offering delegations (empty for more).
    frontier: list[AnalysisPoint] = Field(default_factory=list)
    outcome: AnalysisOutcome | None = None


class ParleyLog(BaseModel):
    """The ``parley-log/1`` export of one table.

    ``analysis`` is optional (older exports have none); keys beyond these may be added by
    later versions.
    """

    model_config = ConfigDict(extra="allow", frozen=True, title=SCHEMA_TITLE)

    format: Literal["parley-log/1"]
    table: TableInfo
    scenario: Scenario
    members: list[MemberInfo]
    events: list[AnyEvent]
    outcome: Outcome
    #: The table's copy of its prompt texts, by path relative to prompts/.
    prompts: dict[str, str]
    #: The value created and left on the table, and the negotiation dance.
    analysis: Analysis | None = None


def export_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the ``parley-log/1`` export."""
    schema = ParleyLog.model_json_schema(mode="validation")
    return {"$schema": SCHEMA_DIALECT, "$id": SCHEMA_ID, **schema, "title": SCHEMA_TITLE}
