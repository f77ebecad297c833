"""/practice: a student's private table against a counterpart, in a private thread, ending
with the question of which strategy they faced."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.discord_app.app import ParleyBot
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
from tests.fakediscord import FakeChannel, FakeDiscord, FakeMessage

#: A practice counterpart's think time, in minutes of the test's clock.
THINK_MINUTES = 10 / 60


@pytest.fixture
async def short(fake: FakeDiscord, tmp_path: Path, clock: ManualClock) -> AsyncIterator[ParleyBot]:
    """The bot with a Hanoi table of two rounds."""
    library = hanoi_library(tmp_path, max_rounds=2)
    bot, task = await start_bot(settings_for(fake, tmp_path / "parley.db"), fake, library, clock)
    yield bot
    await stop_bot(bot, task)


async def open_practice(s: Seminar, strategy: str = "conceder") -> FakeChannel:
    """alice opens a practice table as the US; the private thread it opened in."""
    record = await s.slash(
        s.alice, "practice", {"scenario": "hanoi-2019", "delegation": "us", "strategy": strategy}
    )
    text = answer(s.fake, record)
    assert record.ephemeral and "Your practice table #1 is ready" in text, text
    thread = s.fake.thread_named("practice-alice")
    assert f"<#{thread.id}>" in text
    await s.message_with("the **United States** delegation is on move", thread)
    return thread


def thread_text(s: Seminar, thread: FakeChannel) -> str:
    return "\n".join(message_text(m) for m in s.public(thread))


async def test_practice_opens_a_private_started_table_in_a_thread(
    fake: FakeDiscord, short: ParleyBot
) -> None:
    """A private thread with the brief, no caucus rooms; left out of /session list by default."""
    s = make_seminar(fake)
    thread = await open_practice(s)
    assert thread.type == 12 and thread.invitable is False  # a private thread
    assert thread.parent_id == s.channel.id
    assert s.alice.id in thread.thread_members
    text = thread_text(s, thread)
    assert "Practice table" in text and "Confidential brief: United States" in text
    assert "Your private values" in text and "Press **Join**" not in text
    buttons = [c.get("custom_id", "") for m in s.public(thread) for c in m.iter_components()]
    assert not [b for b in buttons if b.startswith("parley:join")]
    assert not [c for c in fake.channels.values() if c.name.endswith(("-us", "-dprk"))]
    assert s.public() == []  # nothing of it in the channel itself

    events = await short.tables.events(1)
    assert events[0].data.dumped().get("practice") is True
    state = await short.tables.state(1)
    assert state.phase.value == "negotiating" and state.head("us").user_id == str(s.alice.id)  # type: ignore[union-attr]
    assert set(state.seats) == {"dprk"}

    listed = await s.slash(s.prof, "session list")
    assert "#1" not in answer(fake, listed)
    assert "1 practice table not shown" in answer(fake, listed)
    listed = await s.slash(s.prof, "session list", {"practice": True})
    assert "**#1** Practice: alice as United States" in answer(fake, listed)
    assert "practice" in answer(fake, listed)


async def test_practice_refuses_a_bad_choice_before_opening_a_thread(
    fake: FakeDiscord, short: ParleyBot
) -> None:
    """A delegation that takes no turns or an unknown scenario is refused; no thread is left."""
    s = make_seminar(fake)
    record = await s.slash(
        s.alice, "practice", {"scenario": "hanoi-2019", "delegation": "un", "strategy": "linear"}
    )
    assert record.ephemeral and "choose one of: us, dprk" in answer(fake, record)
    record = await s.slash(
        s.alice, "practice", {"scenario": "yalta", "delegation": "us", "strategy": "linear"}
    )
    assert record.ephemeral and "bad_argument" in answer(fake, record)
    assert fake.threads == {} and await short.tables.tables() == []


async def guess_menu(s: Seminar, thread: FakeChannel) -> FakeMessage:
    return await s.fake.wait_for_message(
        thread, lambda m: any(c.get("custom_id") == "parley:guess:1" for c in m.iter_components())
    )


async def test_a_practice_table_ends_with_the_strategy_question(
    fake: FakeDiscord, short: ParleyBot, clock: ManualClock
) -> None:
    """Played to its close, it asks which strategy it was; the answer tells it and the result."""
    s = make_seminar(fake)
    thread = await open_practice(s)
    passed = await s.slash(s.alice, "pass", channel=thread)
    assert "Passed" in answer(fake, passed)
    move_clock(short, clock, THINK_MINUTES)
    offer = await fake.wait_for_message(
        thread, lambda m: "from DPRK" in message_text(m) and bool(m.components)
    )
    accept = next(c["custom_id"] for c in offer.iter_components() if c.get("label") == "Accept")
    accepted = await s.click(s.alice, offer, accept)
    assert "accepted" in answer(fake, accepted), answer(fake, accepted)
    await s.message_with("**Agreement**", thread)
    move_clock(short, clock, THINK_MINUTES)  # the counterpart's last turn closes the table
    await s.message_with("The table is closed", thread)
    await s.message_with("your score is", thread)
    menu = await guess_menu(s, thread)
    select = next(c for c in menu.iter_components() if c.get("custom_id") == "parley:guess:1")
    assert [o["value"] for o in select["options"]] == [
        "boulware",
        "linear",
        "conceder",
        "tit-for-tat",
    ]
    # Until now nothing in the thread said how the counterpart plays.
    assert "conceder" not in thread_text(s, thread).lower()

    refused = await fake.select(s.prof, menu, "parley:guess:1", ["conceder"])
    await until(lambda: answer(fake, refused), "the refusal")
    assert "Only the student" in answer(fake, refused)

    await fake.select(s.alice, menu, "parley:guess:1", ["boulware"])
    await until(lambda: "Not quite" in (fake.message(menu.id).content or ""), "the answer")
    told = fake.message(menu.id)
    assert not list(told.iter_components())  # answered once: the menu is gone
    text = told.content or ""
    state = await short.tables.state(1)
    us = state.scenario.delegation("us")
    assert us is not None
    assert "you said Boulware, but it was **Conceder**" in text, text
    assert f"You scored **{state.score('us')}** (your BATNA: {us.batna})" in text, text
    assert "The Nash point" in text and "would have given you **14**" in text, text
    assert "points of joint gain on the table" in text, text
    assert "frontier" in text
    compare = await fake.autocomplete(
        s.prof, s.channel, "session compare", {"tables": ""}, "tables"
    )
    assert compare.choices == []  # closed, but a practice table: not offered for comparison


async def test_the_strategy_question_works_after_a_restart(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """The menu is routed by its id: answered after a restart of the bot, it still answers."""
    clock = ManualClock()
    settings = settings_for(fake, tmp_path / "parley.db")
    library = hanoi_library(tmp_path, max_rounds=1)
    s = make_seminar(fake)
    bot, task = await start_bot(settings, fake, library, clock)
    try:
        thread = await open_practice(s, strategy="tit-for-tat")
        await s.slash(s.alice, "pass", channel=thread)
        move_clock(bot, clock, THINK_MINUTES)
        menu = await guess_menu(s, thread)
    finally:
        await stop_bot(bot, task)
    bot, task = await start_bot(settings, fake, library, clock)
    try:
        await fake.select(s.alice, menu, "parley:guess:1", ["tit-for-tat"])
        await until(lambda: "Right" in (fake.message(menu.id).content or ""), "the answer")
        text = fake.message(menu.id).content or ""
        assert "it was **Tit-for-tat**" in text
        assert "Nothing was agreed, so you fell back on your BATNA" in text, text
    finally:
        await stop_bot(bot, task)
