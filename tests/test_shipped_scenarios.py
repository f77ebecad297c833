"""Every scenario shipped in rules/ loads cleanly, with all its prompts and a playable demo."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import paths
from bot.domain.scenario import load_scenario
from bot.play import parse_line
from bot.scenarios import ScenarioLibrary

SHIPPED = sorted(paths.RULES_DIR.glob("*.toml"))


def test_rules_folder_is_not_empty() -> None:
    """At least one scenario ships (so the test below cannot pass vacuously)."""
    assert SHIPPED


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenario_loads_with_its_prompts(path: Path) -> None:
    """The file validates, its id matches its name, every prompt file is non-empty."""
    scenario = load_scenario(path)
    assert scenario.id == path.stem
    for _, name in scenario.prompt_files():
        assert (paths.PROMPTS_DIR / name).read_text(encoding="utf-8").strip(), name
    for variant in scenario.variant_names():
        scenario.rules_for(variant)
    if scenario.prompts.demo:
        script = (paths.PROMPTS_DIR / scenario.prompts.demo).read_text(encoding="utf-8")
        for number, line in enumerate(script.splitlines(), start=1):
            parse_line(number, line)  # raises PlayError on a line it cannot parse


def test_the_library_reports_no_broken_scenario() -> None:
    """The bot's library loads every shipped file without errors."""
    library = ScenarioLibrary()
    assert library.errors == []
    assert library.ids() == [p.stem for p in SHIPPED]
