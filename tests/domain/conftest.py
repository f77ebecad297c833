"""A small harness for the pure engine: a table, a fake clock and the log the service keeps.

``Table`` holds a :class:`Replay` of the events logged so far and a clock that moves only
when a test says so. Commands go through :func:`decide` with the table's clock; their
events are stamped with increasing sequence numbers and folded in. A refused attempt is
logged the way the service logs it: one ``action_refused`` event with
``{code, message, command, args}``, which changes nothing but ``last_seq``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain import commands as c
from bot.domain.engine import decide, due, open_table
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.events import Actor, Event, EventKind, NewEvent, begins_undo_step
from bot.domain.scenario import Scenario, load_scenario
from bot.domain.state import Phase, Replay, TableState, replay

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCENARIOS = FIXTURES / "scenarios"
PROMPTS = FIXTURES / "prompts"

#: The moment every test table opens (aware, UTC).
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

FACILITATOR = c.Who(user_id="fac", name="Fran", facilitator=True)

#: Fields that describe the clock or the log position rather than the negotiation; the
#: undo comparisons leave them out (an undo gives the restored turn a fresh clock).
CLOCK_FIELDS = frozenset(
    {
        "deadline",
        "turn_began",
        "remaining_seconds",
        "reminded",
        "last_seq",
        "idle_expiries",
        "pause_reason",
        # the record of the whole table, which no undo rewrites
        "offers",
        "facilitators",
        "refusals",
    }
)

#: Events after which an undo no longer lands on the same state as before the undone
#: action, because they change who sits where (undo does not revert them).
MEMBERSHIP_KINDS = frozenset(
    {EventKind.MEMBER_JOINED, EventKind.MEMBER_LEFT, EventKind.MEMBER_ASSIGNED}
)


def load(name: str) -> Scenario:
    """A fixture scenario by file stem."""
    return load_scenario(SCENARIOS / f"{name}.toml", prompts_dir=PROMPTS)


@pytest.fixture(scope="session")
def mini() -> Scenario:
    """The two-delegation test scenario (plus a non-offering press delegation)."""
    return load("mini")


@pytest.fixture(scope="session")
def trio() -> Scenario:
    """The three-delegation test scenario."""
    return load("trio")


def snapshot(state: TableState) -> TableState:
    """A deep copy of ``state`` sharing the (immutable) scenario and rules."""
    memo: dict[int, Any] = {id(state.scenario): state.scenario, id(state.rules): state.rules}
    return copy.deepcopy(state, memo)


def fields(state: TableState, leave_out: Iterable[str] = ()) -> dict[str, Any]:
    """The state's fields as a dict, without ``leave_out`` and private caches."""
    skip = set(leave_out)
    return {
        f.name: getattr(state, f.name)
        for f in dataclasses.fields(state)
        if f.name not in skip and not f.name.startswith("_")
    }


def negotiation(state: TableState) -> dict[str, Any]:
    """The fields an undo must restore: everything but the clock, pause folded in.

    A pause is the facilitator's clock control and is not reverted by undo, so a table
    paused since the undone action compares as negotiating.
    """
    out = fields(state, CLOCK_FIELDS)
    if out["phase"] is Phase.PAUSED:
        out["phase"] = Phase.NEGOTIATING
    return out


@dataclasses.dataclass
class UndoMark:
    """The state just before an undoable event, to compare with after its undo."""

    seq: int
    before: TableState
    clean: bool = True


class Table:
    """One table driven through the public engine API with a fake clock."""

    def __init__(
        self,
        scenario: Scenario,
        variant: str | None = None,
        *,
        title: str | None = None,
        now: datetime = T0,
    ) -> None:
        self.scenario = scenario
        self.now = now
        self.events: list[Event] = []
        self.replay = Replay(scenario)
        self.people: dict[str, c.Who] = {"fac": FACILITATOR}
        self.marks: list[UndoMark] = []
        self.undo_checks = 0
        self.log([open_table(scenario, FACILITATOR, variant, title)])

    # -- people -------------------------------------------------------------------

    @property
    def state(self) -> TableState:
        return self.replay.state

    def who(self, name: str) -> c.Who:
        """The person called ``name`` ("fac" is the facilitator)."""
        if name not in self.people:
            self.people[name] = c.Who(user_id=f"u-{name}", name=name.replace("_", " ").title())
        return self.people[name]

    def seat(self) -> Table:
        """Seat a head and a member in each delegation (``a_head``, ``a_member``, ...) and
        an observer (``obs``)."""
        for d in self.scenario.delegations:
            for role in ("head", "member"):
                self.do(
                    "fac", c.Assign, member=self.who(f"{d.id}_{role}"), delegation=d.id, role=role
                )
        self.do("obs", c.Join)
        return self

    # -- the log ----------------------------------------------------------------------

    def log(self, new: Iterable[NewEvent]) -> list[Event]:
        """Stamp and fold in decided events, as the service commits them."""
        out = []
        for n in new:
            event = Event.stamp(n, len(self.events) + 1, self.now)
            before = snapshot(self.replay.state) if self.events else None
            self.events.append(event)
            self.replay.apply(event)
            self._track_undo(event, before)
            out.append(event)
        return out

    def _track_undo(self, event: Event, before: TableState | None) -> None:
        """Check every undo lands on the state before the action it reverts."""
        if begins_undo_step(event):
            assert before is not None
            self.marks.append(UndoMark(event.seq, before))
        elif event.kind in MEMBERSHIP_KINDS:
            for mark in self.marks:
                mark.clean = False
        elif event.kind is EventKind.ACTION_REVERTED:
            mark = self.marks.pop()
            assert event.data.reverts[0] == mark.seq, "undo reverted another action"
            if mark.clean:
                assert negotiation(self.state) == negotiation(mark.before)
                self.undo_checks += 1

    def command(self, name: str, cls: type[c.Command], **kwargs: Any) -> c.Command:
        return cls(who=self.who(name), **kwargs)

    def submit(self, command: c.Command) -> list[Event]:
        """Decide ``command`` now and log the outcome; a refusal is logged, then raised."""
        try:
            new = decide(self.state, command, self.now)
        except Refusal as refusal:
            member = self.state.member(command.who.user_id)
            actor = Actor(
                user_id=command.who.user_id,
                name=member.name if member else command.who.name,
                delegation=member.delegation if member else None,
                role=member.role if member else None,
            )
            self.log(
                [
                    NewEvent(
                        kind=EventKind.ACTION_REFUSED,
                        actor=actor,
                        data={
                            "code": refusal.code.value,
                            "message": refusal.message,
                            "command": command.name,
                            "args": command.arguments(),
                        },
                    )
                ]
            )
            raise
        return self.log(new)

    def do(self, name: str, cls: type[c.Command], **kwargs: Any) -> list[Event]:
        """``name`` runs a command; returns the events logged (raises a Refusal)."""
        return self.submit(self.command(name, cls, **kwargs))

    def refuse(self, name: str, cls: type[c.Command], code: RefusalCode, **kwargs: Any) -> Refusal:
        """``name`` runs a command that must be refused with ``code``, changing nothing."""
        before = snapshot(self.state)
        with pytest.raises(Refusal) as caught:
            self.do(name, cls, **kwargs)
        refusal = caught.value
        assert refusal.code is code, str(refusal)
        assert refusal.message and refusal.message[-1] in ".!?", refusal.message
        logged = self.events[-1]
        assert logged.kind is EventKind.ACTION_REFUSED
        assert logged.data.code == code.value
        unchanged = {"last_seq", "refusals"}
        assert fields(self.state, unchanged) == fields(before, unchanged)
        assert self.state.last_seq == logged.seq
        return refusal

    def offer(
        self, name: str, give: Iterable[str] = (), ask: Iterable[str] = (), note: str = ""
    ) -> list[Event]:
        return self.do(name, c.Offer, give=tuple(give), ask=tuple(ask), note=note)

    # -- the clock ------------------------------------------------------------------

    def advance(self, minutes: float = 0, seconds: float = 0) -> list[Event]:
        """Move the clock on and log what it brings (as the service's timer does)."""
        self.now += timedelta(minutes=minutes, seconds=seconds)
        return self.log(due(self.state, self.now))

    def replayed(self) -> TableState:
        """The state rebuilt from the whole log at once."""
        return replay(self.scenario, self.events)


def kinds(events: Iterable[Event]) -> list[str]:
    """The kinds of some events, as strings."""
    return [e.kind.value for e in events]


def seated(
    scenario: Scenario, variant: str | None = None, *, start: bool = True, first: str | None = None
) -> Table:
    """A table with every delegation seated and, unless ``start=False``, started."""
    table = Table(scenario, variant).seat()
    if start:
        table.do("fac", c.Start, first=first)
    return table
