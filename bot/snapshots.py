"""Snapshots of a table's state, kept beside the log so a cold replay folds only what
came after them.

A snapshot is a cache, never the record: the log alone says what happened, and a
snapshot that cannot be read (written by a Parley whose state had other fields, or
damaged) is ignored and the log folded instead. It is a pickle of the state without its
scenario (the table's row has that), marked with a fingerprint of the state's classes.
Pickle runs code named in the data, so snapshots are read only from the bot's own
database file, which is trusted as the log is.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import pickle
from typing import Any

from bot.domain import state as st
from bot.domain.scenario import Scenario
from bot.store import Snapshot

#: The classes a pickled state is made of: a change to their fields changes the format.
_CLASSES: tuple[Any, ...] = (
    st.TableState,
    st.Member,
    st.Seat,
    st.StandingOffer,
    st.Agreement,
    st.UndoStep,
)


def _fingerprint() -> str:
    shape = [
        (cls.__qualname__, [(f.name, str(f.type)) for f in dataclasses.fields(cls)])
        for cls in _CLASSES
    ]
    shape.append(("Phase", [(p.name, p.value) for p in st.Phase]))
    return hashlib.sha256(repr(shape).encode()).hexdigest()[:16]


#: The format snapshots are written in (and the only one read).
FORMAT = f"pickle-{pickle.HIGHEST_PROTOCOL}-{_fingerprint()}"


def dump(state: st.TableState) -> Snapshot:
    """A snapshot of ``state`` (its scenario left out)."""
    bare = copy.copy(state)
    bare.scenario = None  # type: ignore[assignment]
    bare.rules = None  # type: ignore[assignment]
    return Snapshot(state.last_seq, FORMAT, pickle.dumps(bare, protocol=pickle.HIGHEST_PROTOCOL))


def load(snapshot: Snapshot, scenario: Scenario) -> st.TableState | None:
    """The state a snapshot holds, given back its scenario; None if it cannot be used."""
    if snapshot.format != FORMAT:
        return None
    try:
        state = pickle.loads(snapshot.state)  # our own database file (see above)
    except Exception:  # a damaged snapshot is only a missed shortcut
        return None
    if not isinstance(state, st.TableState) or state.last_seq != snapshot.seq:
        return None
    state.scenario = scenario
    state.rules = scenario.rules_for(state.variant)
    return state
