"""Buttons, select menus and modals. Each carries ids in its ``custom_id`` and looks the
table up; none keeps state in a View, so they all keep working after a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Self, cast

import discord

from bot.analysis import Space
from bot.discord_app.announcements import say
from bot.discord_app.present import offer_reply, offer_text, practice_result, strategy_title
from bot.discord_app.replies import defer_soon, handle_error, reply
from bot.discord_app.text import SELECT_OPTIONS_LIMIT, clip
from bot.domain import commands as c
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.state import Phase, StandingOffer, TableState
from bot.review.narrate import delegation_name
from bot.review.value import space_for

if TYPE_CHECKING:
    from bot.discord_app.app import ParleyBot


log = logging.getLogger("parley.discord")


def _bot(interaction: discord.Interaction[Any]) -> ParleyBot:
    return cast("ParleyBot", interaction.client)


class _Routed:
    """Shared plumbing for buttons: one handling per interaction, one error path."""

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return _bot(interaction).first_delivery(interaction)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.run(interaction)
        except Exception as exc:
            await handle_error(interaction, exc)

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        raise NotImplementedError


class _TableButton(_Routed):
    """A button that applies one command, with no argument, to the table in its id."""

    action: type[c.Command]
    done: str
    label: str
    emoji: str
    style: discord.ButtonStyle
    prefix: str

    def __init__(self, table_id: int) -> None:
        super().__init__(  # type: ignore[call-arg]
            discord.ui.Button(
                label=self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=f"parley:{self.prefix}:{table_id}",
            )
        )
        self.table_id = table_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["table"]))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        defer_soon(interaction)
        await bot.act(interaction, self.action(who=bot.who(interaction)), self.table_id)
        await reply(interaction, self.done)


class JoinButton(
    _TableButton,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:join:(?P<table>\d+)",
):
    """Join the table as an observer (the facilitator assigns delegations)."""

    action, prefix = c.Join, "join"
    label, emoji, style = "Join", "🙋", discord.ButtonStyle.primary
    done = (
        "You joined the table. The facilitator will place you in a delegation; "
        "`/status` shows the table."
    )


class WalkAwayButton(
    _TableButton,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:walkaway:(?P<table>\d+)",
):
    """The confirmation of /walkaway."""

    action, prefix = c.WalkAway, "walkaway"
    label, emoji, style = "Yes, walk away", "🚪", discord.ButtonStyle.danger
    done = "Your delegation has walked away; the table is closed."


# -- the turn actions under an offer's message ------------------------------------------------

#: What /walkaway and the Walk away button ask before the delegation walks away.
WALKAWAY_QUESTION = (
    "Walking away ends the negotiation for everyone; what is agreed stands. Are you sure?"
)
#: The longest reason a rejection takes (as /reject's ``reason`` option).
REASON_LIMIT = 1000


async def _refuse_if_not_allowed(
    interaction: discord.Interaction[Any],
    table_id: int,
    command: c.Command,
    tolerate: Collection[RefusalCode] = (),
) -> None:
    """Raise the refusal ``command`` would meet now, logged like any refused attempt.

    For actions that ask first (a reason, a confirmation, a form): nothing is applied
    here, so the action cannot slip through unasked if the table changes meanwhile.
    ``tolerate``: refusals that only say the form is not filled in yet (or, for a draft,
    that it is not yet the player's turn).
    """
    bot = _bot(interaction)
    refusal = await bot.tables.check(table_id, command)
    if refusal is None or refusal.code in tolerate:
        return
    defer_soon(interaction)
    outcome = await bot.tables.refuse(
        table_id,
        command.who,
        command.name,
        command.arguments(),
        refusal,
        key=str(interaction.id),
    )
    bot.follow_up(outcome)  # raises the refusal; the one error path answers it privately


async def confirm_walkaway(interaction: discord.Interaction[Any], table_id: int) -> None:
    """Ask privately whether to walk away, with the button that does it.

    If the rules would refuse the walk-away now (not the head, not your turn), the refusal
    is logged and answered instead of the question.
    """
    bot = _bot(interaction)
    defer_soon(interaction)
    await _refuse_if_not_allowed(interaction, table_id, c.WalkAway(who=bot.who(interaction)))
    await reply(interaction, WALKAWAY_QUESTION, view=walkaway_view(table_id))


class _OfferButton(_Routed):
    """A turn action on one offer's message; its id carries the table and the offer."""

    prefix: str
    label: str
    emoji: str | None = None
    style: discord.ButtonStyle

    def __init__(self, table_id: int, offer: int) -> None:
        super().__init__(  # type: ignore[call-arg]
            discord.ui.Button(
                label=self.label,
                emoji=self.emoji,
                style=self.style,
                custom_id=f"parley:{self.prefix}:{table_id}:{offer}",
            )
        )
        self.table_id, self.offer = table_id, offer

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        return cls(int(match["table"]), int(match["offer"]))


class AcceptButton(
    _OfferButton,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:accept:(?P<table>\d+):(?P<offer>\d+)",
):
    """Accept this offer; refused if it no longer stands."""

    prefix, label, style = "accept", "Accept", discord.ButtonStyle.success

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        defer_soon(interaction)
        await bot.act(
            interaction, c.Accept(who=bot.who(interaction), offer=self.offer), self.table_id
        )
        await reply(interaction, f"Offer #{self.offer} accepted.")


class RejectButton(
    _OfferButton,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:reject:(?P<table>\d+):(?P<offer>\d+)",
):
    """Ask for a reason, then reject this offer; refused at once if it may not be rejected."""

    prefix, label, style = "reject", "Reject", discord.ButtonStyle.danger

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        command = c.Reject(who=bot.who(interaction), offer=self.offer)
        await _refuse_if_not_allowed(interaction, self.table_id, command)
        await interaction.response.send_modal(RejectModal(self.table_id, self.offer))


class PassButton(
    _OfferButton,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:pass:(?P<table>\d+):(?P<offer>\d+)",
):
    """Pass the turn; the offer stays on the table."""

    prefix, label, style = "pass", "Pass", discord.ButtonStyle.secondary

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        defer_soon(interaction)
        outcome = await bot.act(interaction, c.Pass(who=bot.who(interaction)), self.table_id)
        closed = outcome.state is not None and outcome.state.close_reason is not None
        await reply(
            interaction,
            "Passed. That was the last turn: the table is closed."
            if closed
            else "Passed; the offer stays on the table.",
        )


class WalkAwayAskButton(
    _OfferButton,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:walkaway-ask:(?P<table>\d+):(?P<offer>\d+)",
):
    """Ask to confirm walking away (as /walkaway does); the offer's id only keeps the
    row's ids alike."""

    prefix, label, emoji = "walkaway-ask", "Walk away", "🚪"
    style = discord.ButtonStyle.secondary

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        await confirm_walkaway(interaction, self.table_id)


class RejectModal(discord.ui.Modal):
    """The reason for rejecting one offer. Its custom_id carries the table and the offer,
    and :func:`route_modal` handles its submit by that id, so a modal opened before a
    restart still works after it."""

    template = re.compile(r"parley:reject-reason:(?P<table>\d+):(?P<offer>\d+)")

    def __init__(self, table_id: int, offer: int) -> None:
        super().__init__(
            title=f"Reject offer #{offer}",
            custom_id=f"parley:reject-reason:{table_id}:{offer}",
            timeout=None,
        )
        self.table_id, self.offer = table_id, offer
        self.add_item(
            discord.ui.Label(
                text="Reason (optional)",
                description="It goes on the record for everyone at the table.",
                component=discord.ui.TextInput(
                    custom_id="reason",
                    style=discord.TextStyle.paragraph,
                    required=False,
                    max_length=REASON_LIMIT,
                ),
            )
        )
        # Stopped before it is sent, so discord.py keeps no copy in memory: the submit is
        # routed by custom_id alone, the same before and after a restart, and a modal the
        # player dismisses leaves nothing behind.
        self.stop()

    async def submitted(
        self, interaction: discord.Interaction[Any], values: dict[str, str]
    ) -> None:
        """Reject the offer with the reason given."""
        bot = _bot(interaction)
        defer_soon(interaction)
        command = c.Reject(
            who=bot.who(interaction), reason=values.get("reason", "").strip(), offer=self.offer
        )
        await bot.act(interaction, command, self.table_id)
        await reply(interaction, f"Offer #{self.offer} rejected.")


def _text_values(components: list[dict[str, Any]]) -> dict[str, str]:
    """The text inputs of a submitted modal, by custom_id (inside rows or labels)."""
    values: dict[str, str] = {}
    for component in components:
        if "custom_id" in component and isinstance(component.get("value"), str):
            values[component["custom_id"]] = component["value"]
        inner = list(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            inner.append(component["component"])
        values.update(_text_values(inner))
    return values


async def route_modal(interaction: discord.Interaction[Any]) -> None:
    """Handle a submitted Parley modal by its custom_id, once per interaction.

    discord.py routes a modal submit only to a Modal object kept in memory, which a
    restart loses; this is registered as the client's ``on_interaction`` instead.
    """
    if interaction.type is not discord.InteractionType.modal_submit:
        return
    data = cast("dict[str, Any]", interaction.data or {})
    match = RejectModal.template.fullmatch(str(data.get("custom_id", "")))
    if match is None or not _bot(interaction).first_delivery(interaction):
        return
    try:
        modal = RejectModal(int(match["table"]), int(match["offer"]))
        await modal.submitted(interaction, _text_values(list(data.get("components") or [])))
    except Exception as exc:
        await handle_error(interaction, exc)


async def on_interaction(interaction: discord.Interaction[Any]) -> None:
    """The client's listener for every interaction (registered by :func:`register`)."""
    await route_modal(interaction)


# -- the offer drafting view ------------------------------------------------------------------

# The draft lives in the message itself: each select's custom_id carries the other's
# choice, and the "table this offer" button carries both, as item numbers.

#: Ask menus in the offer form at most (with the give menu and the button: five rows).
ASK_MENUS = 3


def _encode(state: TableState, ids: list[str]) -> str:
    numbers = {item.id: n for n, item in enumerate(state.scenario.items)}
    return ".".join(str(numbers[i]) for i in ids if i in numbers)


def _decode(state: TableState, text: str) -> list[str]:
    items = state.scenario.items
    return [items[int(n)].id for n in text.split(".") if n.isdigit() and int(n) < len(items)]


class DraftSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=(
        r"parley:draft:(?P<side>give|ask)\d?:(?P<table>\d+):(?P<give>[\d.]*):(?P<ask>[\d.]*)"
    ),
):
    """The give menu, or one of the ask menus (``ask``, ``ask1``...), of a draft offer."""

    def __init__(
        self, select: discord.ui.Select[Any], side: str, table_id: int, give: str, ask: str
    ) -> None:
        super().__init__(select)
        self.side, self.table_id, self.give, self.ask = side, table_id, give, ask

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> DraftSelect:
        select = cast("discord.ui.Select[Any]", item)
        return cls(select, match["side"], int(match["table"]), match["give"], match["ask"])

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return _bot(interaction).first_delivery(interaction)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            bot = _bot(interaction)
            state = await bot.tables.state(self.table_id)
            chosen = [v for v in self.item.values if v != "-"]
            give = chosen if self.side == "give" else _decode(state, self.give)
            ask = _decode(state, self.ask)
            if self.side == "ask":  # this menu speaks for its own options only
                mine = {option.value for option in self.item.options}
                ask = [i for i in ask if i not in mine] + chosen
                ask = ask[: state.rules.max_items_per_offer]
            view = draft_view(state, self.table_id, bot.who(interaction).user_id, give, ask)
            await interaction.response.edit_message(
                content=draft_summary(state, give, ask), view=view
            )
        except Exception as exc:
            await handle_error(interaction, exc)


class DraftSubmit(
    _Routed,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:table:(?P<table>\d+):(?P<give>[\d.]*):(?P<ask>[\d.]*)",
):
    """Table the drafted offer."""

    def __init__(self, table_id: int, give: str, ask: str, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Table this offer",
                emoji="📨",
                style=discord.ButtonStyle.success,
                disabled=disabled,
                custom_id=f"parley:table:{table_id}:{give}:{ask}",
            )
        )
        self.table_id, self.give, self.ask = table_id, give, ask

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> DraftSubmit:
        return cls(int(match["table"]), match["give"], match["ask"])

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        defer_soon(interaction)
        state = await bot.tables.state(self.table_id)
        give, ask = _decode(state, self.give), _decode(state, self.ask)
        outcome = await bot.act(
            interaction,
            c.Offer(who=bot.who(interaction), give=tuple(give), ask=tuple(ask)),
            self.table_id,
        )
        await reply(interaction, offer_reply(outcome.events))


async def open_offer_draft(interaction: discord.Interaction[Any], table_id: int) -> None:
    """Open the offer drafting form privately, or answer with the refusal an offer by this
    player would meet whenever they tabled it (the table closed, not in a delegation),
    logged like any attempt. Drafting ahead of one's turn is allowed."""
    bot = _bot(interaction)
    defer_soon(interaction)
    command = c.Offer(who=bot.who(interaction))
    ahead = {RefusalCode.BAD_ARGUMENT, RefusalCode.NOT_YOUR_TURN}  # no items yet; not yet
    await _refuse_if_not_allowed(interaction, table_id, command, tolerate=ahead)
    state = await bot.tables.state(table_id)
    user_id = str(interaction.user.id)
    view = draft_view(state, table_id, user_id, [], [])
    await reply(interaction, draft_summary(state, [], []), view=view)


def draft_summary(state: TableState, give: list[str], ask: list[str]) -> str:
    """The draft so far, in words."""
    from bot.review.narrate import item_titles

    return (
        "**Draft an offer** — pick what you give and what you ask, then table it.\n"
        f"You give: {item_titles(state.scenario, give)}\n"
        f"You ask: {item_titles(state.scenario, ask)}"
    )


def draft_view(
    state: TableState, table_id: int, user_id: str, give: list[str], ask: list[str]
) -> discord.ui.View:
    """Select menus for give and ask (open items only), and a button to table the offer.

    The others' items may be more than one menu holds (six delegations): up to three ask
    menus share them, 25 to a menu.
    """
    member = state.member(user_id)
    if member is None or member.delegation is None:
        raise Refusal(RefusalCode.NOT_A_MEMBER, "Only delegation members may draft offers.")
    mine = member.delegation
    limit = min(state.rules.max_items_per_offer, SELECT_OPTIONS_LIMIT)
    g, a = _encode(state, give), _encode(state, ask)
    view = discord.ui.View(timeout=None)
    theirs = [i for i in state.open_items() if i.giver != mine][: ASK_MENUS * SELECT_OPTIONS_LIMIT]
    menus = [("give", "You give…", state.open_items(mine)[:SELECT_OPTIONS_LIMIT], give)]
    for number, start in enumerate(range(0, max(len(theirs), 1), SELECT_OPTIONS_LIMIT)):
        part = theirs[start : start + SELECT_OPTIONS_LIMIT]
        placeholder = (
            "You ask…"
            if len(theirs) <= SELECT_OPTIONS_LIMIT
            else f"You ask ({start + 1}-{start + len(part)} of {len(theirs)})…"
        )
        menus.append((f"ask{number or ''}", placeholder, part, ask))
    for side, placeholder, items, chosen in menus:
        options = [
            discord.SelectOption(
                label=clip(item.title, 100),
                value=item.id,
                default=item.id in chosen,
                description=clip(
                    f"{item.basket} · weight {item.weight}"
                    if item.giver == mine
                    else f"from {delegation_name(state.scenario, item.giver)} · "
                    f"{item.basket} · weight {item.weight}",
                    100,
                ),
            )
            for item in items
        ]
        if not options:
            options = [discord.SelectOption(label="Nothing open", value="-")]
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"parley:draft:{side}:{table_id}:{g}:{a}",
            placeholder=placeholder,
            min_values=0,
            max_values=max(1, min(limit, len(options))),
            options=options,
            disabled=options[0].value == "-",
        )
        view.add_item(DraftSelect(select, side.rstrip("0123456789"), table_id, g, a))
    view.add_item(DraftSubmit(table_id, g, a, disabled=not (give or ask)))
    return view


# -- the chair's draft form (/draft with no items) ----------------------------------------------
# As with offers, the draft lives in the message: each menu's custom_id carries every item
# chosen so far (as item numbers), and so does the button that tables it. Each menu offers
# a share of the open items; its options say which items it speaks for.

#: Menus in the chair's form (a fifth row holds the button).
CHAIR_MENUS = 4


def _chosen_within(state: TableState, items: list[str]) -> list[str]:
    """The chosen items in catalogue order, at most as many as an offer may name."""
    order = {item.id: n for n, item in enumerate(state.scenario.items)}
    ordered = sorted(dict.fromkeys(i for i in items if i in order), key=order.__getitem__)
    return ordered[: state.rules.max_items_per_offer]


class ChairPick(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"parley:chair-pick:(?P<table>\d+):(?P<part>\d+):(?P<items>[\d.]*)",
):
    """One menu of the chair's draft form."""

    def __init__(self, select: discord.ui.Select[Any], table_id: int, items: str) -> None:
        super().__init__(select)
        self.table_id, self.items = table_id, items

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ChairPick:
        return cls(cast("discord.ui.Select[Any]", item), int(match["table"]), match["items"])

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return _bot(interaction).first_delivery(interaction)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            state = await _bot(interaction).tables.state(self.table_id)
            mine = {option.value for option in self.item.options}
            kept = [i for i in _decode(state, self.items) if i not in mine]
            chosen = _chosen_within(state, kept + [v for v in self.item.values if v != "-"])
            await interaction.response.edit_message(
                content=chair_draft_summary(state, chosen),
                view=chair_draft_view(state, self.table_id, chosen),
            )
        except Exception as exc:
            await handle_error(interaction, exc)


class ChairSubmit(
    _Routed,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:chair-table:(?P<table>\d+):(?P<items>[\d.]*)",
):
    """Table the chair's draft chosen in the form."""

    def __init__(self, table_id: int, items: str, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Table this draft",
                emoji="📜",
                style=discord.ButtonStyle.success,
                disabled=disabled,
                custom_id=f"parley:chair-table:{table_id}:{items}",
            )
        )
        self.table_id, self.items = table_id, items

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> ChairSubmit:
        return cls(int(match["table"]), match["items"])

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        defer_soon(interaction)
        state = await bot.tables.state(self.table_id)
        items = tuple(_decode(state, self.items))
        outcome = await bot.act(
            interaction, c.Draft(who=bot.who(interaction), items=items), self.table_id
        )
        await reply(interaction, offer_reply(outcome.events))


def chair_draft_summary(state: TableState, items: list[str]) -> str:
    """The chair's draft so far, in words: what each delegation would give under it."""
    chair = state.rules.chair or ""
    draft = StandingOffer(seq=0, by=chair, give=tuple(items), ask=(), draft=True)
    chosen = offer_text(state.scenario, draft) if items else "Nothing chosen yet."
    return (
        "**Draft the chair's text** — pick items of any delegations, then table it "
        f"(at most {state.rules.max_items_per_offer}). A note needs `/draft items note`.\n"
        f"{chosen}"
    )


async def open_chair_draft(interaction: discord.Interaction[Any], table_id: int) -> None:
    """Open the chair's draft form privately, or answer with the refusal a draft by this
    player would meet now (not the chair, not its turn...), logged like any attempt."""
    bot = _bot(interaction)
    defer_soon(interaction)
    command = c.Draft(who=bot.who(interaction))
    # With no items yet, the one refusal left is that none are named: the form names them.
    await _refuse_if_not_allowed(
        interaction, table_id, command, tolerate={RefusalCode.BAD_ARGUMENT}
    )
    state = await bot.tables.state(table_id)
    await reply(
        interaction, chair_draft_summary(state, []), view=chair_draft_view(state, table_id, [])
    )


def chair_draft_view(state: TableState, table_id: int, items: list[str]) -> discord.ui.View:
    """Menus over the open items of every delegation (25 to a menu), and the button that
    tables the draft."""
    chosen = _encode(state, items)
    limit = min(state.rules.max_items_per_offer, SELECT_OPTIONS_LIMIT)
    open_items = state.open_items()[: CHAIR_MENUS * SELECT_OPTIONS_LIMIT]
    parts = [
        open_items[n : n + SELECT_OPTIONS_LIMIT]
        for n in range(0, len(open_items), SELECT_OPTIONS_LIMIT)
    ] or [[]]
    view = discord.ui.View(timeout=None)
    for number, part in enumerate(parts):
        options = [
            discord.SelectOption(
                label=clip(item.title, 100),
                value=item.id,
                default=item.id in items,
                description=clip(
                    f"{delegation_name(state.scenario, item.giver)} gives · {item.basket} · "
                    f"weight {item.weight}",
                    100,
                ),
            )
            for item in part
        ] or [discord.SelectOption(label="Nothing open", value="-")]
        first = number * SELECT_OPTIONS_LIMIT + 1
        placeholder = (
            "Items for the draft…"
            if len(parts) == 1
            else f"Items {first}-{first + len(part) - 1} of {len(open_items)}…"
        )
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"parley:chair-pick:{table_id}:{number}:{chosen}",
            placeholder=placeholder,
            min_values=0,
            max_values=max(1, min(limit, len(options))),
            options=options,
            disabled=options[0].value == "-",
        )
        view.add_item(ChairPick(select, table_id, chosen))
    view.add_item(ChairSubmit(table_id, chosen, disabled=not items))
    return view


# -- the strategy question at the end of a practice table --------------------------------------


class GuessSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"parley:guess:(?P<table>\d+)",
):
    """Which strategy the counterpart played: the student's answer, then the truth and
    their result against the Nash point and the frontier."""

    def __init__(self, table_id: int, select: discord.ui.Select[Any] | None = None) -> None:
        super().__init__(
            select
            or discord.ui.Select(
                custom_id=f"parley:guess:{table_id}",
                placeholder="The counterpart played…",
                min_values=1,
                max_values=1,
                options=[
                    discord.SelectOption(
                        label=strategy_title(name),
                        value=name,
                        description=clip(say(f"strategy_{name}"), 100),
                    )
                    for name in c.STRATEGIES
                ],
            )
        )
        self.table_id = table_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> GuessSelect:
        return cls(int(match["table"]), cast("discord.ui.Select[Any]", item))

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        return _bot(interaction).first_delivery(interaction)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        try:
            await self.run(interaction)
        except Exception as exc:
            await handle_error(interaction, exc)

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        row = await bot.tables.table(self.table_id)
        state = await bot.tables.state(self.table_id)
        member = state.member(str(interaction.user.id))
        if not row.practice or member is None or member.delegation is None:
            raise Refusal(
                RefusalCode.NOT_A_MEMBER,
                "Only the student who played this practice table answers its question.",
            )
        if state.phase is not Phase.CLOSED:
            raise Refusal(
                RefusalCode.WRONG_PHASE,
                "The practice table is still going; the question is answered once it is over.",
            )
        values = [v for v in self.item.values if v in c.STRATEGIES]
        if not values:
            raise Refusal(
                RefusalCode.BAD_ARGUMENT,
                f"Pick one of the strategies: {', '.join(c.STRATEGIES)}.",
            )
        await interaction.response.defer()
        try:
            space: Space | None = await asyncio.to_thread(space_for, state.scenario, state.variant)
        except Exception:  # the answer still comes, without the comparison
            log.exception("table %s: no outcome space for the practice result", self.table_id)
            space = None
        result = practice_result(state, values[0], space)
        question = say("strategy_question")
        await interaction.edit_original_response(content=f"{question}\n\n{result}", view=None)


def guess_view(table_id: int) -> discord.ui.View:
    """The strategy question's select menu."""
    view = discord.ui.View(timeout=None)
    view.add_item(GuessSelect(table_id))
    return view


def join_view(table_id: int) -> discord.ui.View:
    """The Join button under the table's opening message."""
    view = discord.ui.View(timeout=None)
    view.add_item(JoinButton(table_id))
    return view


def offer_view(table_id: int, offer: int) -> discord.ui.View:
    """Every turn action under an offer's message, in one row: Accept, Reject, Pass and
    Walk away."""
    view = discord.ui.View(timeout=None)
    for button in (AcceptButton, RejectButton, PassButton, WalkAwayAskButton):
        view.add_item(button(table_id, offer))
    return view


def walkaway_view(table_id: int) -> discord.ui.View:
    """The confirmation button of /walkaway."""
    view = discord.ui.View(timeout=None)
    view.add_item(WalkAwayButton(table_id))
    return view


def register(bot: discord.Client) -> None:
    """Route every Parley component and modal by its custom_id, now and after a restart."""
    bot.add_dynamic_items(
        JoinButton,
        AcceptButton,
        RejectButton,
        PassButton,
        WalkAwayAskButton,
        WalkAwayButton,
        DraftSelect,
        DraftSubmit,
        ChairPick,
        ChairSubmit,
        GuessSelect,
    )
    if getattr(bot, "on_interaction", None) is not None:
        raise RuntimeError("the client has its own on_interaction; call route_modal from it")
    bot.event(on_interaction)
