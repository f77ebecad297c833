"""How much a counterpart still asks for at a moment of the table: its tactic.

Time-dependent tactics (ANALYTICS.md): at normalised time ``t`` in [0, 1] (the
delegation's turns used over the turns it has), the target utility is

    u(t) = u_max - (u_max - u_min) * t ** (1 / e)

**Convention**: ``e`` is the *concession* exponent, as in Faratin, Sierra and Jennings
(1998) and NegMAS's ``TimeBasedConcedingNegotiator``: ``e < 1`` holds out and concedes late
(**Boulware**), ``e = 1`` concedes evenly (**linear**), ``e > 1`` concedes early
(**Conceder**). ``u_min`` is the delegation's BATNA: a counterpart never aims below it.

**Tit-for-tat** (relative tit-for-tat in utility units): it opens a tenth of the way down
from ``u_max`` and afterwards concedes exactly what the other side's offers conceded, in
its own utility, since that side's previous offer; a hardening is mirrored too (the target
rises again, never above ``u_max``). On its last turn it falls to its BATNA, as every
counterpart's target does at the deadline.

Pure: no I/O; the random draws come from the seeded generator passed in.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

#: Each time-dependent tactic's range of the concession exponent ``e`` (one value is
#: drawn per seat, so runs of a simulation differ as real opponents of a type do).
EXPONENTS: dict[str, tuple[float, float]] = {
    "boulware": (0.1, 0.3),
    "linear": (1.0, 1.0),
    "conceder": (2.0, 5.0),
}
#: How far down from its best tit-for-tat opens, as a share of its range.
TFT_OPENING = 0.1


@dataclass(frozen=True)
class Tactic:
    """A strategy's concession curve between ``u_max`` and ``u_min`` (the BATNA)."""

    name: str
    u_max: int
    u_min: int
    #: The concession exponent (time-dependent tactics); None for tit-for-tat.
    e: float | None

    @classmethod
    def draw(cls, name: str, u_max: int, u_min: int, rng: random.Random) -> Tactic:
        """The tactic ``name`` with its exponent drawn from the tactic's range."""
        if name == "tit-for-tat":
            return cls(name, u_max, u_min, None)
        low, high = EXPONENTS[name]
        return cls(name, u_max, u_min, rng.uniform(low, high))

    @cached_property
    def span(self) -> int:
        """How far the tactic may concede in all (worked out once: asked on every move)."""
        return max(0, self.u_max - self.u_min)

    @cached_property
    def _power(self) -> float:
        """The power of ``t`` in the curve, ``1 / e`` (a time-dependent tactic's)."""
        assert self.e is not None
        return 1 / self.e

    def target(self, t: float, their_concessions: Sequence[int] = ()) -> float:
        """The utility aimed at at time ``t``; tit-for-tat also reads the other side's
        concessions (each the change, in this delegation's utility, from one of their
        offers to their next)."""
        t = min(1.0, max(0.0, t))
        if self.e is None:
            if t >= 1.0:
                return float(self.u_min)
            aim = self.u_max - TFT_OPENING * self.span - sum(their_concessions)
            return float(min(self.u_max, max(self.u_min, aim)))
        return float(self.u_max - self.span * t**self._power)
