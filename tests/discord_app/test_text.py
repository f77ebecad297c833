"""Text for Discord, without a client: splitting, mentions, the score message."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import paths
from bot.discord_app.present import score_text
from bot.discord_app.text import clip, defang, split_message
from bot.domain import commands as c
from bot.domain import engine
from bot.domain.events import Event
from bot.domain.scenario import load_scenario
from bot.domain.state import Replay

WORDS = st.text(alphabet=st.sampled_from("ab c\n`*@é"), min_size=0, max_size=6000)


@settings(max_examples=200, deadline=None)
@given(WORDS, st.integers(min_value=20, max_value=2000))
def test_split_message_keeps_every_character_within_the_limit(text: str, limit: int) -> None:
    """Every chunk fits; joined back (ignoring the breaks split on) nothing is lost."""
    chunks = split_message(text, limit)
    assert all(len(chunk) <= limit for chunk in chunks)
    squash = "".join(text.split())
    rebuilt = "".join("".join(chunks).split())
    assert rebuilt.replace("```", "") == squash.replace("```", "")


def test_mass_mentions_are_defanged_and_clip_marks_the_cut() -> None:
    """@everyone and @here cannot ping; a clipped text ends with an ellipsis."""
    assert "@everyone" not in defang("hi @everyone and @here")
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"


def test_the_score_message_with_and_without_an_agreement() -> None:
    """With nothing agreed a side is told it keeps its BATNA; otherwise score against it."""
    scenario = load_scenario(paths.RULES_DIR / "hanoi-2019.toml")
    now = datetime(2026, 1, 1, tzinfo=UTC)
    prof = c.Who(user_id="p", name="prof", facilitator=True)
    replay = Replay(scenario, [Event.stamp(engine.open_table(scenario, prof, None, "t"), 1, now)])
    assert "fall back on your best alternative, a BATNA of **8**" in score_text(replay.state, "us")
    alice, carol = c.Who(user_id="a", name="alice"), c.Who(user_id="b", name="carol")
    for command in (
        c.Assign(who=prof, member=alice, delegation="us", role="head"),
        c.Assign(who=prof, member=carol, delegation="dprk", role="head"),
        c.Start(who=prof),
        c.Offer(who=alice, give=("us-liaison-office",), ask=("dprk-liaison-access",)),
        c.Accept(who=carol),
    ):
        for new in engine.decide(replay.state, command, now):
            replay.apply(Event.stamp(new, replay.state.last_seq + 1, now))
    score = replay.state.score("us")
    assert f"your score is **{score}** against a BATNA of **8**" in score_text(replay.state, "us")
