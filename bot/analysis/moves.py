"""The negotiation dance: each delegation's move from its previous offer to its next,
classed as in Genius by the change in its own utility and in the others' (ANALYTICS.md).

Scenario values are integers, so any change counts (no threshold).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class Move(StrEnum):
    """The move classes of ANALYTICS.md."""

    SILENT = "silent"
    NICE = "nice"
    FORTUNATE = "fortunate"
    SELFISH = "selfish"
    CONCESSION = "concession"
    UNFORTUNATE = "unfortunate"


def move_class(delegation: str, before: Mapping[str, int], after: Mapping[str, int]) -> Move:
    """The class of ``delegation``'s move from an offer scored ``before`` to one scored
    ``after`` (scores: each delegation's utility; "other" is the sum of the others')."""
    own = after[delegation] - before[delegation]
    other = sum(v for d, v in after.items() if d != delegation) - sum(
        v for d, v in before.items() if d != delegation
    )
    if own == 0 and other == 0:
        return Move.SILENT
    if own == 0 and other > 0:
        return Move.NICE
    if own > 0 and other > 0:
        return Move.FORTUNATE
    if own > 0:  # other worse or unchanged
        return Move.SELFISH
    if own < 0 and other >= 0:
        return Move.CONCESSION
    return Move.UNFORTUNATE  # own worse or unchanged, other worse
