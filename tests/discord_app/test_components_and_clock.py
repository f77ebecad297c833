"""Autocomplete, the drafting form, walk-away confirmation, undo and the clock in Discord."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot import paths
from bot.discord_app.app import ParleyBot
from bot.scenarios import ScenarioLibrary
from tests.discord_app.conftest import (
    Seminar,
    answer,
    make_seminar,
    settings_for,
    start_bot,
    start_with_two_heads,
    stop_bot,
)
from tests.discord_app.test_permissions import started
from tests.discord_app.test_restart import quick_rules
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


async def test_clock_reminds_expires_pauses_and_extends(fake: FakeDiscord, tmp_path: Path) -> None:
    """Short turns: a reminder, then expiry passes the turn; pause, extend and resume work."""
    rules = quick_rules(tmp_path, turn_minutes=0.05)  # three-second turns
    text = (
        (rules / "hanoi-2019.toml")
        .read_text()
        .replace("reminder_minutes = 0", "reminder_minutes = 0.02")
    )
    (rules / "hanoi-2019.toml").write_text(text)
    bot, task = await start_bot(
        settings_for(fake, tmp_path / "p.db"), fake, ScenarioLibrary(rules, paths.PROMPTS_DIR)
    )
    try:
        s = make_seminar(fake)
        await start_with_two_heads(s)
        reminder = await s.message_with("Your turn ends", timeout=10)
        assert str(s.alice.id) in reminder.content
        await s.message_with("Time is up for United States", timeout=10)
        paused = await s.slash(s.prof, "session pause")
        assert "Paused" in answer(fake, paused)
        extended = await s.slash(s.prof, "session extend", {"minutes": 1})
        assert "Extended" in answer(fake, extended)
        refused = await s.slash(s.carol, "pass")
        assert "wrong_phase" in answer(fake, refused)
        await s.slash(s.prof, "session resume")
        passed = await s.slash(s.carol, "pass")
        assert "Passed" in answer(fake, passed)
    finally:
        await stop_bot(bot, task)
    assert bot._tables is None


async def test_caucus_messages_are_recorded_only_where_the_scenario_says(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """With record_caucus on, members' room messages are logged; elsewhere nothing is."""
    rules = quick_rules(tmp_path, turn_minutes=10)
    text = (
        (rules / "hanoi-2019.toml")
        .read_text()
        .replace("record_caucus = false", "record_caucus = true")
    )
    (rules / "hanoi-2019.toml").write_text(text)
    library = ScenarioLibrary(rules, paths.PROMPTS_DIR)
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
        for _ in range(100):
            caucus = [e for e in await bot.tables.events(1) if e.kind.value == "caucus_message"]
            if caucus:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        caucus = [e for e in await bot.tables.events(1) if e.kind.value == "caucus_message"]
        assert [e.data.text for e in caucus] == ["Let us open with the liaison office."]
        assert caucus[0].data.delegation == "us"
    finally:
        await stop_bot(bot, task)


async def test_hanoi_asks_for_no_privileged_intent(seminar: Seminar, parley: ParleyBot) -> None:
    """The shipped scenario records no caucus messages, so no message-content intent."""
    assert not parley.intents.message_content and not parley.intents.members
