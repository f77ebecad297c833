"""The scenario library: every ``rules/*.toml``, loaded and checked once."""

from __future__ import annotations

from pathlib import Path

from bot import paths
from bot.domain.errors import Refusal, RefusalCode
from bot.domain.scenario import Scenario, ScenarioError, load_scenario


class ScenarioLibrary:
    """Scenarios by id, from a rules folder, with their prompt files."""

    def __init__(self, rules_dir: Path | None = None, prompts_dir: Path | None = None) -> None:
        self.rules_dir = rules_dir or paths.rules_dir()
        self.prompts_dir = prompts_dir or paths.prompts_dir()
        self._scenarios: dict[str, Scenario] = {}
        self.errors: list[ScenarioError] = []
        for path in sorted(self.rules_dir.glob("*.toml")):
            try:
                scenario = load_scenario(path, self.prompts_dir)
            except ScenarioError as exc:
                self.errors.append(exc)
                continue
            self._scenarios[scenario.id] = scenario

    def ids(self) -> list[str]:
        """Ids of the scenarios that loaded."""
        return sorted(self._scenarios)

    def all(self) -> list[Scenario]:
        """The scenarios that loaded, by id."""
        return [self._scenarios[i] for i in self.ids()]

    def get(self, scenario_id: str) -> Scenario:
        """A scenario by id, or a ``bad_argument`` refusal naming the ones there are."""
        found = self._scenarios.get(scenario_id)
        if found is None:
            known = ", ".join(self.ids()) or "none (check rules/ with `parley check`)"
            raise Refusal(
                RefusalCode.BAD_ARGUMENT,
                f"There is no scenario {scenario_id!r}. Scenarios: {known}.",
            )
        return found

    def prompt(self, name: str) -> str:
        """The text of a prompt file (relative to the prompts folder)."""
        return (self.prompts_dir / name).read_text(encoding="utf-8")
