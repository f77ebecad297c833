"""Sharding: `parley run` as several shard processes splitting the servers over one log."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import discord
import pytest
from pydantic import ValidationError

from bot import paths
from bot.cli import _bad_settings
from bot.discord_app import app
from bot.discord_app.app import ParleyBot, ShardedParleyBot, make_bot, point_at
from bot.discord_app.shards import Shards, shard_of
from bot.domain import commands as c
from bot.settings import Settings, parse_shard_ids
from bot.store import Store
from tests.discord_app.conftest import (
    ManualClock,
    answer,
    make_seminar,
    settings_for,
    settle,
    start_with_two_heads,
    stop_bot,
    until,
)
from tests.fakediscord import FakeChannel, FakeDiscord, FakeGuild, FakeUser

ROOT = Path(__file__).resolve().parents[2]

#: The shards of the bot, and what each of the two processes runs.
SHARD_COUNT = 4
FIRST, SECOND = "0-1", "2-3"

#: Seconds a seated counterpart thinks on its turn: the clock's beat in these tests.
THINK = 1.5


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(autouse=True)
def no_shard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shard settings of whoever runs the tests do not leak into them."""
    for name in ("PARLEY_SHARD_COUNT", "PARLEY_SHARD_IDS"):
        monkeypatch.delenv(name, raising=False)


# -- the pure parts ------------------------------------------------------------------------


def test_shards_follow_discords_rule() -> None:
    """A server's shard is (guild_id >> 22) % count; tables outside a server are shard 0's."""
    guild = (123 << 22) | 4567  # the low bits do not count
    assert shard_of(guild, 4) == 123 % 4 == 3
    mine = Shards.of(4, [2, 3])
    assert mine.runs(str(guild)) and not mine.runs(str(1 << 22))
    assert not mine.runs(None) and Shards.of(4, [0]).runs(None)
    assert Shards.of(2).ids == (0, 1) and Shards.of(4, [2, 3]).describe() == "shards 2, 3 of 4"
    with pytest.raises(ValueError, match="do not fit"):
        Shards.of(2, [2])


def test_make_bot_shards_only_when_asked() -> None:
    """Without PARLEY_SHARD_COUNT `parley run` gets the plain client; with it the sharded one."""
    plain = make_bot(settings())
    assert type(plain) is ParleyBot and not isinstance(plain, discord.AutoShardedClient)
    assert plain.runs_tables_of("42") and plain.runs_tables_of(None)

    every = make_bot(settings(shard_count=2))
    assert isinstance(every, ShardedParleyBot) and isinstance(every, discord.AutoShardedClient)
    assert (every.shard_count, every.shard_ids) == (2, [0, 1])

    some = make_bot(settings(shard_count=4, shard_ids=[2, 3]))
    assert (some.shard_count, some.shard_ids) == (4, [2, 3])  # type: ignore[attr-defined]
    assert some.runs_tables_of(str(2 << 22)) and not some.runs_tables_of(str(1 << 22))


def test_make_bot_tunes_the_garbage_collector_only_when_asked() -> None:
    """make_bot hands tune_gc (what `parley run` asks for) to the plain and sharded bot."""
    assert make_bot(settings(), tune_gc=True).tune_gc
    assert make_bot(settings(shard_count=2), tune_gc=True).tune_gc
    assert not make_bot(settings()).tune_gc
    assert not make_bot(settings(shard_count=2)).tune_gc


async def test_identifies_keep_to_the_rate_limit_per_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shards identify at once in different buckets (max_concurrency) and 5 s apart in one."""
    bot = ShardedParleyBot(settings(shard_count=4))
    bot._identify_buckets = 2
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(app.asyncio, "sleep", sleep)
    for shard in range(4):
        await bot.before_identify_hook(shard, initial=shard == 0)
    assert len(waits) == 2 and all(4 < wait <= app.IDENTIFY_INTERVAL_SECONDS for wait in waits)


async def test_a_sharded_clock_leaves_other_shards_tables_alone(
    fake: FakeDiscord, tmp_path: Path, clock: ManualClock
) -> None:
    """A bot on one shard of two expires its own server's turn, never that of a table in a
    server of the other shard, even when an action pokes its clock about that table."""
    own = fake.shard_of(fake.guild, 2)
    elsewhere = fake.add_guild("Elsewhere", shard=(1 - own, 2))
    config = settings_for(fake, tmp_path / "parley.db", shard_count=2, shard_ids=[own])
    point_at(config)
    bot = ShardedParleyBot(config, now=clock)
    bot._connection.guild_ready_timeout = 0.05
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect(reconnect=True))
    try:
        await fake.wait_for_shards(2, [own], commands=True, timeout=10)
        assert fake.live_shards == [(own, 2)]
        await until(lambda: bot.clock._started, "the clock's first tick")
        s = make_seminar(fake)
        await start_with_two_heads(s)  # a table here, through Discord
        # a table of the other shard's server, as its own process would log it
        prof = c.Who(user_id="1", name="prof", facilitator=True)
        there = (
            await bot.tables.open(prof, "hanoi-2019", guild_id=str(elsewhere.id), channel_id="7")
        ).table_id
        for n, delegation in enumerate(("us", "dprk"), start=2):
            who = c.Who(user_id=str(n), name=delegation)
            await bot.tables.act(there, c.Join(who=who))
            await bot.tables.act(
                there, c.Assign(who=prof, member=who, delegation=delegation, role="head")
            )
        await bot.tables.act(there, c.Start(who=prof))
        here = await bot.tables.table_in(str(fake.guild.id), str(fake.general.id))
        clock.advance(minutes=10)  # both turns are up
        bot.clock.poke(there)  # one tick looks at both tables
        bot.clock.poke(here)
        await s.message_with("Time is up for United States")
        assert there not in bot.clock._due  # never even read for its deadline
        assert "turn_expired" not in [e.kind.value for e in await bot.tables.events(there)]
    finally:
        await stop_bot(bot, task)


# -- settings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "ids", "expected"),
    [
        ("4", "0-3", (4, [0, 1, 2, 3])),
        ("4", "0,2", (4, [0, 2])),
        ("4", "1", (4, [1])),
        ("8", " 6-7, 0 ,2-3", (8, [0, 2, 3, 6, 7])),
        ("4", "1,1,0-1", (4, [0, 1])),
        ("4", None, (4, None)),
        ("4", "", (4, None)),
        (None, None, (None, None)),
        ("", "", (None, None)),
    ],
)
def test_good_shard_settings(
    monkeypatch: pytest.MonkeyPatch,
    count: str | None,
    ids: str | None,
    expected: tuple[int | None, list[int] | None],
) -> None:
    """PARLEY_SHARD_COUNT and PARLEY_SHARD_IDS accept ranges, commas and blanks (unset)."""
    set_shard_env(monkeypatch, count, ids)
    found = settings()
    assert (found.shard_count, found.shard_ids) == expected


def set_shard_env(monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str | None) -> None:
    for name, value in (("PARLEY_SHARD_COUNT", count), ("PARLEY_SHARD_IDS", ids)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)


@pytest.mark.parametrize(
    ("count", "ids", "problem"),
    [
        (None, "0-3", "PARLEY_SHARD_IDS: set PARLEY_SHARD_COUNT too"),
        ("0", None, "PARLEY_SHARD_COUNT: 0 shards cannot run anything"),
        ("-1", None, "PARLEY_SHARD_COUNT: '-1' is not a number of shards"),
        ("four", "0", "PARLEY_SHARD_COUNT: 'four' is not a number of shards"),
        ("4", "2-5", "PARLEY_SHARD_IDS: shards 4, 5 are out of range: "),
        ("1", "1", "PARLEY_SHARD_IDS: shard 1 is out of range: PARLEY_SHARD_COUNT=1 means only"),
        ("4", "3-1", "PARLEY_SHARD_IDS: the range '3-1' runs backwards; write it 1-3"),
        ("4", "a", "PARLEY_SHARD_IDS: 'a' is not a shard id or a range of them"),
        ("4", "0-", "PARLEY_SHARD_IDS: '0-' is not a shard id"),
        ("4", "1.5", "PARLEY_SHARD_IDS: '1.5' is not a shard id"),
        ("4", ",", "PARLEY_SHARD_IDS: name at least one shard"),
    ],
)
def test_bad_shard_settings_are_refused_in_words(
    monkeypatch: pytest.MonkeyPatch, count: str | None, ids: str | None, problem: str
) -> None:
    """A bad shard setting is refused with one line naming the setting and what would do."""
    set_shard_env(monkeypatch, count, ids)
    with pytest.raises(ValidationError) as refused:
        settings()
    assert problem in _bad_settings(refused.value)
    assert len(refused.value.errors()) == 1  # ids are not judged against a broken count


def test_parley_run_refuses_bad_shard_settings_on_one_line(tmp_path: Path) -> None:
    """`parley run` with shard ids and no count exits 2 with one clear line, no traceback."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PARLEY_"))}
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env={**clean, "DISCORD_TOKEN": "x", "PARLEY_SHARD_IDS": "0-1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        "parley run: bad settings (environment or .env): PARLEY_SHARD_IDS: set "
        "PARLEY_SHARD_COUNT too (the number of shards over all processes, e.g. "
        "PARLEY_SHARD_COUNT=4); shard ids count from 0 up to it"
    ]


# -- two processes, one log ----------------------------------------------------------------


@dataclass
class Section:
    """A server on one shard, with a text channel and a facilitator."""

    guild: FakeGuild
    room: FakeChannel
    prof: FakeUser
    shard: int


def section(fake: FakeDiscord, name: str, shard: int) -> Section:
    guild = fake.add_guild(name, shard=(shard, SHARD_COUNT))
    room = fake.add_channel(name.lower().replace(" ", "-"), guild=guild)
    prof = fake.add_user(f"prof-{shard}", manage_guild=True, guild=guild)
    assert fake.shard_of(guild, SHARD_COUNT) == shard
    return Section(guild, room, prof, shard)


class Processes:
    """`parley run` processes with their shard ids, all on one log, pointed at the fake."""

    def __init__(self, fake: FakeDiscord, db: Path, folder: Path) -> None:
        self.fake, self.db, self.folder = fake, db, folder
        self.running: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def log(self, shard_ids: str) -> str:
        return (self.folder / f"parley-{shard_ids}.log").read_text()

    async def start(self, *shard_ids: str) -> None:
        """Start one process per shard range; wait until all their shards are ready."""
        identified = self.fake.identify_count
        for ids in shard_ids:
            self.running[ids] = self._spawn(ids)
        shards = [shard for ids in shard_ids for shard in parse_shard_ids(ids)]
        await self.fake.wait_for_shards(
            SHARD_COUNT, shards, min_identifies=identified + 1, commands=True, timeout=30
        )

    def _spawn(self, shard_ids: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            **self.fake.env(),
            "PARLEY_DB": str(self.db),
            "PARLEY_SHARD_COUNT": str(SHARD_COUNT),
            "PARLEY_SHARD_IDS": shard_ids,
            "PARLEY_RULES_DIR": str(paths.RULES_DIR),
            "PARLEY_PROMPTS_DIR": str(paths.PROMPTS_DIR),
            "PARLEY_LOG_LEVEL": "INFO",
        }
        env.pop("PARLEY_GUILD_IDS", None)  # global commands, as a sharded bot has
        log = (self.folder / f"parley-{shard_ids}.log").open("ab")
        self._logs.append(log)
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    async def stop(self, shard_ids: str) -> None:
        """SIGTERM one process and wait until it has exited cleanly (its writes are in)."""
        process = self.running.pop(shard_ids)
        process.send_signal(signal.SIGTERM)
        # The fake runs in this event loop: wait in a thread so it can still answer.
        code = await asyncio.to_thread(process.wait, 15)
        assert code == 0, self.log(shard_ids)

    def kill_all(self) -> None:
        for process in self.running.values():
            process.kill()
            process.wait(10)
        for log in self._logs:
            log.close()


@contextmanager
def processes(fake: FakeDiscord, db: Path, folder: Path) -> Iterator[Processes]:
    running = Processes(fake, db, folder)
    try:
        yield running
    finally:
        running.kill_all()


async def command(fake: FakeDiscord, s: Section, name: str, options: dict[str, Any]) -> str:
    """A facilitator's slash command in the section's channel; the whole answer."""
    record = await settle(fake, await fake.slash(s.prof, s.room, name, options))
    # Discord delivers a server's interactions to its shard's connection only.
    assert record.shard == (s.shard, SHARD_COUNT)
    return answer(fake, record)


async def seat_two_counterparts(fake: FakeDiscord, s: Section, title: str) -> None:
    """A Hanoi table in the section, both delegations played by counterparts, started."""
    opened = await command(fake, s, "session open", {"scenario": "hanoi-2019", "title": title})
    assert "refused" not in opened.lower(), opened
    for delegation in ("us", "dprk"):
        seated = await command(
            fake,
            s,
            "session seat",
            {"delegation": delegation, "strategy": "boulware", "think_seconds": THINK},
        )
        assert f"counterpart now plays {delegation}" in seated, seated
    started = await command(fake, s, "session start", {})
    assert "refused" not in started.lower(), started


class Log:
    """The shared log, read from the test while the processes write it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def table_in(self, s: Section) -> int:
        (row,) = [r for r in await self.store.tables() if r.guild_id == str(s.guild.id)]
        return row.id

    async def last_seq(self, table_id: int) -> int:
        events = await self.store.events(table_id)
        return events[-1].seq

    async def clock_steps(self, table_id: int, after: int) -> int:
        """How many times the clock acted on a table after event ``after``: nobody else acts
        once both seats are counterparts, and each step is one transaction (one time)."""
        return len({e.at for e in await self.store.events(table_id) if e.seq > after})

    async def wait_for_steps(self, table_id: int, after: int, steps: int) -> None:
        async def enough() -> bool:
            return await self.clock_steps(table_id, after) >= steps

        await until(enough, f"{steps} clock step(s) on table {table_id}", timeout=20)


async def test_two_shard_processes_split_the_servers_over_one_log(tmp_path: Path) -> None:
    """Two `parley run` processes (shards 0-1 and 2-3 of 4) on one log each answer their own
    servers' commands, write gap-free to the shared log, and run only their own clocks."""
    db = tmp_path / "parley.db"
    async with FakeDiscord(max_concurrency=SHARD_COUNT) as fake:
        a = section(fake, "Section A", shard=1)  # the first process's second shard
        b = section(fake, "Section B", shard=2)  # the second process's first shard
        with processes(fake, db, tmp_path) as run:
            # One after the other, as the README says (and two processes creating a fresh
            # log at the same instant can find it locked).
            await run.start(FIRST)
            await run.start(SECOND)
            assert fake.live_shards == [(i, SHARD_COUNT) for i in range(SHARD_COUNT)]
            # Each process answers the commands of its own server (checked in `command`).
            await seat_two_counterparts(fake, a, "Section A")
            await seat_two_counterparts(fake, b, "Section B")
            async with await Store.open(db) as store:
                log = Log(store)
                ta, tb = await log.table_in(a), await log.table_in(b)
                assert ta != tb
                started = {t: await log.last_seq(t) for t in (ta, tb)}
                for table_id in (ta, tb):  # each table's counterparts play on their own
                    await log.wait_for_steps(table_id, started[table_id], 1)
                await run.stop(FIRST)
                await run.stop(SECOND)

                # The second process alone: it sees the first's table open in the log, but
                # never moves it, while its own table goes on. Two steps of its own table
                # are THINK apart, so the other table's counterpart was due before the second.
                a_left = await log.last_seq(ta)
                b_left = await log.last_seq(tb)
                await run.start(SECOND)
                with pytest.raises(RuntimeError, match="shard"):
                    await fake.slash(a.prof, a.room, "status")  # no one runs shard 1 now
                await log.wait_for_steps(tb, b_left, 2)
                assert await log.last_seq(ta) == a_left

                # The first process back: it moves its own table again; with the second
                # stopped, it never moves the second's table.
                await run.start(FIRST)
                await log.wait_for_steps(ta, a_left, 1)
                await run.stop(SECOND)
                a_now, b_left = await log.last_seq(ta), await log.last_seq(tb)
                await log.wait_for_steps(ta, a_now, 2)
                assert await log.last_seq(tb) == b_left
                await run.stop(FIRST)

                for table_id in (ta, tb):  # both processes wrote; each table's log has no gap
                    seqs = [e.seq for e in await store.events(table_id)]
                    assert seqs == list(range(1, len(seqs) + 1))
                    actors = {e.actor.user_id for e in await store.events(table_id) if e.actor}
                    assert {"counterpart:us", "counterpart:dprk"} <= actors
        assert fake.unhandled == [] and fake.server_errors == []
    for ids, shards in ((FIRST, "shards 0, 1 of 4"), (SECOND, "shards 2, 3 of 4")):
        text = (tmp_path / f"parley-{ids}.log").read_text()
        assert f"running {shards}" in text and "Traceback" not in text, text
