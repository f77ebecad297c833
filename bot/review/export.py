"""Exports of a table's log: ``parley-log/1`` JSON, CSV and a Markdown transcript.

Every format is built from the same export dictionary (:func:`build_export`), which is
the JSON format itself; the HTML report reads it too.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from typing import Any

from bot.domain import events as ev
from bot.domain.events import Event, EventKind
from bot.domain.scenario import STORED, Scenario
from bot.domain.state import Replay
from bot.review.narrate import contained, delegation_name, describe
from bot.review.value import table_analysis
from bot.store import Store, TableRow

FORMAT = "parley-log/1"
FORMATS = ("html", "markdown", "json", "csv")
SUFFIX = {"json": "json", "csv": "csv", "markdown": "md", "html": "html"}
MEDIA_TYPE = {
    "json": "application/json",
    "csv": "text/csv",
    "markdown": "text/markdown",
    "html": "text/html",
}


def _event_dict(event: Event, reverted_by: dict[int, int]) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at.isoformat().replace("+00:00", "Z"),
        "kind": event.kind.value,
        "actor": event.actor.model_dump(mode="json") if event.actor else None,
        "data": event.data.dumped(),
        "reverted_by": reverted_by.get(event.seq),
    }


def export_dict(
    row: TableRow,
    scenario: Scenario,
    events: list[Event],
    prompts: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The ``parley-log/1`` export of one table (``prompts``: the table's copy of its texts)."""
    state = Replay(scenario, events).state
    reverted_by = {
        seq: e.seq
        for e in events
        if isinstance(e.data, ev.ActionReverted)
        for seq in e.data.reverts
    }
    members: dict[str, dict[str, Any]] = {}
    for e in events:
        data = e.data
        if isinstance(data, ev.MemberJoined | ev.MemberAssigned):
            entry = members.setdefault(data.user_id, {"user_id": data.user_id, "name": data.name})
            entry.update(delegation=data.delegation, role=data.role)
        elif isinstance(data, ev.MemberLeft) and data.user_id in members:
            members[data.user_id]["left"] = True
    for member in members.values():
        current = state.member(member["user_id"])
        member.setdefault("left", False)
        if current is not None:
            member.update(delegation=current.delegation, role=current.role, left=False)
    agreed = [
        {
            "item": item_id,
            "title": state.item(item_id).title,
            "basket": state.item(item_id).basket,
            "giver": state.item(item_id).giver,
            "text": state.item(item_id).text,
            "agreement_seq": agreement.seq,
            "round": agreement.round,
        }
        for agreement in state.agreements
        for item_id in agreement.items
    ]
    # With nothing agreed each side keeps its BATNA: no margin, no gain, and no loss.
    deal = bool(state.agreements)
    scores = {
        d: {
            **v,
            "margin": v["score"] - v["batna"] if deal else 0,
            "beats_batna": deal and v["score"] > v["batna"],
        }
        for d, v in state.scores().items()
    }
    refusals = Counter(e.data.code for e in events if isinstance(e.data, ev.ActionRefused))
    return {
        "format": FORMAT,
        "table": {
            "id": row.id,
            "title": row.title,
            "scenario": row.scenario_id,
            "variant": row.variant,
            "sequencing": state.rules.sequencing.value,
            "guild_id": row.guild_id,
            "channel_id": row.channel_id,
            "opened_at": row.opened_at.isoformat().replace("+00:00", "Z"),
            "closed_at": row.closed_at.isoformat().replace("+00:00", "Z")
            if row.closed_at
            else None,
            "phase": state.phase.value,
            "round": state.round,
            "facilitators": [
                {"user_id": uid, "name": name} for uid, name in state.facilitators.items()
            ],
        },
        "scenario": scenario.model_dump(mode="json"),
        "members": sorted(
            members.values(),
            key=lambda m: (
                m["delegation"] is None,
                m["delegation"] or "",
                m["role"] != "head",
                m["name"].lower(),
            ),
        ),
        "events": [_event_dict(e, reverted_by) for e in events],
        "outcome": {
            "phase": state.phase.value,
            "reason": state.close_reason,
            "rounds": state.round,
            "agreed": agreed,
            "agreements": [
                {"seq": a.seq, "offer": a.offer, "round": a.round, "items": list(a.items)}
                for a in state.agreements
            ],
            "scores": scores,
            "joint_gain": sum(v["margin"] for v in scores.values()),
            "refusals": dict(sorted(refusals.items())),
        },
        "prompts": prompts or {},
        "analysis": table_analysis(scenario, row.variant, events, reverted_by, state.agreed),
    }


async def build_export(store: Store, table_id: int) -> dict[str, Any]:
    """Read a table from the log and build its export dictionary."""
    row = await store.table(table_id)
    if row is None:
        raise KeyError(table_id)
    return export_dict(
        row,
        await store.scenario(table_id),
        await store.events(table_id),
        await store.prompts(table_id),
    )


def to_json(export: dict[str, Any]) -> str:
    """The JSON export."""
    return json.dumps(export, ensure_ascii=False, indent=2) + "\n"


CSV_COLUMNS = (
    "table_id",
    "seq",
    "at",
    "kind",
    "user_id",
    "name",
    "delegation",
    "role",
    "round",
    "code",
    "give",
    "ask",
    "items",
    "offer",
    "text",
    "reverted_by",
    "data",
)


#: What a spreadsheet takes for the start of a formula (OWASP's CSV injection list, plus
#: the line feed and NUL some spreadsheets also act on).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


def _csv_cell(value: object) -> object:
    """A CSV cell no spreadsheet runs as a formula: text that could start one gets a
    leading single quote (OWASP). Numbers the program wrote (ints, floats) stay numbers;
    text that merely looks like a number (``-3`` typed by a player) is text, and quoted.

    A carriage return becomes a line feed, which the writer quotes (it leaves a lone
    ``\r`` bare, and a bare one breaks the row for every reader).
    """
    if not isinstance(value, str):
        return value
    if value.lstrip(" ").startswith(FORMULA_TRIGGERS):
        value = "'" + value
    return value.replace("\r\n", "\n").replace("\r", "\n")


def to_csv(export: dict[str, Any]) -> str:
    """One row per event, flat columns (the full data as JSON in the last one).

    Safe to open in a spreadsheet: no text cell can run as a formula (:func:`_csv_cell`).
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    round_ = 0
    for e in export["events"]:
        actor = e["actor"] or {}
        data = e["data"]
        round_ = data.get("round", round_)
        text = (
            data.get("text") or data.get("note") or data.get("reason") or data.get("message") or ""
        )
        row = [
            export["table"]["id"],
            e["seq"],
            e["at"],
            e["kind"],
            actor.get("user_id", ""),
            actor.get("name", ""),
            actor.get("delegation") or "",
            actor.get("role") or "",
            round_,
            data.get("code", ""),
            ",".join(data.get("give", [])),
            ",".join(data.get("ask", [])),
            ",".join(data.get("items", [])),
            data.get("offer", ""),
            text,
            e.get("reverted_by") or "",
            json.dumps(data, ensure_ascii=False, separators=(",", ":")),
        ]
        writer.writerow([_csv_cell(cell) for cell in row])
    return out.getvalue()


def joint_statement(export: dict[str, Any]) -> list[tuple[str, list[str]]]:
    """The agreed text in basket order: (basket title, clauses)."""
    scenario = Scenario.model_validate(export["scenario"], context=STORED)
    by_basket: dict[str, list[str]] = {}
    for agreed in export["outcome"]["agreed"]:
        by_basket.setdefault(agreed["basket"], []).append(agreed["text"] or agreed["title"])
    return [
        (basket.title, by_basket[basket.id])
        for basket in scenario.baskets_in_order()
        if basket.id in by_basket
    ]


def to_markdown(export: dict[str, Any]) -> str:
    """The transcript, readable in any Markdown viewer.

    Text from players and the scenario (names, titles, statements, notes, reasons) is
    HTML-escaped, so a viewer shows ``<script>`` as text rather than running it.
    """
    scenario = Scenario.model_validate(export["scenario"], context=STORED)
    table = export["table"]
    outcome = export["outcome"]
    lines = [
        f"# {_text(table['title'])}",
        "",
        f"- Scenario: {_text(scenario.title)} (`{scenario.id}`), rules: `{table['variant']}`",
        f"- Opened: {table['opened_at']}"
        + (f"; closed: {table['closed_at']}" if table["closed_at"] else ""),
        f"- Facilitators: {', '.join(_text(f['name']) for f in table['facilitators']) or '—'}",
        "",
        "## Delegations",
        "",
    ]
    for delegation in scenario.delegations:
        people = [
            f"{_text(m['name'])} ({m['role']})" + (" — left" if m.get("left") else "")
            for m in export["members"]
            if m["delegation"] == delegation.id
        ]
        lines.append(f"- **{_text(delegation.name)}**: {', '.join(people) or '—'}")
    observers = [_text(m["name"]) for m in export["members"] if m["delegation"] is None]
    if observers:
        lines.append(f"- Observers: {', '.join(observers)}")
    lines += [
        "",
        "## Transcript",
        "",
        "| # | round | time (UTC) | what happened |",
        "|---:|---:|---|---|",
    ]
    round_ = 0
    for e in export["events"]:
        round_ = e["data"].get("round", round_)
        text = _cell(describe(e, scenario))
        if e["kind"] == EventKind.ACTION_REFUSED:
            text = f"✗ {text}"
        if e.get("reverted_by"):
            text = f"~~{text}~~ (undone by #{e['reverted_by']})"
        time = e["at"][11:19]
        lines.append(f"| {e['seq']} | {round_ or ''} | {time} | {text} |")
    lines += ["", "## Joint statement", ""]
    statement = joint_statement(export)
    if not statement:
        lines.append("Nothing was agreed.")
    for title, clauses in statement:
        lines.append(f"**{_text(title)}**")
        lines += [f"- {_text(clause)}" for clause in clauses]
        lines.append("")
    lines += [
        "",
        "## Scores",
        "",
        "| delegation | score | BATNA | beats BATNA |",
        "|---|---:|---:|---|",
    ]
    for delegation_id, score in outcome["scores"].items():
        lines.append(
            f"| {_cell(delegation_name(scenario, delegation_id))} | {score['score']} | "
            f"{score['batna']} | {'yes' if score['beats_batna'] else 'no'} |"
        )
    lines += _value_lines(export, scenario)
    if outcome["refusals"]:
        lines += ["", "## Refused attempts", ""]
        lines += [f"- `{code}`: {n}" for code, n in outcome["refusals"].items()]
    return "\n".join(lines).rstrip() + "\n"


def _value_lines(export: dict[str, Any], scenario: Scenario) -> list[str]:
    """The Markdown "Value" section: what the table made of what the rules allowed."""
    analysis = export.get("analysis")
    if not analysis or analysis["max_joint_gain"] is None:
        return []
    measured = analysis["outcome"]
    bound = " (an upper bound: any set of items)" if analysis.get("upper_bound") else ""
    lines = [
        "",
        "## Value",
        "",
        f"- Maximum joint gain under `{analysis['variant']}`: {analysis['max_joint_gain']}{bound}",
        f"- This table's joint gain: {measured['joint_gain']}",
        f"- Left on the table: {measured['left_on_table']}",
        "- Pareto-optimal: "
        + (
            "yes"
            if measured["pareto_optimal"]
            else f"no (distance to the frontier: {measured['distance_to_frontier']})"
            if export["outcome"]["agreements"]
            else "no (no deal)"
        ),
    ]
    nash = analysis["nash"]
    if nash is not None and measured["distance_to_nash"] is not None:
        at = ", ".join(
            f"{_text(delegation_name(scenario, d))} {u}" for d, u in nash["scores"].items()
        )
        lines.append(f"- Distance to the Nash point ({at}): {measured['distance_to_nash']}")
    return lines


#: Markdown's inline syntax (links and images, emphasis, strike-through, code, math),
#: each escaped with a backslash, and the backslash itself. (A ``#`` starts a heading
#: only at the start of a line, where player text never is.)
_MARKDOWN = re.compile(r"([\\`*_\[\]~$])")


def _text(text: object) -> str:
    """Text made inert in Markdown, on one line: its HTML shows as text, never renders, and
    its Markdown syntax is backslash-escaped (a link, an image or emphasis shows as typed);
    a direction it sets ends with it (:func:`~bot.review.narrate.contained`)."""
    escaped = _MARKDOWN.sub(r"\\\1", contained(str(text)))
    escaped = escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return escaped.replace("\r", " ").replace("\n", " ")


def _cell(text: str) -> str:
    """Text for a Markdown table cell: inert (:func:`_text`), its ``|`` escaped."""
    return _text(text).replace("|", "\\|")


def format_for(filename: str | None) -> str | None:
    """The format a file name's suffix asks for (``report.html`` -> ``html``), if any."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    if "." not in name.strip("."):
        return None
    suffix = name.rsplit(".", 1)[1].lower()
    suffix = {"htm": "html", "markdown": "md"}.get(suffix, suffix)
    return next((fmt for fmt, ext in SUFFIX.items() if ext == suffix), None)
