"""Which servers a process looks after when the bot runs as several shard processes.

Discord splits a bot's servers into ``shard_count`` shards by a fixed rule, and sends each
server's events (interactions included) only to the connection of its shard. A process
runs some of the shards (``PARLEY_SHARD_IDS``), so it also runs the clocks and seated
counterparts of those servers' tables only; the log is shared by all of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.settings import Settings


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard of a server, by Discord's rule ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class Shards:
    """The shards one process runs, out of ``count``."""

    count: int
    ids: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.count < 1 or not self.ids or not all(0 <= i < self.count for i in self.ids):
            raise ValueError(f"shards {self.ids} do not fit a count of {self.count}")

    @classmethod
    def of(cls, count: int, ids: Iterable[int] | None = None) -> Shards:
        """Shards ``ids`` of ``count`` (every shard when ``ids`` is None)."""
        return cls(count, tuple(sorted(set(range(count) if ids is None else ids))))

    @classmethod
    def from_settings(cls, settings: Settings) -> Shards | None:
        """The shards ``PARLEY_SHARD_COUNT`` and ``PARLEY_SHARD_IDS`` ask for (None: unsharded)."""
        if settings.shard_count is None:
            return None
        return cls.of(settings.shard_count, settings.shard_ids)

    def runs(self, guild_id: str | None) -> bool:
        """Whether this process looks after a server's tables (a table row's ``guild_id``).

        Tables outside any server (direct messages, ``parley play``) belong to shard 0, as
        direct messages do on Discord.
        """
        shard = 0
        if guild_id is not None and guild_id.isdigit():
            shard = shard_of(int(guild_id), self.count)
        return shard in self.ids

    def describe(self) -> str:
        """``shards 0, 1 of 4``, for the log."""
        which = ", ".join(map(str, self.ids))
        return f"shard{'s' if len(self.ids) > 1 else ''} {which} of {self.count}"
