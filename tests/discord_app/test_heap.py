"""The heap a started bot holds: frozen out of garbage collections by `parley run`."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discord_app.conftest import (
    answer,
    make_seminar,
    settings_for,
    start_bot,
    start_with_two_heads,
    stop_bot,
)
from tests.fakediscord import FakeDiscord


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """No frozen objects before the test, and none left after it."""
    gc.unfreeze()
    yield
    gc.unfreeze()


class _Cycle:
    """An object that refers to itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


async def test_a_bot_started_to_freeze_its_heap_freezes_it_and_still_plays(
    fake: FakeDiscord, tmp_path: Path, unfrozen: None
) -> None:
    """With freeze_heap its set-up objects leave the collections; tables play, and cyclic
    garbage made afterwards is still collected."""
    bot, task = await start_bot(settings_for(fake, tmp_path / "parley.db"), fake, freeze_heap=True)
    try:
        assert gc.get_freeze_count() > 10_000  # the modules, classes, commands and scenarios
        s = make_seminar(fake)
        await start_with_two_heads(s)
        offered = await s.slash(
            s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"}
        )
        assert "is on the table" in answer(fake, offered)
        garbage = _Cycle()
        gone = weakref.ref(garbage)
        del garbage
        gc.collect()
        assert gone() is None
    finally:
        await stop_bot(bot, task)


async def test_a_bot_freezes_nothing_unless_asked(
    fake: FakeDiscord, tmp_path: Path, unfrozen: None
) -> None:
    """Tests start many bots in one process: a bot freezes its heap only when asked."""
    bot, task = await start_bot(settings_for(fake, tmp_path / "parley.db"), fake)
    try:
        assert gc.get_freeze_count() == 0
    finally:
        await stop_bot(bot, task)
