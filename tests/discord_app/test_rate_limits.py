"""Discord's rate limits: answers stay prompt, announcements come late but all, in order."""

from __future__ import annotations

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import Seminar, answer, until
from tests.discord_app.test_table_flow import started
from tests.fakediscord import RateLimits, Window

STATEMENTS = 12


async def test_a_busy_table_over_discords_limits_loses_no_announcement(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """With a channel's messages and the bot's global budget both exhausted, every move is
    answered, and every announcement is posted in the log's order once the limits allow."""
    s = seminar
    await started(s)
    s.fake.rate_limits = RateLimits(
        routes={
            ("POST", "/channels/{channel_id}/messages"): Window(3, 0.2),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}"): Window(3, 0.2),
        },
        global_=Window(2, 0.3),
    )
    for n in range(STATEMENTS):
        speaker = (s.alice, s.bob, s.carol, s.dave)[n % 4]
        record = await s.slash(speaker, "say", {"text": f"Statement {n} for the record."})
        assert "⛔" not in answer(s.fake, record), answer(s.fake, record)

    def posted() -> list[int]:
        return [
            int(m.content.split("Statement ")[1].split()[0])
            for m in s.public()
            if "Statement " in (m.content or "")
        ]

    await until(lambda: len(posted()) == STATEMENTS, "every statement announced", timeout=30)
    assert posted() == list(range(STATEMENTS))
    assert any(line.endswith("(global)") for line in s.fake.rate_limited), s.fake.rate_limited
    assert not any("/interactions/" in line for line in s.fake.rate_limited)
