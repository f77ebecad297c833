"""How fast can a log written from CPython go at 50 tables, with so much Python per action?

    .venv/bin/python bench/pipeline_bench.py [--quick]

The scale bench's 50-table row asks Parley for 0.8x the bare sqlite3 INSERT + COMMIT
loop. This bench asks what that target leaves for Python, with no Parley at all: each
"action" is ``W`` microseconds of pure Python (a busy loop, holding the GIL as Parley's
rules, fold and serialisation do) and one row of a statement; 50 tables' actions are
committed together, one transaction per turn (a group commit, as the log makes them).
Two ways are timed for each ``W``, in interleaved rounds against the bare loop:

- ``serial``: the event loop's thread makes a turn's 50 actions, then writes and commits
  them (what the log does when nothing stands in the way);
- ``piped``: a writer thread writes and commits turn ``n`` while the loop makes turn
  ``n + 1``, so SQLite's work (which releases the GIL) could overlap the Python.

Each figure is actions per second over the bare loop's rows per second, in the same run.
"""

from __future__ import annotations

import argparse
import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from engine_bench import bare_inserts, bare_log, bare_turn

TABLES = 50
Rows = list[tuple[int, int, str, str, str]]


def python_work(microseconds: float) -> None:
    """About ``microseconds`` of pure Python, holding the GIL throughout."""
    end = time.perf_counter() + microseconds * 1e-6
    while time.perf_counter() < end:
        pass


class Log:
    """A bare events table with the log's durability, written a turn at a time."""

    def __init__(self, path: Path) -> None:
        self.db, (self.at, self.actor, self.data) = bare_log(path, any_thread=True)
        self.turn = 0

    def make_turn(self, microseconds: float) -> Rows:
        """One turn: an action (its Python, its row) at each table."""
        self.turn += 1
        rows = []
        for table_id in range(1, TABLES + 1):
            python_work(microseconds)
            rows.append((table_id, self.turn, self.at, self.actor, self.data))
        return rows

    def commit(self, rows: Rows) -> None:
        bare_turn(self.db, rows)


def serial(log: Log, turns: int, microseconds: float) -> None:
    for _ in range(turns):
        log.commit(log.make_turn(microseconds))


def piped(log: Log, turns: int, microseconds: float) -> None:
    """The writer thread commits one turn while this thread makes the next (one turn in
    flight at most: an action is acknowledged after its commit)."""
    todo: queue.SimpleQueue[Rows | None] = queue.SimpleQueue()
    done: queue.SimpleQueue[None] = queue.SimpleQueue()

    def writer() -> None:
        while (rows := todo.get()) is not None:
            log.commit(rows)
            done.put(None)

    thread = threading.Thread(target=writer)
    thread.start()
    in_flight = False
    for _ in range(turns):
        rows = log.make_turn(microseconds)
        if in_flight:
            done.get()
        todo.put(rows)
        in_flight = True
    if in_flight:
        done.get()
    todo.put(None)
    thread.join()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    args = parser.parse_args(argv)
    turns, bare_n, rounds = (20, 1000, 1) if args.quick else (100, 5000, 5)
    budgets = (0.0, 10.0, 20.0, 30.0, 45.0)
    ways: dict[str, Callable[[Log, int, float], None]] = {"serial": serial, "piped": piped}
    print(
        f"Python {sys.version.split()[0]}; {TABLES} tables x {turns} turns per timing, one "
        f"commit per turn; bare sqlite3 INSERT + COMMIT x {bare_n:,}; {rounds} interleaved "
        "rounds, median round"
    )
    times: dict[tuple[str, float], list[float]] = {}
    bare_times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="parley-pipeline-") as tmp:
        workdir = Path(tmp)
        bare, row = bare_log(workdir / "bare.db")
        logs = {(way, w): Log(workdir / f"{way}-{w:g}.db") for way in ways for w in budgets}
        try:
            for r in range(rounds):
                clock = time.perf_counter()
                bare_inserts(bare, r * bare_n + 1, bare_n, row)
                bare_times.append(time.perf_counter() - clock)
                for (way, w), log in logs.items():
                    clock = time.perf_counter()
                    ways[way](log, turns, w)
                    times.setdefault((way, w), []).append(time.perf_counter() - clock)
        finally:
            bare.close()
            for log in logs.values():
                log.db.close()
    bare_rate = bare_n / statistics.median(bare_times)
    print(f"bare sqlite3 INSERT + COMMIT: {bare_rate:,.0f} rows/s")
    print()
    print("| Python per action | serial | piped |")
    print("|---|---|---|")
    for w in budgets:
        cells = [
            f"{TABLES * turns / statistics.median(times[(way, w)]) / bare_rate:.2f}x"
            for way in ways
        ]
        print(f"| {w:g} µs | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
