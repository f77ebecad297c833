"""Replay with checkpoints gives exactly the state a full fold gives, undo after undo."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot import paths
from bot.domain import commands as c
from bot.domain import engine
from bot.domain import state as state_module
from bot.domain.errors import Refusal
from bot.domain.events import Event, EventKind, NewEvent
from bot.domain.scenario import load_scenario
from bot.domain.state import Replay

HANOI = load_scenario(paths.RULES_DIR / "hanoi-2019.toml")
FACILITATOR = c.Who(user_id="f", name="prof", facilitator=True)
PLAYERS = {"us": c.Who(user_id="u", name="alice"), "dprk": c.Who(user_id="d", name="carol")}


def long_table(seed: int, steps: int = 400) -> list[Event]:
    """A table of random turn actions with frequent undos, as the service would log it."""
    rng = random.Random(seed)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    events: list[Event] = []
    replay = Replay(HANOI)

    def log(new: list[NewEvent]) -> None:
        for item in new:
            event = Event.stamp(item, len(events) + 1, now)
            events.append(event)
            replay.apply(event)

    log([engine.open_table(HANOI, FACILITATOR, None, "long")])
    for delegation in ("us", "dprk"):
        log(
            engine.decide(
                replay.state,
                c.Assign(
                    who=FACILITATOR, member=PLAYERS[delegation], delegation=delegation, role="head"
                ),
                now,
            )
        )
    log(engine.decide(replay.state, c.Start(who=FACILITATOR), now))
    for _ in range(steps):
        now += timedelta(seconds=30)
        state = replay.state
        if state.turn is None:
            break
        me = PLAYERS[state.turn]
        mine = [i.id for i in state.open_items(state.turn)]
        theirs = [i.id for i in state.open_items() if i.giver != state.turn]
        options: list[c.Command] = [
            c.Pass(who=me),
            c.Accept(who=me),
            c.Reject(who=me),
            c.Say(who=me, text="hm"),
            c.Undo(who=FACILITATOR),
            c.Undo(who=FACILITATOR),
        ]
        if mine and theirs:
            options.append(c.Offer(who=me, give=(rng.choice(mine),), ask=(rng.choice(theirs),)))
        try:
            log(engine.decide(state, rng.choice(options), now))
        except Refusal:
            continue
    return events


@pytest.mark.parametrize("seed", range(6))
def test_checkpoints_do_not_change_the_state(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a checkpoint every 2 events or none at all, every prefix replays the same."""
    events = long_table(seed)
    undos = sum(e.kind is EventKind.ACTION_REVERTED for e in events)
    assert undos >= 8  # enough undos to cross checkpoints many times
    monkeypatch.setattr(state_module, "CHECKPOINT_EVERY", 10**9)
    plain = Replay(HANOI)
    monkeypatch.setattr(state_module, "CHECKPOINT_EVERY", 2)
    checked = Replay(HANOI)
    for event in events:
        monkeypatch.setattr(state_module, "CHECKPOINT_EVERY", 10**9)
        plain.apply(event)
        monkeypatch.setattr(state_module, "CHECKPOINT_EVERY", 2)
        checked.apply(event)
        assert checked.state == plain.state, event.seq


def test_an_undo_logs_the_round_it_returns_to() -> None:
    """Undoing the action that ended a round records the round the table goes back to."""
    events = long_table(1, steps=0)
    replay = Replay(HANOI, events)
    now = datetime(2026, 1, 1, 1, tzinfo=UTC)
    for who in (PLAYERS["us"], PLAYERS["dprk"]):
        for new in engine.decide(replay.state, c.Pass(who=who), now):
            replay.apply(Event.stamp(new, replay.state.last_seq + 1, now))
    assert replay.state.round == 2
    (undo,) = engine.decide(replay.state, c.Undo(who=FACILITATOR), now)
    assert undo.data.round == 1


@pytest.mark.parametrize("seed", range(4))
def test_a_small_window_gives_the_same_states_and_holds_few_events(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replay that lets go of old events folds every prefix as a full fold does, and
    holds about its window (plus up to two checkpoints' worth)."""
    events = long_table(seed, steps=600)
    monkeypatch.setattr(state_module, "CHECKPOINT_EVERY", 2)
    full = Replay(HANOI, window=None)
    windowed = Replay(HANOI, window=6)
    for event in events:
        full.apply(event)
        try:
            windowed.apply(event)
        except state_module.HistoryNeeded as needed:
            assert needed.seq <= windowed.base.last_seq
            windowed = Replay(HANOI, [e for e in events if e.seq <= event.seq], window=6)
            windowed.keep_from = None
        assert windowed.state == full.state, event.seq
        assert windowed.held <= 6 + 2 * 2, (event.seq, windowed.held)
    assert Replay(HANOI, events, window=6).state == full.state


def test_an_undo_past_the_window_asks_for_history_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Undo after undo reaches the window's base: the replay asks for the log, unchanged."""
    monkeypatch.setattr(state_module, "CHECKPOINT_EVERY", 2)
    events = long_table(3, steps=0)
    now = datetime(2026, 1, 1, 1, tzinfo=UTC)
    replay = Replay(HANOI, events, window=2)
    for n in range(12):
        who = PLAYERS[replay.state.turn or "us"]
        for new in engine.decide(
            replay.state, c.Say(who=who, text="x") if n % 3 else c.Pass(who=who), now
        ):
            replay.apply(Event.stamp(new, replay.state.last_seq + 1, now))
    for _ in range(12):
        (undo,) = engine.decide(replay.state, c.Undo(who=FACILITATOR), now)
        before = replay.state.snapshot()
        try:
            replay.apply(Event.stamp(undo, replay.state.last_seq + 1, now))
        except state_module.HistoryNeeded as needed:
            assert needed.seq == min(undo.data.reverts) <= replay.base.last_seq
            assert replay.state == before
            return
    raise AssertionError("twelve undos stayed inside a window of two events")


def test_resume_from_a_base_carries_on_like_the_full_replay() -> None:
    """A replay resumed from another's base, fed the events after it, ends the same."""
    events = long_table(5, steps=800)
    full = Replay(HANOI, events, window=None)
    small = Replay(HANOI, events, window=64)
    base = small.base
    resumed = Replay.resume(HANOI, base.snapshot())
    for event in events:
        if event.seq > base.last_seq:
            resumed.apply(event)
    assert resumed.state == full.state
