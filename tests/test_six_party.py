"""The shipped six-party scenario (Six-Party Talks, 2005-2007): it loads, every item has a
source, China chairs, a deal above every BATNA exists but is hard to find, and its demo
plays through the real engine and log, drafts and acceptance rules included."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from bot.analysis import analyze
from bot.cli import main, play_lines
from bot.domain.scenario import Acceptance, Scenario
from bot.scenarios import ScenarioLibrary

SIX = ["us", "dprk", "rok", "china", "japan", "russia"]


@pytest.fixture(scope="module")
def six() -> Scenario:
    """The shipped six-party scenario."""
    return ScenarioLibrary().get("six-party-2007")


def test_six_delegations_china_chairs_and_a_multilateral_acceptance_rule(six: Scenario) -> None:
    """Six offering delegations in the issue's order of ids, China the chair, an acceptance
    rule for many, and a turn short enough for a round of six in a class."""
    assert six.offering == SIX
    assert six.rules.chair == "china"
    assert six.rules.acceptance in {Acceptance.GIVERS, Acceptance.QUORUM}
    assert six.rules.turn_minutes * 6 <= 30
    modes = {six.rules_for(v).sequencing.value for v in six.variant_names()}
    assert {"parallel", "package"} <= modes  # action for action, the comprehensive package


def test_enough_items_each_with_a_source_of_the_scenario(six: Scenario) -> None:
    """At least 24 items; each `source` starts with the id of one of the `[[sources]]`."""
    assert len(six.items) >= 24
    ids = {s.id for s in six.sources}
    for item in six.items:
        assert item.source and item.source.split(",")[0].split(" ")[0].strip() in ids, item.id
    assert len(six.events) >= 5


@pytest.mark.parametrize("variant", ["default", "parallel", "package"])
def test_a_deal_above_every_batna_exists_but_is_hard_to_find(six: Scenario, variant: str) -> None:
    """Under each rule mode some outcome leaves all six strictly above their BATNAs (the
    exact analysis, not a sample), yet such outcomes are a small share of all of them."""
    name = six.variant_names()[0] if variant == "default" else variant
    if name not in six.variant_names():
        name = next(v for v in six.variant_names() if six.rules_for(v).sequencing.value == variant)
    space = analyze(six, name)
    assert space.better_for_all > 0
    assert space.nash is not None
    assert all(g > 0 for g in space.measure(space.nash.items).gains.values())
    assert space.better_for_all / space.outcomes < 0.05


def test_the_demo_plays_through_with_a_chairs_draft(tmp_path: Path) -> None:
    """`parley demo --scenario six-party-2007` plays its script with no refusal it did not
    mean, through the engine and the log, and a chair's draft is among its offers."""
    library = ScenarioLibrary()
    six = library.get("six-party-2007")
    assert six.prompts.demo
    script = library.prompt(six.prompts.demo).splitlines()
    out = io.StringIO()
    code, table_id = asyncio.run(play_lines(script, str(tmp_path / "six.db"), ["instructor"], out))
    assert code == 0 and table_id is not None
    lines = out.getvalue().splitlines()
    assert not [line for line in lines if line.startswith("refused")], lines
    assert any("agreement_reached" in line for line in lines)
    db = tmp_path / "six.db"
    assert main(["export", str(table_id), "--db", str(db), "--format", "json", "-o",
                 str(tmp_path / "six.json")]) == 0  # fmt: skip
    export = json.loads((tmp_path / "six.json").read_text(encoding="utf-8"))
    tabled = [e for e in export["events"] if e["kind"] == "offer_tabled"]
    assert any(e["data"].get("draft") for e in tabled)
    accepted = [e for e in export["events"] if e["kind"] == "offer_accepted"]
    assert accepted and all("waiting" in e["data"] for e in accepted)
    assert export["analysis"]["outcome"]["scores"].keys() == set(SIX)
