"""The bot's invite link."""

from __future__ import annotations

import base64
import binascii

import discord

from bot.settings import Settings


def permissions() -> discord.Permissions:
    """What Parley needs in a server, and why.

    View Channels, Send Messages, Embed Links, Read Message History (the table channel);
    Manage Channels and Manage Roles (caucus rooms with permission overwrites);
    Manage Messages (pin the status message); Attach Files (exports); Create Private
    Threads and Send Messages in Threads (``/practice`` tables).
    """
    return discord.Permissions(
        view_channel=True,
        send_messages=True,
        embed_links=True,
        attach_files=True,
        read_message_history=True,
        manage_channels=True,
        manage_roles=True,
        manage_messages=True,
        send_messages_in_threads=True,
        create_private_threads=True,
    )


def application_id(token: str) -> int:
    """The application id a bot token carries in its first part."""
    first = token.split(".", 1)[0]
    try:
        return int(base64.b64decode(first + "=" * (-len(first) % 4)).decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("DISCORD_TOKEN does not look like a bot token") from None


def invite_url(settings: Settings, client_id: int | None = None) -> str:
    """The OAuth2 link that adds Parley to a server with its scopes and permissions."""
    if client_id is None:
        if settings.discord_token is None:
            raise ValueError("give --client-id (the application id) or set DISCORD_TOKEN")
        client_id = application_id(settings.discord_token.get_secret_value())
    return discord.utils.oauth_url(
        client_id, permissions=permissions(), scopes=("bot", "applications.commands")
    )
