"""Parley at scale: the targets of issue 11, each next to a baseline measured in the same run.

Run from the repository root (nothing is asserted; figures are printed)::

    .venv/bin/python bench/scale_bench.py                  # full run, several minutes
    .venv/bin/python bench/scale_bench.py --quick          # smoke run, well under a minute
    .venv/bin/python bench/scale_bench.py --only actions,replay

Four sections (``--only`` takes their names, comma-separated); the run ends with one
summary table, ``measure | baseline | Parley | ratio | target | met?``:

* ``discord``: 50 tables play at once through the loopback fake Discord
  (``bench/discord_bench.py``) while a facilitator sends ``/session status`` in their
  channels at a fixed interval; before that, the bare floor bot answers ``/ping`` in 50
  channels at once on the same fake. The floor's ``/ping`` final answer is the baseline of
  both ``/pass`` and ``/session status``.
* ``actions``: statements logged per second through ``Tables.act`` on a real SQLite file in
  a temporary folder, one table in sequence and 50 tables at once (``asyncio.gather``, each
  waiting for its answer before the next), against a bare ``sqlite3`` INSERT + COMMIT loop
  with the same durability (WAL, ``synchronous=NORMAL``, one commit per insert). Beside
  them, not targets: bare ``sqlite3`` writing 50 tables' rows with one commit per turn of
  all 50, the most a group commit can save with no Python at all; the rules alone (the same
  statements decided, numbered, folded and encoded, with no log and no event loop, see
  :func:`rules_alone`); and from those two, the most the 50-table row can reach while one
  core runs the rules and SQLite one after the other. The loops take turns
  for a few rounds and the median round of each counts, so a burst of other load on the
  machine hits all of them.
* ``replay``: a table of 100,000 events (``engine_bench.build_long_table``); a cold
  ``Tables.state`` on a fresh ``Tables`` in a fresh process (median of a few processes), with
  the process's ru_maxrss growth, beside the bare cost of reading those rows with
  ``sqlite3``.
* ``open``: 1,000 open, started hanoi-2019 tables with a few actions each, in 50 servers of
  20 channels, built through the service; then a fresh process starts the fake Discord
  (seeded with those servers and channels) and the real ``ParleyBot`` on that log and
  measures the seconds from the process's start (before its imports) to ``Clock.ready``,
  the peak RSS then, and the RSS once every open table's state has been read. The same
  process with an empty log is the baseline.

Only the service's public API is used (``open_tables``, ``Tables.open/act/state/close``,
``ParleyBot``, ``Clock.ready``) plus the helpers of ``engine_bench`` and ``discord_bench``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import math
import os
import platform
import queue
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import discord_bench
from discord_bench import CountingHandler, Sample, percentile
from engine_bench import FAC, PEOPLE, bare_inserts, bare_log, bare_turn, build_long_table, who

from bot.discord_app.app import ParleyBot, point_at
from bot.domain import commands as c
from bot.domain import engine
from bot.domain.events import Event
from bot.domain.state import Replay
from bot.scenarios import ScenarioLibrary
from bot.service import Outcome, Tables, open_tables
from bot.settings import Settings
from bot.store import event_row
from tests.fakediscord import FakeDiscord

SCENARIO = "hanoi-2019"
SEQUENCING = "singapore"
#: Delegation and role of the four players of a table, in seating order.
SEATS: tuple[tuple[str, str], ...] = (
    ("us", "head"),
    ("us", "member"),
    ("dprk", "head"),
    ("dprk", "member"),
)
SECTIONS = ("discord", "actions", "replay", "open")

#: Starts a measuring process from a small one, passing the time it was started: a process
#: started straight from this (large) one would inherit its ru_maxrss across fork and exec.
#: ``time.monotonic`` is CLOCK_MONOTONIC, the same clock in every process on Linux.
TIMED_LAUNCHER = (
    "import subprocess, sys, time; "
    "sys.exit(subprocess.call([*sys.argv[1:], '--spawned', repr(time.monotonic())]))"
)
#: Ids of the servers and channels seeded in the fake for the ``open`` section: counted
#: from here, so that the process building the log and the one measuring agree on them.
#: (Above the fake's own time-based snowflakes, so every later id stays unique.)
SEED_IDS_FROM = 1_900_000_000_000_000_000
#: Discord user ids of the players of the ``open`` section's tables.
USER_IDS_FROM = 1_800_000_000_000_000_000


@dataclass(frozen=True)
class Sizes:
    """How big each section is."""

    discord_tables: int
    discord_actions: int
    status_every: float
    action_tables: int
    actions_per_table: int
    one_table_actions: int
    bare_inserts: int
    rounds: int
    replay_events: int
    replay_runs: int
    open_tables: int
    channels_per_guild: int
    open_runs: int


FULL = Sizes(50, 60, 0.1, 50, 80, 4000, 5000, 5, 100_000, 3, 1000, 20, 3)
QUICK = Sizes(5, 8, 0.05, 5, 20, 200, 1000, 2, 2000, 1, 50, 10, 1)


@dataclass
class Row:
    """One line of the summary table."""

    measure: str
    baseline: str
    parley: str
    ratio: float | None
    target: str
    met: bool | None


# -- small helpers --------------------------------------------------------------------------


def mib(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.1f} MiB"


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"


def memory_kib() -> dict[str, int | None]:
    """This process's ru_maxrss, and VmHWM (peak) and VmRSS (now) from /proc, in KiB."""
    figures: dict[str, int | None] = {
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "hwm": None,
        "rss": None,
    }
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return figures
    for line in status.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            figures[name[2:].lower()] = int(value.split()[0])
    return figures


def peak_kib(figures: dict[str, Any], prefix: str) -> int:
    """The peak resident set: VmHWM where Linux tells it, else ru_maxrss."""
    hwm = figures.get(f"{prefix}_hwm")
    return int(hwm if hwm is not None else figures[f"{prefix}_maxrss"])


def run_child(args: list[str], timeout: float) -> dict[str, Any]:
    """Run this script with ``args`` in a fresh process; the JSON on its last output line."""
    command = [sys.executable, "-c", TIMED_LAUNCHER, sys.executable, __file__, *args]
    child = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if child.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args[:1])} failed ({child.returncode}):\n{child.stderr[-3000:]}"
        )
    lines = [line for line in child.stdout.splitlines() if line.strip()]
    figures: dict[str, Any] = json.loads(lines[-1])
    figures["stderr_lines"] = len(child.stderr.splitlines())
    return figures


def must(outcome: Outcome) -> Outcome:
    """The outcome of an action that has to be applied (else the bench is wrong)."""
    if outcome.refusal is not None:
        raise RuntimeError(f"refused: {outcome.refusal.message}")
    return outcome


async def seated_table(
    tables: Tables,
    facilitator: c.Who,
    players: Sequence[c.Who],
    guild_id: str,
    channel_id: str,
    title: str,
) -> Outcome:
    """Open a hanoi-2019 table, seat four players (join, assign) and start it."""
    opened = await tables.open(
        facilitator, SCENARIO, SEQUENCING, title, guild_id=guild_id, channel_id=channel_id
    )
    table_id = opened.table_id
    for player in players:
        must(await tables.act(table_id, c.Join(who=player)))
    for player, (delegation, role) in zip(players, SEATS, strict=True):
        assign = c.Assign(who=facilitator, member=player, delegation=delegation, role=role)
        must(await tables.act(table_id, assign))
    return must(await tables.act(table_id, c.Start(who=facilitator)))


# -- discord: /pass and /session status under 50 tables ----------------------------------------


def discord_section(sizes: Sizes, one_process: bool = False) -> list[Row]:
    """50 tables at once through the fake Discord, next to the floor bot's /ping; each
    bot in a process of its own unless ``one_process``."""
    n, actions = sizes.discord_tables, sizes.discord_actions
    where = "in this process" if one_process else "each in its own process"
    print(
        f"== discord: {n} tables x {actions} actions at once, a facilitator's /session status "
        f"every {sizes.status_every:g} s; the floor bot's /ping in {n} channels x {actions}; "
        f"the bots {where} (bench/discord_bench.py)"
    )
    logs = CountingHandler()
    logging.basicConfig(level=logging.WARNING, handlers=[logs], force=True)
    started = time.monotonic()
    levels = ((n, actions),)
    results, fake = asyncio.run(
        discord_bench.run(levels, sizes.status_every, not one_process, logs)
    )
    print(f"(section {time.monotonic() - started:.1f} s)")
    discord_bench.report(levels, results, fake, logs, one_process)
    floor = next(r for r in results if r.system == "floor")
    parley = next(r for r in results if r.system == "Parley")

    def finals(samples: Sequence[Sample], kind: str | None = None) -> tuple[list[float], int]:
        picked = [s for s in samples if kind is None or s.kind == kind]
        answered = [s.final for s in picked if s.final is not None]
        return answered, len(picked) - len(answered)

    pings, pings_lost = finals(floor.samples)
    sampled, _ = finals(floor.status_samples)
    sampled_p50 = percentile(sampled, 50)
    passes, passes_lost = finals(parley.samples, "pass")
    statuses, statuses_lost = finals(parley.status_samples)
    floor_p50, floor_p99 = percentile(pings, 50), percentile(pings, 99)
    pass_p99 = percentile(passes, 99)
    status_p50, status_p99 = percentile(statuses, 50), percentile(statuses, 99)
    print(
        f"raw: floor /ping final p50 {ms(floor_p50)}, p99 {ms(floor_p99)} ({len(pings)} "
        f"answered); Parley /pass p99 {ms(pass_p99)} ({len(passes)}); /session status p50 "
        f"{ms(status_p50)}, p99 {ms(status_p99)} ({len(statuses)}); unanswered: ping "
        f"{pings_lost}, pass {passes_lost}, status {statuses_lost}"
    )
    print()

    def row(measure: str, floor_v: float | None, parley_v: float | None, most: float, lost: int):
        ratio = None if not floor_v or parley_v is None else parley_v / floor_v
        met = None if ratio is None else ratio <= most and lost == 0 and pings_lost == 0
        return Row(measure, ms(floor_v), ms(parley_v), ratio, f"<= {most:g}x", met)

    return [
        row(f"/pass final p99, {n} tables, over /ping p99", floor_p99, pass_p99, 1.3, passes_lost),
        row(
            f"/session status final p50, {n} tables, over /ping p50",
            floor_p50,
            status_p50,
            1.5,
            statuses_lost,
        ),
        row(
            f"/session status final p99, {n} tables, over /ping p99",
            floor_p99,
            status_p99,
            1.3,
            statuses_lost,
        ),
        # Not a target: like for like, the floor's own facilitator probe (a /ping sent at the
        # same interval as the status samples, under the same load), on a few samples each.
        Row(
            f"(/session status p50 over the floor's sampled /ping p50, {len(statuses)} and "
            f"{len(sampled)} samples)",
            ms(sampled_p50),
            ms(status_p50),
            None if not sampled_p50 or status_p50 is None else status_p50 / sampled_p50,
            "-",
            None,
        ),
    ]


# -- actions: statements logged per second -------------------------------------------------------


async def actions_section(workdir: Path, sizes: Sizes) -> list[Row]:
    """Tables.act on one table and on many at once, against a bare sqlite3 loop."""
    n_tables, per_table = sizes.action_tables, sizes.actions_per_table
    one_n, bare_n, rounds = sizes.one_table_actions, sizes.bare_inserts, sizes.rounds
    print(
        f"== actions: statements through Tables.act on a real SQLite file; one table x "
        f"{one_n:,}, {n_tables} tables x {per_table} at once, bare sqlite3 x {bare_n:,}; "
        f"{rounds} interleaved rounds, median round"
    )
    players = [who(name) for name in PEOPLE]

    def say(i: int) -> c.Command:
        return c.Say(who=players[i % len(players)], text=f"Statement {i} for the record.")

    bare, row = bare_log(workdir / "bare.db")
    grouped, _ = bare_log(workdir / "bare-grouped.db")

    times: dict[str, list[float]] = {
        "sqlite3": [],
        "grouped": [],
        "rules": [],
        "one": [],
        "keyed": [],
        "many": [],
    }
    refused = 0
    started = time.monotonic()
    tables = await open_tables(str(workdir / "actions.db"), ScenarioLibrary())
    try:
        one = (await seated_table(tables, FAC, players, "g", "one", "One")).table_id
        many = [
            (await seated_table(tables, FAC, players, "g", f"many-{i}", f"Many {i}")).table_id
            for i in range(n_tables)
        ]
        setup = time.monotonic() - started
        # The rules' own work, on a copy of a seated table's fold outside the service
        alone = (await seated_table(tables, FAC, players, "g", "alone", "Alone")).table_id
        fold = Replay(await tables.store.scenario(alone), await tables.store.events(alone))
        seq = 0

        async def play(table_id: int, count: int, key: Callable[[int], str] | None) -> int:
            lost = 0
            for i in range(count):
                outcome = await tables.act(table_id, say(i), key=key(i) if key else None)
                lost += outcome.refusal is not None
            return lost

        for r in range(rounds):
            clock = time.perf_counter()
            bare_inserts(bare, seq + 1, bare_n, row)
            times["sqlite3"].append(time.perf_counter() - clock)

            clock = time.perf_counter()
            bare_grouped_inserts(grouped, r * per_table + 1, n_tables, per_table, row)
            times["grouped"].append(time.perf_counter() - clock)
            seq += bare_n

            clock = time.perf_counter()
            rules_alone(fold, alone, one_n, say)
            times["rules"].append(time.perf_counter() - clock)

            clock = time.perf_counter()
            refused += await play(one, one_n, None)
            times["one"].append(time.perf_counter() - clock)

            clock = time.perf_counter()
            refused += await play(one, one_n, lambda i, r=r: f"scale-{r}-{i}")
            times["keyed"].append(time.perf_counter() - clock)

            clock = time.perf_counter()
            lost = await asyncio.gather(*(play(t, per_table, None) for t in many))
            times["many"].append(time.perf_counter() - clock)
            refused += sum(lost)
    finally:
        await tables.close()
        bare.close()
        grouped.close()

    many_n = n_tables * per_table
    counts = {
        "sqlite3": bare_n,
        "grouped": many_n,
        "rules": one_n,
        "one": one_n,
        "keyed": one_n,
        "many": many_n,
    }
    rate = {k: counts[k] / statistics.median(v) for k, v in times.items()}
    labels = {
        "sqlite3": "bare sqlite3 INSERT + COMMIT",
        "grouped": f"bare sqlite3, {n_tables} tables, 1 commit/turn",
        "rules": "the rules alone, no log, no event loop",
        "one": "Tables.act, one table",
        "keyed": "Tables.act, one table, idempotency key",
        "many": f"Tables.act, {n_tables} tables at once",
    }
    for key, label in labels.items():
        rounds_rates = ", ".join(f"{counts[key] / t:,.0f}" for t in times[key])
        print(
            f"  {label:<40} {rate[key]:>9,.0f} /s  ({1e3 / rate[key]:.3f} ms each; "
            f"rounds {rounds_rates} /s)"
        )
    print(f"  (setup: {n_tables + 2} tables opened and seated in {setup:.1f} s; refused {refused})")
    each = {key: 1e6 / rate[key] for key in ("many", "rules", "grouped")}
    rest = each["many"] - each["rules"] - each["grouped"]
    print(
        f"  (where each action's {each['many']:.0f} µs go at {n_tables} tables: the rules "
        f"{each['rules']:.0f} µs, measured alone; SQLite's own writing about "
        f"{each['grouped']:.0f} µs, as bare with one commit a turn; the rest, {rest:.0f} µs, "
        "the event loop and the service's and the store's Python)"
    )
    trip = await thread_round_trip(one_n)
    print(
        f"  (for scale: a trip to a thread and back, an asyncio future answered from a thread "
        f"waiting on a queue, takes {trip * 1e6:.0f} µs here; a bare INSERT + COMMIT "
        f"{1e6 / rate['sqlite3']:.0f} µs)"
    )
    print()
    rows = []
    for key, most, what in (("one", 0.25, "one table"), ("many", 0.8, f"{n_tables} tables")):
        ratio = rate[key] / rate["sqlite3"]
        rows.append(
            Row(
                f"actions logged/s, {what}, over bare sqlite3",
                f"{rate['sqlite3']:,.0f} /s",
                f"{rate[key]:,.0f} /s",
                ratio,
                f">= {most:g}x",
                ratio >= most and refused == 0,
            )
        )
    # Not targets: what SQLite alone does with 50 tables' rows in group commits, and the
    # most the 50-table row can reach while one core runs both the rules and SQLite (see
    # bare_grouped_inserts and rules_alone)
    ceiling = 1 / (1 / rate["rules"] + 1 / rate["grouped"])
    rows.append(
        Row(
            f"(the rules alone then bare SQLite, {n_tables} tables, one core, over bare sqlite3)",
            f"{rate['sqlite3']:,.0f} /s",
            f"{ceiling:,.0f} /s",
            ceiling / rate["sqlite3"],
            "-",
            None,
        )
    )
    rows.append(
        Row(
            f"(bare sqlite3, {n_tables} tables, a commit per turn, over bare sqlite3)",
            f"{rate['sqlite3']:,.0f} /s",
            f"{rate['grouped']:,.0f} /s",
            rate["grouped"] / rate["sqlite3"],
            "-",
            None,
        )
    )
    return rows


def rules_alone(fold: Replay, table_id: int, count: int, say: Callable[[int], c.Command]) -> None:
    """What an action's unit runs besides the log, with no event loop and no store:
    ``count`` statements (the same commands as the timed loops), each decided by the rules,
    numbered and folded, the table's next wake-up worked out (its row's summary), its row
    encoded and the committed state copied. Any design of the log runs this much Python
    per action, on the one core that runs Python."""
    now = datetime.now(UTC)
    for i in range(count):
        new = engine.decide(fold.state, say(i), now)
        first = fold.state.last_seq + 1
        events = [Event.stamp(event, first + k, now) for k, event in enumerate(new)]
        for event in events:
            fold.apply(event)
        engine.next_wakeup(fold.state)
        for event in events:
            event_row(table_id, event)
        fold.state.snapshot()


def bare_grouped_inserts(
    db: sqlite3.Connection, first: int, tables: int, per_table: int, row: tuple[str, str, str]
) -> None:
    """The best a group commit can do at ``tables`` tables, with no Python beyond sqlite3's:
    ``per_table`` turns, each one INSERT per table (numbered from ``first``) and one COMMIT
    for them all. Each table's rows sit together in the log's key order, so each insert
    still dirties a page of its own, and a WAL commit costs about a page written per page
    dirtied: sharing commits saves little of what a commit costs."""
    at, actor, data = row
    for seq in range(first, first + per_table):
        bare_turn(db, [(table_id, seq, at, actor, data) for table_id in range(1, tables + 1)])


async def thread_round_trip(count: int) -> float:
    """Seconds per round trip from the event loop to a waiting thread and back (what a
    write handed to a writer thread pays on top of its commit)."""
    jobs: queue.SimpleQueue[asyncio.Future[None] | None] = queue.SimpleQueue()
    loop = asyncio.get_running_loop()

    def answer() -> None:
        while (future := jobs.get()) is not None:
            loop.call_soon_threadsafe(future.set_result, None)

    worker = threading.Thread(target=answer)
    worker.start()
    try:
        clock = time.perf_counter()
        for _ in range(count):
            future = loop.create_future()
            jobs.put(future)
            await future
        return (time.perf_counter() - clock) / count
    finally:
        jobs.put(None)
        worker.join()


# -- replay: a cold Tables.state of a long table -------------------------------------------------


def bare_read(db: Path) -> tuple[str, int, float, float]:
    """Read every row of the log's largest table with sqlite3 (best of 3), and again with
    every JSON text column parsed: the floor of any replay. (The table is found by size,
    so the bench does not depend on the store's schema.)"""
    con = sqlite3.connect(db)
    try:
        names = [n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        sizes = {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        biggest = max(sizes, key=lambda n: sizes[n])
        fetch = parse = math.inf
        for _ in range(3):
            clock = time.perf_counter()
            rows = con.execute(f'SELECT * FROM "{biggest}"').fetchall()
            fetch = min(fetch, time.perf_counter() - clock)
            clock = time.perf_counter()
            rows = con.execute(f'SELECT * FROM "{biggest}"').fetchall()
            for row in rows:
                for value in row:
                    if isinstance(value, str) and value[:1] in "{[":
                        json.loads(value)
            parse = min(parse, time.perf_counter() - clock)
            del rows
    finally:
        con.close()
    return biggest, sizes[biggest], fetch, parse


def replay_child(db: str, table_id: int) -> None:
    """In a fresh process: a cold Tables.state, its time and the memory it took."""

    async def run() -> dict[str, Any]:
        tables = await open_tables(db, ScenarioLibrary())
        try:
            before = memory_kib()
            clock = time.perf_counter()
            state = await tables.state(table_id)
            seconds = time.perf_counter() - clock
            after = memory_kib()
        finally:
            await tables.close()
        return {
            "seconds": seconds,
            "events": state.last_seq,
            **{f"before_{k}": v for k, v in before.items()},
            **{f"after_{k}": v for k, v in after.items()},
        }

    print(json.dumps(asyncio.run(run())))


def replay_section(workdir: Path, sizes: Sizes) -> list[Row]:
    """A table of ``replay_events`` events, replayed cold in fresh processes."""
    count, runs = sizes.replay_events, sizes.replay_runs
    print(f"== replay: a cold Tables.state of a {count:,}-event table, {runs} fresh process(es)")
    db = workdir / "long.db"
    table_id, made, written = asyncio.run(build_long_table(db, count))
    print(
        f"  built: made by the engine in {made:.1f} s, written in {written:.1f} s "
        f"(engine_bench.build_long_table); file {db.stat().st_size / 2**20:,.1f} MiB"
    )
    table, rows, fetch, parse = bare_read(db)
    print(
        f"  bare sqlite3: SELECT * of {table!r} ({rows:,} rows) {fetch:.3f} s; with every "
        f"JSON column parsed {parse:.3f} s (best of 3)"
    )
    figures = [run_child(["--replay-child", str(db), str(table_id)], 600) for _ in range(runs)]
    for f in figures:
        growth = peak_kib(f, "after") - peak_kib(f, "before")
        print(
            f"  fresh process: cold Tables.state {f['seconds']:.3f} s for {f['events']:,} events; "
            f"peak {mib(peak_kib(f, 'before'))} -> {mib(peak_kib(f, 'after'))} (+{mib(growth)}; "
            f"ru_maxrss {mib(f['before_maxrss'])} -> {mib(f['after_maxrss'])}), "
            f"RSS after {mib(f['after_rss'])}"
        )
    seconds = statistics.median(f["seconds"] for f in figures)
    growth_kib = statistics.median(peak_kib(f, "after") - peak_kib(f, "before") for f in figures)
    print()
    note = "" if count >= 100_000 else f" ({count:,} events: not the target's size)"
    return [
        Row(
            f"cold replay of {count:,} events: time{note}",
            f"{fetch:.3f} s (sqlite3 read)",
            f"{seconds:.3f} s",
            seconds / fetch if fetch > 0 else None,
            "<= 1 s",
            seconds <= 1.0,
        ),
        Row(
            f"cold replay of {count:,} events: memory{note}",
            "-",
            f"+{mib(growth_kib)}",
            None,
            "<= +150 MiB",
            growth_kib / 1024 <= 150,
        ),
    ]


# -- open: many open tables in one bot process ------------------------------------------------


def seed_places(fake: FakeDiscord, tables: int, per_guild: int) -> list[tuple[int, int]]:
    """Seed servers of ``per_guild`` channels in ``fake`` (not yet started), one channel per
    table; ids are counted from :data:`SEED_IDS_FROM`, so every process gets the same."""
    fake._snowflake = itertools.count(SEED_IDS_FROM).__next__  # type: ignore[method-assign]
    places = []
    for g in range(math.ceil(tables / per_guild)):
        guild = fake.add_guild(f"Seminar {g:03d}")
        for k in range(min(per_guild, tables - len(places))):
            places.append((guild.id, fake.add_channel(f"table-{k:02d}", guild=guild).id))
    return places


async def build_open_tables(db: Path, places: Sequence[tuple[int, int]]) -> None:
    """A started table in each place, with a few actions: two statements and a pass."""
    tables = await open_tables(str(db), ScenarioLibrary())
    facilitator = c.Who(user_id=str(USER_IDS_FROM), name="instructor", facilitator=True)
    at_once = asyncio.Semaphore(25)

    async def build(index: int, guild_id: int, channel_id: int) -> None:
        players = [
            c.Who(user_id=str(USER_IDS_FROM + 1 + 4 * index + k), name=f"t{index}-{d}-{r}")
            for k, (d, r) in enumerate(SEATS)
        ]
        async with at_once:
            started = await seated_table(
                tables, facilitator, players, str(guild_id), str(channel_id), f"Table {index}"
            )
            table_id, state = started.table_id, started.state
            assert state is not None
            must(await tables.act(table_id, c.Say(who=players[0], text="We came in good faith.")))
            on_move = players[[d for d, _ in SEATS].index(state.turn or "us")]
            must(await tables.act(table_id, c.Pass(who=on_move)))
            must(await tables.act(table_id, c.Say(who=players[3], text="The door is open.")))

    try:
        await asyncio.gather(*(build(i, g, ch) for i, (g, ch) in enumerate(places)))
    finally:
        await tables.close()


def open_child(db: str, tables: int, per_guild: int, spawned: float) -> None:
    """In a fresh process: the fake Discord and the real bot on ``db``; how soon the clock
    is ready and the memory then, and after every open table's state was read once."""
    figures: dict[str, Any] = {"imported_s": time.monotonic() - spawned}
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    def remember(prefix: str) -> None:
        figures.update({f"{prefix}_{k}": v for k, v in memory_kib().items()})

    async def run() -> None:
        fake = FakeDiscord()
        places = seed_places(fake, tables, per_guild)
        channels = {str(channel) for _, channel in places}
        await fake.start()
        try:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                discord_token=fake.token,
                db=db,
                guild_ids=[],  # commands synced globally, as for a bot in many servers
                api_base=fake.api_base,
                gateway_url=fake.gateway_url,
                requests_per_second=discord_bench.UNPACED,
            )
            point_at(settings)
            bot = ParleyBot(settings, ScenarioLibrary())
            bot._connection.guild_ready_timeout = 0.05  # as tests/discord_app/conftest.py

            async def until_ready() -> None:
                await bot.clock.ready.wait()
                figures["ready_s"] = time.monotonic() - spawned
                remember("ready")

            watcher = asyncio.create_task(until_ready())
            figures["fake_started_s"] = time.monotonic() - spawned
            await bot.login(fake.token)
            task = asyncio.create_task(bot.connect(reconnect=True))
            try:
                await asyncio.wait_for(watcher, 600)
                await fake.wait_for_ready(commands=True, timeout=600)
                await asyncio.wait_for(bot.wait_until_ready(), 600)
                figures["connected_s"] = time.monotonic() - spawned
                ids = await bot.tables.open_tables()
                clock = time.perf_counter()
                for table_id in ids:
                    await bot.tables.state(table_id)
                figures["read_all_s"] = time.perf_counter() - clock
                remember("read")
                figures["open_tables"] = len(ids)
                rows = [await bot.tables.table(table_id) for table_id in ids]
                figures["in_seeded_channels"] = sum(r.channel_id in channels for r in rows)
                figures["messages_posted"] = len(fake.all_messages())
            finally:
                await discord_bench.disconnect(bot, task)
        finally:
            await fake.stop()

    asyncio.run(run())
    print(json.dumps(figures))


async def _create_empty(db: Path) -> None:
    """An empty log, its schema in place."""
    await (await open_tables(str(db), ScenarioLibrary())).close()


def open_section(workdir: Path, sizes: Sizes) -> list[Row]:
    """Many open tables: how soon a fresh bot process is ready, and its memory."""
    n, per_guild = sizes.open_tables, sizes.channels_per_guild
    print(
        f"== open: {n:,} open started {SCENARIO} tables ({math.ceil(n / per_guild)} servers of "
        f"{per_guild} channels), a fresh process with the fake Discord and ParleyBot"
    )
    places = seed_places(FakeDiscord(), n, per_guild)  # a fake never started: only the ids
    db = workdir / "open.db"
    clock = time.monotonic()
    asyncio.run(build_open_tables(db, places))
    print(
        f"  built through Tables.open/act in {time.monotonic() - clock:.1f} s; file "
        f"{db.stat().st_size / 2**20:,.1f} MiB"
    )
    empty = workdir / "empty.db"
    asyncio.run(_create_empty(empty))  # so no run of the baseline creates the schema
    child = ["--open-child", "{db}", str(n), str(per_guild)]
    runs: dict[str, list[dict[str, Any]]] = {"Parley": [], "empty log": []}
    for _ in range(sizes.open_runs):  # taking turns, so a burst of load hits both
        for name, path in (("Parley", db), ("empty log", empty)):
            runs[name].append(run_child([part.format(db=path) for part in child], 900))
    for name, f in ((name, f) for name, fs in runs.items() for f in fs):
        print(
            f"  {name:<9}: imports done {f['imported_s']:.2f} s, fake up {f['fake_started_s']:.2f}"
            f" s, Clock.ready {f['ready_s']:.2f} s, gateway ready {f['connected_s']:.2f} s after "
            f"start; peak at ready {mib(peak_kib(f, 'ready'))} (ru_maxrss "
            f"{mib(f['ready_maxrss'])}, RSS {mib(f['ready_rss'])})"
        )
        print(
            f"  {'':<9}  every state read once ({f['open_tables']:,} open tables, "
            f"{f['in_seeded_channels']:,} in seeded channels) in {f['read_all_s']:.2f} s: RSS "
            f"{mib(f['read_rss'])}, peak {mib(peak_kib(f, 'read'))}; "
            f"messages posted {f['messages_posted']}, stderr lines {f['stderr_lines']}"
        )
    print()

    def median(name: str, figure: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(figure(f) for f in runs[name])

    peak = median("Parley", lambda f: peak_kib(f, "ready"))
    base_peak = median("empty log", lambda f: peak_kib(f, "ready"))
    read_peak = median("Parley", lambda f: peak_kib(f, "read"))
    base_read = median("empty log", lambda f: peak_kib(f, "read"))
    ready = median("Parley", lambda f: f["ready_s"])
    base_ready = median("empty log", lambda f: f["ready_s"])
    if sizes.open_runs > 1:
        print(f"  (the summary takes the median of {sizes.open_runs} processes each)")
    return [
        Row(
            f"{n:,} open tables: peak RSS at Clock.ready",
            mib(base_peak) + " (empty log)",
            mib(peak),
            peak / base_peak,
            "<= 300 MiB",
            peak / 1024 <= 300,
        ),
        Row(
            f"{n:,} open tables: peak RSS, every state read",
            mib(base_read) + " (empty log)",
            mib(read_peak),
            read_peak / base_read,
            "<= 300 MiB",
            read_peak / 1024 <= 300,
        ),
        Row(
            f"{n:,} open tables: Clock.ready after start",
            f"{base_ready:.2f} s (empty log)",
            f"{ready:.2f} s",
            ready / base_ready,
            "<= 5 s",
            ready <= 5.0,
        ),
    ]


# -- main -----------------------------------------------------------------------------------------


def summary(rows: Sequence[Row]) -> str:
    header = ["measure", "baseline", "Parley", "ratio", "target", "met?"]
    cells = [
        [
            r.measure,
            r.baseline,
            r.parley,
            "-" if r.ratio is None else f"{r.ratio:.2f}x",
            r.target,
            "-" if r.met is None else ("yes" if r.met else "NO"),
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), rule, *(line(cell) for cell in cells)])


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen sections and print their figures and the summary table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, a smoke run")
    parser.add_argument(
        "--only", metavar="ROWS", help=f"comma-separated sections: {', '.join(SECTIONS)}"
    )
    parser.add_argument(
        "--one-process",
        action="store_true",
        help="discord: run the bots in this process, beside the fake and the users",
    )
    parser.add_argument("--replay-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--open-child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--spawned", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay_child:
        replay_child(args.replay_child[0], int(args.replay_child[1]))
        return
    if args.open_child:
        db, tables, per_guild = args.open_child
        open_child(db, int(tables), int(per_guild), args.spawned or time.monotonic())
        return
    chosen = SECTIONS
    if args.only:
        chosen = tuple(part.strip() for part in args.only.split(",") if part.strip())
        unknown = [s for s in chosen if s not in SECTIONS]
        if unknown:
            parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {SECTIONS}")
    sizes = QUICK if args.quick else FULL

    print(
        f"Parley scale bench ({'quick' if args.quick else 'full'}): Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f} at start; sections {', '.join(chosen)}"
    )
    print()
    started = time.monotonic()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="parley-scale-") as tmp:
        workdir = Path(tmp)
        for section in SECTIONS:
            if section not in chosen:
                continue
            clock = time.monotonic()
            try:
                if section == "discord":
                    rows += discord_section(sizes, args.one_process)
                elif section == "actions":
                    rows += asyncio.run(actions_section(workdir, sizes))
                elif section == "replay":
                    rows += replay_section(workdir, sizes)
                else:
                    rows += open_section(workdir, sizes)
            except Exception:  # one broken section should not cost the others' figures
                print(f"!! section {section} failed:\n{traceback.format_exc()}", flush=True)
                rows.append(Row(f"{section}: FAILED (see above)", "-", "-", None, "-", False))
            print(f"[{section}: {time.monotonic() - clock:.1f} s]", file=sys.stderr, flush=True)
    print(
        f"Summary (whole run {time.monotonic() - started:.0f} s; load average "
        f"{os.getloadavg()[0]:.2f} at the end: other work on the machine skews the figures)"
    )
    if args.quick:
        print("(--quick: small sizes; the targets are for the full sizes)")
    print(summary(rows))


if __name__ == "__main__":
    main()
