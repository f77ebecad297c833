"""The comparison page: several tables of the same scenario, side by side.

The tables may be sections of one class or the same class under different rules
(``singapore``, ``package``, ``parallel``). The page shows, per table, the outcome, the
rounds used, the agreed items per basket, each delegation's score and the joint gain, and
the refused attempts by code, with one chart per measure. Like the report, it is one
self-contained HTML file (:func:`bot.review.report.html_page`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from bot.analysis import pareto
from bot.domain.scenario import Scenario
from bot.review import charts
from bot.review.anonymize import anonymize
from bot.review.export import FORMAT
from bot.review.report import (
    agreements_count,
    esc,
    html_page,
    outcome_text,
    variant_title,
    when,
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


def _label(export: dict[str, Any]) -> str:
    table = export["table"]
    return f"#{table['id']} {table['title']}".strip()


def _agreed_by_basket(export: dict[str, Any], scenario: Scenario) -> dict[str, list[str]]:
    by_basket: dict[str, list[str]] = {b.id: [] for b in scenario.baskets_in_order()}
    for agreed in export["outcome"]["agreed"]:
        by_basket.setdefault(agreed["basket"], []).append(agreed["title"])
    return by_basket


def first_agreement_round(export: dict[str, Any]) -> int | None:
    """The round of the table's first agreement (undone ones excepted), if any."""
    agreements = export["outcome"]["agreements"]
    return min((a["round"] for a in agreements), default=None)


def _value_rows(exports: list[dict[str, Any]], row: Any) -> list[str]:
    """Deal or not, left on the table, Pareto-optimal, rounds to the first agreement."""
    analyses = [e.get("analysis") or {} for e in exports]
    outcomes = [a.get("outcome") or {} for a in analyses]
    deals = [bool(e["outcome"]["agreements"]) for e in exports]
    firsts = [first_agreement_round(e) for e in exports]
    rows = [
        row("Deal", ["yes" if d else "no" for d in deals], "deal", deals),
        row(
            "Left on the table",
            [str(o.get("left_on_table", "—")) for o in outcomes],
            "left_on_table",
            [o.get("left_on_table", "") for o in outcomes],
        ),
        row(
            "Pareto-optimal",
            [
                "—" if "pareto_optimal" not in o else "yes" if o["pareto_optimal"] else "no"
                for o in outcomes
            ],
            "pareto_optimal",
            [o.get("pareto_optimal", "") for o in outcomes],
        ),
        row(
            "Rounds to the first agreement",
            ["—" if f is None else str(f) for f in firsts],
            "first_agreement",
            ["" if f is None else f for f in firsts],
        ),
    ]
    return rows


def by_rule_mode(exports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per rule mode (variant): tables, deals, mean joint gain and left on the table,
    Pareto-optimal deals, mean rounds to the first agreement, refused attempts."""
    modes: dict[str, list[dict[str, Any]]] = {}
    for e in exports:
        modes.setdefault(e["table"]["variant"], []).append(e)

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 2) if values else None

    summary = []
    for variant, group in modes.items():
        outcomes = [(e.get("analysis") or {}).get("outcome") or {} for e in group]
        firsts = [f for e in group if (f := first_agreement_round(e)) is not None]
        summary.append(
            {
                "variant": variant,
                "tables": len(group),
                "deals": sum(1 for e in group if e["outcome"]["agreements"]),
                "mean_joint_gain": mean([e["outcome"]["joint_gain"] for e in group]),
                "mean_left_on_table": mean(
                    [o["left_on_table"] for o in outcomes if "left_on_table" in o]
                ),
                "pareto_optimal": sum(1 for o in outcomes if o.get("pareto_optimal")),
                "mean_rounds_to_first_agreement": mean([float(f) for f in firsts]),
                "refusals": sum(sum(e["outcome"]["refusals"].values()) for e in group),
            }
        )
    return summary


def _modes_html(exports: list[dict[str, Any]], scenario: Scenario) -> str:
    heads = (
        "Rules",
        "Tables",
        "Deals",
        "Mean joint gain",
        "Mean left on the table",
        "Pareto-optimal deals",
        "Mean rounds to the first agreement",
        "Refused attempts",
    )
    keys = (
        "tables",
        "deals",
        "mean_joint_gain",
        "mean_left_on_table",
        "pareto_optimal",
        "mean_rounds_to_first_agreement",
        "refusals",
    )
    body = "".join(
        f'<tr data-variant="{esc(m["variant"])}"><th scope="row">'
        f"{esc(variant_title(scenario, m['variant']))}</th>"
        + "".join(f'<td data-measure="{k}">{esc("—" if m[k] is None else m[k])}</td>' for k in keys)
        + "</tr>"
        for m in by_rule_mode(exports)
    )
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in heads)
    return (
        '<section class="card" id="by-rules"><h2>By rule mode</h2>'
        '<div class="table-wrap"><table class="compare">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div></section>"
    )


#: Colours of the rule modes on the class plane (colour-blind safe, in order of first use).
MODE_COLOURS = ("#1b6ca8", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e")


def _class_plane(exports: list[dict[str, Any]], scenario: Scenario) -> str:
    """Every table's outcome on one utility plane with the Pareto frontier (two
    delegations; the frontier of all the compared rule modes together), one colour per
    rule mode; each mark names its table on hover and links to its column."""
    offering = [d for d in scenario.delegations if d.offers]
    if len(offering) != 2 or not any(e.get("analysis") for e in exports):
        return ""
    first, second = offering
    frontier = pareto(
        [
            (p["scores"][first.id], p["scores"][second.id])
            for e in exports
            for p in (e.get("analysis") or {}).get("frontier", [])
        ]
    )
    by_mode: dict[str, list[charts.Mark]] = {}
    for e in exports:
        scores = e["outcome"]["scores"]
        deal = bool(e["outcome"]["agreements"])
        x = scores[first.id]["score"] if deal else first.batna
        y = scores[second.id]["score"] if deal else second.batna
        left = ((e.get("analysis") or {}).get("outcome") or {}).get("left_on_table")
        title = (
            f"{_label(e)} ({e['table']['variant']}): "
            + (f"{first.name} {x}, {second.name} {y}" if deal else "no deal")
            + ("" if left is None else f"; {left} left on the table")
        )
        by_mode.setdefault(e["table"]["variant"], []).append(
            charts.Mark(x, y, title, href=f"#t{e['table']['id']}")
        )
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
    svg = charts.utility_plane_svg(
        plane,
        "class",
        f"The class on one utility plane: each table's outcome ({first.name}'s and "
        f"{second.name}'s scores; no deal at the BATNAs), with the Pareto frontier, the "
        "BATNAs and the zone of possible agreement",
    )
    return (
        '<section class="card" id="class"><h2>The class on one plane</h2>'
        '<p class="muted">Each mark is a table\'s outcome, coloured by its rules; the '
        "frontier is the best any agreement could do. Marks below and left of it left "
        f"value on the table.</p><figure>{svg}</figure></section>"
    )


def render_comparison(exports: list[dict[str, Any]], anonymized: bool = False) -> str:
    """One self-contained HTML page comparing ``exports`` (tables of one scenario).

    ``anonymized``: students become "Student 1"..., titles "Table A"... (to show a class).
    Raises :class:`ValueError` for fewer than two tables, tables of different scenarios,
    a table listed twice, or an export in another format.
    """
    _check(exports)
    if anonymized:
        exports = anonymize(exports)
    scenario = Scenario.model_validate(exports[0]["scenario"])
    baskets = scenario.baskets_in_order()
    delegations = [d for d in scenario.delegations if d.offers] or scenario.delegations
    labels = [_label(e) for e in exports]
    codes = sorted({code for e in exports for code in e["outcome"]["refusals"]})
    agreed = [_agreed_by_basket(e, scenario) for e in exports]

    def row(header: str, cells: list[str], measure: str, values: list[Any] | None = None) -> str:
        tds = "".join(
            f'<td data-table="{esc(e["table"]["id"])}"'
            + (f' data-value="{esc(values[i])}"' if values is not None else "")
            + f">{cell}</td>"
            for i, (e, cell) in enumerate(zip(exports, cells, strict=True))
        )
        return f'<tr data-measure="{esc(measure)}"><th scope="row">{esc(header)}</th>{tds}</tr>'

    rows: list[str] = [
        row(
            "Rules",
            [esc(variant_title(scenario, e["table"]["variant"])) for e in exports],
            "variant",
            [e["table"]["variant"] for e in exports],
        ),
        row("Opened", [esc(when(e["table"]["opened_at"])) for e in exports], "opened"),
        row(
            "Outcome",
            [esc(outcome_text(e)) for e in exports],
            "outcome",
            [e["outcome"]["reason"] or e["outcome"]["phase"] for e in exports],
        ),
        row(
            "Rounds used",
            [str(e["outcome"]["rounds"]) for e in exports],
            "rounds",
            [e["outcome"]["rounds"] for e in exports],
        ),
        row(
            "Agreements",
            [str(agreements_count(e)) for e in exports],
            "agreements",
            [agreements_count(e) for e in exports],
        ),
    ]
    for basket in baskets:
        cells = []
        for by_basket in agreed:
            titles = by_basket.get(basket.id, [])
            cells.append(str(len(titles)))
        rows.append(
            row(
                f"Agreed: {basket.title}",
                cells,
                f"basket:{basket.id}",
                [len(b.get(basket.id, [])) for b in agreed],
            )
        )
    for d in delegations:
        cells, values = [], []
        for e in exports:
            s = e["outcome"]["scores"].get(d.id)
            if s is None:
                cells.append("—")
                values.append("")
                continue
            margin = (
                f'<span class="{"yes" if s["beats_batna"] else "no"}">{s["margin"]:+d}</span>'
                if e["outcome"]["agreements"]
                else '<span class="muted">no deal</span>'
            )
            cells.append(f'{s["score"]} <span class="muted">/ BATNA {s["batna"]}</span> {margin}')
            values.append(s["score"])
        rows.append(row(f"Score: {d.name}", cells, f"score:{d.id}", values))
    rows.append(
        row(
            "Joint gain",
            [f"<strong>{e['outcome']['joint_gain']:+d}</strong>" for e in exports],
            "joint_gain",
            [e["outcome"]["joint_gain"] for e in exports],
        )
    )
    rows += _value_rows(exports, row)
    rows.append(
        row(
            "Refused attempts",
            [str(sum(e["outcome"]["refusals"].values())) for e in exports],
            "refusals",
            [sum(e["outcome"]["refusals"].values()) for e in exports],
        )
    )
    for code in codes:
        counts = [e["outcome"]["refusals"].get(code, 0) for e in exports]
        rows.append(row(f"refused: {code}", [str(n) for n in counts], f"refusal:{code}", counts))

    head = "".join(
        f'<th scope="col" id="t{esc(e["table"]["id"])}" data-table="{esc(e["table"]["id"])}">'
        f"{esc(label)}</th>"
        for e, label in zip(exports, labels, strict=True)
    )
    table_html = (
        '<section class="card" id="side-by-side"><h2>Side by side</h2>'
        '<div class="table-wrap"><table class="compare"><thead><tr><th>Measure</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div></section>"
    )

    score_series = {
        d.name: [e["outcome"]["scores"].get(d.id, {}).get("score", 0) for e in exports]
        for d in delegations
    }
    batnas = {
        d.name: [e["outcome"]["scores"].get(d.id, {}).get("batna", d.batna) for e in exports]
        for d in delegations
    }
    figures = [
        charts.bars_svg(
            "cmp-rounds",
            "Rounds used",
            labels,
            {"rounds": [e["outcome"]["rounds"] for e in exports]},
            ylabel="rounds",
        ),
        charts.bars_svg(
            "cmp-baskets",
            "Agreed items per basket",
            labels,
            {b.title: [len(a.get(b.id, [])) for a in agreed] for b in baskets},
            ylabel="items",
        ),
        charts.bars_svg(
            "cmp-scores",
            "Scores against BATNA",
            labels,
            score_series,
            ylabel="score",
            references=batnas,
        ),
        charts.bars_svg(
            "cmp-gain",
            "Joint gain (sum of scores above BATNA)",
            labels,
            {"joint gain": [e["outcome"]["joint_gain"] for e in exports]},
            ylabel="points",
            colours={"joint gain": charts.AGREEMENT},
        ),
        charts.bars_svg(
            "cmp-refusals",
            "Refused attempts by code",
            labels,
            {c: [e["outcome"]["refusals"].get(c, 0) for e in exports] for c in codes}
            or {"refused": [0 for _ in exports]},
            ylabel="attempts",
            stacked=True,
            colours=charts.refusal_colours(codes),
        ),
    ]
    charts_html = (
        '<section class="card" id="charts"><h2>Charts</h2><div class="charts">'
        + "".join(f"<figure>{svg}</figure>" for svg in figures)
        + "</div></section>"
    )

    statements = []
    for e, by_basket in zip(exports, agreed, strict=True):
        parts = "".join(
            f"<h4>{esc(b.title)}</h4><ul>"
            + "".join(f"<li>{esc(t)}</li>" for t in by_basket.get(b.id, []))
            + "</ul>"
            for b in baskets
            if by_basket.get(b.id)
        )
        statements.append(
            f'<div class="delegation"><h3>{esc(_label(e))}</h3>'
            f'<div class="muted">{esc(variant_title(scenario, e["table"]["variant"]))}</div>'
            + (parts or '<p class="muted">Nothing was agreed.</p>')
            + "</div>"
        )
    statements_html = (
        '<section class="card" id="statements"><h2>What each table agreed</h2>'
        f'<div class="delegations">{"".join(statements)}</div></section>'
    )

    variants = sorted({e["table"]["variant"] for e in exports})
    header = (
        '<header class="page"><div><p class="kicker">Parley · comparison</p>'
        f"<h1>{esc(scenario.title)}</h1>"
        f'<p class="subtitle">{len(exports)} tables · rules: {esc(", ".join(variants))}</p>'
        "<dl>"
        + "".join(
            f"<div><dt>{esc(_label(e))}</dt><dd>{esc(e['table']['variant'])} · "
            f"{esc(outcome_text(e))}</dd></div>"
            for e in exports
        )
        + "</dl></div></header>"
    )
    toc = (
        '<nav class="toc" aria-label="Sections"><a href="#side-by-side">Side by side</a>'
        '<a href="#class">The class</a><a href="#by-rules">By rule mode</a>'
        '<a href="#charts">Charts</a>'
        '<a href="#statements">Agreements</a></nav>'
    )
    footer = (
        '<footer class="page">Made by Parley from the '
        f"{FORMAT} exports of tables "
        + ", ".join(f"#{esc(e['table']['id'])}" for e in exports)
        + ". Scores use each delegation's private values; the joint gain is the sum of "
        "the delegations' scores above their BATNA.</footer>"
    )
    return html_page(
        f"{scenario.title} — Parley comparison",
        header,
        toc
        + table_html
        + _class_plane(exports, scenario)
        + _modes_html(exports, scenario)
        + charts_html
        + statements_html,
        footer,
    )
