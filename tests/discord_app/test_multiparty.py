"""Tables of many delegations in Discord: the chair's draft, acceptance progress on the
offer's message, in announcements and in the status, and six delegations at one table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.discord_app.app import ParleyBot
from bot.domain.errors import Refusal
from bot.domain.scenario import Scenario
from bot.scenarios import ScenarioLibrary
from tests.discord_app.conftest import (
    CLOCK_START,
    FIXTURES,
    ManualClock,
    Seminar,
    answer,
    make_seminar,
    message_text,
    settings_for,
    start_bot,
    stop_bot,
    until,
)
from tests.fakediscord import FakeDiscord, FakeMessage, FakeUser

VIEW_CHANNEL = 1 << 10


@pytest.fixture
async def bot(fake: FakeDiscord, tmp_path: Path, clock: ManualClock) -> AsyncIterator[ParleyBot]:
    """The bot with the test scenarios (council: four delegations; sextet: six)."""
    library = ScenarioLibrary(FIXTURES / "scenarios", FIXTURES / "prompts")
    started, task = await start_bot(
        settings_for(fake, tmp_path / "parley.db"), fake, library, clock
    )
    yield started
    await stop_bot(started, task)


@dataclass
class Table:
    """A started table of the test scenarios: one head per delegation, some members."""

    s: Seminar
    heads: dict[str, FakeUser]
    members: dict[str, list[FakeUser]] = field(default_factory=dict)

    def people(self, delegation: str) -> list[FakeUser]:
        """The delegation's head and members."""
        return [self.heads[delegation], *self.members.get(delegation, [])]


async def seat(
    fake: FakeDiscord,
    scenario: str,
    delegations: str,
    sequencing: str | None = None,
    with_members: str = "",
) -> Table:
    """Open ``scenario``, give each delegation a head (and a member for ``with_members``),
    start, and wait for the first turn."""
    s = make_seminar(fake)
    opened = {"scenario": scenario, **({"sequencing": sequencing} if sequencing else {})}
    await s.slash(s.prof, "session open", opened)
    table = Table(s, {d: fake.add_player(f"head-{d}") for d in delegations})
    for d in with_members:
        table.members[d] = [fake.add_player(f"member-{d}")]
    for d in delegations:
        for user in table.people(d):
            role = "head" if user is table.heads[d] else "member"
            await s.slash(s.prof, "session assign", {"member": user, "delegation": d, "role": role})
    await s.slash(s.prof, "session start")
    await s.message_with("Round 1: the **Alpha** delegation is on move")
    return table


async def chair_on_move(t: Table) -> None:
    """Alpha, Beta and Gamma pass, so the chair (Delta) is on move."""
    for d, after in (("a", "Beta"), ("b", "Gamma"), ("c", "Delta")):
        await t.s.slash(t.heads[d], "pass")
        await t.s.message_with(f"Round 1: the **{after}** delegation is on move")


async def logged(bot: ParleyBot, kind: str) -> list[dict[str, Any]]:
    """The data of table 1's events of one kind, as plain JSON."""
    events = await bot.tables.store.events(1)
    return [e.model_dump(mode="json")["data"] for e in events if e.kind.value == kind]


def button(message: FakeMessage, prefix: str) -> str:
    """The custom_id of the message's button that starts with ``prefix``."""
    return next(
        c["custom_id"]
        for c in message.iter_components()
        if c.get("custom_id", "").startswith(prefix)
    )


async def status_shows(bot: ParleyBot, fake: FakeDiscord, text: str) -> str:
    """Wait until the pinned status message shows ``text``; its text."""
    places = await bot.tables.places(1)
    message_id = int(places["status"])
    await until(lambda: text in message_text(fake.message(message_id)), f"status: {text}")
    return message_text(fake.message(message_id))


async def shows(fake: FakeDiscord, message: FakeMessage, text: str) -> str:
    """Wait until an (edited) message shows ``text``; its text."""
    await until(lambda: text in message_text(fake.message(message.id)), f"message: {text}")
    return message_text(fake.message(message.id))


# -- the chair's draft (four delegations, Delta the chair) ---------------------------------------


async def test_the_chairs_draft_is_posted_as_a_draft_with_its_progress(
    fake: FakeDiscord, bot: ParleyBot
) -> None:
    """/draft by the chair's head: marked as the chair's draft, what each gives, who must accept."""
    t = await seat(fake, "council", "abcd")
    await chair_on_move(t)
    record = await t.s.slash(t.heads["d"], "draft", {"items": "a-x, b-x", "note": "A start."})
    assert record.ephemeral
    assert "Your chair's draft #" in answer(fake, record), answer(fake, record)

    message = await t.s.message_with("Chair's draft #")
    embed = message.embeds[0]
    assert "chair's draft" in embed["author"]["name"]
    assert "**Alpha gives:** Alpha cuts tariffs" in embed["description"]
    assert "**Beta gives:** Beta cuts tariffs" in embed["description"]
    progress = next(f for f in embed["fields"] if f["name"].startswith("Acceptance"))
    assert progress["value"] == "Accepted by: nobody yet — waiting for: Alpha, Beta, Gamma"
    assert button(message, "parley:accept:1:")

    [tabled] = await logged(bot, "offer_tabled")
    assert tabled["draft"] is True and tabled["delegation"] == "d"
    assert (tabled["give"], tabled["ask"]) == ([], ["a-x", "b-x"])
    status = await status_shows(bot, fake, "Standing chair's draft #")
    assert "waiting for: Alpha, Beta, Gamma" in status
    assert "chair: **Delta**" in status


async def test_a_draft_by_a_delegation_not_the_chair_is_refused_privately(
    fake: FakeDiscord, bot: ParleyBot
) -> None:
    """/draft by another head, with items or for the form: a private not_chair, logged."""
    t = await seat(fake, "council", "abcd")
    with_items = await t.s.slash(t.heads["a"], "draft", {"items": "a-x,b-x"})
    form = await t.s.slash(t.heads["b"], "draft")
    for record in (with_items, form):
        text = answer(fake, record)
        assert record.ephemeral and "⛔" in text and "not_chair" in text, text
    replies = [*form.followups]
    if form.original_message_id is not None:
        replies.append(fake.message(form.original_message_id))
    assert not [c for m in replies for c in m.iter_components()]  # no form was opened
    refused = await logged(bot, "action_refused")
    assert [(r["command"], r["code"]) for r in refused] == [("draft", "not_chair")] * 2
    assert await logged(bot, "offer_tabled") == []
    assert not [m for m in t.s.public() if "Chair's draft" in message_text(m)]


async def test_the_chair_drafts_from_a_form_over_every_delegations_items(
    fake: FakeDiscord, bot: ParleyBot
) -> None:
    """/draft with no items opens menus of anyone's open items; the button tables the pick."""
    t = await seat(fake, "council", "abcd")
    await chair_on_move(t)
    form = await t.s.slash(t.heads["d"], "draft")
    assert form.ephemeral
    message = fake.message(form.original_message_id or form.followups[0].id)
    menu = next(
        c
        for c in message.iter_components()
        if c.get("custom_id", "").startswith("parley:chair-pick:1:")
    )
    offered = {o["value"] for o in menu["options"]}
    assert {"a-x", "b-x", "c-y", "d-y"} <= offered and "c-z" not in offered  # z is closed
    await fake.select(t.heads["d"], message, menu["custom_id"], ["a-x", "d-y"])
    message = fake.message(message.id)
    assert "**Alpha gives:** Alpha cuts tariffs" in message.content
    assert "**Delta gives:** Delta hosts a festival" in message.content

    menu = next(c for c in message.iter_components() if c.get("type") == 3)
    await fake.select(t.heads["d"], message, menu["custom_id"], ["d-y"])  # a-x dropped
    message = fake.message(message.id)
    assert "Alpha cuts tariffs" not in message.content
    menu = next(c for c in message.iter_components() if c.get("type") == 3)
    await fake.select(t.heads["d"], message, menu["custom_id"], ["a-x", "d-y"])
    message = fake.message(message.id)

    tabled = await t.s.click(t.heads["d"], message, button(message, "parley:chair-table:1:"))
    assert "Your chair's draft #" in answer(fake, tabled), answer(fake, tabled)
    posted = await t.s.message_with("Chair's draft #")
    assert "waiting for: Alpha, Beta, Gamma" in message_text(posted)


async def test_under_givers_acceptances_show_and_the_givers_form_the_agreement(
    fake: FakeDiscord, bot: ParleyBot
) -> None:
    """Under ``givers``: each acceptance edits the offer and the status; the last giver agrees."""
    t = await seat(fake, "council", "abcd", sequencing="givers")
    await chair_on_move(t)
    await t.s.slash(t.heads["d"], "draft", {"items": "a-x,b-x"})
    message = await t.s.message_with("Chair's draft #")
    assert "Accepted by: nobody yet — waiting for: Alpha, Beta" in message_text(message)
    offer = int(button(message, "parley:accept:1:").rsplit(":", 1)[1])

    accepted = await t.s.click(t.heads["a"], message, f"parley:accept:1:{offer}")
    assert f"Offer #{offer} accepted" in answer(fake, accepted)
    progress = "Accepted by: Alpha — waiting for: Beta"
    await t.s.message_with(f"✅ Alpha accepts offer #{offer}. {progress}.")
    await shows(fake, message, progress)
    assert fake.message(message.id).find_component(f"parley:accept:1:{offer}") is not None
    # the turn line it was posted with (Alpha on move) is gone: the turn has moved on
    assert "is on move" not in (fake.message(message.id).content or "")
    await status_shows(bot, fake, progress)
    assert await logged(bot, "agreement_reached") == []

    await t.s.message_with("Round 2: the **Beta** delegation is on move")
    await t.s.slash(t.heads["b"], "accept")
    await t.s.message_with(f"**Agreement** on offer #{offer}")
    text = await shows(fake, message, "Agreed by Delta, Alpha, Beta")
    assert "waiting for" not in text
    assert fake.message(message.id).find_component(f"parley:accept:1:{offer}") is None
    assert [(d["accepted"], d["waiting"]) for d in await logged(bot, "offer_accepted")] == [
        (["a"], ["b"]),
        (["a", "b"], []),
    ]
    [agreement] = await logged(bot, "agreement_reached")
    assert agreement["items"] == ["a-x", "b-x"]


async def test_under_a_quorum_the_offer_says_how_many_more_it_needs(
    fake: FakeDiscord, bot: ParleyBot
) -> None:
    """Under a quorum of three, the giver must accept and one more of the others."""
    t = await seat(fake, "council", "abcd", sequencing="quorum")
    await chair_on_move(t)
    await t.s.slash(t.heads["d"], "draft", {"items": "a-x"})
    message = await t.s.message_with("Chair's draft #")
    expected = "Accepted by: nobody yet — waiting for: Alpha, and 1 more of: Beta, Gamma"
    assert expected in message_text(message)
    await status_shows(bot, fake, expected)


# -- six delegations -------------------------------------------------------------------------


def menus(message: FakeMessage) -> dict[str, dict[str, Any]]:
    """A form's select menus by the start of their custom_id (``parley:draft:ask1``...)."""
    return {
        ":".join(c["custom_id"].split(":")[:3]): c
        for c in message.iter_components()
        if c.get("type") == 3
    }


async def test_forms_share_many_items_out_over_several_menus(
    fake: FakeDiscord, bot: ParleyBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More items than a menu holds: the offer's ask menus and the chair's menus split them."""
    monkeypatch.setattr("bot.discord_app.components.SELECT_OPTIONS_LIMIT", 4)
    t = await seat(fake, "sextet", "abcdef")
    form = await t.s.slash(t.heads["a"], "offer")
    message = fake.message(form.original_message_id or form.followups[0].id)
    found = menus(message)
    assert sorted(found) == [
        "parley:draft:ask",
        "parley:draft:ask1",
        "parley:draft:ask2",
        "parley:draft:give",
    ]
    asked = [o["value"] for name in sorted(found)[:3] for o in found[name]["options"]]
    assert sorted(asked) == sorted(f"{d}-{b}" for d in "bcdef" for b in "xy")
    assert found["parley:draft:ask"]["options"][0]["description"].startswith("from Beta")

    first, second = found["parley:draft:ask"], found["parley:draft:ask1"]
    await fake.select(t.heads["a"], message, first["custom_id"], [first["options"][0]["value"]])
    message = fake.message(message.id)
    second = menus(message)["parley:draft:ask1"]
    await fake.select(t.heads["a"], message, second["custom_id"], [second["options"][0]["value"]])
    message = fake.message(message.id)
    picked = [first["options"][0]["label"], second["options"][0]["label"]]
    assert all(label in message.content for label in picked), message.content
    await fake.select(t.heads["a"], message, menus(message)["parley:draft:ask"]["custom_id"], [])
    message = fake.message(message.id)
    assert picked[0] not in message.content and picked[1] in message.content

    await chair_on_move_of_six(t)
    form = await t.s.slash(t.heads["c"], "draft")
    message = fake.message(form.original_message_id or form.followups[0].id)
    chair_menus = [c for c in message.iter_components() if c.get("type") == 3]
    assert len(chair_menus) == 3  # twelve open items, four to a menu
    assert {o["value"] for c in chair_menus for o in c["options"]} == {
        f"{d}-{b}" for d in "abcdef" for b in "xy"
    }


async def chair_on_move_of_six(t: Table) -> None:
    """Alpha and Beta pass, so the chair (Gamma) is on move."""
    for d, after in (("a", "Beta"), ("b", "Gamma")):
        await t.s.slash(t.heads[d], "pass")
        await t.s.message_with(f"Round 1: the **{after}** delegation is on move")


async def test_a_six_delegation_table_plays_through_the_client(
    fake: FakeDiscord, bot: ParleyBot
) -> None:
    """Six private rooms, turns pinging only the delegation on move, a givers' agreement."""
    t = await seat(fake, "sextet", "abcdef", with_members="be")
    s = t.s
    names = dict(zip("abcdef", ("Alpha", "Beta", "Gamma", "Delta", "Epsilon", "Zeta"), strict=True))

    # one private caucus room per delegation, each with its brief
    players = {d: t.people(d) for d in names}
    for d in names:
        room = fake.channel_named(f"general-{d}")
        await s.message_with(f"# Sextet test: brief-{d}", room)
        for other, people in players.items():
            for user in people:
                sees = bool(fake.permissions_for(user, room) & VIEW_CHANNEL)
                assert sees == (other == d), (user.name, room.name)
        assert fake.permissions_for(s.prof, room) & VIEW_CHANNEL
        assert not fake.permissions_for(s.erin, room) & VIEW_CHANNEL

    # Alpha asks of two delegations; under givers only those two must accept
    record = await s.slash(t.heads["a"], "offer", {"give": "a-x", "ask": "b-x,e-x"})
    assert "is on the table" in answer(fake, record), answer(fake, record)
    message = await s.message_with("Offer #")
    text = message_text(message)
    assert "**and asks of Beta:** Beta cuts tariffs" in text
    assert "**and asks of Epsilon:** Epsilon cuts tariffs" in text
    assert "Accepted by: nobody yet — waiting for: Beta, Epsilon" in text
    offer = int(button(message, "parley:accept:1:").rsplit(":", 1)[1])

    await s.message_with("Round 1: the **Beta** delegation is on move")
    await s.click(t.heads["b"], message, f"parley:accept:1:{offer}")
    progress = "Accepted by: Beta — waiting for: Epsilon"
    await s.message_with(f"✅ Beta accepts offer #{offer}. {progress}.")
    await shows(fake, message, progress)
    await status_shows(bot, fake, progress)
    for d in "cd":
        await s.message_with(f"Round 1: the **{names[d]}** delegation is on move")
        await s.slash(t.heads[d], "pass")
    await s.message_with("Round 1: the **Epsilon** delegation is on move")
    await s.slash(t.members["e"][0], "accept")  # a member may not accept...
    await s.slash(t.heads["e"], "accept")  # ...its head may
    await s.message_with(f"**Agreement** on offer #{offer}")
    await shows(fake, message, "Agreed by Alpha, Beta, Epsilon")
    await s.message_with("Round 1: the **Zeta** delegation is on move")

    # every turn announcement pinged exactly the delegation on move, on the scenario's clock
    deadline = f"<t:{int((CLOCK_START + timedelta(minutes=4)).timestamp())}:R>"
    # (each message as it was posted: an offer's message loses its turn line once edited)
    posted = [(m, m.edits[0] if m.edits else m.payload()) for m in s.public()]
    turns = [(m, p) for m, p in posted if "delegation is on move" in (p["content"] or "")]
    # (the last line: the move that handed the turn on is said in the same message)
    on_move = [p["content"].splitlines()[-1].split("**")[1] for _m, p in turns]
    assert on_move == list(names.values())
    for (announcement, as_posted), on in zip(turns, on_move, strict=True):
        d = next(d for d, n in names.items() if n == on)
        if not announcement.edits:
            allowed = (announcement.allowed_mentions or {}).get("users", [])
            assert sorted(map(str, allowed)) == sorted(str(u.id) for u in t.people(d))
        assert sorted(str(m["id"]) for m in as_posted["mentions"]) == sorted(
            str(u.id) for u in t.people(d)
        )
        assert deadline in as_posted["content"]
    assert not [m for m in s.public() if "other side" in message_text(m)]

    # at the close each room hears its own score, and only its own
    await s.slash(s.prof, "session end")
    for d, name in names.items():
        room = fake.channel_named(f"general-{d}")
        score = await s.message_with("your score is", room)
        assert f"**{name}**" in score.content


def six_party() -> Scenario | None:
    """The shipped six-party scenario, if it loads (another part of the work writes it)."""
    try:
        return ScenarioLibrary().get("six-party-2007")
    except Refusal:
        return None


@pytest.mark.skipif(six_party() is None, reason="rules/six-party-2007.toml does not load yet")
async def test_the_shipped_six_party_table_opens_rooms_and_pings_each_delegation(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """The shipped six-party scenario: six rooms, a round of turns pinging each alone, a draft."""
    scenario = six_party()
    assert scenario is not None
    s, fake = seminar, seminar.fake
    delegations = [d for d in scenario.delegations if d.offers]
    heads = {d.id: fake.add_player(f"head-{d.id}") for d in delegations}
    await s.slash(s.prof, "session open", {"scenario": scenario.id})
    for d, head in heads.items():
        await s.slash(s.prof, "session assign", {"member": head, "delegation": d, "role": "head"})
    await s.slash(s.prof, "session start")
    await s.message_with("delegation is on move")  # posted once the rooms are open
    state = await parley.tables.state(1)
    deadline = CLOCK_START + timedelta(minutes=state.rules.turn_minutes)
    for d in scenario.delegations:
        room = fake.channel_named(f"general-{d.id}")
        for other, head in heads.items():
            assert bool(fake.permissions_for(head, room) & VIEW_CHANNEL) == (other == d.id)

    # one round: each delegation on move is pinged alone; the chair tables a draft
    for _ in delegations:
        state = await parley.tables.state(1)
        assert state.turn is not None
        name = next(d.name for d in delegations if d.id == state.turn)
        turn = await s.message_with(f"Round 1: the **{name}** delegation is on move")
        allowed = (turn.allowed_mentions or {}).get("users", [])
        assert list(map(str, allowed)) == [str(heads[state.turn].id)]
        assert f"<t:{int(deadline.timestamp())}:R>" in turn.content
        if state.turn == state.rules.chair:
            others = [i for i in state.open_items() if i.giver != state.turn]
            items = ",".join(i.id for i in others[:2])
            record = await s.slash(heads[state.turn], "draft", {"items": items})
            assert "Your chair's draft #" in answer(fake, record), answer(fake, record)
            draft = await s.message_with("Chair's draft #")
            assert "Accepted by: nobody yet — waiting for:" in message_text(draft)
        else:
            await s.slash(heads[state.turn], "pass")
    await status_shows(parley, fake, "Standing chair's draft #")
