"""Events told in words: one sentence per event, for transcripts and announcements."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.domain.events import EventKind
from bot.domain.scenario import Scenario

#: An event as the JSON export has it (seq, at, kind, actor, data).
EventDict = dict[str, Any]


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


def who(event: EventDict, scenario: Scenario) -> str:
    """The actor as ``Name (Delegation, role)``, or ``Parley`` for the bot."""
    actor = event.get("actor")
    if not actor:
        return "Parley"
    if actor.get("delegation"):
        return (
            f"{actor['name']} ({delegation_name(scenario, actor['delegation'])}, "
            f"{actor.get('role') or 'member'})"
        )
    return str(actor["name"])


def _offer(e: EventDict, s: Scenario) -> str:
    d = e["data"]
    verb = "counter-offered" if d.get("answers") else "tabled an offer"
    text = (
        f"{verb} (#{e['seq']}): gives {item_titles(s, d['give'])}; asks {item_titles(s, d['ask'])}"
    )
    if d.get("answers"):
        text += f"; answers offer #{d['answers']}"
    if d.get("note"):
        text += f' — "{d["note"]}"'
    if d.get("imbalance"):
        text += f" [imbalanced: gives weight {d['weight_given']}, asks weight {d['weight_asked']}]"
    return text


def _agreement(e: EventDict, s: Scenario) -> str:
    d = e["data"]
    return f"Agreement on offer #{d['offer']}: {item_titles(s, d['items'])}"


def _closed(e: EventDict, s: Scenario) -> str:
    d = e["data"]
    reasons = {
        "walked_away": "after a walk-out",
        "max_rounds": "the last round is over",
        "package_agreed": "the package is agreed",
        "all_agreed": "every item is agreed",
        "facilitator": "ended by the facilitator",
    }
    scores = "; ".join(
        f"{delegation_name(s, k)} {v['score']} (BATNA {v['batna']})"
        for k, v in d.get("scores", {}).items()
    )
    return f"Table closed: {reasons.get(d['reason'], d['reason'])}. Scores: {scores}"


_PHRASES: dict[str, Callable[[EventDict, Scenario], str]] = {
    EventKind.TABLE_OPENED: lambda e, s: (
        f"opened the table “{e['data']['title']}” ({s.title}, {e['data']['variant']} rules)"
    ),
    EventKind.MEMBER_JOINED: lambda e, s: (
        f"joined the {delegation_name(s, e['data']['delegation'])} delegation"
        if e["data"].get("delegation")
        else "joined as an observer"
    ),
    EventKind.MEMBER_LEFT: lambda e, s: "left the table",
    EventKind.MEMBER_ASSIGNED: lambda e, s: (
        f"made {e['data']['name']} head of {delegation_name(s, e['data']['delegation'])}, "
        "its head having left"
        if e["data"].get("reason") == "succession"
        else f"assigned {e['data']['name']} to {delegation_name(s, e['data']['delegation'])} "
        f"as {e['data']['role']}"
    ),
    EventKind.TABLE_STARTED: lambda e, s: (
        f"started the negotiation; {delegation_name(s, e['data']['turn'])} moves first"
    ),
    EventKind.OFFER_TABLED: _offer,
    EventKind.OFFER_ACCEPTED: lambda e, s: f"accepted offer #{e['data']['offer']}",
    EventKind.AGREEMENT_REACHED: _agreement,
    EventKind.OFFER_REJECTED: lambda e, s: (
        f"rejected offer #{e['data']['offer']}"
        + (f' — "{e["data"]["reason"]}"' if e["data"].get("reason") else "")
    ),
    EventKind.TURN_PASSED: lambda e, s: "passed",
    EventKind.TURN_EXPIRED: lambda e, s: (
        f"{delegation_name(s, e['data']['delegation'])}'s time ran out; the turn passes"
    ),
    EventKind.STATEMENT: lambda e, s: f'said: "{e["data"]["text"]}"',
    EventKind.WALKED_AWAY: lambda e, s: "walked away from the table",
    EventKind.TABLE_PAUSED: lambda e, s: "paused the table",
    EventKind.TABLE_RESUMED: lambda e, s: "resumed the table",
    EventKind.DEADLINE_EXTENDED: lambda e, s: f"extended the clock by {e['data']['minutes']:g} min",
    EventKind.EVENT_INJECTED: lambda e, s: f"posted an event: {e['data']['title']}",
    EventKind.ACTION_REVERTED: lambda e, s: (
        "undid " + ", ".join(f"#{n}" for n in e["data"]["reverts"])
    ),
    EventKind.ACTION_REFUSED: lambda e, s: (
        f"was refused /{e['data']['command']} [{e['data']['code']}]: {e['data']['message']}"
    ),
    EventKind.CAUCUS_MESSAGE: lambda e, s: f'(caucus) "{e["data"]["text"]}"',
    EventKind.TABLE_CLOSED: _closed,
    EventKind.REMINDER_SENT: lambda e, s: (
        f"reminded {delegation_name(s, e['data']['delegation'])} that its time is running out"
    ),
}


#: Kinds told without their actor (things that happen rather than things someone does).
_IMPERSONAL = {EventKind.AGREEMENT_REACHED, EventKind.TABLE_CLOSED, EventKind.TURN_EXPIRED}


def describe(event: EventDict, scenario: Scenario) -> str:
    """The event as one sentence: who did what."""
    phrase = _PHRASES[event["kind"]](event, scenario)
    if event["kind"] in _IMPERSONAL:
        return phrase
    return f"{who(event, scenario)} {phrase}"
