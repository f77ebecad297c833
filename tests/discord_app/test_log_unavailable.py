"""When the log cannot be written: a private warning, nothing public, nothing changed."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import Seminar, answer
from tests.discord_app.test_table_flow import started

#: The start of the private answer when the log cannot take an action.
NOT_RECORDED = "⚠️ The log could not record this"


async def pragma(bot: ParleyBot, statement: str) -> int:
    """Run a statement on the bot's own writing connection, between its transactions."""

    def run(db: sqlite3.Connection) -> int:
        row = db.execute(statement).fetchone()
        return int(row[0]) if row else 0

    return await bot.tables.store.on_writer(run)


async def fill_the_disk(bot: ParleyBot) -> None:
    """Let the log's file grow no more: no free page left, and no new page allowed."""
    await pragma(bot, "VACUUM")  # hands free pages back, so a write must allocate
    assert await pragma(bot, "PRAGMA freelist_count") == 0
    assert await pragma(bot, "PRAGMA page_size") <= 4096  # a 4,000-character statement overflows
    pages = await pragma(bot, "PRAGMA page_count")
    assert await pragma(bot, f"PRAGMA max_page_count = {pages}") == pages


async def test_a_full_disk_refuses_privately_and_changes_nothing(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Disk full: a private warning, nothing posted or logged; with room again it goes through."""
    s = seminar
    await started(s)
    text = "opening-words " + " ".join(f"point{i:03d}" for i in range(440))
    text = text[:3980].rsplit(" ", 1)[0] + " closing-words"
    before = await parley.tables.state(1)
    await fill_the_disk(parley)

    failed = await s.slash(s.bob, "say", {"text": text})
    said = answer(s.fake, failed)
    assert failed.ephemeral and all(m.ephemeral for m in failed.followups)
    assert NOT_RECORDED in said and "disk is full" in said and "nothing changed" in said, said
    after = await parley.tables.state(1)
    assert (after.last_seq, after.turn, after.deadline) == (
        before.last_seq,
        before.turn,
        before.deadline,
    )
    assert "statement" not in [e.kind.value for e in await parley.tables.events(1)]

    await pragma(parley, "PRAGMA max_page_count = 1073741823")
    again = await s.slash(s.bob, "say", {"text": text})
    assert "on the record" in answer(s.fake, again), answer(s.fake, again)
    # Announcements go out in order: the failed statement, had it been posted, would be
    # there before this one's last part.
    await s.message_with("closing-words")
    assert len([m for m in s.public() if "opening-words" in m.content]) == 1
    now = await parley.tables.state(1)
    assert now.last_seq == before.last_seq + 1 and now.turn == before.turn == "us"
    logged = [e for e in await parley.tables.events(1) if e.kind.value == "statement"]
    assert [e.data.text for e in logged] == [text]


async def read_only(bot: ParleyBot, db: Path) -> Callable[[], Awaitable[None]]:
    """The bot's connection may read but not write; returns how to undo that."""
    await pragma(bot, "PRAGMA query_only = 1")

    async def undo() -> None:
        await pragma(bot, "PRAGMA query_only = 0")

    return undo


async def locked(bot: ParleyBot, db: Path) -> Callable[[], Awaitable[None]]:
    """Another program holds the log's write lock; returns how to let it go."""
    writer = bot.tables.store._writer
    patience, writer._busy_timeout_ms = writer._busy_timeout_ms, 0  # give up at once
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")

    async def undo() -> None:
        other.execute("ROLLBACK")
        other.close()
        writer._busy_timeout_ms = patience

    return undo


@pytest.mark.parametrize(
    ("block", "why"),
    [(read_only, "cannot be written"), (locked, "locked by another program")],
    ids=["read-only", "locked"],
)
async def test_a_pass_the_log_cannot_take_leaves_the_turn_where_it_was(
    seminar: Seminar,
    parley: ParleyBot,
    tmp_path: Path,
    block: Callable[[ParleyBot, Path], Awaitable[Callable[[], Awaitable[None]]]],
    why: str,
) -> None:
    """Log read-only or locked: /pass is warned privately, the turn stays; then /pass works."""
    s = seminar
    await started(s)
    before = await parley.tables.state(1)
    release = await block(parley, tmp_path / "parley.db")
    try:
        failed = await s.slash(s.alice, "pass")
    finally:
        await release()
    said = answer(s.fake, failed)
    assert failed.ephemeral and NOT_RECORDED in said and why in said, said
    after = await parley.tables.state(1)
    assert (after.last_seq, after.turn, after.deadline) == (
        before.last_seq,
        before.turn,
        before.deadline,
    )
    assert after.turn == "us"

    passed = await s.slash(s.alice, "pass")
    assert "Passed" in answer(s.fake, passed), answer(s.fake, passed)
    await s.message_with("the **DPRK** delegation is on move")
    # the turn announcement follows the pass: the failed one was never posted before it
    assert len([m for m in s.public() if "United States passes" in m.content]) == 1
    assert (await parley.tables.state(1)).last_seq == before.last_seq + 1
