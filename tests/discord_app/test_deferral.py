"""A quick answer is the interaction's response itself; a slow one is deferred first
("thinking", privately) and follows, so Discord's three seconds are never missed."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.discord_app import replies
from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import Seminar, answer, answered, until
from tests.discord_app.test_table_flow import started


async def test_a_quick_answer_is_the_response_itself(seminar: Seminar, parley: ParleyBot) -> None:
    """/pass on a quiet table is answered in the response (type 4), privately."""
    s = seminar
    await started(s)
    record = await s.slash(s.alice, "pass")
    await until(lambda: answered(s.fake, record), "the answer")
    assert record.callback_type == 4 and record.ephemeral and not record.followups


async def test_a_slow_answer_is_deferred_then_follows(
    seminar: Seminar, parley: ParleyBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the log is held up, /pass is deferred privately, then answered in a follow-up."""
    s = seminar
    await started(s)
    monkeypatch.setattr(replies, "DEFER_AFTER_SECONDS", 0.05)
    started_unit, gate = threading.Event(), threading.Event()

    def hold(db: object) -> None:  # the writer thread busy: writes queue up behind it
        started_unit.set()
        gate.wait(10)

    held = asyncio.ensure_future(parley.tables.store.on_writer(hold))
    assert await asyncio.to_thread(started_unit.wait, 10)
    try:
        record = await s.slash(s.alice, "pass")
        deadline = asyncio.get_running_loop().time() + 5
        while record.callback_type is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        assert record.callback_type == 5 and record.ephemeral and not record.followups
    finally:
        gate.set()
    await held
    await until(lambda: answered(s.fake, record), "the follow-up")
    assert record.followups and "pass" in answer(s.fake, record).lower()


async def test_a_burst_of_actions_edits_the_status_message_at_most_twice(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Four passes in quick succession: the status message is edited at most at once and
    once more a moment later, with the table as the last pass left it (not four times)."""
    s = seminar
    await started(s)
    status_id = int((await parley.tables.places(1))["status"])
    await until(lambda: not parley._background, "the start's announcements")
    edits_before = len(s.fake.message(status_id).edits)
    for head in (s.alice, s.carol, s.alice, s.carol):
        record = await s.slash(head, "pass")
        await until(lambda record=record: answered(s.fake, record), "the pass")
    round_now = (await parley.tables.state(1)).round

    def shows_last() -> bool:
        embeds = s.fake.message(status_id).embeds or []
        return any(f"Round {round_now} of" in str(e) for e in embeds)

    await until(shows_last, "the status message to show the last pass")
    await until(lambda: not parley._background, "the last status edit")
    assert 1 <= len(s.fake.message(status_id).edits) - edits_before <= 2
