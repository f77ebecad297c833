"""Autocomplete, the drafting form, walk-away confirmation, undo and the clock in Discord."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from bot.discord_app.app import ParleyBot
from bot.domain.state import Phase
from tests.discord_app.conftest import (
    ManualClock,
    Seminar,
    answer,
    answer_containing,
    hanoi_library,
    make_seminar,
    move_clock,
    settings_for,
    start_bot,
    start_with_two_heads,
    stop_bot,
    until,
)
from tests.discord_app.test_table_flow import started
from tests.fakediscord import FakeDiscord


def values(record: object) -> list[str]:
    return [c["value"] for c in record.choices]  # type: ignore[attr-defined]


async def test_autocomplete_offers_only_what_fits(seminar: Seminar, parley: ParleyBot) -> None:
    """Autocomplete lists scenarios, variants, delegations, open items by giver, injects."""
    s = seminar
    scen = await s.fake.autocomplete(
        s.prof, s.channel, "session open", {"scenario": "han"}, "scenario"
    )
    assert values(scen) == ["hanoi-2019"]
    variants = await s.fake.autocomplete(
        s.prof,
        s.channel,
        "session open",
        {"scenario": "hanoi-2019", "sequencing": ""},
        "sequencing",
    )
    assert values(variants) == ["singapore", "package", "parallel"]
    await started(s)
    delegations = await s.fake.autocomplete(
        s.prof, s.channel, "session assign", {"member": s.erin, "delegation": ""}, "delegation"
    )
    assert values(delegations) == ["us", "dprk"]
    give = await s.fake.autocomplete(s.alice, s.channel, "offer", {"give": ""}, "give")
    assert values(give) and all(v.startswith("us-") for v in values(give))
    assert "us-exercises" not in values(give)  # the peace basket is still closed
    ask = await s.fake.autocomplete(
        s.alice,
        s.channel,
        "offer",
        {"give": "us-liaison-office", "ask": "dprk-liaison-access,"},
        "ask",
    )
    assert values(ask) and all(v.startswith("dprk-liaison-access,dprk-") for v in values(ask))
    assert "dprk-liaison-access,dprk-liaison-access" not in values(ask)
    assert "dprk-liaison-access,dprk-remains" in values(ask)
    assert "dprk-liaison-access,dprk-yongbyon" not in values(ask)
    injects = await s.fake.autocomplete(
        s.prof, s.channel, "session inject", {"event": "apr"}, "event"
    )
    assert values(injects) == ["april-calendar"]


async def test_the_drafting_form_tables_an_offer(seminar: Seminar, parley: ParleyBot) -> None:
    """/offer with no items opens menus; picking give and ask then the button tables it."""
    s = seminar
    await started(s)
    form = await s.slash(s.alice, "offer")
    assert form.ephemeral
    message = s.fake.message(form.original_message_id or form.followups[0].id)
    give_menu = next(
        c
        for c in message.iter_components()
        if c.get("custom_id", "").startswith("parley:draft:give:")
    )
    await s.fake.select(s.alice, message, give_menu["custom_id"], ["us-liaison-office"])
    message = s.fake.message(message.id)
    ask_menu = next(
        c
        for c in message.iter_components()
        if c.get("custom_id", "").startswith("parley:draft:ask:")
    )
    await s.fake.select(s.alice, message, ask_menu["custom_id"], ["dprk-liaison-access"])
    message = s.fake.message(message.id)
    assert "You give: Liaison offices" in message.content
    button = next(
        c for c in message.iter_components() if c.get("custom_id", "").startswith("parley:table:")
    )
    tabled = await s.click(s.alice, message, button["custom_id"])
    assert "is on the table" in answer(s.fake, tabled), answer(s.fake, tabled)
    offer = await s.message_with("Offer #")
    assert "Liaison offices" in offer.embeds[0]["description"]


async def test_walk_away_asks_first_then_closes(seminar: Seminar, parley: ParleyBot) -> None:
    """/walkaway shows a confirmation; only its button walks away and closes the table."""
    s = seminar
    await started(s)
    ask = await s.slash(s.alice, "walkaway")
    assert "Are you sure?" in answer(s.fake, ask)
    assert "walked_away" not in [e.kind.value for e in await parley.tables.events(1)]
    confirm = s.fake.message(ask.original_message_id or ask.followups[0].id)
    button = next(
        c
        for c in confirm.iter_components()
        if c.get("custom_id", "").startswith("parley:walkaway:")
    )
    done = await s.click(s.alice, confirm, button["custom_id"])
    assert "walked away" in answer(s.fake, done)
    await s.message_with("The table is closed")
    score = await s.message_with("nothing was agreed", s.fake.channel_named("general-us"))
    assert "BATNA" in score.content


async def test_undo_puts_the_offer_back(seminar: Seminar, parley: ParleyBot) -> None:
    """After a reject, /session undo brings the offer back with working buttons."""
    s = seminar
    await started(s)
    await s.slash(s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"})
    await s.slash(s.dave, "reject", {"reason": "no"})
    message = await s.message_with("Rejected")
    undo = await s.slash(s.prof, "session undo")
    assert "Undone" in answer(s.fake, undo)
    await s.message_with("undid the last action")
    restored = await s.fake.wait_for_message(
        s.channel,
        lambda m: (
            m.id == message.id
            and any(
                c.get("custom_id", "").startswith("parley:accept:") for c in m.iter_components()
            )
        ),
    )
    accept_id = next(
        c["custom_id"]
        for c in restored.iter_components()
        if c.get("custom_id", "").startswith("parley:accept:")
    )
    accepted = await s.click(s.carol, restored, accept_id)
    assert "accepted" in answer(s.fake, accepted), answer(s.fake, accepted)


async def test_clock_reminds_expires_pauses_and_extends(
    seminar: Seminar, parley: ParleyBot, clock: ManualClock
) -> None:
    """Moved clock: a reminder, then expiry passes the turn; pause, extend and resume work."""
    s = seminar
    await start_with_two_heads(s)
    await s.message_with("the **United States** delegation is on move")
    move_clock(parley, clock, minutes=8)  # Hanoi: 10-minute turns, reminded 2 minutes before
    reminder = await s.message_with("Your turn ends")
    assert str(s.alice.id) in reminder.content
    assert [str(u) for u in (reminder.allowed_mentions or {}).get("users", [])] == [str(s.alice.id)]
    move_clock(parley, clock, minutes=2)
    await s.message_with("Time is up for United States")
    await s.message_with("the **DPRK** delegation is on move")
    paused = await s.slash(s.prof, "session pause")
    assert "Paused" in answer(s.fake, paused)
    extended = await s.slash(s.prof, "session extend", {"minutes": 1})
    assert "Extended" in answer(s.fake, extended)
    move_clock(parley, clock, minutes=60)  # a paused clock does not run
    refused = await s.slash(s.carol, "pass")
    assert "wrong_phase" in answer(s.fake, refused)
    await s.slash(s.prof, "session resume")
    state = await parley.tables.state(1)
    assert state.turn == "dprk" and state.deadline == clock() + timedelta(minutes=11)
    passed = await s.slash(s.carol, "pass")
    assert "Passed" in answer(s.fake, passed)
    # Announcements go out in order: once the DPRK's pass is posted, an expiry during the
    # pause would have been posted before it.
    await s.message_with("⏭️ DPRK passes.")
    expiries = [m for m in s.public() if "Time is up" in m.content]
    assert len(expiries) == 1


async def test_a_table_nobody_plays_pauses_itself(
    seminar: Seminar, parley: ParleyBot, clock: ManualClock
) -> None:
    """Hours pass with nobody acting: two expiries, then one pause pinging the facilitator."""
    s = seminar
    await start_with_two_heads(s)
    await s.message_with("the **United States** delegation is on move")
    move_clock(parley, clock, minutes=3 * 60)  # eighteen turns' worth, if it kept expiring
    paused = await s.message_with("Every delegation's time ran out in a row")
    assert f"<@{s.prof.id}>" in paused.content
    allowed = paused.allowed_mentions or {}
    assert [str(u) for u in allowed.get("users", [])] == [str(s.prof.id)]
    assert not allowed.get("roles") and "everyone" not in allowed.get("parse", [])
    texts = [m.content for m in s.public()]
    expired = [i for i, text in enumerate(texts) if "Time is up" in text]
    assert [texts[i] for i in expired] == [
        "⌛ Time is up for United States; the turn passes.",
        "⌛ Time is up for DPRK; the turn passes.",
    ]
    assert expired[-1] < texts.index(paused.content)
    await s.fake.wait_for_message(
        s.channel, lambda m: any(e.get("title", "").endswith("— paused") for e in m.embeds)
    )
    status = await s.slash(s.alice, "status")
    assert "— paused" in await answer_containing(s.fake, status, "paused")
    state = await parley.tables.state(1)
    assert state.phase is Phase.PAUSED and state.deadline is None
    events = await parley.tables.events(1)
    assert [e.kind.value for e in events][-3:] == ["turn_expired", "turn_expired", "table_paused"]
    assert events[-1].data.reason == "idle"
    # Paused, the clock has nothing more to do, however late it gets.
    clock.advance(minutes=60)
    assert (await parley.tables.tick(1)).events == []
    await s.slash(s.prof, "session resume")
    await s.message_with("The table resumes")
    resumed = await parley.tables.state(1)
    assert resumed.turn == "us" and resumed.deadline == clock() + timedelta(minutes=10)


async def test_the_clock_stops_with_the_bot(fake: FakeDiscord, tmp_path: Path) -> None:
    """Closing the bot stops its clock and closes the log."""
    bot, task = await start_bot(settings_for(fake, tmp_path / "p.db"), fake)
    await stop_bot(bot, task)
    assert bot._tables is None and bot.clock._task is None


def pending_handlers(name: str) -> list[asyncio.Task[object]]:
    """discord.py's tasks still running an event handler (``on_message``...)."""
    return [
        t for t in asyncio.all_tasks() if t.get_name() == f"discord.py: {name}" and not t.done()
    ]


async def test_caucus_messages_are_recorded_only_where_the_scenario_says(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """With record_caucus on, members' room messages are logged; elsewhere nothing is."""
    library = hanoi_library(tmp_path, record_caucus=True)
    bot, task = await start_bot(settings_for(fake, tmp_path / "p.db"), fake, library)
    try:
        assert bot.intents.message_content
        s = make_seminar(fake)
        await start_with_two_heads(s)
        # The rooms are opened after /session start answers: wait for the notice first.
        await fake.wait_for_message(
            None, lambda m: "are recorded" in m.content and m.channel_id != s.channel.id
        )
        room = fake.channel_named("general-us")
        await fake.wait_for_message(room, lambda m: "are recorded" in m.content)
        await fake.post_user_message(s.alice, room, "Let us open with the liaison office.")
        await fake.post_user_message(s.alice, s.channel, "Public chatter is not recorded.")
        await fake.post_user_message(s.prof, room, "Facilitator note, not a member.")
        await fake.post_user_message(s.alice, room, "And then the remains.")

        async def recorded() -> list[str]:
            events = await bot.tables.events(1)
            return [e.data.text for e in events if e.kind.value == "caucus_message"]

        async def last_one_recorded() -> bool:
            return "And then the remains." in await recorded()

        # The gateway delivers messages in order: once the last one is recorded, every
        # message before it has reached the bot; then wait for their handlers to finish.
        await until(last_one_recorded, "the last room message to be recorded")
        await until(lambda: not pending_handlers("on_message"), "on_message handlers to finish")
        assert await recorded() == [
            "Let us open with the liaison office.",
            "And then the remains.",
        ]
        caucus = [e for e in await bot.tables.events(1) if e.kind.value == "caucus_message"]
        assert {e.data.delegation for e in caucus} == {"us"}
    finally:
        await stop_bot(bot, task)


async def test_hanoi_asks_for_no_privileged_intent(seminar: Seminar, parley: ParleyBot) -> None:
    """The shipped scenario records no caucus messages, so no message-content intent."""
    assert not parley.intents.message_content and not parley.intents.members
