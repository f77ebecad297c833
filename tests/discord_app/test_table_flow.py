"""A whole table in a (fake) Discord server, driven through the real discord.py client."""

from __future__ import annotations

import re

from bot.discord_app.app import ParleyBot
from bot.domain.events import EventKind
from tests.discord_app.conftest import Seminar, answer, message_text


async def open_and_seat(s: Seminar) -> None:
    """Open a Hanoi table, everyone joins by button, the facilitator seats four players."""
    record = await s.slash(
        s.prof,
        "session open",
        {"scenario": "hanoi-2019", "sequencing": "singapore", "title": "Section A"},
    )
    assert record.ephemeral and "Table #" in answer(s.fake, record)
    opening = await s.message_with("Press **Join**")
    join_id = next(
        c["custom_id"]
        for c in opening.iter_components()
        if c.get("custom_id", "").startswith("parley:join:")
    )
    for player in (s.alice, s.bob, s.carol, s.dave, s.erin):
        joined = await s.click(player, opening, join_id)
        assert "You joined" in answer(s.fake, joined)
    for player, delegation, role in (
        (s.alice, "us", "head"),
        (s.bob, "us", "member"),
        (s.carol, "dprk", "head"),
        (s.dave, "dprk", "member"),
    ):
        record = await s.slash(
            s.prof, "session assign", {"member": player, "delegation": delegation, "role": role}
        )
        assert f"now {role}" in answer(s.fake, record), answer(s.fake, record)


async def started(s: Seminar) -> None:
    """A seated Hanoi table, started: the first turn's announcement is out."""
    await open_and_seat(s)
    await s.slash(s.prof, "session start")
    await s.message_with("delegation is on move")


async def test_whole_table_from_open_to_end(seminar: Seminar, parley: ParleyBot) -> None:
    """Open, join by button, assign, start, offer, accept by button, reject, end: all logged."""
    s = seminar
    await open_and_seat(s)
    started = await s.slash(s.prof, "session start")
    assert "started" in answer(s.fake, started)
    brief = await s.fake.wait_for_message(
        None, lambda m: "Confidential brief: United States" in m.content
    )
    us_room = s.fake.channel(brief.channel_id)
    assert us_room.name == "general-us"
    await s.message_with("Your BATNA", us_room)
    room_text = "\n".join(m.content for m in s.fake.channel_messages(us_room))
    assert "private caucus room" in room_text
    await s.message_with("the **United States** delegation is on move")

    offer = await s.slash(
        s.alice,
        "offer",
        {
            "give": "us-liaison-office",
            "ask": "dprk-liaison-access,dprk-family-reunions",
            "note": "A channel first.",
        },
    )
    assert "is on the table" in answer(s.fake, offer), answer(s.fake, offer)
    offer_message = await s.message_with("Offer #")
    accept_id = next(
        c["custom_id"]
        for c in offer_message.iter_components()
        if c.get("custom_id", "").startswith("parley:accept:")
    )
    accepted = await s.click(s.carol, offer_message, accept_id)
    assert "accepted" in answer(s.fake, accepted), answer(s.fake, accepted)
    await s.message_with("**Agreement**")

    counter = await s.slash(
        s.alice, "offer", {"give": "us-security-assurance", "ask": "dprk-dmz-pullback"}
    )
    assert "is on the table" in answer(s.fake, counter), answer(s.fake, counter)
    rejected = await s.slash(s.dave, "reject", {"reason": "Not yet."})
    assert "Rejected" in answer(s.fake, rejected)
    said = await s.slash(s.bob, "say", {"text": "We will be back."})
    assert "on the record" in answer(s.fake, said)
    ended = await s.slash(s.prof, "session end")
    assert "closed" in answer(s.fake, ended)
    await s.message_with("The table is closed")
    # each delegation's score goes to its own room only, never to the channel
    for room, own, other in (
        ("general-us", "United States", "DPRK"),
        ("general-dprk", "DPRK", "United States"),
    ):
        score = await s.message_with("your score is", s.fake.channel_named(room))
        assert f"**{own}**" in score.content and other not in score.content
    assert not [m for m in s.public() if "your score is" in m.content]
    export = await parley.tables.export(1)
    kinds = [e["kind"] for e in export["events"]]
    assert kinds[0] == EventKind.TABLE_OPENED
    assert kinds.count("member_joined") == 5 and kinds.count("member_assigned") == 4
    for kind in (
        "table_started",
        "offer_tabled",
        "offer_accepted",
        "agreement_reached",
        "offer_rejected",
        "statement",
        "table_closed",
    ):
        assert kind in kinds, kind
    assert [e["seq"] for e in export["events"]] == list(range(1, len(kinds) + 1))
    assert [a["item"] for a in export["outcome"]["agreed"]] == [
        "us-liaison-office",
        "dprk-liaison-access",
        "dprk-family-reunions",
    ]
    assert export["events"][kinds.index("offer_accepted")]["actor"]["name"] == "carol"


async def test_a_pass_and_whose_turn_it_is_now_are_one_message(seminar: Seminar) -> None:
    """A pass and whose turn it is now are one message, pinging only the delegation on move."""
    s = seminar
    await started(s)
    passed = await s.slash(s.alice, "pass")
    assert "pass" in answer(s.fake, passed).lower(), answer(s.fake, passed)
    posted = await s.message_with("United States passes")
    said, turn = posted.content.split("\n")
    assert said == "⏭️ United States passes."
    assert "Round 1: the **DPRK** delegation is on move" in turn
    allowed = (posted.allowed_mentions or {}).get("users", [])
    assert sorted(map(str, allowed)) == sorted(str(u.id) for u in (s.carol, s.dave))
    on_move = [m for m in s.public() if "**DPRK** delegation is on move" in (m.content or "")]
    assert on_move == [posted]


async def test_an_offer_and_whose_turn_it_is_now_are_one_message(seminar: Seminar) -> None:
    """An offer's message pings the delegation that must answer it, above its buttons."""
    s = seminar
    await started(s)
    await s.slash(s.alice, "pass")
    await s.message_with("the **DPRK** delegation is on move")
    offered = await s.slash(s.carol, "offer", {"give": "dprk-remains"})
    said = answer(s.fake, offered)
    found = re.search(r"Offer #(\d+) is on the table", said)
    assert found, said
    seq = found.group(1)
    posted = await s.message_with(f"Offer #{seq} from DPRK")
    assert [e.get("title", "") for e in posted.embeds] == [f"Offer #{seq} from DPRK"]
    turn = posted.content or ""
    assert "the **United States** delegation is on move" in turn, turn
    buttons = [c.get("custom_id", "") for c in posted.iter_components()]
    assert f"parley:accept:1:{seq}" in buttons, buttons
    allowed = (posted.allowed_mentions or {}).get("users", [])
    assert sorted(map(str, allowed)) == sorted(str(u.id) for u in (s.alice, s.bob))
    since = [m for m in s.public() if m.id >= posted.id]
    assert since == [posted], [m.content for m in since]
    # it is the offer's message, remembered as such: answering the offer marks it there,
    # and takes away the turn line, stale by then
    await s.slash(s.alice, "reject")
    await s.fake.wait_for(lambda item: item is posted and not list(posted.iter_components()))
    assert "Rejected" in message_text(posted), message_text(posted)
    assert not posted.content, posted.content


async def test_the_joint_statement_follows_the_basket_order_not_the_order_agreed(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """The closing post lists the agreed text basket by basket in the scenario's order."""
    s = seminar
    await started(s)
    await s.slash(s.alice, "pass")
    await s.message_with("the **DPRK** delegation is on move")
    # first the remains (the last basket, ungated), then an item pair of relations (the first)
    offered = await s.slash(s.carol, "offer", {"give": "dprk-remains"})
    assert "is on the table" in answer(s.fake, offered), answer(s.fake, offered)
    accepted = await s.slash(s.alice, "accept")
    assert "Accepted." in answer(s.fake, accepted), answer(s.fake, accepted)
    offered = await s.slash(
        s.carol, "offer", {"give": "dprk-liaison-access", "ask": "us-liaison-office"}
    )
    assert "is on the table" in answer(s.fake, offered), answer(s.fake, offered)
    accepted = await s.slash(s.alice, "accept")
    assert "Accepted." in answer(s.fake, accepted), answer(s.fake, accepted)
    assert list((await parley.tables.state(1)).agreed) == [
        "dprk-remains",
        "dprk-liaison-access",
        "us-liaison-office",
    ]
    await s.slash(s.prof, "session end")

    closing = await s.message_with("**Joint statement**")
    lines = closing.content.splitlines()
    heading = lines.index("**Joint statement**")
    statement = lines[heading + 1 : lines.index("", heading)]
    scenario = (await parley.tables.state(1)).scenario
    relations = [f"- {scenario.item(i).text}" for i in ("dprk-liaison-access", "us-liaison-office")]
    assert statement[0] == "__New US-DPRK relations__", statement
    assert sorted(statement[1:3]) == sorted(relations), statement
    assert statement[3:] == [
        "__Recovery of POW/MIA remains__",
        f"- {scenario.item('dprk-remains').text}",
    ], statement
