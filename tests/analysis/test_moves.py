"""The move classes of the negotiation dance (ANALYTICS.md): one hand-built move per class,
the edges of the table (own or other unchanged), and three delegations, where "other" is
the sum of the others' changes."""

from __future__ import annotations

import pytest

from bot.analysis import Move, move_class

US, DPRK = "us", "dprk"


def _two(own: tuple[int, int], other: tuple[int, int]) -> Move:
    """The class of the US's move whose own score goes own[0] -> own[1] and the DPRK's
    other[0] -> other[1]."""
    return move_class(US, {US: own[0], DPRK: other[0]}, {US: own[1], DPRK: other[1]})


def test_silent() -> None:
    """Neither score changes: silent (a different offer of the same value)."""
    assert _two((5, 5), (3, 3)) is Move.SILENT


def test_nice() -> None:
    """Own unchanged, other better: nice."""
    assert _two((5, 5), (3, 4)) is Move.NICE


def test_fortunate() -> None:
    """Both better: fortunate."""
    assert _two((5, 7), (3, 4)) is Move.FORTUNATE


def test_selfish_other_worse() -> None:
    """Own better, other worse: selfish."""
    assert _two((5, 8), (3, 1)) is Move.SELFISH


def test_selfish_other_unchanged() -> None:
    """Own better, other unchanged: still selfish (the table's edge)."""
    assert _two((5, 6), (3, 3)) is Move.SELFISH


def test_concession_other_better() -> None:
    """Own worse, other better: a concession."""
    assert _two((5, 2), (3, 6)) is Move.CONCESSION


def test_concession_other_unchanged() -> None:
    """Own worse, other unchanged: still a concession (the table's edge)."""
    assert _two((5, 4), (3, 3)) is Move.CONCESSION


def test_unfortunate_both_worse() -> None:
    """Both worse: unfortunate."""
    assert _two((5, 4), (3, 1)) is Move.UNFORTUNATE


def test_unfortunate_own_unchanged() -> None:
    """Own unchanged, other worse: unfortunate (the table's edge)."""
    assert _two((5, 5), (3, 2)) is Move.UNFORTUNATE


def test_negative_scores() -> None:
    """Scores below zero count the same way: only the changes matter."""
    assert _two((-4, -2), (-1, -6)) is Move.SELFISH
    assert _two((-4, -9), (-6, -1)) is Move.CONCESSION


def test_the_mover_is_the_named_delegation() -> None:
    """The same two offers are a concession by one side and selfish by the other."""
    before, after = {US: 5, DPRK: 3}, {US: 2, DPRK: 6}
    assert move_class(US, before, after) is Move.CONCESSION
    assert move_class(DPRK, before, after) is Move.SELFISH


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # other = the sum of b's and c's changes
        ({"a": 4, "b": 3, "c": 1}, Move.SILENT),  # b +1, c -1: the others' sum unchanged
        ({"a": 4, "b": 5, "c": 0}, Move.NICE),  # b +3, c -2: others +1
        ({"a": 6, "b": 3, "c": 2}, Move.FORTUNATE),  # b +1, c 0
        ({"a": 6, "b": 0, "c": 4}, Move.SELFISH),  # b -2, c +2: others unchanged
        ({"a": 6, "b": 9, "c": -6}, Move.SELFISH),  # b +7, c -8: others -1
        ({"a": 1, "b": 2, "c": 3}, Move.CONCESSION),  # b 0, c +1
        ({"a": 3, "b": 4, "c": 0}, Move.CONCESSION),  # b +2, c -2: others unchanged
        ({"a": 3, "b": 9, "c": -7}, Move.UNFORTUNATE),  # b +7, c -9: others -2
        ({"a": 4, "b": 1, "c": 2}, Move.UNFORTUNATE),  # own unchanged, b -1, c 0
    ],
)
def test_three_delegations_sum_the_others(after: dict[str, int], expected: Move) -> None:
    """With three delegations, "other" is the sum of the others' changes: one gaining and
    one losing more is "worse", equal and opposite changes are "no change"."""
    before = {"a": 4, "b": 2, "c": 2}
    assert move_class("a", before, after) is expected
