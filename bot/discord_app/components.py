"""Buttons and select menus. Each carries ids in its ``custom_id`` and looks the table up;
none keeps state in a View, so they all keep working after a restart.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Self, cast

import discord

from bot.discord_app.replies import handle_error, reply
from bot.discord_app.text import SELECT_OPTIONS_LIMIT, clip
from bot.domain import commands as c
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.state import TableState

if TYPE_CHECKING:
    from bot.discord_app.app import ParleyBot


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
        await interaction.response.defer(ephemeral=True, thinking=True)
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


class OfferButton(
    _Routed,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"parley:(?P<verb>accept|reject):(?P<table>\d+):(?P<offer>\d+)",
):
    """Accept or reject one offer; refused if that offer no longer stands."""

    def __init__(self, verb: str, table_id: int, offer: int) -> None:
        accept = verb == "accept"
        super().__init__(
            discord.ui.Button(
                label="Accept" if accept else "Reject",
                style=discord.ButtonStyle.success if accept else discord.ButtonStyle.danger,
                custom_id=f"parley:{verb}:{table_id}:{offer}",
            )
        )
        self.verb, self.table_id, self.offer = verb, table_id, offer

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> OfferButton:
        return cls(match["verb"], int(match["table"]), int(match["offer"]))

    async def run(self, interaction: discord.Interaction[Any]) -> None:
        bot = _bot(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        who = bot.who(interaction)
        command: c.Command = (
            c.Accept(who=who, offer=self.offer)
            if self.verb == "accept"
            else c.Reject(who=who, offer=self.offer)
        )
        await bot.act(interaction, command, self.table_id)
        await reply(interaction, f"Offer #{self.offer} {self.verb}ed.")


# -- the offer drafting view ------------------------------------------------------------------
# The draft lives in the message itself: each select's custom_id carries the other's
# choice, and the "table this offer" button carries both, as item numbers.


def _encode(state: TableState, ids: list[str]) -> str:
    numbers = {item.id: n for n, item in enumerate(state.scenario.items)}
    return ".".join(str(numbers[i]) for i in ids if i in numbers)


def _decode(state: TableState, text: str) -> list[str]:
    items = state.scenario.items
    return [items[int(n)].id for n in text.split(".") if n.isdigit() and int(n) < len(items)]


class DraftSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"parley:draft:(?P<side>give|ask):(?P<table>\d+):(?P<give>[\d.]*):(?P<ask>[\d.]*)",
):
    """The give or ask menu of a draft offer."""

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
            ask = chosen if self.side == "ask" else _decode(state, self.ask)
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
        await interaction.response.defer(ephemeral=True, thinking=True)
        state = await bot.tables.state(self.table_id)
        give, ask = _decode(state, self.give), _decode(state, self.ask)
        outcome = await bot.act(
            interaction,
            c.Offer(who=bot.who(interaction), give=tuple(give), ask=tuple(ask)),
            self.table_id,
        )
        await reply(interaction, f"Offer #{outcome.events[0].seq} is on the table.")


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
    """Select menus for give and ask (open items only), and a button to table the offer."""
    member = state.member(user_id)
    if member is None or member.delegation is None:
        raise Refusal(RefusalCode.NOT_A_MEMBER, "Only delegation members may draft offers.")
    mine = member.delegation
    limit = min(state.rules.max_items_per_offer, SELECT_OPTIONS_LIMIT)
    g, a = _encode(state, give), _encode(state, ask)
    view = discord.ui.View(timeout=None)
    for side, items, chosen in (
        ("give", state.open_items(mine), give),
        ("ask", [i for i in state.open_items() if i.giver != mine], ask),
    ):
        options = [
            discord.SelectOption(
                label=clip(item.title, 100),
                value=item.id,
                default=item.id in chosen,
                description=clip(f"{item.basket} · weight {item.weight}", 100),
            )
            for item in items[:SELECT_OPTIONS_LIMIT]
        ]
        if not options:
            options = [discord.SelectOption(label="Nothing open", value="-")]
        select: discord.ui.Select[Any] = discord.ui.Select(
            custom_id=f"parley:draft:{side}:{table_id}:{g}:{a}",
            placeholder=f"You {side}…",
            min_values=0,
            max_values=max(1, min(limit, len(options))),
            options=options,
            disabled=options[0].value == "-",
        )
        view.add_item(DraftSelect(select, side, table_id, g, a))
    view.add_item(DraftSubmit(table_id, g, a, disabled=not (give or ask)))
    return view


def join_view(table_id: int) -> discord.ui.View:
    """The Join button under the table's opening message."""
    view = discord.ui.View(timeout=None)
    view.add_item(JoinButton(table_id))
    return view


def offer_view(table_id: int, offer: int) -> discord.ui.View:
    """Accept and Reject under an offer's message."""
    view = discord.ui.View(timeout=None)
    view.add_item(OfferButton("accept", table_id, offer))
    view.add_item(OfferButton("reject", table_id, offer))
    return view


def walkaway_view(table_id: int) -> discord.ui.View:
    """The confirmation button of /walkaway."""
    view = discord.ui.View(timeout=None)
    view.add_item(WalkAwayButton(table_id))
    return view


def register(bot: discord.Client) -> None:
    """Route every Parley component by its custom_id, now and after a restart."""
    bot.add_dynamic_items(JoinButton, OfferButton, WalkAwayButton, DraftSelect, DraftSubmit)
