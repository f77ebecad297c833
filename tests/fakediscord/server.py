"""An in-memory fake of the Discord REST API (v10) and gateway, for end-to-end tests.

The real discord.py client logs in to it, receives READY/GUILD_CREATE, syncs application
commands and answers interactions that the test injects. Everything the bot does is
recorded so that tests can assert on it. See README.md in this directory.
"""

# The test-facing API takes ``timeout=`` arguments on purpose (asked for by the tests' API).

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import mimetypes
import re
import secrets
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Final

import yarl
from aiohttp import BodyPartReader, WSMsgType, web

__all__ = [
    "API_VERSION",
    "DiscordError",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "GatewayIntent",
    "InteractionRecord",
    "Permission",
    "RateLimits",
    "RecordedRequest",
    "UploadedFile",
    "Window",
    "point_discord_at",
]

log = logging.getLogger("fakediscord")

API_VERSION: Final = 10
DISCORD_EPOCH_MS: Final = 1_420_070_400_000
JSON_TYPE: Final = "application/json"  # discord.py only decodes this exact Content-Type
#: Seconds before a heartbeat is acknowledged: a network's round trip. discord.py's
#: keep-alive thread notes when it sent a heartbeat only once the send has returned; an
#: instant ack on loopback can be read before that, and discord.py then warns that the
#: connection is a whole heartbeat interval behind ("Can't keep up").
HEARTBEAT_ACK_AFTER: Final = 0.05
EPHEMERAL: Final = 1 << 6
LOADING: Final = 1 << 7
COMPONENTS_V2: Final = 1 << 15
ATTACHMENT_SIZE_LIMIT: Final = 10 * 1024 * 1024


class Permission:
    """Permission bits (https://discord.com/developers/docs/topics/permissions)."""

    CREATE_INSTANT_INVITE: Final = 1 << 0
    ADMINISTRATOR: Final = 1 << 3
    MANAGE_CHANNELS: Final = 1 << 4
    MANAGE_GUILD: Final = 1 << 5
    ADD_REACTIONS: Final = 1 << 6
    VIEW_CHANNEL: Final = 1 << 10
    SEND_MESSAGES: Final = 1 << 11
    MANAGE_MESSAGES: Final = 1 << 13
    EMBED_LINKS: Final = 1 << 14
    ATTACH_FILES: Final = 1 << 15
    READ_MESSAGE_HISTORY: Final = 1 << 16
    MENTION_EVERYONE: Final = 1 << 17
    USE_EXTERNAL_EMOJIS: Final = 1 << 18
    CONNECT: Final = 1 << 20
    SPEAK: Final = 1 << 21
    CHANGE_NICKNAME: Final = 1 << 26
    MANAGE_ROLES: Final = 1 << 28
    USE_APPLICATION_COMMANDS: Final = 1 << 31
    MANAGE_THREADS: Final = 1 << 34
    CREATE_PUBLIC_THREADS: Final = 1 << 35
    CREATE_PRIVATE_THREADS: Final = 1 << 36
    SEND_MESSAGES_IN_THREADS: Final = 1 << 38
    PIN_MESSAGES: Final = 1 << 51
    ALL: Final = (1 << 52) - 1

    #: What a fresh guild grants @everyone (a realistic subset of Discord's default).
    EVERYONE_DEFAULT: Final = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CONNECT
        | SPEAK
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | CREATE_PRIVATE_THREADS
        | SEND_MESSAGES_IN_THREADS
    )
    #: Extra permissions of the bot's managed role by default (no Administrator, so
    #: channel overwrites apply to the bot exactly as on a real server).
    BOT_DEFAULT: Final = (
        EVERYONE_DEFAULT
        | MANAGE_CHANNELS
        | MANAGE_ROLES
        | MANAGE_MESSAGES
        | MANAGE_THREADS
        | MENTION_EVERYONE
        | PIN_MESSAGES
    )


class GatewayIntent:
    """Gateway intent bits used by the fake."""

    GUILDS: Final = 1 << 0
    GUILD_MEMBERS: Final = 1 << 1
    GUILD_PRESENCES: Final = 1 << 8
    GUILD_MESSAGES: Final = 1 << 9
    DIRECT_MESSAGES: Final = 1 << 12
    MESSAGE_CONTENT: Final = 1 << 15
    PRIVILEGED: Final = GUILD_MEMBERS | GUILD_PRESENCES | MESSAGE_CONTENT


def utcnow_iso() -> str:
    """Current time as ISO 8601 UTC, the way Discord formats timestamps."""
    return datetime.now(UTC).isoformat()


def snowflake_time_iso(snowflake: int) -> str:
    """Creation time of a snowflake, ISO 8601 UTC."""
    ms = (snowflake >> 22) + DISCORD_EPOCH_MS
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


class _Snowflakes:
    """Generates strictly increasing snowflake-like ids based on the current time."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last

    def on_shard(self, shard_id: int, shard_count: int) -> int:
        """A new id whose guild would be on shard ``shard_id`` of ``shard_count``."""
        ms = (self() >> 22) + 1
        ms += (shard_id - ms) % shard_count
        self._last = ms << 22
        return self._last


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's rule: a guild's events go to shard ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % shard_count


class DiscordError(Exception):
    """An HTTP error answered in Discord's JSON error format."""

    def __init__(
        self, status: int, code: int, message: str, errors: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The JSON body Discord would send."""
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body

    @classmethod
    def not_found(cls, code: int, what: str) -> DiscordError:
        return cls(404, code, f"Unknown {what}")

    @classmethod
    def missing_access(cls) -> DiscordError:
        return cls(403, 50001, "Missing Access")

    @classmethod
    def missing_permissions(cls) -> DiscordError:
        return cls(403, 50013, "Missing Permissions")


class _FormErrors:
    """Collects "Invalid Form Body" (50035) errors keyed by field path."""

    def __init__(self, prefix: Sequence[str | int] = ()) -> None:
        self.prefix = tuple(prefix)
        self.errors: dict[str, Any] = {}

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.errors
        for part in (*self.prefix, *path):
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def max_len(self, path: Sequence[str | int], value: Any, limit: int) -> None:
        if isinstance(value, str) and len(value) > limit:
            self.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")

    def raise_if_any(self) -> None:
        if self.errors:
            raise DiscordError(400, 50035, "Invalid Form Body", self.errors)


# --------------------------------------------------------------------------------------
# State objects
# --------------------------------------------------------------------------------------


@dataclass(eq=False)
class FakeUser:
    """A Discord user (the bot itself or a human)."""

    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.name,
            "global_name": None if self.bot else (self.global_name or self.name),
            "discriminator": "0",
            "avatar": None,
            "avatar_decoration_data": None,
            "banner": None,
            "accent_color": None,
            "bot": self.bot,
            "system": False,
            "public_flags": 0,
            "flags": 0,
            "primary_guild": None,
            "collectibles": None,
        }


@dataclass(eq=False)
class FakeRole:
    """A guild role. The @everyone role has the guild's id."""

    id: int
    name: str
    permissions: int
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False
    bot_id: int | None = None

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass(eq=False)
class FakeMember:
    """Membership of a user in a guild."""

    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    joined_at: str = field(default_factory=utcnow_iso)
    nick: str | None = None

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


THREAD_TYPES: Final = frozenset({10, 11, 12})


@dataclass(eq=False)
class FakeChannel:
    """A guild channel, category, thread or DM channel.

    ``permission_overwrites`` holds the overwrites as Discord stores them:
    ``{"id": str, "type": 0 (role) | 1 (member), "allow": str, "deny": str}``.
    """

    id: int
    type: int
    name: str
    guild_id: int | None
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None
    nsfw: bool = False
    rate_limit_per_user: int = 0
    permission_overwrites: list[dict[str, Any]] = field(default_factory=list)
    last_message_id: int | None = None
    deleted: bool = False
    # Thread-only
    owner_id: int | None = None
    archived: bool = False
    locked: bool = False
    invitable: bool = True
    auto_archive_duration: int = 1440
    archive_timestamp: str = field(default_factory=utcnow_iso)
    create_timestamp: str = field(default_factory=utcnow_iso)
    thread_members: dict[int, str] = field(default_factory=dict)  # user id -> join timestamp
    message_count: int = 0
    total_message_sent: int = 0
    # DM-only
    recipient: FakeUser | None = None

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    @property
    def is_private_thread(self) -> bool:
        return self.type == 12

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def overwrite_for(self, target_id: int) -> dict[str, Any] | None:
        """The stored permission overwrite for a role or member id, if any."""
        for ow in self.permission_overwrites:
            if int(ow["id"]) == target_id:
                return ow
        return None

    def thread_member_payload(self, user_id: int) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "user_id": str(user_id),
            "join_timestamp": self.thread_members[user_id],
            "flags": 0,
        }

    def payload(self) -> dict[str, Any]:
        if self.type == 1:
            assert self.recipient is not None
            return {
                "id": str(self.id),
                "type": 1,
                "last_message_id": _opt_str(self.last_message_id),
                "recipients": [self.recipient.payload()],
                "flags": 0,
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "parent_id": _opt_str(self.parent_id),
            "rate_limit_per_user": self.rate_limit_per_user,
            "last_message_id": _opt_str(self.last_message_id),
            "flags": 0,
        }
        if self.is_thread:
            data.update(
                owner_id=_opt_str(self.owner_id),
                message_count=self.message_count,
                member_count=len(self.thread_members),
                total_message_sent=self.total_message_sent,
                applied_tags=[],
                thread_metadata={
                    "archived": self.archived,
                    "archive_timestamp": self.archive_timestamp,
                    "auto_archive_duration": self.auto_archive_duration,
                    "locked": self.locked,
                    "invitable": self.invitable,
                    "create_timestamp": self.create_timestamp,
                },
            )
        else:
            data.update(
                position=self.position,
                permission_overwrites=[dict(ow) for ow in self.permission_overwrites],
                topic=self.topic,
                nsfw=self.nsfw,
                default_auto_archive_duration=1440,
                default_thread_rate_limit_per_user=0,
            )
        return data


@dataclass(eq=False)
class FakeGuild:
    """A guild with its roles and members. Channels live in ``FakeDiscord.channels``."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    joined_at: str = field(default_factory=utcnow_iso)
    system_channel_id: int | None = None

    @property
    def everyone(self) -> FakeRole:
        return self.roles[self.id]

    def role(self, name: str) -> FakeRole:
        """Look a role up by name."""
        for role in self.roles.values():
            if role.name == name:
                return role
        raise KeyError(name)

    def payload(self) -> dict[str, Any]:
        """The guild object of REST ``GET /guilds/{id}`` (no channels or members)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": _opt_str(self.system_channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "max_members": 500000,
            "max_presences": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "incidents_data": None,
        }


@dataclass(eq=False)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    field: str
    filename: str
    content_type: str  # as sent by the client (discord.py always sends application/octet-stream)
    data: bytes
    attachment_id: int | None = None

    @property
    def guessed_content_type(self) -> str:
        """The type Discord would report for the attachment, guessed from the file name."""
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"


@dataclass(eq=False)
class FakeMessage:
    """A message as stored by the fake. ``edits`` keeps the payload before each edit."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    flags: int = 0
    allowed_mentions: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    files: list[UploadedFile] = field(default_factory=list)
    tts: bool = False
    type: int = 0
    timestamp: str = field(default_factory=utcnow_iso)
    edited_timestamp: str | None = None
    pinned: bool = False
    deleted: bool = False
    webhook_id: int | None = None
    application_id: int | None = None
    interaction_id: int | None = None
    interaction_metadata: dict[str, Any] | None = None
    message_reference: dict[str, Any] | None = None
    poll: dict[str, Any] | None = None
    mentions: list[dict[str, Any]] = field(default_factory=list)
    mention_roles: list[str] = field(default_factory=list)
    mention_everyone: bool = False
    reactions: dict[str, set[int]] = field(default_factory=dict)
    thread_id: int | None = None
    edits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        """True while this is the "Bot is thinking..." placeholder of a deferred response."""
        return bool(self.flags & LOADING)

    def iter_components(self) -> Iterator[dict[str, Any]]:
        """All components, flattened (action rows, their children, v2 containers...)."""
        yield from _walk_components(self.components)

    def find_component(self, custom_id: str) -> dict[str, Any] | None:
        for comp in self.iter_components():
            if comp.get("custom_id") == custom_id:
                return comp
        return None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": self.timestamp,
            "edited_timestamp": self.edited_timestamp,
            "tts": self.tts,
            "mention_everyone": self.mention_everyone,
            "mentions": list(self.mentions),
            "mention_roles": list(self.mention_roles),
            "attachments": [dict(a) for a in self.attachments],
            "embeds": [dict(e) for e in self.embeds],
            "components": _clone(self.components),
            "pinned": self.pinned,
            "flags": self.flags,
            "reactions": [
                {
                    "emoji": {"id": None, "name": emoji},
                    "count": len(users),
                    "count_details": {"burst": 0, "normal": len(users)},
                    "burst_colors": [],
                    "me": False,
                    "me_burst": False,
                }
                for emoji, users in self.reactions.items()
                if users
            ],
        }
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
        if self.application_id is not None:
            data["application_id"] = str(self.application_id)
        if self.interaction_metadata is not None:
            data["interaction_metadata"] = dict(self.interaction_metadata)
        if self.message_reference is not None:
            data["message_reference"] = dict(self.message_reference)
        if self.poll is not None:
            data["poll"] = self.poll
        return data


@dataclass(eq=False)
class RecordedRequest:
    """One HTTP request made to the fake's REST API."""

    method: str
    path: str  # relative to the API base, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    status: int = 0
    response: Any = None
    route: str | None = None  # the route template that matched, e.g. "/channels/{channel_id}"


@dataclass(eq=False)
class InteractionRecord:
    """An interaction the test delivered and everything the bot answered to it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    user: FakeUser
    channel_id: int | None
    guild_id: int | None
    message_id: int | None = None  # component/modal interactions: the message clicked
    created_monotonic: float = field(default_factory=time.monotonic)
    callback_type: int | None = None
    callback_data: dict[str, Any] | None = None
    callback_files: list[UploadedFile] = field(default_factory=list)
    #: Every callback attempt as ``(callback type, HTTP status)``, including refused ones.
    attempts: list[tuple[int, int]] = field(default_factory=list)
    original_message_id: int | None = None
    followups: list[FakeMessage] = field(default_factory=list)
    deliveries: int = 1
    #: ``(shard_id, shard_count)`` of the session it was last delivered to (None: unsharded).
    shard: tuple[int, int] | None = None

    @property
    def acknowledged(self) -> bool:
        return self.callback_type is not None

    @property
    def ephemeral(self) -> bool:
        return bool((self.callback_data or {}).get("flags", 0) & EPHEMERAL)

    @property
    def content(self) -> str | None:
        """Content of the callback's message data (type 4/7), if any."""
        return (self.callback_data or {}).get("content")

    @property
    def choices(self) -> list[dict[str, Any]]:
        """Autocomplete choices answered (callback type 8)."""
        return list((self.callback_data or {}).get("choices", []))

    @property
    def modal(self) -> dict[str, Any] | None:
        """The modal opened (callback type 9)."""
        return self.callback_data if self.callback_type == 9 else None


def _opt_str(value: int | None) -> str | None:
    return None if value is None else str(value)


def _clone(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _walk_components(components: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components:
        yield comp
        yield from _walk_components(comp.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(comp.get(key), dict):
                yield from _walk_components([comp[key]])


def _json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=json.dumps(body).encode(),
        status=status,
        headers={"Content-Type": JSON_TYPE, **(headers or {})},
    )


@dataclass(frozen=True)
class Window:
    """At most ``limit`` requests in each window of ``seconds`` (Discord's buckets are
    fixed windows: the count resets when the window that the first request opened ends)."""

    limit: int
    seconds: float


#: The routes Discord limits per channel that a bot like Parley meets most: posting and
#: editing messages, 5 in 5 seconds a channel (the figure Discord's headers have long given
#: for a channel's message bucket; the real buckets are Discord's to change).
CHANNEL_MESSAGES: Final = {
    ("POST", "/channels/{channel_id}/messages"): Window(5, 5.0),
    ("PATCH", "/channels/{channel_id}/messages/{message_id}"): Window(5, 5.0),
}


@dataclass(frozen=True)
class RateLimits:
    """Discord's rate limits, as the fake applies them when a test asks (off by default).

    ``routes`` limit each (method, route template) per major parameter (the channel, guild
    or webhook in the path), with ``X-RateLimit-*`` headers on every answer of such a route
    so that discord.py waits before it is refused; ``global_`` limits every request of the
    bot's token together, with no header to warn of it (discord.py learns of it from a
    429). Interaction callbacks and their webhooks (follow-ups, ``@original`` edits) are
    outside the global limit, as on Discord. A request over a limit gets 429 with
    ``retry_after`` (seconds, a float), ``global`` and a ``Via`` header (discord.py treats a
    429 without one as a Cloudflare ban), and changes nothing.
    """

    routes: Mapping[tuple[str, str], Window] = field(default_factory=lambda: dict(CHANNEL_MESSAGES))
    global_: Window | None = Window(50, 1.0)


class _Windows:
    """The fixed windows of :class:`RateLimits` as they are now: requests counted per
    bucket, and when each bucket's window ends (``time.monotonic()``)."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._open: dict[object, tuple[float, int]] = {}  # bucket -> (window ends, count)

    def wait(self, bucket: object, window: Window, now: float) -> float:
        """Seconds until ``bucket`` takes another request (0: it takes one now)."""
        ends, count = self._open.get(bucket, (0.0, 0))
        return ends - now if now < ends and count >= window.limit else 0.0

    def count(self, bucket: object, window: Window, now: float) -> tuple[int, float]:
        """Count a request in ``bucket``: requests left in its window, and seconds until
        the window ends."""
        ends, count = self._open.get(bucket, (0.0, 0))
        if now >= ends:
            ends, count = now + window.seconds, 0
        self._open[bucket] = (ends, count + 1)
        return window.limit - count - 1, ends - now


class _RateLimited(Exception):
    """A request over a limit: answered 429, nothing done."""

    def __init__(self, retry_after: float, is_global: bool, headers: dict[str, str]) -> None:
        super().__init__(f"rate limited for {retry_after:.3f} s")
        self.retry_after = retry_after
        self.is_global = is_global
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {
            "message": "You are being rate limited.",
            "retry_after": round(self.retry_after, 3),
            "global": self.is_global,
            "code": 0,
        }


_MENTION_USER = re.compile(r"<@!?(\d+)>")
_MENTION_ROLE = re.compile(r"<@&(\d+)>")
_COMMAND_NAME = re.compile(r"^[-_\w]{1,32}$")


# --------------------------------------------------------------------------------------
# Validation of message bodies (limits as enforced by Discord)
# --------------------------------------------------------------------------------------


def _validate_embeds(embeds: Any, errors: _FormErrors) -> None:
    if not isinstance(embeds, list):
        return
    if len(embeds) > 10:
        errors.add(["embeds"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            errors.max_len(["embeds", i, key], embed.get(key), limit)
            total += len(embed.get(key) or "")
        footer = (embed.get("footer") or {}).get("text")
        errors.max_len(["embeds", i, "footer", "text"], footer, 2048)
        author = (embed.get("author") or {}).get("name")
        errors.max_len(["embeds", i, "author", "name"], author, 256)
        total += len(footer or "") + len(author or "")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errors.add(["embeds", i, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer.")
        for j, fld in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = fld.get(key)
                if not value:
                    errors.add(["embeds", i, "fields", j, key], "BASE_TYPE_REQUIRED", "Required.")
                errors.max_len(["embeds", i, "fields", j, key], value, limit)
                total += len(value or "")
    if total > 6000:
        errors.add(["embeds"], "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _validate_components(components: Any, flags: int, errors: _FormErrors) -> None:
    if not isinstance(components, list):
        return
    custom_ids: set[str] = set()
    for comp in _walk_components(components):
        custom_id = comp.get("custom_id")
        if custom_id is not None:
            if len(custom_id) > 100:
                errors.add(["components"], "BASE_TYPE_MAX_LENGTH", "custom_id too long (100).")
            if custom_id in custom_ids:
                errors.add(
                    ["components"], "COMPONENT_CUSTOM_ID_DUPLICATED", "Custom id duplicated."
                )
            custom_ids.add(custom_id)
    if flags & COMPONENTS_V2:
        if sum(1 for _ in _walk_components(components)) > 40:
            errors.add(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        return
    if len(components) > 5:
        errors.add(["components"], "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(components):
        if row.get("type") != 1:
            errors.add(["components", i], "UNION_TYPE_CHOICES", "Top level must be action rows.")
            continue
        children = row.get("components") or []
        if not children:
            errors.add(["components", i, "components"], "BASE_TYPE_REQUIRED", "Required.")
        selects = [c for c in children if c.get("type") in (3, 5, 6, 7, 8)]
        if len(children) > 5 or (selects and len(children) > 1):
            errors.add(
                ["components", i, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, child in enumerate(children):
            path: list[str | int] = ["components", i, "components", j]
            errors.max_len([*path, "label"], child.get("label"), 80)
            errors.max_len([*path, "placeholder"], child.get("placeholder"), 150)
            is_plain_button = child.get("type") == 2 and child.get("style") not in (5, 6)
            if is_plain_button and not child.get("custom_id"):
                errors.add([*path, "custom_id"], "BASE_TYPE_REQUIRED", "Required.")
            if child.get("type") == 3:
                options = child.get("options") or []
                if not options:
                    errors.add([*path, "options"], "BASE_TYPE_REQUIRED", "Required.")
                if len(options) > 25:
                    errors.add(
                        [*path, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                    )
                for k, opt in enumerate(options):
                    errors.max_len([*path, "options", k, "label"], opt.get("label"), 100)
                    errors.max_len([*path, "options", k, "value"], opt.get("value"), 100)


def _validate_message_body(
    body: Mapping[str, Any], n_files: int, errors: _FormErrors, *, require_content: bool
) -> None:
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        errors.add(["content"], "BASE_TYPE_BAD_TYPE", "Must be a string.")
    errors.max_len(["content"], content, 2000)
    flags = int(body.get("flags") or 0)
    _validate_embeds(body.get("embeds"), errors)
    _validate_components(body.get("components"), flags, errors)
    errors.raise_if_any()
    if require_content and not (
        content
        or body.get("embeds")
        or body.get("components")
        or n_files
        or body.get("sticker_ids")
        or body.get("poll")
    ):
        raise DiscordError(400, 50006, "Cannot send an empty message")


# --------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------


@dataclass
class _Req:
    """A parsed REST request handed to route handlers."""

    method: str
    params: dict[str, str]
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    headers: Mapping[str, str]
    record: RecordedRequest

    def body(self) -> dict[str, Any]:
        return self.json if isinstance(self.json, dict) else {}

    def int_param(self, name: str) -> int:
        return int(self.params[name])


_Handler = Callable[[_Req], Awaitable[Any]]


@dataclass
class _Route:
    method: str
    template: str
    regex: re.Pattern[str]
    handler: _Handler
    auth: bool


@dataclass
class _Fault:
    """A failure asked for with :meth:`FakeDiscord.fail_next`."""

    method: str
    template: str
    status: int
    code: int
    when: Callable[[Mapping[str, str]], bool] | None


def _compile(template: str) -> re.Pattern[str]:
    def repl(m: re.Match[str]) -> str:
        name, _, kind = m.group(1).partition(":")
        return rf"(?P<{name}>[^/]+)" if kind == "any" else rf"(?P<{name}>\d+)"

    return re.compile("^" + re.sub(r"\{([^}]+)\}", repl, template) + "/?$")


class _Session:
    """A gateway session (survives disconnects so that it can be RESUMEd)."""

    def __init__(
        self, session_id: str, intents: int, ordinal: int, shard: tuple[int, int] | None = None
    ) -> None:
        self.id = session_id
        self.ordinal = ordinal  # 1 for the first IDENTIFY the fake received, 2 for the next...
        self.intents = intents
        #: ``(shard_id, shard_count)`` from a sharded IDENTIFY; None gets every guild.
        self.shard = shard
        self.seq = 0
        self.ws: web.WebSocketResponse | None = None
        self.log: list[dict[str, Any]] = []  # sent dispatches, for RESUME replay
        self.lock = asyncio.Lock()
        self.ready = False
        self.invalid = False

    @property
    def live(self) -> bool:
        return self.ws is not None and not self.ws.closed and self.ready

    def receives(self, guild_id: int | None) -> bool:
        """Whether this session gets a guild's events (DMs, ``None``, go to shard 0)."""
        if self.shard is None:
            return True
        shard_id, shard_count = self.shard
        return (0 if guild_id is None else shard_of(guild_id, shard_count)) == shard_id


# --------------------------------------------------------------------------------------
# The fake
# --------------------------------------------------------------------------------------


def point_discord_at(url: str | yarl.URL) -> None:
    """Point discord.py (this process) at a fake or other server at ``url``.

    Sets the two class attributes that decide where discord.py connects:

    * ``discord.http.Route.BASE`` = ``{url}/api/v10``: every REST call, including the
      interaction callback and the webhook (follow-up) routes, is built from it.
    * ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` = ``yarl.URL({ws-url}/gateway)``:
      a ``Client`` (not ``AutoShardedClient``) connects there without asking /gateway/bot.
    """
    import discord.gateway
    import discord.http

    base = yarl.URL(str(url))
    discord.http.Route.BASE = f"{str(base).rstrip('/')}/api/v{API_VERSION}"
    scheme = "wss" if base.scheme == "https" else "ws"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base.with_scheme(scheme).with_path(
        "/gateway"
    )


class FakeDiscord:
    """A fake Discord (REST + gateway) on 127.0.0.1, for end-to-end tests.

    Use as ``async with FakeDiscord() as fake:``. A guild ``fake.guild`` with a text channel
    ``fake.general``, roles "@everyone", "Facilitator", "Server Manager" (Manage Server) and
    the bot's managed role is seeded. Add humans with :meth:`add_user`.
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",
        bot_name: str = "Parley",
        guild_name: str = "Seminar",
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval: float = 41.25,
        interaction_deadline: float = 3.0,
        interaction_token_ttl: float = 15 * 60.0,
        bot_permissions: int = Permission.BOT_DEFAULT,
        privileged_intents: int = GatewayIntent.PRIVILEGED,
        recommended_shards: int = 1,
        max_concurrency: int = 1,
        session_start_total: int = 1000,
        rate_limits: RateLimits | None = None,
    ) -> None:
        """Configure the fake; nothing listens until :meth:`start` / ``async with``.

        ``interaction_deadline`` is Discord's 3 s window for the initial callback; late
        callbacks get 404 10062 "Unknown interaction" like on Discord.
        ``privileged_intents`` are the privileged intents enabled "in the developer portal";
        identifying with others closes the gateway with 4014.
        ``recommended_shards``, ``max_concurrency`` and ``session_start_total`` are what
        ``GET /gateway/bot`` answers (each IDENTIFY uses one session start).
        ``rate_limits`` (also settable later as :attr:`rate_limits`) makes the fake refuse
        requests over Discord's limits with 429; None (the default) limits nothing.
        """
        self.token = token
        self.host = host
        self.port = port
        self.heartbeat_interval = heartbeat_interval
        self.interaction_deadline = interaction_deadline
        self.interaction_token_ttl = interaction_token_ttl
        self.privileged_intents = privileged_intents
        self.recommended_shards = recommended_shards
        self.max_concurrency = max_concurrency
        self.session_start_total = session_start_total
        self._snowflake = _Snowflakes()

        self.bot = FakeUser(self._snowflake(), bot_name, bot=True)
        self.application_id = self.bot.id
        self.owner = FakeUser(self._snowflake(), "guild-owner")
        self.users: dict[int, FakeUser] = {self.bot.id: self.bot, self.owner.id: self.owner}

        #: Guilds by id; ``guild`` is the seeded one.
        self.guilds: dict[int, FakeGuild] = {}
        #: Guild channels, categories and DM channels by id (threads are in ``threads``).
        self.channels: dict[int, FakeChannel] = {}
        #: Threads by id.
        self.threads: dict[int, FakeChannel] = {}
        #: Messages per channel id, in creation order (ephemeral ones included, flagged).
        self.messages: dict[int, list[FakeMessage]] = defaultdict(list)
        #: Every REST request, in order.
        self.requests: list[RecordedRequest] = []
        #: REST requests no route handled ("METHOD /path"); assert this stays empty.
        self.unhandled: list[str] = []
        #: Exceptions raised inside the fake while handling a request (bugs of the fake).
        self.server_errors: list[str] = []
        #: Requests refused with 429 ("METHOD /path", "global" marked), in order.
        self.rate_limited: list[str] = []
        self._windows = _Windows(rate_limits) if rate_limits is not None else None
        self._bucket_ids: dict[tuple[str, str], str] = {}
        #: Failures asked for with :meth:`fail_next`, not yet answered, in the order asked.
        self._faults: list[_Fault] = []
        #: Requests answered with a failure asked for ("METHOD /path"), in order.
        self.failed: list[str] = []
        #: Interactions delivered, by interaction id, with the bot's answers.
        self.interaction_responses: dict[int, InteractionRecord] = {}
        #: Synced application commands: key ``None`` = global, else guild id.
        self.synced_commands: dict[int | None, list[dict[str, Any]]] = {}
        #: Gateway frames received from clients (op codes other than heartbeats).
        self.gateway_received: list[dict[str, Any]] = []
        self.identify_count = 0
        self.sync_count = 0
        self._sync_identify: list[int] = []  # identify_count at the time of each sync
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._messages_by_id: dict[int, FakeMessage] = {}
        self._tokens: dict[str, InteractionRecord] = {}
        self._attachments: dict[int, UploadedFile] = {}
        self._sessions: dict[str, _Session] = {}
        self._session_order: list[_Session] = []
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._websockets: set[web.WebSocketResponse] = set()
        self._acks: set[asyncio.Task[None]] = set()  # heartbeat acks on their way
        self._routes: list[_Route] = []
        self._register_routes()

        guild = self.add_guild(guild_name, owner=self.owner, bot_permissions=bot_permissions)
        self.guild: FakeGuild = guild
        self.facilitator_role: FakeRole = guild.role("Facilitator")
        self.manager_role: FakeRole = guild.role("Server Manager")
        self.general: FakeChannel = self.add_channel("general", guild=guild)
        guild.system_channel_id = self.general.id

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start listening on ``host`` (ephemeral port unless ``port`` was given)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/gateway", self._handle_gateway)
        app.router.add_get("/attachments/{channel_id}/{attachment_id}/{filename}", self._attachment)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._handle_api)
        app.router.add_route("*", "/{tail:.*}", self._handle_unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("fake discord listening on %s", self.url)

    async def stop(self) -> None:
        """Close gateway connections and stop the server."""
        for ack in list(self._acks):
            ack.cancel()
        for ws in list(self._websockets):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(code=1001), 1.0)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT/api/v10``: the value for ``discord.http.Route.BASE``."""
        return f"{self.url}/api/v{API_VERSION}"

    @property
    def rate_limits(self) -> RateLimits | None:
        """The limits applied now (None: none); setting them starts every window afresh."""
        return self._windows.limits if self._windows is not None else None

    @rate_limits.setter
    def rate_limits(self, limits: RateLimits | None) -> None:
        self._windows = _Windows(limits) if limits is not None else None

    def fail_next(
        self,
        method: str,
        template: str,
        status: int = 503,
        *,
        when: Callable[[Mapping[str, str]], bool] | None = None,
        code: int = 0,
    ) -> None:
        """Answer the next request of one route with ``status``, in Discord's error format,
        doing nothing else: a 503 as when Discord is in trouble, or a refusal (a 403 with
        ``code`` 50013...). The route is one of the fake's templates, e.g. ``"PATCH",
        "/channels/{channel_id}/messages/{message_id}"``; ``when`` picks the request by its
        path parameters (strings). Each call fails one request; :attr:`failed` lists them."""
        if not any(r.method == method and r.template == template for r in self._routes):
            raise ValueError(f"the fake has no route {method} {template}")
        self._faults.append(_Fault(method, template, status, code, when))

    def _fault(self, route: _Route, params: Mapping[str, str]) -> _Fault | None:
        """The first failure asked for that this request answers (taken off the list)."""
        for fault in self._faults:
            if (fault.method, fault.template) == (route.method, route.template) and (
                fault.when is None or fault.when(params)
            ):
                self._faults.remove(fault)
                return fault
        return None

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT/gateway``: the value for ``DiscordWebSocket.DEFAULT_GATEWAY``."""
        return f"ws://{self.host}:{self.port}/gateway"

    def env(self) -> dict[str, str]:
        """Environment for a bot subprocess: ``DISCORD_API_BASE``, ``DISCORD_GATEWAY_URL`` and
        ``DISCORD_TOKEN``."""
        return {
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
            "DISCORD_TOKEN": self.token,
        }

    def point_discord_at(self) -> None:
        """Point discord.py in this process at this fake (see :func:`point_discord_at`)."""
        point_discord_at(self.url)

    # ----------------------------------------------------------------- seeding

    def add_guild(
        self,
        name: str,
        *,
        owner: FakeUser | None = None,
        bot_permissions: int = Permission.BOT_DEFAULT,
        shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """Create a guild the bot is in, with @everyone, Facilitator, Server Manager and the
        bot's managed role. Call before the bot connects (or the bot will not see it).

        ``shard=(shard_id, shard_count)`` picks an id that Discord's rule puts on that shard.
        """
        owner = owner or self.owner
        gid = self._snowflake() if shard is None else self._snowflake.on_shard(*shard)
        guild = FakeGuild(gid, name, owner.id)
        self.guilds[guild.id] = guild
        guild.roles[guild.id] = FakeRole(guild.id, "@everyone", Permission.EVERYONE_DEFAULT, 0)
        for position, (role_name, perms) in enumerate(
            (("Facilitator", 0), ("Server Manager", Permission.MANAGE_GUILD)), start=1
        ):
            role = FakeRole(self._snowflake(), role_name, perms, position, mentionable=True)
            guild.roles[role.id] = role
        bot_role = FakeRole(
            self._snowflake(), self.bot.name, bot_permissions, 3, managed=True, bot_id=self.bot.id
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = FakeMember(owner, guild.id)
        guild.members[self.bot.id] = FakeMember(self.bot, guild.id, roles=[bot_role.id])
        return guild

    def add_role(
        self,
        name: str,
        *,
        permissions: int = 0,
        guild: FakeGuild | None = None,
        mentionable: bool = True,
    ) -> FakeRole:
        """Add a role (placed just above @everyone, like Discord does)."""
        guild = guild or self.guild
        for role in guild.roles.values():
            if role.position >= 1:
                role.position += 1
        role = FakeRole(self._snowflake(), name, permissions, 1, mentionable=mentionable)
        guild.roles[role.id] = role
        return role

    def add_user(
        self,
        name: str,
        *,
        manage_guild: bool = False,
        roles: Iterable[FakeRole | int] = (),
        guild: FakeGuild | None = None,
        bot: bool = False,
    ) -> FakeUser:
        """Add a human member to the guild. ``manage_guild`` gives them the "Server Manager"
        role (Manage Server, 0x20); ``roles`` adds further roles."""
        guild = guild or self.guild
        user = FakeUser(self._snowflake(), name, bot=bot)
        self.users[user.id] = user
        role_ids = [r if isinstance(r, int) else r.id for r in roles]
        if manage_guild:
            role_ids.append(guild.role("Server Manager").id)
        guild.members[user.id] = FakeMember(user, guild.id, roles=list(dict.fromkeys(role_ids)))
        return user

    def add_facilitator(self, name: str = "facilitator") -> FakeUser:
        """A member with the Facilitator role and Manage Server."""
        return self.add_user(name, manage_guild=True, roles=[self.facilitator_role])

    def add_player(self, name: str = "player") -> FakeUser:
        """A plain member without any special permission."""
        return self.add_user(name)

    def add_channel(
        self,
        name: str,
        *,
        type: int = 0,
        guild: FakeGuild | None = None,
        parent: FakeChannel | None = None,
        overwrites: Iterable[Mapping[str, Any]] = (),
        topic: str | None = None,
    ) -> FakeChannel:
        """Seed a guild channel (type 0 text, 4 category, ...) without gateway events."""
        guild = guild or self.guild
        position = sum(1 for c in self.channels.values() if c.guild_id == guild.id)
        channel = FakeChannel(
            self._snowflake(),
            type,
            name,
            guild.id,
            position=position,
            parent_id=parent.id if parent else None,
            topic=topic,
            permission_overwrites=[_normalize_overwrite(ow) for ow in overwrites],
        )
        self.channels[channel.id] = channel
        return channel

    def add_message(
        self,
        channel: FakeChannel,
        content: str = "",
        *,
        author: FakeUser | None = None,
        embeds: Sequence[Mapping[str, Any]] = (),
        components: Sequence[Mapping[str, Any]] = (),
    ) -> FakeMessage:
        """Seed an existing message (e.g. a panel an earlier run of the bot posted) without
        any gateway event. ``author`` defaults to the bot."""
        mid = self._snowflake()
        msg = FakeMessage(
            id=mid,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author or self.bot,
            content=content,
            embeds=_clone(list(embeds)),
            components=_clone(list(components)),
            timestamp=snowflake_time_iso(mid),
        )
        self._assign_component_ids(msg.components)
        self._mentions(msg)
        self.messages[channel.id].append(msg)
        self._messages_by_id[mid] = msg
        channel.last_message_id = mid
        return msg

    def member(self, user: FakeUser | int, guild: FakeGuild | None = None) -> FakeMember:
        """The guild membership of a user."""
        guild = guild or self.guild
        return guild.members[user if isinstance(user, int) else user.id]

    # ----------------------------------------------------------------- queries

    def channel(self, channel_id: int) -> FakeChannel:
        """A channel or thread by id (deleted ones included)."""
        found = self.channels.get(channel_id) or self.threads.get(channel_id)
        if found is None:
            raise KeyError(channel_id)
        return found

    def message(self, message_id: int) -> FakeMessage:
        """A message by id."""
        return self._messages_by_id[message_id]

    def channel_messages(
        self, channel: FakeChannel | int, *, include_ephemeral: bool = False
    ) -> list[FakeMessage]:
        """Non-deleted messages of a channel, oldest first."""
        cid = channel if isinstance(channel, int) else channel.id
        return [
            m
            for m in self.messages.get(cid, [])
            if not m.deleted and (include_ephemeral or not m.ephemeral)
        ]

    def all_messages(self) -> list[FakeMessage]:
        """Every message of every channel, in creation order."""
        return sorted(self._messages_by_id.values(), key=lambda m: m.id)

    def thread_named(self, name: str) -> FakeChannel:
        """The most recent thread with this name."""
        for thread in reversed(list(self.threads.values())):
            if thread.name == name:
                return thread
        raise KeyError(name)

    def channel_named(self, name: str) -> FakeChannel:
        """The most recent guild channel with this name."""
        for channel in reversed(list(self.channels.values())):
            if channel.name == name:
                return channel
        raise KeyError(name)

    def permissions_for(self, user: FakeUser | int, channel: FakeChannel | None = None) -> int:
        """Effective permissions of a member (in a channel, with overwrites), as Discord
        computes them. Thread permissions are the parent's."""
        uid = user if isinstance(user, int) else user.id
        if channel is not None and channel.is_thread and channel.parent_id is not None:
            channel = self.channel(channel.parent_id)
        guild = self.guilds[channel.guild_id] if channel and channel.guild_id else self.guild
        member = guild.members.get(uid)
        if member is None:
            return 0
        if uid == guild.owner_id:
            return Permission.ALL
        perms = guild.everyone.permissions
        for rid in member.roles:
            if rid in guild.roles:
                perms |= guild.roles[rid].permissions
        if perms & Permission.ADMINISTRATOR:
            return Permission.ALL
        if channel is None:
            return perms
        everyone_ow = channel.overwrite_for(guild.id)
        if everyone_ow:
            perms = (perms & ~int(everyone_ow["deny"])) | int(everyone_ow["allow"])
        allow = deny = 0
        for ow in channel.permission_overwrites:
            if ow["type"] == 0 and int(ow["id"]) in member.roles:
                allow |= int(ow["allow"])
                deny |= int(ow["deny"])
        perms = (perms & ~deny) | allow
        member_ow = channel.overwrite_for(uid)
        if member_ow and member_ow["type"] == 1:
            perms = (perms & ~int(member_ow["deny"])) | int(member_ow["allow"])
        if not perms & Permission.VIEW_CHANNEL:
            return 0
        return perms

    # ----------------------------------------------------------------- waiting

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                recent = ", ".join(f"{r.method} {r.path} -> {r.status}" for r in self.requests[-8:])
                raise TimeoutError(
                    f"fakediscord: timed out after {timeout}s waiting for {what}. "
                    f"Recent requests: [{recent}]; unhandled: {self.unhandled}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    async def wait_for_ready(
        self, *, min_identifies: int = 1, commands: bool = False, timeout: float = 5.0
    ) -> None:
        """Wait until a client has IDENTIFYed (at least ``min_identifies`` times in total)
        and that session is connected and got READY and its GUILD_CREATEs. With
        ``commands=True`` also until application commands were synced after the previous
        IDENTIFY (so a sync in ``setup_hook``, which runs before IDENTIFY, counts).

        After restarting a bot subprocess pass ``min_identifies=fake.identify_count + 1``
        (read before the restart).
        """

        def check() -> bool:
            if not any(s.live and s.ordinal >= min_identifies for s in self._session_order):
                return False
            # setup_hook() syncs before IDENTIFY: count syncs since the previous IDENTIFY.
            return not commands or any(n >= min_identifies - 1 for n in self._sync_identify)

        await self._wait_until(check, timeout, "the bot to be ready")

    @property
    def live_shards(self) -> list[tuple[int, int]]:
        """``(shard_id, shard_count)`` of every connected, ready sharded session."""
        return sorted(s.shard for s in self._session_order if s.live and s.shard is not None)

    async def wait_for_shards(
        self,
        shard_count: int,
        shard_ids: Iterable[int] | None = None,
        *,
        min_identifies: int = 1,
        commands: bool = False,
        timeout: float = 5.0,
    ) -> None:
        """Wait until each of ``shard_ids`` (default: all ``shard_count``) has a live session
        that IDENTIFYed with ``shard: [id, shard_count]`` (as the ``min_identifies``-th
        IDENTIFY or later) and got READY and its guilds. ``commands`` as in
        :meth:`wait_for_ready`."""
        wanted = set(range(shard_count) if shard_ids is None else shard_ids)

        def check() -> bool:
            ready = {
                s.shard[0]
                for s in self._session_order
                if s.live
                and s.ordinal >= min_identifies
                and s.shard is not None
                and s.shard[1] == shard_count
            }
            if not wanted <= ready:
                return False
            return not commands or any(n >= min_identifies - 1 for n in self._sync_identify)

        shards = ", ".join(map(str, sorted(wanted)))
        await self._wait_until(check, timeout, f"shards {shards} of {shard_count} to be ready")

    async def wait_for(
        self,
        predicate: Callable[[RecordedRequest | FakeMessage | InteractionRecord], Any],
        timeout: float = 5.0,
    ) -> RecordedRequest | FakeMessage | InteractionRecord:
        """Wait until a recorded request, message (created or edited) or interaction record
        satisfies ``predicate``; returns it. Already-recorded items count too."""

        def check() -> RecordedRequest | FakeMessage | InteractionRecord | None:
            items: list[RecordedRequest | FakeMessage | InteractionRecord] = [
                *self.requests,
                *self._messages_by_id.values(),
                *self.interaction_responses.values(),
            ]
            return next((item for item in items if predicate(item)), None)

        return await self._wait_until(check, timeout, "a matching request/message")

    async def wait_for_message(
        self,
        channel: FakeChannel | int | None = None,
        predicate: Callable[[FakeMessage], Any] | None = None,
        *,
        timeout: float = 5.0,
        include_ephemeral: bool = False,
    ) -> FakeMessage:
        """Wait for a (non-deleted) message in ``channel`` (any channel if None) matching
        ``predicate``."""
        cid = channel if isinstance(channel, int) or channel is None else channel.id

        def check() -> FakeMessage | None:
            for msg in self._messages_by_id.values():
                if msg.deleted or (msg.ephemeral and not include_ephemeral):
                    continue
                if (cid is None or msg.channel_id == cid) and (predicate is None or predicate(msg)):
                    return msg
            return None

        return await self._wait_until(check, timeout, f"a message in channel {cid}")

    async def wait_for_request(
        self, method: str, path_regex: str, *, timeout: float = 5.0
    ) -> RecordedRequest:
        """Wait for a REST request whose method matches and path matches ``path_regex``
        (``re.search``)."""
        pattern = re.compile(path_regex)

        def check() -> RecordedRequest | None:
            for req in self.requests:
                if req.method == method.upper() and pattern.search(req.path) and req.status:
                    return req
            return None

        return await self._wait_until(check, timeout, f"{method} {path_regex}")

    async def wait_for_response(
        self, interaction: InteractionRecord | int, *, attempts: int = 1, timeout: float = 5.0
    ) -> InteractionRecord:
        """Wait until the bot made ``attempts`` callback attempts (successful or refused)
        for the interaction."""
        rec = self._interaction(interaction)
        await self._wait_until(
            lambda: len(rec.attempts) >= attempts, timeout, f"a response to interaction {rec.id}"
        )
        return rec

    # ----------------------------------------------------------------- interactions

    def _interaction(self, interaction: InteractionRecord | int) -> InteractionRecord:
        if isinstance(interaction, InteractionRecord):
            return interaction
        return self.interaction_responses[interaction]

    def _guild_of(self, channel: FakeChannel) -> FakeGuild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id else None

    def shard_of(self, guild: FakeGuild | int, shard_count: int) -> int:
        """The shard a guild's events go to, out of ``shard_count``."""
        return shard_of(guild if isinstance(guild, int) else guild.id, shard_count)

    def _find_command(self, name: str, guild_id: int | None, type: int) -> dict[str, Any] | None:
        for key in (guild_id, None):
            for cmd in self.synced_commands.get(key, []):
                if cmd["name"] == name and cmd.get("type", 1) == type:
                    return cmd
        return None

    def _base_interaction(
        self,
        type: int,
        user: FakeUser,
        channel: FakeChannel,
        data: dict[str, Any] | None,
        *,
        message: FakeMessage | None = None,
    ) -> dict[str, Any]:
        """A complete interaction payload as Discord sends it in INTERACTION_CREATE."""
        iid = self._snowflake()
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": type,
            "token": f"itok-{iid}-{secrets.token_urlsafe(24)}",
            "version": 1,
            "channel_id": str(channel.id),
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if data is not None:
            payload["data"] = data
        guild = self._guild_of(channel)
        if guild is not None:
            user_perms = self.permissions_for(user, channel)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=self.member(user, guild).payload(permissions=user_perms),
                app_permissions=str(self.permissions_for(self.bot, channel)),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
                channel={**channel.payload(), "permissions": str(user_perms)},
            )
        else:
            payload.update(
                user=user.payload(),
                app_permissions=str(Permission.EVERYONE_DEFAULT),
                authorizing_integration_owners={"0": "0"},
                context=1,
                channel=channel.payload(),
            )
        if message is not None:
            payload["message"] = message.payload()
        return payload

    def _resolved(self, refs: Iterable[tuple[int, int]], channel: FakeChannel) -> dict[str, Any]:
        """``resolved`` for (option type, id) pairs: user 6, channel 7, role 8, mentionable 9."""
        resolved: dict[str, dict[str, Any]] = {}
        guild = self._guild_of(channel) or self.guild
        for kind, oid in refs:
            if kind in (6, 9) and oid in self.users:
                resolved.setdefault("users", {})[str(oid)] = self.users[oid].payload()
                if oid in guild.members:
                    perms = self.permissions_for(oid, channel)
                    resolved.setdefault("members", {})[str(oid)] = guild.members[oid].payload(
                        with_user=False, permissions=perms
                    )
            elif kind in (8, 9) and oid in guild.roles:
                resolved.setdefault("roles", {})[str(oid)] = guild.roles[oid].payload()
            elif kind == 7:
                ch = self.channel(oid)
                perms = self.permissions_for(self.bot, ch)
                resolved.setdefault("channels", {})[str(oid)] = {
                    **ch.payload(),
                    "permissions": str(perms),
                }
        return resolved

    def _command_options(
        self,
        name: str,
        channel: FakeChannel,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        *,
        focused: str | None = None,
    ) -> tuple[dict[str, Any], list[dict[str, Any]], list[tuple[int, int]]]:
        """Resolve "cmd [group] sub" + options against the synced schema.

        Returns the command, the nested ``options`` list and the (type, id) references.
        """
        root, *path = name.split()
        guild_id = channel.guild_id
        command = self._find_command(root, guild_id, 1)
        if command is None:
            known = sorted({c["name"] for cmds in self.synced_commands.values() for c in cmds})
            raise LookupError(f"/{root} was not synced to guild {guild_id} or globally: {known}")
        schema: list[dict[str, Any]] = command.get("options", [])
        chain: list[dict[str, Any]] = []
        for part in path:
            node = next((o for o in schema if o["name"] == part and o["type"] in (1, 2)), None)
            if node is None:
                raise LookupError(f"/{name}: no subcommand (group) named {part!r}")
            chain.append(node)
            schema = node.get("options", [])
        if any(o["type"] in (1, 2) for o in schema):
            raise LookupError(f"/{name} needs a subcommand: {[o['name'] for o in schema]}")

        refs: list[tuple[int, int]] = []
        leaf: list[dict[str, Any]]
        if options is None or isinstance(options, Mapping):
            leaf = []
            given = dict(options or {})
            for opt_name, value in given.items():
                opt = next((o for o in schema if o["name"] == opt_name), None)
                if opt is None:
                    raise ValueError(f"/{name} has no option {opt_name!r}")
                leaf.append(self._option_value(name, opt, value, refs, focused == opt_name))
            if focused is None:
                missing = [
                    o["name"] for o in schema if o.get("required") and o["name"] not in given
                ]
                if missing:
                    raise ValueError(f"/{name}: required option(s) missing: {missing}")
        else:
            leaf = [dict(o) for o in options]
            for o in _walk_options(leaf):
                if o.get("type") in (6, 7, 8, 9):
                    refs.append((o["type"], int(o["value"])))

        nested = leaf
        for node in reversed(chain):
            nested = [{"type": node["type"], "name": node["name"], "options": nested}]
        return command, nested, refs

    @staticmethod
    def _option_value(
        name: str,
        opt: Mapping[str, Any],
        value: Any,
        refs: list[tuple[int, int]],
        is_focused: bool,
    ) -> dict[str, Any]:
        kind = opt["type"]
        if kind in (6, 7, 8, 9):
            oid = value if isinstance(value, int) else value.id
            refs.append((kind, oid))
            out: Any = str(oid)
        elif is_focused:
            out = str(value)
        elif kind == 4:
            out = int(value)
        elif kind == 10:
            out = float(value)
        elif kind == 5:
            out = bool(value)
        else:
            out = str(value)
        choices = opt.get("choices")
        if choices and not is_focused and out not in [c["value"] for c in choices]:
            raise ValueError(f"/{name} {opt['name']}: {out!r} is not one of the choices")
        result = {"type": kind, "name": opt["name"], "value": out}
        if is_focused:
            result["focused"] = True
        return result

    async def slash(
        self,
        user: FakeUser,
        channel: FakeChannel,
        name: str,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """A user runs a slash command, e.g. ``slash(u, ch, "session start", {"topic": "x"})``.

        ``name`` may contain subcommand (group) names separated by spaces. ``options`` is
        either a mapping name -> value (types come from the synced command schema; users,
        channels and roles may be passed as objects) or a raw Discord options list. The
        command must have been synced (globally or to the channel's guild). With ``wait``,
        returns once the bot answered the callback (or ``timeout`` expires).
        """
        command, opts, refs = self._command_options(name, channel, options)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": command["name"],
            "type": 1,
            "options": opts,
        }
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        resolved = self._resolved(refs, channel)
        if resolved:
            data["resolved"] = resolved
        payload = self._base_interaction(2, user, channel, data)
        return await self.interaction(payload, wait=wait, timeout=timeout)

    async def autocomplete(
        self,
        user: FakeUser,
        channel: FakeChannel,
        name: str,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        focused: str,
        *,
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """A user types into option ``focused`` of ``/name``; ``record.choices`` holds the
        bot's suggestions once answered."""
        if options is not None and not isinstance(options, Mapping):
            options = [
                {**o, "focused": True} if o.get("name") == focused else dict(o) for o in options
            ]
        command, opts, _ = self._command_options(name, channel, options, focused=focused)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": command["name"],
            "type": 1,
            "options": opts,
        }
        if command.get("guild_id"):
            data["guild_id"] = command["guild_id"]
        payload = self._base_interaction(4, user, channel, data)
        return await self.interaction(payload, wait=wait, timeout=timeout)

    def _component_interaction(
        self, user: FakeUser, message: FakeMessage | int, custom_id: str
    ) -> tuple[FakeMessage, dict[str, Any], FakeChannel]:
        msg = message if isinstance(message, FakeMessage) else self.message(message)
        if msg.deleted:
            raise ValueError(f"message {msg.id} was deleted")
        comp = msg.find_component(custom_id)
        if comp is None:
            ids = [c.get("custom_id") for c in msg.iter_components() if c.get("custom_id")]
            raise ValueError(f"message {msg.id} has no component {custom_id!r}; has {ids}")
        if comp.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        return msg, comp, self.channel(msg.channel_id)

    async def click(
        self,
        user: FakeUser,
        message: FakeMessage | int,
        custom_id: str,
        *,
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """A user clicks the button ``custom_id`` on ``message`` (which must have it)."""
        msg, comp, channel = self._component_interaction(user, message, custom_id)
        if comp.get("type") != 2:
            raise ValueError(f"{custom_id!r} is not a button")
        data = {"custom_id": custom_id, "component_type": 2}
        payload = self._base_interaction(3, user, channel, data, message=msg)
        return await self.interaction(payload, wait=wait, timeout=timeout)

    async def select(
        self,
        user: FakeUser,
        message: FakeMessage | int,
        custom_id: str,
        values: Sequence[Any],
        *,
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """A user picks ``values`` in the select menu ``custom_id`` on ``message``. For user,
        role, channel and mentionable selects, values may be objects or ids."""
        msg, comp, channel = self._component_interaction(user, message, custom_id)
        kind = comp.get("type")
        if kind not in (3, 5, 6, 7, 8):
            raise ValueError(f"{custom_id!r} is not a select menu")
        min_v, max_v = comp.get("min_values", 1), comp.get("max_values", 1)
        if not min_v <= len(values) <= max_v:
            raise ValueError(f"{custom_id!r} takes {min_v}..{max_v} values, got {len(values)}")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": kind}
        if kind == 3:
            allowed = [o["value"] for o in comp.get("options", [])]
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ValueError(f"{custom_id!r}: {bad} not among options {allowed}")
            data["values"] = [str(v) for v in values]
        else:
            ids = [v if isinstance(v, int) else v.id for v in values]
            data["values"] = [str(i) for i in ids]
            ref_kind = {5: 6, 6: 8, 7: 9, 8: 7}[kind]
            data["resolved"] = self._resolved([(ref_kind, i) for i in ids], channel)
        payload = self._base_interaction(3, user, channel, data, message=msg)
        return await self.interaction(payload, wait=wait, timeout=timeout)

    async def submit_modal(
        self,
        user: FakeUser,
        origin: InteractionRecord | int,
        values: Mapping[str, str],
        *,
        wait: bool = True,
        timeout: float = 5.0,
    ) -> InteractionRecord:
        """A user submits the modal the bot opened in answer to ``origin`` (callback type 9),
        filling text inputs by custom_id."""
        rec = self._interaction(origin)
        modal = rec.modal
        if modal is None:
            raise ValueError(f"interaction {rec.id} did not open a modal")

        def fill(comp: dict[str, Any]) -> dict[str, Any] | None:
            if comp.get("type") == 4:
                cid = comp["custom_id"]
                return {
                    "type": 4,
                    "id": comp.get("id"),
                    "custom_id": cid,
                    "value": values.get(cid, ""),
                }
            if comp.get("type") == 18 and isinstance(comp.get("component"), dict):
                inner = fill(comp["component"])
                return {"type": 18, "id": comp.get("id"), "component": inner} if inner else None
            if comp.get("type") == 1:
                inner_list = [x for c in comp.get("components", []) if (x := fill(c))]
                return {"type": 1, "id": comp.get("id"), "components": inner_list}
            return None

        submitted = [x for c in modal.get("components", []) if (x := fill(c))]
        channel = self.channel(rec.channel_id) if rec.channel_id else self.general
        message = self._messages_by_id.get(rec.message_id) if rec.message_id else None
        data = {"custom_id": modal["custom_id"], "components": submitted}
        payload = self._base_interaction(5, user, channel, data, message=message)
        return await self.interaction(payload, wait=wait, timeout=timeout)

    async def interaction(
        self, payload: dict[str, Any], *, wait: bool = True, timeout: float = 5.0
    ) -> InteractionRecord:
        """Deliver a raw INTERACTION_CREATE payload to the bot (the newest live session that
        gets the interaction's guild: with shards, one of the guild's shard).

        Delivering a payload whose id was already delivered reuses the record (the bot's
        second answer then gets 40060). With ``wait``, returns after the bot's next
        callback attempt for it.
        """
        iid = int(payload["id"])
        rec = self.interaction_responses.get(iid)
        if rec is None:
            user_data = payload.get("member", {}).get("user") or payload.get("user")
            user = self.users.get(int(user_data["id"])) if user_data else None
            msg = payload.get("message")
            rec = InteractionRecord(
                id=iid,
                token=payload["token"],
                type=payload["type"],
                payload=payload,
                user=user or FakeUser(int(user_data["id"]), user_data["username"]),
                channel_id=int(payload["channel_id"]) if payload.get("channel_id") else None,
                guild_id=int(payload["guild_id"]) if payload.get("guild_id") else None,
                message_id=int(msg["id"]) if msg else None,
            )
            self.interaction_responses[iid] = rec
            self._tokens[rec.token] = rec
        else:
            rec.deliveries += 1
        before = len(rec.attempts)
        guild_id = int(payload["guild_id"]) if payload.get("guild_id") else None
        session = next(
            (s for s in reversed(self._session_order) if s.live and s.receives(guild_id)), None
        )
        if session is None:
            where = "" if guild_id is None else f" for guild {guild_id}'s shard"
            raise RuntimeError(f"fakediscord: no bot is connected to the gateway{where}")
        rec.shard = session.shard
        await self._send_dispatch(session, "INTERACTION_CREATE", payload)
        self._notify()
        if wait:
            await self._wait_until(
                lambda: len(rec.attempts) > before, timeout, f"a response to interaction {iid}"
            )
        return rec

    async def post_user_message(
        self, user: FakeUser, channel: FakeChannel, content: str
    ) -> FakeMessage:
        """A human posts a plain message (dispatched as MESSAGE_CREATE)."""
        return await self._create_message(channel, user, {"content": content}, [])

    # ----------------------------------------------------------------- gateway control

    async def disconnect_bot(self, code: int = 4000) -> None:
        """Close every gateway connection with ``code`` (4000 lets discord.py RESUME)."""
        for session in self._session_order:
            if session.ws is not None:
                with contextlib.suppress(Exception):
                    await session.ws.close(code=code)

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT to every live session."""
        for session in self._session_order:
            if session.live and session.ws is not None:
                await session.ws.send_str(json.dumps({"op": 7, "d": None}))

    def invalidate_sessions(self) -> None:
        """Make every existing session non-resumable (next RESUME gets op 9)."""
        for session in self._session_order:
            session.invalid = True

    # ----------------------------------------------------------------- gateway

    async def _handle_gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        self._websockets.add(ws)
        session: _Session | None = None
        try:
            await ws.send_str(
                json.dumps(
                    {
                        "op": 10,
                        "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000)},
                        "s": None,
                        "t": None,
                    }
                )
            )
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    if msg.type is WSMsgType.BINARY:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                    break
                frame = json.loads(msg.data)
                op = frame.get("op")
                if op != 1:
                    self.gateway_received.append(frame)
                if op == 1:
                    ack = asyncio.create_task(self._ack_heartbeat(ws))
                    self._acks.add(ack)
                    ack.add_done_callback(self._acks.discard)
                elif op == 2:
                    if session is not None:
                        await ws.close(code=4005, message=b"Already authenticated.")
                        break
                    session = await self._identify(ws, frame.get("d") or {})
                    if session is None:
                        break
                elif op == 6:
                    session = await self._resume(ws, frame.get("d") or {})
                elif op == 8:
                    await self._request_members(session, frame.get("d") or {})
                elif op in (3, 4):
                    pass  # presence / voice state updates: recorded only
                else:
                    await ws.close(code=4001, message=b"Unknown opcode.")
                    break
        finally:
            self._websockets.discard(ws)
            if session is not None and session.ws is ws:
                session.ws = None
            self._notify()
        return ws

    @staticmethod
    async def _ack_heartbeat(ws: web.WebSocketResponse) -> None:
        await asyncio.sleep(HEARTBEAT_ACK_AFTER)
        if not ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):  # closed meanwhile
                await ws.send_str(json.dumps({"op": 11, "d": None}))

    async def _identify(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> _Session | None:
        if d.get("token") != self.token:
            await ws.close(code=4004, message=b"Authentication failed.")
            return None
        intents = int(d.get("intents", 0))
        if intents & GatewayIntent.PRIVILEGED & ~self.privileged_intents:
            await ws.close(code=4014, message=b"Disallowed intent(s).")
            return None
        shard: tuple[int, int] | None = None
        if d.get("shard") is not None:
            raw = d["shard"]
            valid = (
                isinstance(raw, list)
                and len(raw) == 2
                and all(isinstance(n, int) for n in raw)
                and 0 <= raw[0] < raw[1]
            )
            if not valid:
                await ws.close(code=4010, message=b"Invalid shard.")
                return None
            shard = (raw[0], raw[1])
        self.identify_count += 1
        session = _Session(secrets.token_hex(16), intents, self.identify_count, shard)
        session.ws = ws
        self._sessions[session.id] = session
        self._session_order.append(session)
        guilds = [g for g in self.guilds.values() if session.receives(g.id)]
        ready: dict[str, Any] = {
            "v": API_VERSION,
            "user": {
                **self.bot.payload(),
                "verified": True,
                "mfa_enabled": False,
                "locale": "en-US",
                "email": None,
            },
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "user_settings": {},
            "geo_ordered_rtc_regions": [],
            "_trace": ["fakediscord"],
        }
        if shard is not None:
            ready["shard"] = list(shard)
        await self._send_dispatch(session, "READY", ready)
        for guild in guilds:
            await self._send_dispatch(session, "GUILD_CREATE", self._guild_create(guild, intents))
        session.ready = True
        self._notify()
        return session

    async def _resume(self, ws: web.WebSocketResponse, d: dict[str, Any]) -> _Session | None:
        session = self._sessions.get(d.get("session_id", ""))
        if session is None or session.invalid or d.get("token") != self.token:
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return None
        if session.ws is not None and session.ws is not ws:
            with contextlib.suppress(Exception):
                await session.ws.close(code=4000)
        session.ws = ws
        seq = int(d.get("seq") or 0)
        async with session.lock:
            for frame in session.log:
                if frame["s"] > seq:
                    await ws.send_str(json.dumps(frame))
        await self._send_dispatch(session, "RESUMED", {"_trace": ["fakediscord"]})
        session.ready = True
        self._notify()
        return session

    async def _request_members(self, session: _Session | None, d: dict[str, Any]) -> None:
        if session is None or session.ws is None:
            return
        guild = self.guilds.get(int(d["guild_id"]))
        if guild is None:
            return
        query = (d.get("query") or "").lower()
        wanted = {int(u) for u in d.get("user_ids") or []}
        members = [
            m
            for m in guild.members.values()
            if (not wanted or m.user.id in wanted) and m.user.name.lower().startswith(query)
        ]
        limit = int(d.get("limit") or 0)
        if limit:
            members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted if u not in guild.members],
        }
        if d.get("nonce") is not None:
            chunk["nonce"] = d["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _guild_create(self, guild: FakeGuild, intents: int) -> dict[str, Any]:
        if intents & GatewayIntent.GUILD_MEMBERS:
            members = list(guild.members.values())
        else:
            members = [guild.members[self.bot.id]]
        channels = [
            {k: v for k, v in c.payload().items() if k != "guild_id"}
            for c in self.channels.values()
            if c.guild_id == guild.id and not c.deleted
        ]
        threads = []
        for t in self.threads.values():
            if t.guild_id != guild.id or t.deleted or t.archived:
                continue
            data = t.payload()
            if self.bot.id in t.thread_members:
                data["member"] = t.thread_member_payload(self.bot.id)
            threads.append(data)
        return {
            **guild.payload(),
            "joined_at": guild.joined_at,
            "large": len(guild.members) > 250,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": [m.payload() for m in members],
            "channels": channels,
            "threads": threads,
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "embedded_activities": [],
            "lazy": True,
        }

    async def _send_dispatch(self, session: _Session, event: str, data: Any) -> None:
        async with session.lock:
            session.seq += 1
            frame = {"op": 0, "t": event, "s": session.seq, "d": data}
            if event not in ("READY", "RESUMED"):
                session.log.append(frame)
                del session.log[:-1000]
            ws = session.ws
            if ws is None or ws.closed:
                return
            try:
                await ws.send_str(json.dumps(frame))
            except (ConnectionError, RuntimeError) as exc:
                log.debug("gateway send failed: %s", exc)

    async def _dispatch(self, event: str, data: dict[str, Any], *, intent: int) -> None:
        """Send an event to every session subscribed to ``intent`` that gets the event's
        guild (buffered for RESUME)."""
        guild_id = int(data["guild_id"]) if data.get("guild_id") else None
        for session in self._session_order:
            if session.invalid or not session.intents & intent or not session.receives(guild_id):
                continue
            await self._send_dispatch(session, event, data)

    async def _dispatch_message(self, event: str, msg: FakeMessage) -> None:
        if msg.ephemeral:
            return  # ephemeral messages never reach the gateway
        data = msg.payload()
        intent = GatewayIntent.DIRECT_MESSAGES
        if msg.guild_id is not None:
            intent = GatewayIntent.GUILD_MESSAGES
            data["guild_id"] = str(msg.guild_id)
            member = self.guilds[msg.guild_id].members.get(msg.author.id)
            if member is not None and msg.webhook_id is None:
                data["member"] = member.payload(with_user=False)
        for session in self._session_order:
            if session.invalid or not session.intents & intent:
                continue
            if not session.receives(msg.guild_id):
                continue
            frame = data
            sees_content = (
                session.intents & GatewayIntent.MESSAGE_CONTENT
                or msg.author.id == self.bot.id
                or msg.guild_id is None
                or any(int(m["id"]) == self.bot.id for m in msg.mentions)
            )
            if not sees_content:
                frame = {**data, "content": "", "embeds": [], "attachments": [], "components": []}
            await self._send_dispatch(session, event, frame)

    # ----------------------------------------------------------------- HTTP plumbing

    def _register_routes(self) -> None:
        r = self._route
        # users / application
        r("GET", "/users/@me", self._get_me)
        r("GET", "/users/{user_id}", self._get_user)
        r("POST", "/users/@me/channels", self._create_dm)
        r("GET", "/oauth2/applications/@me", self._get_application)
        r("GET", "/applications/@me", self._get_application)
        r("GET", "/gateway", self._get_gateway, auth=False)
        r("GET", "/gateway/bot", self._get_gateway_bot)
        # application commands
        for base in ("/applications/{app_id}", "/applications/{app_id}/guilds/{guild_id}"):
            r("GET", base + "/commands", self._get_commands)
            r("PUT", base + "/commands", self._put_commands)
            r("POST", base + "/commands", self._post_command)
            r("GET", base + "/commands/{command_id}", self._get_command)
            r("DELETE", base + "/commands/{command_id}", self._delete_command)
        # interactions and their webhooks (no bot authorization needed)
        r("POST", "/interactions/{interaction_id}/{token:any}/callback", self._callback, auth=False)
        r("POST", "/webhooks/{app_id}/{token:any}", self._followup, auth=False)
        for method, handler in (
            ("GET", self._get_webhook_message),
            ("PATCH", self._edit_webhook_message),
            ("DELETE", self._delete_webhook_message),
        ):
            r(
                method,
                "/webhooks/{app_id}/{token:any}/messages/{message_id:any}",
                handler,
                auth=False,
            )
        # channels and messages
        r("GET", "/channels/{channel_id}", self._get_channel)
        r("PATCH", "/channels/{channel_id}", self._edit_channel)
        r("DELETE", "/channels/{channel_id}", self._delete_channel)
        r("POST", "/channels/{channel_id}/typing", self._typing)
        for pins in ("/channels/{channel_id}/pins", "/channels/{channel_id}/messages/pins"):
            r("GET", pins, self._get_pins)
            r("PUT", pins + "/{message_id}", self._pin)
            r("DELETE", pins + "/{message_id}", self._unpin)
        r("GET", "/channels/{channel_id}/messages", self._get_messages)
        r("POST", "/channels/{channel_id}/messages", self._post_message)
        r("GET", "/channels/{channel_id}/messages/{message_id}", self._get_message)
        r("PATCH", "/channels/{channel_id}/messages/{message_id}", self._edit_message)
        r("DELETE", "/channels/{channel_id}/messages/{message_id}", self._delete_message)
        reaction = "/channels/{channel_id}/messages/{message_id}/reactions/{emoji:any}/@me"
        r("PUT", reaction, self._add_reaction)
        r("DELETE", reaction, self._remove_reaction)
        r("PUT", "/channels/{channel_id}/permissions/{target_id}", self._put_overwrite)
        r("DELETE", "/channels/{channel_id}/permissions/{target_id}", self._delete_overwrite)
        r("POST", "/channels/{channel_id}/threads", self._create_thread)
        r("POST", "/channels/{channel_id}/messages/{message_id}/threads", self._create_thread)
        r("GET", "/channels/{channel_id}/thread-members", self._get_thread_members)
        r("GET", "/channels/{channel_id}/thread-members/{user_id:any}", self._get_thread_member)
        r("PUT", "/channels/{channel_id}/thread-members/{user_id:any}", self._add_thread_member)
        r(
            "DELETE",
            "/channels/{channel_id}/thread-members/{user_id:any}",
            self._remove_thread_member,
        )
        # guilds
        r("GET", "/guilds/{guild_id}", self._get_guild)
        r("GET", "/guilds/{guild_id}/channels", self._get_guild_channels)
        r("POST", "/guilds/{guild_id}/channels", self._create_channel)
        r("GET", "/guilds/{guild_id}/threads/active", self._get_active_threads)
        r("GET", "/guilds/{guild_id}/members", self._get_members)
        r("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member)
        r("GET", "/guilds/{guild_id}/roles", self._get_roles)
        r("POST", "/guilds/{guild_id}/roles", self._create_role)
        r("PUT", "/guilds/{guild_id}/members/{user_id}/roles/{role_id}", self._add_member_role)
        r(
            "DELETE",
            "/guilds/{guild_id}/members/{user_id}/roles/{role_id}",
            self._remove_member_role,
        )

    def _route(self, method: str, template: str, handler: _Handler, *, auth: bool = True) -> None:
        self._routes.append(_Route(method, template, _compile(template), handler, auth))

    async def _parse_body(self, request: web.Request) -> tuple[Any, list[UploadedFile]]:
        ctype = request.content_type
        if ctype == "multipart/form-data":
            body: Any = None
            files: list[UploadedFile] = []
            reader = await request.multipart()
            while (part := await reader.next()) is not None:
                if not isinstance(part, BodyPartReader):
                    raise DiscordError(400, 50035, "Invalid Form Body (nested multipart)")
                data = await part.read(decode=False)
                if part.name == "payload_json":
                    body = json.loads(data)
                elif part.filename is not None:
                    content_type = part.headers.get("Content-Type", "application/octet-stream")
                    files.append(UploadedFile(part.name or "", part.filename, content_type, data))
            return body, files
        raw = await request.read()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except ValueError:
            return raw.decode(errors="replace"), []

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body, files = await self._parse_body(request)
        record = RecordedRequest(request.method, path, dict(request.query), body, files)
        self.requests.append(record)
        try:
            if request.match_info["version"] != str(API_VERSION):
                raise DiscordError(404, 0, "404: Not Found")
            route, params = self._match(request.method, path)
            if route is None:
                self.unhandled.append(f"{request.method} {path}")
                log.warning("fakediscord: unhandled route %s %s", request.method, path)
                raise DiscordError(404, 0, "404: Not Found")
            record.route = route.template
            if route.auth and request.headers.get("Authorization") != f"Bot {self.token}":
                raise DiscordError(401, 0, "401: Unauthorized")
            if (fault := self._fault(route, params)) is not None:
                self.failed.append(f"{request.method} {path}")
                phrase = HTTPStatus(fault.status).phrase
                raise DiscordError(fault.status, fault.code, f"{fault.status}: {phrase}")
            limit_headers = self._rate_limit(route, params)
            req = _Req(
                request.method, params, dict(request.query), body, files, request.headers, record
            )
            result = await route.handler(req)
        except _RateLimited as exc:
            record.status, record.response = 429, exc.body()
            self.rate_limited.append(
                f"{request.method} {path}" + (" (global)" if exc.is_global else "")
            )
            self._notify()
            return _json_response(exc.body(), 429, exc.headers)
        except DiscordError as exc:
            record.status, record.response = exc.status, exc.body()
            self._notify()
            return _json_response(exc.body(), exc.status)
        except Exception as exc:
            # A bug in the fake. 503 makes discord.py fail at once (500 would be retried).
            log.exception("fakediscord: error handling %s %s", request.method, path)
            self.server_errors.append(f"{request.method} {path}: {exc!r}")
            body = {"message": f"fakediscord internal error: {exc!r}", "code": 0}
            record.status, record.response = 503, body
            self._notify()
            return _json_response(body, 503)
        if result is None:
            record.status = 204
            self._notify()
            return web.Response(status=204, headers=limit_headers)
        record.status, record.response = 200, result
        self._notify()
        return _json_response(result, headers=limit_headers)

    def _rate_limit(self, route: _Route, params: Mapping[str, str]) -> dict[str, str]:
        """Count a request against :attr:`rate_limits`: the ``X-RateLimit-*`` headers its
        answer carries, or :class:`_RateLimited` if it is over a limit (then nothing is
        counted, as a refused request is not)."""
        windows = self._windows
        if windows is None:
            return {}
        now = time.monotonic()
        limits = windows.limits
        key = (route.method, route.template)
        window = limits.routes.get(key)
        major = next(
            (params[name] for name in ("channel_id", "guild_id", "app_id") if name in params), ""
        )
        bucket = (key, major)
        interaction = route.template.startswith(("/interactions/", "/webhooks/"))
        wait = windows.wait(bucket, window, now) if window is not None else 0.0
        if wait > 0:
            assert window is not None
            raise _RateLimited(
                wait,
                False,
                {**self._scope("user", wait), **self._bucket_headers(key, window, 0, wait)},
            )
        if limits.global_ is not None and not interaction:
            wait = windows.wait("global", limits.global_, now)
            if wait > 0:
                raise _RateLimited(
                    wait, True, {**self._scope("global", wait), "X-RateLimit-Global": "true"}
                )
            windows.count("global", limits.global_, now)
        if window is None:
            return {}
        remaining, reset_after = windows.count(bucket, window, now)
        return self._bucket_headers(key, window, remaining, reset_after)

    @staticmethod
    def _scope(scope: str, retry_after: float) -> dict[str, str]:
        """A 429's headers: the scope, whole seconds to wait, and the ``Via`` that tells
        discord.py the answer came from Discord and not from Cloudflare."""
        return {
            "X-RateLimit-Scope": scope,
            "Retry-After": str(max(1, math.ceil(retry_after))),
            "Via": "1.1 google",
        }

    def _bucket_headers(
        self, key: tuple[str, str], window: Window, remaining: int, reset_after: float
    ) -> dict[str, str]:
        bucket = self._bucket_ids.setdefault(key, secrets.token_hex(16))
        return {
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket,
        }

    def _match(self, method: str, path: str) -> tuple[_Route | None, dict[str, str]]:
        for route in self._routes:
            if route.method == method and (m := route.regex.match(path)):
                return route, m.groupdict()
        return None, {}

    async def _handle_unknown(self, request: web.Request) -> web.Response:
        self.unhandled.append(f"{request.method} {request.path}")
        log.warning("fakediscord: unhandled path %s %s", request.method, request.path)
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    async def _attachment(self, request: web.Request) -> web.Response:
        upload = self._attachments.get(int(request.match_info["attachment_id"]))
        if upload is None:
            return web.Response(status=404)
        return web.Response(body=upload.data, headers={"Content-Type": upload.guessed_content_type})

    # ----------------------------------------------------------------- lookups for handlers

    def _get_channel_or_404(self, channel_id: int) -> FakeChannel:
        channel = self.channels.get(channel_id) or self.threads.get(channel_id)
        if channel is None or channel.deleted:
            raise DiscordError.not_found(10003, "Channel")
        return channel

    def _get_guild_or_404(self, guild_id: int) -> FakeGuild:
        guild = self.guilds.get(guild_id)
        if guild is None:
            raise DiscordError.not_found(10004, "Guild")
        return guild

    def _get_message_or_404(self, channel: FakeChannel, message_id: int) -> FakeMessage:
        msg = self._messages_by_id.get(message_id)
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise DiscordError.not_found(10008, "Message")
        return msg

    def _bot_perms(self, channel: FakeChannel | None) -> int:
        if channel is not None and channel.guild_id is None:
            return Permission.ALL  # DM
        return self.permissions_for(self.bot, channel)

    def _require(self, channel: FakeChannel | None, *needed: int, any_of: bool = False) -> None:
        """Refuse like Discord if the bot lacks permissions (50001 if it cannot see)."""
        perms = self._bot_perms(channel)
        if channel is not None and not perms & Permission.VIEW_CHANNEL:
            raise DiscordError.missing_access()
        if (
            channel is not None
            and channel.is_private_thread
            and self.bot.id not in channel.thread_members
            and not perms & Permission.MANAGE_THREADS
        ):
            raise DiscordError.missing_access()
        ok = any(perms & n == n for n in needed) if any_of else all(perms & n == n for n in needed)
        if needed and not ok:
            raise DiscordError.missing_permissions()

    def _require_send(self, channel: FakeChannel, files: int) -> None:
        send = (
            Permission.SEND_MESSAGES_IN_THREADS if channel.is_thread else Permission.SEND_MESSAGES
        )
        needed = [send]
        if files:
            needed.append(Permission.ATTACH_FILES)
        self._require(channel, *needed)
        if channel.is_thread and channel.archived:
            if channel.locked:
                raise DiscordError(400, 50083, "Thread is archived")
            channel.archived = False

    # ----------------------------------------------------------------- message core

    def _build_attachments(
        self,
        channel_id: int,
        body: Mapping[str, Any],
        files: list[UploadedFile],
        existing: list[dict[str, Any]],
    ) -> list[dict[str, Any]]:
        by_index = {i: f for i, f in enumerate(files)}
        specs = body.get("attachments")
        result: list[dict[str, Any]] = []
        if specs is None:
            result = list(existing)
            specs = [{"id": i} for i in range(len(files))]
        existing_by_id = {int(a["id"]): a for a in existing}
        for spec in specs:
            sid = int(spec["id"])
            if sid in existing_by_id and sid not in by_index:
                result.append(existing_by_id[sid])
                continue
            upload = by_index.get(sid)
            if upload is None:
                raise DiscordError(400, 50035, "Invalid Form Body", {"attachments": {}})
            upload.attachment_id = self._snowflake()
            self._attachments[upload.attachment_id] = upload
            url = f"{self.url}/attachments/{channel_id}/{upload.attachment_id}/{upload.filename}"
            att = {
                "id": str(upload.attachment_id),
                "filename": spec.get("filename") or upload.filename,
                "size": len(upload.data),
                "url": url,
                "proxy_url": url,
                "content_type": upload.guessed_content_type,
            }
            if spec.get("description"):
                att["description"] = spec["description"]
            result.append(att)
        return result

    def _mentions(self, msg: FakeMessage) -> None:
        content = msg.content or ""
        allowed = msg.allowed_mentions
        msg.mentions = [
            self.users[int(uid)].payload()
            for uid in dict.fromkeys(_MENTION_USER.findall(content))
            if int(uid) in self.users
        ]
        guild = self.guilds.get(msg.guild_id) if msg.guild_id else None
        msg.mention_roles = [
            rid
            for rid in dict.fromkeys(_MENTION_ROLE.findall(content))
            if guild and int(rid) in guild.roles
        ]
        parse = (allowed or {}).get("parse", ["everyone"]) if allowed is not None else ["everyone"]
        msg.mention_everyone = "@everyone" in content and "everyone" in parse

    def _apply_body(self, msg: FakeMessage, body: Mapping[str, Any]) -> None:
        if "content" in body:
            msg.content = body["content"] or ""
        if "embeds" in body:
            msg.embeds = list(body["embeds"] or [])
        if "components" in body:
            msg.components = _clone(body["components"] or [])
            self._assign_component_ids(msg.components)
        if "allowed_mentions" in body:
            msg.allowed_mentions = body["allowed_mentions"]
        if "flags" in body and body["flags"] is not None:
            keep = msg.flags & (EPHEMERAL | LOADING)
            msg.flags = (int(body["flags"]) & ~LOADING) | keep
        if body.get("poll"):
            msg.poll = body["poll"]
        self._mentions(msg)

    @staticmethod
    def _assign_component_ids(components: list[dict[str, Any]]) -> None:
        """Discord numbers components that have no ``id`` (1, 2, 3... in tree order)."""
        used = {c["id"] for c in _walk_components(components) if c.get("id")}
        counter = 0
        for comp in _walk_components(components):
            if not comp.get("id"):
                counter += 1
                while counter in used:
                    counter += 1
                comp["id"] = counter

    async def _create_message(
        self,
        channel: FakeChannel,
        author: FakeUser,
        body: Mapping[str, Any],
        files: list[UploadedFile],
        *,
        interaction: InteractionRecord | None = None,
        message_type: int = 0,
        extra_flags: int = 0,
        validate: bool = True,
    ) -> FakeMessage:
        if validate:
            _validate_message_body(body, len(files), _FormErrors(), require_content=True)
        mid = self._snowflake()
        msg = FakeMessage(
            id=mid,
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            tts=bool(body.get("tts")),
            type=message_type,
            flags=extra_flags,
            timestamp=snowflake_time_iso(mid),
        )
        if body.get("message_reference"):
            ref = dict(body["message_reference"])
            ref.setdefault("channel_id", str(channel.id))
            if channel.guild_id:
                ref.setdefault("guild_id", str(channel.guild_id))
            msg.message_reference = ref
            if msg.type == 0:
                msg.type = 19
        self._apply_body(msg, body)
        msg.attachments = self._build_attachments(channel.id, body, files, [])
        msg.files = list(files)
        if interaction is not None:
            msg.webhook_id = self.application_id
            msg.application_id = self.application_id
            msg.interaction_id = interaction.id
            msg.interaction_metadata = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": interaction.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
            if interaction.type == 2:
                msg.interaction_metadata["name"] = interaction.payload["data"]["name"]
            if msg.type == 0 and interaction.type == 2:
                msg.type = 20
        self.messages[channel.id].append(msg)
        self._messages_by_id[msg.id] = msg
        if not msg.ephemeral:
            channel.last_message_id = msg.id
            if channel.is_thread:
                channel.message_count += 1
                channel.total_message_sent += 1
        self._notify()
        await self._dispatch_message("MESSAGE_CREATE", msg)
        return msg

    async def _update_message(
        self,
        msg: FakeMessage,
        body: Mapping[str, Any],
        files: list[UploadedFile],
        *,
        complete_loading: bool = False,
    ) -> FakeMessage:
        _validate_message_body(body, len(files), _FormErrors(), require_content=False)
        msg.edits.append(msg.payload())
        self._apply_body(msg, body)
        if "attachments" in body or files:
            msg.attachments = self._build_attachments(msg.channel_id, body, files, msg.attachments)
            msg.files.extend(files)
        if complete_loading:
            msg.flags &= ~LOADING
        msg.edited_timestamp = None if complete_loading else utcnow_iso()
        self._notify()
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        return msg

    # ----------------------------------------------------------------- handlers: users/app

    async def _get_me(self, req: _Req) -> Any:
        return {
            **self.bot.payload(),
            "verified": True,
            "mfa_enabled": False,
            "locale": "en-US",
            "email": None,
        }

    async def _get_user(self, req: _Req) -> Any:
        user = self.users.get(req.int_param("user_id"))
        if user is None:
            raise DiscordError.not_found(10013, "User")
        return user.payload()

    async def _create_dm(self, req: _Req) -> Any:
        uid = int(req.body().get("recipient_id", 0))
        user = self.users.get(uid)
        if user is None:
            raise DiscordError.not_found(10013, "User")
        for channel in self.channels.values():
            if channel.type == 1 and channel.recipient is user:
                return channel.payload()
        channel = FakeChannel(self._snowflake(), 1, "", None, recipient=user)
        self.channels[channel.id] = channel
        return channel.payload()

    async def _get_application(self, req: _Req) -> Any:
        return {
            "id": str(self.application_id),
            "name": self.bot.name,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot_public": False,
            "bot_require_code_grant": False,
            "verify_key": "0" * 64,
            "flags": 0,
            "owner": self.owner.payload(),
            "team": None,
            "bot": self.bot.payload(),
            "hook": True,
            "guild_id": None,
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "role_connections_verification_url": None,
            "tags": [],
            "install_params": None,
            "integration_types_config": {"0": {}},
            "custom_install_url": None,
            "approximate_guild_count": len(self.guilds),
            "approximate_user_install_count": 0,
            "event_webhooks_url": None,
            "event_webhooks_status": 1,
            "event_webhooks_types": [],
        }

    async def _get_gateway(self, req: _Req) -> Any:
        return {"url": self.gateway_url}

    async def _get_gateway_bot(self, req: _Req) -> Any:
        """The gateway with the recommended shard count and the session start limit."""
        return {
            "url": self.gateway_url,
            "shards": self.recommended_shards,
            "session_start_limit": {
                "total": self.session_start_total,
                "remaining": max(self.session_start_total - self.identify_count, 0),
                "reset_after": 24 * 60 * 60 * 1000 if self.identify_count else 0,
                "max_concurrency": self.max_concurrency,
            },
        }

    # ----------------------------------------------------------------- handlers: commands

    def _command_scope(self, req: _Req) -> int | None:
        if req.int_param("app_id") != self.application_id:
            raise DiscordError(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        if "guild_id" in req.params:
            self._get_guild_or_404(req.int_param("guild_id"))
            return req.int_param("guild_id")
        return None

    def _validate_command(self, cmd: Mapping[str, Any], errors: _FormErrors) -> None:
        kind = cmd.get("type", 1)
        name = cmd.get("name", "")
        if kind == 1:
            if not _COMMAND_NAME.match(name) or name != name.lower():
                errors.add(["name"], "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            if not 1 <= len(cmd.get("description") or "") <= 100:
                errors.add(
                    ["description"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
                )
        elif not 1 <= len(name) <= 32:
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
        self._validate_command_options(cmd.get("options") or [], errors, ["options"])

    def _validate_command_options(
        self, options: list[Mapping[str, Any]], errors: _FormErrors, path: list[str | int]
    ) -> None:
        if len(options) > 25:
            errors.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        names: set[str] = set()
        seen_optional = False
        for i, opt in enumerate(options):
            name = opt.get("name", "")
            if not _COMMAND_NAME.match(name) or name != name.lower():
                errors.add([*path, i, "name"], "APPLICATION_COMMAND_INVALID_NAME", "Invalid name")
            if name in names:
                errors.add(
                    [*path, i, "name"],
                    "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                    "Duplicate name",
                )
            names.add(name)
            if not 1 <= len(opt.get("description") or "") <= 100:
                errors.add(
                    [*path, i, "description"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 100 in length.",
                )
            if len(opt.get("choices") or []) > 25:
                errors.add(
                    [*path, i, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            if opt.get("type") in (1, 2):
                self._validate_command_options(
                    opt.get("options") or [], errors, [*path, i, "options"]
                )
            elif opt.get("required"):
                if seen_optional:
                    errors.add(
                        [*path, i, "required"],
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True

    def _store_command(self, scope: int | None, cmd: Mapping[str, Any]) -> dict[str, Any]:
        kind = cmd.get("type", 1)
        key = (scope, cmd["name"], kind)
        if key not in self._command_ids:
            self._command_ids[key] = self._snowflake()
        stored = {
            "default_member_permissions": None,
            "contexts": None,
            "integration_types": [0],
            "nsfw": False,
            "description": "",
            "options": [],
            **_clone(dict(cmd)),
            "id": str(self._command_ids[key]),
            "application_id": str(self.application_id),
            "type": kind,
            "version": str(self._snowflake()),
        }
        if scope is not None:
            stored["guild_id"] = str(scope)
        else:
            stored.setdefault("dm_permission", True)
        return stored

    def _record_sync(self) -> None:
        self.sync_count += 1
        self._sync_identify.append(self.identify_count)

    async def _get_commands(self, req: _Req) -> Any:
        return self.synced_commands.get(self._command_scope(req), [])

    async def _put_commands(self, req: _Req) -> Any:
        scope = self._command_scope(req)
        commands = req.json if isinstance(req.json, list) else []
        errors = _FormErrors()
        for i, cmd in enumerate(commands):
            sub = _FormErrors([i])
            self._validate_command(cmd, sub)
            errors.errors.update(sub.errors)
        errors.raise_if_any()
        self.synced_commands[scope] = [self._store_command(scope, c) for c in commands]
        self._record_sync()
        return self.synced_commands[scope]

    async def _post_command(self, req: _Req) -> Any:
        scope = self._command_scope(req)
        errors = _FormErrors()
        self._validate_command(req.body(), errors)
        errors.raise_if_any()
        stored = self._store_command(scope, req.body())
        existing = [c for c in self.synced_commands.get(scope, []) if c["id"] != stored["id"]]
        self.synced_commands[scope] = [*existing, stored]
        self._record_sync()
        return stored

    async def _get_command(self, req: _Req) -> Any:
        scope = self._command_scope(req)
        for cmd in self.synced_commands.get(scope, []):
            if cmd["id"] == req.params["command_id"]:
                return cmd
        raise DiscordError.not_found(10063, "application command")

    async def _delete_command(self, req: _Req) -> Any:
        scope = self._command_scope(req)
        before = self.synced_commands.get(scope, [])
        after = [c for c in before if c["id"] != req.params["command_id"]]
        if len(after) == len(before):
            raise DiscordError.not_found(10063, "application command")
        self.synced_commands[scope] = after
        return None

    # ----------------------------------------------------------------- handlers: interactions

    def _interaction_by_token(self, token: str, *, acknowledged: bool) -> InteractionRecord:
        rec = self._tokens.get(token)
        if rec is None or time.monotonic() - rec.created_monotonic > self.interaction_token_ttl:
            raise DiscordError.not_found(10015, "Webhook")
        if acknowledged and not rec.acknowledged:
            raise DiscordError.not_found(10015, "Webhook")
        return rec

    async def _callback(self, req: _Req) -> Any:
        rec = self.interaction_responses.get(req.int_param("interaction_id"))
        body = req.body()
        cb_type = int(body.get("type", 0))
        if rec is None or rec.token != req.params["token"]:
            raise DiscordError.not_found(10062, "interaction")
        try:
            result = await self._do_callback(rec, cb_type, body, req.files)
        except DiscordError as exc:
            rec.attempts.append((cb_type, exc.status))
            raise
        rec.attempts.append((cb_type, 200))
        return result

    async def _do_callback(
        self, rec: InteractionRecord, cb_type: int, body: dict[str, Any], files: list[UploadedFile]
    ) -> Any:
        if rec.acknowledged:
            raise DiscordError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - rec.created_monotonic > self.interaction_deadline:
            raise DiscordError.not_found(10062, "interaction")
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}.get(rec.type, set())
        if cb_type not in allowed:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "type": {
                        "_errors": [
                            {
                                "code": "INTERACTION_RESPONSE_TYPE_INVALID",
                                "message": f"Invalid interaction response type {cb_type}",
                            }
                        ]
                    }
                },
            )
        data: dict[str, Any] = body.get("data") or {}
        errors = _FormErrors(["data"])
        channel = self.channel(rec.channel_id) if rec.channel_id else self.general
        resource_msg: FakeMessage | None = None
        if cb_type == 4:
            _validate_message_body(data, len(files), errors, require_content=True)
            resource_msg = await self._create_message(
                channel,
                self.bot,
                data,
                files,
                interaction=rec,
                extra_flags=int(data.get("flags") or 0) & EPHEMERAL,
                validate=False,
            )
            rec.original_message_id = resource_msg.id
        elif cb_type == 5:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            resource_msg = await self._create_message(
                channel,
                self.bot,
                {"content": ""},
                [],
                interaction=rec,
                extra_flags=flags,
                validate=False,
            )
            rec.original_message_id = resource_msg.id
        elif cb_type in (6, 7):
            if rec.message_id is None:
                raise DiscordError(400, 40004, "Interaction has no message to update")
            rec.original_message_id = rec.message_id
            if cb_type == 7:
                _validate_message_body(data, len(files), errors, require_content=False)
                resource_msg = await self._update_message(self.message(rec.message_id), data, files)
        elif cb_type == 8:
            choices = data.get("choices") or []
            if len(choices) > 25:
                errors.add(["choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            for i, choice in enumerate(choices):
                if not 1 <= len(choice.get("name") or "") <= 100:
                    errors.add(
                        ["choices", i, "name"],
                        "BASE_TYPE_BAD_LENGTH",
                        "Must be between 1 and 100 in length.",
                    )
            errors.raise_if_any()
        elif cb_type == 9:
            errors.max_len(["title"], data.get("title"), 45)
            errors.max_len(["custom_id"], data.get("custom_id"), 100)
            if not 1 <= len(data.get("components") or []) <= 5:
                errors.add(
                    ["components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
                )
            errors.raise_if_any()
        rec.callback_type = cb_type
        rec.callback_data = data
        rec.callback_files = list(files)
        self._notify()

        interaction_info: dict[str, Any] = {
            "id": str(rec.id),
            "type": rec.type,
            "response_message_loading": cb_type == 5,
            "response_message_ephemeral": bool(resource_msg and resource_msg.ephemeral),
        }
        if rec.original_message_id is not None and cb_type in (4, 5, 7):
            interaction_info["response_message_id"] = str(rec.original_message_id)
        resource: dict[str, Any] = {"type": cb_type}
        if resource_msg is not None:
            resource["message"] = resource_msg.payload()
        return {"interaction": interaction_info, "resource": resource}

    async def _followup(self, req: _Req) -> Any:
        if req.int_param("app_id") != self.application_id:
            raise DiscordError.not_found(10015, "Webhook")
        rec = self._interaction_by_token(req.params["token"], acknowledged=True)
        body = req.body()
        channel = self.channel(rec.channel_id) if rec.channel_id else self.general
        original = (
            self._messages_by_id.get(rec.original_message_id) if rec.original_message_id else None
        )
        if rec.callback_type == 5 and original is not None and original.loading:
            # The first follow-up after a deferred response completes the "thinking" message.
            msg = await self._update_message(original, body, req.files, complete_loading=True)
        else:
            msg = await self._create_message(
                channel,
                self.bot,
                body,
                req.files,
                interaction=rec,
                extra_flags=int(body.get("flags") or 0) & EPHEMERAL,
            )
        rec.followups.append(msg)
        self._notify()
        if req.query.get("wait", "false").lower() in ("1", "true"):
            return msg.payload()
        return None

    def _webhook_message(self, req: _Req) -> tuple[InteractionRecord, FakeMessage]:
        if req.int_param("app_id") != self.application_id:
            raise DiscordError.not_found(10015, "Webhook")
        rec = self._interaction_by_token(req.params["token"], acknowledged=True)
        mid_param = req.params["message_id"]
        if mid_param == "@original":
            mid = rec.original_message_id
        else:
            mid = int(mid_param)
            owned = {m.id for m in rec.followups} | {rec.original_message_id}
            if mid not in owned:
                mid = None
        msg = self._messages_by_id.get(mid) if mid is not None else None
        if msg is None or msg.deleted:
            raise DiscordError.not_found(10008, "Message")
        return rec, msg

    async def _get_webhook_message(self, req: _Req) -> Any:
        return self._webhook_message(req)[1].payload()

    async def _edit_webhook_message(self, req: _Req) -> Any:
        rec, msg = self._webhook_message(req)
        complete = msg.loading and msg.id == rec.original_message_id
        msg = await self._update_message(msg, req.body(), req.files, complete_loading=complete)
        return msg.payload()

    async def _delete_webhook_message(self, req: _Req) -> Any:
        _, msg = self._webhook_message(req)
        await self._mark_deleted(msg)
        return None

    async def _mark_deleted(self, msg: FakeMessage) -> None:
        msg.deleted = True
        self._notify()
        if msg.ephemeral:
            return
        data: dict[str, Any] = {"id": str(msg.id), "channel_id": str(msg.channel_id)}
        intent = GatewayIntent.DIRECT_MESSAGES
        if msg.guild_id is not None:
            data["guild_id"] = str(msg.guild_id)
            intent = GatewayIntent.GUILD_MESSAGES
        await self._dispatch("MESSAGE_DELETE", data, intent=intent)

    # ----------------------------------------------------------------- handlers: channels

    async def _get_channel(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        self._require(channel)
        return channel.payload()

    async def _dispatch_channel(self, event: str, channel: FakeChannel) -> None:
        if channel.guild_id is None:
            return
        prefix = "THREAD" if channel.is_thread else "CHANNEL"
        data = channel.payload()
        if channel.is_thread and self.bot.id in channel.thread_members:
            data["member"] = channel.thread_member_payload(self.bot.id)
        await self._dispatch(f"{prefix}_{event}", data, intent=GatewayIntent.GUILDS)

    async def _edit_channel(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        body = req.body()
        errors = _FormErrors()
        if "name" in body and not 1 <= len(body["name"] or "") <= 100:
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        errors.max_len(["topic"], body.get("topic"), 1024)
        errors.raise_if_any()
        if channel.is_thread:
            if channel.owner_id != self.bot.id or "locked" in body:
                self._require(channel, Permission.MANAGE_THREADS)
            for key in (
                "name",
                "archived",
                "locked",
                "invitable",
                "auto_archive_duration",
                "rate_limit_per_user",
            ):
                if key in body:
                    setattr(channel, key, body[key])
            if "archived" in body:
                channel.archive_timestamp = utcnow_iso()
        else:
            self._require(channel, Permission.MANAGE_CHANNELS)
            if "permission_overwrites" in body:
                self._require(channel, Permission.MANAGE_ROLES)
                channel.permission_overwrites = [
                    _normalize_overwrite(ow) for ow in body["permission_overwrites"] or []
                ]
            if "name" in body:
                channel.name = _normalize_channel_name(body["name"], channel.type)
            for key in ("topic", "position", "parent_id", "nsfw", "rate_limit_per_user"):
                if key in body:
                    value = body[key]
                    setattr(channel, key, int(value) if key == "parent_id" and value else value)
        await self._dispatch_channel("UPDATE", channel)
        self._notify()
        return channel.payload()

    async def _delete_channel(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        if channel.is_thread:
            self._require(channel, Permission.MANAGE_THREADS)
        else:
            self._require(channel, Permission.MANAGE_CHANNELS)
        channel.deleted = True
        for thread in self.threads.values():
            if thread.parent_id == channel.id:
                thread.deleted = True
        await self._dispatch_channel("DELETE", channel)
        self._notify()
        return channel.payload()

    async def _typing(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        self._require(channel)
        return None

    async def _get_messages(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        self._require(channel, Permission.READ_MESSAGE_HISTORY)
        limit = min(int(req.query.get("limit", 50)), 100)
        msgs = self.channel_messages(channel)
        if "before" in req.query:
            msgs = [m for m in msgs if m.id < int(req.query["before"])]
        if "after" in req.query:
            msgs = [m for m in msgs if m.id > int(req.query["after"])][:limit]
        if "around" in req.query:
            around = int(req.query["around"])
            older = [m for m in msgs if m.id <= around][-(limit // 2 + 1) :]
            newer = [m for m in msgs if m.id > around][: limit - len(older)]
            msgs = older + newer
        return [m.payload() for m in reversed(msgs[-limit:])]

    async def _get_message(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        self._require(channel, Permission.READ_MESSAGE_HISTORY)
        return self._get_message_or_404(channel, req.int_param("message_id")).payload()

    async def _post_message(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        body = req.body()
        self._require_send(channel, len(req.files))
        msg = await self._create_message(channel, self.bot, body, req.files)
        return msg.payload()

    async def _edit_message(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        msg = self._get_message_or_404(channel, req.int_param("message_id"))
        self._require(channel)
        body = req.body()
        if msg.author.id != self.bot.id and set(body) - {"flags"}:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        msg = await self._update_message(msg, body, req.files)
        return msg.payload()

    async def _delete_message(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        msg = self._get_message_or_404(channel, req.int_param("message_id"))
        if msg.author.id != self.bot.id:
            self._require(channel, Permission.MANAGE_MESSAGES)
        await self._mark_deleted(msg)
        return None

    async def _get_pins(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        self._require(channel, Permission.READ_MESSAGE_HISTORY)
        pinned = [m for m in reversed(self.channel_messages(channel)) if m.pinned]
        if req.record.route and req.record.route.endswith("/messages/pins"):
            return {
                "items": [
                    {"pinned_at": m.edited_timestamp or m.timestamp, "message": m.payload()}
                    for m in pinned
                ],
                "has_more": False,
            }
        return [m.payload() for m in pinned]

    async def _pin(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        msg = self._get_message_or_404(channel, req.int_param("message_id"))
        self._require(channel, Permission.PIN_MESSAGES, Permission.MANAGE_MESSAGES, any_of=True)
        if msg.pinned:
            return None
        msg.pinned = True
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        await self._create_message(
            channel,
            self.bot,
            {"content": ""},
            [],
            message_type=6,
            validate=False,
        )
        pins_update = {"channel_id": str(channel.id), "last_pin_timestamp": utcnow_iso()}
        if channel.guild_id:
            pins_update["guild_id"] = str(channel.guild_id)
        await self._dispatch("CHANNEL_PINS_UPDATE", pins_update, intent=GatewayIntent.GUILDS)
        self._notify()
        return None

    async def _unpin(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        msg = self._get_message_or_404(channel, req.int_param("message_id"))
        self._require(channel, Permission.PIN_MESSAGES, Permission.MANAGE_MESSAGES, any_of=True)
        msg.pinned = False
        await self._dispatch_message("MESSAGE_UPDATE", msg)
        self._notify()
        return None

    async def _add_reaction(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        msg = self._get_message_or_404(channel, req.int_param("message_id"))
        self._require(channel, Permission.READ_MESSAGE_HISTORY, Permission.ADD_REACTIONS)
        emoji = yarl.URL.build(path="/" + req.params["emoji"], encoded=True).path[1:]
        msg.reactions.setdefault(emoji, set()).add(self.bot.id)
        self._notify()
        return None

    async def _remove_reaction(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        msg = self._get_message_or_404(channel, req.int_param("message_id"))
        emoji = yarl.URL.build(path="/" + req.params["emoji"], encoded=True).path[1:]
        msg.reactions.get(emoji, set()).discard(self.bot.id)
        self._notify()
        return None

    async def _put_overwrite(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        if channel.is_thread:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        self._require(channel, Permission.MANAGE_ROLES)
        body = {**req.body(), "id": req.params["target_id"]}
        overwrite = _normalize_overwrite(body)
        channel.permission_overwrites = [
            ow for ow in channel.permission_overwrites if ow["id"] != overwrite["id"]
        ] + [overwrite]
        await self._dispatch_channel("UPDATE", channel)
        self._notify()
        return None

    async def _delete_overwrite(self, req: _Req) -> Any:
        channel = self._get_channel_or_404(req.int_param("channel_id"))
        self._require(channel, Permission.MANAGE_ROLES)
        channel.permission_overwrites = [
            ow for ow in channel.permission_overwrites if ow["id"] != req.params["target_id"]
        ]
        await self._dispatch_channel("UPDATE", channel)
        self._notify()
        return None

    async def _create_thread(self, req: _Req) -> Any:
        parent = self._get_channel_or_404(req.int_param("channel_id"))
        if parent.type not in (0, 5) or parent.is_thread:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        body = req.body()
        from_message = "message_id" in req.params
        if from_message:
            source = self._get_message_or_404(parent, req.int_param("message_id"))
            if source.thread_id is not None:
                raise DiscordError(
                    400, 160004, "A thread has already been created for this message"
                )
            kind = 11 if parent.type == 0 else 10
            thread_id = source.id
        else:
            kind = int(body.get("type") or 12)
            if kind not in (10, 11, 12):
                raise DiscordError(400, 50035, "Invalid Form Body", {"type": {}})
            thread_id = self._snowflake()
        needed = (
            Permission.CREATE_PRIVATE_THREADS if kind == 12 else Permission.CREATE_PUBLIC_THREADS
        )
        self._require(parent, needed)
        errors = _FormErrors()
        if not 1 <= len(body.get("name") or "") <= 100:
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if body.get("auto_archive_duration", 1440) not in (60, 1440, 4320, 10080):
            errors.add(
                ["auto_archive_duration"],
                "BASE_TYPE_CHOICES",
                "Value must be one of {60, 1440, 4320, 10080}.",
            )
        errors.raise_if_any()
        now = utcnow_iso()
        thread = FakeChannel(
            thread_id,
            kind,
            body["name"],
            parent.guild_id,
            parent_id=parent.id,
            owner_id=self.bot.id,
            auto_archive_duration=int(body.get("auto_archive_duration", 1440)),
            invitable=bool(body.get("invitable", True)),
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
            archive_timestamp=now,
            create_timestamp=now,
        )
        thread.thread_members[self.bot.id] = now
        self.threads[thread.id] = thread
        if from_message:
            source.thread_id = thread.id
        data = {
            **thread.payload(),
            "newly_created": True,
            "member": thread.thread_member_payload(self.bot.id),
        }
        await self._dispatch("THREAD_CREATE", data, intent=GatewayIntent.GUILDS)
        self._notify()
        return thread.payload()

    def _thread_or_404(self, req: _Req) -> FakeChannel:
        thread = self._get_channel_or_404(req.int_param("channel_id"))
        if not thread.is_thread:
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        return thread

    def _thread_user(self, req: _Req) -> int:
        raw = req.params["user_id"]
        uid = self.bot.id if raw == "@me" else int(raw) if raw.isdigit() else 0
        if uid not in self.users:
            raise DiscordError.not_found(10013, "User")
        return uid

    async def _get_thread_members(self, req: _Req) -> Any:
        thread = self._thread_or_404(req)
        self._require(thread)
        return [thread.thread_member_payload(uid) for uid in thread.thread_members]

    async def _get_thread_member(self, req: _Req) -> Any:
        thread = self._thread_or_404(req)
        uid = self._thread_user(req)
        if uid not in thread.thread_members:
            raise DiscordError.not_found(10007, "Member")
        return thread.thread_member_payload(uid)

    async def _add_thread_member(self, req: _Req) -> Any:
        thread = self._thread_or_404(req)
        uid = self._thread_user(req)
        if uid != self.bot.id:
            self._require(thread, Permission.SEND_MESSAGES_IN_THREADS)
            if thread.is_private_thread and not thread.invitable and thread.owner_id != self.bot.id:
                self._require(thread, Permission.MANAGE_THREADS)
        elif thread.is_private_thread:
            self._require(thread)
        if thread.archived:
            if thread.locked:
                raise DiscordError(400, 50083, "Thread is archived")
            thread.archived = False
        if uid in thread.thread_members:
            return None
        thread.thread_members[uid] = utcnow_iso()
        await self._thread_members_update(thread, added=[uid])
        return None

    async def _remove_thread_member(self, req: _Req) -> Any:
        thread = self._thread_or_404(req)
        uid = self._thread_user(req)
        if uid != self.bot.id and thread.owner_id != self.bot.id:
            self._require(thread, Permission.MANAGE_THREADS)
        if thread.thread_members.pop(uid, None) is not None:
            await self._thread_members_update(thread, removed=[uid])
        return None

    async def _thread_members_update(
        self, thread: FakeChannel, added: Sequence[int] = (), removed: Sequence[int] = ()
    ) -> None:
        guild = self.guilds[thread.guild_id] if thread.guild_id else self.guild
        added_payload = []
        for uid in added:
            entry = thread.thread_member_payload(uid)
            if uid in guild.members:
                entry["member"] = guild.members[uid].payload()
            entry["presence"] = None
            added_payload.append(entry)
        data: dict[str, Any] = {
            "id": str(thread.id),
            "guild_id": str(thread.guild_id),
            "member_count": len(thread.thread_members),
        }
        if added_payload:
            data["added_members"] = added_payload
        if removed:
            data["removed_member_ids"] = [str(u) for u in removed]
        self._notify()
        await self._dispatch("THREAD_MEMBERS_UPDATE", data, intent=GatewayIntent.GUILDS)

    # ----------------------------------------------------------------- handlers: guilds

    async def _get_guild(self, req: _Req) -> Any:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        data = guild.payload()
        if req.query.get("with_counts") in ("true", "1"):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return data

    async def _get_guild_channels(self, req: _Req) -> Any:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        return [
            c.payload() for c in self.channels.values() if c.guild_id == guild.id and not c.deleted
        ]

    async def _create_channel(self, req: _Req) -> Any:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        self._require(None, Permission.MANAGE_CHANNELS)
        body = req.body()
        kind = int(body.get("type") or 0)
        errors = _FormErrors()
        if not 1 <= len(body.get("name") or "") <= 100:
            errors.add(["name"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        errors.max_len(["topic"], body.get("topic"), 1024)
        if kind not in (0, 2, 4, 5, 13, 15, 16):
            errors.add(["type"], "BASE_TYPE_CHOICES", "Value must be a valid channel type.")
        parent_id = int(body["parent_id"]) if body.get("parent_id") else None
        if parent_id is not None:
            parent = self.channels.get(parent_id)
            if parent is None or parent.type != 4 or parent.guild_id != guild.id:
                errors.add(["parent_id"], "CHANNEL_PARENT_INVALID", "Invalid parent channel.")
        overwrites = [_normalize_overwrite(ow) for ow in body.get("permission_overwrites") or []]
        errors.raise_if_any()
        if overwrites:
            self._require(None, Permission.MANAGE_ROLES)
        channel = FakeChannel(
            self._snowflake(),
            kind,
            _normalize_channel_name(body["name"], kind),
            guild.id,
            position=int(body.get("position") or 0),
            parent_id=parent_id,
            topic=body.get("topic"),
            nsfw=bool(body.get("nsfw")),
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
            permission_overwrites=overwrites,
        )
        self.channels[channel.id] = channel
        await self._dispatch_channel("CREATE", channel)
        self._notify()
        return channel.payload()

    async def _get_active_threads(self, req: _Req) -> Any:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        threads = [
            t
            for t in self.threads.values()
            if t.guild_id == guild.id and not t.deleted and not t.archived
        ]
        return {
            "threads": [t.payload() for t in threads],
            "members": [
                t.thread_member_payload(self.bot.id)
                for t in threads
                if self.bot.id in t.thread_members
            ],
        }

    async def _get_members(self, req: _Req) -> Any:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        after = int(req.query.get("after", 0))
        limit = min(int(req.query.get("limit", 1)), 1000)
        members = sorted(
            (m for m in guild.members.values() if m.user.id > after), key=lambda m: m.user.id
        )
        return [m.payload() for m in members[:limit]]

    async def _get_member(self, req: _Req) -> Any:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        member = guild.members.get(req.int_param("user_id"))
        if member is None:
            raise DiscordError.not_found(10007, "Member")
        return member.payload()

    async def _get_roles(self, req: _Req) -> Any:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        return [r.payload() for r in guild.roles.values()]

    async def _create_role(self, req: _Req) -> Any:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        self._require(None, Permission.MANAGE_ROLES)
        body = req.body()
        perms = int(body.get("permissions") or 0)
        if perms & ~self._bot_perms(None):
            raise DiscordError.missing_permissions()
        role = self.add_role(
            body.get("name") or "new role",
            permissions=perms,
            guild=guild,
            mentionable=bool(body.get("mentionable")),
        )
        role.color = int(body.get("color") or 0)
        role.hoist = bool(body.get("hoist"))
        await self._dispatch(
            "GUILD_ROLE_CREATE",
            {"guild_id": str(guild.id), "role": role.payload()},
            intent=GatewayIntent.GUILDS,
        )
        self._notify()
        return role.payload()

    def _member_role_target(self, req: _Req) -> tuple[FakeGuild, FakeMember, FakeRole]:
        guild = self._get_guild_or_404(req.int_param("guild_id"))
        member = guild.members.get(req.int_param("user_id"))
        if member is None:
            raise DiscordError.not_found(10007, "Member")
        role = guild.roles.get(req.int_param("role_id"))
        if role is None:
            raise DiscordError.not_found(10011, "Role")
        self._require(None, Permission.MANAGE_ROLES)
        bot_top = max(guild.roles[r].position for r in guild.members[self.bot.id].roles)
        if role.position >= bot_top or role.managed or role.id == guild.id:
            raise DiscordError.missing_permissions()
        return guild, member, role

    async def _member_update(self, guild: FakeGuild, member: FakeMember) -> None:
        self._notify()
        await self._dispatch(
            "GUILD_MEMBER_UPDATE",
            {**member.payload(), "guild_id": str(guild.id)},
            intent=GatewayIntent.GUILD_MEMBERS,
        )

    async def _add_member_role(self, req: _Req) -> Any:
        guild, member, role = self._member_role_target(req)
        if role.id not in member.roles:
            member.roles.append(role.id)
            await self._member_update(guild, member)
        return None

    async def _remove_member_role(self, req: _Req) -> Any:
        guild, member, role = self._member_role_target(req)
        if role.id in member.roles:
            member.roles.remove(role.id)
            await self._member_update(guild, member)
        return None


def _walk_options(options: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for opt in options:
        yield opt
        yield from _walk_options(opt.get("options") or [])


def _normalize_overwrite(ow: Mapping[str, Any]) -> dict[str, Any]:
    """Store an overwrite the way Discord returns it (string ids and bitfields)."""
    return {
        "id": str(ow["id"]),
        "type": int(ow.get("type", 0)),
        "allow": str(int(ow.get("allow") or 0)),
        "deny": str(int(ow.get("deny") or 0)),
    }


def _normalize_channel_name(name: str, kind: int) -> str:
    """Discord lower-cases text channel names and replaces spaces with dashes."""
    if kind in (0, 5, 15, 16):
        return re.sub(r"\s+", "-", name.strip()).lower()
    return name
