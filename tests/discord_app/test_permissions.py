"""Who may do what: every refusal is private, names its rule, and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import (
    Seminar,
    answer,
    answer_containing,
    hanoi_library,
    make_seminar,
    settings_for,
    settle,
    start_bot,
    stop_bot,
)
from tests.discord_app.test_table_flow import started
from tests.fakediscord import FakeDiscord


async def table_facts(bot: ParleyBot) -> list[dict[str, Any]]:
    """Every event except refused attempts (which are logged by design)."""
    export = await bot.tables.export(1)
    return [e for e in export["events"] if e["kind"] != "action_refused"]


async def refused_count(bot: ParleyBot) -> int:
    return sum(1 for e in await bot.tables.events(1) if e.kind.value == "action_refused")


FACILITATOR_COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("session open", {"scenario": "hanoi-2019"}),
    ("session autoassign", {}),
    ("session start", {}),
    ("session pause", {}),
    ("session resume", {}),
    ("session extend", {"minutes": 5}),
    ("session inject", {"event": "april-calendar"}),
    ("session undo", {}),
    ("session end", {}),
    ("session list", {}),
    ("session status", {}),
]


async def test_every_facilitator_command_is_refused_to_a_player(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """A player trying each /session command gets a private not_facilitator refusal."""
    s = seminar
    await started(s)
    before = await table_facts(parley)
    refused = await refused_count(parley)
    commands = [
        *FACILITATOR_COMMANDS,
        ("session assign", {"member": s.bob, "delegation": "dprk", "role": "head"}),
    ]
    for name, options in commands:
        record = await s.slash(s.alice, name, options)
        text = answer(s.fake, record)
        assert record.ephemeral, name
        assert "not_facilitator" in text, (name, text)
    assert await table_facts(parley) == before
    assert await refused_count(parley) == refused + len(commands)


@pytest.mark.parametrize(
    ("who", "command", "options", "code"),
    [
        ("carol", "offer", {"give": "dprk-remains"}, "not_your_turn"),
        ("carol", "accept", {}, "not_your_turn"),
        ("dave", "reject", {}, "not_your_turn"),
        ("dave", "pass", {}, "not_your_turn"),
        ("carol", "walkaway", {}, "not_your_turn"),
        ("bob", "accept", {}, "role_not_allowed"),
        ("bob", "walkaway", {}, "role_not_allowed"),
        ("erin", "offer", {"give": "us-liaison-office"}, "not_a_member"),
        ("erin", "pass", {}, "not_a_member"),
        ("erin", "say", {"text": "hello"}, "not_a_member"),
        ("frank", "pass", {}, "not_a_member"),
        ("frank", "brief", {}, "not_a_member"),
        ("alice", "offer", {"give": "us-exercises", "ask": "dprk-dmz-pullback"}, "basket_closed"),
        ("alice", "offer", {"give": "dprk-remains"}, "wrong_giver"),
        ("alice", "offer", {"give": "no-such-item"}, "unknown_item"),
        ("alice", "accept", {}, "no_standing_offer"),
    ],
)
async def test_turn_actions_out_of_turn_by_wrong_role_or_non_member(
    seminar: Seminar,
    parley: ParleyBot,
    who: str,
    command: str,
    options: dict[str, Any],
    code: str,
) -> None:
    """Out of turn, by the wrong role, by a non-member, against the rules: refused privately."""
    s = seminar
    await started(s)
    user = getattr(s, who, None) or s.fake.add_player(who)
    before = await table_facts(parley)
    record = await s.slash(user, command, options)
    text = answer(s.fake, record)
    assert record.ephemeral
    assert code in text, text
    assert await table_facts(parley) == before


async def test_no_refusal_is_public(seminar: Seminar, parley: ParleyBot) -> None:
    """After a round of refusals nothing about them appears in the public channel."""
    s = seminar
    await started(s)
    await s.slash(s.carol, "offer", {"give": "dprk-remains"})
    await s.slash(s.erin, "say", {"text": "hi"})
    await s.slash(s.bob, "session end")
    public = "\n".join(m.content for m in s.public())
    assert "refused: `" not in public and "⛔" not in public


async def test_commands_outside_a_table_channel(seminar: Seminar, parley: ParleyBot) -> None:
    """A turn command in a channel with no table says so (unknown_table), privately."""
    s = seminar
    elsewhere = s.fake.add_channel("elsewhere")
    record = await s.slash(s.alice, "pass", channel=elsewhere)
    assert record.ephemeral and "unknown_table" in answer(s.fake, record)


async def test_briefs_reach_only_their_room(seminar: Seminar, parley: ParleyBot) -> None:
    """Each brief is in its own room only; rooms are readable by that delegation alone."""
    s = seminar
    await started(s)
    await s.fake.wait_for_message(None, lambda m: "Confidential brief: DPRK" in m.content)
    us_room = s.fake.channel_named("general-us")
    dprk_room = s.fake.channel_named("general-dprk")
    where = {
        "Confidential brief: United States": us_room.id,
        "Confidential brief: DPRK": dprk_room.id,
    }
    for message in s.fake.all_messages():
        for heading, room in where.items():
            if heading in message.content:
                assert message.channel_id == room, heading
    general = "\n".join(m.content for m in s.fake.channel_messages(s.channel))
    assert "Your private values" not in general and "BATNA" not in general
    view = 1 << 10
    for user, may_read in (
        (s.alice, us_room),
        (s.bob, us_room),
        (s.carol, dprk_room),
        (s.dave, dprk_room),
    ):
        for room in (us_room, dprk_room):
            sees = bool(s.fake.permissions_for(user, room) & view)
            assert sees == (room is may_read), (user.name, room.name)
    assert not s.fake.permissions_for(s.erin, us_room) & view
    assert s.fake.permissions_for(s.prof, us_room) & view
    # /brief answers only the asker, and only with their own delegation's brief
    record = await s.slash(s.carol, "brief")
    text = await answer_containing(s.fake, record, "Your BATNA")
    assert record.ephemeral and all(m.ephemeral for m in record.followups)
    assert "Confidential brief: the DPRK delegation" in text
    assert "Confidential brief: the United States delegation" not in text


async def test_moving_a_member_after_start_moves_their_room_access(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Reassigned mid-table, a player loses the old room and gains the new one."""
    s = seminar
    await started(s)
    await s.fake.wait_for_message(None, lambda m: "Confidential brief: DPRK" in m.content)
    us_room, dprk_room = s.fake.channel_named("general-us"), s.fake.channel_named("general-dprk")
    view = 1 << 10
    assert s.fake.permissions_for(s.bob, us_room) & view
    await s.slash(s.prof, "session assign", {"member": s.bob, "delegation": "dprk"})
    await s.fake.wait_for(
        lambda r: (
            getattr(r, "method", "") == "PUT"
            and f"/channels/{dprk_room.id}/permissions/{s.bob.id}" in r.path
            and r.status == 204
        )
    )
    await s.fake.wait_for(
        lambda r: (
            getattr(r, "method", "") == "DELETE"
            and f"/channels/{us_room.id}/permissions/{s.bob.id}" in r.path
        )
    )
    assert s.fake.permissions_for(s.bob, dprk_room) & view
    assert not s.fake.permissions_for(s.bob, us_room) & view


async def test_the_facilitator_role_passes_without_manage_server(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """With PARLEY_FACILITATOR_ROLE set, a holder of that role runs /session; others do not."""
    settings = settings_for(fake, tmp_path / "p.db", facilitator_role="Facilitator")
    bot, task = await start_bot(settings, fake)
    try:
        assistant = fake.add_user("assistant", roles=[fake.facilitator_role])
        student = fake.add_player("student")
        assert not fake.permissions_for(assistant, fake.general) & (1 << 5)  # no Manage Server
        opened = await settle(
            fake,
            await fake.slash(assistant, fake.general, "session open", {"scenario": "hanoi-2019"}),
        )
        assert "Table #1 is open" in answer(fake, opened), answer(fake, opened)
        refused = await settle(fake, await fake.slash(student, fake.general, "session end", {}))
        assert "not_facilitator" in answer(fake, refused)
    finally:
        await stop_bot(bot, task)


async def test_a_player_who_changed_sides_reads_only_their_new_room(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """Where players pick their side, switching sides never opens the old side's room."""
    library = hanoi_library(tmp_path, self_select=True)
    bot, task = await start_bot(settings_for(fake, tmp_path / "p.db"), fake, library)
    try:
        s = make_seminar(fake)
        await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
        await s.slash(s.alice, "join", {"delegation": "us"})
        await s.slash(s.carol, "join", {"delegation": "us"})
        moved = await s.slash(s.carol, "join", {"delegation": "dprk"})
        assert "dprk" in answer(fake, moved)
        await s.slash(s.prof, "session start")
        await fake.wait_for_message(None, lambda m: "Confidential brief: DPRK" in m.content)
        view = 1 << 10
        us_room = fake.channel_named("general-us")
        dprk_room = fake.channel_named("general-dprk")
        assert fake.permissions_for(s.carol, dprk_room) & view
        assert not fake.permissions_for(s.carol, us_room) & view
    finally:
        await stop_bot(bot, task)


async def test_the_facilitator_role_reads_every_caucus_room(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """With PARLEY_FACILITATOR_ROLE set, the role may read each room /session start opens."""
    settings = settings_for(fake, tmp_path / "p.db", facilitator_role="Facilitator")
    bot, task = await start_bot(settings, fake)
    try:
        s = make_seminar(fake)
        # holds the role but never acts on the table: only the role lets them in
        assistant = fake.add_user("assistant", roles=[fake.facilitator_role])
        await started(s)
        await fake.wait_for_message(None, lambda m: "Confidential brief: DPRK" in m.content)
        view = 1 << 10
        for room in (fake.channel_named("general-us"), fake.channel_named("general-dprk")):
            overwrite = room.overwrite_for(fake.facilitator_role.id)
            assert overwrite is not None and int(overwrite["allow"]) & view, room.name
            assert fake.permissions_for(assistant, room) & view, room.name
            assert not fake.permissions_for(s.erin, room) & view, room.name
    finally:
        await stop_bot(bot, task)
