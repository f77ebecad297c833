"""Settings from the environment, `parley run` without a token, and the invite link."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import ValidationError

from bot import paths
from bot.discord_app.invite import application_id, permissions
from bot.scenarios import ScenarioLibrary
from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def run_parley(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PARLEY_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_settings_read_the_documented_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every setting is read under its documented name; server ids may be a comma list."""
    for name, value in {
        "DISCORD_TOKEN": "abc",
        "PARLEY_DB": "/tmp/x.db",
        "PARLEY_GUILD_IDS": "1, 2 3",
        "PARLEY_FACILITATOR_ROLE": "TA",
        "DISCORD_API_BASE": "http://127.0.0.1:1/api/v10",
        "DISCORD_GATEWAY_URL": "ws://127.0.0.1:1/gateway",
        "PARLEY_LOG_LEVEL": "debug",
    }.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.discord_token is not None
    assert settings.discord_token.get_secret_value() == "abc"
    assert (settings.db, settings.guild_ids, settings.facilitator_role) == (
        "/tmp/x.db",
        [1, 2, 3],
        "TA",
    )
    assert settings.api_base.endswith("/api/v10") and settings.gateway_url.endswith("/gateway")
    assert settings.log_level == "DEBUG"
    assert "abc" not in repr(settings)  # the token never shows in logs


def test_unset_settings_take_the_documented_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """With nothing set, the log is ./parley.db and Discord is Discord's own API and gateway."""
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "PARLEY_")):
            monkeypatch.delenv(name)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.db == "./parley.db"
    assert settings.discord_token is None and settings.guild_ids == []
    assert settings.api_base == "https://discord.com/api/v10"
    assert settings.gateway_url.startswith("wss://gateway.discord.gg")
    assert (settings.facilitator_role, settings.log_level) == (None, "INFO")


def test_a_bad_log_level_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """PARLEY_LOG_LEVEL=loud is refused, naming the levels there are."""
    monkeypatch.setenv("PARLEY_LOG_LEVEL", "loud")
    with pytest.raises(ValidationError, match="DEBUG, INFO"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_run_without_a_token_says_so_and_exits_2(tmp_path: Path) -> None:
    """`parley run` with no DISCORD_TOKEN explains where to get one and exits 2."""
    run = run_parley("run", env={}, cwd=tmp_path)
    assert run.returncode == 2
    assert "DISCORD_TOKEN is not set" in run.stderr and "Traceback" not in run.stderr


def test_invite_url_carries_the_scopes_and_permissions(tmp_path: Path) -> None:
    """The invite link names the application (from the token) with both scopes."""
    app_id = "123456789012345678"
    token = base64.b64encode(app_id.encode()).decode().rstrip("=") + ".x.y"
    assert application_id(token) == int(app_id)
    run = run_parley("invite-url", env={"DISCORD_TOKEN": token}, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    query = parse_qs(urlparse(run.stdout.strip()).query)
    assert query["client_id"] == [app_id]
    assert set(query["scope"][0].split()) == {"bot", "applications.commands"}
    assert int(query["permissions"][0]) == permissions().value
    assert permissions().manage_channels and permissions().manage_roles
    bare = run_parley("invite-url", env={}, cwd=tmp_path)
    assert bare.returncode == 2 and "--client-id" in bare.stderr


def test_rules_and_prompts_folders_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """PARLEY_RULES_DIR and PARLEY_PROMPTS_DIR are settings; unset or blank, the shipped ones."""
    monkeypatch.chdir(ROOT)  # no .env is read from elsewhere
    monkeypatch.setenv("PARLEY_RULES_DIR", "/srv/rules")
    monkeypatch.setenv("PARLEY_PROMPTS_DIR", "")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.rules_dir, settings.prompts_dir) == (Path("/srv/rules"), None)
    assert paths.rules_dir() == paths.RULES_DIR == Path("/srv/rules")
    assert paths.prompts_dir() == paths.PROMPTS_DIR == ROOT / "prompts"
    monkeypatch.delenv("PARLEY_RULES_DIR")
    assert paths.rules_dir() == ROOT / "rules"  # a checkout reads its top-level folders


def test_a_dotenv_in_the_working_folder_sets_the_rules_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A .env beside the user naming PARLEY_RULES_DIR is honoured; the environment wins."""
    mine = tmp_path / "mine"
    mine.mkdir()
    text = (ROOT / "rules" / "hanoi-2019.toml").read_text(encoding="utf-8")
    title = tomllib.loads(text)["title"]
    (mine / "hanoi-2019.toml").write_text(text.replace(title, "Hanoi, our way", 1))
    (tmp_path / ".env").write_text("PARLEY_RULES_DIR=mine\n", encoding="utf-8")
    for name in ("PARLEY_RULES_DIR", "PARLEY_PROMPTS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert paths.rules_dir() == paths.RULES_DIR == Path("mine")
    assert ScenarioLibrary().get("hanoi-2019").title == "Hanoi, our way"
    monkeypatch.setenv("PARLEY_RULES_DIR", str(ROOT / "rules"))
    assert ScenarioLibrary().get("hanoi-2019").title == title
    # and the command line reads it too: a .env pointing at an empty folder stops the demo
    (tmp_path / "empty").mkdir()
    (tmp_path / ".env").write_text("PARLEY_RULES_DIR=empty\n", encoding="utf-8")
    run = run_parley("demo", "--db", "demo.db", env={}, cwd=tmp_path)
    assert run.returncode == 1 and "no hanoi-2019 scenario in empty" in run.stderr


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 45),
        ({"PARLEY_REQUESTS_PER_SECOND": "20"}, 20),
        ({"PARLEY_REQUESTS_PER_SECOND": " "}, 45),
        ({"PARLEY_SHARD_COUNT": "4", "PARLEY_SHARD_IDS": "0-1"}, 22),
        ({"PARLEY_SHARD_COUNT": "4"}, 45),
        ({"PARLEY_SHARD_COUNT": "64", "PARLEY_SHARD_IDS": "3"}, 1),
        (
            {
                "PARLEY_SHARD_COUNT": "4",
                "PARLEY_SHARD_IDS": "0",
                "PARLEY_REQUESTS_PER_SECOND": "30",
            },
            30,
        ),
    ],
)
def test_a_process_paces_its_requests_at_its_share_of_discords_limit(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: int
) -> None:
    """Requests a second: PARLEY_REQUESTS_PER_SECOND, else 45 shared by shard processes in
    proportion to their shards (at least one)."""
    for name in list(os.environ):
        if name.startswith(("DISCORD_", "PARLEY_")):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings(_env_file=None).requests_a_second() == expected  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["0", "fast", "2.5", "-3"])
def test_a_bad_request_pace_is_refused_in_words(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    """PARLEY_REQUESTS_PER_SECOND must be a whole number, 1 or more; the refusal says so."""
    monkeypatch.setenv("PARLEY_REQUESTS_PER_SECOND", value)
    with pytest.raises(ValidationError, match="use a whole number, 1 or more"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_a_pace_of_no_requests_is_refused_when_given_in_code_too() -> None:
    """Settings built in code (as tests and benches do) refuse 0 requests a second too."""
    with pytest.raises(ValidationError, match="would send nothing; use a whole number, 1 or more"):
        Settings(_env_file=None, requests_per_second=0)  # type: ignore[call-arg]
