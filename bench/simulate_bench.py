"""Simulation benchmark, run on demand (no assertions): prints figures.

    .venv/bin/python bench/simulate_bench.py [--runs 20] [--repeat 3]

Plays the shipped Hanoi scenario counterpart against counterpart, every rule mode and
every pair of the four strategies, ``--runs`` tables each (48 x runs tables), in memory
through the real engine, exactly as ``parley simulate hanoi-2019`` does. Prints, for the
best of ``--repeat`` rounds, CPU seconds on one core (``time.process_time``, so other work
on the machine counts little) and:

- **tables per second** against the issue's target of 500 (the ratio must be >= 1);
- a **baseline in the same run**: the same tables' events folded again by the replay
  alone (no rules, no strategies), the floor any simulation through the log's events
  pays; the ratio says how much the rules and the strategies add to it;
- the share of the time the strategies take (their ``decide`` calls alone, timed in
  rounds of their own: timing each call costs time the measured rounds do not pay).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.counterparts import simulate as sim  # noqa: E402
from bot.counterparts.counterpart import Counterpart  # noqa: E402
from bot.domain.commands import STRATEGIES  # noqa: E402
from bot.domain.state import Replay  # noqa: E402
from bot.scenarios import ScenarioLibrary  # noqa: E402

TARGET = 500.0
MODES = ["singapore", "package", "parallel"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="tables per combination")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (the best is kept)")
    args = parser.parse_args()
    scenario = ScenarioLibrary().get("hanoi-2019")
    _, runs = sim.plan(scenario, MODES, list(STRATEGIES), args.runs, seed=1)
    # the outcome spaces are built once per mode, outside the timed loop, as in the CLI
    best_sim = best_fold = best_share = float("inf")
    logs: list[list[object]] = []
    original = Counterpart.decide

    def simulate() -> float:
        """CPU seconds to play every table once, as the CLI does: each table's result is
        kept, its log is not (keeping every log would grow the heap the garbage collector
        walks, which the CLI's does not)."""
        start = time.process_time()
        for run in runs:
            state = sim.play_table(scenario, run.variant, run.strategies, run.seed)
            run.result.tables.append(sim.table_result(state, run.scorer))
        return time.process_time() - start

    def the_logs() -> list[list[object]]:
        """Every table's events, for the baseline (untimed: the same tables, played again)."""
        logs = []
        for run in runs:
            table = sim.MemoryTable(scenario)
            sim.play_table(scenario, run.variant, run.strategies, run.seed, table)
            logs.append(table.events)
        return logs

    for _ in range(args.repeat):
        best_sim = min(best_sim, simulate())
        logs = the_logs()
        start = time.process_time()
        for events in logs:
            Replay(scenario, events)  # type: ignore[arg-type]
        best_fold = min(best_fold, time.process_time() - start)
        # The strategies' share, in a round of its own: timing every decision costs time
        # itself (two clock reads a call), which the measured round above does not pay.
        decided = 0.0

        def timed(self: Counterpart, state: object) -> object:
            nonlocal decided
            start = time.process_time()
            try:
                return original(self, state)  # type: ignore[arg-type]
            finally:
                decided += time.process_time() - start

        Counterpart.decide = timed  # type: ignore[assignment,method-assign]
        try:
            timed_round = simulate()
        finally:
            Counterpart.decide = original  # type: ignore[method-assign]
        best_share = min(best_share, decided / timed_round)
    tables = len(runs)
    rate, fold_rate = tables / best_sim, tables / best_fold
    events = sum(len(e) for e in logs)
    print(
        f"simulated Hanoi tables: {tables} ({events / tables:.1f} events each), best of "
        f"{args.repeat}, CPU seconds on one core"
    )
    print(f"{'measure':<44} {'seconds':>8} {'tables/s':>9} {'ratio':>8}")
    print(
        f"{'simulation (rules + strategies + log)':<44} {best_sim:8.3f} {rate:9.0f} "
        f"{rate / TARGET:7.2f}x target {TARGET:.0f}/s"
    )
    print(
        f"{'baseline: the same events folded by Replay':<44} {best_fold:8.3f} {fold_rate:9.0f} "
        f"{best_sim / best_fold:7.2f}x its time"
    )
    print(
        f"{'of which strategies deciding':<44} {best_share * best_sim:8.3f} {'':>9} "
        f"{best_share:7.0%} of the simulation (timed in separate rounds)"
    )


if __name__ == "__main__":
    main()
