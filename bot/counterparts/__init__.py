"""Scripted counterparts: strategies from the automated-negotiation literature that play a
delegation through the same rules as a person (pure: no discord, no aiosqlite)."""

from bot.counterparts.counterpart import Counterpart
from bot.counterparts.tactics import Tactic
from bot.domain.commands import STRATEGIES

__all__ = ["STRATEGIES", "Counterpart", "Tactic"]
