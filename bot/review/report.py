"""The HTML report of one table: a single self-contained page built from the export.

The page needs nothing but itself: the stylesheet is inlined from ``templates/``, the
charts are inline SVG drawn by matplotlib (:mod:`bot.review.charts`), there is no script,
and a Content-Security-Policy forbids any request, so it opens offline and prints as it is.
Everything that users wrote (names, titles, notes, statements) is HTML-escaped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from html import escape
from pathlib import Path
from typing import Any

from bot import paths
from bot.analysis import Move, Space
from bot.domain import events as ev
from bot.domain.scenario import Scenario
from bot.review import charts
from bot.review.export import joint_statement
from bot.review.narrate import delegation_name, describe
from bot.review.schema import ExportedEvent, parse_events
from bot.review.value import space_for

TEMPLATES = Path(__file__).parent / "templates"

#: No request may leave the page: styles inline, images only as data: URLs, no scripts.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

CLOSE_REASONS = {
    "walked_away": "a delegation walked away",
    "max_rounds": "the last round ended",
    "package_agreed": "the package was agreed",
    "all_agreed": "every item was agreed",
    "facilitator": "ended by the facilitator",
}

#: Turn actions a player takes (counted as "actions" in participation).
ACTIONS = (ev.OfferTabled, ev.OfferAccepted, ev.OfferRejected, ev.TurnPassed, ev.WalkedAway)
STATEMENTS = (ev.Statement, ev.CaucusMessage)
#: Events about the table rather than the negotiation (shown muted in the transcript).
ADMIN = (
    ev.TableOpened,
    ev.MemberJoined,
    ev.MemberLeft,
    ev.MemberAssigned,
    ev.TableStarted,
    ev.TablePaused,
    ev.TableResumed,
    ev.DeadlineExtended,
    ev.ReminderSent,
    ev.TurnExpired,
)


def esc(value: object) -> str:
    """HTML-escape any value's text (quotes too, so it is safe in attributes)."""
    return escape(str(value), quote=True)


@cache
def stylesheet() -> str:
    """The review pages' CSS (``templates/report.css``)."""
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


def html_page(title: str, header: str, body: str, footer: str, extra_css: str = "") -> str:
    """A whole self-contained HTML document."""
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="Parley">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{esc(title)}</title>\n"
        f"<style>\n{stylesheet()}{extra_css}</style>\n</head>\n<body>\n"
        f"{header}\n<main>\n{body}\n</main>\n{footer}\n</body>\n</html>\n"
    )


def delegation_colour(scenario: Scenario, delegation_id: str) -> str:
    """The delegation's colour on every page and chart (by its place in the scenario)."""
    ids = [d.id for d in scenario.delegations]
    index = ids.index(delegation_id) if delegation_id in ids else len(ids)
    return charts.SERIES[index % len(charts.SERIES)]


def delegation_css(scenario: Scenario) -> str:
    """One colour per delegation, as ``.d-ID { --dc: colour }`` rules."""
    return "".join(
        f".d-{d.id}{{--dc:{delegation_colour(scenario, d.id)}}}\n" for d in scenario.delegations
    )


def when(iso: str | None) -> str:
    """An ISO 8601 UTC time as ``YYYY-MM-DD HH:MM UTC`` (or a dash)."""
    if not iso:
        return "—"
    return f"{iso[:10]} {iso[11:16]} UTC"


def variant_title(scenario: Scenario, variant: str) -> str:
    """The variant's title from the scenario, or its name."""
    found = scenario.variants.get(variant)
    return found.title if found and found.title else variant


def outcome_text(export: dict[str, Any]) -> str:
    """How the table ended, in words."""
    outcome = export["outcome"]
    if outcome["phase"] != "closed":
        return f"not closed ({outcome['phase']})"
    reason = outcome.get("reason") or ""
    return CLOSE_REASONS.get(reason, reason or "closed")


def agreements_count(export: dict[str, Any]) -> int:
    """How many agreements the table reached (undone ones excluded)."""
    return len({a["agreement_seq"] for a in export["outcome"]["agreed"]})


# -- a tiny, safe Markdown renderer ---------------------------------------------------------

_LIST_ITEM = re.compile(r"^\s{0,3}([-*+]|\d{1,9}[.)])\s+(.*)$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


def _inline(text: str) -> str:
    """Escape, then code spans, strong and emphasis; links keep their text and address."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if len(part) > 2 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{esc(part[1:-1])}</code>")
            continue
        html = esc(part)
        html = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", r"\1 (\2)", html)
        html = re.sub(r"\*\*(?=\S)(.+?)(?<=\S)\*\*", r"<strong>\1</strong>", html)
        html = re.sub(r"__(?=\S)(.+?)(?<=\S)__", r"<strong>\1</strong>", html)
        html = re.sub(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])", r"<em>\1</em>", html)
        html = re.sub(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])", r"<em>\1</em>", html)
        out.append(html)
    return "".join(out)


def markdown_to_html(text: str, heading_offset: int = 2) -> str:
    """Render a small, safe subset of Markdown: headings, lists, paragraphs, quotes, code.

    Every character of the source is escaped; the only tags in the output are the ones
    this function writes. Headings move down by ``heading_offset`` levels (a ``#`` in a
    prompt file sits under the page's own ``<h2>``).
    """
    blocks: list[str] = []
    paragraph: list[str] = []
    quote: list[str] = []
    items: list[list[str]] = []
    list_tag = ""
    list_start = 1
    lines = text.replace("\r\n", "\n").split("\n")

    def flush() -> None:
        nonlocal items, list_tag
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if quote:
            blocks.append(f"<blockquote><p>{_inline(' '.join(quote))}</p></blockquote>")
            quote.clear()
        if items:
            start = f' start="{list_start}"' if list_tag == "ol" and list_start != 1 else ""
            lis = "".join(f"<li>{_inline(' '.join(item))}</li>" for item in items)
            blocks.append(f"<{list_tag}{start}>{lis}</{list_tag}>")
            items, list_tag = [], ""

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if _FENCE.match(line):
            flush()
            fence = stripped[:3]
            code: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(fence):
                code.append(lines[i])
                i += 1
            blocks.append(f"<pre><code>{esc(chr(10).join(code))}</code></pre>")
            i += 1
            continue
        if not stripped:
            flush()
        elif heading := _HEADING.match(line):
            flush()
            level = min(6, len(heading.group(1)) + heading_offset)
            blocks.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif item := _LIST_ITEM.match(line):
            marker, rest = item.groups()
            tag = "ul" if marker in "-*+" else "ol"
            if paragraph or quote or (items and tag != list_tag):
                flush()
            if not items:
                list_tag = tag
                list_start = int(marker[:-1]) if tag == "ol" else 1
            items.append([rest])
        elif stripped.startswith(">"):
            if paragraph or items:
                flush()
            quote.append(stripped.lstrip(">").strip())
        elif items:
            items[-1].append(stripped)
        elif quote:
            quote.append(stripped)
        else:
            paragraph.append(stripped)
        i += 1
    flush()
    return "\n".join(blocks)


def read_debrief(export: dict[str, Any], prompts_dir: Path | None = None) -> str | None:
    """The debrief questions the export's scenario names, if the prompt file is there."""
    name = export["scenario"].get("prompts", {}).get("debrief")
    if not name:
        return None
    kept = export.get("prompts", {}).get(name)
    if kept is not None:  # the table's own copy, from when it opened
        return str(kept)
    path = (prompts_dir or paths.PROMPTS_DIR) / str(name)
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return None


# -- the report ---------------------------------------------------------------------------------


def _header(export: dict[str, Any], scenario: Scenario, kicker: str) -> str:
    table = export["table"]
    facilitators = ", ".join(f["name"] for f in table["facilitators"]) or "—"
    variant = table["variant"]
    rules = variant_title(scenario, variant)
    if rules != variant:
        rules = f"{rules} ({variant})"
    fields = [
        ("Rules", rules),
        ("Opened", when(table["opened_at"])),
        ("Closed", when(table["closed_at"])),
        ("Facilitators", facilitators),
        ("Table", f"#{table['id']}"),
    ]
    items = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v)}</dd></div>" for k, v in fields)
    return (
        '<header class="page"><div>'
        f'<p class="kicker">{esc(kicker)}</p>'
        f"<h1>{esc(table['title'] or scenario.title)}</h1>"
        f'<p class="subtitle">{esc(scenario.title)}</p>'
        f"<dl>{items}</dl></div></header>"
    )


def _figures(export: dict[str, Any]) -> str:
    outcome = export["outcome"]
    refused = sum(outcome["refusals"].values())
    cards = [
        ("Outcome", outcome_text(export), ""),
        ("Rounds", str(outcome["rounds"]), ""),
        ("Agreements", str(agreements_count(export)), f"{len(outcome['agreed'])} items"),
        ("Joint gain", f"{outcome['joint_gain']:+d}", "sum of scores above BATNA"),
        ("Refused attempts", str(refused), f"{len(outcome['refusals'])} codes"),
        ("Events", str(len(export["events"])), "in the log"),
    ]
    return (
        '<div class="figures">'
        + "".join(
            f'<div class="figure"><div class="label">{esc(label)}</div>'
            f'<div class="value{"" if value[-1:].isdigit() else " text"}">{esc(value)}</div>'
            + (f'<div class="note">{esc(note)}</div>' if note else "")
            + "</div>"
            for label, value, note in cards
        )
        + "</div>"
    )


def _participants(export: dict[str, Any], scenario: Scenario) -> str:
    cards = []
    for d in scenario.delegations:
        people = [m for m in export["members"] if m["delegation"] == d.id]
        rows = (
            "".join(
                f'<li><span class="{"left" if m.get("left") else ""}">{esc(m["name"])}</span>'
                f'<span class="role">{esc(m["role"] or "member")}'
                f"{' · left' if m.get('left') else ''}</span></li>"
                for m in people
            )
            or '<li class="muted">nobody</li>'
        )
        cards.append(
            f'<div class="delegation d-{d.id}" data-delegation="{esc(d.id)}">'
            f"<h3>{esc(d.name)}</h3>"
            f'<div class="muted">BATNA {d.batna}'
            f"{'' if d.offers else ' · does not make offers'}</div><ul>{rows}</ul></div>"
        )
    observers = [m for m in export["members"] if m["delegation"] is None]
    if observers:
        rows = "".join(
            f'<li><span class="{"left" if m.get("left") else ""}">{esc(m["name"])}</span>'
            f'<span class="role">observer{" · left" if m.get("left") else ""}</span></li>'
            for m in observers
        )
        cards.append(
            '<div class="delegation"><h3>Observers</h3>'
            '<div class="muted">public channel only</div>'
            f"<ul>{rows}</ul></div>"
        )
    return (
        '<section class="card" id="participants"><h2>Participants</h2>'
        f'<div class="delegations">{"".join(cards)}</div></section>'
    )


def _timeline(export: dict[str, Any], scenario: Scenario, events: list[ExportedEvent]) -> str:
    return (
        '<section class="card" id="timeline"><h2>Timeline</h2>'
        f'<figure class="chart-box">{charts.timeline_svg(export, scenario, events)}'
        '<figcaption class="caption">Each row is a basket, in the order of the scenario; '
        "an offer is marked on every basket it touches, a refused attempt on the baskets of "
        "the items it named. A number beside a mark counts several in the same round. "
        "Undone actions are left out. Dashed lines: injects.</figcaption></figure></section>"
    )


def _statement(export: dict[str, Any]) -> str:
    parts = []
    for title, clauses in joint_statement(export):
        lis = "".join(f"<li>{esc(c)}</li>" for c in clauses)
        parts.append(f"<h3>{esc(title)}</h3><ol>{lis}</ol>")
    body = "".join(parts) or '<p class="muted">Nothing was agreed.</p>'
    return (
        '<section class="card" id="statement"><h2>Joint statement</h2>'
        f'<div class="statement">{body}</div></section>'
    )


def _scores(export: dict[str, Any], scenario: Scenario) -> str:
    outcome = export["outcome"]
    rows = []
    for delegation_id, s in outcome["scores"].items():
        margin = s["margin"]
        beats = s["beats_batna"]
        rows.append(
            f'<tr class="d-{esc(delegation_id)}" data-delegation="{esc(delegation_id)}" '
            f'data-score="{s["score"]}" data-batna="{s["batna"]}">'
            f"<th scope=row>{esc(delegation_name(scenario, delegation_id))}</th>"
            f'<td class="num">{s["score"]}</td><td class="num">{s["batna"]}</td>'
            f'<td class="num">{margin:+d}</td>'
            f'<td class="{"yes" if beats else "no"}">{"yes" if beats else "no"}</td></tr>'
        )
    return (
        '<section class="card" id="scores"><h2>Scores against BATNA</h2>'
        '<div class="table-wrap"><table class="scores"><thead><tr><th>Delegation</th>'
        '<th class="num">Score</th><th class="num">BATNA</th><th class="num">Margin</th>'
        "<th>Beats BATNA</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody>"
        f'<tfoot><tr><td colspan="3">Joint gain (sum of margins)</td>'
        f'<td class="num" data-joint-gain="{outcome["joint_gain"]}">'
        f"{outcome['joint_gain']:+d}</td><td></td></tr></tfoot></table></div>"
        '<p class="caption">A score is the sum of the delegation\'s private values of the '
        "agreed items; the BATNA is the value of no agreement. With nothing agreed, each "
        "side keeps its BATNA: no margin either way.</p></section>"
    )


def participation(
    export: dict[str, Any], events: list[ExportedEvent] | None = None
) -> list[dict[str, Any]]:
    """Per player: name, delegation, role, and counts of actions, statements, refusals.

    ``events``: the export's events if already parsed.
    """
    people: dict[str, dict[str, Any]] = {}
    for m in export["members"]:
        people[m["user_id"]] = {
            "user_id": m["user_id"],
            "name": m["name"],
            "delegation": m["delegation"],
            "role": m["role"] if m["delegation"] else "observer",
            "actions": 0,
            "statements": 0,
            "refusals": 0,
        }
    facilitators = {f["user_id"] for f in export["table"]["facilitators"]}
    for e in parse_events(export["events"] if events is None else events):
        actor = e.actor
        data = e.data
        column = (
            "actions"
            if isinstance(data, ACTIONS)
            else "statements"
            if isinstance(data, STATEMENTS)
            else "refusals"
            if isinstance(data, ev.ActionRefused)
            else None
        )
        if actor is None or column is None:
            continue
        person = people.get(actor.user_id)
        if person is None:
            person = people[actor.user_id] = {
                "user_id": actor.user_id,
                "name": actor.name,
                "delegation": actor.delegation,
                "role": "facilitator" if actor.user_id in facilitators else actor.role,
                "actions": 0,
                "statements": 0,
                "refusals": 0,
            }
        person[column] += 1
    return list(people.values())


def _participation(export: dict[str, Any], scenario: Scenario, events: list[ExportedEvent]) -> str:
    people = participation(export, events)
    rows = "".join(
        f'<tr data-user="{esc(p["user_id"])}" data-actions="{p["actions"]}" '
        f'data-statements="{p["statements"]}" data-refusals="{p["refusals"]}">'
        f"<th scope=row>{esc(p['name'])}</th>"
        f"<td>{esc(delegation_name(scenario, p['delegation']) if p['delegation'] else '—')}</td>"
        f"<td>{esc(p['role'] or '')}</td>"
        f'<td class="num">{p["actions"]}</td><td class="num">{p["statements"]}</td>'
        f'<td class="num">{p["refusals"]}</td></tr>'
        for p in people
    )
    chart_rows = [
        (
            f"{p['name']} ({delegation_name(scenario, p['delegation'])})"
            if p["delegation"]
            else f"{p['name']} ({p['role'] or 'observer'})",
            p["actions"],
            p["statements"],
            p["refusals"],
        )
        for p in people
    ]
    chart = charts.participation_svg(chart_rows) if people else ""
    return (
        '<section class="card" id="participation"><h2>Participation</h2>'
        '<div class="table-wrap"><table><thead><tr><th>Player</th><th>Delegation</th>'
        '<th>Role</th><th class="num">Turn actions</th><th class="num">Statements</th>'
        f'<th class="num">Refused</th></tr></thead><tbody>{rows}</tbody></table></div>'
        f'<figure class="chart-box">{chart}</figure>'
        '<p class="caption">Turn actions: offers, acceptances, rejections, passes and '
        "walk-outs (undone ones included). Statements include recorded caucus messages.</p>"
        "</section>"
    )


def _refusals(export: dict[str, Any], events: list[ExportedEvent]) -> str:
    refusals = export["outcome"]["refusals"]
    if not refusals:
        body = '<p class="muted">No attempt was refused.</p>'
    else:
        first_seen: dict[str, int] = {}
        for e in events:
            if isinstance(e.data, ev.ActionRefused):
                first_seen.setdefault(e.data.code, e.seq)
        rows = "".join(
            f'<tr data-code="{esc(code)}" data-count="{n}"><td><code>{esc(code)}</code></td>'
            f'<td class="num">{n}</td><td>'
            + (
                f'<a href="#e{first_seen[code]}">#{first_seen[code]}</a>'
                if code in first_seen
                else ""
            )
            + "</td></tr>"
            for code, n in sorted(refusals.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        body = (
            '<div class="table-wrap"><table class="refusals"><thead><tr><th>Code</th>'
            f'<th class="num">Count</th><th>First</th></tr></thead><tbody>{rows}</tbody>'
            f'<tfoot><tr><td>Total</td><td class="num">{sum(refusals.values())}</td>'
            "<td></td></tr></tfoot></table></div>"
        )
    return f'<section class="card" id="refusals"><h2>Refused attempts</h2>{body}</section>'


def _injects(events: list[ExportedEvent], rounds: list[int]) -> str:
    rows = []
    for e, round_ in zip(events, rounds, strict=True):
        if not isinstance(e.data, ev.EventInjected):
            continue
        actor = e.actor.name if e.actor else "Parley"
        rows.append(
            f'<tr><td class="num">{round_ or "—"}</td>'
            f"<td>{esc(e.data.title)}</td>"
            f"<td>{esc(actor)}</td>"
            f'<td><a href="#e{e.seq}">#{e.seq}</a></td></tr>'
        )
    if not rows:
        body = '<p class="muted">No event was injected at this table.</p>'
    else:
        body = (
            '<div class="table-wrap"><table><thead><tr><th class="num">Round</th>'
            "<th>Inject</th><th>Posted by</th><th>In the transcript</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>"
        )
    return f'<section class="card" id="injects"><h2>Injects</h2>{body}</section>'


def _link(seq: object) -> str:
    return f'<a href="#e{esc(seq)}">#{esc(seq)}</a>'


def _transcript(events: list[ExportedEvent], scenario: Scenario, rounds: list[int]) -> str:
    answered_by: dict[int, list[int]] = {}
    for e in events:
        if isinstance(e.data, ev.OfferTabled) and e.data.answers:
            answered_by.setdefault(e.data.answers, []).append(e.seq)
    stamps = [e.at_text for e in events]
    several_days = len({at[:10] for at in stamps}) > 1
    rows: list[str] = []
    for e, at, round_ in zip(events, stamps, rounds, strict=True):
        kind, data, seq = e.kind.value, e.data, e.seq
        classes = [f"k-{kind}"]
        badges: list[str] = []
        links: list[str] = []
        code_attr = ""
        match data:
            case ev.OfferTabled(answers=answers, revises=revises):
                if answers:
                    classes.append("counter")
                    badges.append('<span class="badge counter">counter-offer</span>')
                    links.append(f"answers {_link(answers)}")
                else:
                    classes.append("offer")
                    badges.append('<span class="badge offer">offer</span>')
                if revises:
                    links.append(f"revises {_link(revises)}")
                if seq in answered_by:
                    links.append("countered by " + ", ".join(_link(s) for s in answered_by[seq]))
            case ev.ActionRefused(code=code):
                classes.append("refused")
                code_attr = f' data-code="{esc(code)}"'
                badges.append(f'<span class="badge refused">✗ refused · {esc(code)}</span>')
            case ev.AgreementReached(offer=offer):
                classes.append("agreement")
                badges.append('<span class="badge agreement">agreement</span>')
                links.append(f"offer {_link(offer)}")
            case ev.OfferAccepted(offer=offer):
                links.append(f"offer {_link(offer)}")
            case ev.OfferRejected(offer=offer):
                badges.append('<span class="badge rejected">rejected</span>')
                links.append(f"offer {_link(offer)}")
            case ev.EventInjected():
                classes.append("inject")
                badges.append('<span class="badge inject">inject</span>')
            case ev.ActionReverted(reverts=reverts):
                links.append("undoes " + ", ".join(_link(s) for s in reverts))
            case _ if isinstance(data, ADMIN):
                classes.append("admin")
        if e.reverted_by:
            classes.append("reverted")
            badges.append('<span class="badge undone">undone</span>')
            links.append(f"undone by {_link(e.reverted_by)}")
        if e.actor and e.actor.delegation:
            classes.append(f"d-{e.actor.delegation}")
        time = f"{at[:10]} {at[11:19]}" if several_days else at[11:19]
        rows.append(
            f'<tr id="e{seq}" class="{esc(" ".join(classes))}" data-seq="{seq}" '
            f'data-kind="{esc(kind)}"{code_attr}>'
            f'<td class="seq"><a href="#e{seq}">{seq}</a></td>'
            f'<td class="round">{round_ or "–"}</td>'
            f'<td class="time"><time datetime="{esc(at)}">{esc(time)}</time></td>'
            f'<td class="what">{"".join(badges)}<span class="text">'
            f"{esc(describe(e, scenario))}</span>"
            + (f'<span class="links">({"; ".join(links)})</span>' if links else "")
            + "</td></tr>"
        )
    return (
        f'<section class="card" id="transcript"><h2>Transcript '
        f'<span class="count">{len(events)} events</span></h2>'
        '<div class="table-wrap"><table><thead><tr><th>#</th><th>Round</th>'
        "<th>Time (UTC)</th><th>What happened</th></tr></thead><tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></div></section>"
    )


# -- value (ANALYTICS.md) ---------------------------------------------------------------------

#: What each move class of ANALYTICS.md means, in words (``{other}``: who else is at the table).
MOVE_MEANING = {
    Move.SILENT: "no change for anyone",
    Move.NICE: "the same for itself, better for {other}",
    Move.FORTUNATE: "better for itself and for {other}",
    Move.SELFISH: "better for itself, not better for {other}",
    Move.CONCESSION: "worse for itself, not worse for {other}",
    Move.UNFORTUNATE: "not better for itself, worse for {other}",
}


def _and(parts: Sequence[str]) -> str:
    """``A``, ``A and B``, ``A, B and C``."""
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _points(n: int) -> str:
    return f"{n} point" if abs(n) == 1 else f"{n} points"


def _scores_text(scenario: Scenario, scores: Mapping[str, int]) -> str:
    """``United States 5, DPRK 3``."""
    return ", ".join(f"{delegation_name(scenario, d)} {v}" for d, v in scores.items())


def _variant(export: dict[str, Any]) -> str:
    return str(export["analysis"].get("variant") or export["table"]["variant"])


def offer_title(scenario: Scenario, offer: Mapping[str, Any]) -> str:
    """What an offer's mark says on hover: who made it, what it gives each side, its move."""
    move = offer.get("move") or "first offer"
    return (
        f"Offer #{offer['seq']} by {delegation_name(scenario, offer['delegation'])}: "
        f"{_scores_text(scenario, offer['scores'])} ({move})"
    )


def _change_in_words(scenario: Scenario, added: Sequence[str], removed: Sequence[str]) -> str:
    """``adding “X” (United States) for “Y” (DPRK) and leaving out “Z”``."""

    def titles(ids: Sequence[str]) -> list[str]:
        return [f"“{found.title if (found := scenario.item(i)) else i}”" for i in ids]

    parts = []
    if added:
        by_giver: dict[str, list[str]] = {}
        for item_id in added:
            item = scenario.item(item_id)
            by_giver.setdefault(item.giver if item else "", []).append(item_id)
        groups = [
            _and(titles(ids)) + (f" ({delegation_name(scenario, giver)})" if giver else "")
            for giver, ids in by_giver.items()
        ]
        parts.append("adding " + " for ".join(groups))
    if removed:
        parts.append("leaving out " + _and(titles(removed)))
    return " and ".join(parts)


def nearest_better(
    scenario: Scenario,
    scores: Mapping[str, int],
    agreed: Sequence[str],
    frontier: Sequence[Mapping[str, Any]],
) -> str:
    """How the frontier outcome that beats the deal with the fewest items changed would
    have done better, in words ("" when no frontier outcome beats it).

    ``frontier``: points as in the export (``{"items": [...], "scores": {...}}``).
    """
    mine = set(agreed)
    better = [
        p
        for p in frontier
        if all(p["scores"][d] >= v for d, v in scores.items())
        and any(p["scores"][d] > v for d, v in scores.items())
    ]
    if not better:
        return ""
    best = min(
        better,
        key=lambda p: (len(mine ^ set(p["items"])), -sum(p["scores"].values()), p["items"]),
    )
    order = {item.id: i for i, item in enumerate(scenario.items)}
    added = sorted(set(best["items"]) - mine, key=lambda i: order.get(i, len(order)))
    removed = sorted(mine - set(best["items"]), key=lambda i: order.get(i, len(order)))
    gainers = [d for d, v in scores.items() if best["scores"][d] > v]
    if len(gainers) == len(scores):
        who = "both sides more" if len(scores) == 2 else "every delegation more"
    else:
        same = [delegation_name(scenario, d) for d in scores if d not in gainers]
        who = (
            f"{_and([delegation_name(scenario, d) for d in gainers])} more and {_and(same)} as much"
        )
    return f"{_change_in_words(scenario, added, removed)} would have given {who}"


def value_sentences(
    export: dict[str, Any], scenario: Scenario, space: Callable[[], Space] | None = None
) -> list[str]:
    """Two or three plain sentences about the value the table made, to read aloud.

    ``space``: gives the outcome space of the table's rules, when a sentence needs more
    than the export's ``analysis`` holds (computed here if not given).
    """
    analysis = export["analysis"]
    space = space or cache(lambda: space_for(scenario, _variant(export)))
    outcome = analysis["outcome"]
    scores: dict[str, int] = outcome["scores"]
    n = len(scores)
    everyone = "both sides" if n == 2 else "every delegation"
    their = "their BATNAs" if n == 2 else "its BATNA"
    left = outcome["left_on_table"]
    best = analysis.get("max_joint_gain")
    agreed = [a["item"] for a in export["outcome"]["agreed"]]
    nash = analysis.get("nash")
    sentences: list[str] = []
    if agreed:
        if outcome["pareto_optimal"] and left <= 0:
            sentences.append(
                "The deal was Pareto-optimal and made the most joint gain possible "
                f"({_points(outcome['joint_gain'])}): nothing was left on the table."
            )
        elif outcome["pareto_optimal"]:
            sentences.append(
                "The deal was Pareto-optimal: no other outcome gives one side more without "
                f"giving another less. Yet it left {_points(left)} on the table: the most "
                f"joint gain possible is {best}, and this deal made {outcome['joint_gain']}."
            )
        else:
            frontier = analysis.get("frontier") or [p.to_json() for p in space().frontier]
            how = nearest_better(scenario, scores, agreed, frontier)
            sentences.append(
                f"This deal left {_points(left)} on the table" + (f": {how}." if how else ".")
            )
        below = [delegation_name(scenario, d) for d, g in outcome["gains"].items() if g < 0]
        if below:
            sentences.append(
                f"{_and(below)} ended below {'its' if len(below) == 1 else 'their'} BATNA."
            )
    else:
        table = space()
        beats = sum(
            count
            for vector, count in table.counts.items()
            if all(u > b for u, b in zip(vector, table.batnas, strict=True))
        )
        closed = export["outcome"]["phase"] == "closed"
        outcomes = f"{beats:,} outcome{'' if beats == 1 else 's'}"
        would = "would have" if closed else "would"
        if beats and closed:
            sentences.append(
                f"No deal was reached although {outcomes} {would} left {everyone} better off "
                f"than {their}: {_points(left)} of joint gain "
                f"{'was' if left == 1 else 'were'} left on the table."
            )
        elif beats:
            sentences.append(
                f"Nothing is agreed yet; {outcomes} {would} leave {everyone} better off than "
                f"{their} (up to {_points(best or 0)} of joint gain)."
            )
        elif table.zopa:
            sentences.append(
                ("No deal was reached" if closed else "Nothing is agreed yet")
                + f", and no outcome {would} leave {everyone} better off than {their}"
                + (f"; the best deal makes {_points(left)} of joint gain." if left else ".")
            )
        else:
            sentences.append(
                ("No deal was reached" if closed else "Nothing is agreed yet")
                + f", and none is possible: no outcome leaves {everyone} at or above {their}."
            )
    if nash:
        sentence = (
            "The Nash point, the outcome with the largest product of the gains over the "
            f"BATNAs, gives {_scores_text(scenario, nash['scores'])}"
        )
        if agreed:
            sentence += f"; this deal gave {_scores_text(scenario, scores)}"
        sentences.append(sentence + ".")
    elif agreed:
        sentences.append(
            f"No outcome leaves {everyone} at or above {their}, so there is no Nash point."
        )
    return sentences


def _value_plane(export: dict[str, Any], scenario: Scenario) -> str:
    """The utility plane of a two-delegation table, as a figure with its caption."""
    analysis = export["analysis"]
    outcome = analysis["outcome"]
    x_id, y_id = list(outcome["scores"])
    batnas = {d.id: d.batna for d in scenario.delegations}

    def at(scores: Mapping[str, int], title: str, seq: int | None = None) -> charts.Mark:
        return charts.Mark(scores[x_id], scores[y_id], title, seq)

    dances = [
        charts.Dance(
            f"offers by {delegation_name(scenario, d)}",
            delegation_colour(scenario, d),
            [
                at(o["scores"], offer_title(scenario, o), o["seq"])
                for o in sorted(analysis["offers"], key=lambda o: o["seq"])
                if o["delegation"] == d
            ],
        )
        for d in (x_id, y_id)
    ]
    nash, kalai = analysis.get("nash"), analysis.get("kalai")
    same = bool(nash and kalai and nash["scores"] == kalai["scores"])
    nash_name = "Nash and Kalai-Smorodinsky point" if same else "Nash point"
    agreements = export["outcome"]["agreements"]
    deal = bool(export["outcome"]["agreed"])
    if deal:
        outcome_title = (
            f"Outcome: {_scores_text(scenario, outcome['scores'])} "
            f"(agreed; joint gain {outcome['joint_gain']})"
        )
    else:
        nothing = "No deal" if export["outcome"]["phase"] == "closed" else "Nothing agreed yet"
        outcome_title = (
            f"{nothing}: each side keeps its BATNA ({_scores_text(scenario, outcome['scores'])})"
        )
    plane = charts.Plane(
        names=(delegation_name(scenario, x_id), delegation_name(scenario, y_id)),
        colours=(delegation_colour(scenario, x_id), delegation_colour(scenario, y_id)),
        batnas=(batnas.get(x_id, 0), batnas.get(y_id, 0)),
        frontier=[(p["scores"][x_id], p["scores"][y_id]) for p in analysis["frontier"]],
        dances=dances,
        nash=at(nash["scores"], f"{nash_name}: {_scores_text(scenario, nash['scores'])}")
        if nash
        else None,
        nash_label="Nash and Kalai point" if same else "Nash point",
        kalai=at(
            kalai["scores"], f"Kalai-Smorodinsky point: {_scores_text(scenario, kalai['scores'])}"
        )
        if kalai and not same
        else None,
        outcome=at(
            outcome["scores"], outcome_title, agreements[-1]["seq"] if deal and agreements else None
        ),
        deal=deal,
    )
    upper = (
        " Under the parallel rule any set of items counts: the frontier is an upper bound on "
        "what the offers could build."
        if analysis.get("upper_bound", analysis.get("sequencing") == "parallel")
        else ""
    )
    return (
        f'<figure class="chart-box plane">{charts.utility_plane_svg(plane)}'
        '<figcaption class="caption">Each mark is an offer, placed by what it gives each side '
        "(the items agreed so far plus the offer's items); a line joins each delegation's "
        "offers in time, numbered by their transcript rows. Hover over a mark to name it, "
        "click it to go to its row. The staircase is the Pareto frontier: no outcome lies "
        "beyond it. The shaded zone (the ZOPA) is at or above both BATNAs and under the "
        f"frontier.{esc(upper)}</figcaption></figure>"
    )


def _value_gains(export: dict[str, Any], scenario: Scenario, space: Callable[[], Space]) -> str:
    """Each delegation's gain against its best possible gain in the ZOPA (any number)."""
    outcome = export["analysis"]["outcome"]
    table = space()
    best = dict(zip(table.delegations, table.best_gains, strict=True))
    batnas = dict(zip(table.delegations, table.batnas, strict=True))
    rows = []
    for d, gain in outcome["gains"].items():
        most = best.get(d, 0)
        share = max(0.0, min(1.0, gain / most)) if most > 0 else None
        bar = (
            f'<span class="share"><span style="width:{share * 100:.0f}%"></span></span>'
            f"{share * 100:.0f}%"
            if share is not None
            else "—"
        )
        rows.append(
            f'<tr class="d-{esc(d)}" data-delegation="{esc(d)}" data-gain="{gain}" '
            f'data-best-gain="{most}">'
            f"<th scope=row>{esc(delegation_name(scenario, d))}</th>"
            f'<td class="num">{outcome["scores"][d]}</td><td class="num">{batnas.get(d, 0)}</td>'
            f'<td class="num">{gain:+d}</td><td class="num">{most:+d}</td>'
            f"<td>{bar}</td></tr>"
        )
    return (
        '<h3>Gains against the best possible</h3><div class="table-wrap">'
        '<table class="gains"><thead><tr><th>Delegation</th><th class="num">Score</th>'
        '<th class="num">BATNA</th><th class="num">Gain</th>'
        '<th class="num">Best possible gain</th><th>Share of the best</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="caption">A gain is the score minus the BATNA; the best possible gain is the '
        "most the delegation could get from any outcome that leaves every delegation at or "
        "above its BATNA.</p>"
    )


def _value_moves(export: dict[str, Any], scenario: Scenario) -> str:
    """The move classes of each delegation's offers (a delegation × class table)."""
    analysis = export["analysis"]
    delegations = list(analysis["outcome"]["scores"])
    counts: dict[str, Counter[str]] = {d: Counter() for d in delegations}
    for offer in analysis["offers"]:
        counts.setdefault(offer["delegation"], Counter())[offer["move"] or ""] += 1
    other = "the other side" if len(delegations) == 2 else "the others"
    head = "".join(
        f'<th class="num"><abbr title="{esc(meaning.format(other=other))}">{esc(move)}</abbr></th>'
        for move, meaning in MOVE_MEANING.items()
    )
    rows = "".join(
        f'<tr class="d-{esc(d)}" data-delegation="{esc(d)}">'
        f"<th scope=row>{esc(delegation_name(scenario, d))}</th>"
        f'<td class="num">{sum(c.values())}</td>'
        + "".join(f'<td class="num" data-move="{m}">{c[m]}</td>' for m in MOVE_MEANING)
        + "</tr>"
        for d, c in counts.items()
    )
    glossary = "; ".join(
        f"<strong>{esc(move)}</strong>: {esc(meaning.format(other=other))}"
        for move, meaning in MOVE_MEANING.items()
    )
    return (
        '<h3>Moves</h3><div class="table-wrap"><table class="moves"><thead><tr>'
        f'<th>Delegation</th><th class="num">Offers</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div>"
        '<p class="caption">Each offer after a delegation\'s first is a move from its previous '
        f"offer, classed by what it changes (undone offers left out): {glossary}.</p>"
    )


def _value(export: dict[str, Any], scenario: Scenario) -> str:
    """The Value section (ANALYTICS.md): sentences to read aloud, the key measures, the
    utility plane (two delegations) or the gains table (more), and the move classes."""
    analysis = export.get("analysis")
    if not analysis:
        return (
            '<section class="card" id="value"><h2>Value</h2><p class="muted">This export '
            "has no analysis of value (an older Parley made it): export the table again to "
            "see the frontier, the Nash point and the negotiation dance.</p></section>"
        )
    space = cache(lambda: space_for(scenario, _variant(export)))
    outcome = analysis["outcome"]
    readout = "".join(f"<p>{esc(s)}</p>" for s in value_sentences(export, scenario, space))
    distance_to_nash = outcome.get("distance_to_nash")
    best = analysis.get("max_joint_gain")
    measures = [
        ("Most joint gain possible", "—" if best is None else str(best), "max-joint-gain"),
        ("Joint gain made", str(outcome["joint_gain"]), "joint-gain"),
        ("Left on the table", str(outcome["left_on_table"]), "left-on-table"),
        ("Pareto-optimal", "yes" if outcome["pareto_optimal"] else "no", "pareto-optimal"),
        ("Distance to the frontier", f"{outcome['distance_to_frontier']:g}", "to-frontier"),
        (
            "Distance to Nash",
            "—" if distance_to_nash is None else f"{distance_to_nash:g}",
            "to-nash",
        ),
    ]
    figures = "".join(
        f'<div><dt>{esc(label)}</dt><dd data-measure="{key}">{esc(value)}</dd></div>'
        for label, value, key in measures
    )
    two = len(outcome["scores"]) == 2
    picture = _value_plane(export, scenario) if two else _value_gains(export, scenario, space)
    return (
        '<section class="card" id="value"><h2>Value</h2>'
        f'<div class="readout">{readout}</div>'
        f'<dl class="measures">{figures}</dl>'
        f"{picture}{_value_moves(export, scenario)}</section>"
    )


def _debrief(debrief_markdown: str | None) -> str:
    if not debrief_markdown:
        return ""
    return (
        '<section class="card debrief" id="debrief"><h2>Debrief questions</h2>'
        f"{markdown_to_html(debrief_markdown)}</section>"
    )


def render_report(export: dict[str, Any], debrief_markdown: str | None = None) -> str:
    """The HTML report of one table, as a whole self-contained document.

    ``export`` is the ``parley-log/1`` export dictionary; ``debrief_markdown`` the text
    of the scenario's debrief prompt (see :func:`read_debrief`), rendered at the end.
    """
    scenario = Scenario.model_validate(export["scenario"])
    table = export["table"]
    events = parse_events(export["events"])  # typed once, read by every section
    rounds = charts.event_rounds(events)
    sections = [
        ("participants", "Participants", _participants(export, scenario)),
        ("timeline", "Timeline", _timeline(export, scenario, events)),
        ("statement", "Joint statement", _statement(export)),
        ("scores", "Scores", _scores(export, scenario)),
        ("value", "Value", _value(export, scenario)),
        ("participation", "Participation", _participation(export, scenario, events)),
        ("refusals", "Refusals", _refusals(export, events)),
        ("injects", "Injects", _injects(events, rounds)),
        ("transcript", "Transcript", _transcript(events, scenario, rounds)),
        ("debrief", "Debrief", _debrief(debrief_markdown)),
    ]
    toc = "".join(f'<a href="#{sid}">{esc(label)}</a>' for sid, label, html in sections if html)
    body = (
        f'<nav class="toc" aria-label="Sections">{toc}</nav>'
        + _figures(export)
        + "\n".join(html for _, _, html in sections if html)
    )
    footer = (
        '<footer class="page">Made by Parley from the '
        f"{esc(export.get('format', 'parley-log/1'))} export of table #{esc(table['id'])} "
        f"({len(export['events'])} events). Times are UTC.</footer>"
    )
    title = f"{table['title'] or scenario.title} — Parley report"
    return html_page(
        title,
        _header(export, scenario, "Parley · table report"),
        body,
        footer,
        delegation_css(scenario),
    )
