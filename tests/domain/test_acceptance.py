"""Acceptance rules among many delegations (all, givers, quorum) and the chair's draft,
through the engine: who must accept, what `offer_accepted` says, and the refusals."""

from __future__ import annotations

import pytest

from bot.domain import commands as c
from bot.domain.errors import RefusalCode as R
from bot.domain.events import OfferAccepted, OfferTabled
from bot.domain.scenario import Scenario, ScenarioError, parse_scenario
from bot.domain.state import Phase

from .conftest import kinds, load, seated


@pytest.fixture(scope="module")
def council() -> Scenario:
    """Four offering delegations a, b, c, d; d chairs; variants for each acceptance rule."""
    return load("council")


def accepted(events: list) -> OfferAccepted:  # type: ignore[type-arg]
    data = events[0].data
    assert isinstance(data, OfferAccepted)
    return data


def test_all_needs_every_other_delegation_and_says_who_is_waiting(council: Scenario) -> None:
    """Under `all`, each acceptance names those who accepted and those still awaited; the
    last one forms the agreement with every delegation in it."""
    t = seated(council, "singapore")
    t.offer("a_head", give=["a-x"], ask=["b-x"])
    first = accepted(t.do("b_head", c.Accept))
    assert (first.accepted, first.waiting) == (["b"], ["c", "d"])
    second = t.do("c_head", c.Accept)
    assert (accepted(second).accepted, accepted(second).waiting) == (["b", "c"], ["d"])
    assert kinds(second) == ["offer_accepted"]
    last = t.do("d_head", c.Accept)
    assert kinds(last) == ["offer_accepted", "agreement_reached"]
    assert accepted(last).waiting == []
    assert last[1].data.delegations == ["a", "b", "c", "d"]  # type: ignore[attr-defined]


def test_givers_need_only_the_delegations_that_give(council: Scenario) -> None:
    """Under `givers`, an offer asking only Beta's item is agreed once Beta accepts; the
    other delegations' acceptance is not waited for."""
    t = seated(council, "givers")
    t.offer("a_head", give=["a-x"], ask=["b-x"])
    t.do("b_head", c.Pass)  # Beta passes: the offer stands, Beta is still awaited
    standing = t.state.standing
    assert standing is not None
    support = t.state.support(standing)
    assert (support.accepted, support.waiting, support.needed) == ((), ("b",), 1)
    c_accepts = accepted(t.do("c_head", c.Accept))  # a non-giver may accept; not needed
    assert (c_accepts.accepted, c_accepts.waiting) == (["c"], ["b"])
    t.do("d_head", c.Pass)
    t.do("a_head", c.Pass)
    done = t.do("b_head", c.Accept)
    assert kinds(done) == ["offer_accepted", "agreement_reached"]
    assert set(t.state.agreed) == {"a-x", "b-x"}


def test_givers_an_offer_only_of_ones_own_items_needs_one_acceptance(council: Scenario) -> None:
    """Under `givers`, an offer in which only its proposer gives is agreed by the first
    other delegation that accepts it."""
    t = seated(council, "givers")
    t.offer("a_head", give=["a-x"])
    done = t.do("b_head", c.Accept)
    assert kinds(done) == ["offer_accepted", "agreement_reached"]


def test_quorum_needs_the_givers_and_enough_support(council: Scenario) -> None:
    """Under `quorum = 3`, the givers must accept and, with the proposer, three delegations
    must support the offer: a giver's acceptance alone is not enough."""
    t = seated(council, "quorum")
    t.offer("a_head", give=["a-x"], ask=["b-x"])
    first = accepted(t.do("b_head", c.Accept))  # Beta (the giver) accepts: a + b = 2 of 3
    assert first.accepted == ["b"] and first.waiting == ["c", "d"]
    standing = t.state.standing
    assert standing is not None and t.state.support(standing).needed == 1
    done = t.do("c_head", c.Accept)
    assert kinds(done) == ["offer_accepted", "agreement_reached"]
    assert accepted(done).waiting == []


def test_quorum_waits_for_a_giver_even_with_enough_support(council: Scenario) -> None:
    """Under `quorum`, support from non-givers never replaces a giver's acceptance."""
    t = seated(council, "quorum")
    t.offer("a_head", give=["a-x"], ask=["d-y"])
    t.do("b_head", c.Accept)
    after_c = accepted(t.do("c_head", c.Accept))  # a, b, c: 3 support, but d gives
    assert after_c.waiting == ["d"]
    assert t.state.agreements == []
    done = t.do("d_head", c.Accept)
    assert kinds(done) == ["offer_accepted", "agreement_reached"]


def test_the_chair_tables_a_draft_of_anyones_items(council: Scenario) -> None:
    """The chair's head tables a draft naming other delegations' items; it is an
    `offer_tabled` with `draft: true`, replaces the standing offer, and under `givers`
    needs exactly the delegations giving in it."""
    t = seated(council, "givers", first="d")
    t.offer("d_head", give=["d-y"])  # the chair's own offer first
    t.do("a_head", c.Pass)
    t.do("b_head", c.Pass)
    t.do("c_head", c.Pass)
    [draft] = t.do("d_head", c.Draft, items=("a-x", "b-x"), note="a balanced first step")
    data = draft.data
    assert isinstance(data, OfferTabled)
    assert data.draft and data.delegation == "d" and data.revises is not None
    assert (data.give, data.ask) == ([], ["a-x", "b-x"])
    assert "draft" in data.dumped()
    standing = t.state.standing
    assert standing is not None and standing.draft and standing.items == ("a-x", "b-x")
    assert t.state.support(standing).waiting == ("a", "b")
    t.do("a_head", c.Accept)
    done = t.do("b_head", c.Accept)
    assert kinds(done) == ["offer_accepted", "agreement_reached"]


def test_a_draft_under_all_needs_every_other_delegation(council: Scenario) -> None:
    """Under `all`, a chair's draft needs every other offering delegation's acceptance."""
    t = seated(council, "singapore", first="d")
    t.do("d_head", c.Draft, items=("a-x",))
    standing = t.state.standing
    assert standing is not None
    assert t.state.support(standing).waiting == ("a", "b", "c")


def test_drafts_by_anyone_but_the_chairs_head_are_refused(council: Scenario) -> None:
    """A draft by another delegation is `not_chair`; by the chair's non-head member,
    `role_not_allowed`; by the chair out of turn, `not_your_turn`; its items are checked
    like an offer's (unknown, closed basket, too many)."""
    t = seated(council, "singapore")
    refusal = t.refuse("a_head", c.Draft, R.NOT_CHAIR, items=("a-x",))
    assert "chair (Delta)" in refusal.message
    t.refuse("d_head", c.Draft, R.NOT_YOUR_TURN, items=("a-x",))
    for name in ("a_head", "b_head", "c_head"):
        t.do(name, c.Pass)
    t.refuse("d_member", c.Draft, R.ROLE_NOT_ALLOWED, items=("a-x",))
    t.refuse("d_head", c.Draft, R.UNKNOWN_ITEM, items=("zz",))
    t.refuse("d_head", c.Draft, R.BASKET_CLOSED, items=("c-z",))
    t.refuse("d_head", c.Draft, R.BAD_ARGUMENT, items=())
    t.refuse("d_head", c.Draft, R.TOO_MANY_ITEMS, items=("a-x", "b-x", "c-y", "d-y", "d-z"))


def test_a_table_without_a_chair_refuses_drafts(trio: Scenario) -> None:
    """Where the rules name no chair, a draft is refused (`not_chair`), saying so."""
    t = seated(trio)
    refusal = t.refuse("a_head", c.Draft, R.NOT_CHAIR, items=("a-x",))
    assert "no chair" in refusal.message


def test_an_undone_acceptance_is_no_longer_counted(council: Scenario) -> None:
    """Undo of an acceptance takes that delegation out of the offer's support."""
    t = seated(council, "singapore")
    t.offer("a_head", give=["a-x"], ask=["b-x"])
    t.do("b_head", c.Accept)
    t.do("fac", c.Undo)
    standing = t.state.standing
    assert standing is not None and t.state.support(standing).accepted == ()
    assert t.state.phase is Phase.NEGOTIATING


def _council(rules: str) -> dict[str, object]:
    import tomllib

    from .conftest import SCENARIOS

    data = tomllib.loads((SCENARIOS / "council.toml").read_text())
    data["rules"] = tomllib.loads(rules)
    data["variants"] = {}
    return data


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ('acceptance = "quorum"', 'rules.quorum: required when acceptance = "quorum"'),
        ('acceptance = "quorum"\nquorum = 5', "rules.quorum: 5 is more than the 4 delegations"),
        ('acceptance = "quorum"\nquorum = 1', "rules.quorum"),
        ('acceptance = "most"', "rules.acceptance"),
        ('chair = "e"', "rules.chair: 'e' is not a delegation that makes offers"),
    ],
)
def test_bad_acceptance_rules_are_named_by_the_scenario_check(rules: str, problem: str) -> None:
    """A quorum missing or too large, an unknown rule, or a chair who does not offer is
    named with its field path."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(_council(rules), "council.toml")
    assert problem in caught.value.render()
