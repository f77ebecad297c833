"""The announcements file: every entry there, only known names, clear errors otherwise."""

from __future__ import annotations

import tomllib

import pytest

from bot import paths
from bot.discord_app.announcements import FIELDS, AnnouncementsError, check, templates


def test_the_shipped_file_has_every_announcement_and_each_formats() -> None:
    """Every announcement is in prompts/parley/announcements.toml and fills in cleanly."""
    loaded = templates()
    assert set(loaded) == set(FIELDS)
    for key, names in FIELDS.items():
        text = loaded[key].format(**{name: f"<{name}>" for name in names})
        assert text.strip(), key
        for name in names:
            assert f"<{name}>" in text, (key, name)


def test_a_broken_file_names_each_problem() -> None:
    """A missing entry, an unknown name, a stray entry and a lone brace are each reported."""
    data = tomllib.loads((paths.PROMPTS_DIR / "parley" / "announcements.toml").read_text())
    del data["paused"]
    data["turn"] = "{mentions} it is {whose} turn"
    data["extended"] = "{minutes minutes"
    data["farewell"] = "bye"
    with pytest.raises(AnnouncementsError) as caught:
        check(data, "announcements.toml")
    message = str(caught.value)
    assert "announcements.toml: paused: missing" in message
    assert "turn: unknown whose" in message
    assert "extended:" in message and "literal braces" in message
    assert "farewell: not an announcement Parley makes" in message
