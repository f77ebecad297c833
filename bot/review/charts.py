"""Charts for the review pages: matplotlib figures rendered to inline, responsive SVG.

Every chart is drawn by matplotlib on the Agg backend (no display, no pyplot state) and
saved as SVG with its text kept as text in local or generic fonts (``svg.fonttype`` is
``none``): nothing is fetched when the page opens. :func:`svg_of` strips the XML prolog,
gives the element ids a per-chart prefix (several charts share one HTML page) and makes the
drawing responsive (``width="100%"``, ``viewBox`` kept).
"""

from __future__ import annotations

import functools
import io
import math
import re
import textwrap
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any, ParamSpec

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from bot.domain import events as ev
from bot.domain.scenario import Scenario
from bot.review.schema import ExportedEvent, parse_events

#: A name with emoji has no glyph in matplotlib's font: the SVG keeps its text (the
#: browser draws it), so the warning says nothing a reader of the report would see.
warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)

#: Events as the charts take them: an export's event dicts, or those parsed once already.
Events = Sequence[Mapping[str, Any] | ExportedEvent]

#: Colours (Okabe-Ito, safe for the common colour-vision deficiencies) for the moves.
OFFER = "#0072B2"
COUNTER = "#E69F00"
REJECTED = "#7a7a7a"
AGREEMENT = "#009E73"
INJECT = "#CC79A7"
#: Colours for refusal codes (Paul Tol's muted palette), assigned in code order.
REFUSAL_PALETTE = (
    "#CC3311",
    "#882255",
    "#332288",
    "#AA4499",
    "#661100",
    "#999933",
    "#44AA99",
    "#6699CC",
    "#DDAA33",
    "#117733",
    "#000000",
)
#: Colours for series in comparison charts and for delegations.
SERIES = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

_RC: dict[Any, Any] = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "font.size": 10,
    "text.parse_math": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#9aa3ad",
    "axes.labelcolor": "#333a44",
    "xtick.color": "#333a44",
    "ytick.color": "#333a44",
    "axes.titleweight": "bold",
    "axes.titlesize": 11,
    "axes.titlelocation": "left",
    "legend.frameon": False,
    "svg.hashsalt": "parley",
}
_NO_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}
_P = ParamSpec("_P")


def _styled(draw: Callable[_P, str]) -> Callable[_P, str]:
    """Draw (and save) a chart under the review pages' matplotlib style."""

    @functools.wraps(draw)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> str:
        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)

    return wrapper


# -- SVG output --------------------------------------------------------------------------


def svg_of(fig: Figure, name: str, label: str) -> str:
    """The figure as an inline ``<svg>`` element: responsive, ids prefixed with ``name``.

    ``label`` becomes the chart's accessible name (``aria-label`` and ``<title>``).
    """
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": name}):
        fig.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<[^>]+>", lambda tag: _prefixed(tag.group(0), name), text)
    head_end = text.index(">")
    head = text[:head_end]
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    head = head.replace(
        "<svg",
        f'<svg class="chart" data-chart="{escape(name)}" role="img" '
        f'aria-label="{escape(label)}" width="100%" preserveAspectRatio="xMidYMid meet"',
        1,
    )
    return f"{head}>\n <title>{escape(label, quote=False)}</title>{text[head_end + 1 :]}".strip()


def _prefixed(tag: str, name: str) -> str:
    """One SVG tag with its id and its references to ids prefixed (text is left alone).

    A link (``<a>``, from an artist's ``set_url``) points into the page, not into the
    chart, so it keeps its address.
    """
    if tag.startswith("<a "):
        return tag
    tag = re.sub(r'\bid="([^"]+)"', rf'id="{name}-\1"', tag)
    return tag.replace("url(#", f"url(#{name}-").replace('href="#', f'href="#{name}-')


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _wrap(text: str, width: int = 24, lines: int = 3) -> str:
    """``text`` on lines of ``width`` characters, at most ``lines`` of them (the rest cut,
    marked with an ellipsis): a long name or title is a label, not a column of text."""
    wrapped = textwrap.wrap(text, width)
    if len(wrapped) > lines:
        wrapped = [*wrapped[: lines - 1], wrapped[lines - 1][: width - 1].rstrip() + "…"]
    return "\n".join(wrapped) or text


# -- rounds --------------------------------------------------------------------------------


def event_rounds(events: Events) -> list[int]:
    """The round each event belongs to (0 before the negotiation starts).

    Turn actions carry their ``round``; events that do not (refusals, membership, pauses)
    belong to the round the table was in, which is the ``next_round`` of the last event
    that moved the turn. An undo takes the table back to the round of the action it
    undoes.
    """
    rounds: list[int] = []
    by_seq: dict[int, int] = {}
    current = 0
    for event in parse_events(events):
        data = event.data
        own = data.round
        if isinstance(data, ev.ActionReverted):
            undone = [by_seq[s] for s in data.reverts if s in by_seq]
            if undone:
                current = min(undone)
            here = current
        else:
            here = own if own is not None else current
            nxt = data.next_round if isinstance(data, ev.TurnChange) else None
            if nxt is not None:
                current = nxt
            elif own is not None:
                current = own
        rounds.append(here)
        by_seq[event.seq] = here
    return rounds


# -- the timeline -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    marker: str
    color: str
    size: float
    edge: str


#: Horizontal place of each kind of move inside its round.
_SLOT = {"offer": -0.27, "counter": -0.09, "rejected": 0.09, "agreement": 0.27}
NO_BASKET = "(no item named)"


@dataclass
class Timeline:
    """What the timeline chart shows, counted per (round, basket row, mark)."""

    rows: list[str]
    counts: Counter[tuple[int, int, str]] = field(default_factory=Counter)
    injects: list[tuple[int, str]] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    last_round: int = 0


def timeline_data(
    export: Mapping[str, Any],
    scenario: Scenario,
    events: Events | None = None,
    rounds: Sequence[int] | None = None,
) -> Timeline:
    """Count the table's offers, counter-offers, rejections, refusals and agreements.

    An offer counts on every basket it touches; a refused attempt on the baskets of the
    items it named (or on a row of its own when it named none); an undone action is left
    out, as it no longer stands. ``events``: the export's events if already parsed;
    ``rounds``: their rounds (:func:`event_rounds`) if already known.
    """
    baskets = scenario.baskets_in_order()
    row_of = {b.id: i for i, b in enumerate(baskets)}
    basket_of = {item.id: item.basket for item in scenario.items}
    rows = [b.title for b in baskets]
    timeline = Timeline(rows=rows)
    offer_rows: dict[int, set[int]] = {}
    typed = parse_events(export["events"] if events is None else events)
    if rounds is None:
        rounds = event_rounds(typed)
    no_row = len(rows)

    def rows_for(items: Sequence[str]) -> set[int]:
        return {row_of[basket_of[i]] for i in items if basket_of.get(i) in row_of}

    for event, round_ in zip(typed, rounds, strict=True):
        timeline.last_round = max(timeline.last_round, round_)
        match event.data:
            case ev.OfferTabled(give=give, ask=ask, answers=answers):
                touched = rows_for([*give, *ask])
                offer_rows[event.seq] = touched
                mark = "counter" if answers else "offer"
            case ev.OfferRejected(offer=offer):
                touched, mark = offer_rows.get(offer, set()), "rejected"
            case ev.AgreementReached(items=items):
                touched, mark = rows_for(items), "agreement"
            case ev.ActionRefused(args=args, code=code):
                named = [i for key in ("give", "ask") for i in args.get(key, []) or []]
                touched = rows_for(named) or {no_row}
                mark = f"refused:{code}"
            case ev.EventInjected(title=title):
                if not event.reverted_by:
                    timeline.injects.append((round_, title))
                continue
            case _:
                continue
        if event.reverted_by:
            continue
        for row in touched:
            timeline.counts[(round_, row, mark)] += 1
    if any(row == no_row for _, row, _ in timeline.counts):
        timeline.rows.append(NO_BASKET)
    timeline.codes = sorted(
        {m.split(":", 1)[1] for _, _, m in timeline.counts if m.startswith("refused")}
    )
    return timeline


def refusal_colours(codes: Sequence[str]) -> dict[str, str]:
    """A colour per refusal code, in the order given."""
    return {code: REFUSAL_PALETTE[i % len(REFUSAL_PALETTE)] for i, code in enumerate(codes)}


@_styled
def timeline_svg(
    export: Mapping[str, Any],
    scenario: Scenario,
    events: Events | None = None,
    rounds: Sequence[int] | None = None,
) -> str:
    """The timeline: moves and refusals by basket (rows, in basket order) over rounds.

    ``events``: the export's events if already parsed; ``rounds``: their rounds if known.
    """
    data = timeline_data(export, scenario, events, rounds)
    colours = refusal_colours(data.codes)
    n_rows = len(data.rows)
    last = max(data.last_round, 1)
    dense = last > 30
    width = min(14.0, max(8.0, 5.0 + 0.28 * last))
    fig = _figure(width, 1.9 + 0.62 * n_rows + 0.22 * math.ceil((5 + len(data.codes)) / 4))
    ax = fig.add_subplot()
    scale = 0.45 if dense else 1.0

    styles = {
        "offer": _Style("o", OFFER, 70, "white"),
        "counter": _Style("^", COUNTER, 80, "white"),
        "rejected": _Style("o", "none", 60, REJECTED),
        "agreement": _Style("*", AGREEMENT, 240, "#0b5d46"),
    }
    by_mark: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    refusals_in_cell: dict[tuple[int, int], list[str]] = defaultdict(list)
    for (round_, row, mark), count in sorted(data.counts.items()):
        if mark.startswith("refused:"):
            refusals_in_cell[(round_, row)].append(mark)
            continue
        by_mark[mark].append((round_ + _SLOT[mark], row - 0.08, count))
    for (round_, row), marks in refusals_in_cell.items():
        for k, mark in enumerate(marks):
            x = round_ - 0.3 + 0.6 * (k + 0.5) / len(marks)
            by_mark[mark].append((x, row + 0.26, data.counts[(round_, row, mark)]))

    for mark, points in by_mark.items():
        if mark.startswith("refused:"):
            style = _Style("X", colours[mark.split(":", 1)[1]], 55, "white")
        else:
            style = styles[mark]
        # One marker line per size (a size per count): matplotlib writes a marker line as
        # one shape and a reference per point, several times faster than a scatter's
        # collection, which styles every point anew (a 10,000-event table has thousands).
        by_size: dict[float, list[tuple[float, float]]] = defaultdict(list)
        for x, y, count in points:
            by_size[style.size * scale * (1 + 0.35 * math.log2(count))].append((x, y))
        for size, at in by_size.items():
            ax.plot(
                [p[0] for p in at],
                [p[1] for p in at],
                linestyle="",
                marker=style.marker,
                markersize=math.sqrt(size),  # a scatter's size is an area, in points²
                markerfacecolor=style.color,
                markeredgecolor=style.edge,
                markeredgewidth=1.4 if mark == "rejected" else 0.6,
                zorder=3,
            )
        if not dense:
            for x, y, count in points:
                if count > 1:
                    ax.annotate(
                        f"×{count}",
                        (x, y),
                        xytext=(5, 4),
                        textcoords="offset points",
                        fontsize=7,
                        color="#333a44",
                    )

    for i, (round_, title) in enumerate(data.injects):
        ax.axvline(round_, color=INJECT, linestyle="--", linewidth=1.2, zorder=1)
        if len(data.injects) <= 12:
            ax.annotate(
                title,
                (round_, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, 3 + 11 * (i % 2)),
                textcoords="offset points",
                fontsize=7.5,
                color="#8a3d6c",
                va="bottom",
                annotation_clip=False,
            )

    ax.set_yticks(range(n_rows), [_wrap(r) for r in data.rows])
    ax.set_ylim(n_rows - 0.45, -0.75)
    ax.set_xlim(-0.6, last + 0.6)
    if not dense:
        ticks = list(range(0, last + 1))
        ax.set_xticks(ticks, ["setup" if t == 0 else str(t) for t in ticks])
    ax.set_xlabel("round")
    ax.grid(axis="x", color="#e6e9ed", linewidth=0.8, zorder=0)
    for y in range(n_rows - 1):
        ax.axhline(y + 0.5, color="#eef0f3", linewidth=0.8, zorder=0)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)

    handles = [
        Line2D([], [], linestyle="", marker="o", color=OFFER, markersize=8, label="offer"),
        Line2D(
            [], [], linestyle="", marker="^", color=COUNTER, markersize=8, label="counter-offer"
        ),
        Line2D(
            [],
            [],
            linestyle="",
            marker="o",
            markerfacecolor="none",
            markeredgecolor=REJECTED,
            markeredgewidth=1.4,
            markersize=8,
            label="offer rejected",
        ),
        Line2D([], [], linestyle="", marker="*", color=AGREEMENT, markersize=13, label="agreement"),
        Line2D([], [], color=INJECT, linestyle="--", label="inject"),
    ]
    handles += [
        Line2D(
            [], [], linestyle="", marker="X", color=colours[c], markersize=8, label=f"refused: {c}"
        )
        for c in data.codes
    ]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncol=4,
        fontsize=8.5,
        handletextpad=0.4,
        columnspacing=1.4,
    )
    return svg_of(
        fig,
        "timeline",
        "Timeline of offers, counter-offers, rejections, refusals and agreements "
        "by basket over rounds",
    )


# -- participation ------------------------------------------------------------------------------


@_styled
def participation_svg(players: Sequence[tuple[str, int, int, int]]) -> str:
    """Grouped horizontal bars per player: (label, actions, statements, refusals)."""
    n = max(len(players), 1)
    fig = _figure(6.8, 1.2 + 0.42 * n)
    ax = fig.add_subplot()
    series = (("turn actions", OFFER), ("statements", AGREEMENT), ("refused attempts", "#CC3311"))
    height = 0.26
    for k, (label, colour) in enumerate(series):
        ys = [i + (k - 1) * height for i in range(len(players))]
        values = [p[k + 1] for p in players]
        bars = ax.barh(ys, values, height=height * 0.92, color=colour, label=label, zorder=2)
        if len(players) <= 40:
            ax.bar_label(bars, [str(v) if v else "" for v in values], padding=2, fontsize=7.5)
    ax.set_yticks(range(len(players)), [_wrap(p[0], 30) for p in players])
    ax.set_ylim(len(players) - 0.5, -0.5)
    ax.set_xlabel("count")
    ax.grid(axis="x", color="#e6e9ed", linewidth=0.8, zorder=0)
    ax.tick_params(axis="y", length=0)
    fig.legend(loc="outside lower center", ncol=3, fontsize=8.5)
    return svg_of(fig, "participation", "Participation per player")


# -- comparison ---------------------------------------------------------------------------------


@_styled
def bars_svg(
    name: str,
    title: str,
    tables: Sequence[str],
    series: Mapping[str, Sequence[float]],
    *,
    ylabel: str = "",
    stacked: bool = False,
    references: Mapping[str, Sequence[float]] | None = None,
    colours: Mapping[str, str] | None = None,
) -> str:
    """Bars per table (x), one bar per series (grouped, or stacked).

    ``references`` draws a short horizontal tick per table on the series of that name
    (a BATNA, for instance).
    """
    n_tables = len(tables)
    names = list(series)
    legend_rows = math.ceil((len(names) + (1 if references else 0)) / 2) if len(names) > 1 else 0
    per_table = 0.9 if stacked or len(names) <= 1 else 0.42 * len(names)
    fig = _figure(min(12.0, max(5.6, 1.4 + n_tables * per_table)), 3.4 + 0.3 * legend_rows)
    ax = fig.add_subplot()
    palette = colours or {}
    width = 0.8 if stacked or len(names) <= 1 else 0.8 / len(names)
    bottoms = [0.0] * n_tables
    for k, label in enumerate(names):
        values = [float(v) for v in series[label]]
        colour = palette.get(label, SERIES[k % len(SERIES)])
        if stacked:
            xs: list[float] = list(range(n_tables))
            bars = ax.bar(xs, values, width, bottom=bottoms, label=label, color=colour, zorder=2)
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        else:
            offset = (k - (len(names) - 1) / 2) * width
            xs = [i + offset for i in range(n_tables)]
            bars = ax.bar(xs, values, width * 0.92, label=label, color=colour, zorder=2)
            ax.bar_label(bars, [f"{v:g}" for v in values], padding=2, fontsize=8)
        if references and label in references:
            for x, ref in zip(xs, references[label], strict=True):
                ax.hlines(
                    ref, x - width / 2, x + width / 2, colors="#1d2330", linewidth=2, zorder=3
                )
    if stacked:
        for i, total in enumerate(bottoms):
            ax.annotate(
                f"{total:g}",
                (i, total),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
    ax.set_xticks(range(n_tables), [_wrap(t, 16) for t in tables], fontsize=8.5)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.axhline(0, color="#9aa3ad", linewidth=0.8)
    ax.grid(axis="y", color="#e6e9ed", linewidth=0.8, zorder=0)
    ax.margins(y=0.15)
    handles, labels = ax.get_legend_handles_labels()
    if references:
        handles.append(Line2D([], [], color="#1d2330", linewidth=2))
        labels.append("BATNA")
    if len(names) > 1 or references:
        fig.legend(
            handles,
            [_wrap(label, 34) for label in labels],
            loc="outside lower center",
            ncol=2 if len(labels) > 3 else len(labels),
            fontsize=8.5,
        )
    return svg_of(fig, name, title)


# -- the utility plane (two delegations) -------------------------------------------------------

#: Colours of the plane's reference marks.
FRONTIER = "#1d2330"
ZOPA = "#009E73"
NO_DEAL = "#7a7a7a"
#: Marker shapes of the two dances (shape as well as colour tells them apart in print).
DANCE_MARKERS = ("o", "s")
#: Above this many offers the plane leaves out the offer numbers beside the marks.
LABELLED_OFFERS = 60


@dataclass(frozen=True)
class Mark:
    """A point on the utility plane: what it says on hover, and the transcript row
    (``seq``) it links to, if any."""

    x: float
    y: float
    title: str
    seq: int | None = None
    #: Where the mark links to, if not to the transcript row of ``seq``.
    href: str | None = None

    @property
    def link(self) -> str | None:
        """The mark's link: ``href``, else its transcript row, else none."""
        return self.href or (None if self.seq is None else f"#e{self.seq}")


@dataclass(frozen=True)
class Dance:
    """One delegation's offers, in the order it made them."""

    label: str
    colour: str
    offers: Sequence[Mark]
    #: Whether a line joins the marks in order (a path in time), or they stand alone.
    joined: bool = True


@dataclass(frozen=True)
class Plane:
    """What the utility plane of two delegations shows: x is the first one's score,
    y the second's."""

    names: tuple[str, str]
    colours: tuple[str, str]
    batnas: tuple[int, int]
    #: The Pareto frontier, as (x, y) points.
    frontier: Sequence[tuple[int, int]]
    dances: Sequence[Dance] = ()
    nash: Mark | None = None
    kalai: Mark | None = None
    outcome: Mark | None = None
    deal: bool = False
    #: The Nash mark's legend entry ("Nash and Kalai point" when they are one outcome).
    nash_label: str = "Nash point"


def zopa_polygon(
    frontier: Sequence[tuple[int, int]], batnas: tuple[int, int]
) -> list[tuple[int, int]]:
    """The zone of possible agreement as a polygon: the part of the plane at or above both
    BATNAs and under the frontier's staircase (empty when no frontier point is in it)."""
    bx, by = batnas
    kept = sorted({(x, y) for x, y in frontier if x >= bx and y >= by})
    if not kept:
        return []
    polygon = [(bx, by), (bx, kept[0][1])]
    for (x, y), (_, next_y) in zip(kept, [*kept[1:], (0, by)], strict=True):
        polygon += [(x, y), (x, next_y)]
    return polygon


def _plane_limits(plane: Plane) -> tuple[tuple[float, float], tuple[float, float]]:
    """Square limits (one point of score is as long on both axes) around what matters:
    the BATNAs, the zone of possible agreement, the offers and the marked points."""
    points: list[tuple[float, float]] = [plane.batnas]
    zopa = [(x, y) for x, y in plane.frontier if x >= plane.batnas[0] and y >= plane.batnas[1]]
    if not zopa and plane.frontier:  # no zone: show the frontier point nearest the BATNAs
        zopa = [min(plane.frontier, key=lambda p: math.dist(p, plane.batnas))]
    points += zopa
    points += [(m.x, m.y) for d in plane.dances for m in d.offers]
    points += [(m.x, m.y) for m in (plane.nash, plane.kalai, plane.outcome) if m is not None]
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 4.0) * 1.18 + 1
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
    return (cx - span / 2, cx + span / 2), (cy - span / 2, cy + span / 2)


@_styled
def utility_plane_svg(plane: Plane, name: str = "value", description: str | None = None) -> str:
    """The utility plane of two delegations: the Pareto frontier (a staircase), the BATNA
    lines, the zone of possible agreement shaded, the Nash and Kalai points, each
    delegation's offers as its path in time (the negotiation dance), and the outcome.

    Every offer's mark links to its transcript row (``#e<seq>``) and names the offer on
    hover (an SVG ``<title>``); the Nash, Kalai and outcome marks name themselves too.
    """
    fig = _figure(6.6, 6.9)
    ax = fig.add_subplot()
    (x0, x1), (y0, y1) = _plane_limits(plane)
    far = 10 * (x1 - x0)
    bx, by = plane.batnas

    polygon = zopa_polygon(plane.frontier, plane.batnas)
    if polygon:
        (zone,) = ax.fill(
            [p[0] for p in polygon],
            [p[1] for p in polygon],
            color=ZOPA,
            alpha=0.16,
            linewidth=0,
            label="zone of possible agreement",
            zorder=1,
        )
        zone.set_gid("zopa")
    if plane.frontier:
        steps = sorted(set(plane.frontier))
        xs = [steps[0][0] - far, *(p[0] for p in steps), steps[-1][0]]
        ys = [steps[0][1], *(p[1] for p in steps), steps[-1][1] - far]
        (line,) = ax.step(
            xs, ys, where="pre", color=FRONTIER, linewidth=1.3, label="Pareto frontier", zorder=2
        )
        line.set_gid("frontier")
        ax.scatter([p[0] for p in steps], [p[1] for p in steps], s=9, color=FRONTIER, zorder=2)
    ax.axvline(
        bx,
        color=plane.colours[0],
        linestyle="--",
        linewidth=1.1,
        label=f"{plane.names[0]} BATNA ({bx})",
        zorder=1,
    )
    ax.axhline(
        by,
        color=plane.colours[1],
        linestyle="--",
        linewidth=1.1,
        label=f"{plane.names[1]} BATNA ({by})",
        zorder=1,
    )

    by_link: dict[str, str] = {}
    by_id: dict[str, str] = {}
    labels: dict[tuple[float, float], list[int]] = defaultdict(list)
    for k, dance in enumerate(plane.dances):
        if not dance.offers:
            continue
        xs = [m.x for m in dance.offers]
        ys = [m.y for m in dance.offers]
        if dance.joined:
            ax.plot(xs, ys, color=dance.colour, linewidth=1.3, alpha=0.55, zorder=3)
        marks = ax.scatter(
            xs,
            ys,
            s=46,
            marker=DANCE_MARKERS[k % len(DANCE_MARKERS)],
            color=dance.colour,
            edgecolors="white",
            linewidths=0.7,
            label=dance.label,
            zorder=5,
        )
        marks.set_gid(f"dance-{k}")
        marks.set_urls([m.link for m in dance.offers])
        for m in dance.offers:
            if m.link is not None:
                by_link[m.link] = m.title
            if m.seq is not None:
                labels[(m.x, m.y)].append(m.seq)
    if sum(len(d.offers) for d in plane.dances) <= LABELLED_OFFERS:
        for (x, y), seqs in labels.items():
            shown = ", ".join(f"#{s}" for s in seqs[:3]) + ("…" if len(seqs) > 3 else "")
            ax.annotate(
                shown,
                (x, y),
                xytext=(5, 4),
                textcoords="offset points",
                fontsize=7,
                color="#333a44",
                zorder=6,
            )

    specials = (
        ("nash", plane.nash, "D", "white", FRONTIER, 70, plane.nash_label),
        ("kalai", plane.kalai, "s", "white", "#6a3d9a", 60, "Kalai point"),
        (
            "outcome",
            plane.outcome,
            "*" if plane.deal else "X",
            AGREEMENT if plane.deal else NO_DEAL,
            "#0b5d46" if plane.deal else "white",
            260 if plane.deal else 130,
            "agreed outcome" if plane.deal else "no deal (both BATNAs)",
        ),
    )
    for gid, mark, marker, face, edge, size, label in specials:
        if mark is None:
            continue
        point = ax.scatter(
            [mark.x],
            [mark.y],
            s=size,
            marker=marker,
            facecolors=face,
            edgecolors=edge,
            linewidths=1.6 if face == "white" else 0.8,
            label=label,
            zorder=4,  # under the offers: an agreed offer's mark stays visible on the star
        )
        point.set_gid(gid)
        if mark.link is not None:
            point.set_urls([mark.link])
            by_link[mark.link] = mark.title
        else:
            by_id[f"{name}-{gid}"] = mark.title

    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_xlabel(f"{plane.names[0]} score")
    ax.set_ylabel(f"{plane.names[1]} score")
    ax.grid(color="#eef0f3", linewidth=0.8, zorder=0)
    fig.legend(loc="outside lower center", ncol=2, fontsize=8.5, handletextpad=0.4)
    svg = svg_of(
        fig,
        name,
        description
        or f"Utility plane: {plane.names[0]}'s and {plane.names[1]}'s scores of every offer, "
        "with the Pareto frontier, the BATNAs, the zone of possible agreement, the Nash "
        "point and the outcome",
    )
    return _titled(svg, by_link, by_id)


_LINK = re.compile(r'<a xlink:href="(#[\w-]+)"(?: target="_blank")?>')


def _titled(svg: str, by_link: Mapping[str, str], by_id: Mapping[str, str]) -> str:
    """Give marks their hover text: a ``<title>`` first inside each link (by its address)
    and inside each group (by its id). Links stay in the page (matplotlib's
    ``target="_blank"`` is dropped). Every title is escaped."""

    def link(match: re.Match[str]) -> str:
        href = match.group(1)
        title = by_link.get(href)
        hover = f"<title>{escape(title, quote=False)}</title>" if title else ""
        return f'<a xlink:href="{href}">{hover}'

    svg = _LINK.sub(link, svg)
    for gid, title in by_id.items():
        opening = f'<g id="{gid}">'
        svg = svg.replace(opening, f"{opening}<title>{escape(title, quote=False)}</title>", 1)
    return svg
