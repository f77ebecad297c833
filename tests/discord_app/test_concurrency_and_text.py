"""Races, repeated deliveries, and user text that tries to ping or overflow."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import Seminar, answer, settle, until
from tests.discord_app.test_table_flow import started


async def kinds(bot: ParleyBot) -> list[str]:
    return [e.kind.value for e in await bot.tables.events(1)]


async def test_racing_accept_clicks_give_one_agreement(seminar: Seminar, parley: ParleyBot) -> None:
    """Three Accept presses at the same moment: one agreement, the others refused privately."""
    s = seminar
    await started(s)
    await s.slash(s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"})
    message = await s.message_with("Offer #")
    accept_id = next(
        c["custom_id"]
        for c in message.iter_components()
        if c.get("custom_id", "").startswith("parley:accept:")
    )
    clicks = await asyncio.gather(
        *(s.fake.click(user, message, accept_id, wait=False) for user in (s.carol, s.carol, s.dave))
    )
    answers = [answer(s.fake, await settle(s.fake, c)) for c in clicks]
    assert sum("accepted" in a for a in answers) == 1, answers
    assert sum("⛔" in a for a in answers) == 2, answers
    assert all(c.ephemeral for c in clicks)
    logged = await kinds(parley)
    assert logged.count("agreement_reached") == 1 and logged.count("offer_accepted") == 1


async def test_a_repeated_delivery_is_applied_and_answered_once(
    seminar: Seminar, parley: ParleyBot, caplog: pytest.LogCaptureFixture
) -> None:
    """The same INTERACTION_CREATE delivered twice logs one statement and gets one answer."""
    s = seminar
    await started(s)
    first = await s.slash(s.bob, "say", {"text": "Only once, please."})
    before = await kinds(parley)
    with caplog.at_level(logging.INFO, logger="parley.discord"):
        again = await s.fake.interaction(first.payload, wait=False)
        # The bot says when it drops a repeat: wait for that, not for a while.
        await until(
            lambda: any("ignored a second delivery" in r.getMessage() for r in caplog.records),
            "the bot to drop the second delivery",
        )
    assert again is first and first.deliveries == 2
    assert len(first.attempts) == 1, first.attempts  # no second callback (no 40060)
    assert await kinds(parley) == before
    assert before.count("statement") == 1
    said = [m for m in s.public() if "Only once, please." in m.content]
    assert len(said) == 1


async def test_user_text_never_pings_and_long_text_is_split_not_cut(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """@everyone, role and user mentions ping nobody; 4,000 characters arrive whole, split."""
    s = seminar
    await started(s)
    role = s.fake.facilitator_role
    head = f"@everyone @here <@&{role.id}> <@{s.carol.id}> **bold** _it_ `code` "
    text = head + " ".join(f"word{i:04d}" for i in range(440))
    text = text[:3980].rsplit(" ", 1)[0] + " the-end"
    assert 3900 < len(text) <= 4000
    record = await s.slash(s.bob, "say", {"text": text})
    assert "on the record" in answer(s.fake, record)
    # The parts are sent in order: once the end has arrived, every part has.
    await s.message_with("the-end")
    parts = [m for m in s.public() if "word" in m.content or "the-end" in m.content]
    assert len(parts) >= 2
    for part in parts:
        assert len(part.content) <= 2000
        assert not part.mention_everyone
        allowed = part.allowed_mentions or {}
        assert (
            allowed.get("parse") == [] and not allowed.get("users") and not allowed.get("roles")
        ), allowed  # nobody may be pinged by this message
        assert "@everyone" not in part.content and "@here" not in part.content
    joined = " ".join(p.content for p in parts)
    for i in range(0, 390, 37):
        assert f"word{i:04d}" in joined
    assert "**bold**" in joined
    logged = [e for e in await parley.tables.events(1) if e.kind.value == "statement"]
    assert logged[-1].data.text == text.strip()


async def test_turn_announcement_pings_only_the_delegation_on_move(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """The turn announcement may ping the members of the delegation on move and nobody else."""
    s = seminar
    await started(s)
    await s.slash(s.alice, "pass")
    announcement = await s.message_with("the **DPRK** delegation is on move")
    allowed = announcement.allowed_mentions or {}
    assert sorted(map(str, allowed.get("users", []))) == sorted([str(s.carol.id), str(s.dave.id)])
    assert not allowed.get("roles") and "everyone" not in allowed.get("parse", [])


async def test_tables_opened_at_once_in_several_channels_each_get_their_message(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Five /session open at the same moment in five channels: five tables, each
    announced with its Join button in its own channel (their writes share commits)."""
    s = seminar
    channels = [s.fake.add_channel(f"section-{n}") for n in range(5)]
    records = await asyncio.gather(
        *(
            s.fake.slash(s.prof, channel, "session open", {"scenario": "hanoi-2019"}, wait=False)
            for channel in channels
        )
    )
    for record in records:
        assert "is open" in answer(s.fake, await settle(s.fake, record))

    def joins(channel: object) -> list[str]:
        return [
            component["custom_id"]
            for m in s.fake.channel_messages(channel)  # type: ignore[arg-type]
            for component in m.iter_components()
            if component.get("custom_id", "").startswith("parley:join:")
        ]

    await until(lambda: all(joins(channel) for channel in channels), "every opening message")
    assert sorted(joins(channel)[0] for channel in channels) == sorted(
        f"parley:join:{n}" for n in range(1, 6)
    )
