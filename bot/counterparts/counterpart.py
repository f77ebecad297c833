"""A scripted counterpart: what a delegation played by the bot does on its turn.

The counterpart knows what a person in its seat knows: its own private values and BATNA,
the public weights, and the table (what is agreed, what stands, who offered what). It
reads the public weights as the other side's values (with a per-seat error, so it guesses
as people do).

On each turn it works out a **plan**: the final outcome it aims for now. It starts from
every item worth something to it and then makes concessions, best first (the most value
for the other side per point it costs itself: adding an item it gives, or dropping one it
asks), as long as the plan stays at or above its tactic's target. Then:

1. a standing offer of another delegation is **accepted** if its plan still reaches the
   target with the offer agreed, and the offer is worth at least the step it would offer
   itself now (the "AC-next" condition); under the package, where the first agreement
   is the last, the deal itself must reach the target;
2. otherwise it **offers** the next step of its plan: the plan's items the rules let it
   name now (open baskets, the item limit, reciprocity, the balance policy, the package's
   coverage), as it reads the rules; the engine judges the move like a person's;
3. otherwise it **rejects** an offer it cannot take, or **passes**.

It takes only moves its seat (the delegation's head) may take under the scenario's roles;
a head that may not pass cannot be seated (see ``engine.check_counterpart_seat``).

It never walks away: none of its tactics has a reason to (the deadline ends a table).
Everything is computed from the table's state and the seat's seed, so a counterpart
picks up where it was after a restart. Pure: no I/O.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from bot.counterparts.tactics import Tactic
from bot.domain import commands as c
from bot.domain.scenario import Action, Balance, Scenario, Sequencing
from bot.domain.state import Seat, TableState

#: How far the counterpart's reading of a public weight may be off (a share of it).
MODEL_ERROR = 0.25

#: An offer it could make: the items it gives and the items it asks for.
Step = tuple[tuple[str, ...], tuple[str, ...]]


class Concession(NamedTuple):
    """One step down from the counterpart's best outcome: add an item it gives, or drop
    one it asks for (a named tuple: every counterpart makes one per item as it sits down,
    and a tuple is built in half the time of a frozen dataclass)."""

    item: str
    add: bool
    cost: int  # in the counterpart's own utility (>= 0)
    gain: float  # for the other side, as the counterpart reads the weights (> 0)


@dataclass(frozen=True)
class Settled:
    """What a counterpart makes of the agreements so far (the same until one is added)."""

    #: The table's ``agreed`` mapping this was worked out from (kept to compare with).
    agreed: dict[str, int]
    #: Its utility of the agreed items.
    utility: int
    #: The items worth something to it not agreed yet, and their utility to it.
    worth: frozenset[str]
    worth_utility: int
    #: Gated baskets with nothing agreed yet (a plan keeps an item of each), with how many
    #: of ``worth`` each holds (where every plan starts counting).
    needs: dict[str, int]
    #: Its concessions of items not agreed yet, best first.
    concessions: tuple[Concession, ...]


@dataclass(frozen=True)
class _Side:
    """What a seat reads from its scenario and variant before its seed draws anything:
    the same for every counterpart in that seat, so worked out once per seat (a
    simulation seats thousands of counterparts) and shared; nothing may change it."""

    #: Every item id, in the scenario's order.
    ids: tuple[str, ...]
    #: Its own value of each item, and the public weight of each, signed: + where it gives
    #: the item, - where it receives it (the other side's values, before its misreading).
    value: dict[str, int]
    signed_weights: tuple[tuple[str, int], ...]
    #: Every item worth something to it, and their utility to it (its best outcome).
    worth: frozenset[str]
    best: int
    batna: int
    weight: dict[str, int]
    basket: dict[str, str]
    #: Each item's title as said in a sentence.
    titles: dict[str, str]
    #: The items it gives.
    mine: frozenset[str]
    #: Each item's place in a step before the seed's tie-break: its basket's order, then
    #: what it matters to the seat, most first.
    rank: dict[str, tuple[int, int]]
    gated: frozenset[str]
    #: The rules it reads on every step: offers must give and ask, the package, an
    #: enforced balance.
    reciprocal: bool
    package: bool
    enforced: bool
    #: What its seat (the delegation's head) may do: it picks no move the rules would
    #: refuse its role.
    actions: frozenset[Action]

    @classmethod
    def of(cls, scenario: Scenario, variant: str, me: str) -> _Side:
        """The seat's reading, worked out on its first use and kept with its scenario."""
        key = (id(scenario), variant, me)
        kept = _SIDES.get(key)
        if kept is not None and kept[0] is scenario:
            return kept[1]
        if len(_SIDES) >= _MAX_SIDES:
            _SIDES.clear()
        side = cls.read(scenario, variant, me)
        _SIDES[key] = (scenario, side)
        return side

    @classmethod
    def read(cls, scenario: Scenario, variant: str, me: str) -> _Side:
        """The seat's reading, worked out from the scenario."""
        rules = scenario.rules_for(variant)
        delegation = scenario.delegation(me)
        assert delegation is not None
        items = scenario.items
        value = {item.id: item.values.get(me, 0) for item in items}
        worth = frozenset(i for i, v in value.items() if v > 0)
        order = {b.id: b.order for b in scenario.baskets}
        return cls(
            ids=tuple(item.id for item in items),
            value=value,
            signed_weights=tuple(
                (item.id, (1 if item.giver == me else -1) * item.weight) for item in items
            ),
            worth=worth,
            best=sum(value[i] for i in worth),
            batna=delegation.batna,
            weight={item.id: item.weight for item in items},
            basket={item.id: item.basket for item in items},
            titles={item.id: item.title[:1].lower() + item.title[1:] for item in items},
            mine=frozenset(item.id for item in items if item.giver == me),
            rank={item.id: (order[item.basket], -abs(value[item.id])) for item in items},
            gated=frozenset(b.id for b in scenario.baskets if b.gated),
            reciprocal=rules.reciprocity or rules.sequencing is Sequencing.PARALLEL,
            package=rules.sequencing is Sequencing.PACKAGE,
            enforced=rules.balance is Balance.ENFORCE,
            actions=frozenset(delegation.roles.get("head", ())),
        )


#: Each seat's reading, by the id of its scenario, the variant and the delegation, kept
#: with the scenario itself: a scenario is frozen but holds lists, so it cannot be a key
#: itself; while its entry holds it, no other object can take its id.
_SIDES: dict[tuple[int, str, str], tuple[Scenario, _Side]] = {}
#: Past this many seats read, the readings start again (a process plays a few scenarios).
_MAX_SIDES = 256


class Counterpart:
    """One delegation played by the bot with one strategy and one seed."""

    def __init__(self, scenario: Scenario, variant: str, seat: Seat) -> None:
        self.scenario = scenario
        self.rules = scenario.rules_for(variant)
        self.seat = seat
        self.me = seat.delegation
        side = _Side.of(scenario, variant, self.me)
        # What every counterpart in this seat reads alike (shared: never change them).
        self.value = side.value
        #: Every item worth something to it: where each plan starts.
        self._worth = side.worth
        self._weight = side.weight
        self._basket = side.basket
        self._titles = side.titles
        self._mine = side.mine
        self._gated = side.gated
        self._reciprocal = side.reciprocal
        self._package = side.package
        self._enforced = side.enforced
        self._actions = side.actions
        # What its seed draws, in the order it always drew them.
        rng = random.Random(f"{seat.seed}:{seat.delegation}:{seat.strategy}")
        self.tactic = Tactic.draw(seat.strategy, side.best, side.batna, rng)
        # the other side's values as this seat reads them: the public weights, give or take
        self.their = {
            i: weight * rng.uniform(1 - MODEL_ERROR, 1 + MODEL_ERROR)
            for i, weight in side.signed_weights
        }
        self._order = {i: rng.random() for i in side.ids}  # tie-breaks
        rank = {i: (*r, self._order[i]) for i, r in side.rank.items()}
        #: Every item in the order it fills a step in: the earliest basket first, then what
        #: matters most (sorted once: each step takes the ones it wants in this order).
        self._ranked = sorted(rank, key=rank.__getitem__)
        self._concessions_seen: tuple[int, list[int]] = (-1, [])
        self._settled: Settled | None = None
        #: What it says of each step it has offered (the same words every time).
        self._offer_words: dict[Step, str] = {}
        #: Each offer it has made, by its step and how its words began: a counterpart
        #: often makes the same offer again (commands are frozen, so one is shared).
        self._offers: dict[tuple[Step, str], c.Offer] = {}
        #: The last step worked out, with the plan and the open items it was worked out from.
        self._last_fit: tuple[tuple[frozenset[str], tuple[str, ...]] | None, Step | None] = (
            None,
            None,
        )
        #: Open items in the order steps take them, with the open items they were read from.
        self._ranked_open: tuple[tuple[str, ...], list[str]] = ((), [])

    @cached_property
    def who(self) -> c.Who:
        """The counterpart as the rules see a person (the same on every move)."""
        return c.Who(user_id=self.seat.user_id, name=f"{self.me} counterpart")

    # -- what it wants ------------------------------------------------------------------

    @cached_property
    def concessions(self) -> list[Concession]:
        """Every concession it could make, best first (most for them per point to it)."""
        value, order = self.value, self._order
        found = []
        for i, o in self.their.items():  # in the scenario's order
            v = value[i]
            if v <= 0 and o > 0:
                found.append(Concession(i, True, -v, o))
            elif v > 0 and o < 0:
                found.append(Concession(i, False, v, -o))
        found.sort(key=lambda x: (-(x.gain / x.cost) if x.cost else -1e9, order[x.item]))
        return found

    def plan(self, state: TableState, target: float) -> set[str]:
        """The items still to agree that the counterpart aims for at ``target``."""
        settled = self.settled(state)
        basket_of = self._basket
        plan = set(settled.worth)
        utility = settled.utility + settled.worth_utility
        # a plan keeps an item of every gated basket that still needs one
        needed = dict(settled.needs)
        for item, add, cost, _ in settled.concessions:
            if utility - cost < target:
                continue
            if needed:
                basket = basket_of[item]
                if add:
                    if basket in needed:
                        needed[basket] += 1
                elif basket in needed:
                    if needed[basket] == 1:
                        continue  # the last planned item of a basket that must be settled
                    needed[basket] -= 1
            if add:
                plan.add(item)
            else:
                plan.discard(item)
            utility -= cost
        return plan

    def settled(self, state: TableState) -> Settled:
        """What it makes of the table's agreements, worked out again only when the table's
        ``agreed`` mapping is another one (the table makes a new one for every agreement
        and never changes one it gave out)."""
        agreed = state.agreed
        if self._settled is None or self._settled.agreed is not agreed:
            worth = frozenset(self._worth - agreed.keys())
            needs = dict.fromkeys(self._gated_needs(state), 0)
            for i in worth:
                if self._basket[i] in needs:
                    needs[self._basket[i]] += 1
            self._settled = Settled(
                agreed=agreed,
                utility=self.utility(agreed),
                worth=worth,
                worth_utility=self.utility(worth),
                needs=needs,
                concessions=tuple(x for x in self.concessions if x.item not in agreed),
            )
        return self._settled

    def target(self, state: TableState) -> float:
        """The utility the tactic aims for now."""
        return self._target_at(state, self.time(state))

    def _target_at(self, state: TableState, t: float) -> float:
        """``target`` at ``t``, the ``time`` of ``state`` (which a move reads twice)."""
        mirrored = self._their_concessions(state) if self.tactic.e is None else ()
        return self.tactic.target(t, mirrored)

    def time(self, state: TableState) -> float:
        """The share of its turns used: 0 on its first turn, 1 on its last."""
        turns = self.rules.max_rounds
        if turns <= 1 or self.me not in state.order:
            return 1.0
        return min(1.0, (max(state.round, 1) - 1) / (turns - 1))

    def utility(self, items: Iterable[str]) -> int:
        """Its own utility of a set of items."""
        return sum(map(self.value.__getitem__, items))

    # -- what it does -------------------------------------------------------------------

    def decide(self, state: TableState) -> c.Command:
        """Its move now (it must be on move): accept, offer, reject or pass."""
        t = self.time(state)
        target = self._target_at(state, t)
        plan = self.plan(state, target)
        step = self._next_step(state, plan, t) if Action.OFFER in self._actions else None
        standing = state.standing
        if standing is None:
            return step if step is not None else c.Pass(who=self.who)
        if standing.by == self.me:
            # its own offer stands: revise it, unless it would make the same offer again
            if step is not None and not _same(standing.give, standing.ask, step):
                return step
            return c.Pass(who=self.who)
        if (
            Action.ACCEPT in self._actions
            and self.me not in standing.accepted_by
            and self.acceptable(state, standing.items, plan, target, step)
        ):
            return c.Accept(who=self.who, offer=standing.seq)
        if step is not None:
            return step
        if Action.REJECT in self._actions and self.me not in standing.accepted_by:
            return c.Reject(who=self.who, offer=standing.seq, reason=self._reason_to_reject(state))
        return c.Pass(who=self.who)

    def acceptable(
        self,
        state: TableState,
        items: Sequence[str],
        plan: set[str],
        target: float,
        step: c.Offer | None,
    ) -> bool:
        """Whether to accept an offer of ``items``.

        Under the package (the first agreement is the last), the deal itself must reach
        the target. Step by step, the offer must be worth at least the step it would
        offer itself now (the "AC-next" condition of the literature), and its plan must
        still reach the target with the offer agreed.
        """
        agreed = self.settled(state).utility
        worth = self.utility(items)
        if self._package:
            return agreed + worth >= target
        rest = plan.difference(items)
        if agreed + worth + self.utility(rest) < target:
            return False
        own = self.utility((*step.give, *step.ask)) if step is not None else 0
        return worth >= own

    def _next_step(self, state: TableState, plan: set[str], t: float) -> c.Offer | None:
        """The offer that moves its plan on now (at ``t``, the ``time`` of ``state``), if
        the rules allow one."""
        found = self._first_fit(plan, state.open_ids())
        if found is None:
            return None
        lead = self._lead(state, t)
        offer = self._offers.get((found, lead))
        if offer is None:
            give, ask = found
            note = f"{lead}: {self._words(found)}"
            offer = self._offers[found, lead] = c.Offer(who=self.who, give=give, ask=ask, note=note)
        return offer

    def _first_fit(self, plan: set[str], open_ids: tuple[str, ...]) -> Step | None:
        """The first of its steps the rules take, as (give, ask).

        It depends on nothing but the plan and the open items, which often stay the same
        from one turn to the next (a plan holds while the target has not fallen far enough
        for the next concession), so the last answer is kept with what it was worked out
        from.
        """
        key = (frozenset(plan), open_ids)
        if self._last_fit[0] != key:
            found = None
            for give, ask in self._steps(plan, open_ids):
                if self._fits(give, ask):
                    found = (give, ask)
                    break
            self._last_fit = (key, found)
        return self._last_fit[1]

    def _fits(self, give: Sequence[str], ask: Sequence[str]) -> bool:
        """Whether the rules take an offer of open, unagreed items (which every candidate
        is made of): the item limit, reciprocity, an enforced balance, the package's
        coverage. The engine has the last word; a counterpart that misjudged would be
        refused and logged like a person."""
        rules = self.rules
        if not (give or ask) or len(give) + len(ask) > rules.max_items_per_offer:
            return False
        if self._reciprocal and not (give and ask):
            return False
        if self._enforced:
            weight = self._weight
            gap = sum(weight[i] for i in give) - sum(weight[i] for i in ask)
            if abs(gap) > rules.balance_tolerance:
                return False
        if self._package:
            covered = {self._basket[i] for i in (*give, *ask)}
            if not self._gated <= covered:
                return False
        return True

    def _steps(self, plan: set[str], open_ids: tuple[str, ...]) -> Iterable[Step]:
        """Offers of open items that move the plan on, most of the plan first; each
        (give, ask)."""
        wanted = [i for i in self._ranked_among(open_ids) if i in plan]
        if not wanted:
            return
        limit = self.rules.max_items_per_offer
        if self._package:
            wanted = self._covering(wanted, open_ids)
            trim = self._trimmer(wanted)
            for size in range(min(limit, len(wanted)), 0, -1):
                yield from self._fitted(trim(size), open_ids)
            return
        for size in range(min(limit, len(wanted)), 0, -1):
            yield from self._fitted(wanted[:size], open_ids)

    def _ranked_among(self, open_ids: tuple[str, ...]) -> list[str]:
        """The open items in the order steps take them (see ``_ranked``), kept with the
        open items they were read from: those change only with an agreement."""
        if self._ranked_open[0] != open_ids:
            open_now = set(open_ids)
            self._ranked_open = (open_ids, [i for i in self._ranked if i in open_now])
        return self._ranked_open[1]

    def _fitted(self, chosen: list[str], open_ids: Sequence[str]) -> list[Step]:
        """``chosen`` as an offer, made reciprocal where the rules ask. Step by step it
        keeps its offers balanced in public weight even where the rules only advise it
        (small, balanced steps are its manner); a lopsided offer comes last, only where
        the rules allow it, and never under the package (one deal, no balance asked)."""
        mine = self._mine
        give = [i for i in chosen if i in mine]
        ask = [i for i in chosen if i not in mine]
        if self._reciprocal and not (give and ask):
            spare = _spare(chosen, open_ids)
            if not give:
                give += self._cheapest(spare, mine=True)
            if not ask:
                ask += self._cheapest(spare, mine=False)
        if self._package:
            return [(tuple(give), tuple(ask))]
        balanced = self._balanced(give, ask, chosen, open_ids)
        found = [balanced] if balanced is not None else []
        if not self._enforced:
            found.append((tuple(give), tuple(ask)))
        return found

    def _balanced(
        self, give: list[str], ask: list[str], chosen: list[str], open_ids: Sequence[str]
    ) -> Step | None:
        """The offer (of at least one item, ``chosen`` among the open ones, with what
        reciprocity added) with the public weights brought within the tolerance, if it
        can be: one change at a time (drop an item from the heavier side, or add one of
        the open items not ``chosen`` to the lighter), the one that closes the gap most
        and costs this side least."""
        tolerance, weight, value, mine = (
            self.rules.balance_tolerance,
            self._weight,
            self.value,
            self._mine,
        )
        gap = sum(map(weight.__getitem__, give)) - sum(map(weight.__getitem__, ask))
        if abs(gap) <= tolerance:  # most offers: balanced as they are
            return tuple(give), tuple(ask)
        give, ask = list(give), list(ask)
        spare = _spare(chosen, open_ids)
        # each change may add a spare item of one side: each side's, in order, once asked
        spare_of: dict[bool, list[str]] = {}
        named = set(give) | set(ask)
        for _ in range(len(spare) + len(give) + len(ask)):
            size = abs(gap)
            if size <= tolerance:
                return tuple(give), tuple(ask)
            heavy, light = (give, ask) if gap > 0 else (ask, give)
            best: tuple[int, int] | None = None
            change: tuple[list[str], str, bool] | None = None
            if len(heavy) > 1:
                for i in heavy:
                    key = (abs(size - weight[i]), value[i])
                    if best is None or key < best:
                        best, change = key, (heavy, i, False)
            ours = gap < 0  # asking too much: add one of ours to give
            if ours not in spare_of:
                spare_of[ours] = [i for i in spare if (i in mine) == ours]
            for i in spare_of[ours]:
                if i not in named:
                    key = (abs(size - weight[i]), -value[i])
                    if best is None or key < best:
                        best, change = key, (light, i, True)
            if change is None:
                return None
            where, item, add = change
            if add:
                where.append(item)
                named.add(item)
            else:
                where.remove(item)
                named.discard(item)
            moved = weight[item] if add == (where is give) else -weight[item]
            gap += moved
        return None

    def _covering(self, wanted: list[str], open_ids: Sequence[str]) -> list[str]:
        """``wanted`` with an item of every gated basket it misses (the package's rule)."""
        basket_of = self._basket
        covered = {basket_of[i] for i in wanted}
        extra = []
        for basket in self.scenario.baskets_in_order():
            if basket.gated and basket.id not in covered:
                choices = [i for i in open_ids if basket_of[i] == basket.id]
                if choices:
                    extra.append(max(choices, key=lambda i: (self.value[i], -self._order[i])))
        return extra + wanted

    def _trimmer(self, wanted: list[str]) -> Callable[[int], list[str]]:
        """``size`` items of ``wanted`` that still cover every gated basket, for any size:
        one per basket first, then the most valuable to this side."""
        first: dict[str, str] = {}
        for i in wanted:
            if self._basket[i] in self._gated:
                first.setdefault(self._basket[i], i)
        firsts = list(first.values())
        taken = set(firsts)
        rest = [i for i in wanted if i not in taken]

        def trim(size: int) -> list[str]:
            if size <= len(firsts):
                return firsts[:size]
            return firsts + rest[: size - len(firsts)]

        return trim

    def _cheapest(self, ids: Sequence[str], mine: bool) -> list[str]:
        """The item of one side least costly (or most valuable) to this side, as a list of
        one (empty if that side has none here)."""
        side = [i for i in ids if (i in self._mine) == mine]
        if not side:
            return []
        return [min(side, key=lambda i: (-self.value[i], self._order[i]))]

    # -- reading the table ----------------------------------------------------------------

    def _their_concessions(self, state: TableState) -> list[int]:
        """Each change, in this side's utility, from one of the others' offers to the
        next (tit-for-tat mirrors them)."""
        count, found = self._concessions_seen
        if count != len(state.offers):  # offers are only ever added
            values = [
                self.utility(offer.items)
                for _, offer in sorted(state.offers.items())
                if offer.by != self.me
            ]
            found = [after - before for before, after in itertools.pairwise(values)]
            self._concessions_seen = (len(state.offers), found)
        return found

    def _open(self, state: TableState) -> set[str]:
        return {i.id for i in state.open_items()}

    def _gated_needs(self, state: TableState) -> set[str]:
        """Gated baskets with nothing agreed yet (a plan keeps an item of each)."""
        if self.rules.sequencing is Sequencing.PARALLEL:
            return set()
        agreed_baskets = state.agreed_baskets
        return {b for b in self._gated if b not in agreed_baskets}

    # -- its words ------------------------------------------------------------------------

    def _note(
        self, state: TableState, t: float, give: tuple[str, ...], ask: tuple[str, ...]
    ) -> str:
        """Its words with an offer at ``t``, the ``time`` of ``state``."""
        return f"{self._lead(state, t)}: {self._words((give, ask))}"

    def _lead(self, state: TableState, t: float) -> str:
        """How its words with an offer begin at ``t``, the ``time`` of ``state``."""
        match self.tactic.name:
            case "boulware":
                lead = "Our position is firm" if t < 0.8 else "Time is short, so we move"
            case "conceder":
                lead = "In the interest of progress" if t < 0.5 else "We have come a long way"
            case "tit-for-tat":
                moved = self._their_concessions(state)
                lead = "You moved, so we move" if moved and moved[-1] > 0 else "We match you"
            case _:
                lead = "A steady step"
        return lead

    def _words(self, step: Step) -> str:
        """What it offers in ``step``, in words (worked out once per step: a counterpart
        often offers the same step again)."""
        words = self._offer_words.get(step)
        if words is None:
            give, ask = step
            gives = _listed([self._titles[i] for i in give]) or "nothing for now"
            asks = _listed([self._titles[i] for i in ask]) or "nothing in return yet"
            words = self._offer_words[step] = f"we offer {gives} for {asks}."
        return words

    def _reason_to_reject(self, state: TableState) -> str:
        if self.tactic.name == "boulware":
            return "This is far from what we can accept."
        return "This asks more of us than it gives; we need a better balance."


def _spare(chosen: list[str], open_ids: Sequence[str]) -> list[str]:
    """The open items not ``chosen``, in order."""
    named = set(chosen)
    return [i for i in open_ids if i not in named]


def _same(give: Sequence[str], ask: Sequence[str], offer: c.Offer) -> bool:
    return (set(give), set(ask)) == (set(offer.give), set(offer.ask))


def _listed(titles: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(titles) > 1:
        return ", ".join(titles[:-1]) + " and " + titles[-1]
    return "".join(titles)
