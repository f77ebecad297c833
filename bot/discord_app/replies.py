"""One way to answer an interaction, and one error path for every command and button."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import discord
from discord import app_commands

from bot.discord_app.text import MESSAGE_LIMIT, split_message
from bot.domain.errors import Refusal, RefusalCode
from bot.service import LogUnavailable

log = logging.getLogger("parley.discord")

#: How long an answer may take before the interaction is deferred (Discord allows 3 s
#: for the first response; a quick answer is sent at once, in one request).
DEFER_AFTER_SECONDS = 1.0

#: Where an interaction keeps its pending deferral (in ``Interaction.extras``).
_PENDING = "parley.defer"


def defer_soon(interaction: discord.Interaction[Any]) -> None:
    """Acknowledge the interaction privately ("thinking") unless its answer comes within
    :data:`DEFER_AFTER_SECONDS`: most answers then take one request, not two."""
    if interaction.response.is_done() or _PENDING in interaction.extras:
        return
    lock = asyncio.Lock()

    async def defer_later() -> None:
        await asyncio.sleep(DEFER_AFTER_SECONDS)
        async with lock:
            if not interaction.response.is_done():
                await interaction.response.defer(ephemeral=True, thinking=True)

    task = asyncio.get_running_loop().create_task(defer_later(), name="parley-defer")
    interaction.extras[_PENDING] = (lock, task)


async def _settle_deferral(interaction: discord.Interaction[Any]) -> None:
    """Before answering: stop a pending deferral (waiting for one already on its way)."""
    pending = interaction.extras.pop(_PENDING, None)
    if pending is None:
        return
    lock, task = pending
    async with lock:
        task.cancel()


async def reply(
    interaction: discord.Interaction[Any],
    content: str = "",
    *,
    ephemeral: bool = True,
    embed: discord.Embed | None = None,
    view: discord.ui.View | None = None,
    file: discord.File | None = None,
) -> None:
    """Answer an interaction: the response if not yet given, follow-ups after that.

    Long text is split into several messages (nothing is cut); the embed, view and file
    go with the last one.
    """
    await _settle_deferral(interaction)
    chunks = split_message(content, MESSAGE_LIMIT) if content else [""]
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        kwargs: dict[str, Any] = {"content": chunk or None, "ephemeral": ephemeral}
        if last and embed is not None:
            kwargs["embed"] = embed
        if last and view is not None:
            kwargs["view"] = view
        if last and file is not None:
            kwargs["file"] = file
        if not interaction.response.is_done():
            await interaction.response.send_message(**kwargs)
        else:
            await interaction.followup.send(**kwargs)


def refusal_text(refusal: Refusal) -> str:
    """A refusal as the player sees it: the rule, what is allowed, and its code."""
    return f"⛔ {refusal.message}\n-# refused: `{refusal.code.value}`"


async def handle_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Turn any error from a command or component into one short, ephemeral answer."""
    original = error
    while isinstance(original, app_commands.CommandInvokeError | app_commands.TransformerError):
        # A transformer that refuses a value (a member who left the server) has no cause.
        cause = original.__cause__ or getattr(original, "original", None)
        if cause is None:
            break
        original = cause
    if isinstance(original, RefusedCheck):
        original = original.refusal
    if isinstance(original, app_commands.TransformerError):
        original = _unreadable_option(original)
    if isinstance(original, DuplicateInteraction):
        log.info("ignored a second delivery of interaction %s", interaction.id)
        return
    if isinstance(original, Refusal):
        text = refusal_text(original)
    elif isinstance(original, app_commands.CheckFailure):
        text = f"⛔ {original}" if str(original) else "⛔ You may not use this command here."
    elif isinstance(original, app_commands.CommandNotFound):
        text = "This command is out of date; Discord will refresh it shortly."
    elif isinstance(original, LogUnavailable):
        log.error("the log could not record an action: %s", original)
        reason = str(original)
        text = (
            f"⚠️ {reason[:1].upper()}{reason[1:]}. Please try again in a moment, and tell "
            "the facilitator if it keeps happening."
        )
    else:
        log.error(
            "unexpected error in %s",
            interaction.command.qualified_name if interaction.command else "a component",
            exc_info=original,
        )
        text = "Something went wrong on Parley's side; nothing was changed. Please try again."
    try:
        await reply(interaction, text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell the user about an error", exc_info=True)


def _unreadable_option(error: app_commands.TransformerError) -> Refusal:
    """An option value Discord sent that discord.py could not turn into what the command
    takes: most often a member option naming someone who is no longer in the server."""
    value = getattr(error.value, "display_name", None) or str(error.value)
    if error.type in (discord.AppCommandOptionType.user, discord.AppCommandOptionType.mentionable):
        return Refusal(
            RefusalCode.BAD_ARGUMENT,
            f"{value} is not a member of this server (any more); pick someone who is.",
        )
    return Refusal(RefusalCode.BAD_ARGUMENT, f"Parley could not read the value {value!r}.")


class RefusedCheck(app_commands.CheckFailure):
    """A refusal raised by a check (discord.py only routes AppCommandErrors to on_error)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class DuplicateInteraction(app_commands.CheckFailure):
    """The same interaction delivered again: it was handled once and is not answered."""


class ParleyTree(app_commands.CommandTree[Any]):
    """The command tree: one error path, and each interaction handled at most once."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        await handle_error(interaction, error)

    async def interaction_check(self, interaction: discord.Interaction[Any]) -> bool:
        first_delivery = getattr(self.client, "first_delivery", None)
        if first_delivery is not None and not first_delivery(interaction):
            raise DuplicateInteraction()
        return True
