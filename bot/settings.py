"""Settings from the environment or a git-ignored ``.env`` (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"


class Folders(BaseSettings):
    """Where scenarios and prompts are read from: ``PARLEY_RULES_DIR``, ``PARLEY_PROMPTS_DIR``.

    Unset (or blank), the shipped ``rules/`` and ``prompts/`` are used (see
    :mod:`bot.paths`). Read on their own by :mod:`bot.paths`, so that a bad value of an
    unrelated setting never stops a scenario from loading; :class:`Settings` has them too.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    rules_dir: Path | None = Field(default=None, validation_alias="PARLEY_RULES_DIR")
    prompts_dir: Path | None = Field(default=None, validation_alias="PARLEY_PROMPTS_DIR")

    @field_validator("rules_dir", "prompts_dir", mode="before")
    @classmethod
    def _blank_folder_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value


class Settings(Folders):
    """Parley's settings. The names are a public contract (see the README)."""

    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")
    db: str = Field(default="./parley.db", validation_alias="PARLEY_DB")
    guild_ids: Annotated[list[int], NoDecode] = Field(
        default_factory=list, validation_alias="PARLEY_GUILD_IDS"
    )
    facilitator_role: str | None = Field(default=None, validation_alias="PARLEY_FACILITATOR_ROLE")
    api_base: str = Field(default=DISCORD_API_BASE, validation_alias="DISCORD_API_BASE")
    gateway_url: str = Field(default=DISCORD_GATEWAY_URL, validation_alias="DISCORD_GATEWAY_URL")
    log_level: str = Field(
        default="INFO", validation_alias=AliasChoices("PARLEY_LOG_LEVEL", "log_level")
    )

    @field_validator("guild_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        """Accept ``PARLEY_GUILD_IDS=1,2`` (commas or spaces) as well as a list."""
        if isinstance(value, str):
            return [part for part in value.replace(",", " ").split() if part]
        return value

    @field_validator("facilitator_role", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return value or None

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level
