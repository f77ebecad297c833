"""Refusals: the one typed error the rules raise, each with a stable code."""

from __future__ import annotations

from enum import StrEnum


class RefusalCode(StrEnum):
    """Stable codes, logged with each refused attempt and used by the debrief."""

    NOT_A_MEMBER = "not_a_member"
    NOT_FACILITATOR = "not_facilitator"
    WRONG_PHASE = "wrong_phase"
    NOT_YOUR_TURN = "not_your_turn"
    ROLE_NOT_ALLOWED = "role_not_allowed"
    UNKNOWN_ITEM = "unknown_item"
    DUPLICATE_ITEM = "duplicate_item"
    ITEM_ALREADY_AGREED = "item_already_agreed"
    WRONG_GIVER = "wrong_giver"
    NOT_RECIPROCAL = "not_reciprocal"
    TOO_MANY_ITEMS = "too_many_items"
    IMBALANCED = "imbalanced"
    BASKET_CLOSED = "basket_closed"
    PACKAGE_INCOMPLETE = "package_incomplete"
    NO_STANDING_OFFER = "no_standing_offer"
    OWN_OFFER = "own_offer"
    NO_HEAD = "no_head"
    TABLE_EXISTS = "table_exists"
    NOTHING_TO_UNDO = "nothing_to_undo"
    UNKNOWN_TABLE = "unknown_table"
    BAD_ARGUMENT = "bad_argument"
    # added after the first release
    ALREADY_ACCEPTED = "already_accepted"
    NOT_CHAIR = "not_chair"


class ParleyError(Exception):
    """Base of every error Parley shows to a person as it is."""


class Refusal(ParleyError):
    """An attempt the rules refuse: nothing changes, the attempt is logged.

    ``message`` says which rule refused it and what would be allowed, in words fit to
    show the player.
    """

    def __init__(self, code: RefusalCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"
