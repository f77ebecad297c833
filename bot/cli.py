"""The ``parley`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import io
import json
import logging
import os
import shutil
import signal
import sqlite3
import sys
import textwrap
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from bot import paths
from bot.analysis import Point, Space
from bot.domain.scenario import Scenario, ScenarioError, load_scenario
from bot.play import PlayClock, Player, PlayError
from bot.review.export import FORMATS, build_export, format_for, to_markdown
from bot.review.value import mode_summary, space_for
from bot.scenarios import ScenarioLibrary
from bot.service import LogUnavailable, Tables
from bot.service import open_tables as open_tables_service
from bot.settings import Folders, Settings
from bot.store import Store, StoreError, utc_now

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_LOG_UNAVAILABLE = 0, 1, 2, 3
DEMO_SCENARIO = "hanoi-2019"


def _default_db() -> str:
    return Settings().db


#: The first bytes of every SQLite database file.
SQLITE_HEADER = b"SQLite format 3\x00"
DB_HINT = "pass --db with the log's file (or set PARLEY_DB)"
OTHER_DB_HINT = "pass --db with another file (or set PARLEY_DB)"


def _check_db(path: str) -> None:
    """Refuse, in words, a database path SQLite could not use (before it is asked).

    Messages read like the store's own: ``PATH: cannot ...: why; what would work``.
    """
    if not path.strip():
        raise StoreError(
            f"{path!r}: the database's file name is empty; pass --db with the log's file "
            "(or set PARLEY_DB to it)"
        )
    if path == ":memory:":  # SQLite's name for a database that lives in memory only
        raise StoreError(
            f"{path}: SQLite keeps nothing of this database once the command ends; {OTHER_DB_HINT}"
        )
    where = Path(path)
    if where.is_dir():
        raise StoreError(
            f"{path}: cannot use a folder as the database; {OTHER_DB_HINT}, "
            f"e.g. --db {where / 'parley.db'}"
        )
    if not where.exists():
        if not where.parent.is_dir():
            raise StoreError(
                f"{path}: cannot create the database: there is no folder {where.parent}; "
                f"create it first, or {OTHER_DB_HINT}"
            )
        return
    try:
        with where.open("rb") as file:
            start = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise StoreError(
            f"{path}: cannot read this database: {exc.strerror}; {OTHER_DB_HINT}"
        ) from None
    if start and start != SQLITE_HEADER:
        raise StoreError(
            f"{path}: cannot use this database: it is not an SQLite file (not a Parley log); "
            f"{DB_HINT}"
        )
    if start and not _parley_tables(where):
        raise StoreError(
            f"{path}: cannot use this database: it holds another program's tables (not a "
            f"Parley log); {DB_HINT}"
        )


#: Tables every Parley log has (from its first schema version on).
PARLEY_TABLES = frozenset({"tables", "events"})


def _parley_tables(where: Path) -> bool:
    """Whether the SQLite file ``where`` has no tables yet or Parley's (read only: another
    program's database must not gain Parley's tables); if it cannot be read here, the
    store says why when it opens it."""
    try:
        with contextlib.closing(
            sqlite3.connect(f"{where.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            names = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except sqlite3.Error:
        return True
    return not names or names >= PARLEY_TABLES


async def _open_store(path: str) -> Store:
    _check_db(path)
    return await Store.open(path)


# -- play ---------------------------------------------------------------------------------


async def play_lines(
    lines: Sequence[str] | TextIO,
    db: str,
    facilitators: Sequence[str],
    out: TextIO,
    channel: str = "play",
) -> tuple[int, int | None]:
    """Play lines against the log at ``db``; return the exit code and the table id."""
    async with await _open_store(db) as store:
        start = utc_now()
        if (row := await store.open_table_in(None, channel)) is not None:
            # an earlier run left a table open here: its clock goes on from its last event
            start = max(start, (await store.events(row.id))[-1].at)
        tables = Tables(store, ScenarioLibrary(), clock=PlayClock(start))
        assert isinstance(tables.clock, PlayClock)
        player = Player(tables, tables.clock, facilitators=facilitators, channel=channel)
        for number, line in enumerate(lines, start=1):
            try:
                result = await player.play(number, line)
            except PlayError as exc:
                print(f"parley play: {exc}", file=sys.stderr)
                return EXIT_USAGE, player.table_id
            except LogUnavailable as exc:
                # Nothing of this line was logged, and nothing after it is tried.
                print(f"error: line {number}: {exc}", file=out, flush=True)
                print(f"parley play: line {number}: {exc}", file=sys.stderr)
                return EXIT_LOG_UNAVAILABLE, player.table_id
            if result is not None:
                print(result, file=out, flush=True)
        return EXIT_OK, player.table_id


def _facilitators(values: Sequence[str] | None) -> list[str]:
    names = [n.strip() for v in (values or ["instructor"]) for n in v.split(",")]
    return [n for n in names if n]


def cmd_play(args: argparse.Namespace) -> int:
    # A byte that is not UTF-8 reaches the line parser, which names its line (strict
    # decoding would stop the read with a traceback instead).
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(errors="surrogateescape")
    code, _ = asyncio.run(
        play_lines(
            sys.stdin,
            args.db or _default_db(),
            _facilitators(args.facilitator),
            sys.stdout,
            channel=args.channel,
        )
    )
    return code


def _no_demo(library: ScenarioLibrary, wanted: str = DEMO_SCENARIO) -> str:
    """Why the demo scenario is not in ``library``, and what would bring it back."""
    for error in library.errors:
        if Path(error.file).stem == wanted:
            first, more = error.problems[0], len(error.problems) - 1
            check = f"`parley check {error.file} --prompts {library.prompts_dir}`"
            also = f" (and {more} more; {check} lists them all)" if more else ""
            prompts = any("prompt file not found" in p.message for p in error.problems)
            if prompts:
                fix = f"point PARLEY_PROMPTS_DIR (now {library.prompts_dir}) at its prompts"
            elif any("prompt file is not UTF-8" in p.message for p in error.problems):
                fix = "save that prompt file as UTF-8"
            else:
                fix = "fix the file"
            return (
                f"the {wanted} scenario cannot be used: {error.file}: {first}{also}; "
                f"{fix}, or unset PARLEY_RULES_DIR and PARLEY_PROMPTS_DIR to use the shipped ones"
            )
    there = "" if library.rules_dir.is_dir() else ", a folder that does not exist"
    known = ", ".join(library.ids()) or "none"
    return (
        f"there is no {wanted} scenario in {library.rules_dir}{there} (scenarios: {known}); "
        f"point PARLEY_RULES_DIR at a folder holding {wanted}.toml, or unset it to use the "
        "shipped scenarios"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    library = ScenarioLibrary()
    wanted = args.scenario
    if wanted not in library.ids():
        print(f"parley demo: {_no_demo(library, wanted)}", file=sys.stderr)
        return EXIT_FAILURE
    scenario = library.get(wanted)
    if scenario.prompts.demo is None:
        print(
            f"parley demo: {wanted} in {library.rules_dir} names no demo script "
            "(prompts.demo); unset PARLEY_RULES_DIR to use the shipped scenario",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        script = library.prompt(scenario.prompts.demo).splitlines()
    except OSError as exc:
        print(
            f"parley demo: cannot read the demo script {exc.filename}: {exc.strerror}; "
            "unset PARLEY_PROMPTS_DIR to use the shipped prompts",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    db = args.db
    _check_db(db)
    print(f"Playing the demo of “{scenario.title}” ({len(script)} script lines) into {db}\n")
    results = io.StringIO()
    code, table_id = asyncio.run(
        play_lines(script, db, ["instructor"], results, channel=f"demo-{uuid.uuid4().hex[:8]}")
    )
    if code != EXIT_OK or table_id is None:
        print("parley demo: the demo script did not play through", file=sys.stderr)
        return EXIT_FAILURE
    played = iter(results.getvalue().splitlines())
    for line in script:
        if line.strip() and not line.strip().startswith("#"):
            print(f"  {line.strip():<90} -> {next(played, '?')}")
    export = asyncio.run(_export(db, table_id))
    print()
    print(to_markdown(export))
    from bot.review.render import render  # the report draws with matplotlib: slow to import

    report = Path(db).with_name(f"{Path(db).stem}-table-{table_id}.html")
    wrote = _write(
        "demo",
        str(report),
        render(export, "html"),
        f"the table is in {db}: `parley export {table_id} --db {db} -o FILE` writes its report",
    )
    if not wrote:
        return EXIT_FAILURE
    print(f"Table {table_id} is in {db}: `parley export {table_id} --db {db} --format json`.")
    print(f"HTML report: {report.resolve()}")
    return EXIT_OK


async def _export(db: str, table_id: int) -> dict[str, Any]:
    async with await _open_store(db) as store:
        return await build_export(store, table_id)


def _write(command: str, output: str, text: str, otherwise: str) -> bool:
    """Write ``text`` to the file ``output``, whole or not at all; if that fails, say why
    on one line (ending with ``otherwise``, what else would do) and return False."""
    if not output.strip():
        print(f"parley {command}: the output file name is empty; {otherwise}", file=sys.stderr)
        return False
    try:
        _write_whole(Path(output), text.encode("utf-8"))
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            fix = f"free some space (a file already there is kept as it was), {otherwise}"
        else:
            fix = f"pick a file in a folder that exists, {otherwise}"
        print(
            f"parley {command}: cannot write {output}: {exc.strerror or exc}; {fix}",
            file=sys.stderr,
        )
        return False
    return True


def _write_whole(target: Path, data: bytes) -> None:
    """Write ``data`` to a file beside ``target`` and then put it in ``target``'s place: a
    full disk leaves a file already there as it was (writing over it would cut it short).
    What is not a regular file (``/dev/stdout``, a pipe) is written to directly."""
    if target.exists() and not target.is_file():
        if target.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(target))
        target.write_bytes(data)
        return
    target = target.resolve()  # a link stays a link; the file it points to is replaced
    temp = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with temp.open("xb") as file:
            file.write(data)
        if target.exists():
            shutil.copymode(target, temp)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


# -- tables, export, check ------------------------------------------------------------------


def cmd_tables(args: argparse.Namespace) -> int:
    async def run() -> int:
        async with await _open_store(args.db or _default_db()) as store:
            rows = await store.tables()
            if not rows:
                print(
                    "No tables yet. Open one in Discord with /session open, or try `parley demo`."
                )
                return EXIT_OK
            print(
                f"{'id':>4}  {'status':<8}  {'opened (UTC)':<16}  {'scenario':<14}  "
                f"{'rules':<10}  title"
            )
            for row in rows:
                status = "closed" if row.closed_at else "open"
                print(
                    f"{row.id:>4}  {status:<8}  {row.opened_at:%Y-%m-%d %H:%M}  "
                    f"{row.scenario_id:<14}  {row.variant:<10}  {row.title}"
                )
            return EXIT_OK

    return asyncio.run(run())


def _existing_db(command: str, db: str) -> bool:
    """Whether the log to read exists; if not, say so (reading never creates one)."""
    if Path(db).exists():
        return True
    print(
        f"parley {command}: there is no database {db}; {DB_HINT}; "
        "`parley demo` or `parley play` makes one",
        file=sys.stderr,
    )
    return False


def cmd_export(args: argparse.Namespace) -> int:
    from bot.review.render import render  # the report draws with matplotlib: slow to import

    fmt = args.format
    if fmt is None and args.output not in (None, "-"):
        fmt = format_for(args.output)
        if fmt is None and Path(args.output).suffix:
            print(
                f"parley export: cannot tell a format from {args.output}'s suffix "
                f"{Path(args.output).suffix!r}; name the file .html, .md, .json or .csv, "
                "or pass --format html|markdown|json|csv",
                file=sys.stderr,
            )
            return EXIT_USAGE
    db = args.db or _default_db()
    if not _existing_db("export", db):
        return EXIT_FAILURE

    async def run() -> str | None:
        async with await _open_store(db) as store:
            if await store.table(args.table) is None:
                print(
                    f"parley export: there is no table {args.table} in {store.path}; "
                    f"`parley tables --db {store.path}` lists the tables there",
                    file=sys.stderr,
                )
                return None
            return render(await build_export(store, args.table), fmt or "html")

    text = asyncio.run(run())
    if text is None:
        return EXIT_FAILURE
    if args.output in (None, "-"):
        sys.stdout.write(text)
        return EXIT_OK
    if not _write("export", args.output, text, "or leave out -o to print it"):
        return EXIT_FAILURE
    print(f"Wrote {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from bot.review.compare import render_comparison

    db = args.db or _default_db()
    if not _existing_db("compare", db):
        return EXIT_FAILURE

    async def exports() -> list[dict[str, Any]] | None:
        async with await _open_store(db) as store:
            missing = [t for t in args.tables if await store.table(t) is None]
            if missing:
                print(
                    f"parley compare: no table {', '.join(map(str, missing))} in "
                    f"{store.path} (see `parley tables`)",
                    file=sys.stderr,
                )
                return None
            return [await build_export(store, t) for t in args.tables]

    found = asyncio.run(exports())
    if found is None:
        return EXIT_FAILURE
    try:
        page = render_comparison(found, anonymized=args.anonymize)
    except ValueError as exc:
        print(f"parley compare: {exc}", file=sys.stderr)
        return EXIT_USAGE
    output = args.output or f"parley-compare-{'-'.join(map(str, args.tables))}.html"
    if not _write("compare", output, page, "or name another with -o"):
        return EXIT_FAILURE
    print(f"Wrote {output}")
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    failed = False
    for file in args.files:
        try:
            scenario = load_scenario(file, args.prompts)
        except ScenarioError as exc:
            print(exc.render())
            failed = True
            continue
        print(
            f"{file}: ok — {scenario.id}: {len(scenario.delegations)} delegations, "
            f"{len(scenario.baskets)} baskets, {len(scenario.items)} items, "
            f"variants {', '.join(scenario.variant_names())}"
        )
    return EXIT_FAILURE if failed else EXIT_OK


# -- analyze --------------------------------------------------------------------------------


def _scenario_to_analyze(arg: str, prompts: Path | None) -> Scenario | str:
    """The scenario named by ``arg`` (a library id or a .toml file), or why not, in a line."""
    if arg.endswith(".toml") or "/" in arg or "\\" in arg or Path(arg).is_file():
        try:
            return load_scenario(arg, prompts)
        except ScenarioError as exc:
            first, more = exc.problems[0], len(exc.problems) - 1
            also = f" (and {more} more; `parley check {arg}` lists them all)" if more else ""
            prompts_hint = (
                "; pass --prompts with its prompts folder"
                if any("prompt file not found" in p.message for p in exc.problems)
                else ""
            )
            return f"{exc.file}: {first}{also}{prompts_hint}"
    library = ScenarioLibrary(prompts_dir=prompts)
    if arg in library.ids():
        return library.get(arg)
    for error in library.errors:
        if Path(error.file).stem == arg:
            return f"the scenario {arg} cannot be used: {error.file}: {error.problems[0]}"
    known = ", ".join(library.ids()) or "none"
    return (
        f"there is no scenario {arg!r} in {library.rules_dir} (scenarios: {known}); "
        "pass a scenario id or a .toml file"
    )


def _points_text(scenario: Scenario, space: Space, point: Point | None) -> list[str]:
    """A point as its scores and gains, then its items by title, wrapped."""
    if point is None:
        return ["none: the ZOPA is empty (no outcome leaves every delegation at its BATNA)"]
    scores = ", ".join(
        f"{d} {u} (gain {u - b:+d})"
        for (d, u), b in zip(point.scores.items(), space.batnas, strict=True)
    )
    chosen = set(point.items)
    left_out = [i.title for i in scenario.items if i.id not in chosen]
    if len(left_out) < len(chosen):
        said = f"{len(chosen)} of {len(scenario.items)} items, all but: " + (
            " · ".join(left_out) or "none"
        )
    else:
        said = f"{len(chosen)} of {len(scenario.items)} items: " + " · ".join(
            i.title for i in scenario.items if i.id in chosen
        )
    items = textwrap.wrap(said, width=96, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return [scores, *items]


def _mode_text(scenario: Scenario, variant: str, space: Space) -> list[str]:
    share = f" ({space.zopa / space.outcomes:.1%})" if space.outcomes else ""
    overrides = scenario.variants.get(variant)
    title = f": {overrides.title}" if overrides and overrides.title else ""
    lines = [
        "",
        f"{variant}{title} (rule: {space.sequencing.value})",
        f"  outcomes: {space.outcomes:,}; in the ZOPA: {space.zopa:,}{share}",
        "  maximum joint gain: "
        + ("none (no outcome)" if space.max_joint_gain is None else str(space.max_joint_gain)),
    ]
    for name, point in (("Nash point", space.nash), ("Kalai point", space.kalai)):
        first, *rest = _points_text(scenario, space, point)
        lines += [f"  {name}: {first}", *rest]
    if len(space.delegations) == 2:
        pairs = " ".join(
            f"({a},{b})" for a, b in (tuple(p.scores.values()) for p in space.frontier)
        )
        lines += textwrap.wrap(
            f"Pareto frontier ({', '.join(space.delegations)}), {len(space.frontier)} points: "
            + pairs,
            width=96,
            initial_indent="  ",
            subsequent_indent="    ",
        )
    else:
        lines.append(
            f"  Pareto frontier: {len(space.front)} points "
            "(not listed for more than two delegations)"
        )
    if space.upper_bound:
        lines += textwrap.wrap(
            f"{variant} is an upper bound: it counts any set of items, whether or not "
            "offers under its rules could build it",
            width=96,
            initial_indent="  ",
            subsequent_indent="    ",
        )
    return lines


def cmd_analyze(args: argparse.Namespace) -> int:
    found = _scenario_to_analyze(args.scenario, args.prompts)
    if isinstance(found, str):
        print(f"parley analyze: {found}", file=sys.stderr)
        return EXIT_FAILURE
    scenario = found
    variants = scenario.variant_names()
    if args.sequencing is not None and args.sequencing not in variants:
        print(
            f"parley analyze: {scenario.id} has no sequencing {args.sequencing!r}; "
            f"its variants: {', '.join(variants)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    chosen = [args.sequencing] if args.sequencing else variants
    spaces = [(v, space_for(scenario, v)) for v in chosen]
    if args.json:
        modes = [{"sequencing": v, **mode_summary(space)} for v, space in spaces]
        print(json.dumps({"scenario": scenario.id, "modes": modes}, ensure_ascii=False, indent=2))
        return EXIT_OK
    offering = [d for d in scenario.delegations if d.offers]
    print(
        f"{scenario.title} ({scenario.id}): {len(scenario.items)} items; BATNAs "
        + ", ".join(f"{d.id} {d.batna}" for d in offering)
    )
    for variant, space in spaces:
        print("\n".join(_mode_text(scenario, variant, space)))
    print(
        "\nScores are each delegation's utility (the sum of its values of the items); "
        "gain = utility - BATNA."
    )
    return EXIT_OK


def _names(value: str | None, default: Sequence[str]) -> list[str]:
    """A comma-separated option as a list (the default when not given)."""
    if value is None:
        return list(default)
    return [v.strip() for v in value.split(",") if v.strip()]


def cmd_simulate(args: argparse.Namespace) -> int:
    from bot.counterparts import simulate as sim
    from bot.domain.commands import STRATEGIES

    found = _scenario_to_analyze(args.scenario, args.prompts)
    if isinstance(found, str):
        print(f"parley simulate: {found}", file=sys.stderr)
        return EXIT_FAILURE
    scenario = found
    modes = list(
        dict.fromkeys(scenario.rules_for(v).sequencing.value for v in scenario.variant_names())
    )
    if args.runs < 1 or args.runs > MAX_SIMULATION_RUNS:
        print(f"parley simulate: --runs must be 1 to {MAX_SIMULATION_RUNS}", file=sys.stderr)
        return EXIT_USAGE
    chosen_modes = _names(args.sequencing, modes)
    chosen_strategies = _names(args.strategies, STRATEGIES)
    for option, chosen, known in (
        ("--sequencing", chosen_modes, modes),
        ("--strategies", chosen_strategies, STRATEGIES),
    ):
        if not chosen:
            print(
                f"parley simulate: {option} names nothing to play; name one or more of "
                f"{', '.join(known)} (comma-separated), or leave it out for all",
                file=sys.stderr,
            )
            return EXIT_USAGE
    try:
        results, runs = sim.plan(
            scenario,
            chosen_modes,
            chosen_strategies,
            args.runs,
            args.seed,
        )
    except ValueError as exc:
        print(f"parley simulate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with _progress(len(runs), f"simulating {scenario.id}") as bar:
        if args.db is None:
            for run in runs:
                state = sim.play_table(scenario, run.variant, run.strategies, run.seed)
                run.result.tables.append(sim.table_result(state, run.scorer))
                bar.update(1)
        else:
            library = _library_holding(scenario, args.scenario, args.prompts)
            if isinstance(library, str):
                print(f"parley simulate: {library}", file=sys.stderr)
                return EXIT_FAILURE
            asyncio.run(_simulate_logged(args.db, library, scenario, runs, bar.update))
    if args.json:
        report = {
            "scenario": scenario.id,
            "runs": args.runs,
            "seed": args.seed,
            "results": [r.to_json() for r in results],
        }
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print("\n".join(_simulation_text(scenario, results, args.runs, args.seed)))
    return EXIT_OK


#: The most runs per combination (a typo of a few zeros should not run for hours).
MAX_SIMULATION_RUNS = 100_000


def _progress(total: int, what: str) -> Any:
    """A progress bar on standard error when it is a terminal and the run is long."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=what,
        unit=" tables",
        file=sys.stderr,
        disable=not sys.stderr.isatty() or total < PROGRESS_FROM,
        leave=False,
    )


#: Runs shorter than this many tables get no progress bar.
PROGRESS_FROM = 500


def _library_holding(scenario: Scenario, arg: str, prompts: Path | None) -> ScenarioLibrary | str:
    """A library that serves ``scenario`` by id (for tables logged through the service)."""
    library = ScenarioLibrary(prompts_dir=prompts)
    if scenario.id not in library.ids() and Path(arg).is_file():
        library = ScenarioLibrary(rules_dir=Path(arg).resolve().parent, prompts_dir=prompts)
    if scenario.id not in library.ids():
        return f"cannot log {scenario.id}: its file's folder does not serve it by that id"
    return library


async def _simulate_logged(
    db: str, library: ScenarioLibrary, scenario: Scenario, runs: Sequence[Any], step: Any
) -> None:
    """Play the runs through the service into the log at ``db`` (each its own table)."""
    from bot.counterparts import simulate as sim
    from bot.domain import commands as c

    _check_db(db)
    tables = await open_tables_service(db, library)
    batch = uuid.uuid4().hex[:8]
    try:
        for n, run in enumerate(runs, 1):
            named = ", ".join(f"{d} {s}" for d, s in run.strategies.items())
            opened = await tables.open(
                sim.FACILITATOR,
                scenario.id,
                run.variant,
                title=f"Simulation {batch}-{n}: {named}",
                channel_id=f"simulation-{batch}-{n}",
            )
            if opened.refusal is not None:
                raise StoreError(f"could not open a simulated table: {opened.refusal.message}")
            table_id = opened.table_id
            for delegation, strategy in run.strategies.items():
                seat = c.Seat(
                    who=sim.FACILITATOR,
                    delegation=delegation,
                    strategy=strategy,
                    think_seconds=0,
                    seed=run.seed,
                )
                await tables.act(table_id, seat)
            await tables.act(table_id, c.Start(who=sim.FACILITATOR))
            await tables.counterparts_play(table_id)
            state = await tables.state(table_id)
            run.result.tables.append(sim.table_result(state, run.scorer))
            step(1)
    finally:
        await tables.close()


def _simulation_text(scenario: Scenario, results: Sequence[Any], runs: int, seed: int) -> list[str]:
    """The results as an aligned table, one row per mode and assignment of strategies."""
    delegations = scenario.offering
    head = [
        "mode",
        *delegations,
        "deals",
        "rate",
        ">= BATNAs",
        "joint gain",
        "left",
        "rounds",
        "refused",
    ]
    rows = [head]
    for result in results:
        row = result.to_json()
        rows.append(
            [
                row["sequencing"],
                *(row["strategies"][d] for d in delegations),
                f"{row['deals']}/{row['runs']}",
                f"{row['deal_rate']:.2f}",
                str(row["deals_above_batnas"]),
                f"{row['mean_joint_gain']:.1f}",
                f"{row['mean_left_on_table']:.1f}",
                f"{row['mean_rounds']:.1f}",
                str(row["refusals"]),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = [
        f"{scenario.title} ({scenario.id}): counterpart against counterpart, "
        f"{runs} run(s) per row, seed {seed}",
        "",
    ]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    lines += [
        "",
        "deals: tables that agreed anything; >= BATNAs: deals leaving every delegation at or "
        "above its BATNA; joint gain: the sum of each delegation's utility minus its BATNA "
        "(no deal: 0); left: the mode's maximum joint gain minus the joint gain; means over "
        "the runs.",
    ]
    return lines


def cmd_schema(args: argparse.Namespace) -> int:
    from bot.review.schema import export_schema

    print(json.dumps(export_schema(), indent=2))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"parley run: {_bad_settings(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"parley run: bad settings: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if settings.discord_token is None or not settings.discord_token.get_secret_value():
        print(
            "parley run: DISCORD_TOKEN is not set. Put the bot token from the Discord "
            "developer portal (Bot > Reset Token) in the environment or in .env; see the "
            "README's 'Setting up Discord'.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    _check_db(settings.db)  # a log the bot could not open stops it before it connects
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    return asyncio.run(_run_bot(settings))


async def _run_bot(settings: Settings) -> int:
    import aiohttp
    import discord

    from bot.discord_app.announcements import AnnouncementsError, templates
    from bot.discord_app.app import make_bot, point_at

    try:
        templates()
    except AnnouncementsError as exc:
        print(f"parley run: the announcements file needs fixing:\n{exc}", file=sys.stderr)
        return EXIT_FAILURE
    point_at(settings)
    bot = make_bot(settings, tune_gc=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    assert settings.discord_token is not None
    async with bot:
        running = asyncio.create_task(bot.start(settings.discord_token.get_secret_value()))
        stopping = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if running in done:
            stopping.cancel()
            try:
                running.result()
            except discord.LoginFailure:
                print(
                    "parley run: Discord refused the token (DISCORD_TOKEN); reset it in "
                    "the developer portal and try again.",
                    file=sys.stderr,
                )
                return EXIT_FAILURE
            except aiohttp.ClientConnectionError as exc:
                print(
                    f"parley run: cannot reach Discord at {settings.api_base}: {exc}; check "
                    "the network (and DISCORD_API_BASE, DISCORD_GATEWAY_URL if set)",
                    file=sys.stderr,
                )
                return EXIT_FAILURE
            return EXIT_OK
        logging.getLogger("parley").info("stopping on a signal")
        await bot.close()
        running.cancel()
    return EXIT_OK


def cmd_invite_url(args: argparse.Namespace) -> int:
    from bot.discord_app.invite import invite_url

    try:
        print(invite_url(Settings(), args.client_id))
    except ValidationError as exc:
        print(f"parley invite-url: {_bad_settings(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"parley invite-url: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


# -- the parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="parley", description="Negotiation role-plays for seminars, on Discord."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="the log's SQLite file (default: $PARLEY_DB or ./parley.db)")

    p = sub.add_parser("run", help="start the Discord bot (needs DISCORD_TOKEN)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("invite-url", help="print the link that adds the bot to a server")
    p.add_argument("--client-id", type=int, help="the application id (default: from the token)")
    p.set_defaults(func=cmd_invite_url)

    p = sub.add_parser("demo", help="play a scenario's scripted seminar table with no Discord")
    p.add_argument("--db", default="parley-demo.db", help="where to log it (parley-demo.db)")
    p.add_argument(
        "--scenario",
        default=DEMO_SCENARIO,
        metavar="ID",
        help=f"the scenario whose demo script to play (default {DEMO_SCENARIO})",
    )
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("play", help="play a table from `NAME: COMMAND key=value` lines on stdin")
    db_option(p)
    p.add_argument(
        "--facilitator",
        action="append",
        metavar="NAME",
        help="a facilitator's name (repeatable or comma-separated; default: instructor)",
    )
    p.add_argument("--channel", default="play", help="the channel name the table lives in")
    p.set_defaults(func=cmd_play)

    p = sub.add_parser("tables", help="list the tables in the log")
    db_option(p)
    p.set_defaults(func=cmd_tables)

    p = sub.add_parser("export", help="export a table's log")
    p.add_argument("table", type=int, help="the table's id (see `parley tables`)")
    p.add_argument(
        "--format",
        choices=FORMATS,
        help="html, markdown, json or csv (default: from -o's suffix, else html)",
    )
    p.add_argument("-o", "--output", help="write to this file instead of standard output")
    db_option(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("compare", help="one HTML page comparing tables of the same scenario")
    p.add_argument("tables", type=int, nargs="+", metavar="TABLE", help="table ids (2 or more)")
    p.add_argument("-o", "--output", help="the page's file (default: parley-compare-IDS.html)")
    p.add_argument(
        "--anonymize",
        action="store_true",
        help='"Student 1", "Student 2"... for names and "Table A"... for titles, to show a class',
    )
    db_option(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("check", help="validate scenario files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "--prompts",
        type=Path,
        default=None,
        help=f"the prompts folder (default: prompts/ beside rules/, here {paths.PROMPTS_DIR})",
    )
    p.set_defaults(func=cmd_check)

    p = sub.add_parser(
        "analyze", help="what a scenario allows per rule mode: ZOPA, joint gain, Nash, frontier"
    )
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario id or a .toml file")
    p.add_argument(
        "--sequencing", metavar="MODE", help="one of the scenario's variants (default: all)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument(
        "--prompts",
        type=Path,
        default=None,
        help="a file's prompts folder (default: prompts/ beside its rules/ folder)",
    )
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser(
        "simulate", help="counterpart against counterpart under each rule mode, through the rules"
    )
    p.add_argument("scenario", metavar="SCENARIO", help="a scenario id or a .toml file")
    p.add_argument(
        "--sequencing",
        metavar="MODES",
        help="comma-separated rule modes (default: every mode the scenario has)",
    )
    p.add_argument(
        "--strategies",
        metavar="NAMES",
        help="comma-separated strategies (default: boulware,linear,conceder,tit-for-tat)",
    )
    p.add_argument("--runs", type=int, default=50, help="tables per combination (default 50)")
    p.add_argument("--seed", type=int, default=1, help="the simulation's seed (default 1)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--db", help="log every simulated table in this SQLite file (default: in memory only)"
    )
    p.add_argument(
        "--prompts",
        type=Path,
        default=None,
        help="a file's prompts folder (default: prompts/ beside its rules/ folder)",
    )
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("schema", help="print the JSON Schema of the json export (parley-log/1)")
    p.set_defaults(func=cmd_schema)
    return parser


#: The models read from the environment and .env: their errors are bad settings.
SETTINGS_MODELS = frozenset({Settings.__name__, Folders.__name__})


def _bad_settings(exc: ValidationError) -> str:
    """A settings error on one line: each bad setting by name, with what is wrong."""
    problems = "; ".join(
        f"{'.'.join(map(str, error['loc'])) or 'settings'}: "
        f"{error['msg'].removeprefix('Value error, ')}"
        for error in exc.errors()
    )
    return f"bad settings (environment or .env): {problems}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``parley`` command line."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a full disk or a closed pipe shows here, not at exit
    except BrokenPipeError:
        # whoever read the output (`| head`) has what they wanted: nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise
        # files are written by _write, the log by the store: this is standard output
        print(
            f"parley: cannot write the output: {exc.strerror}; free some space, or send "
            "it elsewhere",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    except StoreError as exc:
        print(f"parley: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ValidationError as exc:
        if exc.title not in SETTINGS_MODELS:  # a bug, not the user's: its traceback shows
            raise
        print(f"parley: {_bad_settings(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
