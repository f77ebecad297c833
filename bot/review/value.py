"""The export's ``analysis`` and ``parley analyze``'s figures, from :mod:`bot.analysis`.

One outcome space per scenario and variant is computed once per process
(:func:`space_for`); :func:`mode_summary` gives what both the export and ``parley
analyze`` say of it, and :func:`table_analysis` adds a table's offers (the negotiation
dance) and its outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from bot.analysis import Point, Space, analyze, move_class, utilities
from bot.domain import events as ev
from bot.domain.events import Event
from bot.domain.scenario import STORED, Scenario


@lru_cache(maxsize=32)
def _space(scenario_json: str, variant: str) -> Space:
    return analyze(Scenario.model_validate_json(scenario_json, context=STORED), variant)


def space_for(scenario: Scenario, variant: str) -> Space:
    """The outcome space of ``scenario`` under ``variant`` (cached by the scenario's JSON)."""
    return _space(scenario.model_dump_json(), variant)


def point_json(point: Point | None) -> dict[str, Any] | None:
    """``{"items": [...], "scores": {delegation: utility}}``, or None."""
    return None if point is None else point.to_json()


def mode_summary(space: Space) -> dict[str, Any]:
    """The space's figures: outcomes, ZOPA size, maximum joint gain, Nash and Kalai
    points, and the frontier (listed for two delegations only, else ``[]``)."""
    two = len(space.delegations) == 2
    return {
        "rules": space.sequencing.value,
        "upper_bound": space.upper_bound,
        "outcomes": space.outcomes,
        "zopa": space.zopa,
        "max_joint_gain": space.max_joint_gain,
        "nash": point_json(space.nash),
        "kalai": point_json(space.kalai),
        "frontier": [p.to_json() for p in space.frontier] if two else [],
    }


def offers_dance(
    scenario: Scenario, events: Iterable[Event], reverted_by: Mapping[int, int]
) -> list[dict[str, Any]]:
    """One entry per tabled offer that was not undone, in seq order: each offering
    delegation's utility of what was agreed when it was tabled plus its items, and the
    move class against the same delegation's previous offer (None for its first).

    What was agreed at a moment: the agreements reached so far and not undone so far (an
    undo is never undone, so this is what a replay's ``state.agreed`` holds then, without
    folding the table a second time).
    """
    standing: dict[int, list[str]] = {}  # agreement seq -> its items, while it stands
    previous: dict[str, dict[str, int]] = {}
    offers: list[dict[str, Any]] = []
    for event in events:
        data = event.data
        if isinstance(data, ev.AgreementReached):
            standing[event.seq] = list(data.items)
        elif isinstance(data, ev.ActionReverted):
            for seq in data.reverts:
                standing.pop(seq, None)
        elif isinstance(data, ev.OfferTabled) and event.seq not in reverted_by:
            agreed = [item for items in standing.values() for item in items]
            scores = utilities(scenario, [*agreed, *data.give, *data.ask])
            before = previous.get(data.delegation)
            offers.append(
                {
                    "seq": event.seq,
                    "delegation": data.delegation,
                    "scores": scores,
                    "move": None
                    if before is None
                    else move_class(data.delegation, before, scores).value,
                }
            )
            previous[data.delegation] = scores
    return offers


def table_analysis(
    scenario: Scenario,
    variant: str,
    events: list[Event],
    reverted_by: Mapping[int, int],
    agreed: Iterable[str],
) -> dict[str, Any]:
    """The export's ``analysis`` of a table played under ``variant`` that ended with
    ``agreed`` (empty: no deal)."""
    space = space_for(scenario, variant)
    summary = mode_summary(space)
    return {
        "sequencing": summary.pop("rules"),
        "variant": variant,
        **summary,
        "offers": offers_dance(scenario, events, reverted_by),
        "outcome": space.measure(list(agreed)).to_json(),
    }
