"""Counterparts in Discord: /session seat and unseat, and a seated counterpart playing a
whole table against a person, across a restart of the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.discord_app.app import ParleyBot
from bot.domain.events import Event
from bot.settings import Settings
from tests.discord_app.conftest import (
    ManualClock,
    Seminar,
    answer,
    hanoi_library,
    make_seminar,
    message_text,
    move_clock,
    settings_for,
    start_bot,
    stop_bot,
    until,
)
from tests.fakediscord import FakeDiscord, FakeMessage

#: The counterpart's think time in these tests (half a minute of the test's clock).
THINK = 30


@pytest.fixture
def settings(fake: FakeDiscord, tmp_path: Path) -> Settings:
    return settings_for(fake, tmp_path / "parley.db")


@pytest.fixture
async def short(
    fake: FakeDiscord, tmp_path: Path, clock: ManualClock, settings: Settings
) -> AsyncIterator[ParleyBot]:
    """The bot with a Hanoi table of two rounds."""
    bot, task = await start_bot(settings, fake, hanoi_library(tmp_path, max_rounds=2), clock)
    yield bot
    await stop_bot(bot, task)


async def seated_table(s: Seminar) -> None:
    """A Hanoi table: alice heads the US, a Conceder counterpart plays the DPRK; started."""
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    await s.slash(s.prof, "session assign", {"member": s.alice, "delegation": "us", "role": "head"})
    seated = await s.slash(
        s.prof,
        "session seat",
        {"delegation": "dprk", "strategy": "conceder", "think_seconds": THINK},
    )
    assert "counterpart now plays dprk" in answer(s.fake, seated), answer(s.fake, seated)
    await s.message_with("now played by a counterpart")
    await s.slash(s.prof, "session start")
    await s.message_with("the **United States** delegation is on move")


def offer_buttons(message: FakeMessage) -> list[str]:
    return [c["label"] for c in message.iter_components() if c.get("type") == 2]


async def counterpart_offer(s: Seminar, after: int = 0) -> FakeMessage:
    """The DPRK counterpart's next offer message (after message id ``after``)."""
    return await s.fake.wait_for_message(
        s.channel,
        lambda m: m.id > after and "from DPRK" in message_text(m) and bool(m.components),
    )


async def counterpart_events(bot: ParleyBot) -> list[Event]:
    return [
        e for e in await bot.tables.events(1) if e.actor and e.actor.user_id == "counterpart:dprk"
    ]


def assert_no_counterpart_mentions(s: Seminar) -> None:
    """No message anywhere tried to mention a counterpart as if it were a Discord user."""
    for message in s.fake.all_messages():
        assert "<@counterpart" not in message_text(message), message_text(message)
        assert not [u for u in message.mentions if not str(u["id"]).isdigit()]


async def test_a_seated_counterpart_plays_a_whole_table_against_a_person(
    fake: FakeDiscord, short: ParleyBot, clock: ManualClock
) -> None:
    """It waits its think time, posts offers with buttons and notes, and plays to the close."""
    s = make_seminar(fake)
    await seated_table(s)
    await s.slash(s.alice, "pass")
    await s.message_with("the **DPRK** delegation is on move")
    assert await counterpart_events(short) == []  # still thinking: the clock has not moved

    move_clock(short, clock, minutes=THINK / 60)
    offer = await counterpart_offer(s)
    assert offer_buttons(offer) == ["Accept", "Reject", "Pass", "Walk away"]
    description = offer.embeds[0]["description"]
    assert "**DPRK gives:**" in description
    assert "\n> " in description  # its note, a reason in its own words
    moved = await counterpart_events(short)
    assert [e.kind.value for e in moved] == ["offer_tabled"]
    actor = moved[0].actor
    assert actor is not None
    assert (actor.counterpart, actor.name, actor.role) == ("conceder", "DPRK counterpart", "head")
    assert moved[0].data.note  # type: ignore[attr-defined]

    accept = next(c["custom_id"] for c in offer.iter_components() if c.get("label") == "Accept")
    accepted = await s.click(s.alice, offer, accept)
    assert "accepted" in answer(fake, accepted), answer(fake, accepted)
    await s.message_with("**Agreement**")
    await s.message_with("Round 2: the **DPRK** delegation is on move")

    move_clock(short, clock, minutes=THINK / 60)  # its last turn, then the table closes
    await s.message_with("The table is closed")
    state = await short.tables.state(1)
    assert state.close_reason == "max_rounds" and state.agreed
    kinds = [e.kind.value for e in await counterpart_events(short)]
    assert len(kinds) >= 2 and "action_refused" not in kinds
    assert all(
        e.actor and e.actor.counterpart == "conceder" for e in await counterpart_events(short)
    )
    assert_no_counterpart_mentions(s)


async def test_a_counterpart_due_while_the_bot_was_down_acts_after_the_restart(
    fake: FakeDiscord, tmp_path: Path, settings: Settings
) -> None:
    """Due during an outage it acts on restart; after a long one it thinks afresh, then acts."""
    clock = ManualClock()
    s = make_seminar(fake)
    bot, task = await start_bot(settings, fake, now=clock)
    try:
        await seated_table(s)
        await s.slash(s.alice, "pass")
        await s.message_with("the **DPRK** delegation is on move")
    finally:
        await stop_bot(bot, task)

    clock.advance(minutes=1)  # its think time ran out while the bot was down
    bot, task = await start_bot(settings, fake, now=clock)
    try:
        offer = await counterpart_offer(s)  # the restarted clock lets it move at once
        accept = next(c["custom_id"] for c in offer.iter_components() if c.get("label") == "Accept")
        accepted = await s.click(s.alice, offer, accept)
        assert "accepted" in answer(fake, accepted), answer(fake, accepted)
        await s.message_with("**Agreement**")
        await s.message_with("Round 2: the **DPRK** delegation is on move")
        before = len(await counterpart_events(bot))
    finally:
        await stop_bot(bot, task)

    clock.advance(minutes=60)  # away past the turn's deadline: a fresh clock, not an expiry
    bot, task = await start_bot(settings, fake, now=clock)
    try:
        await s.message_with("the **DPRK** delegation gets a fresh clock")
        assert len(await counterpart_events(bot)) == before  # it thinks again from here
        last = max(m.id for m in s.public())
        move_clock(bot, clock, minutes=THINK / 60)
        await until(
            lambda: _moved_since(bot, before), "the counterpart's move after the fresh clock"
        )
        await s.fake.wait_for_message(
            s.channel, lambda m: m.id > last and "United States" in message_text(m)
        )
        kinds = [e.kind.value for e in await bot.tables.events(1)]
        assert "turn_expired" not in kinds
        assert all(
            e.actor and e.actor.counterpart == "conceder" for e in await counterpart_events(bot)
        )
    finally:
        await stop_bot(bot, task)
    assert_no_counterpart_mentions(s)


async def _moved_since(bot: ParleyBot, before: int) -> bool:
    return len(await counterpart_events(bot)) > before


async def refused(s: Seminar, user: Any, name: str, options: Any) -> str:
    record = await s.slash(user, name, options)
    assert record.ephemeral
    return answer(s.fake, record)


async def test_seat_and_unseat_refusals_are_private_and_clear(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """A player may not seat; an unknown strategy, a taken seat or an empty one is refused."""
    s = seminar
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    text = await refused(s, s.alice, "session seat", {"delegation": "dprk", "strategy": "boulware"})
    assert "not_facilitator" in text, text

    # Discord offers only the four strategies; a stale client could still send another.
    raw = [
        {"type": 3, "name": "delegation", "value": "dprk"},
        {"type": 3, "name": "strategy", "value": "bully"},
    ]
    text = await refused(s, s.prof, "session seat", raw)
    assert "bad_argument" in text and "no strategy 'bully'" in text, text
    assert "boulware, linear, conceder, tit-for-tat" in text

    text = await refused(s, s.prof, "session seat", {"delegation": "un", "strategy": "linear"})
    assert "bad_argument" in text and "choose one of: us, dprk" in text, text

    text = await refused(s, s.prof, "session unseat", {"delegation": "dprk"})
    assert "No counterpart plays the DPRK delegation" in text, text

    await s.slash(s.prof, "session seat", {"delegation": "dprk", "strategy": "boulware"})
    text = await refused(s, s.prof, "session seat", {"delegation": "dprk", "strategy": "linear"})
    assert "already plays the DPRK delegation" in text and "/session unseat" in text, text
    text = await refused(s, s.carol, "session unseat", {"delegation": "dprk"})
    assert "not_facilitator" in text, text

    codes = [
        e.data.code  # type: ignore[attr-defined]
        for e in await parley.tables.events(1)
        if e.kind.value == "action_refused"
    ]
    assert codes == [
        "not_facilitator",
        *["bad_argument"] * 4,
        "not_facilitator",
    ]
    seats = (await parley.tables.state(1)).seats
    assert [(d, seat.strategy, seat.think_seconds) for d, seat in seats.items()] == [
        ("dprk", "boulware", 20.0)
    ]


async def test_unseat_gives_the_seat_back_to_its_head(seminar: Seminar, parley: ParleyBot) -> None:
    """Seating demotes the DPRK head; unseating makes them head again, announced in public."""
    s = seminar
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    await s.slash(
        s.prof, "session assign", {"member": s.carol, "delegation": "dprk", "role": "head"}
    )
    await s.slash(s.prof, "session seat", {"delegation": "dprk", "strategy": "tit-for-tat"})
    seated = await s.message_with("now played by a counterpart")
    assert "tit-for-tat" not in seated.content.lower()  # the players are not told how it plays
    state = await parley.tables.state(1)
    assert state.head("dprk") is not None and state.head("dprk").name == "DPRK counterpart"  # type: ignore[union-attr]
    done = await s.slash(s.prof, "session unseat", {"delegation": "dprk"})
    assert "people play it again" in answer(s.fake, done)
    await s.message_with("played by people again, with **carol** as its head")
    state = await parley.tables.state(1)
    assert state.seats == {} and state.head("dprk").user_id == str(s.carol.id)  # type: ignore[union-attr]
