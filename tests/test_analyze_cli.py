"""`parley analyze SCENARIO [--sequencing MODE] [--json]`: what a scenario allows per rule
mode, as text for authors and instructors and as JSON, checked against `bot.analysis`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.analysis import analyze
from bot.cli import main
from bot.domain.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "rules" / "hanoi-2019.toml"
PROMPTS = ROOT / "prompts"
PARLEY = Path(sys.executable).parent / "parley"
MODE_KEYS = {"sequencing", "outcomes", "zopa", "max_joint_gain", "nash", "kalai", "frontier"}

#: A small scenario with three offering delegations (each gives one item per basket).
THREE = """\
id = "three"
title = "Three parties"

[[sources]]
id = "made-up"
title = "Made up for a test"

[prompts]
background = "three/background.md"
debrief = "three/debrief.md"

[[delegations]]
id = "a"
name = "A"
batna = 1
brief = "three/brief.md"

[[delegations]]
id = "b"
name = "B"
batna = 1
brief = "three/brief.md"

[[delegations]]
id = "c"
name = "C"
batna = 1
brief = "three/brief.md"

[[baskets]]
id = "one"
title = "One"
order = 1

[[items]]
id = "a-gives"
title = "A gives"
basket = "one"
giver = "a"
weight = 1
values = { a = -1, b = 2, c = 2 }

[[items]]
id = "b-gives"
title = "B gives"
basket = "one"
giver = "b"
weight = 1
values = { a = 2, b = -1, c = 2 }

[[items]]
id = "c-gives"
title = "C gives"
basket = "one"
giver = "c"
weight = 1
values = { a = 2, b = 2, c = -1 }
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """`parley ARGV` in this process: exit code, standard output, standard error."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def analyzed(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> dict[str, Any]:
    """The JSON `parley analyze ARGV --json` prints (it must exit 0)."""
    code, out, err = run(capsys, "analyze", *argv, "--json")
    assert code == 0, err
    found: dict[str, Any] = json.loads(out)
    return found


def test_json_modes_match_the_analysis_package(capsys: pytest.CaptureFixture[str]) -> None:
    """`analyze hanoi-2019 --json`: one mode per variant, its figures those of `analyze()`."""
    found = analyzed(capsys, "hanoi-2019")
    scenario = load_scenario(RULES)
    assert found["scenario"] == "hanoi-2019"
    assert [m["sequencing"] for m in found["modes"]] == scenario.variant_names()
    for mode in found["modes"]:
        assert mode.keys() >= MODE_KEYS
        space = analyze(scenario, mode["sequencing"])
        assert mode["rules"] == space.sequencing.value
        assert mode["upper_bound"] is space.upper_bound
        assert (mode["outcomes"], mode["zopa"]) == (space.outcomes, space.zopa)
        assert mode["max_joint_gain"] == space.max_joint_gain
        assert space.nash is not None and space.kalai is not None
        assert mode["nash"] == space.nash.to_json()
        assert mode["kalai"] == space.kalai.to_json()
        assert mode["frontier"] == [p.to_json() for p in space.frontier]
        assert set(mode["nash"]) == {"items", "scores"}
        assert set(mode["nash"]["scores"]) == {"us", "dprk"}


def test_hanoi_figures_per_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """Hanoi: maximum joint gain 18 step by step or in parallel, 13 in one 12-item package."""
    modes = {m["sequencing"]: m for m in analyzed(capsys, "hanoi-2019")["modes"]}
    assert {v: m["max_joint_gain"] for v, m in modes.items()} == {
        "singapore": 18,
        "package": 13,
        "parallel": 18,
    }
    assert [v for v, m in modes.items() if m["upper_bound"]] == ["parallel"]
    assert modes["parallel"]["outcomes"] == 2**20 - 1
    assert all(0 < m["zopa"] < m["outcomes"] for m in modes.values())


def test_one_mode_with_sequencing(capsys: pytest.CaptureFixture[str]) -> None:
    """`--sequencing package` analyses that variant alone."""
    found = analyzed(capsys, "hanoi-2019", "--sequencing", "package")
    assert [m["sequencing"] for m in found["modes"]] == ["package"]


def test_a_file_path_gives_the_same_figures(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A .toml path (in rules/, or elsewhere with --prompts) is analysed like the id."""
    by_id = analyzed(capsys, "hanoi-2019")
    assert analyzed(capsys, RULES) == by_id
    copy = tmp_path / "drafts" / "hanoi-copy.toml"
    copy.parent.mkdir()
    shutil.copy(RULES, copy)
    assert analyzed(capsys, copy, "--prompts", PROMPTS) == by_id


def test_text_output_mentions_each_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """The text gives each mode's counts, maximum, Nash, Kalai, frontier; parallel: a bound."""
    code, out, err = run(capsys, "analyze", "hanoi-2019")
    assert code == 0 and err == ""
    scenario = load_scenario(RULES)
    for variant in scenario.variant_names():
        space = analyze(scenario, variant)
        assert f"\n{variant}" in out
        assert f"outcomes: {space.outcomes:,}; in the ZOPA: {space.zopa:,}" in out
        for name, point in (("Nash", space.nash), ("Kalai", space.kalai)):
            assert point is not None
            gains = zip(point.scores.items(), space.batnas, strict=True)
            said = ", ".join(f"{d} {u} (gain {u - b:+d})" for (d, u), b in gains)
            assert f"{name} point: {said}\n" in out
    assert out.count("maximum joint gain: ") == 3
    assert out.count("Nash point: ") == 3 and out.count("Kalai point: ") == 3
    assert out.count("Pareto frontier (us, dprk)") == 3
    assert "Hand over nuclear weapons and fissile material" in out  # items by title
    assert "parallel is an upper bound" in out
    assert out.count("is an upper bound") == 1


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["no-such-scenario"], "there is no scenario 'no-such-scenario'"),
        (["nowhere/missing.toml"], "nowhere/missing.toml: "),
        (["BROKEN"], "delegations[0].batna: "),
    ],
    ids=["unknown-id", "missing-file", "broken-file"],
)
def test_a_bad_scenario_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], says: str
) -> None:
    """An unknown id, a missing file or a broken one: one line on stderr, exit 1."""
    broken = tmp_path / "broken.toml"
    broken.write_text(RULES.read_text().replace("batna = 8", 'batna = "eight"', 1))
    argv = [str(broken) if a == "BROKEN" else a for a in argv]
    code, out, err = run(capsys, "analyze", *argv)
    assert code == 1 and out == ""
    assert err.startswith("parley analyze: ") and err.count("\n") == 1
    assert says in err


def test_an_unknown_mode_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`--sequencing sideways` names the scenario's variants and exits 2."""
    code, out, err = run(capsys, "analyze", "hanoi-2019", "--sequencing", "sideways")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "singapore, package, parallel" in err


def test_more_than_two_delegations_list_no_frontier(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Three delegations: the JSON frontier is [] and the text gives only its size."""
    (tmp_path / "rules").mkdir()
    (tmp_path / "prompts" / "three").mkdir(parents=True)
    for name in ("background", "debrief", "brief"):
        (tmp_path / "prompts" / "three" / f"{name}.md").write_text("Text.\n")
    path = tmp_path / "rules" / "three.toml"
    path.write_text(THREE)
    [mode] = analyzed(capsys, path)["modes"]
    assert mode["frontier"] == []
    assert mode["max_joint_gain"] == 9 - 3
    assert mode["nash"]["scores"] == {"a": 3, "b": 3, "c": 3}
    code, out, _ = run(capsys, "analyze", path)
    assert code == 0 and "not listed for more than two delegations" in out


def test_an_empty_zopa_has_no_nash_or_kalai_point(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """BATNAs out of reach: ZOPA 0, nash and kalai null, and the text says the ZOPA is empty."""
    path = tmp_path / "rules" / "out-of-reach.toml"
    path.parent.mkdir()
    path.write_text(RULES.read_text().replace("batna = 8", "batna = 80", 1))
    for mode in analyzed(capsys, path, "--prompts", PROMPTS)["modes"]:
        assert mode["zopa"] == 0 and mode["nash"] is None and mode["kalai"] is None
        assert mode["max_joint_gain"] is not None
    code, out, _ = run(capsys, "analyze", path, "--prompts", PROMPTS)
    assert code == 0 and "the ZOPA is empty" in out


def test_analyze_runs_as_a_real_process() -> None:
    """The installed `parley analyze` prints the JSON and exits 0 (and lists in --help)."""
    done = subprocess.run(
        [str(PARLEY), "analyze", "hanoi-2019", "--sequencing", "singapore", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["modes"][0]["max_joint_gain"] == 18
    helped = subprocess.run([str(PARLEY), "--help"], capture_output=True, text=True, timeout=60)
    assert "analyze" in helped.stdout
