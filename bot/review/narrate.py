"""Events told in words: one sentence per event, for transcripts and announcements."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain import events as ev
from bot.domain.events import Actor, Event
from bot.domain.scenario import Scenario
from bot.review.schema import ExportedEvent

#: An event as the JSON export has it (seq, at, kind, actor, data, reverted_by).
EventDict = dict[str, Any]

#: Explicit direction controls that open a scope: embeddings and overrides (closed by
#: POP DIRECTIONAL FORMATTING, U+202C) and isolates (closed by POP DIRECTIONAL ISOLATE).
_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")
_ISOLATES = frozenset("\u2066\u2067\u2068")
_PDF, _PDI = "\u202c", "\u2069"
_DIRECTION = re.compile("[\u202a-\u202e\u2066-\u2069]")


def contained(text: str) -> str:
    """``text`` with every direction it sets ending with it, to put in a sentence.

    A right-to-left override in a name (``x\u202eyz``) would otherwise run on and show
    the rest of the sentence reversed (the Unicode bidirectional algorithm ends it only
    at the end of the paragraph): each embedding, override or isolate the text leaves
    open is closed at its end, and a closing control with nothing to close (which could
    close one of the page's) is dropped. Text without such controls is returned as it is.
    """
    if not _DIRECTION.search(text):
        return text
    out: list[str] = []
    opened: list[str] = []
    for char in text:
        if char in _EMBEDDINGS or char in _ISOLATES:
            opened.append(char)
        elif char == _PDF:
            if not opened or opened[-1] not in _EMBEDDINGS:
                continue  # closes nothing here (the bidi algorithm ignores it too)
            opened.pop()
        elif char == _PDI:
            if not any(c in _ISOLATES for c in opened):
                continue
            while opened.pop() not in _ISOLATES:  # an isolate's end closes what it holds
                pass
        out.append(char)
    out += [_PDI if c in _ISOLATES else _PDF for c in reversed(opened)]
    return "".join(out)


def item_titles(scenario: Scenario, ids: Sequence[str]) -> str:
    """Item titles, comma-separated (unknown ids as they are)."""
    titles = []
    for item_id in ids:
        item = scenario.item(item_id)
        titles.append(item.title if item else item_id)
    return ", ".join(titles) or "nothing"


def delegation_name(scenario: Scenario, delegation_id: str | None) -> str:
    """A delegation's display name."""
    if delegation_id is None:
        return "nobody"
    found = scenario.delegation(delegation_id)
    return found.name if found else delegation_id


def _event(event: Mapping[str, Any] | Event) -> Event:
    """The event typed: an exported event dict is parsed (an :class:`Event` is kept)."""
    return event if isinstance(event, Event) else ExportedEvent.model_validate(event)


def actor_text(actor: Actor | None, scenario: Scenario) -> str:
    """An actor as ``Name (Delegation, role)``, or ``Parley`` for the bot."""
    if actor is None:
        return "Parley"
    if actor.delegation:
        return (
            f"{contained(actor.name)} ({delegation_name(scenario, actor.delegation)}, "
            f"{actor.role or 'member'})"
        )
    return contained(actor.name)


def who(event: Mapping[str, Any] | Event, scenario: Scenario) -> str:
    """The actor as ``Name (Delegation, role)``, or ``Parley`` for the bot."""
    return actor_text(_event(event).actor, scenario)


def _offer(seq: int, d: ev.OfferTabled, s: Scenario) -> str:
    verb = "counter-offered" if d.answers else "tabled an offer"
    text = f"{verb} (#{seq}): gives {item_titles(s, d.give)}; asks {item_titles(s, d.ask)}"
    if d.answers:
        text += f"; answers offer #{d.answers}"
    if d.note:
        text += f' — "{contained(d.note)}"'
    if d.imbalance:
        text += f" [imbalanced: gives weight {d.weight_given}, asks weight {d.weight_asked}]"
    return text


def _closed(d: ev.TableClosed, s: Scenario) -> str:
    scores = "; ".join(
        f"{delegation_name(s, k)} {v.score} (BATNA {v.batna})" for k, v in d.scores.items()
    )
    return f"Table closed: {ev.CLOSE_REASONS.get(d.reason, d.reason)}. Scores: {scores}"


def _assigned(d: ev.MemberAssigned, s: Scenario) -> str:
    name = contained(d.name)
    if d.reason == "succession":
        return f"made {name} head of {delegation_name(s, d.delegation)}, its head having left"
    return f"assigned {name} to {delegation_name(s, d.delegation)} as {d.role}"


def phrase(event: Event, s: Scenario) -> str:
    """What the event says happened, without who did it."""
    match event.data:
        case ev.TableOpened(title=title, variant=variant):
            return f"opened the table “{contained(title)}” ({s.title}, {variant} rules)"
        case ev.MemberJoined(delegation=delegation):
            if delegation:
                return f"joined the {delegation_name(s, delegation)} delegation"
            return "joined as an observer"
        case ev.MemberLeft():
            return "left the table"
        case ev.MemberAssigned() as d:
            return _assigned(d, s)
        case ev.TableStarted(turn=turn):
            return f"started the negotiation; {delegation_name(s, turn)} moves first"
        case ev.OfferTabled() as d:
            return _offer(event.seq, d, s)
        case ev.OfferAccepted(offer=offer):
            return f"accepted offer #{offer}"
        case ev.AgreementReached(offer=offer, items=items):
            return f"Agreement on offer #{offer}: {item_titles(s, items)}"
        case ev.OfferRejected(offer=offer, reason=reason):
            return f"rejected offer #{offer}" + (f' — "{contained(reason)}"' if reason else "")
        case ev.TurnPassed():
            return "passed"
        case ev.TurnExpired(delegation=delegation):
            return f"{delegation_name(s, delegation)}'s time ran out; the turn passes"
        case ev.Statement(text=text):
            return f'said: "{contained(text)}"'
        case ev.WalkedAway():
            return "walked away from the table"
        case ev.TablePaused():
            return "paused the table"
        case ev.TableResumed():
            return "resumed the table"
        case ev.DeadlineExtended(minutes=minutes):
            return f"extended the clock by {minutes:g} min"
        case ev.EventInjected(title=title):
            return f"posted an event: {contained(title)}"
        case ev.ActionReverted(reverts=reverts):
            return "undid " + ", ".join(f"#{n}" for n in reverts)
        case ev.ActionRefused(command=command, code=code, message=message):
            return f"was refused /{command} [{code}]: {contained(message)}"
        case ev.CaucusMessage(text=text):
            return f'(caucus) "{contained(text)}"'
        case ev.TableClosed() as d:
            return _closed(d, s)
        case ev.ReminderSent(delegation=delegation):
            return f"reminded {delegation_name(s, delegation)} that its time is running out"
        case ev.CounterpartSeated(delegation=delegation, strategy=strategy):
            return f"seated a {strategy} counterpart as {delegation_name(s, delegation)}"
        case ev.CounterpartUnseated(delegation=delegation):
            return f"gave {delegation_name(s, delegation)}'s seat back to its people"
    raise TypeError(f"no words for a {event.kind} event ({type(event.data).__name__})")


#: Kinds told without their actor (things that happen rather than things someone does).
_IMPERSONAL = (ev.AgreementReached, ev.TableClosed, ev.TurnExpired)


def describe(event: Mapping[str, Any] | Event, scenario: Scenario) -> str:
    """The event as one sentence: who did what.

    ``event`` is an event of the JSON export (a dict, parsed here) or a typed
    :class:`~bot.domain.events.Event` (an :class:`~bot.review.schema.ExportedEvent`).
    """
    typed = _event(event)
    said = phrase(typed, scenario)
    if isinstance(typed.data, _IMPERSONAL):
        return said
    return f"{actor_text(typed.actor, scenario)} {said}"
