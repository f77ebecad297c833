"""Report benchmark, run on demand (no assertions): prints figures.

    .venv/bin/python bench/report_bench.py [--sizes 100 1000 10000] [--repeat 3] [--keep DIR]

For each size it plays a synthetic hanoi-2019 table of exactly that many events through
the real engine and log (``bot.cli.play_lines`` into a temporary database): offers and
counter-offers, rejections, passes, statements, refused attempts of six codes, injects,
and agreements that the facilitator undoes, with the US and DPRK heads alternating as the
turn order demands. The scenario is copied with a high ``max_rounds`` so a long table does
not close early. It then times ``build_export`` and ``render_report`` (best of
``--repeat``) and prints the size of the HTML, raw and gzipped.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETUP = [
    'instructor: session open scenario=hanoi-2019 sequencing=singapore title="Bench table"',
    "alice: join",
    "bob: join",
    "carol: join",
    "dave: join",
    "instructor: session assign member=alice delegation=us role=head",
    "instructor: session assign member=bob delegation=us role=member",
    "instructor: session assign member=carol delegation=dprk role=head",
    "instructor: session assign member=dave delegation=dprk role=member",
    "instructor: session start",
]

#: One cycle, starting and ending on the US's turn: (line, events it logs).
CYCLE = [
    ("carol: offer give=dprk-liaison-access ask=us-liaison-office", 1),  # not_your_turn
    ('alice: offer give=us-travel-ban ask=dprk-family-reunions note="A small step."', 1),
    ('carol: say text="We note the offer of cycle {n} and will answer in kind."', 1),
    ("dave: accept", 1),  # role_not_allowed
    ("carol: offer give=dprk-liaison-access ask=us-liaison-office,us-travel-ban", 1),  # counter
    ("bob: offer give=us-security-assurance ask=dprk-dmz-pullback", 1),  # basket_closed
    ('alice: reject reason="Not yet: the travel ban is for later."', 1),
    ("carol: pass", 1),
    ("alice: offer give=us-humanitarian ask=dprk-remains", 1),
    ("dave: reject", 1),
    ('bob: say text="Round after round, the channel stays open."', 1),
    ("alice: offer give=us-liaison-office ask=dprk-liason-access", 1),  # unknown_item
    ("alice: offer give=us-liaison-office ask=dprk-liaison-access", 1),
    ("carol: accept", 2),  # offer_accepted + agreement_reached
    ("instructor: session undo", 1),  # back to the DPRK's turn, the offer standing
    ('carol: reject reason="On reflection, not this week."', 1),
    ("carol: accept", 1),  # refused: the US is on move
]
INJECT = ("instructor: session inject event=april-calendar", 1)
END = ("instructor: session end", 1)


def script(events: int) -> list[str]:
    """Lines that log exactly ``events`` events (at least 11: the setup and the end)."""
    lines = list(SETUP)
    count = len(SETUP)
    budget = events - END[1]
    cycle_cost = sum(n for _, n in CYCLE) + INJECT[1]
    n = 0
    while count + cycle_cost <= budget:
        n += 1
        for line, logged in CYCLE:
            lines.append(line.format(n=n))
            count += logged
        if n % 5 == 0:
            lines.append(INJECT[0])
        else:
            lines.append(f'alice: say text="A statement for the record, number {n}."')
        count += 1
    while count < budget:
        lines.append(f'bob: say text="Padding statement {count}."')
        count += 1
    lines.append(END[0])
    return lines


def logged_kinds(output: str) -> Iterator[str]:
    """The kinds of events a ``parley play`` output says were logged (refusals included)."""
    for line in output.splitlines():
        if line.startswith("ok "):
            yield from line.split()[1:]
        elif line.startswith("refused "):
            yield "action_refused"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3, help="renders per size (best kept)")
    parser.add_argument("--keep", type=Path, help="write each report to this folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="parley-report-bench-"))
    rules = work / "rules"
    rules.mkdir()
    source = (ROOT / "rules" / "hanoi-2019.toml").read_text(encoding="utf-8")
    (rules / "hanoi-2019.toml").write_text(
        re.sub(r"(?m)^max_rounds = \d+", "max_rounds = 100000", source), encoding="utf-8"
    )
    os.environ["PARLEY_RULES_DIR"] = str(rules)
    os.environ.setdefault("PARLEY_PROMPTS_DIR", str(ROOT / "prompts"))
    sys.path.insert(0, str(ROOT))

    from bot.cli import play_lines
    from bot.review.export import build_export
    from bot.review.report import read_debrief, render_report
    from bot.store import Store

    async def play(size: int) -> tuple[dict[str, object], float, float, int]:
        db = work / f"table-{size}.db"
        out = io.StringIO()
        started = time.perf_counter()
        code, table_id = await play_lines(script(size), str(db), ["instructor"], out)
        played = time.perf_counter() - started
        assert code == 0 and table_id is not None, out.getvalue()[-2000:]
        predicted = sum(1 for _ in logged_kinds(out.getvalue()))
        async with await Store.open(str(db)) as store:
            started = time.perf_counter()
            export = await build_export(store, table_id)
            built = time.perf_counter() - started
        return export, played, built, predicted

    header = (
        f"{'events':>8} {'rounds':>7} {'refused':>8} {'play (s)':>9} {'export (ms)':>12} "
        f"{'render (ms)':>12} {'HTML (KiB)':>11} {'gzip (KiB)':>11} {'B/event':>8}"
    )
    print(f"render_report, best of {args.repeat}; Python {sys.version.split()[0]}")
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        export, played, built, reported = asyncio.run(play(size))
        events: list[dict[str, object]] = export["events"]  # type: ignore[assignment]
        assert len(events) == size == reported, (len(events), size, reported)
        debrief = read_debrief(export)
        timings = []
        html = ""
        for _ in range(args.repeat):
            started = time.perf_counter()
            html = render_report(export, debrief)
            timings.append(time.perf_counter() - started)
        raw = html.encode("utf-8")
        packed = gzip.compress(raw)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            (args.keep / f"report-{size}.html").write_bytes(raw)
        outcome: dict[str, object] = export["outcome"]  # type: ignore[assignment]
        refusals: dict[str, int] = outcome["refusals"]  # type: ignore[assignment]
        print(
            f"{size:>8,} {outcome['rounds']:>7} {sum(refusals.values()):>8} {played:>9.1f} "
            f"{built * 1000:>12.0f} {min(timings) * 1000:>12.0f} {len(raw) / 1024:>11.0f} "
            f"{len(packed) / 1024:>11.0f} {len(raw) / size:>8.0f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
