"""What the bot shows: the status embed, offers, announcements, briefs, the summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import discord

from bot.analysis import Space
from bot.discord_app.announcements import say
from bot.discord_app.text import (
    EMBED_DESCRIPTION_LIMIT,
    EMBED_FIELD_LIMIT,
    clip,
    defang,
    mention,
    timestamp,
)
from bot.domain import events as ev
from bot.domain.commands import STRATEGIES
from bot.domain.events import Event
from bot.domain.scenario import Acceptance, Scenario
from bot.domain.state import Member, Phase, StandingOffer, Support, TableState
from bot.review.narrate import delegation_name, item_titles

COLOUR = discord.Colour(0x2F6690)
COLOUR_AGREED = discord.Colour(0x2E7D32)
COLOUR_CLOSED = discord.Colour(0x6D6D6D)


@dataclass
class Post:
    """A message to send: text, an optional embed and buttons, who it may ping, and the
    place (``offer:12``) under which to remember the message once it is posted."""

    content: str = ""
    embed: discord.Embed | None = None
    ping: list[str] = field(default_factory=list)
    view: discord.ui.View | None = None
    place: str | None = None


def people(state: TableState, delegation: str) -> list[Member]:
    """The people of a delegation (not a counterpart the bot plays), heads first."""
    return [m for m in state.delegation_members(delegation) if m.counterpart is None]


def who_line(state: TableState, delegation: str) -> str:
    """The people of a delegation as mentions (for pinging the delegation on move)."""
    return " ".join(mention(m.user_id) for m in people(state, delegation))


def _names(scenario: Scenario, delegations: list[str] | tuple[str, ...]) -> str:
    return ", ".join(delegation_name(scenario, d) for d in delegations)


def _by_giver(scenario: Scenario, items: tuple[str, ...]) -> dict[str, list[str]]:
    """Items grouped by the delegation that gives them, in the scenario's order."""
    found: dict[str, list[str]] = {d.id: [] for d in scenario.delegations}
    for item_id in items:
        item = scenario.item(item_id)
        found.setdefault(item.giver if item else "", []).append(item_id)
    return {giver: ids for giver, ids in found.items() if ids}


def offer_text(scenario: Scenario, offer: StandingOffer) -> str:
    """An offer in words: what it gives and what it asks (of whom, among several).

    A chair's draft lists what each delegation would give under it.
    """
    if offer.draft:
        lines = [
            f"**{delegation_name(scenario, giver)} gives:** {item_titles(scenario, ids)}"
            for giver, ids in _by_giver(scenario, offer.items).items()
        ]
    else:
        lines = [
            f"**{delegation_name(scenario, offer.by)} gives:** {item_titles(scenario, offer.give)}"
        ]
        asked = _by_giver(scenario, offer.ask)
        if len(asked) > 1:
            lines += [
                f"**and asks of {delegation_name(scenario, giver)}:** {item_titles(scenario, ids)}"
                for giver, ids in asked.items()
            ]
        else:
            lines.append(f"**and asks:** {item_titles(scenario, offer.ask)}")
    if offer.note:
        lines.append(f"> {defang(clip(offer.note, 900))}")
    return "\n".join(lines)


def offer_title(scenario: Scenario, offer: StandingOffer) -> str:
    """``Offer #12 from China``, or ``Chair's draft #12 from China``."""
    kind = "Chair's draft" if offer.draft else "Offer"
    return f"{kind} #{offer.seq} from {delegation_name(scenario, offer.by)}"


def acceptance_rule(state: TableState) -> str:
    """Whose acceptance the table's rule needs for an agreement, in a few words."""
    match state.rules.acceptance:
        case Acceptance.GIVERS:
            return "every delegation that gives in it"
        case Acceptance.QUORUM:
            return f"its givers, and {state.rules.quorum} delegations in all with its proposer"
    return "every other delegation"


def support_of(state: TableState, offer: StandingOffer) -> Support | None:
    """Who has accepted ``offer`` and who is still needed, while it stands."""
    if state.standing is None or state.standing.seq != offer.seq:
        return None
    return state.support(state.standing)


def progress_text(state: TableState, offer: StandingOffer, support: Support) -> str:
    """``Accepted by: China, ROK — waiting for: DPRK, Japan`` (under a quorum: ``needs 1
    more of: ...`` for the acceptances any of several may give)."""
    scenario = state.scenario
    accepted = _names(scenario, support.accepted) or say("progress_nobody")
    if support.needed >= len(support.waiting):
        still = say("progress_waiting", delegations=_names(scenario, support.waiting))
    else:
        givers = {i.giver for i in map(scenario.item, offer.items) if i is not None}
        must = [d for d in support.waiting if d in givers and d != offer.by]
        maybe = [d for d in support.waiting if d not in must]
        count = support.needed - len(must)
        if must:
            still = say(
                "progress_waiting_and_more",
                waiting=_names(scenario, must),
                count=count,
                delegations=_names(scenario, maybe),
            )
        else:
            still = say("progress_more", count=count, delegations=_names(scenario, maybe))
    return say("progress", accepted=accepted, still=still)


def status_embed(state: TableState, table_id: int) -> discord.Embed:
    """The table at a glance: the one status message kept up to date in the channel."""
    scenario = state.scenario
    colour = COLOUR_CLOSED if state.phase is Phase.CLOSED else COLOUR
    description = f"{scenario.title} · rules: **{state.variant}** · table #{table_id}"
    if len(scenario.offering) > 2:
        description += f"\nAn agreement needs: {acceptance_rule(state)}"
    if state.rules.chair:
        description += f" · chair: **{delegation_name(scenario, state.rules.chair)}**"
    embed = discord.Embed(
        title=clip(f"{state.title} — {state.phase.value}", 256),
        description=description,
        colour=colour,
    )
    if state.phase in (Phase.NEGOTIATING, Phase.PAUSED):
        turn = delegation_name(scenario, state.turn)
        clock = (
            f"deadline {timestamp(state.deadline)}"
            if state.deadline
            else f"paused, {int((state.remaining_seconds or 0) // 60)} min left"
        )
        embed.add_field(
            name="Turn",
            value=f"Round {state.round} of {state.rules.max_rounds}: **{turn}** · {clock}",
            inline=False,
        )
    if state.standing is not None:
        standing = state.standing
        progress = progress_text(state, standing, state.support(standing))
        kind = "chair's draft" if standing.draft else "offer"
        # the progress is never cut: a long offer gives way to it
        text = clip(offer_text(scenario, standing), EMBED_FIELD_LIMIT - len(progress) - 1)
        embed.add_field(
            name=f"Standing {kind} #{standing.seq}",
            value=clip(f"{text}\n{progress}", EMBED_FIELD_LIMIT),
            inline=False,
        )
    agreed = state.agreed
    embed.add_field(
        name=f"Agreed ({len(agreed)})",
        value=clip(
            item_titles(scenario, list(agreed)) if agreed else "nothing yet", EMBED_FIELD_LIMIT
        ),
        inline=False,
    )
    if state.phase is not Phase.CLOSED:
        embed.add_field(
            name="Open baskets",
            value=", ".join(b.title for b in state.open_baskets()) or "none",
            inline=False,
        )
    for delegation in scenario.delegations:
        members = state.delegation_members(delegation.id)
        names = ", ".join(f"{m.name}{' (head)' if m.role == 'head' else ''}" for m in members)
        embed.add_field(name=delegation.name, value=clip(names or "—", EMBED_FIELD_LIMIT))
    observers = [m.name for m in state.members.values() if m.delegation is None]
    if observers:
        embed.add_field(name="Observers", value=clip(", ".join(observers), EMBED_FIELD_LIMIT))
    embed.set_footer(text="/status · /items · /brief · /offer · /say")
    return embed


def turn_post(state: TableState) -> Post:
    """Whose turn it is, pinging only that delegation."""
    if state.turn is None or state.phase is not Phase.NEGOTIATING:
        return Post()
    members = people(state, state.turn)
    content = say(
        "turn",
        mentions=who_line(state, state.turn),
        round=state.round,
        delegation=delegation_name(state.scenario, state.turn),
        deadline=timestamp(state.deadline) if state.deadline else "soon",
    )
    return Post(content=content.strip(), ping=[m.user_id for m in members])


def with_turn(post: Post, turn: Post) -> Post:
    """An event's words and then whose turn it is (a :func:`turn_post`), as one message
    that pings whom either pings."""
    content = "\n".join(part for part in (post.content, turn.content) if part)
    pings = list(dict.fromkeys([*post.ping, *turn.ping]))
    embed = post.embed if post.embed is not None else turn.embed
    return Post(content, embed, pings, post.view, post.place)


def offer_reply(events: list[Event]) -> str:
    """What the player who tabled an offer is told: on the table, or the table's last move."""
    offer = events[0]
    assert isinstance(offer.data, ev.OfferTabled)
    if offer.data.given("turn") and offer.data.turn is None:
        return (
            f"Offer #{offer.seq} was the last move: the last round is over and the table "
            "closed with it unanswered. It is posted and recorded as the last offer."
        )
    extra = " It is marked as imbalanced (public weights differ)." if offer.data.imbalance else ""
    kind = "Your chair's draft" if offer.data.draft else "Offer"
    return f"{kind} #{offer.seq} is on the table.{extra}"


def event_post(state: TableState, event: Event) -> Post | None:
    """The public announcement for one event, if it deserves one."""
    scenario = state.scenario
    name = event.actor.name if event.actor else "Parley"
    side = delegation_name(scenario, event.actor.delegation if event.actor else None)
    match event.data:
        case ev.Statement(text=text):
            return Post(say("statement", name=name, delegation=side, text=defang(text)))
        case ev.OfferAccepted(delegation=delegation, offer=offer, waiting=waiting) if waiting:
            # not yet an agreement: who has accepted, and who is still needed
            standing = state.standing
            if standing is not None and standing.seq == offer:
                support = state.support(standing)
            else:  # replaced since: as the event saw it
                data = event.data
                standing = state.offers.get(offer)
                support = Support(tuple(data.accepted), tuple(waiting), len(waiting))
            progress = (
                progress_text(state, standing, support)
                if standing is not None
                else say(
                    "progress",
                    accepted=_names(scenario, support.accepted),
                    still=say("progress_waiting", delegations=_names(scenario, waiting)),
                )
            )
            return Post(
                say(
                    "accepted_waiting",
                    delegation=delegation_name(scenario, delegation),
                    offer=offer,
                    progress=progress,
                )
            )
        case ev.OfferAccepted(delegation=delegation, offer=offer):
            return Post(
                say("accepted", delegation=delegation_name(scenario, delegation), offer=offer)
            )
        case ev.AgreementReached(offer=offer, items=items):
            return Post(say("agreement", offer=offer, items=item_titles(scenario, items)))
        case ev.OfferRejected(offer=offer, reason=reason) if reason:
            return Post(
                say(
                    "rejected_with_reason",
                    name=name,
                    offer=offer,
                    reason=defang(clip(reason, 1500)),
                )
            )
        case ev.OfferRejected(offer=offer):
            return Post(say("rejected", name=name, offer=offer))
        case ev.TurnPassed():
            return Post(say("passed", delegation=side))
        case ev.TurnExpired(delegation=delegation):
            return Post(say("expired", delegation=delegation_name(scenario, delegation)))
        case ev.WalkedAway(delegation=delegation):
            return Post(
                say("walked_away", name=name, delegation=delegation_name(scenario, delegation))
            )
        case ev.TablePaused(reason="idle"):
            facilitators = list(state.facilitators)
            return Post(
                say("paused_idle", mentions=" ".join(mention(u) for u in facilitators)),
                ping=facilitators,
            )
        case ev.TablePaused():
            return Post(say("paused"))
        case ev.TableResumed():
            return Post(say("resumed"))
        case ev.DeadlineExtended(reason="outage"):
            turn = delegation_name(scenario, state.turn)
            deadline = timestamp(state.deadline) if state.deadline else "soon"
            return Post(say("fresh_clock", delegation=turn, deadline=deadline))
        case ev.DeadlineExtended(minutes=minutes):
            return Post(say("extended", minutes=f"{minutes:g}"))
        case ev.CounterpartSeated(delegation=delegation, think_seconds=seconds):
            return Post(
                say(
                    "seated",
                    delegation=delegation_name(scenario, delegation),
                    seconds=f"{seconds:g}",
                )
            )
        case ev.CounterpartUnseated(delegation=delegation, restored=restored):
            head = state.member(restored) if restored else None
            return Post(
                say(
                    "unseated" if head is None else "unseated_to",
                    delegation=delegation_name(scenario, delegation),
                    **({} if head is None else {"name": head.name}),
                )
            )
        case ev.ActionReverted(reverts=reverts):
            return Post(say("undone", events=", ".join(f"#{n}" for n in reverts)))
        case ev.ReminderSent() if state.turn:
            members = people(state, state.turn)
            deadline = timestamp(state.deadline) if state.deadline else "soon"
            return Post(
                say("reminder", mentions=who_line(state, state.turn), deadline=deadline),
                ping=[m.user_id for m in members],
            )
    return None


def offer_embed(
    state: TableState,
    offer: StandingOffer,
    status: str | None = None,
    agreed_by: list[str] | None = None,
) -> discord.Embed:
    """The message of one offer (its turn buttons go with it): while it stands, who has
    accepted it and who is still needed; once agreed, who agreed it."""
    scenario = state.scenario
    title = offer_title(scenario, offer)
    if offer.answers:
        title += f" (answers #{offer.answers})"
    colour = COLOUR_AGREED if status == "agreed" else COLOUR_CLOSED if status else COLOUR
    embed = discord.Embed(
        title=clip(title, 256),
        description=clip(offer_text(scenario, offer), EMBED_DESCRIPTION_LIMIT),
        colour=colour,
    )
    if offer.imbalance:
        imbalance = offer.imbalance
        embed.add_field(
            name="⚖️ Imbalanced",
            value=f"Gives {'more' if imbalance > 0 else 'less'} public weight than "
            f"it asks (difference {abs(imbalance)}).",
        )
    support = support_of(state, offer) if status is None else None
    if support is not None:
        embed.add_field(
            name=clip(f"Acceptance — needs {acceptance_rule(state)}", 256),
            value=clip(progress_text(state, offer, support), EMBED_FIELD_LIMIT),
            inline=False,
        )
    if offer.draft:
        embed.set_author(name="The chair's draft: it names items of any delegations")
    if status:
        footer = {
            "agreed": "Agreed",
            "rejected": "Rejected",
            "replaced": "Replaced by a newer offer",
            "withdrawn": "No longer on the table",
            "last": "The last move: the table closed with this offer unanswered",
        }.get(status, status)
        if status == "agreed" and agreed_by:
            footer += f" by {_names(scenario, agreed_by)}"
        embed.set_footer(text=clip(footer, 2048))
    return embed


def values_table(scenario: Scenario, delegation_id: str) -> str:
    """A delegation's private values of every item and its BATNA (for its brief only)."""
    delegation = scenario.delegation(delegation_id)
    assert delegation is not None
    lines = [
        "**Your private values** (never shown to the other delegations)",
        "```",
        f"{'item':<32} {'basket':<17} {'value':>5}",
    ]
    for basket in scenario.baskets_in_order():
        for item in scenario.items:
            if item.basket == basket.id:
                lines.append(
                    f"{clip(item.id, 32):<32} {clip(basket.id, 17):<17} "
                    f"{item.values.get(delegation_id, 0):>5}"
                )
    lines.append("```")
    lines.append(f"**Your BATNA** (the value of no agreement): **{delegation.batna}**")
    return "\n".join(lines)


def brief_text(scenario: Scenario, delegation_id: str, prose: str) -> str:
    """The delegation's confidential brief: the prose, then its values and BATNA."""
    return f"{prose.rstrip()}\n\n{values_table(scenario, delegation_id)}"


def items_text(state: TableState, delegation: str | None) -> str:
    """The item catalogue; the reader's own private values only if they have a delegation."""
    scenario = state.scenario
    agreed = state.agreed
    open_baskets = {b.id for b in state.open_baskets()}
    lines = []
    for basket in scenario.baskets_in_order():
        status = "open" if basket.id in open_baskets else "closed"
        gate = "" if basket.gated else ", any time"
        lines.append(f"**{basket.title}** ({status}{gate})")
        for item in scenario.items:
            if item.basket != basket.id:
                continue
            mark = "✅" if item.id in agreed else "•"
            mine = f" · your value {item.values.get(delegation, 0):+d}" if delegation else ""
            lines.append(
                f"{mark} `{item.id}` {item.title} — from "
                f"{delegation_name(scenario, item.giver)}, weight {item.weight}{mine}"
            )
        lines.append("")
    return "\n".join(lines).strip()


def summary_text(state: TableState, practice: bool = False) -> str:
    """The close: why it ended and the joint statement in basket order."""
    reason = say(f"reason_{state.close_reason}") if state.close_reason else "closed"
    lines = [say("closed", reason=reason), "", say("closed_heading")]
    agreed = state.agreed
    if not agreed:
        lines.append(say("nothing_agreed"))
    for basket in state.scenario.baskets_in_order():
        clauses = [state.item(i) for i in agreed if state.item(i).basket == basket.id]
        if clauses:
            lines.append(f"__{basket.title}__")
            lines += [f"- {c.text or c.title}" for c in clauses]
    lines += ["", say("closed_footer_practice" if practice else "closed_footer")]
    return "\n".join(lines)


def score_text(state: TableState, delegation_id: str) -> str:
    """A delegation's score against its BATNA (posted only in its own room)."""
    delegation = state.scenario.delegation(delegation_id)
    assert delegation is not None
    if not state.agreements:
        return say("score_no_deal", delegation=delegation.name, batna=delegation.batna)
    score = state.score(delegation_id)
    verdict = (
        "above" if score > delegation.batna else "at" if score == delegation.batna else ("below")
    )
    return say(
        "score",
        delegation=delegation.name,
        score=score,
        batna=delegation.batna,
        verdict=say(f"verdict_{verdict}"),
    )


# -- practice tables ------------------------------------------------------------------------


def strategy_title(strategy: str) -> str:
    """A strategy's name as players read it (``tit-for-tat`` -> ``Tit-for-tat``)."""
    return strategy[:1].upper() + strategy[1:]


def practice_result(state: TableState, guess: str, space: Space | None) -> str:
    """What a student is told after naming the strategy they faced: the answer, their
    result against their BATNA, the Nash point and the frontier (``space``: the table's
    outcome space, None if it could not be measured)."""
    played = sorted({seat.strategy for seat in state.seats.values()})
    strategy = played[0] if played else "none"
    how = say(f"strategy_{strategy}") if strategy in STRATEGIES else strategy
    if guess in played:
        lines = [say("guess_right", strategy=strategy_title(strategy), how=how)]
    else:
        lines = [
            say(
                "guess_wrong",
                guess=strategy_title(guess),
                strategy=" and ".join(strategy_title(s) for s in played) or strategy,
                how=how,
            )
        ]
    me = next(
        (m.delegation for m in state.members.values() if m.counterpart is None and m.delegation),
        None,
    )
    delegation = state.scenario.delegation(me or "")
    if delegation is None:
        return "\n".join(lines)
    if state.agreements:
        lines.append(
            say("practice_score", score=state.score(delegation.id), batna=delegation.batna)
        )
    else:
        lines.append(say("practice_no_deal", batna=delegation.batna))
    if space is None:
        return "\n".join(lines)
    nash = space.nash
    others = [d for d in space.delegations if d != delegation.id]
    if nash is None:
        lines.append(say("practice_no_nash"))
    else:
        lines.append(
            say(
                "practice_nash",
                nash=nash.scores.get(delegation.id, 0),
                other=" and ".join(delegation_name(state.scenario, d) for d in others),
                nash_other=" and ".join(str(nash.scores.get(d, 0)) for d in others),
            )
        )
    try:
        measured = space.measure(list(state.agreed))
    except ValueError:  # not an outcome of this mode's space (an undone close, say)
        return "\n".join(lines)
    lines.append(say("practice_left", left=measured.left_on_table))
    if state.agreements:
        if measured.pareto_optimal:
            lines.append(say("practice_on_frontier"))
        else:
            lines.append(
                say("practice_off_frontier", distance=f"{measured.distance_to_frontier:.1f}")
            )
    return "\n".join(lines)
