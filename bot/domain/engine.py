"""The negotiation rules: given a table's state, a command and the time, which events follow.

``decide`` never changes the state; it returns the events to log or raises a
:class:`Refusal`. ``due`` is the clock: the reminders and expiries a moment in time
brings. Both are pure: the current time and any randomness come in as arguments.
"""

from __future__ import annotations

import functools
import random
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain import commands as c
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.events import CLOSE_REASONS, Actor, EventKind, NewEvent
from bot.domain.scenario import Action, Balance, Delegation, Item, Scenario, Sequencing
from bot.domain.state import Member, Phase, StandingOffer, TableState

R = RefusalCode
MAX_EXTEND_MINUTES = 24 * 60
MAX_TEXT = 4000


def open_table(scenario: Scenario, who: c.Who, variant: str | None, title: str | None) -> NewEvent:
    """The ``table_opened`` event for a new table, or a refusal."""
    if not who.facilitator:
        raise Refusal(R.NOT_FACILITATOR, "Only a facilitator may open a table.")
    variants = scenario.variant_names()
    chosen = variant or variants[0]
    if chosen not in variants:
        raise Refusal(
            R.BAD_ARGUMENT,
            f"Scenario {scenario.id!r} has no sequencing variant {chosen!r}. "
            f"Choose one of: {', '.join(variants)}.",
        )
    rules = scenario.rules_for(chosen)
    return NewEvent(
        kind=EventKind.TABLE_OPENED,
        actor=Actor(user_id=who.user_id, name=who.name),
        data={
            "scenario": scenario.id,
            "variant": chosen,
            "sequencing": rules.sequencing.value,
            "title": (title or scenario.title).strip()[:200],
            "rules": rules.model_dump(mode="json"),
        },
    )


def decide(state: TableState, command: c.Command, now: datetime) -> list[NewEvent]:
    """The events ``command`` leads to, or a :class:`Refusal` saying why not."""
    handler = _HANDLERS.get(type(command))
    if handler is None:  # pragma: no cover - every command class has a handler
        raise TypeError(f"no rule for {type(command).__name__}")
    return handler(state, command, now)


def due(state: TableState, now: datetime) -> list[NewEvent]:
    """What the clock brings at ``now``: expired turns and a reminder, in order.

    A table loses at most one round to the clock while nobody acts: once every offering
    delegation's turn has expired in a row, it pauses itself (``reason: idle``).
    """
    if state.phase is not Phase.NEGOTIATING or state.deadline is None:
        return []
    events: list[NewEvent] = []
    turn, round_ = state.turn, state.round
    deadline: datetime | None = state.deadline
    turn_length = _minutes(state.rules.turn_minutes)
    idle = state.idle_expiries
    while deadline is not None and deadline <= now and turn is not None:
        expired, expired_round = turn, round_
        turn, round_, closes = _next_turn(state, turn, round_)
        deadline = None if closes else deadline + turn_length
        if closes:  # the last round stays the table's round, as when passed by hand
            turn, round_ = None, expired_round
        events.append(
            NewEvent(
                kind=EventKind.TURN_EXPIRED,
                data={
                    "delegation": expired,
                    "round": expired_round,
                    **_turn_data(turn, round_, deadline),
                },
            )
        )
        if closes:  # in the round of the last expiry, not the round ``state`` was in
            events.append(_close(state, "max_rounds").with_data(round=expired_round))
            return events
        idle += 1
        if idle >= len(state.order):
            events.append(
                NewEvent(
                    kind=EventKind.TABLE_PAUSED,
                    data={
                        "round": round_,
                        "remaining_seconds": turn_length.total_seconds(),
                        "reason": "idle",
                    },
                )
            )
            return events
    reminded = state.reminded and not events
    lead = _minutes(state.rules.reminder_minutes)
    if deadline is not None and lead and not reminded and now >= deadline - lead:
        events.append(
            NewEvent(
                kind=EventKind.REMINDER_SENT,
                data={"delegation": turn, "deadline": deadline.isoformat()},
            )
        )
    return events


def fresh_clock(state: TableState, now: datetime) -> list[NewEvent]:
    """After the bot was away past the deadline, the turn on move starts again in full.

    Nothing if the table is not negotiating or its deadline has not passed.
    """
    if state.phase is not Phase.NEGOTIATING or state.deadline is None or state.deadline > now:
        return []
    deadline = now + _minutes(state.rules.turn_minutes)
    missed = (now - state.deadline).total_seconds() / 60
    return [
        NewEvent(
            kind=EventKind.DEADLINE_EXTENDED,
            data={
                "round": state.round,
                "minutes": round(missed + state.rules.turn_minutes, 2),
                "deadline": deadline.isoformat(),
                "reason": "outage",
            },
        )
    ]


def next_wakeup(state: TableState) -> datetime | None:
    """When the clock next has something to do for this table (a reminder, an expiry,
    or a seated counterpart's move)."""
    if state.phase is not Phase.NEGOTIATING or state.deadline is None:
        return None
    lead = _minutes(state.rules.reminder_minutes)
    wakeup = state.deadline - lead if lead and not state.reminded else state.deadline
    move = counterpart_due(state)
    return min(wakeup, move) if move is not None else wakeup


def counterpart_due(state: TableState) -> datetime | None:
    """When the counterpart on move has thought enough to act (None: no counterpart on
    move): its think time after the turn began, or halfway to the deadline if less time
    than that was left (a resume with little left), so it still moves before the turn
    runs out."""
    seat = state.seat_on_move()
    if seat is None:
        return None
    began = state.turn_began or state.deadline or datetime.min.replace(tzinfo=UTC)
    thought = began + timedelta(seconds=seat.think_seconds)
    deadline = state.deadline
    if deadline is not None and began < deadline <= thought:
        return began + (deadline - began) / 2
    return thought


# -- helpers ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _minutes(minutes: float) -> timedelta:
    """A rule's length in minutes as a timedelta, made once per length: the turn length
    is asked on every move, and a scenario has only a few lengths."""
    return timedelta(minutes=minutes)


def refused(
    state: TableState | None,
    who: c.Who,
    command_name: str,
    args: dict[str, Any],
    refusal: Refusal,
) -> NewEvent:
    """The ``action_refused`` event that records an attempt the rules (or an adapter)
    refused; ``state`` is the table's, when there is one to name the actor's seat."""
    actor = _actor(state, who) if state is not None else Actor(user_id=who.user_id, name=who.name)
    data: dict[str, Any] = {
        "code": refusal.code.value,
        "message": refusal.message,
        "command": command_name,
        "args": args,
    }
    if state is not None and state.round:
        data["round"] = state.round
    return NewEvent(kind=EventKind.ACTION_REFUSED, actor=actor, data=data)


def _actor(state: TableState, who: c.Who) -> Actor:
    member = state.member(who.user_id)
    if member is None:
        return Actor(user_id=who.user_id, name=who.name)
    return _member_actor(member)


@functools.lru_cache(maxsize=1024)
def _member_actor(member: Member) -> Actor:
    """A member as the actor of an event. Both are frozen, so the actor is built once per
    member (as seated, named and placed then) and shared by the events it acts in."""
    return Actor(
        user_id=member.user_id,
        name=member.name,
        delegation=member.delegation,
        role=member.role,
        counterpart=member.counterpart,
    )


def _event(state: TableState, command: c.Command, kind: EventKind, **data: Any) -> NewEvent:
    return _event_with(state, command, kind, data)


def _event_with(
    state: TableState, command: c.Command, kind: EventKind, data: dict[str, Any]
) -> NewEvent:
    """``_event`` with its data as a dict of its own, which it completes with the round
    unless the data names one (a turn action's data is merged once, not repacked as
    keywords again)."""
    if state.round:
        data.setdefault("round", state.round)
    return NewEvent(kind=kind, actor=_actor(state, command.who), data=data)


def _require_facilitator(command: c.Command) -> None:
    if not command.who.facilitator:
        raise Refusal(
            R.NOT_FACILITATOR,
            f"Only a facilitator may use /{command.name}. Players can use /status, "
            "/items, /brief and, on their turn, /offer, /accept, /reject, /pass.",
        )


def _require_phase(state: TableState, allowed: Sequence[Phase], what: str) -> None:
    if state.phase in allowed:
        return
    why = {
        Phase.SETUP: "the table has not started yet (a facilitator starts it with /session start)",
        Phase.NEGOTIATING: "the negotiation is under way",
        Phase.PAUSED: "the table is paused (a facilitator resumes it with /session resume)",
        Phase.CLOSED: f"the table is closed ({_closed_how(state)})",
    }[state.phase]
    allowed_names = " or ".join(p.value for p in allowed)
    raise Refusal(R.WRONG_PHASE, f"You cannot {what} now: {why}. Allowed while {allowed_names}.")


def _closed_how(state: TableState) -> str:
    how = CLOSE_REASONS.get(state.close_reason or "", state.close_reason or "closed")
    return f"{how}; a facilitator can take the close back with /session undo"


def _player(state: TableState, command: c.Command) -> Member:
    member = state.member(command.who.user_id)
    if member is None or member.delegation is None:
        where = "at this table" if member is None else "in a delegation (you are observing)"
        raise Refusal(
            R.NOT_A_MEMBER,
            f"You are not {where}. Only delegation members may /{command.name}; "
            "a facilitator assigns delegations with /session assign.",
        )
    return member


def _turn_holder(state: TableState, command: c.Command, action: Action) -> Member:
    """The acting member, checked for phase, turn and role."""
    member = _player(state, command)
    if state.phase is not Phase.NEGOTIATING:  # (the words are made only for a refusal)
        _require_phase(state, [Phase.NEGOTIATING], f"/{command.name}")
    delegation = state.scenario.delegation(member.delegation or "")
    assert delegation is not None
    if not delegation.offers:
        raise Refusal(
            R.ROLE_NOT_ALLOWED,
            f"The {delegation.name} delegation does not take turns at this table; "
            "its members may make statements with /say.",
        )
    if state.turn != member.delegation:
        on_move = state.scenario.delegation(state.turn or "")
        raise Refusal(
            R.NOT_YOUR_TURN,
            f"It is the {on_move.name if on_move else '?'} delegation's turn, not yours. "
            "You may make a statement with /say while you wait.",
        )
    if not delegation.may(member.role, action):
        allowed = ", ".join(delegation.roles_allowed(action)) or "no role"
        raise Refusal(
            R.ROLE_NOT_ALLOWED,
            f"In your delegation only the {allowed} may /{command.name}; "
            f"your role is {member.role}. Ask your {allowed} to do it.",
        )
    return member


def _next_turn(state: TableState, turn: str, round_: int) -> tuple[str, int, bool]:
    """Who moves after ``turn``, the round then, and whether max rounds closes the table."""
    order = state.order
    index = (order.index(turn) + 1) % len(order)
    if index == 0:
        round_ += 1
    return order[index], round_, round_ > state.rules.max_rounds


def _turn_data(turn: str | None, next_round: int, deadline: datetime | None) -> dict[str, Any]:
    """Who moves next, in which round, by when (``round`` is kept for when it happened)."""
    return {
        "turn": turn,
        "next_round": next_round,
        "deadline": deadline.isoformat() if deadline else None,
    }


def _pass_turn(state: TableState, now: datetime) -> tuple[dict[str, Any], bool]:
    """The turn fields for the next delegation, and whether max rounds ends the table."""
    assert state.turn is not None
    turn, round_, closes = _next_turn(state, state.turn, state.round)
    if closes:
        return _turn_data(None, state.round, None), True
    deadline = now + _minutes(state.rules.turn_minutes)
    return _turn_data(turn, round_, deadline), False


def _close(
    state: TableState,
    reason: str,
    extra_agreed: Sequence[str] = (),
    last_offer: int | None = None,
) -> NewEvent:
    """The close; ``last_offer`` is an offer tabled in the same breath (on the last turn)."""
    agreed = [*state.agreed, *extra_agreed]
    withdrawn = last_offer
    if withdrawn is None and state.standing is not None and not extra_agreed:
        withdrawn = state.standing.seq
    values = [state.item(i).values for i in agreed]  # each item looked up once
    scores = {
        d.id: {"score": sum(v.get(d.id, 0) for v in values), "batna": d.batna}
        for d in state.scenario.delegations
    }
    return NewEvent(
        kind=EventKind.TABLE_CLOSED,
        data={
            "reason": reason,
            "round": state.round,
            "agreed": agreed,
            "scores": scores,
            # the offer still on the table when it closed (none once it was agreed)
            "withdrawn": withdrawn,
            **({"last_offer": last_offer} if last_offer is not None else {}),
        },
    )


def _turn_action(
    state: TableState,
    command: c.Command,
    now: datetime,
    kind: EventKind,
    data: dict[str, Any] | None = None,
) -> list[NewEvent]:
    """A turn action's event, the next turn added to its ``data`` (a dict of its own, built
    once), and the close it may cause.

    An offer tabled on the last turn is named by the close as the offer left standing:
    it is logged right before the close, so its sequence number is the next one.
    """
    turn, closes = _pass_turn(state, now)
    data = {} if data is None else data
    data.update(turn)
    event = _event_with(state, command, kind, data)
    if not closes:
        return [event]
    last_offer = state.last_seq + 1 if kind is EventKind.OFFER_TABLED else None
    return [event, _close(state, "max_rounds", last_offer=last_offer)]


# -- membership -----------------------------------------------------------------------------


def _join(state: TableState, command: c.Join, now: datetime) -> list[NewEvent]:
    _require_phase(state, [Phase.SETUP, Phase.NEGOTIATING, Phase.PAUSED], "join")
    member = state.member(command.who.user_id)
    delegation = command.delegation
    if delegation is not None:
        found = state.scenario.delegation(delegation)
        if found is None:
            known = ", ".join(d.id for d in state.scenario.delegations)
            raise Refusal(
                R.BAD_ARGUMENT, f"There is no delegation {delegation!r}; choose one of: {known}."
            )
        if not state.rules.self_select:
            raise Refusal(
                R.ROLE_NOT_ALLOWED,
                "At this table the facilitator assigns delegations. Use /join without a "
                "delegation to join as an observer; the facilitator will place you.",
            )
    if member is not None and (delegation is None or member.delegation == delegation):
        where = f"in the {member.delegation} delegation" if member.delegation else "observing"
        raise Refusal(R.BAD_ARGUMENT, f"You are already at this table, {where}.")
    role = None
    if delegation is not None:
        role = "member" if state.head(delegation) else "head"
    if member is not None:
        moved = _event(
            state,
            command,
            EventKind.MEMBER_ASSIGNED,
            user_id=member.user_id,
            name=member.name,
            delegation=delegation,
            role=role,
            previous=member.delegation,
        )
        return [moved, *_succession(state, member)]
    return [
        _event(
            state,
            command,
            EventKind.MEMBER_JOINED,
            user_id=command.who.user_id,
            name=command.who.name,
            delegation=delegation,
            role=role,
        )
    ]


def _leave(state: TableState, command: c.Leave, now: datetime) -> list[NewEvent]:
    member = state.member(command.who.user_id)
    if member is None:
        raise Refusal(R.NOT_A_MEMBER, "You are not at this table, so there is nothing to leave.")
    _require_phase(state, [Phase.SETUP, Phase.NEGOTIATING, Phase.PAUSED], "leave")
    left = _event(state, command, EventKind.MEMBER_LEFT, user_id=member.user_id)
    return [left, *_succession(state, member)]


def _succession(state: TableState, leaving: Member) -> list[NewEvent]:
    """When a head leaves their delegation, its next member (by name) becomes head."""
    if leaving.role != "head" or leaving.delegation is None:
        return []
    rest = [m for m in state.delegation_members(leaving.delegation) if m.user_id != leaving.user_id]
    if not rest:
        return []
    heir = rest[0]
    return [
        NewEvent(
            kind=EventKind.MEMBER_ASSIGNED,
            data={
                "round": state.round,
                "user_id": heir.user_id,
                "name": heir.name,
                "delegation": leaving.delegation,
                "role": "head",
                "previous": leaving.delegation,
                "reason": "succession",
            },
        )
    ]


def _assign(state: TableState, command: c.Assign, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.SETUP, Phase.NEGOTIATING, Phase.PAUSED], "assign members")
    delegation = state.scenario.delegation(command.delegation)
    if delegation is None:
        known = ", ".join(d.id for d in state.scenario.delegations)
        raise Refusal(
            R.BAD_ARGUMENT,
            f"There is no delegation {command.delegation!r}; choose one of: {known}.",
        )
    if command.role not in delegation.roles:
        raise Refusal(
            R.BAD_ARGUMENT,
            f"The {delegation.name} delegation has no role "
            f"{command.role!r}; roles: {', '.join(delegation.roles)}.",
        )
    target = command.member
    member = state.member(target.user_id)
    previous = member.delegation if member else None
    if member is not None and (member.delegation, member.role) == (delegation.id, command.role):
        raise Refusal(
            R.BAD_ARGUMENT,
            f"{member.name} is already {command.role} of the {delegation.name} delegation.",
        )
    events = []
    head = state.head(delegation.id)
    if command.role == "head" and head is not None and head.user_id != target.user_id:
        events.append(
            _event(
                state,
                command,
                EventKind.MEMBER_ASSIGNED,
                user_id=head.user_id,
                name=head.name,
                delegation=delegation.id,
                role="member",
                previous=delegation.id,
            )
        )
    name = member.name if member else target.name
    events.append(
        _event(
            state,
            command,
            EventKind.MEMBER_ASSIGNED,
            user_id=target.user_id,
            name=name,
            delegation=delegation.id,
            role=command.role,
            previous=previous,
        )
    )
    if member is not None and member.delegation != delegation.id:
        events += _succession(state, member)
    return events


def _autoassign(state: TableState, command: c.AutoAssign, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.SETUP, Phase.NEGOTIATING, Phase.PAUSED], "assign members")
    waiting = sorted(
        (m for m in state.members.values() if m.delegation is None), key=lambda m: m.user_id
    )
    if not waiting:
        raise Refusal(
            R.BAD_ARGUMENT,
            "Nobody is waiting for a delegation: everyone who "
            "joined is already placed. Players join with /join.",
        )
    rng = random.Random(command.seed)
    rng.shuffle(waiting)
    sizes = {d: len(state.delegation_members(d)) for d in state.scenario.offering}
    heads = {d for d in sizes if state.head(d) is not None}
    events = []
    for member in waiting:
        delegation = min(sizes, key=lambda d: (sizes[d], state.scenario.offering.index(d)))
        sizes[delegation] += 1
        role = "member" if delegation in heads else "head"
        heads.add(delegation)
        events.append(
            _event(
                state,
                command,
                EventKind.MEMBER_ASSIGNED,
                user_id=member.user_id,
                name=member.name,
                delegation=delegation,
                role=role,
                previous=None,
            )
        )
    return events


# -- the facilitator's clock and controls -------------------------------------------------


def _start(state: TableState, command: c.Start, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.SETUP], "start the table")
    offering = state.scenario.offering
    headless = [d for d in offering if state.head(d) is None]
    if headless:
        names = ", ".join(_name(state, d) for d in headless)
        raise Refusal(
            R.NO_HEAD,
            f"Every delegation needs a head before the table starts; "
            f"missing: {names}. Use /session assign ... role:head or /session "
            "autoassign.",
        )
    first = command.first or state.rules.first_mover or offering[0]
    if first not in offering:
        raise Refusal(
            R.BAD_ARGUMENT,
            f"{first!r} is not a delegation that makes offers; "
            f"choose one of: {', '.join(offering)}.",
        )
    index = offering.index(first)
    order = [*offering[index:], *offering[:index]]
    deadline = now + _minutes(state.rules.turn_minutes)
    return [
        _event(
            state, command, EventKind.TABLE_STARTED, order=order, **_turn_data(first, 1, deadline)
        )
    ]


def _pause(state: TableState, command: c.Pause, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.NEGOTIATING], "pause the table")
    assert state.deadline is not None
    remaining = max(0.0, (state.deadline - now).total_seconds())
    return [_event(state, command, EventKind.TABLE_PAUSED, remaining_seconds=remaining)]


def _resume(state: TableState, command: c.Resume, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.PAUSED], "resume the table")
    deadline = now + timedelta(seconds=state.remaining_seconds or 0)
    # Only the clock restarts; whose turn it is stays as the log already says.
    return [_event(state, command, EventKind.TABLE_RESUMED, deadline=deadline.isoformat())]


def _extend(state: TableState, command: c.Extend, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.NEGOTIATING, Phase.PAUSED], "extend the clock")
    if not 0 < command.minutes <= MAX_EXTEND_MINUTES:
        raise Refusal(
            R.BAD_ARGUMENT,
            f"Extend by more than 0 and at most {MAX_EXTEND_MINUTES} minutes, "
            f"not {command.minutes:g}.",
        )
    if state.phase is Phase.PAUSED:
        remaining = (state.remaining_seconds or 0) + command.minutes * 60
        return [
            _event(
                state,
                command,
                EventKind.DEADLINE_EXTENDED,
                minutes=command.minutes,
                remaining_seconds=remaining,
            )
        ]
    assert state.deadline is not None
    deadline = state.deadline + timedelta(minutes=command.minutes)
    return [
        _event(
            state,
            command,
            EventKind.DEADLINE_EXTENDED,
            minutes=command.minutes,
            deadline=deadline.isoformat(),
        )
    ]


def _inject(state: TableState, command: c.Inject, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.SETUP, Phase.NEGOTIATING, Phase.PAUSED], "post an inject")
    inject = state.scenario.inject(command.event)
    if inject is None:
        known = ", ".join(e.id for e in state.scenario.events) or "none"
        raise Refusal(
            R.BAD_ARGUMENT, f"The scenario has no event {command.event!r}; its events: {known}."
        )
    return [
        _event(
            state,
            command,
            EventKind.EVENT_INJECTED,
            event=inject.id,
            title=inject.title,
            prompt=inject.prompt,
        )
    ]


def _undo(state: TableState, command: c.Undo, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    if state.phase is Phase.SETUP:
        _require_phase(state, [Phase.NEGOTIATING, Phase.PAUSED], "undo")
    if not state.undoable:
        raise Refusal(R.NOTHING_TO_UNDO, "There is no turn action or close to undo yet.")
    step = state.undoable[-1]
    # The table goes back to the round the undone action was taken in.
    data: dict[str, Any] = {"reverts": list(step.seqs), "round": step.round}
    # The reverted action's turn comes back with a fresh clock.
    if state.phase is Phase.PAUSED:
        data["remaining_seconds"] = state.rules.turn_minutes * 60
    else:
        data["deadline"] = (now + _minutes(state.rules.turn_minutes)).isoformat()
    return [_event(state, command, EventKind.ACTION_REVERTED, **data)]


def _end(state: TableState, command: c.End, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.SETUP, Phase.NEGOTIATING, Phase.PAUSED], "end the table")
    close = _close(state, "facilitator")
    return [NewEvent(kind=close.kind, actor=_actor(state, command.who), data=close.data)]


# -- counterparts ---------------------------------------------------------------------------


def counterpart_id(delegation: str) -> str:
    """The member id of the counterpart that plays ``delegation``."""
    return f"counterpart:{delegation}"


def check_counterpart_seat(delegation: Delegation) -> None:
    """Refuse a counterpart for a delegation whose head may not pass: a counterpart plays
    as the head, and passes when the rules refuse its move, so it could never move on."""
    if not delegation.may("head", Action.PASS):
        raise Refusal(
            R.BAD_ARGUMENT,
            f"A counterpart plays as the head of the {delegation.name} delegation, and this "
            "scenario does not let its head pass, the move a counterpart falls back on. "
            "People must play this delegation.",
        )


def _seat(state: TableState, command: c.Seat, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.SETUP, Phase.NEGOTIATING, Phase.PAUSED], "seat a counterpart")
    delegation = _offering(state, command.delegation)
    check_counterpart_seat(delegation)
    if command.strategy not in c.STRATEGIES:
        raise Refusal(
            R.BAD_ARGUMENT,
            f"There is no strategy {command.strategy!r}; choose one of: {', '.join(c.STRATEGIES)}.",
        )
    turn_seconds = state.rules.turn_minutes * 60
    limit = min(c.MAX_THINK_SECONDS, turn_seconds)
    if not 0 <= command.think_seconds < limit:
        raise Refusal(
            R.BAD_ARGUMENT,
            f"Think time must be at least 0 and under {limit:g} seconds "
            "(it must end before the turn does).",
        )
    if delegation.id in state.seats:
        raise Refusal(
            R.BAD_ARGUMENT,
            f"A counterpart already plays the {delegation.name} delegation; "
            "give the seat back with /session unseat first.",
        )
    head = state.head(delegation.id)
    return [
        _event(
            state,
            command,
            EventKind.COUNTERPART_SEATED,
            delegation=delegation.id,
            strategy=command.strategy,
            think_seconds=command.think_seconds,
            seed=command.seed,
            user_id=counterpart_id(delegation.id),
            name=f"{delegation.name} counterpart",
            demoted=head.user_id if head is not None else None,
        )
    ]


def _unseat(state: TableState, command: c.Unseat, now: datetime) -> list[NewEvent]:
    _require_facilitator(command)
    _require_phase(state, [Phase.SETUP, Phase.NEGOTIATING, Phase.PAUSED], "unseat a counterpart")
    delegation = _offering(state, command.delegation)
    seat = state.seats.get(delegation.id)
    if seat is None:
        raise Refusal(R.BAD_ARGUMENT, f"No counterpart plays the {delegation.name} delegation.")
    demoted = state.member(seat.demoted) if seat.demoted else None
    restored = demoted.user_id if demoted and demoted.delegation == delegation.id else None
    return [
        _event(
            state,
            command,
            EventKind.COUNTERPART_UNSEATED,
            delegation=delegation.id,
            user_id=seat.user_id,
            restored=restored,
        )
    ]


def _offering(state: TableState, delegation_id: str) -> Delegation:
    """The offering delegation with this id, or a ``bad_argument`` refusal."""
    delegation = state.scenario.delegation(delegation_id)
    if delegation is None or not delegation.offers:
        known = ", ".join(state.scenario.offering)
        raise Refusal(
            R.BAD_ARGUMENT,
            f"There is no delegation {delegation_id!r} that takes turns; choose one of: {known}.",
        )
    return delegation


# -- statements --------------------------------------------------------------------------


def _say(state: TableState, command: c.Say, now: datetime) -> list[NewEvent]:
    member = _player(state, command)
    delegation = state.scenario.delegation(member.delegation or "")
    assert delegation is not None
    if not delegation.may(member.role, Action.SAY):
        raise Refusal(
            R.ROLE_NOT_ALLOWED, f"Your role ({member.role}) may not make statements at this table."
        )
    text = command.text.strip()
    if _blank(text) or len(text) > MAX_TEXT:
        raise Refusal(R.BAD_ARGUMENT, f"A statement needs 1 to {MAX_TEXT} characters.")
    return [_event(state, command, EventKind.STATEMENT, text=text)]


def _blank(text: str) -> bool:
    """Whether ``text`` shows nothing: spaces and invisible format characters only (a
    zero-width space or joiner, a byte order mark)."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)


def _caucus(state: TableState, command: c.CaucusMessage, now: datetime) -> list[NewEvent]:
    member = _player(state, command)
    if not state.rules.record_caucus:
        raise Refusal(R.BAD_ARGUMENT, "This scenario does not record caucus messages.")
    return [
        _event(
            state,
            command,
            EventKind.CAUCUS_MESSAGE,
            delegation=member.delegation,
            text=command.text[:MAX_TEXT],
        )
    ]


# -- turn actions ------------------------------------------------------------------------------


def _offer(state: TableState, command: c.Offer, now: datetime) -> list[NewEvent]:
    member = _turn_holder(state, command, Action.OFFER)
    me = member.delegation
    assert me is not None
    give, ask = _clean(command.give), _clean(command.ask)
    if not give and not ask:
        raise Refusal(R.BAD_ARGUMENT, "Name at least one item to give or to ask (see /items).")
    rules = state.rules
    named = _check_items(state, (*give, *ask))
    weight_given = weight_asked = 0
    for item in named[: len(give)]:
        if item.giver != me:
            raise Refusal(
                R.WRONG_GIVER,
                f"{_title(state, item.id)} is conceded by "
                f"{_name(state, item.giver)}, not by you: put it "
                "under ask.",
            )
        weight_given += item.weight
    for item in named[len(give) :]:
        if item.giver == me:
            raise Refusal(
                R.WRONG_GIVER, f"{_title(state, item.id)} is yours to concede: put it under give."
            )
        weight_asked += item.weight
    reciprocal = rules.reciprocity or rules.sequencing is Sequencing.PARALLEL
    if reciprocal and not (give and ask):
        raise Refusal(
            R.NOT_RECIPROCAL,
            "Offers here must be reciprocal: give at least one item and ask at least one.",
        )
    _check_size_and_sequencing(state, named)
    imbalance = weight_given - weight_asked
    standing = state.standing
    data: dict[str, Any] = {
        "delegation": me,
        "give": list(give),
        "ask": list(ask),
        "note": command.note.strip()[:MAX_TEXT],
        "answers": standing.seq if standing and standing.by != me else None,
        "revises": standing.seq if standing and standing.by == me else None,
        "weight_given": weight_given,
        "weight_asked": weight_asked,
    }
    if rules.balance is not Balance.OFF and abs(imbalance) > rules.balance_tolerance:
        if rules.balance is Balance.ENFORCE:
            raise Refusal(
                R.IMBALANCED,
                f"Offers must balance within {rules.balance_tolerance} "
                f"weight points; this one gives {weight_given} and asks "
                f"{weight_asked}. Add or remove items to close the gap.",
            )
        data["imbalance"] = imbalance
    return _turn_action(state, command, now, EventKind.OFFER_TABLED, data)


def _draft(state: TableState, command: c.Draft, now: datetime) -> list[NewEvent]:
    member = _player(state, command)
    chair = state.rules.chair
    if chair is None:
        raise Refusal(
            R.NOT_CHAIR,
            "This table has no chair, so there are no chair's drafts; make an offer with /offer.",
        )
    if member.delegation != chair:
        raise Refusal(
            R.NOT_CHAIR,
            f"Only the chair ({_name(state, chair)}) may table a draft; your delegation "
            "makes offers with /offer.",
        )
    member = _turn_holder(state, command, Action.OFFER)
    if member.role != "head":
        raise Refusal(
            R.ROLE_NOT_ALLOWED,
            f"Only the head of the {_name(state, chair)} delegation may table the chair's "
            f"draft; your role is {member.role}.",
        )
    items = _clean(command.items)
    if not items:
        raise Refusal(R.BAD_ARGUMENT, "Name at least one item for the draft (see /items).")
    named = _check_items(state, items)
    _check_size_and_sequencing(state, named)
    given = [item for item in named if item.giver == chair]
    asked = [item for item in named if item.giver != chair]
    standing = state.standing
    data: dict[str, Any] = {
        "delegation": chair,
        "give": [item.id for item in given],
        "ask": [item.id for item in asked],
        "note": command.note.strip()[:MAX_TEXT],
        "answers": standing.seq if standing and standing.by != chair else None,
        "revises": standing.seq if standing and standing.by == chair else None,
        "weight_given": sum(item.weight for item in given),
        "weight_asked": sum(item.weight for item in asked),
        "draft": True,
    }
    return _turn_action(state, command, now, EventKind.OFFER_TABLED, data)


def _check_items(state: TableState, items: Sequence[str]) -> list[Item]:
    """Every item named exists, is still open to agree, and is named once: the items, in
    the order named (looked up once, for the checks that follow)."""
    found = []
    by_id = state.scenario.items_by_id
    for item_id in items:
        item = by_id.get(item_id)
        if item is None:
            raise Refusal(R.UNKNOWN_ITEM, f"There is no item {item_id!r}; /items lists them.")
        found.append(item)
    agreed = state.agreed
    if agreed and not agreed.keys().isdisjoint(items):
        for item_id in items:
            if item_id in agreed:
                raise Refusal(
                    R.ITEM_ALREADY_AGREED,
                    f"{_title(state, item_id)} is already agreed; offer items that are still open.",
                )
    if len(set(items)) < len(items):
        seen: set[str] = set()
        for item_id in items:
            if item_id in seen:
                raise Refusal(
                    R.DUPLICATE_ITEM, f"{item_id!r} is listed twice; name each item once."
                )
            seen.add(item_id)
    return found


def _check_size_and_sequencing(state: TableState, items: Sequence[Item]) -> None:
    """The item limit, and the sequencing mode's open baskets or package coverage."""
    limit = state.rules.max_items_per_offer
    if len(items) > limit:
        raise Refusal(
            R.TOO_MANY_ITEMS,
            f"An offer may name at most {limit} items; this one names {len(items)}.",
        )
    _check_sequencing(state, items)


def _check_sequencing(state: TableState, items: Sequence[Item]) -> None:
    scenario = state.scenario
    if state.rules.sequencing is Sequencing.PACKAGE:
        covered = {item.basket for item in items}
        missing = [b for b in scenario.baskets_in_order() if b.gated and b.id not in covered]
        if missing:
            raise Refusal(
                R.PACKAGE_INCOMPLETE,
                "Under the package rule an offer must cover "
                "every basket; missing: "
                f"{', '.join(b.title for b in missing)}.",
            )
        return
    open_baskets = state.open_basket_ids()
    for item in items:
        if item.basket in open_baskets:
            continue  # an open basket has no blocker: only a shut one needs looking into
        basket = scenario.basket(item.basket)
        assert basket is not None
        blocker = state.blocking_basket(basket)
        if blocker is not None:
            agreed = ", ".join(_title(state, i) for i in state.agreed) or "nothing yet"
            open_now = ", ".join(b.title for b in state.open_baskets())
            raise Refusal(
                R.BASKET_CLOSED,
                f"{_title(state, item.id)} is in {basket.title}, "
                f"which opens only once {blocker.title} has an agreed item. "
                f"Agreed so far: {agreed}. Open now: {open_now}.",
            )


def _accept(state: TableState, command: c.Accept, now: datetime) -> list[NewEvent]:
    member = _turn_holder(state, command, Action.ACCEPT)
    offer = _standing_of_other(state, member, "accept", command.offer)
    me = member.delegation
    assert me is not None
    if me in offer.accepted_by:
        raise Refusal(
            R.ALREADY_ACCEPTED,
            "Your delegation has already accepted this offer; it waits for the others. "
            "You may /pass, or table a counter-offer with /offer.",
        )
    support = state.support(offer, me)
    acceptance = {
        "offer": offer.seq,
        "delegation": me,
        "accepted": list(support.accepted),
        "waiting": list(support.waiting),
    }
    if support.needed:
        return _turn_action(state, command, now, EventKind.OFFER_ACCEPTED, acceptance)
    accepted = _event(state, command, EventKind.OFFER_ACCEPTED, **acceptance)
    agreed = {
        "offer": offer.seq,
        "items": list(offer.items),
        "round": state.round,
        "delegations": [offer.by, *support.accepted],
    }
    every_item = len(state.agreed) + len(offer.items) == len(state.scenario.items)
    if state.rules.sequencing is Sequencing.PACKAGE or every_item:
        reason = "package_agreed" if not every_item else "all_agreed"
        turn = _turn_data(None, state.round, None)
        agreement = NewEvent(kind=EventKind.AGREEMENT_REACHED, data={**agreed, **turn})
        return [accepted, agreement, _close(state, reason, offer.items)]
    turn, closes = _pass_turn(state, now)
    agreement = NewEvent(kind=EventKind.AGREEMENT_REACHED, data={**agreed, **turn})
    events = [accepted, agreement]
    if closes:
        events.append(_close(state, "max_rounds", offer.items))
    return events


def _reject(state: TableState, command: c.Reject, now: datetime) -> list[NewEvent]:
    member = _turn_holder(state, command, Action.REJECT)
    offer = _standing_of_other(state, member, "reject", command.offer)
    reason = command.reason.strip()[:MAX_TEXT]
    data = {"offer": offer.seq, "reason": reason}
    return _turn_action(state, command, now, EventKind.OFFER_REJECTED, data)


def _pass(state: TableState, command: c.Pass, now: datetime) -> list[NewEvent]:
    _turn_holder(state, command, Action.PASS)
    return _turn_action(state, command, now, EventKind.TURN_PASSED)


def _walkaway(state: TableState, command: c.WalkAway, now: datetime) -> list[NewEvent]:
    member = _turn_holder(state, command, Action.WALKAWAY)
    walked = _event(
        state,
        command,
        EventKind.WALKED_AWAY,
        delegation=member.delegation,
        **_turn_data(None, state.round, None),
    )
    return [walked, _close(state, "walked_away")]


def _standing_of_other(
    state: TableState, member: Member, verb: str, seen: int | None = None
) -> StandingOffer:
    offer = state.standing
    if offer is None:
        raise Refusal(
            R.NO_STANDING_OFFER,
            f"There is no offer on the table to {verb}. You may make one with /offer, or /pass.",
        )
    if seen is not None and seen != offer.seq:
        raise Refusal(
            R.NO_STANDING_OFFER,
            f"Offer #{seen} is no longer on the table; the standing offer is #{offer.seq}. "
            "Check /status before you answer.",
        )
    if offer.by == member.delegation:
        raise Refusal(
            R.OWN_OFFER,
            f"The standing offer is your own delegation's; you cannot {verb} it. "
            "You may revise it with a new /offer, or /pass.",
        )
    return offer


def _clean(ids: Sequence[str]) -> tuple[str, ...]:
    """The ids stripped, blank ones left out."""
    return tuple(filter(None, map(str.strip, ids)))


def _title(state: TableState, item_id: str) -> str:
    item = state.scenario.item(item_id)
    return f"'{item.title}' ({item_id})" if item else repr(item_id)


def _name(state: TableState, delegation_id: str) -> str:
    found = state.scenario.delegation(delegation_id)
    return found.name if found else delegation_id


Handler = Callable[[TableState, Any, datetime], list[NewEvent]]

_HANDLERS: dict[type[c.Command], Handler] = {
    c.Join: _join,
    c.Leave: _leave,
    c.Assign: _assign,
    c.AutoAssign: _autoassign,
    c.Start: _start,
    c.Offer: _offer,
    c.Draft: _draft,
    c.Accept: _accept,
    c.Reject: _reject,
    c.Pass: _pass,
    c.WalkAway: _walkaway,
    c.Say: _say,
    c.CaucusMessage: _caucus,
    c.Pause: _pause,
    c.Resume: _resume,
    c.Extend: _extend,
    c.Inject: _inject,
    c.Undo: _undo,
    c.End: _end,
    c.Seat: _seat,
    c.Unseat: _unseat,
}
