"""Restart safety: `parley run` killed mid-table, and clocks read back after a restart."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import IO

from bot import paths
from bot.discord_app.app import ParleyBot
from bot.domain import commands as c
from bot.scenarios import ScenarioLibrary
from bot.service import Tables
from bot.settings import Settings
from bot.store import Store
from tests.discord_app.conftest import (
    ManualClock,
    Seminar,
    answer,
    make_seminar,
    move_clock,
    settings_for,
    settle,
    start_bot,
    start_with_two_heads,
    stop_bot,
)
from tests.fakediscord import FakeDiscord
from tests.test_store import seat

ROOT = Path(__file__).resolve().parents[2]


def start_parley(fake: FakeDiscord, db: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """`parley run` as a real process pointed at the fake."""
    env = {
        **os.environ,
        **fake.env(),
        "PARLEY_DB": str(db),
        "PARLEY_GUILD_IDS": str(fake.guild.id),
        "PARLEY_RULES_DIR": str(paths.RULES_DIR),
        "PARLEY_PROMPTS_DIR": str(paths.PROMPTS_DIR),
        "PARLEY_LOG_LEVEL": "INFO",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def test_killed_bot_carries_on_after_restart(fake: FakeDiscord, tmp_path: Path) -> None:
    """After SIGKILL and a restart the table goes on where it was and old buttons work."""
    db = tmp_path / "parley.db"
    log_path = tmp_path / "parley.log"
    s = make_seminar(fake)
    with log_path.open("wb") as log:
        first = start_parley(fake, db, log)
        try:
            await fake.wait_for_ready(commands=True, timeout=20)
            await s.slash(s.prof, "session open", {"scenario": "hanoi-2019"})
            for player in (s.alice, s.carol):
                await s.slash(player, "join")
            await s.slash(
                s.prof, "session assign", {"member": s.alice, "delegation": "us", "role": "head"}
            )
            await s.slash(
                s.prof, "session assign", {"member": s.carol, "delegation": "dprk", "role": "head"}
            )
            await s.slash(s.prof, "session start")
            offered = await s.slash(
                s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"}
            )
            assert "is on the table" in answer(fake, offered)
            offer_message = await s.message_with("Offer #")
            await s.message_with("the **DPRK** delegation is on move")
            identified = fake.identify_count
        finally:
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
        second = start_parley(fake, db, log)
        try:
            await fake.wait_for_ready(min_identifies=identified + 1, commands=True, timeout=20)
            refused = await s.slash(s.alice, "pass")  # still the DPRK's turn
            assert "not_your_turn" in answer(fake, refused), answer(fake, refused)
            accept_id = next(
                c["custom_id"]
                for c in offer_message.iter_components()
                if c.get("custom_id", "").startswith("parley:accept:")
            )
            clicked = await settle(fake, await fake.click(s.carol, offer_message, accept_id))
            assert "accepted" in answer(fake, clicked), answer(fake, clicked)
            await s.message_with("**Agreement**")
        finally:
            # The fake runs in this event loop: wait in a thread so it can still answer.
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 15) == 0, log_path.read_text()
    async with await Store.open(db) as store:
        kinds = [e.kind.value for e in await store.events(1)]
    assert kinds[-3:] == ["action_refused", "offer_accepted", "agreement_reached"]
    assert "Traceback" not in log_path.read_text()
    assert "stopping on a signal" in log_path.read_text()
    assert "garbage collector tuned" in log_path.read_text()  # as `parley run` does


async def played_then_stopped(
    fake: FakeDiscord, tmp_path: Path, clock: ManualClock
) -> tuple[Settings, Seminar]:
    """A started Hanoi table (the US on move) whose bot has stopped; the log stays."""
    settings = settings_for(fake, tmp_path / "parley.db")
    s = make_seminar(fake)
    bot, task = await start_bot(settings, fake, now=clock)
    try:
        await start_with_two_heads(s)
        await s.message_with("the **United States** delegation is on move")
    finally:
        await stop_bot(bot, task)
    return settings, s


async def test_a_deadline_set_before_a_restart_expires_after_it(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """The new bot reads the turn's deadline back from the log and expires it on time."""
    clock = ManualClock()
    settings, s = await played_then_stopped(fake, tmp_path, clock)
    clock.advance(minutes=5)  # away for half the turn: the deadline has not passed
    bot, task = await start_bot(settings, fake, now=clock)
    try:
        move_clock(bot, clock, minutes=5)
        await s.message_with("Time is up for United States")
        await s.message_with("the **DPRK** delegation is on move")
        kinds = [e.kind.value for e in await bot.tables.events(1)]
        assert "deadline_extended" not in kinds  # back in time: no fresh clock
        assert kinds.count("turn_expired") == 1
    finally:
        await stop_bot(bot, task)


async def test_a_long_outage_gives_the_turn_a_fresh_clock_once(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """Back long after the deadline: one fresh-clock message, no expiries, same turn."""
    clock = ManualClock()
    settings, s = await played_then_stopped(fake, tmp_path, clock)
    clock.advance(minutes=5 * 60)  # thirty turns' worth of time away
    bot, task = await start_bot(settings, fake, now=clock)
    try:
        fresh = await s.message_with("Parley was away past the deadline")
        assert "**United States** delegation gets a fresh clock" in fresh.content
        state = await bot.tables.state(1)
        assert state.turn == "us" and state.round == 1
        assert state.deadline == clock() + timedelta(minutes=10)
        bot.clock.poke()  # another look changes nothing: the clock has not moved since
        # A barrier: the US's own pass is announced after anything the clock posted.
        passed = await s.slash(s.alice, "pass")
        assert "Passed" in answer(fake, passed), answer(fake, passed)
        await s.message_with("⏭️ United States passes.")
        public = [m.content for m in s.public()]
        assert sum("Parley was away" in text for text in public) == 1
        assert not [text for text in public if "Time is up" in text]
        events = await bot.tables.events(1)
        extended = [e for e in events if e.kind.value == "deadline_extended"]
        assert [e.data.reason for e in extended] == ["outage"]
        assert "turn_expired" not in [e.kind.value for e in events]
    finally:
        await stop_bot(bot, task)


async def test_a_restart_schedules_every_open_table_without_replaying_them(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """Forty open tables: the clock's first look reads their wake-ups from the table rows
    (no table's log is folded), and one due turn still expires on time."""
    db = tmp_path / "parley.db"
    clock = ManualClock()
    async with await Store.open(db) as store:
        service = Tables(store, ScenarioLibrary(), clock=clock)
        ids = [await seat(service, channel=f"room-{n}") for n in range(40)]
        assert (await service.act(ids[0], c.Pass(who=c.Who(user_id="alice", name="a")))).ok
        due = {tid: await service.next_wakeup(tid) for tid in ids}
    bot, task = await start_bot(settings_for(fake, db), fake, now=clock)
    try:
        await asyncio.wait_for(bot.clock.ready.wait(), timeout=10)
        assert bot.tables.cached == []  # nothing replayed to schedule them
        assert bot.clock._due == due
        move_clock(bot, clock, minutes=11)  # past the first table's deadline (10 minutes)
        await asyncio.wait_for(_expired(bot, ids[0]), timeout=10)
    finally:
        await stop_bot(bot, task)


async def _expired(bot: ParleyBot, table_id: int) -> None:
    """Wait until the table's turn has expired in its log."""
    while True:
        kinds = [e.kind.value for e in await bot.tables.events(table_id)]
        if "turn_expired" in kinds:
            return
        await asyncio.sleep(0.02)
