"""After the log: tell the server what happened.

Everything here runs after the events are committed, from the committed outcome alone
(its events and the table's state after them); the log is never read again here. Where
the table lives in Discord (rooms, the status message, offer messages) is remembered
through the service's small :class:`~bot.service.Places` interface. A Discord failure (a
dropped connection, a missing permission) is logged and loses nothing: the log has the
events, and the status message is brought up to date again with the next action.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
import discord

from bot.discord_app import present
from bot.discord_app.announcements import say
from bot.discord_app.components import guess_view, join_view, offer_view
from bot.discord_app.present import Post
from bot.discord_app.text import MESSAGE_LIMIT, clip, mention, split_message
from bot.domain import events as ev
from bot.domain.events import Event, EventKind
from bot.domain.state import Phase, TableState
from bot.review.narrate import delegation_name
from bot.service import Outcome, TableRow

if TYPE_CHECKING:
    from bot.discord_app.app import ParleyBot

log = logging.getLogger("parley.discord")

T = TypeVar("T")


def _allowed(post: Post) -> discord.AllowedMentions:
    # Only Discord users can be pinged (a counterpart's id is ``counterpart:<delegation>``).
    users = [discord.Object(id=int(u)) for u in post.ping if u.isdigit()]
    return discord.AllowedMentions(everyone=False, roles=False, users=users)


#: What a request to Discord may fail with: a refusal or an error answer, or a connection
#: dropped or timed out on the way (discord.py retries only some of these itself).
_DISCORD_TROUBLE = (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError)

#: The status message is edited at most once in this many seconds: a burst of actions
#: shows at once, then its end a moment later (Discord limits edits per channel too).
STATUS_EVERY_SECONDS = 1.0
#: While the bot's requests wait for Discord's global budget (see :mod:`pacing`), a status
#: edit gives way to the announcements, which say what happened; it waits its turn again,
#: but never leaves the status message more than this many seconds behind.
STATUS_GIVES_WAY_SECONDS = 10.0
#: How many tables' outcomes are announced at once. Answers to interactions (which
#: Discord needs within 3 seconds) go first; announcements of many busy tables wait
#: their turn (Discord's global rate limit would make them wait anyway).
PUBLISHING_AT_ONCE = 2
#: How many tables' status edit times are remembered (the oldest quiet ones go first).
_STATUS_REMEMBERED = 4096


#: Events whose announcement only edits messages already posted (or does nothing but
#: say its words): held words of earlier outcomes need not be posted before them.
_ONLY_EDITS = frozenset(
    {
        EventKind.OFFER_TABLED,
        EventKind.OFFER_ACCEPTED,
        EventKind.AGREEMENT_REACHED,
        EventKind.OFFER_REJECTED,
        EventKind.TURN_PASSED,
        EventKind.TURN_EXPIRED,
        EventKind.STATEMENT,
        EventKind.WALKED_AWAY,
        EventKind.ACTION_REVERTED,
    }
)


@dataclass
class _Held:
    """Outcomes' last words waiting to go as one message, and the latest whose-turn line."""

    words: list[Post] = field(default_factory=list)
    turn: Post | None = None


@dataclass
class _StatusEdits:
    """A table's status message: when it was last edited, and the state still to show."""

    last: float = -math.inf
    latest: TableState | None = None
    channel: Any = None
    pending: bool = False
    #: Set to edit at once (the bot is closing).
    now: asyncio.Event = field(default_factory=asyncio.Event)


class Publisher:
    """Posts each outcome to the table's channel and rooms, one table at a time."""

    def __init__(self, bot: ParleyBot) -> None:
        self.bot = bot
        # One announcement at a time per table; a lock lives only while someone holds it.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._status: OrderedDict[int, _StatusEdits] = OrderedDict()
        self._slots = asyncio.Semaphore(PUBLISHING_AT_ONCE)
        #: Outcomes waiting to be announced, by table, and the tables being announced.
        self._pending: dict[int, list[Outcome]] = {}
        self._publishing: set[int] = set()
        #: Tables whose channel refused Parley its last post (their rooms were told).
        self._refused_in: set[int] = set()

    def _lock(self, table_id: int) -> asyncio.Lock:
        lock = self._locks.get(table_id)
        if lock is None:
            lock = self._locks[table_id] = asyncio.Lock()
        return lock

    async def publish(self, table_id: int, outcome: Outcome) -> None:
        """Announce an outcome's events and bring the status message up to date.

        A table's outcomes are announced in order, by one task at a time. Outcomes that
        arrive while earlier ones are still being posted (Discord lets a channel take only
        five messages in five seconds) are announced together next, and their plain
        messages go as one: the channel keeps up with a burst instead of trailing it.
        """
        self._pending.setdefault(table_id, []).append(outcome)
        if table_id in self._publishing:
            return  # the task announcing this table takes it in its next round
        self._publishing.add(table_id)
        try:
            while batch := self._pending.pop(table_id, None):
                try:
                    async with self._lock(table_id):
                        await self._publish_batch(table_id, batch)
                except Exception:  # the table's row or channel: later outcomes still go
                    log.exception("table %s: announcing %d outcome(s) failed", table_id, len(batch))
        finally:
            self._publishing.discard(table_id)

    async def _publish_batch(self, table_id: int, outcomes: list[Outcome]) -> None:
        row = await self.bot.tables.table(table_id)
        channel = await self.channel(row.channel_id) if row.channel_id else None
        if channel is None:
            log.warning("table %s: its channel %s is gone", table_id, row.channel_id)
            return
        places = await self.bot.tables.places(table_id)  # updated as messages are posted
        held = _Held()
        state: TableState | None = None
        for outcome in outcomes:
            try:
                # Announce the table as these events left it, even if more happened since.
                state = outcome.state or await self.bot.tables.state(table_id)
                async with self._slots:  # an outcome at a time, as other tables' are
                    await self._outcome(row, channel, places, state, outcome, held)
            except Exception:  # the log has it; the outcomes after it are still announced
                seqs = [event.seq for event in outcome.events]
                log.exception("table %s: announcing events %s failed", table_id, seqs)
        async with self._slots:
            await self._flush(row.id, channel, places, held)
            if state is not None:
                await self._status_soon(table_id, state, channel, places)

    async def _outcome(
        self,
        row: TableRow,
        channel: Any,
        places: dict[str, str],
        state: TableState,
        outcome: Outcome,
        held: _Held,
    ) -> None:
        """Announce one outcome. Its last words, with whose turn it is, are held if plain
        (text, no buttons), to go in one message with the next outcome's."""
        turn_moved = False
        last: Post | None = None  # the last event's words, sent with whose turn it is
        for event in outcome.events:
            if last is not None or event.kind not in _ONLY_EDITS:
                await self._flush(row.id, channel, places, held)  # keep the channel's order
            if last is not None:
                await self._post(row.id, channel, places, last)
            last = await self._safely(self._announce(row, state, channel, places, event))
            data = event.data
            # An undo hands the turn back with a fresh clock: announce whose it is.
            moved = isinstance(data, ev.TurnChange) and bool(data.turn)
            turn_moved = turn_moved or moved or isinstance(data, ev.ActionReverted)
        turn: Post | None = None
        if turn_moved and outcome.events[-1].kind is not EventKind.REMINDER_SENT:
            turn = present.turn_post(state)
            turn = turn if turn.content else None
        if last is None and turn is None:
            return
        if last is None or (last.embed is None and last.view is None and last.place is None):
            held.words.append(last or Post())
            held.turn = turn or held.turn
            return
        await self._flush(row.id, channel, places, held)
        # one message, not two: less for the channel to scroll past, and one request, not
        # two, against Discord's limit on a channel's messages
        await self._post(row.id, channel, places, present.with_turn(last, turn) if turn else last)

    async def _flush(
        self, table_id: int, channel: Any, places: dict[str, str], held: _Held
    ) -> None:
        """Post the held words as one message, ending with the latest whose-turn line."""
        if not held.words and held.turn is None:
            return
        words = Post(
            "\n".join(post.content for post in held.words if post.content),
            ping=list(dict.fromkeys(user for post in held.words for user in post.ping)),
        )
        turn = held.turn
        held.words, held.turn = [], None
        await self._post(
            table_id, channel, places, present.with_turn(words, turn) if turn else words
        )

    async def _status_soon(
        self, table_id: int, state: TableState, channel: Any, places: dict[str, str]
    ) -> None:
        """Edit the status message now, or (edited less than :data:`STATUS_EVERY_SECONDS`
        ago) once that time is up, with the latest state by then."""
        edits = self._status.get(table_id) or _StatusEdits()
        self._status[table_id] = edits
        self._status.move_to_end(table_id)
        while len(self._status) > _STATUS_REMEMBERED:
            oldest = next(iter(self._status))
            if self._status[oldest].pending:
                break
            del self._status[oldest]
        edits.latest, edits.channel = state, channel
        if edits.pending:
            return
        wait = self._status_wait(edits)
        if wait <= 0:
            edits.last = time.monotonic()
            await self._safely(self.refresh_status(table_id, state, channel, places))
            return
        edits.pending = True
        self.bot.spawn(self._status_later(table_id, edits, wait))

    def _status_wait(self, edits: _StatusEdits) -> float:
        """Seconds until the status message may be edited: :data:`STATUS_EVERY_SECONDS`
        after the last edit, and as long again while the bot's requests are queued for the
        global budget, as long as that leaves it under :data:`STATUS_GIVES_WAY_SECONDS`
        behind."""
        since = time.monotonic() - edits.last
        if since < STATUS_EVERY_SECONDS:
            return STATUS_EVERY_SECONDS - since
        if self.bot.pace.busy and since + STATUS_EVERY_SECONDS <= STATUS_GIVES_WAY_SECONDS:
            return STATUS_EVERY_SECONDS
        return 0.0

    async def _status_later(self, table_id: int, edits: _StatusEdits, wait: float) -> None:
        while wait > 0 and not edits.now.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(edits.now.wait(), timeout=wait)
            wait = self._status_wait(edits)
        async with self._lock(table_id):
            edits.pending = False
            edits.last = time.monotonic()
            if edits.latest is None:
                return
            places = await self.bot.tables.places(table_id)
            await self._safely(self.refresh_status(table_id, edits.latest, edits.channel, places))

    def flush(self) -> None:
        """Make every status edit still waiting for its turn happen now (before closing)."""
        for edits in self._status.values():
            edits.now.set()

    # -- Discord plumbing -------------------------------------------------------------

    async def channel(self, channel_id: str) -> Any:
        """A channel by id, from the cache or fetched (None if it is gone)."""
        found = self.bot.get_channel(int(channel_id))
        if found is not None:
            return found
        try:
            return await self.bot.fetch_channel(int(channel_id))
        except (discord.NotFound, discord.Forbidden):
            return None

    async def send(self, channel: Any, post: Post) -> discord.Message | None:
        """Send a post, split to fit; the embed and view ride on the last part."""
        chunks = split_message(post.content, MESSAGE_LIMIT) if post.content else [""]
        message = None
        for index, chunk in enumerate(chunks):
            last = index == len(chunks) - 1
            kwargs: dict[str, Any] = {"allowed_mentions": _allowed(post)}
            if chunk:
                kwargs["content"] = chunk
            if last and post.embed is not None:
                kwargs["embed"] = post.embed
            if last and post.view is not None:
                kwargs["view"] = post.view
            message = await channel.send(**kwargs)
        return message

    async def _post(self, table_id: int, channel: Any, places: dict[str, str], post: Post) -> None:
        """Send an event's post, and remember where it went if it is to be found again."""
        try:
            message = await self.send(channel, post)
        except discord.Forbidden as exc:
            log.warning("table %s: Discord refused a message in its channel: %s", table_id, exc)
            await self._unheard(table_id, channel, places, exc.text or "403")
            return
        except _DISCORD_TROUBLE:
            log.warning("Discord refused a message; the log is unaffected", exc_info=True)
            return
        self._refused_in.discard(table_id)
        if message is not None and post.place is not None:
            await self._remember(table_id, places, post.place, str(message.id))

    async def _unheard(
        self, table_id: int, channel: Any, places: dict[str, str], problem: str
    ) -> None:
        """The table's channel refused Parley a post (a permission taken away mid-table):
        tell each caucus room, once until a post there goes through again, since the moves
        are still answered and logged but nobody reads them announced."""
        if table_id in self._refused_in:
            return
        self._refused_in.add(table_id)
        for name, room_id in places.items():
            room = await self.channel(room_id) if name.startswith("room:") else None
            if room is not None:
                notice = Post(say("channel_refused", channel=f"<#{channel.id}>", problem=problem))
                await self._safely(self.send(room, notice))

    @staticmethod
    async def _safely(work: Awaitable[T]) -> T | None:
        """What ``work`` comes to, or None if Discord refused it (logged)."""
        try:
            return await work
        except _DISCORD_TROUBLE:
            log.warning("Discord refused a message; the log is unaffected", exc_info=True)
            return None

    async def _edit(self, channel: Any, message_id: str | None, **changes: Any) -> None:
        if message_id is None:
            return
        try:
            await channel.get_partial_message(int(message_id)).edit(**changes)
        except discord.NotFound:
            log.info("message %s is gone; not edited", message_id)
        except _DISCORD_TROUBLE:  # the event's own words and messages still go
            log.warning(
                "message %s could not be edited; the log is unaffected", message_id, exc_info=True
            )

    # -- what each event shows ----------------------------------------------------------

    async def _remember(
        self, table_id: int, places: dict[str, str], name: str, discord_id: str
    ) -> None:
        """Remember where something now lives in Discord, and note it in ``places``."""
        await self.bot.tables.remember_place(table_id, name, discord_id)
        places[name] = discord_id

    async def _announce(
        self,
        row: TableRow,
        state: TableState,
        channel: Any,
        places: dict[str, str],
        event: Event,
    ) -> Post | None:
        """Show what ``event`` changes (offers' messages, rooms, briefs) and say the words
        it deserves, which the caller posts (they may go with whose turn it is).

        An event whose announcement posts here itself (an inject, the opening, the start,
        the close) must stay out of :data:`_ONLY_EDITS`, so that moves held before it are
        posted first."""
        data = event.data
        if isinstance(data, ev.TableOpened):
            await self._opened(row, state, channel)
        elif isinstance(data, ev.TableStarted) and row.practice:
            await self._practice_brief(row, state, channel)
        elif isinstance(data, ev.TableStarted):
            try:
                await self._open_rooms(row, state, channel, places)
            except discord.Forbidden as exc:  # a permission Parley lacks: the facilitator's fix
                log.warning("table %s: cannot open caucus rooms: %s", row.id, exc.text)
                await self.send(channel, Post(say("rooms_failed", problem=exc.text or "403")))
            except _DISCORD_TROUBLE as exc:  # Discord in trouble, or the connection dropped
                log.warning("table %s: caucus rooms not opened: %r", row.id, exc)
                problem = (
                    f"{exc.status}: {exc.text}" if isinstance(exc, discord.HTTPException) else ""
                ) or type(exc).__name__
                await self.send(channel, Post(say("rooms_unavailable", problem=problem)))
        elif isinstance(data, ev.MemberAssigned | ev.MemberLeft | ev.MemberJoined):
            if any(name.startswith("room:") for name in places):
                # a room Discord will not open to them must not cost the move its words
                await self._safely(self._sync_room_access(row, state, places, data.user_id))
        elif isinstance(data, ev.OfferTabled):
            await self._mark_offer(channel, places, data.answers or data.revises, state, "replaced")
            standing = state.standing is not None and state.standing.seq == event.seq
            offer = state.offers.get(event.seq)
            if offer is not None and (standing or state.phase is Phase.CLOSED):
                # An offer on the last turn is shown too, as the table's last move. The
                # caller posts it, with whose turn it is now: the delegation pinged to
                # answer finds the offer and its buttons in the message that pings it.
                return Post(
                    embed=present.offer_embed(state, offer, None if standing else "last"),
                    view=offer_view(row.id, event.seq) if standing else None,
                    place=f"offer:{event.seq}",
                )
        elif isinstance(data, ev.OfferAccepted):
            await self._show_progress(row, channel, places, data.offer, state)
        elif isinstance(data, ev.AgreementReached):
            await self._mark_offer(
                channel, places, data.offer, state, "agreed", agreed_by=data.delegations
            )
        elif isinstance(data, ev.OfferRejected):
            await self._mark_offer(channel, places, data.offer, state, "rejected")
        elif isinstance(data, ev.ActionReverted):
            for seq in data.reverts:
                await self._mark_offer(channel, places, seq, state, "withdrawn")
            if state.standing is not None:
                await self._show_progress(row, channel, places, state.standing.seq, state)
        elif isinstance(data, ev.EventInjected):
            text = await self.bot.tables.prompt(row.id, data.prompt)
            heading = say("inject", title=data.title)
            await self.send(channel, Post(content=f"{heading}\n\n{text}"))
        elif isinstance(data, ev.TableClosed):
            if data.last_offer is None:  # an offer on the last turn was posted as such
                await self._mark_offer(channel, places, data.withdrawn, state, "withdrawn")
            await self._closed(row, state, channel, places)
        if event.kind is EventKind.TABLE_CLOSED:
            return None
        return present.event_post(state, event)

    async def _mark_offer(
        self,
        channel: Any,
        places: dict[str, str],
        seq: int | None,
        state: TableState,
        status: str,
        agreed_by: list[str] | None = None,
    ) -> None:
        """Show on an offer's message what became of it, and take its buttons away (and
        the turn line it was posted with: see :meth:`_show_progress`)."""
        message_id = places.get(f"offer:{seq}") if seq else None
        offer = state.offers.get(seq) if seq else None
        if offer is None or message_id is None:
            return
        await self._edit(
            channel,
            message_id,
            content=None,
            embed=present.offer_embed(state, offer, status, agreed_by),
            view=None,
        )

    async def _show_progress(
        self, row: TableRow, channel: Any, places: dict[str, str], seq: int, state: TableState
    ) -> None:
        """Bring a standing offer's message up to date: who has accepted it, who is still
        needed (nothing if it no longer stands: what became of it is shown instead).

        The whose-turn line the offer was posted with is taken away: by now the turn has
        moved on (its own message said so), and a live offer must not name a stale one."""
        standing = state.standing
        if standing is None or standing.seq != seq:
            return
        await self._edit(
            channel,
            places.get(f"offer:{seq}"),
            content=None,
            embed=present.offer_embed(state, standing),
            view=offer_view(row.id, seq),
        )

    async def _opened(self, row: TableRow, state: TableState, channel: Any) -> None:
        background = await self.bot.tables.prompt(row.id, state.scenario.prompts.background)
        intro = say(
            "opening_practice" if row.practice else "opening",
            title=state.title,
            scenario=state.scenario.title,
            variant=state.variant,
            background=background.strip(),
        )
        # A practice table is started at once, with its student already in place.
        await self.send(
            channel, Post(content=intro, view=None if row.practice else join_view(row.id))
        )

    async def _open_rooms(
        self, row: TableRow, state: TableState, channel: Any, places: dict[str, str]
    ) -> None:
        guild = channel.guild
        # Facilitators who have run this table may read every room (the role too).
        readers_everywhere = set(state.facilitators)
        role = self._facilitator_role(guild)
        for delegation in state.scenario.delegations:
            overwrites: dict[Any, discord.PermissionOverwrite] = {
                guild.default_role: discord.PermissionOverwrite(view_channel=False),
                guild.me: discord.PermissionOverwrite(
                    view_channel=True,
                    send_messages=True,
                    read_message_history=True,
                    embed_links=True,
                    manage_channels=True,
                ),
            }
            readers = {m.user_id for m in present.people(state, delegation.id)}
            readers |= readers_everywhere
            for user_id in readers:
                overwrites[discord.Object(id=int(user_id), type=discord.Member)] = (
                    discord.PermissionOverwrite(
                        view_channel=True, send_messages=True, read_message_history=True
                    )
                )
            if role is not None:
                overwrites[role] = discord.PermissionOverwrite(
                    view_channel=True, read_message_history=True
                )
            name = clip(f"{getattr(channel, 'name', 'table')}-{delegation.id}", 100)
            room = await guild.create_text_channel(
                name,
                category=getattr(channel, "category", None),
                overwrites=overwrites,
                topic=clip(
                    f"Caucus room of the {delegation.name} delegation — "
                    f"{state.title} (table #{row.id})",
                    1024,
                ),
                reason=f"Parley table #{row.id}: caucus room",
            )
            await self._remember(row.id, places, f"room:{delegation.id}", str(room.id))
            caucus = say("caucus_recorded" if state.rules.record_caucus else "caucus_not_recorded")
            await self.send(room, Post(content=say("room_notice", caucus=caucus)))
            prose = await self.bot.tables.prompt(row.id, delegation.brief)
            brief = present.brief_text(state.scenario, delegation.id, prose)
            heading = say("brief_heading", delegation=delegation.name)
            await self.send(room, Post(content=f"{heading}\n\n{brief}"))

    async def _sync_room_access(
        self, row: TableRow, state: TableState, places: dict[str, str], user_id: str
    ) -> None:
        """Let a member read their delegation's room and no other (after a move or leave)."""
        if not user_id.isdigit():  # a counterpart has no Discord account to let in
            return
        member = state.member(user_id)
        target: discord.Member | None = None
        for name, room_id in places.items():
            if not name.startswith("room:"):
                continue
            room = await self.channel(room_id)
            if room is None:
                continue
            if target is None:
                try:
                    target = await room.guild.fetch_member(int(user_id))
                except discord.NotFound:
                    return  # they left the server: nothing to grant or take back
            assert target is not None
            if member is not None and member.delegation == name.removeprefix("room:"):
                await room.set_permissions(
                    target, view_channel=True, send_messages=True, read_message_history=True
                )
            elif any(other.id == target.id for other in room.overwrites):
                await room.set_permissions(target, overwrite=None)

    async def _practice_brief(self, row: TableRow, state: TableState, channel: Any) -> None:
        """A practice table has no caucus rooms: its thread is the student's alone, so the
        student's brief goes there."""
        for delegation in state.scenario.delegations:
            students = present.people(state, delegation.id)
            if not students:
                continue
            others = [delegation_name(state.scenario, seat) for seat in sorted(state.seats)]
            intro = say(
                "practice_intro",
                mention=" ".join(mention(m.user_id) for m in students),
                delegation=delegation.name,
                others=" and ".join(f"the {name} delegation" for name in others) or "nobody",
            )
            await self.send(channel, Post(content=intro, ping=[m.user_id for m in students]))
            prose = await self.bot.tables.prompt(row.id, delegation.brief)
            brief = present.brief_text(state.scenario, delegation.id, prose)
            heading = say("brief_heading", delegation=delegation.name)
            await self.send(channel, Post(content=f"{heading}\n\n{brief}"))

    async def _closed(
        self, row: TableRow, state: TableState, channel: Any, places: dict[str, str]
    ) -> None:
        await self.send(channel, Post(content=present.summary_text(state, row.practice)))
        if row.practice:
            for delegation in state.scenario.delegations:
                if present.people(state, delegation.id):
                    await self.send(channel, Post(present.score_text(state, delegation.id)))
            await self.send(
                channel, Post(content=say("strategy_question"), view=guess_view(row.id))
            )
            return
        for delegation in state.scenario.delegations:
            room_id = places.get(f"room:{delegation.id}")
            room = await self.channel(room_id) if room_id else None
            if room is not None:
                await self._safely(
                    self.send(room, Post(content=present.score_text(state, delegation.id)))
                )

    async def refresh_status(
        self, table_id: int, state: TableState, channel: Any, places: dict[str, str]
    ) -> None:
        """Edit the one status message (posting and pinning it the first time)."""
        embed = present.status_embed(state, table_id)
        message_id = places.get("status")
        if message_id is not None:
            try:
                await channel.get_partial_message(int(message_id)).edit(embed=embed)
                return
            except discord.NotFound:
                pass
        message = await channel.send(embed=embed)
        await self._remember(table_id, places, "status", str(message.id))
        try:
            await message.pin(reason="Parley: the table's status")
        except discord.HTTPException:
            log.info("could not pin the status message (Manage Messages missing?)")

    def _facilitator_role(self, guild: discord.Guild) -> discord.Role | None:
        wanted = self.bot.settings.facilitator_role
        if not wanted:
            return None
        return next((r for r in guild.roles if r.name == wanted or str(r.id) == wanted), None)
