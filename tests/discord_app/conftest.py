"""Fixtures: the fake Discord on loopback and the real Parley client connected to it."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import paths
from bot.discord_app.app import ParleyBot, point_at
from bot.scenarios import ScenarioLibrary
from bot.settings import Settings
from tests.fakediscord import FakeChannel, FakeDiscord, FakeMessage, FakeUser, InteractionRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"

#: Where every test's clock starts (any aware UTC time will do; a fixed one repeats).
CLOCK_START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class ManualClock:
    """The bot's time in a test: it stands still until the test moves it.

    Passed to ``ParleyBot`` as ``now``. Move it with :meth:`advance`, then
    ``bot.clock.poke()`` so the bot's clock looks again at once, and wait for the message
    that proves it acted: no turn ever takes real seconds.
    """

    def __init__(self, start: datetime = CLOCK_START) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at

    def advance(self, minutes: float) -> datetime:
        """Move the time on by ``minutes``; return the new time."""
        self.at += timedelta(minutes=minutes)
        return self.at


def move_clock(bot: ParleyBot, clock: ManualClock, minutes: float) -> None:
    """Move the time on and wake the bot's clock so it acts on what is now due."""
    clock.advance(minutes)
    bot.clock.poke()


def hanoi_library(tmp_path: Path, **rules: Any) -> ScenarioLibrary:
    """A library with a copy of the Hanoi scenario, some of its ``[rules]`` changed.

    ``hanoi_library(tmp_path, max_rounds=1, record_caucus=True)``; prompts are the shipped
    ones.
    """
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    text = (paths.RULES_DIR / "hanoi-2019.toml").read_text(encoding="utf-8")
    for key, value in rules.items():
        literal = str(value).lower() if isinstance(value, bool) else repr(value)
        # the first line of a key is the one under [rules] (variants come after it)
        text, found = re.subn(rf"^{key} = .*$", f"{key} = {literal}", text, count=1, flags=re.M)
        assert found == 1, f"no rule {key!r} in hanoi-2019.toml"
    (folder / "hanoi-2019.toml").write_text(text, encoding="utf-8")
    return ScenarioLibrary(folder, paths.PROMPTS_DIR)


def settings_for(fake: FakeDiscord, db: Path, **extra: Any) -> Settings:
    """Settings that point the bot at the fake (no .env, no outside environment)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        discord_token=fake.token,
        db=str(db),
        guild_ids=[fake.guild.id],
        api_base=fake.api_base,
        gateway_url=fake.gateway_url,
        **extra,
    )


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        assert server.unhandled == [], f"routes the fake does not know: {server.unhandled}"
        assert server.server_errors == [], server.server_errors


async def start_bot(
    settings: Settings,
    fake: FakeDiscord,
    library: ScenarioLibrary | None = None,
    now: ManualClock | None = None,
    tune_gc: bool = False,
) -> tuple[ParleyBot, asyncio.Task[None]]:
    """Log the real client in to the fake and wait until its commands are synced.

    ``now`` is the bot's time (a fresh :class:`ManualClock` if not given).
    """
    point_at(settings)
    bot = ParleyBot(settings, library, now=now or ManualClock(), tune_gc=tune_gc)
    # discord.py waits this long after the last GUILD_CREATE before on_ready (2 s by
    # default); a bot closed before then logs an error from its pending ready task.
    bot._connection.guild_ready_timeout = 0.05
    identified = fake.identify_count
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect(reconnect=True))
    await fake.wait_for_ready(min_identifies=identified + 1, commands=True, timeout=10)
    await asyncio.wait_for(bot.wait_until_ready(), timeout=10)
    # The clock's first look (fresh clocks for turns overdue after an outage) is over
    # before the test moves the time, so the test decides which one it sees.
    await until(lambda: bot.clock._started, "the clock's first tick")
    return bot, task


async def until(check: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Poll ``check`` (plain or async) until it is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > end:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


async def stop_bot(bot: ParleyBot, task: asyncio.Task[None]) -> None:
    await bot.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


@pytest.fixture
def clock() -> ManualClock:
    """The time of the ``parley`` bot: it moves only when the test moves it."""
    return ManualClock()


@pytest.fixture
async def parley(fake: FakeDiscord, tmp_path: Path, clock: ManualClock) -> AsyncIterator[ParleyBot]:
    bot, task = await start_bot(settings_for(fake, tmp_path / "parley.db"), fake, now=clock)
    yield bot
    await stop_bot(bot, task)


@dataclass
class Seminar:
    """A facilitator, four players and an observer in the fake server's #general."""

    fake: FakeDiscord
    prof: FakeUser
    alice: FakeUser  # US head
    bob: FakeUser  # US member
    carol: FakeUser  # DPRK head
    dave: FakeUser  # DPRK member
    erin: FakeUser  # observer

    @property
    def channel(self) -> FakeChannel:
        return self.fake.general

    async def slash(
        self,
        user: FakeUser,
        name: str,
        options: dict[str, Any] | None = None,
        channel: FakeChannel | None = None,
    ) -> InteractionRecord:
        """Run a slash command and wait until its answer is complete (not 'thinking')."""
        record = await self.fake.slash(user, channel or self.channel, name, options or {})
        return await settle(self.fake, record)

    async def click(
        self, user: FakeUser, message: FakeMessage, custom_id: str
    ) -> InteractionRecord:
        record = await self.fake.click(user, message, custom_id)
        return await settle(self.fake, record)

    def public(self, channel: FakeChannel | None = None) -> list[FakeMessage]:
        """Messages everyone in the channel sees (no ephemeral ones)."""
        return [
            m
            for m in self.fake.channel_messages(channel or self.channel)
            if not m.ephemeral and not m.deleted
        ]

    async def message_with(
        self, text: str, channel: FakeChannel | None = None, timeout: float = 5.0
    ) -> FakeMessage:
        """Wait for a public message whose content or embeds contain ``text``."""
        return await self.fake.wait_for_message(
            channel or self.channel, lambda m: text in message_text(m), timeout=timeout
        )


def message_text(message: FakeMessage) -> str:
    """A message's content and embed text together, for searching."""
    parts = [message.content or ""]
    for embed in message.embeds or []:
        parts += [
            embed.get("title", ""),
            embed.get("description", ""),
            (embed.get("footer") or {}).get("text", ""),
        ]
        parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in embed.get("fields", [])]
    return "\n".join(parts)


def answer(fake: FakeDiscord, record: InteractionRecord) -> str:
    """Everything the bot said in answer to an interaction (response and follow-ups), each
    once: the response as its message now reads (embeds and edits included), if it has one."""
    if record.original_message_id is not None:
        texts = [message_text(fake.message(record.original_message_id))]
    else:
        texts = [record.content or ""]
    texts += [message_text(m) for m in record.followups]
    return "\n".join(t for t in texts if t)


async def answer_containing(
    fake: FakeDiscord, record: InteractionRecord, text: str, timeout: float = 5.0
) -> str:
    """Wait until a (possibly multi-part) answer contains ``text``; return all of it."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while text not in answer(fake, record) and loop.time() < end:
        await asyncio.sleep(0.01)
    return answer(fake, record)


def answered(fake: FakeDiscord, record: InteractionRecord) -> bool:
    """Whether the bot's answer is complete (a deferral has had its follow-up)."""
    if record.callback_type in (4, 7, 8, 9):
        return True
    if record.callback_type in (5, 6):
        if record.followups:
            return True
        if record.original_message_id is not None:
            return not fake.message(record.original_message_id).loading
    return False


async def settle(
    fake: FakeDiscord, record: InteractionRecord, timeout: float = 5.0
) -> InteractionRecord:
    """Wait until a deferred interaction got its real answer."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end and not answered(fake, record):
        await asyncio.sleep(0.01)
    return record


def make_seminar(fake: FakeDiscord) -> Seminar:
    """A facilitator, four players and an observer added to the fake server."""
    return Seminar(
        fake,
        prof=fake.add_facilitator("prof"),
        alice=fake.add_player("alice"),
        bob=fake.add_player("bob"),
        carol=fake.add_player("carol"),
        dave=fake.add_player("dave"),
        erin=fake.add_player("erin"),
    )


async def start_with_two_heads(s: Seminar) -> None:
    """A Hanoi table in #general with alice heading the US and carol the DPRK, started."""
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    for player, delegation in ((s.alice, "us"), (s.carol, "dprk")):
        await s.slash(
            s.prof, "session assign", {"member": player, "delegation": delegation, "role": "head"}
        )
    await s.slash(s.prof, "session start")


@pytest.fixture
def seminar(fake: FakeDiscord, parley: ParleyBot) -> Seminar:
    return make_seminar(fake)
