"""The buttons under a standing offer: Accept, Reject (with a reason), Pass, Walk away."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import (
    Seminar,
    answer,
    hanoi_library,
    make_seminar,
    message_text,
    settings_for,
    settle,
    start_bot,
    start_with_two_heads,
    stop_bot,
)
from tests.discord_app.test_table_flow import started
from tests.fakediscord import FakeDiscord, FakeMessage

REASON = "Not before sanctions relief."


async def logged(bot: ParleyBot, kind: str) -> list[dict[str, Any]]:
    """The data of table 1's events of one kind, as plain JSON."""
    events = await bot.tables.store.events(1)
    return [e.model_dump(mode="json")["data"] for e in events if e.kind.value == kind]


async def standing_offer(s: Seminar) -> tuple[FakeMessage, int]:
    """A started table where the US has tabled an offer and the DPRK is on move."""
    await started(s)
    await s.slash(s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"})
    message = await s.message_with("Offer #")
    # The turn post follows the offer's message: after it, nothing new is posted.
    await s.message_with("the **DPRK** delegation is on move")
    accept_id = next(
        c["custom_id"]
        for c in message.iter_components()
        if c.get("custom_id", "").startswith("parley:accept:")
    )
    return message, int(accept_id.rsplit(":", 1)[1])


def public_snapshot(s: Seminar) -> list[tuple[int, str, list[str]]]:
    """The public channel as players see it: each message's text and its buttons."""
    return [
        (m.id, m.content or "", [c.get("custom_id", "") for c in m.iter_components()])
        for m in s.public()
    ]


def modal_components(modal: dict[str, Any]) -> list[dict[str, Any]]:
    """A modal's components, flattened (rows and labels opened up)."""
    found: list[dict[str, Any]] = []
    pending = list(modal.get("components", []))
    while pending:
        component = pending.pop(0)
        found.append(component)
        pending += component.get("components", [])
        if isinstance(component.get("component"), dict):
            pending.append(component["component"])
    return found


def answered_once(record: Any) -> bool:
    """The interaction got exactly one callback, and Discord took it."""
    return [status for _, status in record.attempts] == [200]


async def test_the_offer_message_carries_every_turn_action(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """An offer's message has Accept, Reject, Pass and Walk away, in one row, by id."""
    s = seminar
    message, offer = await standing_offer(s)
    assert len(message.components) == 1
    row = message.components[0]["components"]
    assert [b["label"] for b in row] == ["Accept", "Reject", "Pass", "Walk away"]
    assert [b["custom_id"] for b in row] == [
        f"parley:accept:1:{offer}",
        f"parley:reject:1:{offer}",
        f"parley:pass:1:{offer}",
        f"parley:walkaway-ask:1:{offer}",
    ]


async def test_accept_by_the_other_head_agrees_the_offer(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """The DPRK head's Accept agrees the offer; the answer is private, the agreement public."""
    s = seminar
    message, offer = await standing_offer(s)
    record = await s.click(s.carol, message, f"parley:accept:1:{offer}")
    assert record.ephemeral and answered_once(record)
    assert f"Offer #{offer} accepted" in answer(s.fake, record)
    await s.message_with("**Agreement**")
    assert [d["offer"] for d in await logged(parley, "offer_accepted")] == [offer]


async def test_reject_asks_for_a_reason_and_puts_it_on_the_record(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Reject opens a modal; only its submit rejects, and the reason is logged and posted."""
    s = seminar
    message, offer = await standing_offer(s)
    opened = await s.click(s.dave, message, f"parley:reject:1:{offer}")
    modal = opened.modal
    assert modal is not None and answered_once(opened)
    assert modal["custom_id"] == f"parley:reject-reason:1:{offer}"
    field = next(c for c in modal_components(modal) if c.get("type") == 4)
    assert field["custom_id"] == "reason"
    assert field["required"] is False and field["max_length"] == 1000
    assert await logged(parley, "offer_rejected") == []  # opening the modal changes nothing

    submitted = await settle(
        s.fake, await s.fake.submit_modal(s.dave, opened, {"reason": f"  {REASON}  "})
    )
    assert submitted.ephemeral and answered_once(submitted)
    assert f"Offer #{offer} rejected" in answer(s.fake, submitted)
    await s.message_with(f"rejects offer #{offer} — “{REASON}”")
    rejected = await logged(parley, "offer_rejected")
    assert [(d["offer"], d["reason"]) for d in rejected] == [(offer, REASON)]


async def test_a_reason_may_be_left_empty(seminar: Seminar, parley: ParleyBot) -> None:
    """Submitting the modal with no reason rejects the offer all the same."""
    s = seminar
    message, offer = await standing_offer(s)
    opened = await s.click(s.carol, message, f"parley:reject:1:{offer}")
    submitted = await settle(s.fake, await s.fake.submit_modal(s.carol, opened, {}))
    assert f"Offer #{offer} rejected" in answer(s.fake, submitted)
    await s.message_with(f"rejects offer #{offer}.")
    assert [d["reason"] for d in await logged(parley, "offer_rejected")] == [""]


async def test_a_reason_sent_after_the_turn_moved_on_is_refused(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """If the turn passes while the modal is open, its submit is refused privately, logged."""
    s = seminar
    message, offer = await standing_offer(s)
    opened = await s.click(s.carol, message, f"parley:reject:1:{offer}")
    assert opened.modal is not None
    passed = await s.click(s.dave, message, f"parley:pass:1:{offer}")
    assert "Passed" in answer(s.fake, passed)
    await s.message_with("the **United States** delegation is on move", timeout=5)
    refused_before = len(await logged(parley, "action_refused"))

    submitted = await settle(s.fake, await s.fake.submit_modal(s.carol, opened, {"reason": "x"}))
    text = answer(s.fake, submitted)
    assert submitted.ephemeral and answered_once(submitted)
    assert "not_your_turn" in text, text
    assert await logged(parley, "offer_rejected") == []
    refused = await logged(parley, "action_refused")
    assert len(refused) == refused_before + 1
    assert refused[-1]["command"] == "reject" and refused[-1]["code"] == "not_your_turn"


async def test_pass_by_the_delegation_on_move_keeps_the_offer(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Pass hands the turn to the US; the offer stands, its buttons stay."""
    s = seminar
    message, offer = await standing_offer(s)
    record = await s.click(s.carol, message, f"parley:pass:1:{offer}")
    assert record.ephemeral and answered_once(record)
    assert "Passed" in answer(s.fake, record)
    await s.message_with("the **United States** delegation is on move")
    assert len(await logged(parley, "turn_passed")) == 1
    state = await parley.tables.state(1)
    assert state.standing is not None and state.standing.seq == offer
    assert s.fake.message(message.id).find_component(f"parley:accept:1:{offer}") is not None


async def test_walk_away_asks_to_confirm_then_closes_the_table(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Walk away asks privately, as /walkaway does; only the confirmation closes the table."""
    s = seminar
    message, offer = await standing_offer(s)
    asked = await s.click(s.carol, message, f"parley:walkaway-ask:1:{offer}")
    assert asked.ephemeral and answered_once(asked)
    assert "Are you sure?" in answer(s.fake, asked)
    assert await logged(parley, "walked_away") == []
    question = s.fake.message(asked.original_message_id or asked.followups[0].id)
    assert question.ephemeral

    done = await s.click(s.carol, question, "parley:walkaway:1")
    assert "walked away" in answer(s.fake, done)
    await s.message_with("The table is closed")
    assert [d["delegation"] for d in await logged(parley, "walked_away")] == ["dprk"]


@pytest.mark.parametrize(
    ("who", "action", "command", "code"),
    [
        ("alice", "accept", "accept", "not_your_turn"),
        ("alice", "reject", "reject", "not_your_turn"),
        ("alice", "pass", "pass", "not_your_turn"),
        ("alice", "walkaway-ask", "walkaway", "not_your_turn"),
        ("dave", "accept", "accept", "role_not_allowed"),
        ("dave", "walkaway-ask", "walkaway", "role_not_allowed"),
        ("erin", "accept", "accept", "not_a_member"),
        ("erin", "reject", "reject", "not_a_member"),
        ("erin", "pass", "pass", "not_a_member"),
        ("erin", "walkaway-ask", "walkaway", "not_a_member"),
    ],
)
async def test_a_button_pressed_by_someone_not_allowed_is_refused_privately(
    seminar: Seminar, parley: ParleyBot, who: str, action: str, command: str, code: str
) -> None:
    """Out of turn, wrong role or observer: a private refusal, logged; the channel unchanged."""
    s = seminar
    message, offer = await standing_offer(s)
    before = public_snapshot(s)
    refused_before = len(await logged(parley, "action_refused"))

    record = await s.click(getattr(s, who), message, f"parley:{action}:1:{offer}")
    text = answer(s.fake, record)
    assert record.ephemeral and answered_once(record), record.attempts
    assert record.modal is None
    assert code in text and "⛔" in text, text
    refused = await logged(parley, "action_refused")
    assert len(refused) == refused_before + 1
    assert (refused[-1]["command"], refused[-1]["code"]) == (command, code)
    assert public_snapshot(s) == before
    # A barrier instead of a sleep: announcements go out in order, so once this pass is
    # announced, anything the refusal had published would be there too.
    await s.click(s.carol, message, f"parley:pass:1:{offer}")
    await s.message_with("the **United States** delegation is on move")
    after = public_snapshot(s)
    assert after[: len(before)] == before
    assert not [m for m in after[len(before) :] if "⛔" in m[1] or code in m[1]]


async def test_a_reject_modal_opened_before_a_restart_works_after_it(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """The modal is routed by its custom_id: a bot started anew takes its submit."""
    settings = settings_for(fake, tmp_path / "parley.db")
    s = make_seminar(fake)
    first, task = await start_bot(settings, fake)
    try:
        message, offer = await standing_offer(s)
        opened = await s.click(s.carol, message, f"parley:reject:1:{offer}")
        assert opened.modal is not None
    finally:
        await stop_bot(first, task)
    second, task = await start_bot(settings, fake)
    try:
        submitted = await settle(fake, await fake.submit_modal(s.carol, opened, {"reason": REASON}))
        assert f"Offer #{offer} rejected" in answer(fake, submitted)
        await s.message_with(f"rejects offer #{offer} — “{REASON}”")
        assert [d["reason"] for d in await logged(second, "offer_rejected")] == [REASON]
    finally:
        await stop_bot(second, task)


async def test_an_imbalanced_offer_under_advise_is_tabled_with_a_visible_warning(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """Under balance 'advise' an imbalanced offer stands, marked in its message and reply."""
    library = hanoi_library(tmp_path, balance="advise", balance_tolerance=2)
    bot, task = await start_bot(settings_for(fake, tmp_path / "p.db"), fake, library)
    try:
        s = make_seminar(fake)
        await start_with_two_heads(s)
        await s.message_with("the **United States** delegation is on move")
        # gives weight 3 + 2 + 2 = 7, asks 1: a difference of 6, over the tolerance of 2
        offered = await s.slash(
            s.alice,
            "offer",
            {
                "give": "us-liaison-office,us-travel-ban,us-humanitarian",
                "ask": "dprk-family-reunions",
            },
        )
        said = answer(fake, offered)
        standing = (await bot.tables.state(1)).standing
        assert standing is not None and standing.imbalance == 6  # tabled, and it stands
        seq = standing.seq
        marked = f"Offer #{seq} is on the table. It is marked as imbalanced (public weights"
        assert offered.ephemeral and marked in said, said
        posted = await s.message_with(f"Offer #{seq} from United States")
        (embed,) = posted.embeds
        warnings = [f["value"] for f in embed.get("fields", []) if f["name"] == "⚖️ Imbalanced"]
        assert warnings == ["Gives more public weight than it asks (difference 6)."], embed
        # a balanced counter (2 against 3) carries no warning
        await s.message_with("the **DPRK** delegation is on move")
        countered = await s.slash(
            s.carol, "offer", {"give": "dprk-liaison-access", "ask": "us-liaison-office"}
        )
        standing = (await bot.tables.state(1)).standing
        assert standing is not None
        counter = standing.seq
        reply = answer(fake, countered)
        assert f"Offer #{counter} is on the table." in reply and "imbalanced" not in reply
        balanced = await s.message_with(f"Offer #{counter} from DPRK")
        assert "Imbalanced" not in message_text(balanced)
    finally:
        await stop_bot(bot, task)
