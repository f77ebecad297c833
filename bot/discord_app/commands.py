"""The slash commands. Each docstring is the help text Discord shows.

Every command that touches the log answers ephemerally (so a refusal stays private),
deferring only if the answer is slow, and applies its command once per interaction;
public announcements go to the channel as messages of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import re
import unicodedata
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.discord_app import present
from bot.discord_app.components import confirm_walkaway, open_chair_draft, open_offer_draft
from bot.discord_app.replies import RefusedCheck, defer_soon, reply
from bot.discord_app.text import AUTOCOMPLETE_LIMIT, CHOICE_NAME_LIMIT, CHOICE_VALUE_LIMIT, clip
from bot.domain import commands as c
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.state import TableState
from bot.review.export import SUFFIX
from bot.review.narrate import delegation_name

if TYPE_CHECKING:
    from bot.discord_app.app import ParleyBot

Interaction = discord.Interaction[Any]
Choice = app_commands.Choice[str]


def _bot(interaction: Interaction) -> ParleyBot:
    return cast("ParleyBot", interaction.client)


async def _defer(interaction: Interaction) -> None:
    """Acknowledge privately if the answer is slow: the log may take longer than
    Discord's 3 seconds (see :func:`defer_soon`)."""
    defer_soon(interaction)


async def _act(interaction: Interaction, command: c.Command, done: str) -> None:
    await _defer(interaction)
    await _bot(interaction).act(interaction, command)
    await reply(interaction, done)


def _guild(interaction: Interaction) -> str | None:
    return str(interaction.guild_id) if interaction.guild_id else None


#: What may separate items in a typed list: commas, as the help says, and the semicolons,
#: spaces and line breaks people type too (no item id has any of them).
_ITEM_SEPARATORS = re.compile(r"[,;\s]+")


def _items(text: str | None) -> tuple[str, ...]:
    """Item ids from a typed list. Invisible characters (a zero-width space copied along
    with an id) are dropped and letters lowercased, as in every id, so what looks like an
    id is read as one."""
    visible = "".join(ch for ch in text or "" if unicodedata.category(ch) != "Cf")
    return tuple(part for part in _ITEM_SEPARATORS.split(visible.lower()) if part)


async def _state_here(interaction: Interaction) -> tuple[int, TableState] | None:
    """The table of this channel and its state, or None (for autocomplete)."""
    bot = _bot(interaction)
    try:
        table_id = await bot.table_here(interaction)
    except Refusal:
        return None
    return table_id, await bot.tables.state(table_id)


def _choices(pairs: list[tuple[str, str]], current: str) -> list[Choice]:
    """Up to 25 choices whose name or value contains what was typed. A value over
    Discord's 100 characters (a long list typed so far) is left out, not cut: cut, it
    would name an item that does not exist."""
    needle = current.lower().strip()
    found = [
        app_commands.Choice(name=clip(name, CHOICE_NAME_LIMIT), value=value)
        for name, value in pairs
        if (needle in name.lower() or needle in value.lower()) and len(value) <= CHOICE_VALUE_LIMIT
    ]
    return found[:AUTOCOMPLETE_LIMIT]


# -- autocomplete --------------------------------------------------------------------------


async def scenario_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Scenarios in rules/."""
    return _choices(
        [(f"{s.title} ({s.id})", s.id) for s in _bot(interaction).library.all()], current
    )


async def variant_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Sequencing variants of the chosen scenario (or of every scenario)."""
    library = _bot(interaction).library
    chosen = getattr(interaction.namespace, "scenario", None)
    scenarios = [s for s in library.all() if s.id == chosen] or library.all()
    pairs = []
    for scenario in scenarios:
        for name in scenario.variant_names():
            variant = scenario.variants.get(name)
            title = variant.title if variant and variant.title else name
            pairs.append((f"{title} ({name})", name))
    return _choices(list(dict.fromkeys(pairs)), current)


async def delegation_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Delegations of this channel's table."""
    found = await _state_here(interaction)
    if found is None:
        return []
    return _choices([(d.name, d.id) for d in found[1].scenario.delegations], current)


async def scenario_delegation_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Offering delegations of the chosen scenario (for /practice)."""
    library = _bot(interaction).library
    chosen = getattr(interaction.namespace, "scenario", None)
    scenarios = [s for s in library.all() if s.id == chosen] or library.all()
    pairs = [(f"{d.name} ({d.id})", d.id) for s in scenarios for d in s.delegations if d.offers]
    return _choices(list(dict.fromkeys(pairs)), current)


#: The strategies as a choice list (Discord shows only these).
STRATEGY_CHOICES = [
    app_commands.Choice(name=present.strategy_title(name), value=name) for name in c.STRATEGIES
]


async def role_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Roles of the chosen delegation."""
    found = await _state_here(interaction)
    if found is None:
        return []
    scenario = found[1].scenario
    chosen = scenario.delegation(getattr(interaction.namespace, "delegation", "") or "")
    roles = (
        list(chosen.roles) if chosen else sorted({r for d in scenario.delegations for r in d.roles})
    )
    return _choices([(r, r) for r in roles], current)


async def inject_choices(interaction: Interaction, current: str) -> list[Choice]:
    """The scenario's events."""
    found = await _state_here(interaction)
    if found is None:
        return []
    return _choices([(e.title, e.id) for e in found[1].scenario.events], current)


async def _item_choices(interaction: Interaction, current: str, side: str) -> list[Choice]:
    """Open items for a comma-separated list: mine to give, the others' to ask."""
    found = await _state_here(interaction)
    if found is None:
        return []
    state = found[1]
    member = state.member(str(interaction.user.id))
    mine = member.delegation if member else None
    head, _, last = current.rpartition(",")
    taken = set(_items(head))
    prefix = f"{head}," if head else ""
    pairs = []
    for item in state.open_items():
        if item.id in taken or (side == "give") != (item.giver == mine):
            continue
        pairs.append(
            (f"{prefix}{item.title} [{item.basket}, w{item.weight}]", f"{prefix}{item.id}")
        )
    return _choices(pairs, last)[:AUTOCOMPLETE_LIMIT]


async def give_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Items my delegation can give."""
    return await _item_choices(interaction, current, "give")


async def ask_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Items the other delegations can give."""
    return await _item_choices(interaction, current, "ask")


async def draft_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Open items of every delegation, for the chair's comma-separated draft."""
    found = await _state_here(interaction)
    if found is None:
        return []
    state = found[1]
    head, _, last = current.rpartition(",")
    taken = set(_items(head))
    prefix = f"{head}," if head else ""
    pairs = [
        (
            f"{prefix}{item.title} [{delegation_name(state.scenario, item.giver)}, "
            f"{item.basket}, w{item.weight}]",
            f"{prefix}{item.id}",
        )
        for item in state.open_items()
        if item.id not in taken
    ]
    return _choices(pairs, last)


async def closed_table_choices(interaction: Interaction, current: str) -> list[Choice]:
    """Closed tables of this server (not practice tables; their numbers still work)."""
    bot = _bot(interaction)
    found = await bot.tables.tables(_guild(interaction))
    head, _, last = current.rpartition(",")
    prefix = f"{head}," if head else ""
    pairs = [
        (f"{prefix}#{r.id} {r.title} ({r.variant}, {r.opened_at:%Y-%m-%d})", f"{prefix}{r.id}")
        for r in (t.row for t in found)
        if r.closed_at is not None and not r.practice
    ]
    return _choices(pairs, last)


# -- the facilitator's /session group -----------------------------------------------------


class SessionGroup(app_commands.Group):
    """The /session group. Discord hides it from members without Manage Server, but
    server admins can change that, so it is checked again here; a refused attempt at a
    table is logged like any other."""

    async def interaction_check(self, interaction: Interaction) -> bool:
        bot = _bot(interaction)
        if bot.is_facilitator(interaction):
            return True
        refusal = Refusal(
            RefusalCode.NOT_FACILITATOR,
            "Only a facilitator (Manage Server, or the facilitator role) may use /session. "
            "Players can use /status, /items, /brief, /say and the turn commands.",
        )
        found = await _state_here(interaction)
        if found is not None and interaction.command is not None:
            args = {k: str(v) for k, v in vars(interaction.namespace).items()}
            name = interaction.command.qualified_name
            await bot.log_refusal(interaction, found[0], name, args, refusal)
        raise RefusedCheck(refusal)


session = SessionGroup(
    name="session",
    description="Facilitator commands: open, run and review negotiation tables.",
    default_permissions=discord.Permissions(manage_guild=True),
    guild_only=True,
)


def _missing_to_post(interaction: Interaction) -> list[str]:
    """The permissions Parley lacks in the interaction's channel to post a table there."""
    have = interaction.app_permissions
    if have.administrator:
        return []
    if isinstance(interaction.channel, discord.Thread):
        send = ("send_messages_in_threads", "Send Messages in Threads")
    else:
        send = ("send_messages", "Send Messages")
    wanted = [("view_channel", "View Channel"), send, ("embed_links", "Embed Links")]
    return [name for flag, name in wanted if not getattr(have, flag)]


@session.command(name="open")
@app_commands.describe(
    scenario="The scenario to play (from rules/)",
    sequencing="Which rules: the scenario's sequencing variants (default: its own)",
    title="A title for this table, e.g. the section's name",
)
@app_commands.autocomplete(scenario=scenario_choices, sequencing=variant_choices)
async def session_open(
    interaction: Interaction,
    scenario: str,
    sequencing: str | None = None,
    title: app_commands.Range[str, 1, 100] | None = None,
) -> None:
    """Open a negotiation table in this channel and post the background with Join buttons."""
    await _defer(interaction)
    bot = _bot(interaction)
    missing = _missing_to_post(interaction)
    if missing:  # a table nobody could see, announced nowhere, would only block the channel
        raise Refusal(
            RefusalCode.BAD_ARGUMENT,
            f"Parley may not post its messages in this channel (missing: {', '.join(missing)}). "
            "Give it these permissions here, or open the table in another channel.",
        )
    room_of = await bot.tables.table_of_room(str(interaction.channel_id))
    # A room of a table still open: its commands would go to the new table from now on
    # (a closed table's room left behind is a channel like any other)
    if room_of is not None and (await bot.tables.table(room_of)).closed_at is None:
        refusal = Refusal(
            RefusalCode.TABLE_EXISTS,
            f"This channel is a caucus room of table #{room_of}. Open a table in a channel "
            "of its own.",
        )
        args = {"scenario": scenario, "sequencing": sequencing, "title": title}
        await bot.log_refusal(interaction, room_of, "session open", args, refusal)
        raise refusal
    outcome = bot.follow_up(
        await bot.tables.open(
            bot.who(interaction),
            scenario,
            sequencing,
            title,
            guild_id=str(interaction.guild_id) if interaction.guild_id else None,
            channel_id=str(interaction.channel_id),
            key=str(interaction.id),
        )
    )
    await reply(
        interaction,
        f"Table #{outcome.table_id} is open. Players press **Join**; "
        "then `/session assign` or `/session autoassign`, and `/session start`.",
    )


@session.command(name="assign")
@app_commands.describe(
    member="The member to place",
    delegation="Their delegation",
    role="Their role (default: member; a new head replaces the old one)",
)
@app_commands.autocomplete(delegation=delegation_choices, role=role_choices)
async def session_assign(
    interaction: Interaction, member: discord.Member, delegation: str, role: str = "member"
) -> None:
    """Put a member in a delegation (moves them if they are in another)."""
    bot = _bot(interaction)
    target = c.Who(user_id=str(member.id), name=member.display_name)
    command = c.Assign(who=bot.who(interaction), member=target, delegation=delegation, role=role)
    if member.bot:  # it could never take its turns: the table would wait on it for good
        await _defer(interaction)
        refusal = Refusal(
            RefusalCode.BAD_ARGUMENT,
            f"{member.display_name} is a bot and cannot play a delegation. To let Parley "
            "play one, use /session seat.",
        )
        table_id = await bot.table_here(interaction)
        await bot.log_refusal(interaction, table_id, command.name, command.arguments(), refusal)
        raise refusal  # logged like any refused attempt; the one error path answers it
    await _act(interaction, command, f"{member.display_name} is now {role} of {delegation}.")


@session.command(name="autoassign")
async def session_autoassign(interaction: Interaction) -> None:
    """Share everyone who joined without a delegation out evenly, one head per delegation."""
    await _act(
        interaction,
        c.AutoAssign(who=_bot(interaction).who(interaction), seed=interaction.id),
        "Everyone waiting has a delegation now; see the status message.",
    )


@session.command(name="seat")
@app_commands.describe(
    delegation="The delegation the bot will play (it becomes the delegation's head)",
    strategy="How the counterpart negotiates (players are not told)",
    think_seconds="Seconds it waits on its turn before acting (default 20)",
)
@app_commands.choices(strategy=STRATEGY_CHOICES)
@app_commands.autocomplete(delegation=delegation_choices)
async def session_seat(
    interaction: Interaction,
    delegation: str,
    strategy: str,
    think_seconds: app_commands.Range[float, 0.0, c.MAX_THINK_SECONDS] = 20.0,
) -> None:
    """Seat a scripted counterpart as a delegation: it plays that delegation's turns."""
    await _act(
        interaction,
        c.Seat(
            who=_bot(interaction).who(interaction),
            delegation=delegation,
            strategy=strategy,
            think_seconds=think_seconds,
            # Its random choices differ from table to table, and are logged with the seat.
            seed=interaction.id % 2**31,
        ),
        f"A {present.strategy_title(strategy)} counterpart now plays {delegation}; it acts "
        f"{think_seconds:g} seconds into each of its turns. `/session unseat` gives the seat back.",
    )


@session.command(name="unseat")
@app_commands.describe(delegation="The delegation to give back to people")
@app_commands.autocomplete(delegation=delegation_choices)
async def session_unseat(interaction: Interaction, delegation: str) -> None:
    """Give a delegation played by a counterpart back to people (its old head, if any)."""
    await _act(
        interaction,
        c.Unseat(who=_bot(interaction).who(interaction), delegation=delegation),
        f"The counterpart has left {delegation}; people play it again.",
    )


@session.command(name="start")
@app_commands.describe(first="The delegation that moves first (default: the scenario's)")
@app_commands.autocomplete(first=delegation_choices)
async def session_start(interaction: Interaction, first: str | None = None) -> None:
    """Check every delegation has a head, open the caucus rooms with briefs, start turn 1."""
    await _act(
        interaction,
        c.Start(who=_bot(interaction).who(interaction), first=first),
        "The negotiation has started; caucus rooms are being opened.",
    )


@session.command(name="pause")
async def session_pause(interaction: Interaction) -> None:
    """Pause the table: the clock stops and no turn action is taken."""
    await _act(interaction, c.Pause(who=_bot(interaction).who(interaction)), "Paused.")


@session.command(name="resume")
async def session_resume(interaction: Interaction) -> None:
    """Resume the table with the time that was left on the clock."""
    await _act(interaction, c.Resume(who=_bot(interaction).who(interaction)), "Resumed.")


@session.command(name="extend")
@app_commands.describe(minutes="Minutes to add to the current turn's clock")
async def session_extend(
    interaction: Interaction, minutes: app_commands.Range[int, 1, 1440]
) -> None:
    """Give the delegation on move more time."""
    await _act(
        interaction,
        c.Extend(who=_bot(interaction).who(interaction), minutes=minutes),
        f"Extended by {minutes} minutes.",
    )


@session.command(name="inject")
@app_commands.describe(event="The scenario event to post")
@app_commands.autocomplete(event=inject_choices)
async def session_inject(interaction: Interaction, event: str) -> None:
    """Post a scenario event (news, a message from the control team) to the table."""
    await _act(
        interaction, c.Inject(who=_bot(interaction).who(interaction), event=event), "Posted."
    )


@session.command(name="undo")
async def session_undo(interaction: Interaction) -> None:
    """Revert the last turn action (nothing is deleted: the undo is logged too)."""
    await _act(interaction, c.Undo(who=_bot(interaction).who(interaction)), "Undone.")


@session.command(name="end")
async def session_end(interaction: Interaction) -> None:
    """Close the table and post the joint statement; scores go to each caucus room."""
    await _act(interaction, c.End(who=_bot(interaction).who(interaction)), "The table is closed.")


@session.command(name="list")
@app_commands.describe(practice="Also list students' practice tables (default: no)")
async def session_list(interaction: Interaction, practice: bool = False) -> None:
    """Tables in this server with their status and outcome."""
    await _defer(interaction)
    found = await _bot(interaction).tables.tables(_guild(interaction))
    hidden = 0 if practice else sum(t.row.practice for t in found)
    found = [t for t in found if practice or not t.row.practice]
    more = (
        f"\n-# {hidden} practice table{'s' if hidden != 1 else ''} not shown; "
        "`practice: True` lists them."
        if hidden
        else ""
    )
    if not found:
        await reply(
            interaction, "No tables yet in this server. Open one with /session open." + more
        )
        return
    lines = []
    for table in found[:40]:
        row = table.row
        outcome = f"{table.agreed} items agreed" + (
            f", {table.close_reason}" if table.close_reason else ""
        )
        lines.append(
            f"**#{row.id}** {row.title} · <#{row.channel_id}> · {row.variant} · "
            f"{table.phase} · {outcome}" + (" · practice" if row.practice else "")
        )
    await reply(interaction, "\n".join(lines) + more)


@session.command(name="status")
async def session_status(interaction: Interaction) -> None:
    """The table in full: what /status shows, plus members, rooms and refusals so far."""
    await _defer(interaction)
    bot = _bot(interaction)
    table_id = await bot.table_here(interaction)
    state = await bot.tables.state(table_id)
    places = await bot.tables.places(table_id)
    rooms = (
        ", ".join(
            f"{name.removeprefix('room:')}: <#{i}>"
            for name, i in places.items()
            if name.startswith("room:")
        )
        or "not opened yet"
    )
    refusals = ", ".join(f"`{k}` {v}" for k, v in sorted(state.refusals.items())) or "none"
    lines = [
        f"**Rooms**: {rooms}",
        f"**Events logged**: {state.last_seq}",
        f"**Refusals**: {refusals}",
    ]
    await reply(interaction, "\n".join(lines), embed=present.status_embed(state, table_id))


async def _closed_tables(interaction: Interaction, text: str) -> list[int]:
    """Table ids from ``1,2,#3`` that are tables of this server (refusing any other)."""
    bot = _bot(interaction)
    ids: list[int] = []
    for part in text.replace(" ", ",").split(","):
        part = part.strip().lstrip("#")
        if not part:
            continue
        if not part.isdecimal():  # (isdigit() lets "²" through, which int() refuses)
            raise Refusal(
                RefusalCode.BAD_ARGUMENT,
                f"{part!r} is not a table number; /session list shows them.",
            )
        ids.append(int(part))
    for table_id in ids:
        try:
            row = await bot.tables.table(table_id)
        except Refusal:
            row = None
        if row is None or row.guild_id != _guild(interaction):
            raise Refusal(
                RefusalCode.UNKNOWN_TABLE,
                f"This server has no table #{table_id}; /session list shows its tables.",
            )
    return list(dict.fromkeys(ids))


async def _table_for_export(interaction: Interaction, table: str | None) -> int:
    """The named table, or this channel's table (open, or else its latest closed one)."""
    bot = _bot(interaction)
    if not table:
        return await bot.table_here(interaction)
    ids = await _closed_tables(interaction, table)
    if len(ids) != 1:
        raise Refusal(
            RefusalCode.BAD_ARGUMENT,
            "Name one table to export; /session compare takes several.",
        )
    row = await bot.tables.table(ids[0])
    if row.closed_at is None and row.channel_id != str(interaction.channel_id):
        raise Refusal(
            RefusalCode.WRONG_PHASE,
            f"Table #{row.id} is still open; export it from its channel, or once it is closed.",
        )
    return row.id


def _attachment(interaction: Interaction, data: bytes, filename: str) -> discord.File:
    """The file as Discord will take it: gzipped if too large, refused if still too large."""
    limit = interaction.filesize_limit
    if len(data) > limit:
        data, filename = gzip.compress(data, mtime=0), filename + ".gz"
    if len(data) > limit:
        raise Refusal(
            RefusalCode.BAD_ARGUMENT,
            f"The file is {len(data) // 1024:,} KiB even compressed, over this server's "
            f"upload limit of {limit // 1024:,} KiB. On the bot's machine, "
            f"`parley export` writes it without a limit.",
        )
    return discord.File(io.BytesIO(data), filename=filename)


@session.command(name="export")
@app_commands.describe(
    format="html (the report, default), markdown (the transcript), json or csv (the data)",
    table="A table of this server (default: this channel's)",
)
@app_commands.choices(
    format=[
        app_commands.Choice(name="HTML report", value="html"),
        app_commands.Choice(name="Markdown transcript", value="markdown"),
        app_commands.Choice(name="JSON (parley-log/1)", value="json"),
        app_commands.Choice(name="CSV, one row per event", value="csv"),
    ]
)
@app_commands.autocomplete(table=closed_table_choices)
async def session_export(
    interaction: Interaction, format: str = "html", table: str | None = None
) -> None:
    """Attach a table's log: the HTML report, the transcript, or the data (facilitators)."""
    await _defer(interaction)
    bot = _bot(interaction)
    table_id = await _table_for_export(interaction, table)
    exported = await bot.tables.export(table_id)
    text = await asyncio.to_thread(_render, exported, format)
    filename = f"parley-table-{table_id}.{SUFFIX[format]}"
    file = _attachment(interaction, text.encode("utf-8"), filename)
    await reply(
        interaction,
        f"Table #{table_id}, {exported['table']['title']}: {len(exported['events'])} events.",
        file=file,
    )


def _render(exported: dict[str, Any], format: str) -> str:
    """A table's export rendered in ``format``. The report draws its charts with
    matplotlib, imported here (in the worker thread) the first time a report is asked for:
    it would otherwise add about a third to the bot's start and to every full garbage
    collection of its heap."""
    from bot.review.render import render

    return render(exported, format)


def _render_comparison(exports: list[dict[str, Any]], anonymize: bool) -> str:
    """The comparison page of some tables' exports (matplotlib imported as in
    :func:`_render`)."""
    from bot.review.compare import render_comparison

    return render_comparison(exports, anonymize)


@session.command(name="compare")
@app_commands.describe(
    tables="Two or more tables of the same scenario, e.g. 3,4,5",
    anonymize='Show "Student 1"... and "Table A"... instead of names, to show the class',
)
@app_commands.autocomplete(tables=closed_table_choices)
async def session_compare(interaction: Interaction, tables: str, anonymize: bool = False) -> None:
    """Attach one HTML page comparing tables of the same scenario side by side."""
    await _defer(interaction)
    bot = _bot(interaction)
    ids = await _closed_tables(interaction, tables)
    rows = [await bot.tables.table(t) for t in ids]
    still_open = [f"#{r.id}" for r in rows if r.closed_at is None]
    if still_open:
        raise Refusal(
            RefusalCode.WRONG_PHASE,
            f"Compare closed tables only; still open: {', '.join(still_open)}.",
        )
    exports = [await bot.tables.export(t) for t in ids]
    try:
        page = await asyncio.to_thread(_render_comparison, exports, anonymize)
    except ValueError as exc:
        raise Refusal(RefusalCode.BAD_ARGUMENT, str(exc)) from None
    name = f"parley-compare-{'-'.join(map(str, ids))}.html"
    await reply(
        interaction,
        f"Tables {', '.join(f'#{t}' for t in ids)} side by side.",
        file=_attachment(interaction, page.encode("utf-8"), name),
    )


# -- players ------------------------------------------------------------------------------


@app_commands.command(name="join")
@app_commands.describe(
    delegation="The delegation to join, where the scenario lets players "
    "choose (otherwise you join as an observer)"
)
@app_commands.autocomplete(delegation=delegation_choices)
@app_commands.guild_only()
async def join(interaction: Interaction, delegation: str | None = None) -> None:
    """Join this channel's table."""
    await _act(
        interaction,
        c.Join(who=_bot(interaction).who(interaction), delegation=delegation),
        "You joined the table."
        if delegation is None
        else f"You joined the {delegation} delegation.",
    )


@app_commands.command(name="leave")
@app_commands.guild_only()
async def leave(interaction: Interaction) -> None:
    """Leave this channel's table."""
    await _act(interaction, c.Leave(who=_bot(interaction).who(interaction)), "You left the table.")


@app_commands.command(name="status")
@app_commands.guild_only()
async def status(interaction: Interaction) -> None:
    """The table: phase, round, whose turn, deadline, standing offer, agreed items, baskets."""
    await _defer(interaction)
    bot = _bot(interaction)
    table_id = await bot.table_here(interaction)
    await reply(interaction, embed=present.status_embed(await bot.tables.state(table_id), table_id))


@app_commands.command(name="brief")
@app_commands.guild_only()
async def brief(interaction: Interaction) -> None:
    """Your delegation's confidential brief, shown only to you."""
    await _defer(interaction)
    bot = _bot(interaction)
    table_id = await bot.table_here(interaction)
    state = await bot.tables.state(table_id)
    member = state.member(str(interaction.user.id))
    if member is None or member.delegation is None:
        raise Refusal(
            RefusalCode.NOT_A_MEMBER,
            "Briefs are for delegation members; you are not in a delegation at this table.",
        )
    delegation = state.scenario.delegation(member.delegation)
    assert delegation is not None
    prose = await bot.tables.prompt(table_id, delegation.brief)
    await reply(interaction, present.brief_text(state.scenario, delegation.id, prose))


@app_commands.command(name="items")
@app_commands.guild_only()
async def items(interaction: Interaction) -> None:
    """The item catalogue: basket, giver, weight, agreed or open, and your own values."""
    await _defer(interaction)
    bot = _bot(interaction)
    table_id = await bot.table_here(interaction)
    state = await bot.tables.state(table_id)
    member = state.member(str(interaction.user.id))
    await reply(interaction, present.items_text(state, member.delegation if member else None))


@app_commands.command(name="offer")
@app_commands.describe(
    give="Items your delegation concedes, comma-separated (autocomplete helps)",
    ask="Items you ask of other delegations, comma-separated",
    note="A note to go with the offer",
)
@app_commands.autocomplete(give=give_choices, ask=ask_choices)
@app_commands.guild_only()
async def offer(
    interaction: Interaction,
    give: str | None = None,
    ask: str | None = None,
    note: app_commands.Range[str, 0, 1000] | None = None,
) -> None:
    """Table an offer; with no items, a drafting form opens."""
    bot = _bot(interaction)
    await _defer(interaction)
    if not give and not ask:
        await open_offer_draft(interaction, await bot.table_here(interaction))
        return
    outcome = await bot.act(
        interaction,
        c.Offer(who=bot.who(interaction), give=_items(give), ask=_items(ask), note=note or ""),
    )
    await reply(interaction, present.offer_reply(outcome.events))


@app_commands.command(name="draft")
@app_commands.describe(
    items="Items of any delegations, comma-separated (autocomplete helps); none: a form opens",
    note="A note to go with the draft",
)
@app_commands.autocomplete(items=draft_choices)
@app_commands.guild_only()
async def draft(
    interaction: Interaction,
    items: str | None = None,
    note: app_commands.Range[str, 0, 1000] | None = None,
) -> None:
    """The chair's head tables a chair's draft: items of any delegations, for all to accept."""
    bot = _bot(interaction)
    await _defer(interaction)
    if not items:
        await open_chair_draft(interaction, await bot.table_here(interaction))
        return
    outcome = await bot.act(
        interaction, c.Draft(who=bot.who(interaction), items=_items(items), note=note or "")
    )
    await reply(interaction, present.offer_reply(outcome.events))


@app_commands.command(name="accept")
@app_commands.guild_only()
async def accept(interaction: Interaction) -> None:
    """Accept another delegation's standing offer, exactly as tabled (head only)."""
    await _act(interaction, c.Accept(who=_bot(interaction).who(interaction)), "Accepted.")


@app_commands.command(name="reject")
@app_commands.describe(reason="Why (goes on the record)")
@app_commands.guild_only()
async def reject(
    interaction: Interaction, reason: app_commands.Range[str, 0, 1000] | None = None
) -> None:
    """Reject the standing offer; it leaves the table."""
    await _act(
        interaction,
        c.Reject(who=_bot(interaction).who(interaction), reason=reason or ""),
        "Rejected.",
    )


@app_commands.command(name="pass")
@app_commands.guild_only()
async def pass_(interaction: Interaction) -> None:
    """Pass your turn; the standing offer stays."""
    await _act(interaction, c.Pass(who=_bot(interaction).who(interaction)), "Passed.")


@app_commands.command(name="walkaway")
@app_commands.guild_only()
async def walkaway(interaction: Interaction) -> None:
    """Walk away from the table (asks you to confirm; head only)."""
    await _defer(interaction)
    await confirm_walkaway(interaction, await _bot(interaction).table_here(interaction))


@app_commands.command(name="say")
@app_commands.describe(text="Your statement (on the record, visible to the table)")
@app_commands.guild_only()
async def say(interaction: Interaction, text: app_commands.Range[str, 1, 4000]) -> None:
    """Put a statement on the record; it is not a turn action."""
    await _act(
        interaction,
        c.Say(who=_bot(interaction).who(interaction), text=text),
        "Your statement is on the record.",
    )


@app_commands.command(name="practice")
@app_commands.describe(
    scenario="The scenario to practise (from rules/)",
    delegation="The delegation you play; counterparts play the others",
    strategy="How the counterparts negotiate (you will be asked at the end which it was)",
    sequencing="Which rules: the scenario's sequencing variants (default: its own)",
)
@app_commands.choices(strategy=STRATEGY_CHOICES)
@app_commands.autocomplete(
    scenario=scenario_choices, delegation=scenario_delegation_choices, sequencing=variant_choices
)
@app_commands.guild_only()
async def practice(
    interaction: Interaction,
    scenario: str,
    delegation: str,
    strategy: str,
    sequencing: str | None = None,
) -> None:
    """Practise against the machine: a private table with you against a counterpart."""
    await _defer(interaction)
    bot = _bot(interaction)
    bot.tables.check_practice(scenario, delegation, strategy, sequencing)  # before the thread
    channel = interaction.channel
    parent = channel.parent if isinstance(channel, discord.Thread) else channel
    if not isinstance(parent, discord.TextChannel):
        raise Refusal(
            RefusalCode.BAD_ARGUMENT,
            "Practice tables open in a private thread of a text channel; "
            "use /practice in a server's text channel.",
        )
    user = interaction.user
    try:
        thread = await parent.create_thread(
            name=clip(f"practice-{user.display_name}", 100),
            type=discord.ChannelType.private_thread,
            invitable=False,
            auto_archive_duration=1440,
            reason=f"Parley: {user.display_name}'s practice table",
        )
        await thread.add_user(user)
    except discord.Forbidden:
        raise Refusal(
            RefusalCode.BAD_ARGUMENT,
            f"Parley may not open private threads in <#{parent.id}>. Ask an admin to give "
            "it **Create Private Threads** and **Send Messages in Threads** there, or "
            "try another channel.",
        ) from None
    try:
        outcome = await bot.tables.practice(
            c.Who(user_id=str(user.id), name=user.display_name),
            scenario,
            delegation,
            strategy,
            sequencing,
            guild_id=_guild(interaction),
            channel_id=str(thread.id),
            seed=interaction.id % 2**31,
            key=str(interaction.id),
        )
    except BaseException:
        with contextlib.suppress(discord.HTTPException):
            await thread.delete()  # no table came of it: leave no empty thread behind
        raise
    bot.follow_up(outcome)
    await reply(
        interaction,
        f"Your practice table #{outcome.table_id} is ready in {thread.mention}: "
        "your brief is there, and the counterpart is at the table.",
    )


def register(bot: ParleyBot) -> None:
    """Add every command to the bot's tree."""
    bot.tree.add_command(session)
    players: list[app_commands.Command[Any, Any, Any]] = [
        join,
        leave,
        status,
        brief,
        items,
        offer,
        draft,
        accept,
        reject,
        pass_,
        walkaway,
        say,
        practice,
    ]
    for command in players:
        bot.tree.add_command(command)
