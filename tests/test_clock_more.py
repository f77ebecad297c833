"""The turn clock and counterparts at the service level, with the time injected: a
counterpart whose seat could never pass, a counterpart's think time after a resume with
little time left, and the clock's reads of many tables when one of them cannot be read."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import paths
from bot.domain import commands as c
from bot.domain.errors import Refusal, RefusalCode
from bot.scenarios import ScenarioLibrary
from bot.service import Tables
from bot.store import Store

FAC = c.Who(user_id="fac", name="instructor", facilitator=True)
ALICE = c.Who(user_id="alice", name="alice")

#: The head's actions in the shipped Hanoi scenario, as its file spells them.
HEAD = 'head = ["offer", "accept", "reject", "pass", "walkaway", "say"]'


class Time:
    """The service's time: it moves only when a test moves it."""

    def __init__(self) -> None:
        self.at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def hanoi(tmp_path: Path, dprk_head: str | None = None, **rules: object) -> ScenarioLibrary:
    """A library with a copy of Hanoi: some ``[rules]`` changed, and the DPRK head's
    actions replaced by ``dprk_head`` (a TOML list) if given."""
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    text = (paths.RULES_DIR / "hanoi-2019.toml").read_text(encoding="utf-8")
    for key, value in rules.items():
        text, found = re.subn(rf"^{key} = .*$", f"{key} = {value!r}", text, count=1, flags=re.M)
        assert found == 1, key
    if dprk_head is not None:
        first = text.index(HEAD)
        second = text.index(HEAD, first + 1)  # the DPRK's (the US comes first)
        text = text[:second] + f"head = {dprk_head}" + text[second + len(HEAD) :]
    (folder / "hanoi-2019.toml").write_text(text, encoding="utf-8")
    return ScenarioLibrary(folder, paths.PROMPTS_DIR)


@pytest.fixture
def time() -> Time:
    return Time()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(tmp_path / "log.db") as opened:
        yield opened


async def against_counterpart(tables: Tables, think: float, channel: str = "room") -> int:
    """A Hanoi table: alice heads the US, a linear counterpart plays the DPRK; started."""
    tid = (await tables.open(FAC, "hanoi-2019", channel_id=channel)).table_id
    assign = c.Assign(who=FAC, member=ALICE, delegation="us", role="head")
    assert (await tables.act(tid, assign)).ok
    seat = c.Seat(who=FAC, delegation="dprk", strategy="linear", think_seconds=think)
    seated = await tables.act(tid, seat)
    assert seated.ok, seated.refusal
    assert (await tables.act(tid, c.Start(who=FAC))).ok
    return tid


async def test_a_counterpart_is_not_seated_where_its_head_may_not_pass(
    tmp_path: Path, store: Store, time: Time
) -> None:
    """A head that may not pass leaves a counterpart no fallback move: seating is refused."""
    library = hanoi(tmp_path, dprk_head='["accept", "walkaway", "say"]')
    tables = Tables(store, library, clock=time)
    tid = (await tables.open(FAC, "hanoi-2019", channel_id="room")).table_id
    seat = c.Seat(who=FAC, delegation="dprk", strategy="linear", think_seconds=5)
    seated = await tables.act(tid, seat)
    assert seated.refusal is not None and seated.refusal.code is RefusalCode.BAD_ARGUMENT
    assert "pass" in seated.refusal.message
    with pytest.raises(Refusal) as caught:  # nor is a practice table (checked up front)
        tables.check_practice("hanoi-2019", "us", "linear")
    assert caught.value.code is RefusalCode.BAD_ARGUMENT
    with pytest.raises(Refusal):
        await tables.practice(ALICE, "hanoi-2019", "us", "linear")
    tables.check_practice("hanoi-2019", "dprk", "linear")  # the US head may pass
    assert [t.row.id for t in await tables.tables()] == [tid]


async def test_a_counterpart_whose_head_may_not_offer_passes_without_refusals(
    tmp_path: Path, store: Store, time: Time
) -> None:
    """A counterpart picks only moves its seat's role allows: no refused attempt each turn."""
    library = hanoi(tmp_path, dprk_head='["accept", "pass", "walkaway", "say"]')
    tables = Tables(store, library, clock=time)
    tid = await against_counterpart(tables, think=5)
    offer = c.Offer(who=ALICE, give=("us-liaison-office",), ask=())
    assert (await tables.act(tid, offer)).ok
    time.advance(6)
    moved = await tables.tick(tid)
    assert moved.kinds in (["offer_accepted", "agreement_reached"], ["turn_passed"])
    assert (await tables.state(tid)).refusals == {}


async def test_a_counterpart_moves_before_a_resumed_turn_runs_out(
    tmp_path: Path, store: Store, time: Time
) -> None:
    """Resumed with less time left than its think time, a counterpart still moves in time."""
    tables = Tables(store, hanoi(tmp_path, turn_minutes=1, reminder_minutes=0.25), clock=time)
    tid = await against_counterpart(tables, think=50)
    assert (await tables.act(tid, c.Pass(who=ALICE))).ok  # the DPRK counterpart's turn
    time.advance(40)
    assert (await tables.act(tid, c.Pause(who=FAC))).ok  # 20 seconds left
    time.advance(600)
    assert (await tables.act(tid, c.Resume(who=FAC))).ok
    time.advance(19)
    ticked = await tables.tick(tid)
    moved = [e for e in ticked.events if e.actor and e.actor.user_id == "counterpart:dprk"]
    assert moved, ticked.kinds
    assert (await tables.state(tid)).turn == "us"
    time.advance(1)
    assert "turn_expired" not in (await tables.tick(tid)).kinds


async def test_the_clock_reads_every_tables_wake_up_though_one_table_cannot_be_read(
    tmp_path: Path, store: Store, time: Time
) -> None:
    """A table whose stored scenario no longer loads is left out of the clock's reading of
    every wake-up; the other tables' wake-ups are read."""
    tables = Tables(store, hanoi(tmp_path), clock=time)
    broken = await against_counterpart(tables, think=5, channel="one")
    fine = await against_counterpart(tables, think=5, channel="two")
    expected = await tables.next_wakeup(fine)
    await store.close()
    with sqlite3.connect(tmp_path / "log.db") as db:
        # a table opened by a newer Parley (a rule field this version does not know),
        # and one last written before wake-ups were kept with the table
        db.execute(
            "UPDATE tables SET scenario_json = replace(scenario_json, "
            '\'"turn_minutes":10.0\', \'"turn_minutes":10.0,"tempo":"fast"\')'
            " WHERE id = ?",
            (broken,),
        )
        db.execute("UPDATE tables SET summary_seq = NULL")
    async with await Store.open(tmp_path / "log.db") as again:
        tables = Tables(again, hanoi(tmp_path), clock=time)
        with pytest.raises(ValueError):
            await tables.state(broken)
        assert await tables.wakeups() == {fine: expected}
