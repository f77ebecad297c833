"""A table's state, rebuilt by applying its events in order.

Events carry the facts the engine decided (whose turn follows, the next deadline), so
applying one never consults a clock or a random source: replay is deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from types import EllipsisType
from typing import NamedTuple

from bot.domain import events as ev
from bot.domain.events import (
    CONSEQUENCE_KINDS,
    TURN_ACTION_KINDS,
    Event,
    EventKind,
    begins_undo_step,
    note_facilitator,
)
from bot.domain.scenario import Acceptance, Basket, Item, RuleSet, Scenario, Sequencing


class Phase(StrEnum):
    """Where a table is in its life."""

    SETUP = "setup"
    NEGOTIATING = "negotiating"
    PAUSED = "paused"
    CLOSED = "closed"


@dataclass(frozen=True)
class Member:
    """Someone at the table; an observer has no delegation."""

    user_id: str
    name: str
    delegation: str | None = None
    role: str | None = None
    #: The strategy of a seated counterpart (a member the bot plays), else None.
    counterpart: str | None = None


@dataclass(frozen=True)
class Seat:
    """A delegation the bot plays with a scripted strategy, as its head."""

    delegation: str
    strategy: str
    think_seconds: float
    seed: int
    user_id: str
    #: The person the seat made a member (head again when the seat is given back).
    demoted: str | None = None


@dataclass(frozen=True)
class StandingOffer:
    """The one offer on the table, as tabled."""

    seq: int
    by: str
    give: tuple[str, ...]
    ask: tuple[str, ...]
    note: str = ""
    answers: int | None = None
    accepted_by: tuple[str, ...] = ()

    imbalance: int | None = None
    #: A chair's draft (items of any delegations).
    draft: bool = False

    @classmethod
    def tabled(cls, event: Event) -> StandingOffer:
        """The offer an ``offer_tabled`` event put on the table."""
        data = event.data
        assert isinstance(data, ev.OfferTabled)
        return cls(
            event.seq,
            data.delegation,
            tuple(data.give),
            tuple(data.ask),
            data.note,
            data.answers,
            imbalance=data.imbalance,
            draft=data.draft,
        )

    @property
    def items(self) -> tuple[str, ...]:
        """Every item the offer names, given first."""
        return self.give + self.ask


@dataclass(frozen=True)
class Support:
    """Who stands behind an offer, under the table's acceptance rule."""

    #: The delegations that have accepted it, in the order they did.
    accepted: tuple[str, ...]
    #: Whose acceptance is still needed (under a quorum: every delegation that could
    #: still give one of the acceptances needed).
    waiting: tuple[str, ...]
    #: How many more acceptances it needs to become an agreement.
    needed: int


@dataclass
class Agreement:
    """Items agreed together, from one accepted offer."""

    seq: int
    offer: int
    items: tuple[str, ...]
    round: int


@dataclass(frozen=True)
class UndoStep:
    """A turn action the facilitator may undo: its events and the round before it."""

    seqs: tuple[int, ...]
    round: int


class Opened(NamedTuple):
    """What is open to trade, with the number of agreements it was worked out from (only
    an agreement opens a basket or takes an item off the table)."""

    agreements: int
    #: The ids of ``open_baskets()``.
    baskets: frozenset[str]
    #: ``open_items()``, and their ids in the same order.
    items: tuple[Item, ...]
    ids: tuple[str, ...]


@dataclass
class TableState:
    """Everything the rules need to know about one table."""

    scenario: Scenario
    variant: str
    rules: RuleSet
    title: str = ""
    phase: Phase = Phase.SETUP
    members: dict[str, Member] = field(default_factory=dict)
    order: tuple[str, ...] = ()
    turn: str | None = None
    round: int = 0
    standing: StandingOffer | None = None
    agreements: list[Agreement] = field(default_factory=list)
    deadline: datetime | None = None
    remaining_seconds: float | None = None
    reminded: bool = False
    close_reason: str | None = None
    undoable: list[UndoStep] = field(default_factory=list)
    last_seq: int = 0
    #: Every offer ever tabled (undone ones too), by sequence number, as tabled.
    offers: dict[int, StandingOffer] = field(default_factory=dict)
    #: Turns expired in a row with nobody acting (a whole round of them pauses the table).
    idle_expiries: int = 0
    #: Why the table is paused when no facilitator paused it (``idle``), else None.
    pause_reason: str | None = None
    #: Who has acted as a facilitator here (user id to name, in order of first act).
    facilitators: dict[str, str] = field(default_factory=dict)
    #: Refused attempts so far, by refusal code.
    refusals: dict[str, int] = field(default_factory=dict)
    #: Delegations a counterpart plays, by delegation id.
    seats: dict[str, Seat] = field(default_factory=dict)
    #: When the turn on move began (or its clock last restarted): a counterpart's think
    #: time counts from here.
    turn_began: datetime | None = None
    #: ``agreed`` as last computed, with the number of agreements it was computed from.
    _agreed: tuple[int, dict[str, int], frozenset[str]] = field(
        default=(0, {}, frozenset()), repr=False, compare=False
    )
    #: What is open to trade as last worked out (see ``Opened``).
    _open: Opened = field(default=Opened(-1, frozenset(), (), ()), repr=False, compare=False)

    def snapshot(self) -> TableState:
        """A copy that later events will not change (the scenario is shared: it is frozen).

        Taken after every action, so it copies only the containers events change in place
        (members and the standing offer are replaced, never changed, when events apply).
        """
        copied = TableState.__new__(TableState)  # copy.copy, without its generic protocol
        copied.__dict__.update(self.__dict__)
        copied.members = dict(self.members)
        copied.agreements = list(self.agreements)
        copied.undoable = list(self.undoable)
        copied.offers = dict(self.offers)
        copied.facilitators = dict(self.facilitators)
        copied.refusals = dict(self.refusals)
        copied.seats = dict(self.seats)
        return copied

    # -- questions the rules and the adapters ask ------------------------------------

    @property
    def agreed(self) -> dict[str, int]:
        """Agreed item ids, in the order agreed, mapped to their agreement's seq.

        Agreements are only ever appended (an undo folds a new state), so the mapping is
        kept until their number changes. Callers must not change it.
        """
        return self._agreed_now()[1]

    @property
    def agreed_baskets(self) -> frozenset[str]:
        """Baskets with at least one agreed item."""
        return self._agreed_now()[2]

    def _agreed_now(self) -> tuple[int, dict[str, int], frozenset[str]]:
        if self._agreed[0] != len(self.agreements):
            agreed = {item: a.seq for a in self.agreements for item in a.items}
            baskets = frozenset(self.item(i).basket for i in agreed)
            self._agreed = (len(self.agreements), agreed, baskets)
        return self._agreed

    def member(self, user_id: str) -> Member | None:
        """The member with this user id, if they are at the table."""
        return self.members.get(user_id)

    def delegation_members(self, delegation: str) -> list[Member]:
        """Members of a delegation, heads first."""
        found = [m for m in self.members.values() if m.delegation == delegation]
        return sorted(found, key=lambda m: (m.role != "head", m.name.lower()))

    def head(self, delegation: str) -> Member | None:
        """The delegation's head, if it has one."""
        return next((m for m in self.delegation_members(delegation) if m.role == "head"), None)

    def seat_on_move(self) -> Seat | None:
        """The counterpart whose turn it is, while the table negotiates."""
        if self.phase is not Phase.NEGOTIATING or self.turn is None:
            return None
        return self.seats.get(self.turn)

    def support(self, offer: StandingOffer, also: str | None = None) -> Support:
        """Who has accepted ``offer`` (with ``also``, about to) and who is still needed.

        ``all``: every other offering delegation. ``givers``: every other delegation giving
        an item in it (if none does, any one other delegation). ``quorum``: those givers,
        and enough others that ``quorum`` delegations support it, its proposer included.
        """
        accepted = offer.accepted_by + ((also,) if also and also not in offer.accepted_by else ())
        others = [d for d in self.order if d != offer.by]
        open_ = [d for d in others if d not in accepted]
        givers = {self.item(i).giver for i in offer.items} - {offer.by}
        missing = [d for d in open_ if d in givers]
        match self.rules.acceptance:
            case Acceptance.ALL:
                return Support(accepted, tuple(open_), len(open_))
            case Acceptance.GIVERS:
                if givers:
                    return Support(accepted, tuple(missing), len(missing))
                return Support(accepted, () if accepted else tuple(open_), 0 if accepted else 1)
        quorum = self.rules.quorum or len(self.order)
        short = max(0, quorum - 1 - len(accepted) - len(missing))
        waiting = missing + ([d for d in open_ if d not in givers] if short else [])
        return Support(accepted, tuple(waiting), len(missing) + short)

    def basket_is_open(self, basket: Basket) -> bool:
        """Whether the sequencing mode lets items of ``basket`` be traded now."""
        return self.blocking_basket(basket) is None

    def blocking_basket(self, basket: Basket) -> Basket | None:
        """The first earlier gated basket with nothing agreed, which keeps ``basket`` shut."""
        if self.rules.sequencing is not Sequencing.SINGAPORE or not basket.gated:
            return None
        agreed_baskets = self.agreed_baskets
        for earlier in self.scenario.baskets_in_order():
            if earlier.order >= basket.order:
                return None
            if earlier.gated and earlier.id not in agreed_baskets:
                return earlier
        return None

    def open_baskets(self) -> list[Basket]:
        """Baskets whose items may be offered now, in order."""
        ordered = self.scenario.baskets_in_order()
        if self.rules.sequencing is not Sequencing.SINGAPORE:
            return ordered
        agreed = self.agreed_baskets
        found, shut = [], False
        for basket in ordered:
            if not basket.gated:
                found.append(basket)
            elif not shut:
                found.append(basket)
                shut = basket.id not in agreed  # later gated baskets wait for this one
        return found

    def item(self, item_id: str) -> Item:
        """The scenario item with this id (it must exist)."""
        found = self.scenario.item(item_id)
        if found is None:
            raise KeyError(item_id)
        return found

    def open_items(self, giver: str | None = None) -> list[Item]:
        """Items not yet agreed whose basket is open, optionally only one giver's.

        Like ``agreed``, worked out again only when the number of agreements changes.
        """
        return [item for item in self._open_now().items if giver is None or item.giver == giver]

    def open_ids(self) -> tuple[str, ...]:
        """The ids of ``open_items()``, in the same order (kept like them: a counterpart
        asks on every move)."""
        return self._open_now().ids

    def open_basket_ids(self) -> frozenset[str]:
        """The ids of ``open_baskets()`` (kept like ``open_items()``: every offer is
        checked against them)."""
        return self._open_now().baskets

    def _open_now(self) -> Opened:
        if self._open.agreements != len(self.agreements):
            agreed = self.agreed
            baskets = frozenset(b.id for b in self.open_baskets())
            found = tuple(
                i for i in self.scenario.items if i.id not in agreed and i.basket in baskets
            )
            self._open = Opened(len(self.agreements), baskets, found, tuple(i.id for i in found))
        return self._open

    def score(self, delegation: str) -> int:
        """The sum of the delegation's private values of every agreed item."""
        return sum(self.item(i).values.get(delegation, 0) for i in self.agreed)

    def scores(self) -> dict[str, dict[str, int]]:
        """Each delegation's score and BATNA."""
        return {
            d.id: {"score": self.score(d.id), "batna": d.batna} for d in self.scenario.delegations
        }


def new_state(scenario: Scenario, opened: Event) -> TableState:
    """The state of a table right after its ``table_opened`` event."""
    data = opened.data
    assert isinstance(data, ev.TableOpened)
    return TableState(
        scenario=scenario,
        variant=data.variant,
        rules=scenario.rules_for(data.variant),
        title=data.title,
        last_seq=opened.seq,
    )


def apply(state: TableState, event: Event) -> None:
    """Apply one event to ``state`` in place (``action_reverted`` excepted: see Replay)."""
    state.last_seq = event.seq
    round_before = state.round
    handler = _APPLY.get(event.kind)
    if handler is not None:
        handler(state, event)
    if isinstance(event.data, ev.TurnChange):
        _set_turn(state, event.data, event.at)
    if event.kind in TURN_ACTION_KINDS:
        state.idle_expiries = 0
    if begins_undo_step(event):
        state.undoable.append(UndoStep((event.seq,), round_before))
    elif event.kind in CONSEQUENCE_KINDS and state.undoable and _continues_group(state, event):
        step = state.undoable[-1]
        state.undoable[-1] = UndoStep((*step.seqs, event.seq), step.round)


def _continues_group(state: TableState, event: Event) -> bool:
    """Whether an agreement, a close or an idle pause belongs to the action just before it."""
    return state.undoable[-1].seqs[-1] == event.seq - 1


def _set_turn(state: TableState, data: ev.TurnChange, at: datetime) -> None:
    given = data.model_fields_set  # what the event says (see EventData.given)
    if "turn" in given or "deadline" in given:
        state.turn_began = at
    if "turn" in given:
        state.turn = data.turn
    if "next_round" in given and data.next_round is not None:
        state.round = data.next_round
    if "deadline" in given:
        state.deadline = data.deadline_at
        state.reminded = False


def _member_joined(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.MemberJoined)
    state.members[data.user_id] = Member(
        user_id=data.user_id, name=data.name, delegation=data.delegation, role=data.role
    )


def _member_left(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.MemberLeft)
    state.members.pop(data.user_id, None)


def _member_assigned(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.MemberAssigned)
    member = state.members.get(data.user_id) or Member(data.user_id, data.name)
    state.members[data.user_id] = replace(member, delegation=data.delegation, role=data.role)


def _counterpart_seated(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.CounterpartSeated)
    if data.demoted is not None and data.demoted in state.members:
        state.members[data.demoted] = replace(state.members[data.demoted], role="member")
    state.members[data.user_id] = Member(
        data.user_id, data.name, data.delegation, "head", counterpart=data.strategy
    )
    state.seats[data.delegation] = Seat(
        data.delegation, data.strategy, data.think_seconds, data.seed, data.user_id, data.demoted
    )


def _counterpart_unseated(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.CounterpartUnseated)
    state.members.pop(data.user_id, None)
    state.seats.pop(data.delegation, None)
    if data.restored is not None and data.restored in state.members:
        state.members[data.restored] = replace(state.members[data.restored], role="head")


def _table_started(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.TableStarted)
    state.phase = Phase.NEGOTIATING
    state.order = tuple(data.order)


def _offer_tabled(state: TableState, event: Event) -> None:
    # A replay has put the offer in ``offers`` already (the same frozen value).
    state.standing = state.offers.get(event.seq) or StandingOffer.tabled(event)


def _offer_accepted(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.OfferAccepted)
    if state.standing is not None:
        accepted = (*state.standing.accepted_by, data.delegation)
        state.standing = replace(state.standing, accepted_by=accepted)


def _agreement_reached(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.AgreementReached)
    state.agreements.append(
        Agreement(
            seq=event.seq,
            offer=data.offer,
            items=tuple(data.items),
            round=data.round if data.round is not None else state.round,
        )
    )
    state.standing = None


def _offer_cleared(state: TableState, event: Event) -> None:
    state.standing = None


def _turn_expired(state: TableState, event: Event) -> None:
    state.idle_expiries += 1


def _table_paused(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.TablePaused)
    state.phase = Phase.PAUSED
    state.remaining_seconds = data.remaining_seconds
    state.pause_reason = data.reason
    state.deadline = None
    state.idle_expiries = 0


def _table_resumed(state: TableState, event: Event) -> None:
    state.phase = Phase.NEGOTIATING
    state.remaining_seconds = None
    state.pause_reason = None


def _deadline_extended(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.DeadlineExtended)
    if data.remaining_seconds is not None:
        state.remaining_seconds = data.remaining_seconds


def _reminder_sent(state: TableState, event: Event) -> None:
    state.reminded = True


def _table_closed(state: TableState, event: Event) -> None:
    data = event.data
    assert isinstance(data, ev.TableClosed)
    state.phase = Phase.CLOSED
    state.close_reason = data.reason
    state.standing = None
    state.deadline = None
    state.remaining_seconds = None
    state.turn = None


_APPLY: dict[EventKind, Callable[[TableState, Event], None]] = {
    EventKind.MEMBER_JOINED: _member_joined,
    EventKind.MEMBER_LEFT: _member_left,
    EventKind.MEMBER_ASSIGNED: _member_assigned,
    EventKind.TABLE_STARTED: _table_started,
    EventKind.OFFER_TABLED: _offer_tabled,
    EventKind.OFFER_ACCEPTED: _offer_accepted,
    EventKind.AGREEMENT_REACHED: _agreement_reached,
    EventKind.OFFER_REJECTED: _offer_cleared,
    EventKind.TURN_EXPIRED: _turn_expired,
    EventKind.WALKED_AWAY: _offer_cleared,
    EventKind.TABLE_PAUSED: _table_paused,
    EventKind.TABLE_RESUMED: _table_resumed,
    EventKind.DEADLINE_EXTENDED: _deadline_extended,
    EventKind.REMINDER_SENT: _reminder_sent,
    EventKind.TABLE_CLOSED: _table_closed,
    EventKind.COUNTERPART_SEATED: _counterpart_seated,
    EventKind.COUNTERPART_UNSEATED: _counterpart_unseated,
}


#: Events that never change the state (beyond its last sequence number): not kept.
_INERT = frozenset(
    {
        EventKind.ACTION_REFUSED,
        EventKind.STATEMENT,
        EventKind.CAUCUS_MESSAGE,
        EventKind.EVENT_INJECTED,
    }
)

#: How many kept events between two checkpoints of the state.
CHECKPOINT_EVERY = 256
#: How many kept events a replay holds for undo at least; older ones are let go (and read
#: from the log again in the rare case an undo reaches back that far).
WINDOW = 2048


class HistoryNeeded(Exception):
    """An undo reaches back past the events a replay holds: fold the log again with
    ``keep_from=seq``."""

    def __init__(self, seq: int) -> None:
        super().__init__(f"the undo reaches back to event {seq}, before this replay's window")
        self.seq = seq


class Replay:
    """A table's events folded into its state, undo included.

    Undo is an event (``action_reverted``) naming the events it cancels; the state is
    then the fold of every event except the cancelled ones. Nothing is ever removed
    from the log itself. To undo without folding the whole table again, the replay keeps
    a *base* state and the events folded since (at least :data:`WINDOW` of them, not
    counting those that change nothing), with a copy of the state every
    :data:`CHECKPOINT_EVERY`; the fold restarts from the last copy before the cancelled
    events. As the table grows the base moves up to a later copy, so memory stays bounded;
    the base is also what to keep beside the log as a snapshot (:meth:`resume`).

    An undo that reaches before the base raises :class:`HistoryNeeded`, before anything
    changes: fold the log again with ``keep_from`` set to what it names.
    """

    def __init__(
        self,
        scenario: Scenario,
        events: Iterable[Event] = (),
        *,
        window: int | EllipsisType | None = ...,
        keep_from: int | None = None,
    ) -> None:
        self.scenario = scenario
        #: Kept events to hold at least (None: all of them; by default :data:`WINDOW`).
        self.window = WINDOW if window is ... else window
        #: Never let go of events from this sequence number on (None: no such limit).
        self.keep_from = keep_from
        self._reset()
        try:
            for event in events:
                self.apply(event)
        except HistoryNeeded as needed:
            if not isinstance(events, Sequence):
                raise
            self._reset()
            self.keep_from = needed.seq
            for event in events:
                self.apply(event)

    def _reset(self) -> None:
        self._base: TableState | None = None
        self._kept: list[Event] = []
        self._checkpoints: list[tuple[int, TableState]] = []
        self._state: TableState | None = None
        self._facilitators: dict[str, str] = {}
        self._refusals: dict[str, int] = {}
        self._offers: dict[int, StandingOffer] = {}

    @classmethod
    def resume(
        cls, scenario: Scenario, state: TableState, *, window: int | None = WINDOW
    ) -> Replay:
        """Carry on from a saved state (a snapshot of some replay's :attr:`base`): undo
        reaches back to it and no further."""
        replay = cls(scenario, window=window)
        replay._state = state
        replay._base = state.snapshot()
        replay._facilitators = state.facilitators
        replay._refusals = state.refusals
        replay._offers = state.offers
        return replay

    @property
    def state(self) -> TableState:
        """The current state (the table must have its ``table_opened`` event)."""
        if self._state is None:
            raise LookupError("this table has no table_opened event")
        return self._state

    @property
    def base(self) -> TableState:
        """The oldest state this replay can go back to (do not change it)."""
        if self._base is None:
            raise LookupError("this table has no table_opened event")
        return self._base

    @property
    def held(self) -> int:
        """How many events the replay holds for undo."""
        return len(self._kept)

    def apply(self, event: Event) -> None:
        """Fold one more event in."""
        if event.kind is EventKind.ACTION_REVERTED:
            self._check_reach(event)
        note_facilitator(self._facilitators, event)
        if isinstance(event.data, ev.ActionRefused):
            self._refusals[event.data.code] = self._refusals.get(event.data.code, 0) + 1
        elif isinstance(event.data, ev.OfferTabled):
            self._offers[event.seq] = StandingOffer.tabled(event)
        if event.kind is EventKind.TABLE_OPENED:
            self._state = new_state(self.scenario, event)
            self._base = self._state.snapshot()
            self._kept = []
            self._checkpoints = []
        elif event.kind is EventKind.ACTION_REVERTED:
            self._revert(event)
        else:
            self._fold(event)
        # What no undo changes is kept beside the fold and shared (snapshots copy it).
        state = self.state
        state.facilitators, state.refusals, state.offers = (
            self._facilitators,
            self._refusals,
            self._offers,
        )

    def _check_reach(self, event: Event) -> None:
        data = event.data
        assert isinstance(data, ev.ActionReverted)
        lowest = min(data.reverts)
        if lowest <= self.base.last_seq:
            raise HistoryNeeded(lowest)

    def _fold(self, event: Event) -> None:
        apply(self.state, event)
        if event.kind in _INERT:
            return
        self._kept.append(event)
        if len(self._kept) % CHECKPOINT_EVERY == 0:
            self._checkpoints.append((len(self._kept), self.state.snapshot()))
            self._trim()

    def _trim(self) -> None:
        """Let go of the oldest kept events beyond the window: the base moves up to the
        first checkpoint."""
        if self.window is None:
            return
        while len(self._kept) > self.window and self._checkpoints:
            folded, saved = self._checkpoints[0]
            if self.keep_from is not None and saved.last_seq >= self.keep_from:
                return
            self._base = saved
            self._kept = self._kept[folded:]
            self._checkpoints = [(n - folded, s) for n, s in self._checkpoints[1:]]

    def _revert(self, event: Event) -> None:
        data = event.data
        assert isinstance(data, ev.ActionReverted)
        cancelled = set(data.reverts)
        # Kept events are in sequence order and undo cancels recent ones: walk back.
        lowest, first = min(cancelled), len(self._kept)
        while first > 0 and self._kept[first - 1].seq >= lowest:
            first -= 1
        self._kept = self._kept[:first] + [e for e in self._kept[first:] if e.seq not in cancelled]
        self._checkpoints = [(n, s) for n, s in self._checkpoints if n <= first]
        folded, saved = self._checkpoints[-1] if self._checkpoints else (0, self.base)
        state = saved.snapshot()
        for kept in self._kept[folded:]:
            apply(state, kept)
        _set_turn(state, data, event.at)
        if data.given("remaining_seconds"):
            state.remaining_seconds = data.remaining_seconds
        elif state.phase is Phase.PAUSED and state.deadline is not None:
            # An undone close of a table paused before it: the undo gave the turn a fresh
            # clock as a deadline (it saw the table closed), and a paused table holds it
            state.remaining_seconds = (state.deadline - event.at).total_seconds()
            state.deadline = None
        state.idle_expiries = 0
        state.last_seq = event.seq
        self._state = state


def replay(scenario: Scenario, events: Iterable[Event]) -> TableState:
    """The state a table's events lead to."""
    return Replay(scenario, events).state
