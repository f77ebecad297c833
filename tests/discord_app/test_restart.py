"""Restart safety: `parley run` killed with SIGKILL mid-table, then started again."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

from bot import paths
from bot.store import Store
from tests.discord_app.conftest import answer, make_seminar, settle
from tests.fakediscord import FakeDiscord

ROOT = Path(__file__).resolve().parents[2]


def quick_rules(tmp_path: Path, turn_minutes: float) -> Path:
    """A copy of the Hanoi scenario with a short turn clock and no reminder."""
    rules = tmp_path / "rules"
    rules.mkdir()
    text = (paths.RULES_DIR / "hanoi-2019.toml").read_text(encoding="utf-8")
    text = text.replace("turn_minutes = 10", f"turn_minutes = {turn_minutes}")
    text = text.replace("reminder_minutes = 2", "reminder_minutes = 0")
    (rules / "hanoi-2019.toml").write_text(text, encoding="utf-8")
    return rules


def start_parley(
    fake: FakeDiscord, db: Path, rules: Path, log: IO[bytes]
) -> subprocess.Popen[bytes]:
    """`parley run` as a real process pointed at the fake."""
    env = {
        **os.environ,
        **fake.env(),
        "PARLEY_DB": str(db),
        "PARLEY_GUILD_IDS": str(fake.guild.id),
        "PARLEY_RULES_DIR": str(rules),
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
    """After SIGKILL and a restart the table goes on, old buttons work, a deadline expires."""
    rules = quick_rules(tmp_path, turn_minutes=0.1)  # six-second turns
    db = tmp_path / "parley.db"
    log_path = tmp_path / "parley.log"
    s = make_seminar(fake)
    with log_path.open("wb") as log:
        first = start_parley(fake, db, rules, log)
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
            identified = fake.identify_count
        finally:
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
        # The DPRK's turn (deadline set before the kill) runs out while or after we restart.
        second = start_parley(fake, db, rules, log)
        try:
            await fake.wait_for_ready(min_identifies=identified + 1, commands=True, timeout=20)
            await s.message_with("Time is up for DPRK", timeout=20)
            passed = await s.slash(s.alice, "pass")
            assert "Passed" in answer(fake, passed), answer(fake, passed)
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
    assert "turn_expired" in kinds and kinds[-2:] == ["offer_accepted", "agreement_reached"]
    assert "Traceback" not in log_path.read_text()
    assert "stopping on a signal" in log_path.read_text()
