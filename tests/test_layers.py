"""The layers stay apart: the rules import neither discord nor aiosqlite, and Discord
reaches the log and the rules only through the service."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent / "bot"


def imported_modules(path: Path, root: Path = BOT) -> set[str]:
    """Every module a file imports (``from x import y`` gives ``x`` and ``x.y``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the file's package
                package = path.relative_to(root.parent).with_suffix("").parts[: -node.level]
                module = ".".join([*package, *([module] if module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def offenders(folder: str, forbidden: tuple[str, ...], root: Path = BOT) -> list[str]:
    """Files under ``bot/folder`` importing any of ``forbidden`` (or a submodule of one)."""
    bad = []
    for path in sorted((root / folder).rglob("*.py")):
        for module in sorted(imported_modules(path, root)):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(root.parent)}: {module}")
    return bad


def test_discord_never_reaches_the_store_or_the_engine() -> None:
    """Nothing under bot/discord_app imports bot.store or the engine: all goes via the service."""
    assert offenders("discord_app", ("bot.store", "bot.domain.engine", "aiosqlite")) == []


def test_the_rules_and_the_analysis_stay_pure() -> None:
    """bot/domain imports neither discord, aiosqlite, the store nor the service."""
    forbidden = ("discord", "aiosqlite", "bot.store", "bot.service", "bot.discord_app")
    assert offenders("domain", forbidden) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The import walk finds plain, from- and relative imports (so the checks above can fail)."""
    assert "bot.discord_app.present" in imported_modules(BOT / "discord_app" / "commands.py")
    root = tmp_path / "bot"
    (root / "discord_app").mkdir(parents=True)
    probe = root / "discord_app" / "probe.py"
    probe.write_text("from .. import store\nimport bot.domain.engine\n", encoding="utf-8")
    assert offenders("discord_app", ("bot.store", "bot.domain.engine"), root) == [
        "bot/discord_app/probe.py: bot.domain.engine",
        "bot/discord_app/probe.py: bot.store",
    ]


def test_the_bot_does_not_load_matplotlib_until_a_report_is_asked_for() -> None:
    """Importing the Discord adapter and its commands leaves matplotlib out: it would add
    a third to the bot's start and to every full garbage collection of its heap."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.discord_app.app, bot.discord_app.commands; "
            "print('matplotlib' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=BOT.parent,
    )
    assert loaded.stdout.strip() == "False"
