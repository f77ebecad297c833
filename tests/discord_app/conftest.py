"""Fixtures: the fake Discord on loopback and the real Parley client connected to it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.discord_app.app import ParleyBot, point_at
from bot.scenarios import ScenarioLibrary
from bot.settings import Settings
from tests.fakediscord import FakeChannel, FakeDiscord, FakeMessage, FakeUser, InteractionRecord

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


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
    settings: Settings, fake: FakeDiscord, library: ScenarioLibrary | None = None
) -> tuple[ParleyBot, asyncio.Task[None]]:
    """Log the real client in to the fake and wait until its commands are synced."""
    point_at(settings)
    bot = ParleyBot(settings, library)
    identified = fake.identify_count
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect(reconnect=True))
    await fake.wait_for_ready(min_identifies=identified + 1, commands=True, timeout=10)
    return bot, task


async def stop_bot(bot: ParleyBot, task: asyncio.Task[None]) -> None:
    await bot.close()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


@pytest.fixture
async def parley(fake: FakeDiscord, tmp_path: Path) -> AsyncIterator[ParleyBot]:
    bot, task = await start_bot(settings_for(fake, tmp_path / "parley.db"), fake)
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
    """Everything the bot said in answer to an interaction (response and follow-ups)."""
    texts = [record.content or ""]
    if record.original_message_id is not None:
        texts.append(message_text(fake.message(record.original_message_id)))
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
