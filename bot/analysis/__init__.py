"""Negotiation analytics (ANALYTICS.md): outcome spaces, the Pareto frontier, the Nash and
Kalai-Smorodinsky points, value left on the table, and the negotiation dance. Pure."""

from bot.analysis.moves import Move, move_class
from bot.analysis.space import Measures, Point, Space, analyze, pareto, utilities

__all__ = ["Measures", "Move", "Point", "Space", "analyze", "move_class", "pareto", "utilities"]
