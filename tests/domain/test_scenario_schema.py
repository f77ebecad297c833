"""Loading scenarios: the test fixtures load, and every broken file is refused with the
file, the field path and the problem (``ScenarioError.render()``), never a traceback."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bot.domain.scenario import (
    Balance,
    Scenario,
    ScenarioError,
    Sequencing,
    load_scenario,
    parse_scenario,
)

from .conftest import PROMPTS, SCENARIOS

BROKEN = SCENARIOS / "broken"

#: Each broken file and the exact problems expected, as ``path: message`` lines
#: (``{prompts}`` is the prompts folder the test passes).
EXPECTED: dict[str, list[str]] = {
    "bad_syntax.toml": ["not valid TOML: Illegal character '\\n' (at line 3, column 27)"],
    "not_utf8.toml": ["not UTF-8 text (invalid continuation byte)"],
    "missing_field.toml": [
        "delegations[1].brief: required field is missing (in delegations entry 'b')"
    ],
    "unknown_field.toml": [
        "items[1].colour: unknown field (check its spelling) (in items entry 'b-rel')"
    ],
    "weight_seven.toml": [
        "items[0].weight: Input should be less than or equal to 5 (in items entry 'a-rel')"
    ],
    "unknown_basket.toml": [
        "items[1].basket: unknown basket 'trade'; known: rel, rem",
        "baskets[0].id: gated basket 'rel' has no item given by 'b'",
    ],
    "unknown_giver.toml": [
        "items[2].giver: 'c' is not a delegation that makes offers; known: a, b",
        "items[2].values.c: unknown delegation 'c'",
    ],
    "gated_one_sided.toml": ["baskets[0].id: gated basket 'rel' has no item given by 'b'"],
    "duplicate_ids.toml": ["items[1].id: duplicate id 'a-rel'"],
    "missing_prompt.toml": [
        "delegations[1].brief: prompt file not found: {prompts}/mini/brief-beta.md"
    ],
    "variant_without_sequencing.toml": [
        "variants.slow.sequencing: required when the variant's name is not a sequencing "
        "mode (singapore, package, parallel)"
    ],
    "variant_unknown_sequencing.toml": [
        "variants.package.sequencing: Input should be 'singapore', 'package' or 'parallel'"
    ],
    "no_head_role.toml": [
        "delegations[0]: a delegation needs a 'head' role (in delegations entry 'a')"
    ],
    "one_offering_delegation.toml": [
        "delegations: at least two delegations must make offers",
        "items[1].giver: 'b' is not a delegation that makes offers; known: a",
    ],
    "bad_first_mover.toml": ["rules.first_mover: 'c' is not an offering delegation"],
}


def test_every_broken_file_has_an_expectation() -> None:
    """The table of expected messages covers exactly the files in broken/."""
    assert sorted(p.name for p in BROKEN.glob("*.toml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_scenario_is_refused_with_file_path_and_problem(name: str) -> None:
    """Each broken file is refused with exactly the expected `file: path: message` lines."""
    path = BROKEN / name
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, prompts_dir=PROMPTS)
    error = caught.value
    expected = [line.format(prompts=PROMPTS) for line in EXPECTED[name]]
    assert [str(p) for p in error.problems] == expected
    assert error.file == str(path)
    assert error.render() == "\n".join(f"{path}: {line}" for line in expected)
    assert str(error) == error.render()


def test_missing_file() -> None:
    """A scenario file that does not exist is a ScenarioError naming it, not an OSError."""
    path = SCENARIOS / "nope.toml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, prompts_dir=PROMPTS)
    assert caught.value.render() == f"{path}: No such file or directory"


def test_parse_scenario_names_its_source() -> None:
    """parse_scenario (already-parsed data) reports problems under the name it is given."""
    data = tomllib.loads((BROKEN / "weight_seven.toml").read_text())
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, "stored:table-7")
    assert caught.value.render().startswith("stored:table-7: items[0].weight: ")


def test_validation_reports_every_field_problem_at_once() -> None:
    """Several problems in one file are all listed, each with its own path."""
    data = tomllib.loads((SCENARIOS / "mini.toml").read_text())
    data["items"][0]["weight"] = 0
    data["items"][1]["giver"] = 5
    data["delegations"][0]["brief"] = ""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, "x.toml")
    paths = [p.path for p in caught.value.problems]
    assert paths == ["delegations[0].brief", "items[0].weight", "items[1].giver"]


def test_prompts_default_to_the_folder_beside_rules(mini: Scenario, tmp_path: Path) -> None:
    """Without prompts_dir, prompt files are looked up in ../prompts from the file's folder."""
    assert load_scenario(SCENARIOS / "mini.toml") == mini  # tests/fixtures/prompts
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mini.toml").write_bytes((SCENARIOS / "mini.toml").read_bytes())
    with pytest.raises(ScenarioError) as caught:
        load_scenario(rules / "mini.toml")
    first = caught.value.problems[0]
    assert (first.path, first.message) == (
        "prompts.background",
        f"prompt file not found: {tmp_path / 'prompts' / 'mini' / 'background.md'}",
    )
    assert len(caught.value.problems) == 6  # background, debrief, three briefs, one inject


def test_mini_fixture_loads_as_described(mini: Scenario) -> None:
    """The mini fixture: two offering delegations, a press, gated and ungated baskets."""
    assert mini.offering == ["a", "b"]
    assert [b.id for b in mini.baskets_in_order()] == ["rel", "peace", "nuke", "rem"]
    assert [b.gated for b in mini.baskets_in_order()] == [True, True, True, False]
    assert mini.variant_names() == ["singapore", "package", "parallel", "reciprocal", "open"]
    assert mini.delegation("a").may("member", "offer")  # type: ignore[union-attr, arg-type]
    assert not mini.delegation("a").may("member", "accept")  # type: ignore[union-attr, arg-type]


def test_variants_override_the_rules(mini: Scenario) -> None:
    """A variant changes only the fields it sets; its name implies its sequencing."""
    base = mini.rules_for("singapore")
    assert base == mini.rules
    package = mini.rules_for("package")
    assert (package.sequencing, package.max_items_per_offer, package.balance) == (
        Sequencing.PACKAGE,
        9,
        Balance.OFF,
    )
    assert package.turn_minutes == base.turn_minutes
    parallel = mini.rules_for("parallel")
    assert parallel.reciprocity and parallel.balance is Balance.ENFORCE
    assert mini.rules_for("open").first_mover == "b"


def test_a_copy_with_other_fields_never_answers_with_the_originals(mini: Scenario) -> None:
    """Rule sets and lookups, kept once worked out, are worked out again for a copy."""
    assert mini.rules_for("package").max_items_per_offer == 9
    assert mini.item("a-rel1") is not None and mini.baskets_in_order()[0].id == "rel"
    rules = mini.rules.model_copy(update={"max_rounds": 99})
    items = [i for i in mini.items if i.id != "a-rel1"]
    baskets = [b.model_copy(update={"order": 9}) if b.id == "rel" else b for b in mini.baskets]
    copy = mini.model_copy(update={"rules": rules, "items": items, "baskets": baskets})
    assert copy.rules_for("package").max_rounds == 99
    assert copy.rules_for("package").max_items_per_offer == 9
    assert copy.item("a-rel1") is None and copy.baskets_in_order()[-1].id == "rel"
    assert mini.rules_for("package").max_rounds == mini.rules.max_rounds
    with pytest.raises(KeyError):
        mini.rules_for("no-such-variant")


def test_trio_fixture_loads(trio: Scenario) -> None:
    """The trio fixture has three offering delegations."""
    assert trio.offering == ["a", "b", "c"]
