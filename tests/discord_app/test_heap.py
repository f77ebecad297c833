"""The garbage collector of a bot started by `parley run`: its startup heap frozen, its
young generation collected less often."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.discord_app.app import YOUNG_OBJECTS
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
def collector_as_found() -> Iterator[tuple[int, int, int]]:
    """Nothing frozen before the test; nothing frozen and the thresholds as they were after
    it. Gives the thresholds found."""
    gc.unfreeze()
    found = gc.get_threshold()
    yield found
    gc.unfreeze()
    gc.set_threshold(*found)


class _Cycle:
    """An object that refers to itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


async def test_a_bot_told_to_tune_the_collector_freezes_its_heap_and_still_plays(
    fake: FakeDiscord, tmp_path: Path, collector_as_found: tuple[int, int, int]
) -> None:
    """With tune_gc its set-up objects leave the collections and the young generation takes
    more objects; tables play, and cyclic garbage made afterwards is still collected."""
    settings = settings_for(fake, tmp_path / "parley.db")
    bot, task = await start_bot(settings, fake, tune_gc=True)
    try:
        assert gc.get_freeze_count() > 10_000  # the modules, classes, commands and scenarios
        assert gc.get_threshold() == (YOUNG_OBJECTS, *collector_as_found[1:])
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


async def test_a_bot_leaves_the_collector_alone_unless_asked(
    fake: FakeDiscord, tmp_path: Path, collector_as_found: tuple[int, int, int]
) -> None:
    """Tests start many bots in one process: a bot tunes the collector only when asked."""
    bot, task = await start_bot(settings_for(fake, tmp_path / "parley.db"), fake)
    try:
        assert gc.get_freeze_count() == 0
        assert gc.get_threshold() == collector_as_found
    finally:
        await stop_bot(bot, task)
