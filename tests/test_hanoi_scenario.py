"""The Hanoi 2019 scenario: its file, its prompts, its demo script and its value design.

The value-design tests check FACTS.md's "Designing the private values": log-rolling room in
every basket, a Singapore path of small balanced deals that beats both BATNAs, the US "big
deal" and the DPRK's Hanoi offer each below the other side's BATNA, and a package beating
both BATNAs that exists but is rare.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Iterable
from pathlib import Path

import pytest

from bot.domain.scenario import Balance, Scenario, Sequencing, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO_FILE = ROOT / "rules" / "hanoi-2019.toml"
PROMPTS = ROOT / "prompts"

US, DPRK = "us", "dprk"

# The US "big deal" handed over in Hanoi, and the DPRK's Hanoi offer (Ri Yong Ho).
BIG_DEAL = (
    "dprk-declaration-inspectors",
    "dprk-handover",
    "dprk-yongbyon",
    "dprk-enrichment-sites",
    "us-lift-five-resolutions",
    "us-sector-relief",
)
HANOI_OFFER = ("dprk-yongbyon", "dprk-test-moratorium", "us-lift-five-resolutions")

# A path of small deals under Singapore sequencing: (offering side, items given, items asked).
SINGAPORE_PATH: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    (US, ("us-liaison-office",), ("dprk-liaison-access", "dprk-family-reunions")),
    (DPRK, ("dprk-dmz-pullback", "dprk-remains"), ("us-security-assurance", "us-exercises")),
    (DPRK, ("dprk-test-moratorium", "dprk-sohae"), ("us-sector-relief",)),
    (DPRK, ("dprk-yongbyon", "dprk-punggye-ri"), ("us-end-of-war", "us-humanitarian")),
]

# Item ids in the demo that are deliberately wrong (to show the unknown_item refusal).
DEMO_TYPOS = {"dprk-dmz-pulback"}


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    """The scenario as the bot loads it."""
    return load_scenario(SCENARIO_FILE)


def _score(scenario: Scenario, items: Iterable[str], side: str) -> int:
    """A side's score: the sum of its private values over the agreed items."""
    total = 0
    for item_id in items:
        item = scenario.item(item_id)
        assert item is not None, f"unknown item {item_id}"
        total += item.values.get(side, 0)
    return total


def _batna(scenario: Scenario, side: str) -> int:
    delegation = scenario.delegation(side)
    assert delegation is not None
    return delegation.batna


def _other(side: str) -> str:
    return DPRK if side == US else US


def _gated(scenario: Scenario) -> list[str]:
    return [b.id for b in scenario.baskets_in_order() if b.gated]


# -- the file -------------------------------------------------------------------------------


def test_file_loads(scenario: Scenario) -> None:
    """The scenario file loads and validates, with the expected id and delegations."""
    assert scenario.id == "hanoi-2019"
    assert scenario.offering == [US, DPRK]
    assert scenario.rules.first_mover == US
    assert scenario.rules.sequencing is Sequencing.SINGAPORE


def test_has_at_least_18_items(scenario: Scenario) -> None:
    """The catalogue has at least 18 items, including the two ids other code relies on."""
    ids = {i.id for i in scenario.items}
    assert len(scenario.items) >= 18
    assert {"us-liaison-office", "dprk-remains"} <= ids


def test_item_ids_are_prefixed_by_giver(scenario: Scenario) -> None:
    """Every item id starts with its giver's id, and every item values both sides."""
    for item in scenario.items:
        assert item.id.startswith(f"{item.giver}-"), item.id
        assert set(item.values) == {US, DPRK}, item.id
        assert item.text, item.id


def test_both_sides_give_in_every_gated_basket(scenario: Scenario) -> None:
    """Both delegations have items in each of the three gated baskets, in Singapore order."""
    assert _gated(scenario) == ["relations", "peace", "denuclearization"]
    for basket in _gated(scenario):
        givers = {i.giver for i in scenario.items if i.basket == basket}
        assert givers == {US, DPRK}, basket


def test_remains_basket_is_ungated(scenario: Scenario) -> None:
    """The remains basket is last and ungated, so it may be traded at any time."""
    remains = scenario.basket("remains")
    assert remains is not None
    assert remains.gated is False
    assert remains.order == 4
    assert all(b.text for b in scenario.baskets)


def test_prompts_exist_and_are_not_empty(scenario: Scenario) -> None:
    """Every prompt the scenario names (briefs, injects, background, debrief, demo) has text."""
    names = [name for _, name in scenario.prompt_files()]
    assert len(scenario.events) >= 4
    assert {"april-calendar", "congress-criticism", "seoul-mediation"} <= {
        e.id for e in scenario.events
    }
    for name in names:
        path = PROMPTS / name
        assert path.is_file(), name
        assert path.read_text(encoding="utf-8").strip(), name


def test_briefs_do_not_state_the_numbers(scenario: Scenario) -> None:
    """Briefs leave the values to the generated table: no BATNA figure in the prose."""
    for delegation in scenario.delegations:
        text = (PROMPTS / delegation.brief).read_text(encoding="utf-8")
        assert "table of values below" in text
        assert not re.search(rf"BATNA\D{{0,20}}\b{delegation.batna}\b", text)


def test_variants_resolve(scenario: Scenario) -> None:
    """The three variants give the rules the spec asks for."""
    assert scenario.variant_names()[0] == "singapore"
    package = scenario.rules_for("package")
    assert package.sequencing is Sequencing.PACKAGE
    assert package.max_items_per_offer >= 6
    assert package.balance is Balance.OFF
    parallel = scenario.rules_for("parallel")
    assert parallel.sequencing is Sequencing.PARALLEL
    assert parallel.reciprocity is True
    assert parallel.balance is Balance.ENFORCE
    assert scenario.rules_for("singapore") == scenario.rules


# -- the value design -----------------------------------------------------------------------


def test_a_cheap_for_giver_trades_in_every_basket(scenario: Scenario) -> None:
    """(a) Every basket holds items cheap for the giver and worth more to the receiver."""
    for basket in scenario.baskets:
        items = [i for i in scenario.items if i.basket == basket.id]
        for giver in sorted({i.giver for i in items}):
            receiver = _other(giver)
            cheap = [
                i
                for i in items
                if i.giver == giver
                and -2 <= i.values[giver] <= 0
                and i.values[receiver] >= 3
                and i.values[receiver] > -i.values[giver]
            ]
            assert cheap, f"{basket.id}: no cheap concession by {giver}"
        if basket.gated:
            # Log-rolling inside the basket: one item each way leaves both sides better off.
            swaps = [
                (u.id, d.id)
                for u in items
                if u.giver == US
                for d in items
                if d.giver == DPRK
                and u.values[US] + d.values[US] > 0
                and u.values[DPRK] + d.values[DPRK] > 0
            ]
            assert swaps, f"{basket.id}: no mutually profitable swap"


def _open_under_singapore(scenario: Scenario, agreed: list[str]) -> set[str]:
    """Baskets open under Singapore: ungated ones, and gated ones up to the first unsettled."""
    settled = {scenario.item(i).basket for i in agreed}  # type: ignore[union-attr]
    open_baskets = {b.id for b in scenario.baskets if not b.gated}
    for basket in _gated(scenario):
        open_baskets.add(basket)
        if basket not in settled:
            break
    return open_baskets


def test_b_singapore_path_beats_both_batnas(scenario: Scenario) -> None:
    """(b) Small, balanced deals basket by basket under Singapore leave both above BATNA."""
    rules = scenario.rules_for("singapore")
    agreed: list[str] = []
    for side, give, ask in SINGAPORE_PATH:
        offer = (*give, *ask)
        assert give and ask
        assert len(offer) <= rules.max_items_per_offer
        assert len(set(offer)) == len(offer)
        assert not set(offer) & set(agreed)
        open_baskets = _open_under_singapore(scenario, agreed)
        weights = {}
        for part, giver in ((give, side), (ask, _other(side))):
            for item_id in part:
                item = scenario.item(item_id)
                assert item is not None, item_id
                assert item.giver == giver, item_id
                assert item.basket in open_baskets, f"{item_id}: basket {item.basket} closed"
            weights[giver] = sum(scenario.item(i).weight for i in part)  # type: ignore[union-attr]
        assert abs(weights[US] - weights[DPRK]) <= rules.balance_tolerance, (give, ask)
        agreed.extend(offer)
    assert {scenario.item(i).basket for i in agreed} >= set(_gated(scenario))  # type: ignore[union-attr]
    for side in (US, DPRK):
        assert _score(scenario, agreed, side) > _batna(scenario, side), side


def test_c_us_big_deal_is_below_dprk_batna(scenario: Scenario) -> None:
    """(c) The US "big deal" is worth less than no deal to the DPRK (but suits the US)."""
    assert _score(scenario, BIG_DEAL, DPRK) < _batna(scenario, DPRK)
    assert _score(scenario, BIG_DEAL, US) > _batna(scenario, US)


def test_d_dprk_hanoi_offer_is_below_us_batna(scenario: Scenario) -> None:
    """(d) The DPRK's Hanoi offer is worth less than no deal to the US (but suits the DPRK)."""
    assert _score(scenario, HANOI_OFFER, US) < _batna(scenario, US)
    assert _score(scenario, HANOI_OFFER, DPRK) > _batna(scenario, DPRK)


Key = tuple[int, int, frozenset[str], int]  # (US score, DPRK score, gated baskets, size)


def _subset_counts(scenario: Scenario, side: str) -> dict[Key, list[tuple[str, ...]]]:
    """Every subset of one side's items, grouped by what matters for a package."""
    gated = frozenset(_gated(scenario))
    items = [i for i in scenario.items if i.giver == side]
    groups: dict[Key, list[tuple[str, ...]]] = {}
    for size in range(len(items) + 1):
        for combo in itertools.combinations(items, size):
            key = (
                sum(i.values[US] for i in combo),
                sum(i.values[DPRK] for i in combo),
                frozenset(i.basket for i in combo) & gated,
                size,
            )
            groups.setdefault(key, []).append(tuple(i.id for i in combo))
    return groups


def test_e_a_package_beating_both_batnas_exists_but_is_rare(scenario: Scenario) -> None:
    """(e) Some package covering every gated basket beats both BATNAs; few of them do."""
    limit = scenario.rules_for("package").max_items_per_offer
    us_batna, dprk_batna = _batna(scenario, US), _batna(scenario, DPRK)
    gated = frozenset(_gated(scenario))
    total = good = 0
    best: tuple[int, tuple[str, ...]] | None = None
    us_groups = _subset_counts(scenario, US)
    dprk_groups = _subset_counts(scenario, DPRK)
    for (us_a, dprk_a, baskets_a, size_a), us_sets in us_groups.items():
        for (us_b, dprk_b, baskets_b, size_b), dprk_sets in dprk_groups.items():
            if size_a + size_b > limit or baskets_a | baskets_b != gated:
                continue
            n = len(us_sets) * len(dprk_sets)
            total += n
            us_score, dprk_score = us_a + us_b, dprk_a + dprk_b
            if us_score > us_batna and dprk_score > dprk_batna:
                good += n
                margin = min(us_score - us_batna, dprk_score - dprk_batna)
                if best is None or margin > best[0]:
                    best = (margin, us_sets[0] + dprk_sets[0])
    assert best is not None, "no package beats both BATNAs"
    # The obvious packages fail: neither Hanoi proposal beats both BATNAs.
    for deal in (BIG_DEAL, HANOI_OFFER):
        assert not (
            _score(scenario, deal, US) > us_batna and _score(scenario, deal, DPRK) > dprk_batna
        )
    assert good / total < 0.05, f"{good} of {total} packages beat both BATNAs: too easy"


# -- the demo script ------------------------------------------------------------------------


def _demo_lines(scenario: Scenario) -> list[str]:
    assert scenario.prompts.demo is not None
    text = (PROMPTS / scenario.prompts.demo).read_text(encoding="utf-8")
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_demo_script_has_at_least_25_action_lines(scenario: Scenario) -> None:
    """The demo script has at least 25 action lines, each `NAME: COMMAND ...`."""
    lines = _demo_lines(scenario)
    assert len(lines) >= 25
    for line in lines:
        assert re.match(r"^[A-Za-z0-9_.-]+: [a-z]+", line) or line.startswith("clock "), line
        shlex.split(line)  # quotes balance
    assert lines[0].startswith("instructor: session open scenario=hanoi-2019")
    assert lines[-1] == "instructor: session end"


def test_demo_script_names_known_items_and_events(scenario: Scenario) -> None:
    """The demo's item and event ids exist, apart from the one deliberate typo."""
    known_items = {i.id for i in scenario.items}
    known_events = {e.id for e in scenario.events}
    for line in _demo_lines(scenario):
        for token in shlex.split(line.split(":", 1)[1]):
            key, _, value = token.partition("=")
            if key in {"give", "ask"}:
                for item_id in value.split(","):
                    assert item_id in known_items | DEMO_TYPOS, (line, item_id)
            elif key == "event":
                assert value in known_events, line
