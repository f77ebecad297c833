"""A closed table in Discord: reviewed, refused, reopened by /session undo, the last move."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.discord_app.app import ParleyBot
from bot.domain.state import Phase
from tests.discord_app.conftest import (
    ManualClock,
    Seminar,
    answer,
    answer_containing,
    hanoi_library,
    make_seminar,
    message_text,
    settings_for,
    start_bot,
    start_with_two_heads,
    stop_bot,
)
from tests.discord_app.test_export_and_compare import uploaded
from tests.discord_app.test_table_flow import started
from tests.fakediscord import FakeDiscord, FakeMessage


async def walk_away(s: Seminar) -> None:
    """The US head walks away (asked, then confirmed by the button): the table closes."""
    asked = await s.slash(s.alice, "walkaway")
    confirm = s.fake.message(asked.original_message_id or asked.followups[0].id)
    button = next(
        c["custom_id"]
        for c in confirm.iter_components()
        if c.get("custom_id", "").startswith("parley:walkaway:")
    )
    done = await s.click(s.alice, confirm, button)
    assert "walked away" in answer(s.fake, done), answer(s.fake, done)
    await s.message_with("The table is closed")


async def end(s: Seminar) -> None:
    """The facilitator ends the table with /session end."""
    ended = await s.slash(s.prof, "session end")
    assert "closed" in answer(s.fake, ended), answer(s.fake, ended)
    await s.message_with("The table is closed")


CLOSES = {
    "walk-away": (walk_away, "walked_away", "a delegation walked away"),
    "session-end": (end, "facilitator", "a facilitator ended it with /session end"),
}


async def status_message(s: Seminar, phase: str) -> FakeMessage:
    """Wait until the pinned status message shows the table in ``phase``."""
    return await s.fake.wait_for_message(
        s.channel,
        lambda m: m.pinned and any(e.get("title", "").endswith(f"— {phase}") for e in m.embeds),
    )


@pytest.mark.parametrize("how", list(CLOSES))
async def test_undo_reopens_a_closed_table(seminar: Seminar, parley: ParleyBot, how: str) -> None:
    """/session undo of a walk-away or of /session end reopens the table; the next turn works."""
    s = seminar
    close, reason, _ = CLOSES[how]
    await started(s)
    await close(s)
    await status_message(s, "closed")
    assert (await parley.tables.table(1)).closed_at is not None
    closing = [
        e.seq
        for e in await parley.tables.events(1)
        if e.kind.value in ("walked_away", "table_closed")
    ]

    undone = await s.slash(s.prof, "session undo")
    assert "Undone" in answer(s.fake, undone), answer(s.fake, undone)
    posted = await s.message_with("undid the last action")
    undid, turn = posted.content.split("\n")  # the undo and whose turn it is now, as one
    assert undid.endswith(f"({', '.join(f'#{n}' for n in closing)}).")
    assert "the **United States** delegation is on move" in turn
    await status_message(s, "negotiating")
    status = await s.slash(s.bob, "status")
    text = await answer_containing(s.fake, status, "negotiating")
    assert "— negotiating" in text and "**United States**" in text, text
    state = await parley.tables.state(1)
    assert state.phase is Phase.NEGOTIATING and state.close_reason is None
    closed = [e for e in await parley.tables.events(1) if e.kind.value == "table_closed"]
    assert [e.data.reason for e in closed] == [reason]  # the close stays in the log

    passed = await s.slash(s.alice, "pass")
    assert "Passed" in answer(s.fake, passed), answer(s.fake, passed)
    await s.message_with("the **DPRK** delegation is on move")


async def test_a_reopened_table_is_open_in_exports_and_comparisons(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Once undo reopens a table, its export has no closed_at and compare calls it open."""
    s = seminar
    await started(s)
    await end(s)
    await s.slash(s.prof, "session undo")
    await s.message_with("undid the last action")
    record = await s.slash(s.prof, "session export", {"format": "json"})
    await answer_containing(s.fake, record, "events")
    exported = json.loads(uploaded(record)[0].data)
    assert exported["table"]["phase"] == "negotiating"
    second = s.fake.add_channel("section-b")
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"}, channel=second)
    await s.slash(s.prof, "session end", channel=second)
    compared = await s.slash(s.prof, "session compare", {"tables": "1,2"})
    assert "still open: #1" in answer(s.fake, compared) and not uploaded(compared)
    assert exported["table"]["closed_at"] is None
    assert (await parley.tables.table(1)).closed_at is None


async def test_status_and_export_of_a_closed_table_in_its_channel(
    seminar: Seminar, parley: ParleyBot, clock: ManualClock
) -> None:
    """/session status and /session export (json) in its channel reach the closed table."""
    s = seminar
    await started(s)
    clock.advance(minutes=3)
    await walk_away(s)

    status = await s.slash(s.prof, "session status")
    text = await answer_containing(s.fake, status, "Events logged")
    assert status.ephemeral
    assert "— closed" in text and "Events logged**: " in text, text
    assert "**Rooms**: " in text and "us: <#" in text and "dprk: <#" in text, text

    record = await s.slash(s.prof, "session export", {"format": "json"})
    await answer_containing(s.fake, record, "events")
    (data,) = uploaded(record)
    assert record.ephemeral and data.filename == "parley-table-1.json"
    exported = json.loads(data.data)
    assert exported["table"]["phase"] == "closed"
    assert exported["table"]["closed_at"] == "2026-11-24T09:03:00Z"  # the bot's own clock
    assert exported["outcome"]["reason"] == "walked_away"
    assert [e["kind"] for e in exported["events"]][-2:] == ["walked_away", "table_closed"]


@pytest.mark.parametrize("how", list(CLOSES))
async def test_a_turn_action_on_a_closed_table_is_refused_and_logged(
    seminar: Seminar, parley: ParleyBot, how: str
) -> None:
    """/pass after the close: refused privately (wrong_phase, how it closed), logged there."""
    s = seminar
    close, _, closed_how = CLOSES[how]
    await started(s)
    await close(s)
    refused = await s.slash(s.alice, "pass")
    text = answer(s.fake, refused)
    assert refused.ephemeral and "wrong_phase" in text and "⛔" in text, text
    assert f"the table is closed ({closed_how}" in text, text
    last = (await parley.tables.events(1))[-1]
    assert last.kind.value == "action_refused"
    assert (last.data.code, last.data.command, last.actor and last.actor.name) == (
        "wrong_phase",
        "pass",
        "alice",
    )
    assert (await parley.tables.state(1)).phase is Phase.CLOSED
    # A barrier: the undo's announcement comes after anything the refusal had posted.
    await s.slash(s.prof, "session undo")
    await s.message_with("undid the last action")
    public = "\n".join(message_text(m) for m in s.public())
    assert "⛔" not in public and "wrong_phase" not in public


async def test_an_offer_on_the_last_turn_is_posted_as_the_last_move(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """An offer on the last turn: posted without buttons, named by the close, 'the last move'."""
    library = hanoi_library(tmp_path, max_rounds=1)
    bot, task = await start_bot(settings_for(fake, tmp_path / "p.db"), fake, library)
    try:
        s = make_seminar(fake)
        await start_with_two_heads(s)
        await s.slash(s.alice, "pass")
        await s.message_with("the **DPRK** delegation is on move")
        offered = await s.slash(
            s.carol, "offer", {"give": "dprk-liaison-access", "ask": "us-liaison-office"}
        )
        said = answer(fake, offered)
        assert offered.ephemeral and "was the last move" in said, said
        assert "is on the table" not in said
        closed = await s.message_with("The table is closed")
        assert "the last round is over" in closed.content
        offer = next(m for m in s.public() if "Offer #" in message_text(m))
        assert offer.id < closed.id
        (embed,) = offer.embeds
        assert embed["footer"]["text"] == (
            "The last move: the table closed with this offer unanswered"
        )
        assert "Liaison offices" in embed["description"]
        assert not list(offer.iter_components())  # nothing left to accept or reject
        events = await bot.tables.events(1)
        tabled = next(e for e in events if e.kind.value == "offer_tabled")
        close = events[-1]
        assert close.kind.value == "table_closed" and close.seq == tabled.seq + 1
        assert (close.data.reason, close.data.withdrawn, close.data.last_offer) == (
            "max_rounds",
            tabled.seq,
            tabled.seq,
        )
        assert f"Offer #{tabled.seq} from DPRK" in embed["title"]
    finally:
        await stop_bot(bot, task)
