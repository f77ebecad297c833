"""The export's `analysis`: the rule mode's space, the negotiation dance of the offers
that stand (undone ones left out), and the measures of the outcome, on played tables."""

from __future__ import annotations

import asyncio
import copy
import io
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.analysis import Move, analyze, move_class, utilities
from bot.cli import play_lines
from bot.domain.scenario import Scenario
from bot.domain.state import Replay
from bot.review.export import build_export, to_csv, to_markdown
from bot.review.schema import ParleyLog, export_schema, parse_events
from bot.store import Store
from tests.review.conftest import Played

ANALYSIS_KEYS = {
    "sequencing",
    "variant",
    "upper_bound",
    "outcomes",
    "zopa",
    "max_joint_gain",
    "nash",
    "kalai",
    "frontier",
    "offers",
    "outcome",
}
OUTCOME_KEYS = {
    "scores",
    "gains",
    "joint_gain",
    "left_on_table",
    "pareto_optimal",
    "distance_to_frontier",
    "distance_to_nash",
}

#: An offer undone (seq 7), an agreement undone (seqs 13-14) with later offers tabled
#: while it stood and after it was gone, then a deal.
UNDO_SCRIPT = """\
instructor: session open scenario=hanoi-2019 sequencing=singapore title="Undo"
alice: join
carol: join
instructor: session assign member=alice delegation=us role=head
instructor: session assign member=carol delegation=dprk role=head
instructor: session start
alice: offer give=us-liaison-office ask=dprk-liaison-access
instructor: session undo
alice: offer give=us-liaison-office,us-humanitarian ask=dprk-liaison-access,dprk-family-reunions
carol: accept
alice: offer give=us-security-assurance ask=dprk-dmz-pullback
carol: accept
instructor: session undo
carol: offer give=dprk-dmz-pullback ask=us-security-assurance,us-exercises
alice: offer give=us-security-assurance ask=dprk-dmz-pullback,dprk-remains
carol: offer give=dprk-dmz-pullback,dprk-remains ask=us-security-assurance,us-exercises
alice: accept
instructor: session end
"""


async def _play(script: str, db: Path) -> dict[str, Any]:
    out = io.StringIO()
    code, table_id = await play_lines(script.splitlines(), str(db), ["instructor"], out)
    assert code == 0 and table_id is not None, out.getvalue()
    async with await Store.open(str(db)) as store:
        return await build_export(store, table_id)


@pytest.fixture(scope="module")
def undone(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The export of :data:`UNDO_SCRIPT` played into a fresh log."""
    return asyncio.run(_play(UNDO_SCRIPT, tmp_path_factory.mktemp("undo") / "log.db"))


@pytest.fixture(scope="module")
def exports(tables: dict[str, Played], undone: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every played table's export by name: demo, package, hostile, open, undone."""
    return {**{name: p.export for name, p in tables.items()}, "undone": undone}


def _standing_offers(export: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in export["events"] if e["kind"] == "offer_tabled" and not e["reverted_by"]]


def _agreed_before_each_offer(export: dict[str, Any]) -> dict[int, list[str]]:
    """What the engine's replay holds as agreed just before each tabled offer."""
    scenario = Scenario.model_validate(export["scenario"])
    replay = Replay(scenario)
    agreed: dict[int, list[str]] = {}
    for event in parse_events(export["events"]):
        if event.kind == "offer_tabled":
            agreed[event.seq] = list(replay.state.agreed)
        replay.apply(event)
    return agreed


def test_analysis_describes_the_tables_rule_mode(exports: dict[str, dict[str, Any]]) -> None:
    """Every export has `analysis` with the space of its own variant, as `analyze()` gives."""
    for name, export in exports.items():
        analysis = export["analysis"]
        assert set(analysis) == ANALYSIS_KEYS, name
        assert analysis["sequencing"] == export["table"]["sequencing"]
        assert analysis["variant"] == export["table"]["variant"]
        space = analyze(Scenario.model_validate(export["scenario"]), analysis["variant"])
        assert analysis["max_joint_gain"] == space.max_joint_gain
        assert (analysis["outcomes"], analysis["zopa"]) == (space.outcomes, space.zopa)
        assert space.nash is not None and space.kalai is not None
        assert analysis["nash"] == space.nash.to_json()
        assert analysis["kalai"] == space.kalai.to_json()
        assert analysis["frontier"] == [p.to_json() for p in space.frontier]
        assert analysis["upper_bound"] is (analysis["sequencing"] == "parallel")
        assert set(analysis["outcome"]) == OUTCOME_KEYS


def test_offers_are_the_standing_ones_in_seq_order(exports: dict[str, dict[str, Any]]) -> None:
    """One entry per tabled offer not undone, in seq order, naming its delegation."""
    for name, export in exports.items():
        offers = export["analysis"]["offers"]
        standing = _standing_offers(export)
        assert [o["seq"] for o in offers] == [e["seq"] for e in standing], name
        assert [o["delegation"] for o in offers] == [e["data"]["delegation"] for e in standing]
        assert [o["seq"] for o in offers] == sorted(o["seq"] for o in offers)
    assert len(exports["demo"]["analysis"]["offers"]) == 7


def test_undone_offers_are_left_out(undone: dict[str, Any]) -> None:
    """The undone first offer (seq 7) is not in the dance; the one after it is."""
    tabled = [e["seq"] for e in undone["events"] if e["kind"] == "offer_tabled"]
    undone_seqs = [e["seq"] for e in undone["events"] if e["reverted_by"]]
    assert tabled[0] == 7 and 7 in undone_seqs
    seqs = [o["seq"] for o in undone["analysis"]["offers"]]
    assert 7 not in seqs and seqs == tabled[1:]


def test_offer_scores_are_what_was_agreed_then_plus_the_offer(
    exports: dict[str, dict[str, Any]],
) -> None:
    """Each offer's scores: the items the replay had agreed when it was tabled, plus its own."""
    for name, export in exports.items():
        scenario = Scenario.model_validate(export["scenario"])
        agreed = _agreed_before_each_offer(export)
        for offer, event in zip(
            export["analysis"]["offers"], _standing_offers(export), strict=True
        ):
            data = event["data"]
            items = [*agreed[offer["seq"]], *data["give"], *data["ask"]]
            assert offer["scores"] == utilities(scenario, items), (name, offer["seq"])
    # in the undo table, the agreement reached at seq 14 and undone at 15 never counts
    by_seq = {o["seq"]: o["scores"] for o in exports["undone"]["analysis"]["offers"]}
    assert by_seq[9] == {"us": 3, "dprk": 4}  # the offer alone: nothing agreed yet
    assert by_seq[12] == {"us": 6, "dprk": 6}  # the first agreement plus this offer
    assert by_seq[16] == {"us": 4, "dprk": 10}  # the second agreement was undone


def test_moves_are_null_first_then_classed(exports: dict[str, dict[str, Any]]) -> None:
    """A delegation's first offer has move null, each later one its class since the last."""
    classes = {m.value for m in Move}
    seen: set[str] = set()
    for name, export in exports.items():
        previous: dict[str, dict[str, int]] = {}
        for offer in export["analysis"]["offers"]:
            delegation = offer["delegation"]
            if delegation not in previous:
                assert offer["move"] is None, (name, offer)
            else:
                assert offer["move"] in classes
                want = move_class(delegation, previous[delegation], offer["scores"])
                assert offer["move"] == want.value, (name, offer)
                seen.add(offer["move"])
            previous[delegation] = offer["scores"]
    assert len(seen) >= 3  # the played tables show several kinds of move


def test_a_deal_measures_the_exports_joint_gain(exports: dict[str, dict[str, Any]]) -> None:
    """A deal: the export's joint gain, and left on the table = maximum joint gain - it."""
    for name in ("demo", "package", "undone"):
        export = exports[name]
        assert export["outcome"]["agreements"], name
        analysis = export["analysis"]
        measured = analysis["outcome"]
        assert measured["joint_gain"] == export["outcome"]["joint_gain"]
        assert measured["left_on_table"] == analysis["max_joint_gain"] - measured["joint_gain"]
        assert {d: s["score"] for d, s in export["outcome"]["scores"].items()} == (
            measured["scores"]
        )
    demo = exports["demo"]["analysis"]["outcome"]
    assert (demo["joint_gain"], demo["left_on_table"], demo["pareto_optimal"]) == (12, 6, False)


def test_no_deal_leaves_the_whole_maximum(exports: dict[str, dict[str, Any]]) -> None:
    """No deal (walked out, or still open) with a ZOPA: the whole maximum is left, BATNAs kept."""
    for name in ("hostile", "open"):
        export = exports[name]
        assert not export["outcome"]["agreements"], name
        analysis = export["analysis"]
        assert analysis["zopa"] > 0
        measured = analysis["outcome"]
        assert measured["joint_gain"] == 0 and not measured["pareto_optimal"]
        assert measured["left_on_table"] == analysis["max_joint_gain"] > 0
        batnas = {d: s["batna"] for d, s in export["outcome"]["scores"].items()}
        assert measured["scores"] == batnas


def test_exports_with_analysis_validate_and_read_typed(
    exports: dict[str, dict[str, Any]],
) -> None:
    """Exports with `analysis` validate and read typed; a bad move is refused; none is fine."""
    validator = Draft202012Validator(export_schema())
    for name, export in exports.items():
        assert list(validator.iter_errors(export)) == [], name
        log = ParleyLog.model_validate(export)
        assert log.analysis is not None
        moves = [o.move for o in log.analysis.offers if o.move is not None]
        assert all(isinstance(m, Move) for m in moves)
    export = exports["demo"]
    older = {k: v for k, v in export.items() if k != "analysis"}
    assert list(validator.iter_errors(older)) == []
    rude = copy.deepcopy(export)
    rude["analysis"]["offers"][1]["move"] = "rude"
    assert list(validator.iter_errors(rude)) != []
    seqless = copy.deepcopy(export)
    del seqless["analysis"]["offers"][0]["seq"]
    assert list(validator.iter_errors(seqless)) != []


def test_markdown_has_a_value_section_and_csv_does_not_change(
    exports: dict[str, dict[str, Any]],
) -> None:
    """The Markdown gains a Value section with the demo's figures; the CSV does not change."""
    export = exports["demo"]
    md = to_markdown(export)
    value = md[md.index("## Value") :]
    assert "Maximum joint gain under `singapore`: 18" in value
    assert "This table's joint gain: 12" in value
    assert "Left on the table: 6" in value
    assert "Pareto-optimal: no (distance to the frontier: 2.828)" in value
    assert "Distance to the Nash point (United States 14, DPRK 19): 6.0" in value
    assert "Pareto-optimal: no (no deal)" in to_markdown(exports["hostile"])
    assert "upper bound" in to_markdown(exports["hostile"])  # parallel rules
    older = {k: v for k, v in export.items() if k != "analysis"}
    assert "## Value" not in to_markdown(older)
    assert to_csv(older) == to_csv(export)
