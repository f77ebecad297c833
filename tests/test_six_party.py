"""The shipped six-party scenario (Six-Party Talks, 2005-2007): it loads, every item has a
source, China chairs, a deal above every BATNA exists but is hard to find, and its demo
plays through the real engine and log, drafts and acceptance rules included."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.analysis import Space, analyze
from bot.cli import main, play_lines
from bot.domain.scenario import Acceptance, Scenario
from bot.scenarios import ScenarioLibrary

SIX = ["us", "dprk", "rok", "china", "japan", "russia"]
ROOT = Path(__file__).resolve().parent.parent


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


def test_the_readme_shape_of_the_table(six: Scenario) -> None:
    """29 items in five baskets, DPRK-Japan the only ungated one; 4-minute turns; action
    for action reciprocal and balanced; the package needs all six to accept."""
    assert len(six.items) == 29
    baskets = [(b.id, b.gated) for b in six.baskets_in_order()]
    assert len(baskets) == 5 and [b for b, gated in baskets if not gated] == ["japan-dprk"]
    assert six.rules.turn_minutes == 4 and six.rules.acceptance is Acceptance.GIVERS
    parallel = six.rules_for("parallel")
    assert parallel.reciprocity and parallel.balance.value == "enforce"
    assert six.rules_for("package").acceptance is Acceptance.ALL


def test_enough_items_each_with_a_source_of_the_scenario(six: Scenario) -> None:
    """At least 24 items; each `source` starts with the id of one of the `[[sources]]`."""
    assert len(six.items) >= 24
    ids = {s.id for s in six.sources}
    for item in six.items:
        assert item.source and item.source.split(",")[0].split(" ")[0].strip() in ids, item.id
    assert len(six.events) >= 5


@pytest.fixture(scope="module")
def spaces() -> dict[str, Space]:
    """Each variant's analysis, worked out once for the module (the package's takes ~20 s)."""
    return {}


def space_of(six: Scenario, spaces: dict[str, Space], variant: str) -> Space:
    """The analysis of ``variant`` ("default": the scenario's first, working-group order)."""
    name = six.variant_names()[0] if variant == "default" else variant
    if name not in six.variant_names():
        name = next(v for v in six.variant_names() if six.rules_for(v).sequencing.value == variant)
    if name not in spaces:
        spaces[name] = analyze(six, name)
    return spaces[name]


@pytest.mark.parametrize("variant", ["default", "parallel", "package"])
def test_a_deal_above_every_batna_exists_but_is_hard_to_find(
    six: Scenario, spaces: dict[str, Space], variant: str
) -> None:
    """Under each rule mode some outcome leaves all six strictly above their BATNAs (the
    exact analysis, not a sample), yet such outcomes are a small share of all of them."""
    space = space_of(six, spaces, variant)
    assert space.better_for_all > 0
    assert space.nash is not None
    assert all(g > 0 for g in space.measure(space.nash.items).gains.values())
    assert space.better_for_all / space.outcomes < 0.05


def test_the_readme_figures_of_the_analysis(six: Scenario, spaces: dict[str, Space]) -> None:
    """The README's figures: 516,574,087 outcomes in working-group order, 5,273 meeting every
    BATNA, 594 beating all six, a maximum joint gain of 37; 25 and 53 under the package."""
    first = space_of(six, spaces, "default")
    assert first.sequencing.value == "singapore"
    assert (first.outcomes, first.zopa, first.better_for_all) == (516_574_087, 5_273, 594)
    assert first.max_joint_gain == 37
    package = space_of(six, spaces, "package")
    assert (package.max_joint_gain, package.better_for_all) == (25, 53)


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


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot.cli ARGS` from the project folder (the code of this copy)."""
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_parley_demo_of_the_six_party_table_drafts_three_times_and_agrees_five(
    tmp_path: Path,
) -> None:
    """`parley demo --scenario six-party-2007` as a process: three chair's drafts, five
    agreements, every delegation above its BATNA, as the README says."""
    db = tmp_path / "six.db"
    run = cli("demo", "--scenario", "six-party-2007", "--db", str(db))
    assert run.returncode == 0, run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith("Playing the demo of “The Six-Party Talks:"), first
    found = re.search(r"parley export (\d+) --db", run.stdout)
    assert found, run.stdout[-500:]
    exported = cli("export", found.group(1), "--db", str(db), "--format", "json")
    assert exported.returncode == 0, exported.stderr
    export = json.loads(exported.stdout)
    assert export["table"]["scenario"] == "six-party-2007"
    kept = [e for e in export["events"] if not e["reverted_by"]]
    drafts = [e for e in kept if e["kind"] == "offer_tabled" and e["data"].get("draft")]
    assert len(drafts) == 3
    assert len([e for e in kept if e["kind"] == "agreement_reached"]) == 5
    assert len(export["outcome"]["agreements"]) == 5
    scores = export["outcome"]["scores"]
    assert scores.keys() == set(SIX)
    assert all(s["score"] > s["batna"] and s["margin"] > 0 for s in scores.values()), scores
