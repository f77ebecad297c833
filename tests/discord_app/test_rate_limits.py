"""Discord's rate limits: answers stay prompt, announcements come late but all, in order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.discord_app.app import ParleyBot
from bot.discord_app.pacing import Pace, server_of
from bot.discord_app.publish import (
    STATUS_EVERY_SECONDS,
    STATUS_GIVES_WAY_SECONDS,
    Publisher,
    _StatusEdits,
)
from tests.discord_app.conftest import (
    Seminar,
    answer,
    make_seminar,
    settings_for,
    start_bot,
    start_with_two_heads,
    stop_bot,
    until,
)
from tests.discord_app.test_table_flow import started
from tests.fakediscord import FakeDiscord, RateLimits, Window

STATEMENTS = 12


def statements(s: Seminar) -> list[int]:
    """The numbers of the statements announced in the table's channel, in order (several
    may share a message)."""
    return [int(n) for m in s.public() for n in re.findall(r"Statement (\d+)", m.content or "")]


def statement_messages(s: Seminar) -> int:
    """How many of the channel's messages carry statements."""
    return sum(1 for m in s.public() if "Statement " in (m.content or ""))


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

    await until(lambda: len(statements(s)) == STATEMENTS, "every statement announced", timeout=30)
    assert statements(s) == list(range(STATEMENTS))
    # those that waited for the channel went out together: fewer messages than statements
    assert statement_messages(s) < STATEMENTS
    assert any(line.endswith("(global)") for line in s.fake.rate_limited), s.fake.rate_limited
    assert not any("/interactions/" in line for line in s.fake.rate_limited)


async def test_a_paced_bot_stays_under_the_global_limit(
    fake: FakeDiscord, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Paced a margin under the global limit (PARLEY_REQUESTS_PER_SECOND, as 45 is under
    Discord's 50), the bot is never refused a request for it, and its announcements still
    all arrive in order."""
    caplog.set_level(logging.INFO, logger="parley")
    settings = settings_for(fake, tmp_path / "parley.db", requests_per_second=9)
    bot, task = await start_bot(settings, fake)
    try:
        assert "paced at 9 a second" in caplog.text  # the log says so at the start
        s = make_seminar(fake)
        fake.rate_limits = RateLimits(routes={}, global_=Window(10, 1.0))
        await start_with_two_heads(s)
        for n in range(8):
            speaker = (s.alice, s.carol)[n % 2]
            await s.slash(speaker, "say", {"text": f"Statement {n} for the record."})
        await until(lambda: len(statements(s)) == 8, "every statement announced", timeout=30)
        assert statements(s) == list(range(8))
        assert fake.rate_limited == []
        assert bot.pace.waited > 0  # it did have to hold requests back
        # every request with the bot's token was paced, and no answer to an interaction
        with_token = [r for r in fake.requests if not r.route or "{token" not in r.route]
        assert bot.pace.started == len(with_token)
    finally:
        await stop_bot(bot, task)


# -- the pace itself, on a clock of the test's -----------------------------------------------


class Clock:
    """Time that moves only when the pace sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_a_pace_lets_no_more_than_its_limit_start_in_any_window() -> None:
    """Twelve starts at 5 a second: five at once, then each when the one five before it is
    a second old, so no second of the run holds more than five."""
    clock = Clock()
    pace = Pace(5, 1.0, now=lambda: clock.now, sleep=clock.sleep)
    starts = []
    for _ in range(12):
        await pace.start()
        starts.append(clock.now)
    assert starts == [0.0] * 5 + [1.0] * 5 + [2.0] * 2
    assert all(sum(1 for t in starts if a <= t < a + 1.0) <= 5 for a in starts)
    assert pace.waited == 2


async def test_a_pace_serves_waiting_starts_in_the_order_they_came() -> None:
    """Starts that wait are granted first come, first served."""
    clock = Clock()
    pace = Pace(1, 0.5, now=lambda: clock.now, sleep=clock.sleep)
    order: list[int] = []

    async def start(n: int) -> None:
        await pace.start()
        order.append(n)

    await asyncio.gather(*(start(n) for n in range(6)))
    assert order == list(range(6))
    assert clock.now == 2.5


def test_a_pace_needs_a_start_in_a_positive_time() -> None:
    """A pace of no starts, or in no time, is refused with what was asked."""
    with pytest.raises(ValueError, match=r"0/1\.0"):
        Pace(0, 1.0)
    with pytest.raises(ValueError, match="1/0"):
        Pace(1, 0)


async def test_a_status_edit_gives_way_while_requests_wait_for_the_budget() -> None:
    """A status edit is due a second after the last; while the bot's requests queue for its
    budget it waits a second more each time, until that would leave it ten seconds behind."""
    held = asyncio.Event()
    pace = Pace(1, 1.0, now=lambda: 0.0, sleep=lambda _: held.wait())
    publisher = Publisher(SimpleNamespace(pace=pace))  # type: ignore[arg-type]
    edits = _StatusEdits()
    assert publisher._status_wait(edits) == 0.0  # never edited: at once
    edits.last = time.monotonic() - 0.25
    assert publisher._status_wait(edits) == pytest.approx(0.75, abs=0.1)
    edits.last = time.monotonic() - 2
    assert publisher._status_wait(edits) == 0.0
    await pace.start()  # the budget's one start; the next one waits
    waiting = asyncio.create_task(pace.start())
    await asyncio.sleep(0)  # let it ask
    assert pace.busy
    assert publisher._status_wait(edits) == STATUS_EVERY_SECONDS
    edits.last = time.monotonic() - (STATUS_GIVES_WAY_SECONDS - 0.5)
    assert publisher._status_wait(edits) == 0.0
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    assert not pace.busy
    pace.close()


async def test_servers_take_turns_when_requests_wait_for_the_budget() -> None:
    """One server's burst does not hold another server's request behind all of it: waiting
    starts are served a server at a time, in order within each server."""
    clock = Clock()
    pace = Pace(1, 1.0, now=lambda: clock.now, sleep=clock.sleep)
    order: list[str] = []

    async def start(server: str, n: int) -> None:
        await pace.start(server)
        order.append(f"{server}{n}")

    await asyncio.gather(*(start("a", n) for n in range(4)), start("b", 0), start("c", 0))
    assert order == ["a0", "a1", "b0", "c0", "a2", "a3"]
    assert clock.now == 5.0 and pace.started == 6 and pace.waited == 5


async def test_a_cancelled_wait_gives_its_turn_to_the_next() -> None:
    """A request given up while it waits (its task cancelled) is not served; the rest are."""
    clock = Clock()
    pace = Pace(1, 1.0, now=lambda: clock.now, sleep=clock.sleep)
    await pace.start("a")
    dropped = asyncio.create_task(pace.start("a"))
    kept = asyncio.create_task(pace.start("b"))
    await asyncio.sleep(0)  # both are waiting now
    dropped.cancel()
    await kept
    assert dropped.cancelled() and pace.started == 2 and not pace.busy
    assert clock.now == 1.0  # the next second went to the request still waiting


def test_a_request_is_its_servers_turn() -> None:
    """A REST path is keyed by the server it concerns: named in it, or its channel's."""
    guilds = {10: 1, 11: 1}.get
    assert server_of("guilds/1/channels", guilds) == 1
    assert server_of("channels/10/messages", guilds) == 1
    assert server_of("channels/11/messages/5?x=1", guilds) == 1
    assert server_of("channels/99/messages", guilds) == ("channel", 99)  # a DM, uncached
    assert server_of("users/@me", guilds) is None
    assert server_of("applications/5/commands", guilds) is None


async def test_moves_held_back_by_the_channel_go_out_together_with_one_turn_line(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Passes that wait for the channel's limit are posted as one message: each move in
    order, then only whose turn it is now, pinging only that delegation."""
    s = seminar
    await started(s)
    s.fake.rate_limits = RateLimits(
        routes={("POST", "/channels/{channel_id}/messages"): Window(1, 0.5)}, global_=None
    )
    before = {m.id for m in s.public()}
    for player in (s.alice, s.carol, s.alice, s.carol, s.alice):
        record = await s.slash(player, "pass")
        assert "⛔" not in answer(s.fake, record), answer(s.fake, record)
    await until(
        lambda: sum(m.content.count("passes") for m in s.public() if m.id not in before) == 5,
        "every pass announced",
        timeout=30,
    )
    posted = [m for m in s.public() if m.id not in before and "passes" in m.content]
    assert len(posted) < 5  # some went out together
    moves = [side for m in posted for side in re.findall(r"(United States|DPRK) passes", m.content)]
    assert moves == ["United States", "DPRK", "United States", "DPRK", "United States"]
    for message in posted:  # each ends with whose turn it is then, once
        assert message.content.count("is on move") == 1, message.content
        assert "is on move" in message.content.splitlines()[-1], message.content
    last = posted[-1]
    assert "the **DPRK** delegation is on move" in last.content, last.content
    pinged = sorted(str(u) for u in (last.allowed_mentions or {}).get("users", []))
    assert pinged == sorted(str(u.id) for u in (s.carol, s.dave)), pinged


async def test_an_offer_after_held_moves_comes_after_them(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Moves held for the channel are posted before an offer that followed them, which keeps
    its own message (with its buttons), so the channel reads in the log's order."""
    s = seminar
    await started(s)
    s.fake.rate_limits = RateLimits(
        routes={("POST", "/channels/{channel_id}/messages"): Window(1, 0.5)}, global_=None
    )
    before = {m.id for m in s.public()}
    for player in (s.alice, s.carol, s.alice):
        await s.slash(player, "pass")
    offered = await s.slash(s.carol, "offer", {"give": "dprk-remains"})
    assert "is on the table" in answer(s.fake, offered), answer(s.fake, offered)
    offer = await s.message_with("Offer #", timeout=30)
    since = [m for m in s.public() if m.id not in before]
    passes = [i for i, m in enumerate(since) if "passes" in m.content]
    assert sum(since[i].content.count("passes") for i in passes) == 3
    assert since.index(offer) > max(passes), [m.content for m in since]
    assert any(c.get("custom_id", "").startswith("parley:accept:") for c in offer.iter_components())


async def test_a_move_that_cannot_be_announced_spares_the_others_held_with_it(
    seminar: Seminar, parley: ParleyBot, caplog: pytest.LogCaptureFixture
) -> None:
    """If one held-back move's announcement fails, it is logged, and the moves around it in
    the same batch are still posted."""
    s = seminar
    await started(s)
    announce = parley.publisher._announce

    async def failing(row: Any, state: Any, channel: Any, places: Any, event: Any) -> Any:
        if "Statement 2" in str(getattr(event.data, "text", "")):
            raise RuntimeError("a bug in one announcement")
        return await announce(row, state, channel, places, event)

    parley.publisher._announce = failing  # type: ignore[method-assign]
    s.fake.rate_limits = RateLimits(
        routes={("POST", "/channels/{channel_id}/messages"): Window(1, 0.5)}, global_=None
    )
    for n in range(5):
        await s.slash((s.alice, s.carol)[n % 2], "say", {"text": f"Statement {n} here."})
    await until(lambda: len(statements(s)) == 4, "the other statements announced", timeout=30)
    assert statements(s) == [0, 1, 3, 4]
    assert statement_messages(s) < 4  # those held back went together
    assert "announcing events" in caplog.text and "a bug in one announcement" in caplog.text


async def test_news_injected_after_held_moves_comes_after_them(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """An inject, which the publisher posts on its own, waits for the moves held before it:
    the channel reads in the log's order."""
    s = seminar
    await started(s)
    s.fake.rate_limits = RateLimits(
        routes={("POST", "/channels/{channel_id}/messages"): Window(1, 0.5)}, global_=None
    )
    before = {m.id for m in s.public()}
    for n in range(3):
        await s.slash((s.alice, s.carol)[n % 2], "say", {"text": f"Statement {n} here."})
    injected = await s.slash(s.prof, "session inject", {"event": "april-calendar"})
    assert "Posted" in answer(s.fake, injected)
    news = await s.message_with("📰", timeout=30)
    since = [m for m in s.public() if m.id not in before]
    said = [i for i, m in enumerate(since) if "Statement " in m.content]
    assert statements(s) == [0, 1, 2]
    assert since.index(news) > max(said), [m.content[:40] for m in since]
