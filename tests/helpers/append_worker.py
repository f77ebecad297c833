"""Append to one table as fast as possible, from its own process, through Store and Tables.

    python tests/helpers/append_worker.py DB TABLE_ID NAME MODE N [--handshake]

``MODE`` is ``say`` (NAME makes N statements: any delegation member may, at any time) or
``refused`` (NAME, an observer, tries N passes: each a logged ``not_a_member`` refusal).
With ``--handshake`` the worker loads the table, prints ``ready`` and waits for a line on
standard input before it starts, so several workers can be let go at the same moment.
Prints one JSON line: ``{"name", "seqs", "kinds", "began", "ended"}``: every event the
worker was told it logged, in order, and when (``time.time()``) its first action began and
its last one ended.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from bot.domain import commands as c
from bot.scenarios import ScenarioLibrary
from bot.service import Tables
from bot.store import Store


async def work(db: str, table_id: int, name: str, mode: str, n: int, handshake: bool) -> dict:
    """Perform ``n`` actions and return what the log said about each."""
    who = c.Who(user_id=name, name=name)
    seqs: list[int] = []
    kinds: list[str] = []
    async with await Store.open(db) as store:
        tables = Tables(store, ScenarioLibrary())
        await tables.state(table_id)  # load the table before the start
        if handshake:
            print("ready", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
        began = time.time()
        for i in range(n):
            command: c.Command
            if mode == "say":
                command = c.Say(who=who, text=f"{name} statement {i}")
            elif mode == "refused":
                command = c.Pass(who=who)
            else:
                raise SystemExit(f"unknown mode {mode!r}")
            outcome = await tables.act(table_id, command)
            seqs.extend(e.seq for e in outcome.events)
            kinds.extend(outcome.kinds)
        ended = time.time()
    return {"name": name, "seqs": seqs, "kinds": kinds, "began": began, "ended": ended}


def main(argv: list[str]) -> int:
    """Run one worker from the command line."""
    db, table_id, name, mode, n = argv[:5]
    handshake = "--handshake" in argv[5:]
    result = asyncio.run(work(db, int(table_id), name, mode, int(n), handshake))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
