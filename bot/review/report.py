"""The HTML report of one table: a single self-contained page built from the export.

The export (``parley-log/1``, with its ``analysis``) is read once into a :class:`Report`,
a plain typed model of everything the page shows, and ``templates/report.html`` renders
it with autoescaping. Every fact is worked out once here (the events are parsed once,
their rounds found once, the outcome space asked for at most once) and the template only
lays it out.

The page needs nothing but itself: the stylesheet is inlined from ``templates/``, the
charts are inline SVG drawn by matplotlib (:mod:`bot.review.charts`), there is no script,
and a Content-Security-Policy forbids any request, so it opens offline and prints as it is.
Everything that users wrote (names, titles, notes, statements) is HTML-escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup

from bot import paths
from bot.analysis import Move, Space
from bot.domain import events as ev
from bot.domain.scenario import STORED, Scenario
from bot.review import charts
from bot.review.export import FORMAT, joint_statement
from bot.review.markdown import markdown_to_html
from bot.review.narrate import contained, delegation_name, describe
from bot.review.pages import (
    PageHeader,
    agreements_count,
    collector_paused,
    outcome_text,
    render_page,
    variant_title,
    when,
)
from bot.review.schema import ExportedEvent, parse_events
from bot.review.value import space_for

#: Turn actions a player takes (counted as "actions" in participation).
ACTIONS = (ev.OfferTabled, ev.OfferAccepted, ev.OfferRejected, ev.TurnPassed, ev.WalkedAway)
STATEMENTS = (ev.Statement, ev.CaucusMessage)
#: Events about the table rather than the negotiation (shown muted in the transcript).
ADMIN = (
    ev.TableOpened,
    ev.MemberJoined,
    ev.MemberLeft,
    ev.MemberAssigned,
    ev.TableStarted,
    ev.TablePaused,
    ev.TableResumed,
    ev.DeadlineExtended,
    ev.ReminderSent,
    ev.TurnExpired,
)


# -- the model ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyFigure:
    """One of the cards under the table of contents."""

    label: str
    value: str
    note: str = ""

    @property
    def is_text(self) -> bool:
        """Whether the value is words rather than a number (shown smaller)."""
        return not self.value[-1:].isdigit()


@dataclass(frozen=True, slots=True)
class Person:
    """Someone in a participants card."""

    name: str
    #: ``head``, ``member`` or ``observer``.
    role: str
    left: bool


@dataclass(frozen=True, slots=True)
class DelegationCard:
    """A delegation and its people (``id`` None: the observers' card)."""

    id: str | None
    name: str
    note: str
    people: Sequence[Person]


@dataclass(frozen=True, slots=True)
class ScoreRow:
    """A delegation's score against its BATNA."""

    delegation: str
    name: str
    score: int
    batna: int
    margin: int
    beats_batna: bool


@dataclass(frozen=True, slots=True)
class Measure:
    """One of the Value section's measures (``key``: its ``data-measure``)."""

    label: str
    value: str
    key: str


@dataclass(frozen=True, slots=True)
class GainRow:
    """A delegation's gain against the best it could have gained (three or more)."""

    delegation: str
    name: str
    score: int
    batna: int
    gain: int
    best_gain: int
    #: The gain as a share of the best, in percent (``"62"``), or None if no gain was possible.
    percent: str | None


@dataclass(frozen=True, slots=True)
class MoveClass:
    """A move class of ANALYTICS.md and what it means at this table."""

    move: str
    meaning: str


@dataclass(frozen=True, slots=True)
class MoveRow:
    """How many offers a delegation made, and how many of each move class."""

    delegation: str
    name: str
    offers: int
    #: (move class, count), in the order of :data:`MOVE_MEANING`.
    counts: Sequence[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class ValueSection:
    """The Value section (ANALYTICS.md) of a table whose export has an ``analysis``."""

    sentences: Sequence[str]
    measures: Sequence[Measure]
    #: The utility plane (two delegations), else None.
    plane: Markup | None
    #: Whether the frontier is an upper bound (the parallel rule).
    upper_bound: bool
    #: Gains against the best possible (three delegations or more), else empty.
    gains: Sequence[GainRow]
    moves: Sequence[MoveClass]
    move_rows: Sequence[MoveRow]


@dataclass(frozen=True, slots=True)
class ParticipationRow:
    """A player's turn actions, statements and refused attempts."""

    user_id: str
    name: str
    delegation: str
    role: str
    actions: int
    statements: int
    refusals: int


@dataclass(frozen=True, slots=True)
class RefusalRow:
    """How often a refusal code came up, and the transcript row of its first time."""

    code: str
    count: int
    first: int | None


@dataclass(frozen=True, slots=True)
class InjectRow:
    """An event posted to the table."""

    round: int
    title: str
    posted_by: str
    seq: int


@dataclass(frozen=True, slots=True)
class Badge:
    """A label in front of a transcript row's text (``kind``: its CSS class)."""

    kind: str
    text: str


@dataclass(frozen=True, slots=True)
class Links:
    """Links from a transcript row to others: ``answers #3``, ``undoes #7, #8``."""

    label: str
    seqs: Sequence[int]


@dataclass(frozen=True, slots=True)
class TranscriptRow:
    """One event of the log as a transcript row (its id is ``e<seq>``)."""

    seq: int
    kind: str
    #: The row's CSS classes: ``k-<kind>``, what it is, ``reverted``, its delegation.
    classes: str
    #: The refusal code of a refused attempt.
    code: str | None
    round: int
    #: The time as the export has it (for ``<time datetime>``) and as shown.
    at: str
    time: str
    badges: Sequence[Badge]
    text: str
    links: Sequence[Links]


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the report of one table shows, worked out once from its export."""

    title: str
    header: PageHeader
    #: (delegation id, colour), for the delegations' CSS classes.
    colours: Sequence[tuple[str, str]]
    #: (section id, label) of the table of contents.
    contents: Sequence[tuple[str, str]]
    figures: Sequence[KeyFigure]
    delegations: Sequence[DelegationCard]
    timeline: Markup
    #: (basket title, clauses) in basket order.
    statement: Sequence[tuple[str, Sequence[str]]]
    scores: Sequence[ScoreRow]
    joint_gain: int
    #: None when the export has no ``analysis`` (an older Parley made it).
    value: ValueSection | None
    participation: Sequence[ParticipationRow]
    participation_chart: Markup
    refusals: Sequence[RefusalRow]
    #: How many attempts were refused, all codes together.
    refused: int
    injects: Sequence[InjectRow]
    transcript: Sequence[TranscriptRow]
    debrief: Markup | None
    #: The export's format, table id and number of events, for the footer.
    format: str
    table_id: int
    event_count: int


# -- building it ----------------------------------------------------------------------------


def delegation_colour(scenario: Scenario, delegation_id: str) -> str:
    """The delegation's colour on every page and chart (by its place in the scenario)."""
    ids = [d.id for d in scenario.delegations]
    index = ids.index(delegation_id) if delegation_id in ids else len(ids)
    return charts.SERIES[index % len(charts.SERIES)]


def read_debrief(export: dict[str, Any], prompts_dir: Path | None = None) -> str | None:
    """The debrief questions the export's scenario names, if the prompt file is there."""
    name = export["scenario"].get("prompts", {}).get("debrief")
    if not name:
        return None
    kept = export.get("prompts", {}).get(name)
    if kept is not None:  # the table's own copy, from when it opened
        return str(kept)
    path = (prompts_dir or paths.PROMPTS_DIR) / str(name)
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


def _header(export: dict[str, Any], scenario: Scenario) -> PageHeader:
    table = export["table"]
    variant = table["variant"]
    rules = variant_title(scenario, variant)
    if rules != variant:
        rules = f"{rules} ({variant})"
    return PageHeader(
        kicker="Parley · table report",
        title=table["title"] or scenario.title,
        subtitle=scenario.title,
        facts=(
            ("Rules", rules),
            ("Opened", when(table["opened_at"])),
            ("Closed", when(table["closed_at"])),
            ("Facilitators", ", ".join(f["name"] for f in table["facilitators"]) or "—"),
            ("Table", f"#{table['id']}"),
        ),
    )


def _figures(export: dict[str, Any], refused: int) -> tuple[KeyFigure, ...]:
    outcome = export["outcome"]
    return (
        KeyFigure("Outcome", outcome_text(export)),
        KeyFigure("Rounds", str(outcome["rounds"])),
        KeyFigure("Agreements", str(agreements_count(export)), f"{len(outcome['agreed'])} items"),
        KeyFigure("Joint gain", f"{outcome['joint_gain']:+d}", "sum of scores above BATNA"),
        KeyFigure("Refused attempts", str(refused), f"{len(outcome['refusals'])} codes"),
        KeyFigure("Events", str(len(export["events"])), "in the log"),
    )


def _delegations(export: dict[str, Any], scenario: Scenario) -> tuple[DelegationCard, ...]:
    cards = [
        DelegationCard(
            d.id,
            d.name,
            f"BATNA {d.batna}" + ("" if d.offers else " · does not make offers"),
            tuple(
                Person(m["name"], m["role"] or "member", bool(m.get("left")))
                for m in export["members"]
                if m["delegation"] == d.id
            ),
        )
        for d in scenario.delegations
    ]
    observers = tuple(
        Person(m["name"], "observer", bool(m.get("left")))
        for m in export["members"]
        if m["delegation"] is None
    )
    if observers:
        cards.append(DelegationCard(None, "Observers", "public channel only", observers))
    return tuple(cards)


def _scores(export: dict[str, Any], scenario: Scenario) -> tuple[ScoreRow, ...]:
    return tuple(
        ScoreRow(
            delegation_id,
            delegation_name(scenario, delegation_id),
            s["score"],
            s["batna"],
            s["margin"],
            s["beats_batna"],
        )
        for delegation_id, s in export["outcome"]["scores"].items()
    )


def participation(
    export: dict[str, Any], events: list[ExportedEvent] | None = None
) -> list[dict[str, Any]]:
    """Per player: name, delegation, role, and counts of actions, statements, refusals.

    ``events``: the export's events if already parsed.
    """
    people: dict[str, dict[str, Any]] = {}
    for m in export["members"]:
        people[m["user_id"]] = {
            "user_id": m["user_id"],
            "name": m["name"],
            "delegation": m["delegation"],
            "role": m["role"] if m["delegation"] else "observer",
            "actions": 0,
            "statements": 0,
            "refusals": 0,
        }
    facilitators = {f["user_id"] for f in export["table"]["facilitators"]}
    for e in parse_events(export["events"] if events is None else events):
        actor = e.actor
        data = e.data
        column = (
            "actions"
            if isinstance(data, ACTIONS)
            else "statements"
            if isinstance(data, STATEMENTS)
            else "refusals"
            if isinstance(data, ev.ActionRefused)
            else None
        )
        if actor is None or column is None:
            continue
        person = people.get(actor.user_id)
        if person is None:
            person = people[actor.user_id] = {
                "user_id": actor.user_id,
                "name": actor.name,
                "delegation": actor.delegation,
                "role": "facilitator" if actor.user_id in facilitators else actor.role,
                "actions": 0,
                "statements": 0,
                "refusals": 0,
            }
        person[column] += 1
    return list(people.values())


def _participation(
    export: dict[str, Any], scenario: Scenario, events: list[ExportedEvent]
) -> tuple[tuple[ParticipationRow, ...], Markup]:
    """The participation table's rows and its chart, from one count of the log."""
    rows: list[ParticipationRow] = []
    bars: list[tuple[str, int, int, int]] = []
    for p in participation(export, events):
        delegation = delegation_name(scenario, p["delegation"]) if p["delegation"] else None
        counts = (p["actions"], p["statements"], p["refusals"])
        rows.append(
            ParticipationRow(p["user_id"], p["name"], delegation or "—", p["role"] or "", *counts)
        )
        bars.append((f"{contained(p['name'])} ({delegation or p['role'] or 'observer'})", *counts))
    # charts.py escapes every text it writes into the SVG
    return tuple(rows), Markup(charts.participation_svg(bars)) if bars else Markup()


def _refusals(export: dict[str, Any], events: list[ExportedEvent]) -> tuple[RefusalRow, ...]:
    first_seen: dict[str, int] = {}
    for e in events:
        if isinstance(e.data, ev.ActionRefused):
            first_seen.setdefault(e.data.code, e.seq)
    return tuple(
        RefusalRow(code, n, first_seen.get(code))
        for code, n in sorted(export["outcome"]["refusals"].items(), key=lambda kv: (-kv[1], kv[0]))
    )


def _injects(events: list[ExportedEvent], rounds: list[int]) -> tuple[InjectRow, ...]:
    return tuple(
        InjectRow(round_, e.data.title, e.actor.name if e.actor else "Parley", e.seq)
        for e, round_ in zip(events, rounds, strict=True)
        if isinstance(e.data, ev.EventInjected)
    )


_OFFER = Badge("offer", "offer")
_COUNTER = Badge("counter", "counter-offer")
_AGREEMENT = Badge("agreement", "agreement")
_REJECTED = Badge("rejected", "rejected")
_INJECT = Badge("inject", "inject")
_UNDONE = Badge("undone", "undone")


def _transcript(
    exported: list[dict[str, Any]],
    events: list[ExportedEvent],
    scenario: Scenario,
    rounds: list[int],
) -> tuple[TranscriptRow, ...]:
    """One row per event (``exported``: the export's events, ``events``: the same typed)."""
    answered_by: dict[int, list[int]] = {}
    for e in events:
        if isinstance(e.data, ev.OfferTabled) and e.data.answers:
            answered_by.setdefault(e.data.answers, []).append(e.seq)
    stamps = [e["at"] for e in exported]  # as the export writes them
    several_days = len({at[:10] for at in stamps}) > 1
    rows: list[TranscriptRow] = []
    for e, at, round_ in zip(events, stamps, rounds, strict=True):
        kind, data, seq = e.kind.value, e.data, e.seq
        classes = [f"k-{kind}"]
        badges: list[Badge] = []
        links: list[Links] = []
        code: str | None = None
        match data:
            case ev.OfferTabled(answers=answers, revises=revises):
                if answers:
                    classes.append("counter")
                    badges.append(_COUNTER)
                    links.append(Links("answers", (answers,)))
                else:
                    classes.append("offer")
                    badges.append(_OFFER)
                if revises:
                    links.append(Links("revises", (revises,)))
                if seq in answered_by:
                    links.append(Links("countered by", answered_by[seq]))
            case ev.ActionRefused(code=code):
                classes.append("refused")
                badges.append(Badge("refused", f"✗ refused · {code}"))
            case ev.AgreementReached(offer=offer):
                classes.append("agreement")
                badges.append(_AGREEMENT)
                links.append(Links("offer", (offer,)))
            case ev.OfferAccepted(offer=offer):
                links.append(Links("offer", (offer,)))
            case ev.OfferRejected(offer=offer):
                badges.append(_REJECTED)
                links.append(Links("offer", (offer,)))
            case ev.EventInjected():
                classes.append("inject")
                badges.append(_INJECT)
            case ev.ActionReverted(reverts=reverts):
                links.append(Links("undoes", reverts))
            case _ if isinstance(data, ADMIN):
                classes.append("admin")
        if e.reverted_by:
            classes.append("reverted")
            badges.append(_UNDONE)
            links.append(Links("undone by", (e.reverted_by,)))
        if e.actor and e.actor.delegation:
            classes.append(f"d-{e.actor.delegation}")
        rows.append(
            TranscriptRow(
                seq=seq,
                kind=kind,
                classes=" ".join(classes),
                code=code,
                round=round_,
                at=at,
                time=f"{at[:10]} {at[11:19]}" if several_days else at[11:19],
                badges=badges,
                text=describe(e, scenario),
                links=links,
            )
        )
    return tuple(rows)


# -- value (ANALYTICS.md) ---------------------------------------------------------------------

#: What each move class of ANALYTICS.md means, in words (``{other}``: who else is at the table).
MOVE_MEANING = {
    Move.SILENT: "no change for anyone",
    Move.NICE: "the same for itself, better for {other}",
    Move.FORTUNATE: "better for itself and for {other}",
    Move.SELFISH: "better for itself, not better for {other}",
    Move.CONCESSION: "worse for itself, not worse for {other}",
    Move.UNFORTUNATE: "not better for itself, worse for {other}",
}


def _and(parts: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _points(n: int) -> str:
    return f"{n} point" if abs(n) == 1 else f"{n} points"


def _scores_text(scenario: Scenario, scores: Mapping[str, int]) -> str:
    """``United States 5, DPRK 3``."""
    return ", ".join(f"{delegation_name(scenario, d)} {v}" for d, v in scores.items())


def _variant(export: dict[str, Any]) -> str:
    return str(export["analysis"].get("variant") or export["table"]["variant"])


def offer_title(scenario: Scenario, offer: Mapping[str, Any]) -> str:
    """What an offer's mark says on hover: who made it, what it gives each side, its move."""
    move = offer.get("move") or "first offer"
    return (
        f"Offer #{offer['seq']} by {delegation_name(scenario, offer['delegation'])}: "
        f"{_scores_text(scenario, offer['scores'])} ({move})"
    )


def _change_in_words(scenario: Scenario, added: Sequence[str], removed: Sequence[str]) -> str:
    """``adding “X” (United States) for “Y” (DPRK) and leaving out “Z”``."""

    def titles(ids: Sequence[str]) -> list[str]:
        return [f"“{found.title if (found := scenario.item(i)) else i}”" for i in ids]

    parts = []
    if added:
        by_giver: dict[str, list[str]] = {}
        for item_id in added:
            item = scenario.item(item_id)
            by_giver.setdefault(item.giver if item else "", []).append(item_id)
        groups = [
            _and(titles(ids)) + (f" ({delegation_name(scenario, giver)})" if giver else "")
            for giver, ids in by_giver.items()
        ]
        parts.append("adding " + " for ".join(groups))
    if removed:
        parts.append("leaving out " + _and(titles(removed)))
    return " and ".join(parts)


def nearest_better(
    scenario: Scenario,
    scores: Mapping[str, int],
    agreed: Sequence[str],
    frontier: Sequence[Mapping[str, Any]],
) -> str:
    """How the frontier outcome that beats the deal with the fewest items changed would
    have done better, in words ("" when no frontier outcome beats it).

    ``frontier``: points as in the export (``{"items": [...], "scores": {...}}``).
    """
    mine = set(agreed)
    better = [
        p
        for p in frontier
        if all(p["scores"][d] >= v for d, v in scores.items())
        and any(p["scores"][d] > v for d, v in scores.items())
    ]
    if not better:
        return ""
    best = min(
        better,
        key=lambda p: (len(mine ^ set(p["items"])), -sum(p["scores"].values()), p["items"]),
    )
    order = {item.id: i for i, item in enumerate(scenario.items)}
    added = sorted(set(best["items"]) - mine, key=lambda i: order.get(i, len(order)))
    removed = sorted(mine - set(best["items"]), key=lambda i: order.get(i, len(order)))
    gainers = [d for d, v in scores.items() if best["scores"][d] > v]
    if len(gainers) == len(scores):
        who = "both sides more" if len(scores) == 2 else "every delegation more"
    else:
        same = [delegation_name(scenario, d) for d in scores if d not in gainers]
        who = (
            f"{_and([delegation_name(scenario, d) for d in gainers])} more and {_and(same)} as much"
        )
    return f"{_change_in_words(scenario, added, removed)} would have given {who}"


def value_sentences(
    export: dict[str, Any], scenario: Scenario, space: Callable[[], Space] | None = None
) -> list[str]:
    """Two or three plain sentences about the value the table made, to read aloud.

    ``space``: gives the outcome space of the table's rules, when a sentence needs more
    than the export's ``analysis`` holds (computed here if not given).
    """
    analysis = export["analysis"]
    space = space or cache(lambda: space_for(scenario, _variant(export)))
    outcome = analysis["outcome"]
    scores: dict[str, int] = outcome["scores"]
    n = len(scores)
    everyone = "both sides" if n == 2 else "every delegation"
    their = "their BATNAs" if n == 2 else "its BATNA"
    left = outcome["left_on_table"]
    best = analysis.get("max_joint_gain")
    agreed = [a["item"] for a in export["outcome"]["agreed"]]
    nash = analysis.get("nash")
    sentences: list[str] = []
    if agreed:
        if outcome["pareto_optimal"] and left <= 0:
            sentences.append(
                "The deal was Pareto-optimal and made the most joint gain possible "
                f"({_points(outcome['joint_gain'])}): nothing was left on the table."
            )
        elif outcome["pareto_optimal"]:
            sentences.append(
                "The deal was Pareto-optimal: no other outcome gives one side more without "
                f"giving another less. Yet it left {_points(left)} on the table: the most "
                f"joint gain possible is {best}, and this deal made {outcome['joint_gain']}."
            )
        else:
            frontier = analysis.get("frontier") or [p.to_json() for p in space().frontier]
            how = nearest_better(scenario, scores, agreed, frontier)
            sentences.append(
                f"This deal left {_points(left)} on the table" + (f": {how}." if how else ".")
            )
        below = [delegation_name(scenario, d) for d, g in outcome["gains"].items() if g < 0]
        if below:
            sentences.append(
                f"{_and(below)} ended below {'its' if len(below) == 1 else 'their'} BATNA."
            )
    else:
        table = space()
        beats = table.better_for_all
        closed = export["outcome"]["phase"] == "closed"
        outcomes = f"{beats:,} outcome{'' if beats == 1 else 's'}"
        would = "would have" if closed else "would"
        if beats and closed:
            sentences.append(
                f"No deal was reached although {outcomes} {would} left {everyone} better off "
                f"than {their}: {_points(left)} of joint gain "
                f"{'was' if left == 1 else 'were'} left on the table."
            )
        elif beats:
            sentences.append(
                f"Nothing is agreed yet; {outcomes} {would} leave {everyone} better off than "
                f"{their} (up to {_points(best or 0)} of joint gain)."
            )
        elif table.zopa:
            sentences.append(
                ("No deal was reached" if closed else "Nothing is agreed yet")
                + f", and no outcome {would} leave {everyone} better off than {their}"
                + (f"; the best deal makes {_points(left)} of joint gain." if left else ".")
            )
        else:
            sentences.append(
                ("No deal was reached" if closed else "Nothing is agreed yet")
                + f", and none is possible: no outcome leaves {everyone} at or above {their}."
            )
    if nash:
        sentence = (
            "The Nash point, the outcome with the largest product of the gains over the "
            f"BATNAs, gives {_scores_text(scenario, nash['scores'])}"
        )
        if agreed:
            sentence += f"; this deal gave {_scores_text(scenario, scores)}"
        sentences.append(sentence + ".")
    elif agreed:
        sentences.append(
            f"No outcome leaves {everyone} at or above {their}, so there is no Nash point."
        )
    return sentences


def _value_plane(export: dict[str, Any], scenario: Scenario) -> str:
    """The utility plane of a two-delegation table (an SVG)."""
    analysis = export["analysis"]
    outcome = analysis["outcome"]
    x_id, y_id = list(outcome["scores"])
    batnas = {d.id: d.batna for d in scenario.delegations}

    def at(scores: Mapping[str, int], title: str, seq: int | None = None) -> charts.Mark:
        return charts.Mark(scores[x_id], scores[y_id], title, seq)

    dances = [
        charts.Dance(
            f"offers by {delegation_name(scenario, d)}",
            delegation_colour(scenario, d),
            [
                at(o["scores"], offer_title(scenario, o), o["seq"])
                for o in sorted(analysis["offers"], key=lambda o: o["seq"])
                if o["delegation"] == d
            ],
        )
        for d in (x_id, y_id)
    ]
    nash, kalai = analysis.get("nash"), analysis.get("kalai")
    same = bool(nash and kalai and nash["scores"] == kalai["scores"])
    nash_name = "Nash and Kalai-Smorodinsky point" if same else "Nash point"
    agreements = export["outcome"]["agreements"]
    deal = bool(export["outcome"]["agreed"])
    if deal:
        outcome_title = (
            f"Outcome: {_scores_text(scenario, outcome['scores'])} "
            f"(agreed; joint gain {outcome['joint_gain']})"
        )
    else:
        nothing = "No deal" if export["outcome"]["phase"] == "closed" else "Nothing agreed yet"
        outcome_title = (
            f"{nothing}: each side keeps its BATNA ({_scores_text(scenario, outcome['scores'])})"
        )
    plane = charts.Plane(
        names=(delegation_name(scenario, x_id), delegation_name(scenario, y_id)),
        colours=(delegation_colour(scenario, x_id), delegation_colour(scenario, y_id)),
        batnas=(batnas.get(x_id, 0), batnas.get(y_id, 0)),
        frontier=[(p["scores"][x_id], p["scores"][y_id]) for p in analysis["frontier"]],
        dances=dances,
        nash=at(nash["scores"], f"{nash_name}: {_scores_text(scenario, nash['scores'])}")
        if nash
        else None,
        nash_label="Nash and Kalai point" if same else "Nash point",
        kalai=at(
            kalai["scores"], f"Kalai-Smorodinsky point: {_scores_text(scenario, kalai['scores'])}"
        )
        if kalai and not same
        else None,
        outcome=at(
            outcome["scores"], outcome_title, agreements[-1]["seq"] if deal and agreements else None
        ),
        deal=deal,
    )
    return charts.utility_plane_svg(plane)


def _gains(export: dict[str, Any], scenario: Scenario, space: Space) -> tuple[GainRow, ...]:
    """Each delegation's gain against its best possible gain in the ZOPA (any number)."""
    outcome = export["analysis"]["outcome"]
    best = dict(zip(space.delegations, space.best_gains, strict=True))
    batnas = dict(zip(space.delegations, space.batnas, strict=True))
    rows = []
    for d, gain in outcome["gains"].items():
        most = best.get(d, 0)
        share = max(0.0, min(1.0, gain / most)) if most > 0 else None
        rows.append(
            GainRow(
                delegation=d,
                name=delegation_name(scenario, d),
                score=outcome["scores"][d],
                batna=batnas.get(d, 0),
                gain=gain,
                best_gain=most,
                percent=None if share is None else f"{share * 100:.0f}",
            )
        )
    return tuple(rows)


def _moves(
    export: dict[str, Any], scenario: Scenario
) -> tuple[tuple[MoveClass, ...], tuple[MoveRow, ...]]:
    """The move classes, and each delegation's offers counted by class."""
    analysis = export["analysis"]
    delegations = list(analysis["outcome"]["scores"])
    counts: dict[str, Counter[str]] = {d: Counter() for d in delegations}
    for offer in analysis["offers"]:
        counts.setdefault(offer["delegation"], Counter())[offer["move"] or ""] += 1
    other = "the other side" if len(delegations) == 2 else "the others"
    classes = tuple(
        MoveClass(move, meaning.format(other=other)) for move, meaning in MOVE_MEANING.items()
    )
    rows = tuple(
        MoveRow(
            d,
            delegation_name(scenario, d),
            sum(c.values()),
            tuple((m.move, c[m.move]) for m in classes),
        )
        for d, c in counts.items()
    )
    return classes, rows


def _value(export: dict[str, Any], scenario: Scenario) -> ValueSection | None:
    """The Value section (ANALYTICS.md): sentences to read aloud, the key measures, the
    utility plane (two delegations) or the gains table (more), and the move classes."""
    analysis = export.get("analysis")
    if not analysis:
        return None
    # The outcome space, only if a sentence or the gains table needs more than the export's
    # analysis holds; asked for once.
    space = cache(lambda: space_for(scenario, _variant(export)))
    outcome = analysis["outcome"]
    distance_to_nash = outcome.get("distance_to_nash")
    best = analysis.get("max_joint_gain")
    two = len(outcome["scores"]) == 2
    moves, move_rows = _moves(export, scenario)
    return ValueSection(
        sentences=value_sentences(export, scenario, space),
        measures=(
            Measure(
                "Most joint gain possible", "—" if best is None else str(best), "max-joint-gain"
            ),
            Measure("Joint gain made", str(outcome["joint_gain"]), "joint-gain"),
            Measure("Left on the table", str(outcome["left_on_table"]), "left-on-table"),
            Measure(
                "Pareto-optimal", "yes" if outcome["pareto_optimal"] else "no", "pareto-optimal"
            ),
            Measure(
                "Distance to the frontier", f"{outcome['distance_to_frontier']:g}", "to-frontier"
            ),
            Measure(
                "Distance to Nash",
                "—" if distance_to_nash is None else f"{distance_to_nash:g}",
                "to-nash",
            ),
        ),
        # charts.py escapes every text it writes into the SVG (hover titles included)
        plane=Markup(_value_plane(export, scenario)) if two else None,
        upper_bound=bool(analysis.get("upper_bound", analysis.get("sequencing") == "parallel")),
        gains=() if two else _gains(export, scenario, space()),
        moves=moves,
        move_rows=move_rows,
    )


def build_report(export: dict[str, Any], debrief_markdown: str | None = None) -> Report:
    """The report of one table, worked out from its ``parley-log/1`` export.

    ``debrief_markdown``: the text of the scenario's debrief prompt (see
    :func:`read_debrief`), shown at the end.
    """
    scenario = Scenario.model_validate(export["scenario"], context=STORED)
    table = export["table"]
    events = parse_events(export["events"])  # typed once, read by every section
    rounds = charts.event_rounds(events)
    people, chart = _participation(export, scenario, events)
    debrief = markdown_to_html(debrief_markdown) if debrief_markdown else None
    refused = sum(export["outcome"]["refusals"].values())
    contents = [
        ("participants", "Participants"),
        ("timeline", "Timeline"),
        ("statement", "Joint statement"),
        ("scores", "Scores"),
        ("value", "Value"),
        ("participation", "Participation"),
        ("refusals", "Refusals"),
        ("injects", "Injects"),
        ("transcript", "Transcript"),
    ]
    if debrief:
        contents.append(("debrief", "Debrief"))
    return Report(
        title=f"{table['title'] or scenario.title} — Parley report",
        header=_header(export, scenario),
        colours=tuple((d.id, delegation_colour(scenario, d.id)) for d in scenario.delegations),
        contents=tuple(contents),
        figures=_figures(export, refused),
        delegations=_delegations(export, scenario),
        # charts.py escapes every text it writes into the SVG
        timeline=Markup(charts.timeline_svg(export, scenario, events, rounds)),
        statement=tuple(joint_statement(export)),
        scores=_scores(export, scenario),
        joint_gain=export["outcome"]["joint_gain"],
        value=_value(export, scenario),
        participation=people,
        participation_chart=chart,
        refusals=_refusals(export, events),
        refused=refused,
        injects=_injects(events, rounds),
        transcript=_transcript(export["events"], events, scenario, rounds),
        debrief=debrief,
        format=export.get("format", FORMAT),
        table_id=table["id"],
        event_count=len(events),
    )


def render_report(export: dict[str, Any], debrief_markdown: str | None = None) -> str:
    """The HTML report of one table, as a whole self-contained document.

    ``export`` is the ``parley-log/1`` export dictionary; ``debrief_markdown`` the text
    of the scenario's debrief prompt (see :func:`read_debrief`), rendered at the end.
    """
    with collector_paused():
        return render_page("report.html", page=build_report(export, debrief_markdown))
