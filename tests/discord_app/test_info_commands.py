"""The commands that show things, and the remaining facilitator commands, in Discord."""

from __future__ import annotations

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import Seminar, answer, answer_containing, message_text
from tests.discord_app.test_table_flow import started


async def test_status_and_items_show_the_table_and_only_my_values(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """/status shows turn and baskets; /items shows my own values to me alone."""
    s = seminar
    await started(s)
    status = await s.slash(s.bob, "status")
    text = answer(s.fake, status)
    assert status.ephemeral and "Round 1" in text and "United States" in text
    assert "Open baskets" in text and "New US-DPRK relations" in text
    items = await s.slash(s.carol, "items")
    listing = await answer_containing(s.fake, items, "Recovery of POW/MIA remains")
    assert items.ephemeral and "your value" in listing
    # carol (DPRK) sees the DPRK's private value of the US liaison office, not the US one
    line = next(x for x in listing.splitlines() if "`us-liaison-office`" in x)
    assert "your value +3" in line
    observer = await s.slash(s.erin, "items")
    assert "your value" not in await answer_containing(s.fake, observer, "remains")


async def test_session_list_and_status_for_facilitators(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """/session list names each table; /session status adds rooms and refusals so far."""
    s = seminar
    await started(s)
    await s.slash(s.carol, "pass")  # not the DPRK's turn: a refusal to count
    listed = await s.slash(s.prof, "session list")
    assert "#1" in answer(s.fake, listed) and "Section A" in answer(s.fake, listed)
    status = await s.slash(s.prof, "session status")
    text = answer(s.fake, status)
    assert "Rooms" in text and "not_your_turn" in text and "Events logged" in text


async def test_autoassign_inject_and_leave(seminar: Seminar, parley: ParleyBot) -> None:
    """Autoassign seats everyone waiting with a head each; an inject posts its text."""
    s = seminar
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    for player in (s.alice, s.bob, s.carol, s.dave):
        await s.slash(player, "join")
    record = await s.slash(s.prof, "session autoassign")
    assert "Everyone waiting" in answer(s.fake, record)
    state = await parley.tables.state(1)
    assert {m.delegation for m in state.members.values()} == {"us", "dprk"}
    assert state.head("us") is not None and state.head("dprk") is not None
    injected = await s.slash(s.prof, "session inject", {"event": "april-calendar"})
    assert "Posted" in answer(s.fake, injected)
    news = await s.message_with("📰")
    assert "April" in message_text(news)
    left = await s.slash(s.dave, "leave")
    assert "You left" in answer(s.fake, left)
    assert (await parley.tables.state(1)).member(str(s.dave.id)) is None


async def test_commands_work_from_inside_a_caucus_room(seminar: Seminar, parley: ParleyBot) -> None:
    """A player may act from their delegation's room: it belongs to the table."""
    s = seminar
    await started(s)
    await s.fake.wait_for_message(None, lambda m: "Confidential brief: United States" in m.content)
    room = s.fake.channel_named("general-us")
    offered = await s.slash(
        s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"}, channel=room
    )
    assert "is on the table" in answer(s.fake, offered), answer(s.fake, offered)
    await s.message_with("Offer #")  # the offer itself is announced in the table's channel


async def test_session_list_shows_each_tables_phase_and_outcome(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Each /session list line gives the table's phase, items agreed and how it closed."""
    s = seminar
    await started(s)
    await s.slash(s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"})
    await s.slash(s.carol, "accept")
    await s.slash(s.prof, "session end")
    await s.message_with("The table is closed")
    second = s.fake.add_channel("section-b")
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"}, channel=second)
    listed = await s.slash(s.prof, "session list")
    text = await answer_containing(s.fake, listed, "**#2**")
    lines = {line.split(" ", 1)[0]: line for line in text.splitlines() if line.startswith("**#")}
    assert lines["**#1**"].endswith(" · closed · 2 items agreed, facilitator"), text
    assert lines["**#2**"].endswith(f"<#{second.id}> · singapore · setup · 0 items agreed"), text


async def test_status_shows_phase_deadline_standing_offer_agreed_and_members(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """/status: phase, deadline, standing offer, agreed items; /session status: who sits where."""
    s = seminar
    await started(s)
    offered = await s.slash(
        s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"}
    )
    assert "is on the table" in answer(s.fake, offered), answer(s.fake, offered)
    state = await parley.tables.state(1)
    assert state.standing is not None and state.deadline is not None
    text = answer(s.fake, await s.slash(s.bob, "status"))
    assert "Section A — negotiating" in text, text
    assert f"<t:{int(state.deadline.timestamp())}:R>" in text, (
        text
    )  # the deadline, as Discord shows it
    assert f"Standing offer #{state.standing.seq}" in text, text
    assert "Liaison offices in both capitals" in text and "Agreed (0) nothing yet" in text, text

    await s.slash(s.carol, "accept")
    await s.message_with("**Agreement**")
    text = answer(s.fake, await s.slash(s.bob, "status"))
    assert "Agreed (2)" in text and "Standing offer" not in text, text
    assert "Liaison offices in both capitals" in text, text

    text = answer(s.fake, await s.slash(s.prof, "session status"))
    assert "United States alice (head), bob" in text, text
    assert "DPRK carol (head), dave" in text, text
    assert "Observers erin" in text, text
