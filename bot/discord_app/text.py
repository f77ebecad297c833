"""Text for Discord: limits, splitting, neutralising mentions, timestamps.

Pure functions (no discord import), so they are tested without a client.
"""

from __future__ import annotations

import re
from datetime import datetime

MESSAGE_LIMIT = 2000
EMBED_DESCRIPTION_LIMIT = 4096
EMBED_FIELD_LIMIT = 1024
SELECT_OPTIONS_LIMIT = 25
AUTOCOMPLETE_LIMIT = 25
CHOICE_NAME_LIMIT = 100
CHOICE_VALUE_LIMIT = 100

_MASS_MENTION = re.compile(r"@(everyone|here)")


def defang(text: str) -> str:
    """Keep user text from pinging even if mentions were ever allowed.

    A zero-width space after ``@`` in ``@everyone``/``@here`` shows the same words and
    pings nobody. User and role mentions are left for Discord to render; the client's
    ``allowed_mentions`` stops them from pinging.
    """
    return _MASS_MENTION.sub("@\u200b\\1", text)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split text into chunks Discord accepts, at paragraph, line or word breaks.

    Nothing is lost: joining the chunks (with the breaks they were split at) gives the
    text back. A code fence open across a split is closed and reopened.
    """
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), 0)
        if cut < limit // 2:
            cut = window.rfind("\n")
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut <= 0:
            cut = limit
        chunk, rest = rest[:cut], rest[cut:]
        if chunk.count("```") % 2 == 1 and len(chunk) + 4 <= limit:
            chunk += "\n```"
            rest = "```\n" + rest
        chunks.append(chunk.rstrip("\n") or chunk)
        rest = rest.lstrip("\n") if rest.startswith("\n") else rest.lstrip(" ")
    if rest:
        chunks.append(rest)
    return chunks


def clip(text: str, limit: int) -> str:
    """Cut text to ``limit`` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def timestamp(when: datetime, style: str = "R") -> str:
    """A Discord timestamp (``<t:...:R>`` shows "in 5 minutes" in each reader's zone)."""
    return f"<t:{int(when.timestamp())}:{style}>"


def mention(user_id: str) -> str:
    """A user mention; nothing for an id that is not a Discord user's (a counterpart's
    ``counterpart:dprk``, a ``parley play`` name)."""
    return f"<@{user_id}>" if user_id.isdigit() else ""
