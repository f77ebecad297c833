"""More bad inputs and Discord trouble: each gets a clear private answer and loses nothing."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
import pytest

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import (
    Seminar,
    answer,
    answer_containing,
    start_with_two_heads,
)
from tests.discord_app.test_offer_buttons import answered_once, standing_offer
from tests.fakediscord import Permission

#: The fake's message edit route, and the route that creates a server's channels.
EDIT_MESSAGE = ("PATCH", "/channels/{channel_id}/messages/{message_id}")
CREATE_CHANNEL = ("POST", "/guilds/{guild_id}/channels")


async def kinds(bot: ParleyBot, table_id: int = 1) -> list[str]:
    """The kinds of a table's events, in order."""
    return [e.kind.value for e in await bot.tables.events(table_id)]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Errors logged with a traceback (an unexpected error somewhere)."""
    return [r.getMessage() for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]


async def test_assigning_someone_not_in_the_server_is_answered(
    seminar: Seminar, parley: ParleyBot, caplog: pytest.LogCaptureFixture
) -> None:
    """A member option naming a user who left the server gets a private answer, no crash."""
    s = seminar
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    gone = s.fake.add_user("gone")
    del s.fake.guild.members[gone.id]  # left the server; Discord resolves a user, no member
    with caplog.at_level(logging.ERROR):
        record = await s.slash(s.prof, "session assign", {"member": gone, "delegation": "us"})
        text = await answer_containing(s.fake, record, "refused")
    assert record.ephemeral and answered_once(record)
    assert "gone" in text and "not a member of this server" in text, text
    assert "bad_argument" in text
    assert "member_assigned" not in await kinds(parley)
    assert tracebacks(caplog) == []


async def test_assigning_a_bot_is_refused_and_logged(seminar: Seminar, parley: ParleyBot) -> None:
    """/session assign naming a bot (Parley itself or another) is refused: bots cannot play."""
    s = seminar
    await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    other_bot = s.fake.add_user("dicebot", bot=True)
    for target in (s.fake.bot, other_bot):
        record = await s.slash(
            s.prof, "session assign", {"member": target, "delegation": "us", "role": "head"}
        )
        text = answer(s.fake, record)
        assert record.ephemeral and "bad_argument" in text, text
        assert "/session seat" in text
    assert "member_assigned" not in await kinds(parley)
    assert (await kinds(parley)).count("action_refused") == 2


@pytest.mark.parametrize("tables", ["99999999999999999999999", "²", "1,²"])
async def test_table_numbers_discord_cannot_mean_are_refused(
    seminar: Seminar, parley: ParleyBot, caplog: pytest.LogCaptureFixture, tables: str
) -> None:
    """/session compare and export with a huge or non-decimal table number get a refusal."""
    s = seminar
    with caplog.at_level(logging.ERROR):
        compared = await s.slash(s.prof, "session compare", {"tables": tables})
        exported = await s.slash(s.prof, "session export", {"table": tables})
    for record in (compared, exported):
        text = answer(s.fake, record)
        assert record.ephemeral and "refused" in text, text
        assert "Something went wrong" not in text
    assert tracebacks(caplog) == []


async def test_opening_where_parley_cannot_post_is_refused(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """/session open in a channel where Parley may not send messages opens nothing and says
    which permission is missing (instead of "press Join" under no message at all)."""
    s = seminar
    s.fake.general.permission_overwrites.append(
        {"id": str(s.fake.bot.id), "type": 1, "allow": "0", "deny": str(Permission.SEND_MESSAGES)}
    )
    record = await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    text = answer(s.fake, record)
    assert record.ephemeral and "Send Messages" in text, text
    assert "Join" not in text
    assert await parley.tables.tables(str(s.fake.guild.id)) == []


async def test_opening_a_table_in_a_caucus_room_is_refused(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """/session open in a caucus room of an open table is refused (the room stays its
    table's); once that table has ended, the room left behind may hold a table."""
    s = seminar
    await start_with_two_heads(s)
    await s.fake.wait_for_message(None, lambda m: "Confidential brief: United States" in m.content)
    room = s.fake.channel_named("general-us")
    record = await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"}, channel=room)
    text = answer(s.fake, record)
    assert record.ephemeral and "caucus room" in text and "table_exists" in text, text
    assert [t.row.id for t in await parley.tables.tables(str(s.fake.guild.id))] == [1]
    offered = await s.slash(
        s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"}, channel=room
    )
    assert "is on the table" in answer(s.fake, offered), answer(s.fake, offered)
    await s.slash(s.prof, "session end")
    reopened = await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"}, channel=room)
    assert "is open" in answer(s.fake, reopened), answer(s.fake, reopened)


async def test_a_counter_offer_is_posted_even_if_the_old_one_cannot_be_edited(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Discord answers 503 to marking the replaced offer: the counter-offer, with its
    buttons, is still posted."""
    s = seminar
    message, _ = await standing_offer(s)
    s.fake.fail_next(*EDIT_MESSAGE, when=lambda p: p["message_id"] == str(message.id))
    record = await s.slash(
        s.carol, "offer", {"give": "dprk-liaison-access", "ask": "us-liaison-office"}
    )
    counter = int(answer(s.fake, record).split("#")[1].split(" ")[0])
    posted = await s.message_with(f"Offer #{counter}")
    assert f"parley:accept:1:{counter}" in [c.get("custom_id") for c in posted.iter_components()]
    assert [line for line in s.fake.failed if str(message.id) in line], "not edited"


async def test_an_agreement_is_announced_even_if_its_offer_cannot_be_edited(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Discord answers 503 to marking the agreed offer: the agreement is still announced."""
    s = seminar
    message, offer = await standing_offer(s)
    s.fake.fail_next(*EDIT_MESSAGE, when=lambda p: p["message_id"] == str(message.id))
    await s.click(s.carol, message, f"parley:accept:1:{offer}")
    await s.message_with("**Agreement**")
    assert [line for line in s.fake.failed if str(message.id) in line], "not edited"


async def test_caucus_rooms_discord_fails_to_create_are_reported(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Discord answers 503 to creating a caucus room: the channel is told, the table runs."""
    s = seminar
    s.fake.fail_next(*CREATE_CHANNEL)
    await start_with_two_heads(s)
    warning = await s.message_with("Discord did not open the caucus rooms")
    assert "503" in warning.content and "Manage Channels" not in warning.content
    await s.message_with("delegation is on move")
    brief = await s.slash(s.alice, "brief")
    assert "Your BATNA" in await answer_containing(s.fake, brief, "Your BATNA")


async def test_a_connection_dropped_while_opening_rooms_is_reported(
    seminar: Seminar, parley: ParleyBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops as a caucus room is created: the channel is told, the table
    runs on."""
    s = seminar
    request = parley.http.request
    dropped: list[str] = []

    async def dropping(route: Any, **kwargs: Any) -> Any:
        if not dropped and route.method == "POST" and route.url.endswith("/channels"):
            dropped.append(route.url)
            raise aiohttp.ServerDisconnectedError()
        return await request(route, **kwargs)

    monkeypatch.setattr(parley.http, "request", dropping)
    await start_with_two_heads(s)
    warning = await s.message_with("Discord did not open the caucus rooms")
    assert "ServerDisconnectedError" in warning.content, warning.content
    assert dropped
    await s.message_with("delegation is on move")


async def test_autocomplete_never_suggests_a_list_cut_short(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """With a long list typed, no suggestion is an item list cut at Discord's 100 characters
    (choosing one would name an item that does not exist)."""
    s = seminar
    await start_with_two_heads(s)
    typed = "us-travel-ban,us-humanitarian,dprk-liaison-access,dprk-family-reunions,dprk-remains,"
    record = await s.fake.autocomplete(s.alice, s.fake.general, "offer", {"give": typed}, "give")
    state = await parley.tables.state(1)
    known = {item.id for item in state.scenario.items}
    for choice in record.choices:
        assert len(choice["value"]) <= 100
        assert set(choice["value"].split(",")) <= known, choice["value"]


async def test_a_connection_dropped_mid_announcement_loses_nothing_after_it(
    seminar: Seminar,
    parley: ParleyBot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The connection drops while the replaced offer is edited: the counter-offer is still
    posted and nothing is logged as a bug."""
    s = seminar
    message, _ = await standing_offer(s)
    request = parley.http.request
    dropped: list[str] = []

    async def dropping(route: Any, **kwargs: Any) -> Any:
        if not dropped and route.method == "PATCH" and str(message.id) in route.url:
            dropped.append(route.url)
            raise aiohttp.ServerDisconnectedError()
        return await request(route, **kwargs)

    monkeypatch.setattr(parley.http, "request", dropping)
    with caplog.at_level(logging.ERROR):
        record = await s.slash(
            s.carol, "offer", {"give": "dprk-liaison-access", "ask": "us-liaison-office"}
        )
        counter = int(answer(s.fake, record).split("#")[1].split(" ")[0])
        await s.message_with(f"Offer #{counter}")
    assert dropped
    assert tracebacks(caplog) == []


async def test_the_offer_form_does_not_open_on_a_closed_table(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """/offer with no items after the close is refused (logged) instead of opening a form
    whose offer could never be tabled; before one's turn the form still opens."""
    s = seminar
    await start_with_two_heads(s)
    ahead = await s.slash(s.carol, "offer")  # the US is on move: drafting ahead is fine
    assert "Draft an offer" in answer(s.fake, ahead)
    await s.slash(s.prof, "session end")
    refused_before = (await kinds(parley)).count("action_refused")
    record = await s.slash(s.alice, "offer")
    text = answer(s.fake, record)
    assert record.ephemeral and "wrong_phase" in text and "Draft an offer" not in text, text
    assert (await kinds(parley)).count("action_refused") == refused_before + 1


async def test_item_lists_are_read_as_they_look(seminar: Seminar, parley: ParleyBot) -> None:
    """Capitals, a pasted zero-width space and semicolons or spaces between ids still name
    the items they look like."""
    s = seminar
    await start_with_two_heads(s)
    record = await s.slash(
        s.alice,
        "offer",
        {"give": "US-Liaison-Office\u200b; us-travel-ban", "ask": " dprk-liaison-access ,"},
    )
    assert "is on the table" in answer(s.fake, record), answer(s.fake, record)
    tabled = [e for e in await parley.tables.events(1) if e.kind.value == "offer_tabled"]
    data = tabled[-1].model_dump(mode="json")["data"]
    assert data["give"] == ["us-liaison-office", "us-travel-ban"]
    assert data["ask"] == ["dprk-liaison-access"]


async def test_a_table_whose_channel_refuses_parley_is_told_in_its_rooms(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Parley loses Send Messages in the table's channel mid-table: each caucus room is told
    once (moves are still answered and logged), and nothing more once it may post again."""
    s = seminar
    await start_with_two_heads(s)
    await s.message_with("delegation is on move")
    rooms = [s.fake.channel_named(name) for name in ("general-us", "general-dprk")]
    deny = {"id": str(s.fake.bot.id), "type": 1, "allow": "0"}
    s.fake.general.permission_overwrites.append({**deny, "deny": str(Permission.SEND_MESSAGES)})
    first = await s.slash(s.alice, "say", {"text": "Can anyone hear us?"})
    assert "refused" not in answer(s.fake, first)
    for room in rooms:
        notice = await s.message_with("cannot post in the table's channel", channel=room)
        assert f"<#{s.fake.general.id}>" in notice.content and "Send Messages" in notice.content
    await s.slash(s.alice, "say", {"text": "Still nobody?"})
    s.fake.general.permission_overwrites.pop()
    await s.slash(s.alice, "say", {"text": "Back again."})
    await s.message_with("Back again.")
    for room in rooms:
        notices = [m for m in s.fake.messages[room.id] if "cannot post" in m.content]
        assert len(notices) == 1, [m.content for m in notices]
    assert (await kinds(parley)).count("statement") == 3
