"""Settings from the environment, `parley run` without a token, and the invite link."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from pydantic import ValidationError

from bot.discord_app.invite import application_id, permissions
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
