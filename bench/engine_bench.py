"""Parley benchmarks, run on demand (no assertions): prints figures.

    .venv/bin/python bench/engine_bench.py [--quick]

1. the pure engine: actions per second (decide + apply) on hanoi-2019, a realistic mix of
   offers, rejects, accepts, passes, statements and refused attempts; a table that closes
   is replaced by a new one (whose opening and seating count as actions too);
2. log appends per second through Store/Tables (one action = one write transaction),
   against a bare sqlite3 INSERT loop (WAL, synchronous=NORMAL, one commit per insert) and a
   bare aiosqlite loop, in the same run;
3. the replay of a table with 100,000 events (built with Transaction.append in big batches):
   reading, folding, and a cold ``Tables.state`` as after a restart, first with no
   snapshot (the whole log), then from the snapshot that first one kept;
4. the peak memory of that replay: tracemalloc peak, and the ru_maxrss growth in a fresh
   subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite

from bot.domain import commands as c
from bot.domain.engine import decide, open_table
from bot.domain.errors import Refusal
from bot.domain.events import Actor, Event, EventKind, NewEvent
from bot.domain.scenario import Scenario
from bot.domain.state import Phase, Replay, TableState
from bot.scenarios import ScenarioLibrary
from bot.service import Tables
from bot.store import Store

FAC = c.Who(user_id="fac", name="instructor", facilitator=True)
PEOPLE = {
    "alice": ("us", "head"),
    "bob": ("us", "member"),
    "carol": ("dprk", "head"),
    "dave": ("dprk", "member"),
}
OBSERVER = c.Who(user_id="erin", name="erin")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def who(name: str) -> c.Who:
    """A player by name."""
    return c.Who(user_id=name, name=name)


# -- a table driven by a seeded policy ---------------------------------------------------------


class Driver:
    """Plays one table with the pure engine: chooses commands, decides, folds the events."""

    def __init__(self, scenario: Scenario, rng: random.Random) -> None:
        self.scenario = scenario
        self.rng = rng
        self.now = T0
        self.events: list[Event] = []
        self.replay = Replay(scenario)
        self.actions = 0
        self.kinds: Counter[str] = Counter()
        self.engine_time = 0.0  # decide + stamp + apply only, not the policy choosing

    @property
    def state(self) -> TableState:
        """The table's state so far."""
        return self.replay.state

    def log(self, new: list[NewEvent]) -> None:
        """Number, stamp and fold decided events."""
        for e in new:
            event = Event.stamp(e, len(self.events) + 1, self.now)
            self.events.append(event)
            self.replay.apply(event)
            self.kinds[event.kind.value] += 1

    def act(self, command: c.Command) -> None:
        """One action: decide and fold, or log the refused attempt as the service does."""
        self.actions += 1
        self.now += timedelta(seconds=20)
        started = time.perf_counter()
        try:
            self.log(decide(self.state, command, self.now))
        except Refusal as refusal:
            self.log(
                [
                    NewEvent(
                        kind=EventKind.ACTION_REFUSED,
                        actor=Actor(user_id=command.who.user_id, name=command.who.name),
                        data={
                            "code": refusal.code.value,
                            "message": refusal.message,
                            "command": command.name,
                            "args": command.arguments(),
                        },
                    )
                ]
            )
        self.engine_time += time.perf_counter() - started

    def seat(self) -> None:
        """Open, join, assign and start: the actions every table begins with."""
        self.actions += 1
        started = time.perf_counter()
        self.log([open_table(self.scenario, FAC, "singapore", "Bench")])
        self.engine_time += time.perf_counter() - started
        for name in [*PEOPLE, "erin"]:
            self.act(c.Join(who=who(name)))
        for name, (delegation, role) in PEOPLE.items():
            self.act(c.Assign(who=FAC, member=who(name), delegation=delegation, role=role))
        self.act(c.Start(who=FAC))

    def _names(self, delegation: str) -> list[str]:
        return [n for n, (d, _) in PEOPLE.items() if d == delegation]

    def _offer(self, mine: str, name: str) -> c.Command:
        state = self.state
        other = next(d for d in state.order if d != mine)
        open_items = state.open_items()
        give = [i.id for i in open_items if i.giver == mine]
        ask = [i.id for i in open_items if i.giver == other]
        if not give or not ask:
            return c.Pass(who=who(name))
        picked_give = self.rng.sample(give, min(len(give), self.rng.choice((1, 1, 2))))
        picked_ask = self.rng.sample(ask, min(len(ask), self.rng.choice((1, 2))))
        return c.Offer(who=who(name), give=tuple(picked_give), ask=tuple(picked_ask), note="a step")

    def turn(self, accept_share: float = 0.15) -> None:
        """The delegation on move takes one turn action (and some chatter happens)."""
        state = self.state
        mine = state.turn or state.order[0]
        head, member = self._names(mine)
        r = self.rng.random()
        standing = state.standing
        if standing is not None and standing.by != mine:
            if r < accept_share:
                command: c.Command = c.Accept(who=who(head))
            elif r < 0.5:
                command = c.Reject(who=who(self.rng.choice((head, member))), reason="no")
            elif r < 0.65:
                command = c.Pass(who=who(member))
            else:
                command = self._offer(mine, head)
        else:
            command = self._offer(mine, head) if r < 0.75 else c.Pass(who=who(member))
        self.act(command)
        self.chatter(mine)

    def chatter(self, mine: str) -> None:
        """Statements and refused attempts between turn actions."""
        r = self.rng.random()
        other = next(d for d in self.state.order if d != mine) if self.state.order else mine
        if r < 0.35:
            name = self.rng.choice(list(PEOPLE))
            self.act(c.Say(who=who(name), text="We came in good faith."))
        elif r < 0.45:  # the other side speaks out of turn
            self.act(c.Pass(who=who(self._names(other)[0])))
        elif r < 0.52:  # an observer tries to act
            self.act(c.Pass(who=OBSERVER))
        elif r < 0.58:  # a typo in an item id
            self.act(c.Offer(who=who(self._names(other)[0]), give=("us-liaison-ofice",)))
        elif r < 0.62:  # a member tries to accept
            self.act(c.Accept(who=who(self._names(other)[1])))


def engine_bench(scenario: Scenario, seconds: float) -> None:
    """(1) Pure decide + apply throughput, opening new tables as old ones close."""
    rng = random.Random(2019)
    actions = events = tables = 0
    kinds: Counter[str] = Counter()
    decide_time = 0.0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        driver = Driver(scenario, rng)
        driver.seat()
        while driver.state.phase is not Phase.CLOSED and driver.actions < 400:
            driver.turn()
        decide_time += driver.engine_time
        actions += driver.actions
        events += len(driver.events)
        kinds += driver.kinds
        tables += 1
    refused = kinds["action_refused"]
    print("(1) pure engine, hanoi-2019: decide + stamp + apply, timed without the policy")
    print(
        f"    {actions:,} actions on {tables:,} tables in {decide_time:.2f} s engine time: "
        f"{actions / decide_time:,.0f} actions/s, {events / decide_time:,.0f} events/s"
    )
    top = ", ".join(f"{k} {n:,}" for k, n in kinds.most_common(9))
    print(f"    mix: {top}; refusals {refused / actions:.0%} of actions")


# -- (2) log appends ------------------------------------------------------------------------------


BARE_SCHEMA = (
    "CREATE TABLE events (table_id INTEGER NOT NULL, seq INTEGER NOT NULL, at TEXT NOT NULL, "
    "kind TEXT NOT NULL, actor TEXT, data TEXT NOT NULL, PRIMARY KEY (table_id, seq)) WITHOUT ROWID"
)
BARE_INSERT = "INSERT INTO events VALUES (1, ?, ?, 'statement', ?, ?)"
#: The same, for a row of any table: (table, seq, at, actor, data).
BARE_INSERT_ANY = "INSERT INTO events VALUES (?, ?, ?, 'statement', ?, ?)"


def bare_log(
    path: Path, *, any_thread: bool = False
) -> tuple[sqlite3.Connection, tuple[str, str, str]]:
    """The bare baseline: a sqlite3 events table with the log's durability (WAL,
    ``synchronous=NORMAL``), and a statement's (at, actor, data) to insert into it
    (``any_thread``: the connection may be used from another thread than this one)."""
    at = datetime.now(UTC).isoformat()
    actor = Actor(user_id="alice", name="alice", delegation="us", role="head").model_dump_json()
    data = json.dumps({"round": 1, "text": "Statement 1234 for the record."})
    bare = sqlite3.connect(path, isolation_level=None, check_same_thread=not any_thread)
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL"):
        bare.execute(f"PRAGMA {pragma}")
    bare.execute(BARE_SCHEMA)
    return bare, (at, actor, data)


def bare_inserts(
    bare: sqlite3.Connection, first: int, count: int, row: tuple[str, str, str]
) -> None:
    """The bare baseline's loop: ``count`` statements numbered from ``first``, each an
    INSERT in its own transaction and commit."""
    at, actor, data = row
    for i in range(first, first + count):
        bare.execute("BEGIN IMMEDIATE")
        bare.execute(BARE_INSERT, (i, at, actor, data))
        bare.execute("COMMIT")


def bare_turn(bare: sqlite3.Connection, rows: list[tuple[int, int, str, str, str]]) -> None:
    """Rows of several tables (see :data:`BARE_INSERT_ANY`) in one transaction and commit:
    a group commit with no Python beyond sqlite3's."""
    bare.execute("BEGIN IMMEDIATE")
    bare.executemany(BARE_INSERT_ANY, rows)
    bare.execute("COMMIT")


async def store_bench(workdir: Path, n: int, rounds: int = 3) -> None:
    """(2) One action = one write transaction, through Tables, against bare loops.

    The three loops take turns, ``rounds`` times, ``n // rounds`` writes each time, and the
    median round of each is reported, so a burst of load on the machine hits all of them.
    """
    library = ScenarioLibrary()
    per_round = n // rounds
    commands: list[Callable[[int], c.Command]] = [
        lambda i: c.Say(who=who("alice"), text=f"Statement {i} for the record."),
        lambda i: c.Pass(who=who("carol")),  # not_your_turn: a logged refusal
        lambda i: c.Say(who=who("dave"), text=f"Statement {i}, in good faith."),
        lambda i: c.Pass(who=OBSERVER),  # not_a_member
    ]
    times: dict[str, list[float]] = {"tables": [], "keyed": [], "sqlite3": [], "aiosqlite": []}
    bare, (at, actor, data) = bare_log(workdir / "bare.db")
    async with (
        await Store.open(workdir / "appends.db") as store,
        aiosqlite.connect(workdir / "bare-aio.db", isolation_level=None) as adb,
    ):
        for pragma in ("journal_mode = WAL", "synchronous = NORMAL"):
            await adb.execute(f"PRAGMA {pragma}")
        await adb.execute(BARE_SCHEMA)
        tables = Tables(store, library)
        tid = (await tables.open(FAC, "hanoi-2019", "singapore", channel_id="bench")).table_id
        for name in [*PEOPLE, "erin"]:
            await tables.act(tid, c.Join(who=who(name)))
        for name, (delegation, role) in PEOPLE.items():
            assign = c.Assign(who=FAC, member=who(name), delegation=delegation, role=role)
            await tables.act(tid, assign)
        await tables.act(tid, c.Start(who=FAC))
        seq = 0
        for r in range(rounds):
            started = time.perf_counter()
            for i in range(per_round):
                await tables.act(tid, commands[i % len(commands)](i))
            times["tables"].append(time.perf_counter() - started)

            started = time.perf_counter()
            for i in range(per_round):
                key = f"interaction-{r}-{i}"
                await tables.act(tid, commands[i % len(commands)](i), key=key)
            times["keyed"].append(time.perf_counter() - started)

            started = time.perf_counter()
            bare_inserts(bare, seq + 1, per_round, (at, actor, data))
            times["sqlite3"].append(time.perf_counter() - started)

            started = time.perf_counter()
            for i in range(seq + 1, seq + per_round + 1):
                await adb.execute("BEGIN IMMEDIATE")
                await adb.execute(BARE_INSERT, (i, at, actor, data))
                await adb.execute("COMMIT")
            times["aiosqlite"].append(time.perf_counter() - started)
            seq += per_round
    bare.close()

    rate = {k: per_round / statistics.median(v) for k, v in times.items()}
    spread = {k: (per_round / max(v), per_round / min(v)) for k, v in times.items()}
    labels = {
        "tables": "Tables.act (statements + refusals)",
        "keyed": "Tables.act with an idempotency key",
        "sqlite3": "bare sqlite3 INSERT + COMMIT",
        "aiosqlite": "bare aiosqlite INSERT + COMMIT",
    }
    print(
        f"(2) log appends, one write transaction each (WAL, synchronous=NORMAL); "
        f"{rounds} interleaved rounds of {per_round:,} each, median round"
    )
    for key, label in labels.items():
        low, high = spread[key]
        print(
            f"    {label:<36} {rate[key]:>9,.0f} /s  ({1e3 / rate[key]:.3f} ms each; "
            f"rounds {low:,.0f}..{high:,.0f} /s)"
        )
    print(
        f"    ratio: bare sqlite3 / Tables.act = {rate['sqlite3'] / rate['tables']:.1f}x; "
        f"bare aiosqlite / Tables.act = {rate['aiosqlite'] / rate['tables']:.1f}x"
    )


# -- (3) and (4) a table of 100,000 events ------------------------------------------------------


def long_scenario(scenario: Scenario) -> Scenario:
    """hanoi-2019 with a round limit no table reaches, so one table can run for ever."""
    rules = scenario.rules.model_copy(update={"max_rounds": 10_000_000})
    return scenario.model_copy(update={"rules": rules})


def generate(scenario: Scenario, count: int) -> list[NewEvent]:
    """``count`` coherent events of one long table, made by the engine (a few agreements,
    then offers, rejections, passes, statements and refusals)."""
    driver = Driver(scenario, random.Random(1953))
    driver.seat()
    while len(driver.events) < count:
        driver.turn(accept_share=0.02)
    return [NewEvent(kind=e.kind, actor=e.actor, data=e.data) for e in driver.events[:count]]


async def build_long_table(db: Path, count: int, batch: int = 20_000) -> tuple[int, float, float]:
    """Write a table of ``count`` events with Transaction.append in batches."""
    library = ScenarioLibrary()
    scenario = long_scenario(library.get("hanoi-2019"))
    started = time.perf_counter()
    new = generate(scenario, count)
    made = time.perf_counter() - started
    started = time.perf_counter()
    async with await Store.open(db) as store:
        tid = await store.write(
            lambda tx: tx.create_table(scenario, "singapore", "Bench", None, "long", T0)
        )
        for i in range(0, count, batch):
            part, at = new[i : i + batch], T0 + timedelta(seconds=i)
            await store.write(lambda tx, part=part, at=at: tx.append(tid, part, at))
    written = time.perf_counter() - started
    return tid, made, written


async def replay_bench(db: Path, tid: int, built: str) -> None:
    """(3) read + fold + cold Tables.state, and (4) tracemalloc peak of the cold state."""
    library = ScenarioLibrary()
    async with await Store.open(db) as store:
        started = time.perf_counter()
        events = await store.events(tid)
        read = time.perf_counter() - started
        scenario = await store.scenario(tid)
        started = time.perf_counter()
        state = Replay(scenario, events).state
        fold = time.perf_counter() - started
        del events
        # The first cold state finds no snapshot (the table was written in bulk): it
        # folds the whole log, then keeps a snapshot beside it for the next one.
        started = time.perf_counter()
        cold = await Tables(store, library).state(tid)
        first_time = time.perf_counter() - started
        started = time.perf_counter()
        cold = await Tables(store, library).state(tid)
        cold_time = time.perf_counter() - started
        assert cold.last_seq == state.last_seq
        snapshot = await store.snapshot(tid)
        assert snapshot is not None

        tracemalloc.start()
        tables = Tables(store, library)
        cold = await tables.state(tid)
        _, peak = tracemalloc.get_traced_memory()
        retained, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"(3) replay of one table of {state.last_seq:,} events")
    print(f"    {built}")
    print(
        f"    read (store.events): {read:.2f} s; fold (Replay): {fold:.2f} s "
        f"= {state.last_seq / fold:,.0f} events/s"
    )
    print(
        f"    cold Tables.state: {first_time:.2f} s with no snapshot (whole log), "
        f"{cold_time:.2f} s from the snapshot at event {snapshot.seq:,} "
        f"({len(snapshot.state) / 2**20:.1f} MiB)"
    )
    print(
        f"    end state: phase {state.phase.value}, round {state.round:,}, "
        f"{len(state.agreements)} agreements"
    )
    print("(4) peak memory of the cold replay (Tables.state on a fresh Tables, from the snapshot)")
    print(
        f"    tracemalloc: peak {peak / 2**20:,.1f} MiB, still held after it "
        f"{retained / 2**20:,.1f} MiB (the cached replay holds a window of events)"
    )


def _vm_hwm_kib() -> int | None:
    """The peak resident set of this process's memory map (Linux), in KiB."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return None
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), None)
    return int(line.split()[1]) if line else None


def rss_child(db: str, tid: int) -> None:
    """In a fresh process: ru_maxrss (and VmHWM) before and after a cold Tables.state."""

    async def run() -> dict[str, int | None]:
        library = ScenarioLibrary()
        async with await Store.open(db) as store:
            tables = Tables(store, library)
            figures = {
                "before_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "hwm_before_kib": _vm_hwm_kib(),
            }
            state = await tables.state(tid)
            figures["after_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            figures["hwm_after_kib"] = _vm_hwm_kib()
            assert state.last_seq > 0
            return figures

    print(json.dumps(asyncio.run(run())))


#: Starts the measuring process from a small one: a process started straight from this
#: (large) one would inherit its ru_maxrss high-water mark across fork and exec.
LAUNCHER = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"


def rss_bench(db: Path, tid: int) -> None:
    """(4, continued) the ru_maxrss growth of the replay in a fresh subprocess."""
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            LAUNCHER,
            sys.executable,
            __file__,
            "--rss-child",
            str(db),
            str(tid),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    f = json.loads(child.stdout)
    before, after = f["before_kib"] / 1024, f["after_kib"] / 1024
    print(
        f"    ru_maxrss in a fresh process: {before:,.1f} MiB after imports and open, "
        f"{after:,.1f} MiB after the replay: +{after - before:,.1f} MiB"
    )
    if f["hwm_before_kib"] is not None:
        hwm_before, hwm_after = f["hwm_before_kib"] / 1024, f["hwm_after_kib"] / 1024
        print(
            f"    (VmHWM cross-check: {hwm_before:,.1f} -> {hwm_after:,.1f} MiB, "
            f"+{hwm_after - hwm_before:,.1f} MiB)"
        )


# -- main -----------------------------------------------------------------------------------------


def main() -> None:
    """Run every benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--rss-child", nargs=2, metavar=("DB", "TABLE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child[0], int(args.rss_child[1]))
        return
    sizes = (1.0, 600, 10_000) if args.quick else (8.0, 3000, 100_000)
    engine_seconds, appends, long_events = sizes
    print(
        f"Parley bench: Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
        f"aiosqlite {aiosqlite.__version__}, {os.cpu_count()} CPUs"
    )
    total = time.perf_counter()
    scenario = ScenarioLibrary().get("hanoi-2019")
    engine_bench(scenario, engine_seconds)
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        workdir = Path(tmp)
        asyncio.run(store_bench(workdir, appends))
        db = workdir / "long.db"
        tid, made, written = asyncio.run(build_long_table(db, long_events))
        built = (
            f"(built: made by the engine in {made:.1f} s, written with Transaction.append "
            f"in {written:.1f} s; file {db.stat().st_size / 2**20:,.1f} MiB)"
        )
        asyncio.run(replay_bench(db, tid, built))
        rss_bench(db, tid)
    print(f"total {time.perf_counter() - total:.0f} s")


if __name__ == "__main__":
    main()
