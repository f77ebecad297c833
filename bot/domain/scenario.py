"""The scenario schema: a negotiation's delegations, baskets, items and rules.

A scenario is data (``rules/*.toml``), validated here when loaded. Loading never raises
a bare traceback at the user: every problem becomes a :class:`ScenarioError` naming the
file, the field path and what is wrong.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]

#: The longest a turn or its reminder may be, in minutes (a year): a deadline always fits
#: the calendar, and ``inf`` or ``1e300`` is refused when the file is checked rather than
#: when a table starts. (A table's own copy of its scenario, kept in the log when it
#: opened, is read without the limits on minutes: a table opened before them stays
#: readable.)
MAX_TURN_MINUTES = 525_600
#: The shortest a turn may be, in minutes (30 seconds): a shorter one runs out before a
#: player can answer it, and the table pauses itself as idle at once.
MIN_TURN_MINUTES = 0.5
#: The validation context of a scenario read back from the log (see :data:`MAX_TURN_MINUTES`).
STORED = {"stored": True}


def _minutes(value: float | None, info: ValidationInfo) -> float | None:
    """A turn's or a reminder's minutes within what a table can play (checked in scenario
    files, not in a table's copy read back from the log)."""
    if value is None or (info.context or {}).get("stored"):
        return value
    if value > MAX_TURN_MINUTES:
        raise ValueError(f"Input should be less than or equal to {MAX_TURN_MINUTES} (a year)")
    if info.field_name == "turn_minutes" and value < MIN_TURN_MINUTES:
        raise ValueError(
            f"Input should be at least {MIN_TURN_MINUTES} (30 seconds: a shorter turn runs out "
            "before anyone can answer it)"
        )
    return value


class Action(StrEnum):
    """What a member of a delegation may do; a role grants a set of these."""

    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    PASS = "pass"
    WALKAWAY = "walkaway"
    SAY = "say"


DEFAULT_ROLES: dict[str, list[Action]] = {
    "head": list(Action),
    "member": [Action.OFFER, Action.REJECT, Action.PASS, Action.SAY],
}


class Sequencing(StrEnum):
    """How baskets open: in Singapore order, all at once as a package, or in parallel."""

    SINGAPORE = "singapore"
    PACKAGE = "package"
    PARALLEL = "parallel"


class Balance(StrEnum):
    """What happens to an offer whose public weights given and asked differ."""

    OFF = "off"
    ADVISE = "advise"
    ENFORCE = "enforce"


class Acceptance(StrEnum):
    """Whose acceptance turns a standing offer into an agreement."""

    #: every other offering delegation (the default)
    ALL = "all"
    #: every other delegation that gives an item in the offer
    GIVERS = "givers"
    #: the givers, plus enough others that ``quorum`` delegations support it (proposer
    #: included)
    QUORUM = "quorum"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Delegation(_Strict):
    """A side at the table: who may offer, what each role may do, its brief and BATNA."""

    id: Identifier
    name: str = Field(min_length=1)
    offers: bool = True
    batna: int = 0
    brief: str = Field(min_length=1, description="prompt file, relative to prompts/")
    roles: dict[Identifier, list[Action]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_ROLES.items()}
    )

    @model_validator(mode="after")
    def _has_head(self) -> Delegation:
        if "head" not in self.roles:
            raise ValueError("a delegation needs a 'head' role")
        return self

    def may(self, role: str | None, action: Action) -> bool:
        """Whether a member holding ``role`` may take ``action``."""
        return role is not None and action in self.roles.get(role, ())

    def roles_allowed(self, action: Action) -> list[str]:
        """The roles of this delegation that may take ``action``."""
        return [role for role, actions in self.roles.items() if action in actions]


class Basket(_Strict):
    """A group of items; gated baskets open in ``order`` under Singapore sequencing."""

    id: Identifier
    title: str = Field(min_length=1)
    order: int = Field(ge=1)
    gated: bool = True
    text: str = ""


class Item(_Strict):
    """Something one delegation can concede, with its public weight and private values."""

    id: Identifier
    title: str = Field(min_length=1)
    basket: Identifier
    giver: Identifier
    weight: int = Field(ge=1, le=5)
    values: dict[Identifier, int]
    source: str = ""
    text: str = Field(default="", description="the wording used in the joint statement")


class RuleSet(_Strict):
    """The table's rules. Every field may be overridden by a variant."""

    _check_minutes = field_validator("turn_minutes", "reminder_minutes")(_minutes)

    sequencing: Sequencing = Sequencing.SINGAPORE
    max_items_per_offer: int = Field(default=4, ge=1)
    reciprocity: bool = False
    balance: Balance = Balance.ADVISE
    balance_tolerance: int = Field(default=2, ge=0)
    turn_minutes: float = Field(default=10, gt=0)
    reminder_minutes: float = Field(default=2, ge=0)
    max_rounds: int = Field(default=12, ge=1)
    first_mover: Identifier | None = None
    self_select: bool = False
    record_caucus: bool = False
    acceptance: Acceptance = Acceptance.ALL
    #: How many delegations must support an offer under ``acceptance = "quorum"``.
    quorum: int | None = Field(default=None, ge=2)
    #: The delegation whose head may table a chair's draft naming anyone's items.
    chair: Identifier | None = None


class RuleOverrides(_Strict):
    """A variant: a title and any rule fields it changes."""

    _check_minutes = field_validator("turn_minutes", "reminder_minutes")(_minutes)

    title: str = ""
    description: str = ""
    sequencing: Sequencing | None = None
    max_items_per_offer: int | None = Field(default=None, ge=1)
    reciprocity: bool | None = None
    balance: Balance | None = None
    balance_tolerance: int | None = Field(default=None, ge=0)
    turn_minutes: float | None = Field(default=None, gt=0)
    reminder_minutes: float | None = Field(default=None, ge=0)
    max_rounds: int | None = Field(default=None, ge=1)
    first_mover: Identifier | None = None
    self_select: bool | None = None
    record_caucus: bool | None = None
    acceptance: Acceptance | None = None
    quorum: int | None = Field(default=None, ge=2)
    chair: Identifier | None = None


class Inject(_Strict):
    """A scripted event the facilitator can post during the table."""

    id: Identifier
    title: str = Field(min_length=1)
    prompt: str = Field(min_length=1, description="prompt file, relative to prompts/")


class Prompts(_Strict):
    """Prompt files (relative to prompts/) the scenario uses besides briefs and injects."""

    background: str
    debrief: str
    demo: str | None = Field(default=None, description="a `parley play` script")


class Source(_Strict):
    """Where the scenario's facts come from."""

    id: Identifier
    title: str
    url: str = ""


class Scenario(_Strict):
    """A whole negotiation scenario as loaded from ``rules/<id>.toml``."""

    id: Identifier
    title: str = Field(min_length=1)
    summary: str = ""
    sources: list[Source] = Field(min_length=1)
    prompts: Prompts
    delegations: list[Delegation] = Field(min_length=2)
    baskets: list[Basket] = Field(min_length=1)
    items: list[Item] = Field(min_length=1)
    rules: RuleSet = RuleSet()
    variants: dict[Identifier, RuleOverrides] = Field(default_factory=dict)
    events: list[Inject] = Field(default_factory=list)

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        problems: list[tuple[tuple[str | int, ...], str]] = []
        for kind, ids in (
            ("delegations", [d.id for d in self.delegations]),
            ("baskets", [b.id for b in self.baskets]),
            ("items", [i.id for i in self.items]),
            ("events", [e.id for e in self.events]),
        ):
            seen: set[str] = set()
            for i, thing_id in enumerate(ids):
                if thing_id in seen:
                    problems.append(((kind, i, "id"), f"duplicate id {thing_id!r}"))
                seen.add(thing_id)
        delegation_ids = {d.id for d in self.delegations}
        offering = [d.id for d in self.delegations if d.offers]
        basket_ids = {b.id for b in self.baskets}
        if len(offering) < 2:
            problems.append((("delegations",), "at least two delegations must make offers"))
        for i, item in enumerate(self.items):
            if item.basket not in basket_ids:
                problems.append(
                    (
                        ("items", i, "basket"),
                        f"unknown basket {item.basket!r}; known: {', '.join(sorted(basket_ids))}",
                    )
                )
            if item.giver not in offering:
                problems.append(
                    (
                        ("items", i, "giver"),
                        f"{item.giver!r} is not a delegation that makes "
                        f"offers; known: {', '.join(offering)}",
                    )
                )
            for who in item.values:
                if who not in delegation_ids:
                    problems.append((("items", i, "values", who), f"unknown delegation {who!r}"))
        for index, basket in enumerate(self.baskets):
            if basket.gated:
                problems += _gated_basket_problems(basket, index, self.items, offering)
        gated_orders = [b.order for b in self.baskets if b.gated]
        if len(gated_orders) != len(set(gated_orders)):
            problems.append((("baskets",), "gated baskets must have distinct 'order' values"))
        for name, rules in self.variants.items():
            if rules.sequencing is None and name not in Sequencing.__members__.values():
                problems.append(
                    (
                        ("variants", name, "sequencing"),
                        "required when the variant's name is not a sequencing mode "
                        f"({', '.join(Sequencing)})",
                    )
                )
            mover = rules.first_mover
            if mover is not None and mover not in offering:
                problems.append(
                    (("variants", name, "first_mover"), f"{mover!r} is not an offering delegation")
                )
        if self.rules.first_mover is not None and self.rules.first_mover not in offering:
            problems.append(
                (
                    ("rules", "first_mover"),
                    f"{self.rules.first_mover!r} is not an offering delegation",
                )
            )
        problems += _acceptance_problems(("rules",), self.rules, offering)
        if not problems:  # each variant's rules, as a table would get them
            for name in self.variants:
                problems += _acceptance_problems(("variants", name), self.rules_for(name), offering)
        if problems:
            raise _CrossReferenceErrors(problems)
        return self

    # -- lookups ---------------------------------------------------------------------

    def delegation(self, delegation_id: str) -> Delegation | None:
        """The delegation with this id, if any."""
        return self._index[0].get(delegation_id)

    def item(self, item_id: str) -> Item | None:
        """The item with this id, if any."""
        return self._index[1].get(item_id)

    @property
    def items_by_id(self) -> Mapping[str, Item]:
        """Every item by its id (for many lookups in a row; do not change it)."""
        return self._index[1]

    def basket(self, basket_id: str) -> Basket | None:
        """The basket with this id, if any."""
        return self._index[2].get(basket_id)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy whose lookups and rule sets are worked out again from its own fields (a
        copy with other items or rules must not answer with the original's)."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _DERIVED:
            copied.__dict__.pop(name, None)
        return copied

    @cached_property
    def _index(self) -> tuple[dict[str, Delegation], dict[str, Item], dict[str, Basket]]:
        """Delegations, items and baskets by id (the first of a duplicated id wins, as
        validation reports duplicates)."""
        delegations: dict[str, Delegation] = {}
        items: dict[str, Item] = {}
        baskets: dict[str, Basket] = {}
        for d in self.delegations:
            delegations.setdefault(d.id, d)
        for i in self.items:
            items.setdefault(i.id, i)
        for b in self.baskets:
            baskets.setdefault(b.id, b)
        return delegations, items, baskets

    def inject(self, inject_id: str) -> Inject | None:
        """The inject with this id, if any."""
        return next((e for e in self.events if e.id == inject_id), None)

    @property
    def offering(self) -> list[str]:
        """Ids of the delegations that make offers, in file order."""
        return [d.id for d in self.delegations if d.offers]

    def baskets_in_order(self) -> list[Basket]:
        """Baskets sorted by their order (a new list each time)."""
        return list(self._ordered_baskets)

    @cached_property
    def _ordered_baskets(self) -> tuple[Basket, ...]:
        return tuple(sorted(self.baskets, key=lambda b: (b.order, b.id)))

    def variant_names(self) -> list[str]:
        """The sequencing variants a facilitator may pick at open; the default first."""
        default = self.rules.sequencing.value
        return [default, *(name for name in self.variants if name != default)]

    def rules_for(self, variant: str) -> RuleSet:
        """The rule set of ``variant``: the base rules with its overrides applied (a
        KeyError if the scenario has no such variant)."""
        return self._rule_sets[variant]

    @cached_property
    def _rule_sets(self) -> dict[str, RuleSet]:
        """Every variant's rule set, worked out once (tables and counterparts ask for it
        again and again; the scenario and its rules are frozen)."""
        return {name: self._overridden(name) for name in self.variant_names()}

    def _overridden(self, variant: str) -> RuleSet:
        if variant == self.rules.sequencing.value and variant not in self.variants:
            return self.rules
        overrides = self.variants[variant]
        changes: dict[str, Any] = {
            k: v
            for k, v in overrides.model_dump(exclude={"title", "description"}).items()
            if v is not None
        }
        if "sequencing" not in changes and variant in Sequencing.__members__.values():
            changes["sequencing"] = Sequencing(variant)
        return self.rules.model_copy(update=changes)

    def prompt_files(self) -> Iterable[tuple[tuple[str | int, ...], str]]:
        """Every prompt file the scenario refers to, with the field path that names it."""
        yield ("prompts", "background"), self.prompts.background
        yield ("prompts", "debrief"), self.prompts.debrief
        if self.prompts.demo:
            yield ("prompts", "demo"), self.prompts.demo
        for i, d in enumerate(self.delegations):
            yield ("delegations", i, "brief"), d.brief
        for i, e in enumerate(self.events):
            yield ("events", i, "prompt"), e.prompt


#: What a scenario works out once from its fields and keeps (see Scenario.model_copy).
_DERIVED = ("_index", "_ordered_baskets", "_rule_sets")

Problem = tuple[tuple[str | int, ...], str]


def _gated_basket_problems(
    basket: Basket, index: int, items: list[Item], offering: list[str]
) -> list[Problem]:
    """A gated basket must be tradeable: with two offering delegations, each gives an item
    in it; with more, at least two of them do (a six-party basket of aid or of
    denuclearization steps need not hold something from every party)."""
    givers = {item.giver for item in items if item.basket == basket.id}
    where = ("baskets", index, "id")
    if len(offering) <= 2:
        return [
            (where, f"gated basket {basket.id!r} has no item given by {who!r}")
            for who in offering
            if who not in givers
        ]
    if len(givers & set(offering)) < 2:
        named = ", ".join(sorted(givers)) or "nobody"
        return [
            (
                where,
                f"gated basket {basket.id!r} needs items from at least two delegations "
                f"(it has items from {named})",
            )
        ]
    return []


def _acceptance_problems(
    where: tuple[str | int, ...], rules: RuleSet, offering: list[str]
) -> list[Problem]:
    """The acceptance rule's quorum and the chair, checked against the delegations."""
    problems: list[Problem] = []
    if rules.acceptance is Acceptance.QUORUM:
        if rules.quorum is None:
            problems.append(((*where, "quorum"), 'required when acceptance = "quorum"'))
        elif rules.quorum > len(offering):
            problems.append(
                (
                    (*where, "quorum"),
                    f"{rules.quorum} is more than the {len(offering)} delegations that make offers",
                )
            )
    if rules.chair is not None and rules.chair not in offering:
        problems.append(
            (
                (*where, "chair"),
                f"{rules.chair!r} is not a delegation that makes offers; "
                f"known: {', '.join(offering)}",
            )
        )
    return problems


class _CrossReferenceErrors(ValueError):
    def __init__(self, problems: list[tuple[tuple[str | int, ...], str]]) -> None:
        super().__init__("; ".join(f"{_path(p)}: {m}" for p, m in problems))
        self.problems = problems


class ScenarioProblem(BaseModel):
    """One thing wrong with a scenario file."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ScenarioError(Exception):
    """A scenario file that cannot be used, with every problem found in it."""

    def __init__(self, file: Path | str, problems: list[ScenarioProblem]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        """The problems as lines a person can act on: ``file: path: message``."""
        return "\n".join(f"{self.file}: {p}" for p in self.problems)


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _entry_id(data: Any, loc: tuple[str | int, ...]) -> str:
    """The ``id`` of the list entry a location points into, to name it in a message."""
    node, found = data, ""
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            if isinstance(node, dict) and isinstance(node.get("id"), str):
                found = node["id"]
        else:
            break
    return found


def parse_scenario(data: dict[str, Any], file: Path | str = "<scenario>") -> Scenario:
    """Validate already-parsed scenario data, raising :class:`ScenarioError` on problems."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems: list[ScenarioProblem] = []
        for err in exc.errors(include_url=False):
            ctx_error = (err.get("ctx") or {}).get("error")
            if isinstance(ctx_error, _CrossReferenceErrors):
                problems.extend(
                    ScenarioProblem(path=_path(p), message=m) for p, m in ctx_error.problems
                )
                continue
            loc = tuple(err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            entry = _entry_id(data, loc)
            if err["type"] == "extra_forbidden":
                message = "unknown field (check its spelling)"
            elif err["type"] == "missing":
                message = "required field is missing"
            if entry:
                message += f" (in {loc[0]} entry {entry!r})"
            problems.append(ScenarioProblem(path=_path(loc), message=message))
        raise ScenarioError(file, problems) from None


def load_scenario(path: Path | str, prompts_dir: Path | str | None = None) -> Scenario:
    """Read, validate and cross-check a scenario file.

    ``prompts_dir`` is where its prompt files live (default: ``prompts/`` beside the
    ``rules/`` folder holding the file); each one it names must exist.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = ScenarioProblem(path="", message=exc.strerror or str(exc))
        raise ScenarioError(path, [problem]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))  # a byte order mark is no problem
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            path, [ScenarioProblem(path="", message=f"not UTF-8 text ({exc.reason})")]
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(
            path, [ScenarioProblem(path="", message=f"not valid TOML: {exc}")]
        ) from None
    scenario = parse_scenario(data, path)
    base = Path(prompts_dir) if prompts_dir else path.resolve().parent.parent / "prompts"
    missing = [
        ScenarioProblem(path=_path(loc), message=unusable)
        for loc, name in scenario.prompt_files()
        if (unusable := _prompt_problem(base / name)) is not None
    ]
    if missing:
        raise ScenarioError(path, missing)
    return scenario


def _prompt_problem(file: Path) -> str | None:
    """What keeps a prompt file from being read as text, if anything (read whole: a byte
    that is not UTF-8 is found here, not when a table posts the file)."""
    if not file.is_file():
        return f"prompt file not found: {file}"
    try:
        file.read_bytes().decode("utf-8")
    except OSError as exc:
        return f"prompt file cannot be read: {file}: {exc.strerror}"
    except UnicodeDecodeError as exc:
        return (
            f"prompt file is not UTF-8 text: {file} (byte 0x{exc.object[exc.start]:02x} "
            f"at byte {exc.start})"
        )
    return None


__all__ = [
    "DEFAULT_ROLES",
    "Action",
    "Balance",
    "Basket",
    "Delegation",
    "Identifier",
    "Inject",
    "Item",
    "Prompts",
    "RuleOverrides",
    "RuleSet",
    "Scenario",
    "ScenarioError",
    "ScenarioProblem",
    "Sequencing",
    "Source",
    "load_scenario",
    "parse_scenario",
]
