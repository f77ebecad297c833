"""Commands: what a person (or the clock) asks a table to do.

Each command names who asks; the engine decides whether the rules allow it and which
events follow. The names follow the slash commands.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Who(BaseModel):
    """The person behind a command, as the adapter knows them."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    name: str
    facilitator: bool = False


class Command(BaseModel):
    """Base of all commands."""

    model_config = ConfigDict(frozen=True)

    who: Who

    @property
    def name(self) -> str:
        """The command's name in the words of the slash commands."""
        return _NAMES[type(self)]

    def arguments(self) -> dict[str, object]:
        """The command's arguments, for the log of a refused attempt."""
        return self.model_dump(mode="json", exclude={"who"}, exclude_none=True)


class Join(Command):
    delegation: str | None = None


class Leave(Command):
    pass


class Assign(Command):
    member: Who
    delegation: str
    role: str = "member"


class AutoAssign(Command):
    seed: int = 0


class Start(Command):
    first: str | None = None


class Offer(Command):
    give: tuple[str, ...] = ()
    ask: tuple[str, ...] = ()
    note: str = ""


class Draft(Command):
    """A chair's draft: items of any delegations, for every side to accept."""

    items: tuple[str, ...] = ()
    note: str = ""


class Accept(Command):
    offer: int | None = Field(default=None, description="the offer seen (from its button)")


class Reject(Command):
    reason: str = ""
    offer: int | None = Field(default=None, description="the offer seen (from its button)")


class Pass(Command):
    pass


class WalkAway(Command):
    pass


class Say(Command):
    text: str = Field(min_length=1)


class CaucusMessage(Command):
    text: str


class Pause(Command):
    pass


class Resume(Command):
    pass


class Extend(Command):
    minutes: float


class Inject(Command):
    event: str


class Undo(Command):
    pass


#: The counterparts' strategies, by name (the names are a public contract).
STRATEGIES = ("boulware", "linear", "conceder", "tit-for-tat")
#: The longest a seated counterpart may think before it acts.
MAX_THINK_SECONDS = 600.0


class Seat(Command):
    delegation: str
    strategy: str
    think_seconds: float = 20.0
    #: Its random choices (tie-breaks, its exact concession curve); fixed once seated.
    seed: int = 0


class Unseat(Command):
    delegation: str


class End(Command):
    pass


_NAMES: dict[type[Command], str] = {
    Join: "join",
    Leave: "leave",
    Assign: "session assign",
    AutoAssign: "session autoassign",
    Start: "session start",
    Offer: "offer",
    Draft: "draft",
    Accept: "accept",
    Reject: "reject",
    Pass: "pass",
    WalkAway: "walkaway",
    Say: "say",
    CaucusMessage: "caucus",
    Pause: "session pause",
    Resume: "session resume",
    Extend: "session extend",
    Inject: "session inject",
    Undo: "session undo",
    Seat: "session seat",
    Unseat: "session unseat",
    End: "session end",
}
