"""`parley play`: a table played from text lines, one action per line.

``NAME: COMMAND [key=value ...]`` in the words of the slash commands, values with spaces
in double quotes, lists comma-separated; ``clock +MINUTES`` moves the table's clock.
Each line prints exactly one result line: ``ok KIND...`` or ``refused CODE: message``.
"""

from __future__ import annotations

import shlex
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.domain import commands as c
from bot.domain.errors import Refusal
from bot.service import Outcome, Tables


class PlayError(Exception):
    """A line that cannot be parsed; carries its line number."""

    def __init__(self, line_number: int, message: str) -> None:
        super().__init__(f"line {line_number}: {message}")
        self.line_number = line_number


@dataclass
class PlayClock:
    """A clock that starts now and moves only when told to."""

    start: datetime
    offset: timedelta = timedelta()

    def __call__(self) -> datetime:
        return self.start + self.offset


# command words -> (allowed keys, required keys)
_SPEC: dict[str, tuple[set[str], set[str]]] = {
    "session open": ({"scenario", "sequencing", "title"}, {"scenario"}),
    "session assign": ({"member", "delegation", "role"}, {"member", "delegation"}),
    "session autoassign": ({"seed"}, set()),
    "session start": ({"first"}, set()),
    "session pause": (set(), set()),
    "session resume": (set(), set()),
    "session extend": ({"minutes"}, {"minutes"}),
    "session inject": ({"event"}, {"event"}),
    "session undo": (set(), set()),
    "session end": (set(), set()),
    "draft": ({"items", "note"}, {"items"}),
    "session seat": (
        {"delegation", "strategy", "think_seconds", "seed"},
        {"delegation", "strategy"},
    ),
    "session unseat": ({"delegation"}, {"delegation"}),
    "join": ({"delegation"}, set()),
    "leave": (set(), set()),
    "offer": ({"give", "ask", "note"}, set()),
    "accept": (set(), set()),
    "reject": ({"reason"}, set()),
    "pass": (set(), set()),
    "walkaway": (set(), set()),
    "say": ({"text"}, {"text"}),
}


@dataclass
class Line:
    """One parsed action line."""

    number: int
    name: str
    command: str
    args: dict[str, str] = field(default_factory=dict)


@dataclass
class ClockLine:
    """A ``clock +MINUTES`` line."""

    number: int
    minutes: float


def parse_line(number: int, text: str) -> Line | ClockLine | None:
    """Parse one line; None for a blank or comment line; :class:`PlayError` if malformed."""
    if number == 1:  # a script saved as "UTF-8 with BOM" starts with a byte order mark
        text = text.removeprefix("\ufeff")
    _check_utf8(number, text)
    _check_control(number, text)
    stripped = text.strip()
    if not stripped or stripped.startswith("#"):
        return None
    if stripped == "clock" or stripped.startswith(("clock ", "clock+")):
        rest = stripped.removeprefix("clock").strip()
        try:
            if not rest.startswith("+"):
                raise ValueError
            minutes = float(rest[1:])
        except ValueError:
            raise PlayError(number, f"expected 'clock +MINUTES', got {stripped!r}") from None
        if not 0 < minutes <= 525_600:  # also refuses nan and inf
            raise PlayError(
                number, "the clock only moves forward, by at most a year: 'clock +MINUTES'"
            )
        return ClockLine(number, minutes)
    name, colon, rest = stripped.partition(":")
    if not colon or not name.strip() or " " in name.strip():
        raise PlayError(number, f"expected 'NAME: COMMAND [key=value ...]', got {stripped!r}")
    try:
        words = shlex.split(rest, comments=False, posix=True)
    except ValueError as exc:
        raise PlayError(number, f"cannot split {rest.strip()!r}: {exc}") from None
    if not words:
        raise PlayError(number, "a command is missing after the name")
    command_words = words[:2] if words[0] == "session" and len(words) > 1 else words[:1]
    command = " ".join(command_words)
    if command not in _SPEC:
        known = ", ".join(sorted(_SPEC))
        raise PlayError(number, f"unknown command {command!r}; commands: {known}")
    allowed, required = _SPEC[command]
    args: dict[str, str] = {}
    for word in words[len(command_words) :]:
        key, eq, value = word.partition("=")
        if not eq:
            raise PlayError(number, f"expected key=value, got {word!r}")
        if key not in allowed:
            keys = ", ".join(sorted(allowed)) or "none"
            raise PlayError(number, f"{command!r} takes no {key!r}; it takes: {keys}")
        if key in args:
            raise PlayError(number, f"{key!r} is given twice")
        args[key] = value
    missing = required - args.keys()
    if missing:
        raise PlayError(number, f"{command!r} needs {', '.join(sorted(missing))}")
    return Line(number, name.strip(), command, args)


def _check_utf8(number: int, text: str) -> None:
    """:class:`PlayError` if ``text`` holds what is not UTF-8: a byte that did not decode
    (read with ``surrogateescape``, it comes as a lone surrogate) or a lone surrogate, text
    the log cannot store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        point = ord(text[exc.start])
        what = (
            f"byte 0x{point - 0xDC00:02x}"
            if 0xDC80 <= point <= 0xDCFF
            else f"a lone surrogate, U+{point:04X},"
        )
        raise PlayError(
            number,
            f"the line is not UTF-8 text ({what} at column {exc.start + 1}); "
            "save the script as UTF-8",
        ) from None


def _check_control(number: int, text: str) -> None:
    """:class:`PlayError` if ``text`` holds a control character (a tab aside) before its
    line end: a NUL, an escape, ... are no one's name or words (a script saved as UTF-16
    reads as letters with NULs between)."""
    for column, char in enumerate(text.rstrip("\r\n"), start=1):
        if char != "\t" and unicodedata.category(char) == "Cc":
            raise PlayError(
                number,
                f"the line holds control character U+{ord(char):04X} at column {column}; "
                "save the script as UTF-8 text",
            )


def _items(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _number(line: Line, key: str, kind: Callable[[str], Any]) -> Any:
    try:
        return kind(line.args[key])
    except ValueError:
        what = "a whole number" if kind is int and _is_float(line.args[key]) else "a number"
        raise PlayError(line.number, f"{key}={line.args[key]!r} is not {what}") from None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class Player:
    """Plays lines against one channel's table through the real service and log."""

    def __init__(
        self,
        tables: Tables,
        clock: PlayClock,
        facilitators: Iterable[str] = ("instructor",),
        channel: str = "play",
        guild: str | None = None,
    ) -> None:
        self.tables = tables
        self.clock = clock
        self.facilitators = set(facilitators)
        self.channel = channel
        self.guild = guild
        self.table_id: int | None = None

    def who(self, name: str) -> c.Who:
        """A named person; facilitators are those named with --facilitator."""
        return c.Who(user_id=name, name=name, facilitator=name in self.facilitators)

    async def play(self, number: int, text: str) -> str | None:
        """Play one line and return its result line (None for blanks and comments)."""
        parsed = parse_line(number, text)
        if parsed is None:
            return None
        if isinstance(parsed, ClockLine):
            self.clock.offset += timedelta(minutes=parsed.minutes)
            if self.table_id is None:  # a table left in this channel by an earlier run
                try:
                    self.table_id = await self.tables.table_in(self.guild, self.channel)
                except Refusal:
                    return "ok clock"
            outcome = await self.tables.tick(self.table_id)
            return " ".join(["ok clock", *outcome.kinds, *await self._counterparts()])
        try:
            outcome = await self._run(parsed)
        except Refusal as refusal:
            return _refused(refusal)
        if outcome.refusal is not None:
            return _refused(outcome.refusal)
        return " ".join(["ok", *outcome.kinds, *await self._counterparts()])

    async def _counterparts(self) -> list[str]:
        """The kinds of the events seated counterparts log, acting at once on their turn."""
        if self.table_id is None:
            return []
        return [
            kind
            for moved in await self.tables.counterparts_play(self.table_id)
            for kind in moved.kinds
        ]

    async def _run(self, line: Line) -> Outcome:
        who = self.who(line.name)
        args = line.args
        if line.command == "session open":
            outcome = await self.tables.open(
                who,
                args["scenario"],
                args.get("sequencing"),
                args.get("title"),
                guild_id=self.guild,
                channel_id=self.channel,
            )
            if outcome.ok:
                self.table_id = outcome.table_id
            return outcome
        command = self._command(line, who)  # a malformed value fails even with no table
        if self.table_id is None:
            self.table_id = await self.tables.table_in(self.guild, self.channel)
        return await self.tables.act(self.table_id, command)

    def _command(self, line: Line, who: c.Who) -> c.Command:
        args = line.args
        match line.command:
            case "session assign":
                return c.Assign(
                    who=who,
                    member=self.who(args["member"]),
                    delegation=args["delegation"],
                    role=args.get("role", "member"),
                )
            case "session autoassign":
                seed = _number(line, "seed", int) if "seed" in args else 0
                return c.AutoAssign(who=who, seed=seed)
            case "session start":
                return c.Start(who=who, first=args.get("first"))
            case "session extend":
                return c.Extend(who=who, minutes=_number(line, "minutes", float))
            case "session inject":
                return c.Inject(who=who, event=args["event"])
            case "session seat":
                return c.Seat(
                    who=who,
                    delegation=args["delegation"],
                    strategy=args["strategy"],
                    think_seconds=_number(line, "think_seconds", float)
                    if "think_seconds" in args
                    else 0.0,
                    seed=_number(line, "seed", int) if "seed" in args else 0,
                )
            case "session unseat":
                return c.Unseat(who=who, delegation=args["delegation"])
            case "join":
                return c.Join(who=who, delegation=args.get("delegation"))
            case "offer":
                return c.Offer(
                    who=who,
                    give=_items(args.get("give")),
                    ask=_items(args.get("ask")),
                    note=args.get("note", ""),
                )
            case "draft":
                return c.Draft(who=who, items=_items(args.get("items")), note=args.get("note", ""))
            case "reject":
                return c.Reject(who=who, reason=args.get("reason", ""))
            case "say":
                if not args["text"].strip():
                    raise PlayError(line.number, "say needs some text")
                return c.Say(who=who, text=args["text"])
        simple: dict[str, type[c.Command]] = {
            "session pause": c.Pause,
            "session resume": c.Resume,
            "session undo": c.Undo,
            "session end": c.End,
            "leave": c.Leave,
            "accept": c.Accept,
            "pass": c.Pass,
            "walkaway": c.WalkAway,
        }
        return simple[line.command](who=who)


def _refused(refusal: Refusal) -> str:
    message = " ".join(refusal.message.split())
    return f"refused {refusal.code.value}: {message}"
