"""Parley installed as users install it: a wheel (not editable) that carries the shipped
scenarios and prompts, run from another folder, finds them without the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What a wheel is built from (a copy, so the build leaves nothing in the checkout).
SOURCES = ("pyproject.toml", "README.md", "bot", "rules", "prompts")

#: Run inside the installed package: where everything was found, one per line.
PROBE = """\
import bot
from bot import paths
from bot.scenarios import ScenarioLibrary

library = ScenarioLibrary()
scenario = library.get("hanoi-2019")
print(bot.__file__)
print(library.rules_dir)
print(library.prompts_dir)
print(",".join(library.ids()))
print(len(library.errors))
print(len(library.prompt(scenario.prompts.demo).splitlines()))
print((paths.prompts_dir() / "parley" / "announcements.toml").is_file())
"""


def _pip(*args: str) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel` builds from a copy of the checkout (offline, no isolation)."""
    where = tmp_path_factory.mktemp("wheel")
    source = where / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(ROOT / name, source / name)
    _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(where / "dist"), str(source))
    [built] = (where / "dist").glob("parley-*.whl")
    return built


@pytest.fixture(scope="module")
def site(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel installed with `pip install --target`, as a folder for PYTHONPATH."""
    target = tmp_path_factory.mktemp("site")
    _pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel))
    return target


def run_installed(
    site: Path, cwd: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`python ARGS` from ``cwd`` with the installed copy first on the path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PARLEY_"))}
    return subprocess.run(
        [sys.executable, *args],
        env={**clean, "PYTHONPATH": str(site)},
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_wheel_carries_every_package_scenario_and_prompt(wheel: Path) -> None:
    """Every bot/ package, rules/*.toml and prompts/** file is in the wheel under bot/."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    packages = {p.relative_to(ROOT).as_posix() for p in (ROOT / "bot").rglob("__init__.py")}
    assert packages - names == set(), "add the missing package to pyproject.toml's packages"
    for folder in ("rules", "prompts"):
        shipped = {
            f"bot/_shipped/{p.relative_to(ROOT).as_posix()}"
            for p in (ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert shipped and shipped - names == set(), folder
    assert "bot/review/templates/report.css" in names


def test_the_installed_copy_finds_the_shipped_scenario_and_prompts(
    site: Path, tmp_path: Path
) -> None:
    """Imported from the install (not the checkout), the library loads hanoi-2019 and its
    prompts from inside the package."""
    run = run_installed(site, tmp_path, "-c", PROBE)
    assert run.returncode == 0, run.stderr
    module, rules, prompts, ids, errors, demo_lines, announcements = run.stdout.splitlines()
    package = site / "bot"
    assert Path(module) == package / "__init__.py"
    assert Path(rules) == package / "_shipped" / "rules"
    assert Path(prompts) == package / "_shipped" / "prompts"
    assert "hanoi-2019" in ids.split(",") and errors == "0"
    assert int(demo_lines) > 10 and announcements == "True"


def test_the_installed_demo_plays_from_another_folder(site: Path, tmp_path: Path) -> None:
    """`python -m bot.cli demo` from a temporary folder plays through and writes the report,
    debrief questions (from the packaged prompts) included."""
    run = run_installed(site, tmp_path, "-m", "bot.cli", "demo", "--db", "demo.db")
    assert run.returncode == 0, run.stderr
    assert "## Joint statement" in run.stdout
    [report] = tmp_path.glob("demo-table-*.html")
    assert "did your table go small, go big, or go home?" in report.read_text(encoding="utf-8")
