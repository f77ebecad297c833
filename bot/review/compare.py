"""The comparison page: several tables of the same scenario, side by side.

The tables may be sections of one class or the same class under different rules
(``singapore``, ``package``, ``parallel``). The page shows, per table, the outcome, the
rounds used, the agreed items per basket, each delegation's score and the joint gain, what
the table made of the value on offer, and the refused attempts by code, with one chart per
measure; the class on one utility plane; and a summary per rule mode.

Each table's facts are worked out once (:class:`TableFacts`), the page's model
(:class:`Comparison`) is built from them, and ``templates/compare.html`` renders it with
autoescaping: like the report, one self-contained HTML file.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from bot.analysis import pareto
from bot.domain.scenario import STORED, Delegation, Scenario
from bot.review import charts
from bot.review.anonymize import anonymize
from bot.review.export import FORMAT
from bot.review.narrate import contained
from bot.review.pages import (
    PageHeader,
    agreements_count,
    collector_paused,
    outcome_text,
    render_page,
    variant_title,
    when,
)

#: Colours of the rule modes on the class plane (colour-blind safe, in order of first use).
MODE_COLOURS = ("#1b6ca8", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e")


# -- the facts of one table -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TableFacts:
    """What the comparison says of one table, read from its export once."""

    id: int
    #: ``#3 Seminar A``.
    label: str
    variant: str
    opened_at: str | None
    #: How it ended, in words and as a key (the close reason, else the phase).
    outcome: str
    outcome_key: str
    rounds: int
    agreements: int
    #: Whether any agreement stands.
    deal: bool
    #: The titles of the agreed items, per basket id.
    agreed: dict[str, list[str]]
    #: The export's ``outcome.scores`` (score, batna, margin, beats_batna per delegation).
    scores: dict[str, dict[str, Any]]
    joint_gain: int
    #: Whether the export has an ``analysis`` (an older Parley's has none).
    analysed: bool
    #: From the export's ``analysis`` (None without one).
    left_on_table: int | None
    pareto_optimal: bool | None
    frontier: list[dict[str, Any]]
    first_agreement: int | None
    #: Refused attempts per code, and in all.
    refusals: dict[str, int]
    refused: int


def first_agreement_round(export: dict[str, Any]) -> int | None:
    """The round of the table's first agreement (undone ones excepted), if any."""
    agreements = export["outcome"]["agreements"]
    return min((a["round"] for a in agreements), default=None)


def table_facts(export: dict[str, Any], scenario: Scenario) -> TableFacts:
    """One table's facts, from its export."""
    table = export["table"]
    outcome = export["outcome"]
    analysis = export.get("analysis") or {}
    measured = analysis.get("outcome") or {}
    agreed: dict[str, list[str]] = {b.id: [] for b in scenario.baskets_in_order()}
    for item in outcome["agreed"]:
        agreed.setdefault(item["basket"], []).append(item["title"])
    return TableFacts(
        id=table["id"],
        label=f"#{table['id']} {contained(table['title'])}".strip(),
        variant=table["variant"],
        opened_at=table["opened_at"],
        outcome=outcome_text(export),
        outcome_key=outcome["reason"] or outcome["phase"],
        rounds=outcome["rounds"],
        agreements=agreements_count(export),
        deal=bool(outcome["agreements"]),
        agreed=agreed,
        scores=outcome["scores"],
        joint_gain=outcome["joint_gain"],
        analysed=bool(analysis),
        left_on_table=measured.get("left_on_table"),
        pareto_optimal=measured.get("pareto_optimal"),
        frontier=analysis.get("frontier", []),
        first_agreement=first_agreement_round(export),
        refusals=outcome["refusals"],
        refused=sum(outcome["refusals"].values()),
    )


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _modes(tables: Sequence[TableFacts]) -> list[dict[str, Any]]:
    modes: dict[str, list[TableFacts]] = {}
    for t in tables:
        modes.setdefault(t.variant, []).append(t)
    return [
        {
            "variant": variant,
            "tables": len(group),
            "deals": sum(1 for t in group if t.deal),
            "mean_joint_gain": _mean([t.joint_gain for t in group]),
            "mean_left_on_table": _mean(
                [t.left_on_table for t in group if t.left_on_table is not None]
            ),
            "pareto_optimal": sum(1 for t in group if t.pareto_optimal),
            "mean_rounds_to_first_agreement": _mean(
                [float(t.first_agreement) for t in group if t.first_agreement is not None]
            ),
            "refusals": sum(t.refused for t in group),
        }
        for variant, group in modes.items()
    ]


def by_rule_mode(exports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per rule mode (variant): tables, deals, mean joint gain and left on the table,
    Pareto-optimal deals, mean rounds to the first agreement, refused attempts."""
    if not exports:
        return []
    scenario = Scenario.model_validate(exports[0]["scenario"], context=STORED)
    return _modes([table_facts(e, scenario) for e in exports])


# -- the page's model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScoreCell:
    """A delegation's score at one table, against its BATNA."""

    score: int
    batna: int
    margin: int
    beats_batna: bool
    deal: bool


@dataclass(frozen=True, slots=True)
class Cell:
    """One table's cell in a row of the side-by-side table."""

    table: int
    #: The cell's ``data-value`` (None: no attribute).
    value: str | None
    text: str
    strong: bool = False
    #: Shown instead of ``text`` when set.
    score: ScoreCell | None = None


@dataclass(frozen=True, slots=True)
class MeasureRow:
    """A row of the side-by-side table (``measure``: its ``data-measure``)."""

    label: str
    measure: str
    cells: Sequence[Cell]


@dataclass(frozen=True, slots=True)
class ModeRow:
    """A rule mode's summary: (key, text) cells in the order of :data:`MODE_COLUMNS`."""

    variant: str
    rules: str
    cells: Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class TableAgreed:
    """What one table agreed: (basket title, item titles) for each basket with any."""

    label: str
    rules: str
    baskets: Sequence[tuple[str, Sequence[str]]]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything the comparison page shows, worked out once from the exports."""

    title: str
    header: PageHeader
    #: (section id, label) of the table of contents.
    contents: Sequence[tuple[str, str]]
    #: (table id, label) of each column.
    columns: Sequence[tuple[int, str]]
    rows: Sequence[MeasureRow]
    #: The class on one utility plane (two offering delegations, with an analysis), else None.
    plane: Markup | None
    #: (key of :func:`by_rule_mode`, heading) of the rule-mode table's columns.
    mode_columns: Sequence[tuple[str, str]]
    modes: Sequence[ModeRow]
    charts: Sequence[Markup]
    agreed: Sequence[TableAgreed]
    format: str


#: The rule-mode table's columns: (key of :func:`by_rule_mode`, heading).
MODE_COLUMNS = (
    ("tables", "Tables"),
    ("deals", "Deals"),
    ("mean_joint_gain", "Mean joint gain"),
    ("mean_left_on_table", "Mean left on the table"),
    ("pareto_optimal", "Pareto-optimal deals"),
    ("mean_rounds_to_first_agreement", "Mean rounds to the first agreement"),
    ("refusals", "Refused attempts"),
)


def _check(exports: list[dict[str, Any]]) -> None:
    if len(exports) < 2:
        raise ValueError(
            f"a comparison needs at least 2 tables; got {len(exports)}. "
            "Name two or more closed tables of the same scenario."
        )
    for export in exports:
        if export.get("format") != FORMAT:
            raise ValueError(
                f"table {export.get('table', {}).get('id', '?')} is not a {FORMAT} export "
                f"(format {export.get('format')!r})"
            )
    scenarios = {e["table"]["scenario"] for e in exports}
    if len(scenarios) > 1:
        listing = ", ".join(f"table {e['table']['id']}: {e['table']['scenario']}" for e in exports)
        raise ValueError(
            "only tables of the same scenario can be compared; these are of "
            f"{len(scenarios)} scenarios ({listing})"
        )
    seen = Counter(
        (e["table"]["id"], e["table"].get("channel_id"), e["table"].get("opened_at"))
        for e in exports
    )
    twice = sorted(str(key[0]) for key, n in seen.items() if n > 1)
    if twice:
        raise ValueError(f"table {', '.join(twice)} is listed more than once")


def _row(
    label: str,
    measure: str,
    tables: Sequence[TableFacts],
    texts: Sequence[str],
    values: Sequence[object] | None = None,
) -> MeasureRow:
    """A row of plain cells (``values``: each cell's ``data-value``, if it has one)."""
    return MeasureRow(
        label,
        measure,
        [
            Cell(t.id, None if values is None else str(values[i]), text)
            for i, (t, text) in enumerate(zip(tables, texts, strict=True))
        ],
    )


def _rows(
    tables: Sequence[TableFacts],
    scenario: Scenario,
    delegations: Sequence[Delegation],
    codes: list[str],
) -> list[MeasureRow]:
    """The side-by-side table, one row per measure."""
    rows = [
        _row(
            "Rules",
            "variant",
            tables,
            [variant_title(scenario, t.variant) for t in tables],
            [t.variant for t in tables],
        ),
        _row("Opened", "opened", tables, [when(t.opened_at) for t in tables]),
        _row(
            "Outcome",
            "outcome",
            tables,
            [t.outcome for t in tables],
            [t.outcome_key for t in tables],
        ),
        _row(
            "Rounds used",
            "rounds",
            tables,
            [str(t.rounds) for t in tables],
            [t.rounds for t in tables],
        ),
        _row(
            "Agreements",
            "agreements",
            tables,
            [str(t.agreements) for t in tables],
            [t.agreements for t in tables],
        ),
    ]
    for basket in scenario.baskets_in_order():
        counts = [len(t.agreed.get(basket.id, [])) for t in tables]
        rows.append(
            _row(
                f"Agreed: {basket.title}",
                f"basket:{basket.id}",
                tables,
                [str(n) for n in counts],
                counts,
            )
        )
    for d in delegations:
        cells = []
        for t in tables:
            s = t.scores.get(d.id)
            if s is None:
                cells.append(Cell(t.id, "", "—"))
                continue
            score = ScoreCell(s["score"], s["batna"], s["margin"], s["beats_batna"], t.deal)
            cells.append(Cell(t.id, str(s["score"]), str(s["score"]), score=score))
        rows.append(MeasureRow(f"Score: {d.name}", f"score:{d.id}", cells))
    rows.append(
        MeasureRow(
            "Joint gain",
            "joint_gain",
            [Cell(t.id, str(t.joint_gain), f"{t.joint_gain:+d}", strong=True) for t in tables],
        )
    )
    rows += [
        _row(
            "Deal",
            "deal",
            tables,
            ["yes" if t.deal else "no" for t in tables],
            [t.deal for t in tables],
        ),
        _row(
            "Left on the table",
            "left_on_table",
            tables,
            ["—" if t.left_on_table is None else str(t.left_on_table) for t in tables],
            ["" if t.left_on_table is None else t.left_on_table for t in tables],
        ),
        _row(
            "Pareto-optimal",
            "pareto_optimal",
            tables,
            [
                "—" if t.pareto_optimal is None else "yes" if t.pareto_optimal else "no"
                for t in tables
            ],
            ["" if t.pareto_optimal is None else t.pareto_optimal for t in tables],
        ),
        _row(
            "Rounds to the first agreement",
            "first_agreement",
            tables,
            ["—" if t.first_agreement is None else str(t.first_agreement) for t in tables],
            ["" if t.first_agreement is None else t.first_agreement for t in tables],
        ),
        _row(
            "Refused attempts",
            "refusals",
            tables,
            [str(t.refused) for t in tables],
            [t.refused for t in tables],
        ),
    ]
    for code in codes:
        counts = [t.refusals.get(code, 0) for t in tables]
        rows.append(
            _row(f"refused: {code}", f"refusal:{code}", tables, [str(n) for n in counts], counts)
        )
    return rows


def _class_plane(tables: Sequence[TableFacts], scenario: Scenario) -> str | None:
    """Every table's outcome on one utility plane with the Pareto frontier (two
    delegations; the frontier of all the compared rule modes together), one colour per
    rule mode; each mark names its table on hover and links to its column."""
    offering = [d for d in scenario.delegations if d.offers]
    if len(offering) != 2 or not any(t.analysed for t in tables):
        return None
    first, second = offering
    frontier = pareto(
        [(p["scores"][first.id], p["scores"][second.id]) for t in tables for p in t.frontier]
    )
    by_mode: dict[str, list[charts.Mark]] = {}
    for t in tables:
        x = t.scores[first.id]["score"] if t.deal else first.batna
        y = t.scores[second.id]["score"] if t.deal else second.batna
        title = (
            f"{t.label} ({t.variant}): "
            + (f"{first.name} {x}, {second.name} {y}" if t.deal else "no deal")
            + ("" if t.left_on_table is None else f"; {t.left_on_table} left on the table")
        )
        by_mode.setdefault(t.variant, []).append(charts.Mark(x, y, title, href=f"#t{t.id}"))
    dances = [
        charts.Dance(
            variant_title(scenario, variant),
            MODE_COLOURS[k % len(MODE_COLOURS)],
            marks,
            joined=False,
        )
        for k, (variant, marks) in enumerate(by_mode.items())
    ]
    plane = charts.Plane(
        names=(first.name, second.name),
        colours=(MODE_COLOURS[0], MODE_COLOURS[1]),
        batnas=(first.batna, second.batna),
        frontier=[(int(x), int(y)) for x, y in frontier],
        dances=dances,
    )
    return charts.utility_plane_svg(
        plane,
        "class",
        f"The class on one utility plane: each table's outcome ({first.name}'s and "
        f"{second.name}'s scores; no deal at the BATNAs), with the Pareto frontier, the "
        "BATNAs and the zone of possible agreement",
    )


def _charts(
    tables: Sequence[TableFacts],
    scenario: Scenario,
    delegations: Sequence[Delegation],
    codes: list[str],
) -> list[str]:
    """One bar chart per measure: rounds, agreed items per basket, scores, joint gain and
    refused attempts by code."""
    labels = [t.label for t in tables]
    baskets = scenario.baskets_in_order()
    return [
        charts.bars_svg(
            "cmp-rounds",
            "Rounds used",
            labels,
            {"rounds": [t.rounds for t in tables]},
            ylabel="rounds",
        ),
        charts.bars_svg(
            "cmp-baskets",
            "Agreed items per basket",
            labels,
            {b.title: [len(t.agreed.get(b.id, [])) for t in tables] for b in baskets},
            ylabel="items",
        ),
        charts.bars_svg(
            "cmp-scores",
            "Scores against BATNA",
            labels,
            {d.name: [t.scores.get(d.id, {}).get("score", 0) for t in tables] for d in delegations},
            ylabel="score",
            references={
                d.name: [t.scores.get(d.id, {}).get("batna", d.batna) for t in tables]
                for d in delegations
            },
        ),
        charts.bars_svg(
            "cmp-gain",
            "Joint gain (sum of scores above BATNA)",
            labels,
            {"joint gain": [t.joint_gain for t in tables]},
            ylabel="points",
            colours={"joint gain": charts.AGREEMENT},
        ),
        charts.bars_svg(
            "cmp-refusals",
            "Refused attempts by code",
            labels,
            {c: [t.refusals.get(c, 0) for t in tables] for c in codes}
            or {"refused": [0 for _ in tables]},
            ylabel="attempts",
            stacked=True,
            colours=charts.refusal_colours(codes),
        ),
    ]


def build_comparison(exports: list[dict[str, Any]], anonymized: bool = False) -> Comparison:
    """The comparison page's model, from ``exports`` (tables of one scenario).

    ``anonymized``: students become "Student 1"..., titles "Table A"... (to show a class).
    Raises :class:`ValueError` for fewer than two tables, tables of different scenarios,
    a table listed twice, or an export in another format.
    """
    _check(exports)
    if anonymized:
        exports = anonymize(exports)
    scenario = Scenario.model_validate(exports[0]["scenario"], context=STORED)
    tables = [table_facts(e, scenario) for e in exports]
    delegations = [d for d in scenario.delegations if d.offers] or scenario.delegations
    codes = sorted({code for t in tables for code in t.refusals})
    plane = _class_plane(tables, scenario)
    contents = [("side-by-side", "Side by side")]
    if plane is not None:
        contents.append(("class", "The class"))
    contents += [("by-rules", "By rule mode"), ("charts", "Charts"), ("statements", "Agreements")]
    # charts.py escapes every text it writes into the SVG
    return Comparison(
        title=f"{scenario.title} — Parley comparison",
        header=PageHeader(
            kicker="Parley · comparison",
            title=scenario.title,
            subtitle=f"{len(tables)} tables · rules: "
            + ", ".join(sorted({t.variant for t in tables})),
            facts=[(t.label, f"{t.variant} · {t.outcome}") for t in tables],
        ),
        contents=contents,
        columns=[(t.id, t.label) for t in tables],
        rows=_rows(tables, scenario, delegations, codes),
        plane=None if plane is None else Markup(plane),
        mode_columns=MODE_COLUMNS,
        modes=[
            ModeRow(
                m["variant"],
                variant_title(scenario, m["variant"]),
                [(key, "—" if m[key] is None else str(m[key])) for key, _ in MODE_COLUMNS],
            )
            for m in _modes(tables)
        ],
        charts=[Markup(svg) for svg in _charts(tables, scenario, delegations, codes)],
        agreed=[
            TableAgreed(
                t.label,
                variant_title(scenario, t.variant),
                [
                    (b.title, t.agreed[b.id])
                    for b in scenario.baskets_in_order()
                    if t.agreed.get(b.id)
                ],
            )
            for t in tables
        ],
        format=FORMAT,
    )


def render_comparison(exports: list[dict[str, Any]], anonymized: bool = False) -> str:
    """One self-contained HTML page comparing ``exports`` (tables of one scenario).

    ``anonymized``: students become "Student 1"..., titles "Table A"... (to show a class).
    Raises :class:`ValueError` for fewer than two tables, tables of different scenarios,
    a table listed twice, or an export in another format.
    """
    with collector_paused():
        return render_page("compare.html", page=build_comparison(exports, anonymized))
