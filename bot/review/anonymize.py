"""Exports made safe to show a class: students become "Student 1", "Student 2"..., tables
"Table A", "Table B"..., facilitators "Facilitator N"; Discord ids are dropped.

The same person gets the same label in every table of one call. Free text players wrote
(statements, notes, reasons) is kept: it is the negotiation itself, and a page that shows
it (the report) is not what anonymized pages are for.
"""

from __future__ import annotations

import copy
import string
from typing import Any


class _Labels:
    """Stable labels per user id, in order of first appearance."""

    def __init__(self) -> None:
        self.students: dict[str, str] = {}
        self.facilitators: dict[str, str] = {}
        self.names: dict[str, str] = {}  # every real name (and id) seen, to its label

    def facilitator(self, user_id: str, name: str) -> str:
        label = self.facilitators.setdefault(user_id, f"Facilitator {len(self.facilitators) + 1}")
        self.names[name] = self.names[user_id] = label
        return label

    def student(self, user_id: str, name: str) -> str:
        if user_id in self.facilitators:
            return self.facilitators[user_id]
        label = self.students.setdefault(user_id, f"Student {len(self.students) + 1}")
        self.names[name] = self.names[user_id] = label
        return label


def table_letter(index: int) -> str:
    """A, B, ..., Z, AA, AB, ..."""
    letters = string.ascii_uppercase
    out = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        out = letters[rest] + out
    return out


def anonymize(exports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Copies of ``exports`` with no student or facilitator name, Discord id or title."""
    labels = _Labels()
    copies = [copy.deepcopy(e) for e in exports]
    for export in copies:
        for f in export["table"].get("facilitators", []):
            f["name"] = labels.facilitator(str(f["user_id"]), str(f["name"]))
    for export in copies:
        for m in export.get("members", []):
            m["name"] = labels.student(str(m["user_id"]), str(m["name"]))
        for event in export.get("events", []):
            data = event.get("data", {})
            if "user_id" in data and "name" in data:
                data["name"] = labels.student(str(data["user_id"]), str(data["name"]))
            actor = event.get("actor")
            if actor:
                actor["name"] = labels.student(str(actor["user_id"]), str(actor["name"]))
    for index, export in enumerate(copies):
        table = export["table"]
        table["title"] = f"Table {table_letter(index)}"
        table["guild_id"] = table["channel_id"] = None
        for event in export.get("events", []):
            if event.get("kind") == "table_opened":
                event["data"]["title"] = table["title"]
        for f in table.get("facilitators", []):
            f["user_id"] = labels.names.get(str(f["user_id"]), "")
        for m in export.get("members", []):
            m["user_id"] = m["name"]
        for event in export.get("events", []):
            data = event.get("data", {})
            if "user_id" in data:
                data["user_id"] = labels.names.get(str(data["user_id"]), "")
            if event.get("actor"):
                event["actor"]["user_id"] = event["actor"]["name"]
            args = data.get("args")
            if isinstance(args, dict):  # a refused command's arguments may name a member
                for key, value in args.items():
                    if isinstance(value, str) and value in labels.names:
                        args[key] = labels.names[value]
    return copies
