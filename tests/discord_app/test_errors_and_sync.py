"""The one error path, and where commands are synced."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import (
    Seminar,
    answer,
    answer_containing,
    make_seminar,
    settings_for,
    start_bot,
    start_with_two_heads,
    stop_bot,
    until,
)
from tests.fakediscord import FakeDiscord, Permission


async def test_an_unexpected_error_is_logged_and_answered_briefly(
    seminar: Seminar,
    parley: ParleyBot,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A bug inside a command: the user gets a short private message, the log a traceback."""
    s = seminar

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the disk is on fire")

    monkeypatch.setattr(parley.tables, "open", broken)
    with caplog.at_level(logging.ERROR, logger="parley.discord"):
        record = await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
    text = answer(s.fake, record)
    assert record.ephemeral and "Something went wrong" in text
    assert "disk is on fire" not in text
    assert any(r.exc_info and "disk is on fire" in str(r.exc_info[1]) for r in caplog.records)


async def test_commands_sync_to_the_configured_servers(seminar: Seminar) -> None:
    """With PARLEY_GUILD_IDS every command is synced to that server, with help text."""
    synced = seminar.fake.synced_commands[seminar.fake.guild.id]
    names = {c["name"] for c in synced}
    assert names == {
        "session",
        "join",
        "leave",
        "status",
        "brief",
        "items",
        "offer",
        "draft",
        "accept",
        "reject",
        "pass",
        "walkaway",
        "say",
        "practice",
    }
    session = next(c for c in synced if c["name"] == "session")
    assert int(session["default_member_permissions"]) == 1 << 5  # Manage Server
    subcommands = {o["name"] for o in session["options"]}
    assert {
        "open",
        "assign",
        "autoassign",
        "start",
        "pause",
        "resume",
        "extend",
        "inject",
        "undo",
        "end",
        "list",
        "status",
        "seat",
        "unseat",
    } <= subcommands
    for command in synced:
        assert command["description"]
        for option in command.get("options", []):
            assert option["description"], (command["name"], option["name"])
            for sub in option.get("options", []):
                assert sub["description"], (command["name"], option["name"], sub["name"])


async def test_commands_sync_globally_without_server_ids(fake: FakeDiscord, tmp_path: Path) -> None:
    """With no PARLEY_GUILD_IDS the commands are synced globally."""
    settings = settings_for(fake, tmp_path / "p.db").model_copy(update={"guild_ids": []})
    bot, task = await start_bot(settings, fake)
    try:
        assert {c["name"] for c in fake.synced_commands[None]} >= {"session", "offer"}
        assert fake.guild.id not in fake.synced_commands
    finally:
        await stop_bot(bot, task)


async def test_missing_channel_permissions_are_reported_in_the_channel(tmp_path: Path) -> None:
    """Without Manage Channels the table still starts and the channel is told how to fix it."""
    allowed = Permission.BOT_DEFAULT & ~Permission.MANAGE_CHANNELS & ~Permission.MANAGE_ROLES
    async with FakeDiscord(bot_permissions=allowed) as fake:
        bot, task = await start_bot(settings_for(fake, tmp_path / "p.db"), fake)
        try:
            s = make_seminar(fake)
            await start_with_two_heads(s)
            warning = await s.message_with("could not open the caucus rooms")
            assert "Manage Channels" in warning.content
            brief = await s.slash(s.alice, "brief")
            assert "Your BATNA" in await answer_containing(fake, brief, "Your BATNA")
            assert not [c for c in fake.channels.values() if c.name.startswith("general-")]
        finally:
            await stop_bot(bot, task)


async def test_a_dropped_gateway_connection_loses_nothing(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """The gateway drops mid-table: the bot reconnects and the next commands work."""
    s = seminar
    await start_with_two_heads(s)
    await s.slash(s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"})
    identified = s.fake.identify_count
    await s.fake.disconnect_bot(code=4000)

    def reconnected() -> bool:  # RESUME (op 6) or a fresh IDENTIFY
        resumed = any(f.get("op") == 6 for f in s.fake.gateway_received)
        return resumed or s.fake.identify_count > identified

    await until(reconnected, "the bot to reconnect", timeout=10)
    accepted = await s.slash(s.carol, "accept")
    assert "Accepted" in answer(s.fake, accepted), answer(s.fake, accepted)
    await s.message_with("**Agreement**")
