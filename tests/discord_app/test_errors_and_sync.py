"""The one error path, and where commands are synced."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import Seminar, answer, settings_for, start_bot, stop_bot
from tests.fakediscord import FakeDiscord


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
        "accept",
        "reject",
        "pass",
        "walkaway",
        "say",
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
