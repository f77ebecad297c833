"""Settings from the environment or a git-ignored ``.env`` (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"

SHARD_IDS_EXAMPLE = "e.g. 0-3, 0,2 or 1"
#: REST requests a second the bot allows itself over all its processes: a margin under
#: Discord's global limit of 50 (the two ends do not count seconds from the same instant).
REQUESTS_PER_SECOND = 45


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
    #: How many shards the bot's servers are split into, over all its processes.
    shard_count: int | None = Field(default=None, validation_alias="PARLEY_SHARD_COUNT")
    #: The shards this process runs (every shard if unset); needs ``shard_count``.
    shard_ids: Annotated[list[int] | None, NoDecode] = Field(
        default=None, validation_alias="PARLEY_SHARD_IDS"
    )
    #: REST requests a second this process makes with the bot's token (None: its share of
    #: 45, see :meth:`requests_a_second`).
    requests_per_second: int | None = Field(
        default=None, validation_alias="PARLEY_REQUESTS_PER_SECOND"
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

    @field_validator("shard_count", mode="before")
    @classmethod
    def _whole_shard_count(cls, value: object) -> object:
        return _whole_number(value, "shards")

    @field_validator("shard_count")
    @classmethod
    def _at_least_one_shard(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(f"{value} shards cannot run anything; use a whole number, 1 or more")
        return value

    @field_validator("requests_per_second", mode="before")
    @classmethod
    def _whole_requests(cls, value: object) -> object:
        return _whole_number(value, "requests a second")

    @field_validator("requests_per_second")
    @classmethod
    def _at_least_one_request(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ValueError(
                f"{value} requests a second would send nothing; use a whole number, 1 or more "
                "(Discord allows a bot 50 over all its processes)"
            )
        return value

    def requests_a_second(self) -> int:
        """The requests a second this process allows itself: ``PARLEY_REQUESTS_PER_SECOND``,
        else 45 (under Discord's 50 for the whole bot) shared by the processes of the
        shards, in proportion to the shards this one runs."""
        if self.requests_per_second is not None:
            return self.requests_per_second
        if self.shard_count is None or self.shard_ids is None:
            return REQUESTS_PER_SECOND
        return max(1, REQUESTS_PER_SECOND * len(self.shard_ids) // self.shard_count)

    @field_validator("shard_ids", mode="before")
    @classmethod
    def _parse_shard_ids(cls, value: object) -> object:
        """Accept ``PARLEY_SHARD_IDS=0-3`` (ranges and commas: ``0,2``, ``0-1,4``, ``1``)."""
        if not isinstance(value, str):
            return value
        if not value.strip():
            return None
        return parse_shard_ids(value)

    @field_validator("shard_ids")
    @classmethod
    def _shard_ids_fit_the_count(
        cls, value: list[int] | None, info: ValidationInfo
    ) -> list[int] | None:
        if value is None:
            return None
        if "shard_count" not in info.data:
            return value  # the count itself is wrong; that error says enough
        count = info.data["shard_count"]
        if count is None:
            raise ValueError(
                "set PARLEY_SHARD_COUNT too (the number of shards over all processes, "
                "e.g. PARLEY_SHARD_COUNT=4); shard ids count from 0 up to it"
            )
        if not value:
            raise ValueError(f"name at least one shard, {SHARD_IDS_EXAMPLE}")
        outside = sorted({shard for shard in value if not 0 <= shard < count})
        if outside:
            named = ", ".join(map(str, outside))
            what = f"shard {named} is" if len(outside) == 1 else f"shards {named} are"
            there = "only shard 0" if count == 1 else f"shards 0 to {count - 1}"
            raise ValueError(f"{what} out of range: PARLEY_SHARD_COUNT={count} means {there}")
        return sorted(set(value))


def _whole_number(value: object, what: str) -> object:
    """A setting's text as a whole number (blank: unset); anything else is left to
    pydantic. The number's range is checked afterwards, by each setting."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a number of {what}; use a whole number, 1 or more")
    return int(text)


def parse_shard_ids(text: str) -> list[int]:
    """Shard ids from ``0-3``, ``0,2``, ``1`` or a mix (``0-1, 4``); a ``ValueError`` in
    words if a part is neither a number nor a range ``low-high``."""
    ids: list[int] = []
    for part in (p.strip() for p in text.replace(" ", ",").split(",")):
        if not part:
            continue
        low, dash, high = part.partition("-")
        if not low.strip().isdigit() or (dash and not high.strip().isdigit()):
            raise ValueError(
                f"{part!r} is not a shard id or a range of them; use whole numbers from 0 "
                f"and ranges low-high, {SHARD_IDS_EXAMPLE}"
            )
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"the range {part!r} runs backwards; write it {last}-{first}")
        ids.extend(range(first, last + 1))
    return ids
