"""Analysis benchmark, run on demand (no assertions): prints figures.

    .venv/bin/python bench/analysis_bench.py [--timeout 120] [--memory-gb 6] [--no-memory]
                                             [--only SUBSTRING]

Times ``bot.analysis.analyze`` plus every point and measure of the space (outcomes, ZOPA,
frontier, maximum joint gain, Nash, Kalai, best gains, ``measure`` of no deal, of the Nash
point and of a frontier point, ``dominated``, ``distance_to_frontier``) for:

1. every shipped scenario (``rules/*.toml``) under every variant: target < 1 s each;
2. a generated 2-delegation scenario with 60 items: target < 2 s per mode;
3. generated scenarios with 3, 4, 5 and 6 delegations and 24 items: target < 5 s per mode.

Generated scenarios are valid (``Scenario.model_validate``): three gated baskets and one
free basket, each gated basket holding an item given by every delegation, the other items
spread at random; every value a uniform integer in -5..5 (weights are irrelevant here);
BATNAs in 0..5; the package variant allows 12 items per offer, as Hanoi's does. Seeds are
fixed, so runs compare.

Each case runs in its own subprocess (a fresh interpreter, a time limit, an address-space
cap): once untraced for the time, then again under ``tracemalloc`` for the peak of Python
allocations (skipped with ``--no-memory``, or when the timed run took over a fifth of the
time limit, since tracing slows allocation-heavy code several times).
The table gives seconds, the ratio to the target, the tracemalloc peak, the child's peak
RSS, and the size of the result (outcomes, ZOPA, frontier points).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.analysis import analyze  # noqa: E402
from bot.domain.scenario import Scenario  # noqa: E402
from bot.scenarios import ScenarioLibrary  # noqa: E402

MODES = ["singapore", "package", "parallel"]
PACKAGE_LIMIT = 12


@dataclass(frozen=True)
class Case:
    """One scenario under one variant, with its time target in seconds."""

    scenario: str  # "shipped:<id>" or "gen:<delegations>x<items>"
    variant: str
    target: float

    @property
    def name(self) -> str:
        return f"{self.scenario.split(':', 1)[1]} / {self.variant}"


def generated(delegations: int, items: int) -> Scenario:
    """A valid random scenario (fixed seed) with every mode as a variant."""
    rng = random.Random(1000 * delegations + items)
    ids = [f"d{i}" for i in range(delegations)]
    gated, free = 3, 1
    baskets = [
        {"id": f"b{b}", "title": f"Basket {b}", "order": b + 1, "gated": b < gated}
        for b in range(gated + free)
    ]
    slots = [(f"b{b}", d) for b in range(gated) for d in ids]
    assert len(slots) <= items, "too few items for every gated basket and delegation"
    while len(slots) < items:
        slots.append((f"b{rng.randrange(gated + free)}", rng.choice(ids)))
    rng.shuffle(slots)
    return Scenario.model_validate(
        {
            "id": f"gen-{delegations}x{items}",
            "title": "Generated",
            "sources": [{"id": "bench", "title": "Benchmark"}],
            "prompts": {"background": "bench.md", "debrief": "bench.md"},
            "delegations": [
                {"id": d, "name": d.upper(), "batna": rng.randint(0, 5), "brief": "bench.md"}
                for d in ids
            ],
            "baskets": baskets,
            "items": [
                {
                    "id": f"i{i}",
                    "title": f"Item {i}",
                    "basket": basket,
                    "giver": giver,
                    "weight": 1,
                    "values": {d: rng.randint(-5, 5) for d in ids},
                }
                for i, (basket, giver) in enumerate(slots)
            ],
            "variants": {
                "singapore": {},
                "package": {"max_items_per_offer": PACKAGE_LIMIT},
                "parallel": {},
            },
        }
    )


def load(spec: str) -> Scenario:
    """The scenario a case names."""
    kind, name = spec.split(":", 1)
    if kind == "shipped":
        return ScenarioLibrary().get(name)
    delegations, items = (int(x) for x in name.split("x"))
    return generated(delegations, items)


def cases() -> list[Case]:
    """Every case, in the order of the table."""
    out = [
        Case(f"shipped:{s.id}", variant, 1.0)
        for s in ScenarioLibrary().all()
        for variant in s.variant_names()
    ]
    out += [Case("gen:2x60", mode, 2.0) for mode in MODES]
    out += [Case(f"gen:{k}x24", mode, 5.0) for k in (3, 4, 5, 6) for mode in MODES]
    return out


def work(scenario: Scenario, variant: str) -> dict[str, Any]:
    """``analyze`` and every point and measure of the space."""
    space = analyze(scenario, variant)
    frontier = space.frontier
    nash, kalai = space.nash, space.kalai
    _ = (space.max_joint_gain, space.best_gains)
    space.measure([]).to_json()
    middle = frontier[len(frontier) // 2] if frontier else None
    for point in (nash, kalai, middle):
        if point is not None:
            space.measure(point.items).to_json()
    some = [item.id for item in scenario.items[::2]]
    space.dominated(space.vector(some))
    space.distance_to_frontier(space.vector(some))
    return {"outcomes": space.outcomes, "zopa": space.zopa, "frontier": len(frontier)}


def child(case: Case, trace_under: float) -> None:
    """Run one case: a line of JSON for the timed run, then one for the traced run (when
    the timed run took less than ``trace_under`` seconds)."""
    scenario = load(case.scenario)
    start = time.perf_counter()
    result = work(scenario, case.variant)
    result["seconds"] = time.perf_counter() - start
    result["rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result), flush=True)
    if result["seconds"] < trace_under:
        tracemalloc.start()
        work(scenario, case.variant)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(json.dumps({"peak_mib": peak / 2**20}), flush=True)


def run(case: Case, args: argparse.Namespace) -> dict[str, Any]:
    """Run a case in a subprocess under the time limit and memory cap."""
    command = [sys.executable, __file__, "--child", case.scenario, case.variant]
    # tracemalloc slows allocation-heavy code several times: trace only what leaves room
    trace_under = 0 if args.no_memory else args.timeout / 5
    command += ["--memory-gb", str(args.memory_gb), "--trace-under", str(trace_under)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
        out, err, timed_out = done.stdout, done.stderr, False
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
        err, timed_out = "", True
    found: dict[str, Any] = {}
    for line in out.splitlines():
        found.update(json.loads(line))
    if timed_out and "seconds" not in found:
        found["error"] = f"> {args.timeout:g} s (stopped)"
    elif "seconds" not in found:
        last = (err.strip().splitlines() or ["failed"])[-1]
        found["error"] = "out of memory" if "MemoryError" in err else last[:60]
    elif timed_out:
        found["peak_note"] = "stopped"
    elif "peak_mib" not in found and not args.no_memory:
        found["peak_note"] = "skipped"
    return found


def table(rows: list[tuple[Case, dict[str, Any]]]) -> str:
    """The results as a fixed-width table."""
    head = (
        f"{'case':<28}{'seconds':>9}{'target':>8}{'ratio':>8}{'peak MiB':>10}{'RSS MiB':>9}"
        f"{'outcomes':>27}{'ZOPA':>27}{'frontier':>10}"
    )
    lines = [head, "-" * len(head)]
    for case, r in rows:
        if "error" in r:
            lines.append(f"{case.name:<28}{r['error']:>9}  target {case.target:g} s")
            continue
        seconds = r["seconds"]
        peak = f"{r['peak_mib']:.1f}" if "peak_mib" in r else r.get("peak_note", "-")
        flag = "" if seconds <= case.target else "  SLOW"
        lines.append(
            f"{case.name:<28}{seconds:>9.3f}{case.target:>8g}{seconds / case.target:>8.2f}"
            f"{peak:>10}{r['rss_mib']:>9.0f}{r['outcomes']:>27,}{r['zopa']:>27,}"
            f"{r['frontier']:>10,}{flag}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=120, help="seconds per case")
    parser.add_argument("--memory-gb", type=float, default=6, help="address-space cap")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc run")
    parser.add_argument("--only", default="", help="run the cases whose name contains this")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--trace-under", type=float, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cap = int(args.memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        child(Case(args.child[0], args.child[1], math.inf), args.trace_under)
        return
    rows = []
    for case in cases():
        if args.only not in case.name:
            continue
        rows.append((case, run(case, args)))
        print(f"  {case.name}: {rows[-1][1]}", file=sys.stderr, flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
