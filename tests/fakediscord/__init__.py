"""A fake Discord (REST API v10 + gateway) for end-to-end tests of the bot.

See README.md in this directory.
"""

from .server import (
    API_VERSION,
    DiscordError,
    FakeChannel,
    FakeDiscord,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
    GatewayIntent,
    InteractionRecord,
    Permission,
    RateLimits,
    RecordedRequest,
    UploadedFile,
    Window,
    point_discord_at,
)

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
