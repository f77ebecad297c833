"""The words of Parley's announcements, from ``prompts/parley/announcements.toml``."""

from __future__ import annotations

import string
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from bot import paths

#: Every announcement and the names its template may use.
FIELDS: dict[str, set[str]] = {
    "opening": {"title", "scenario", "variant", "background"},
    "opening_practice": {"title", "scenario", "variant", "background"},
    "turn": {"mentions", "round", "delegation", "deadline"},
    "reminder": {"mentions", "deadline"},
    "statement": {"name", "delegation", "text"},
    "accepted": {"delegation", "offer"},
    "accepted_waiting": {"delegation", "offer", "progress"},
    "progress": {"accepted", "still"},
    "progress_nobody": set(),
    "progress_waiting": {"delegations"},
    "progress_more": {"count", "delegations"},
    "progress_waiting_and_more": {"waiting", "count", "delegations"},
    "agreement": {"offer", "items"},
    "rejected": {"name", "offer"},
    "rejected_with_reason": {"name", "offer", "reason"},
    "passed": {"delegation"},
    "expired": {"delegation"},
    "walked_away": {"name", "delegation"},
    "paused": set(),
    "paused_idle": {"mentions"},
    "fresh_clock": {"delegation", "deadline"},
    "resumed": set(),
    "extended": {"minutes"},
    "undone": {"events"},
    "inject": {"title"},
    "closed": {"reason"},
    "closed_heading": set(),
    "nothing_agreed": set(),
    "closed_footer": set(),
    "reason_walked_away": set(),
    "reason_max_rounds": set(),
    "reason_package_agreed": set(),
    "reason_all_agreed": set(),
    "reason_facilitator": set(),
    "score": {"delegation", "score", "batna", "verdict"},
    "verdict_above": set(),
    "verdict_at": set(),
    "verdict_below": set(),
    "score_no_deal": {"delegation", "batna"},
    "room_notice": {"caucus"},
    "caucus_recorded": set(),
    "caucus_not_recorded": set(),
    "brief_heading": {"delegation"},
    "rooms_failed": {"problem"},
    "rooms_unavailable": {"problem"},
    "channel_refused": {"channel", "problem"},
    "seated": {"delegation", "seconds"},
    "unseated": {"delegation"},
    "unseated_to": {"delegation", "name"},
    "closed_footer_practice": set(),
    "practice_intro": {"mention", "delegation", "others"},
    "strategy_question": set(),
    "guess_right": {"strategy", "how"},
    "guess_wrong": {"guess", "strategy", "how"},
    "strategy_boulware": set(),
    "strategy_linear": set(),
    "strategy_conceder": set(),
    "strategy_tit-for-tat": set(),
    "practice_score": {"score", "batna"},
    "practice_no_deal": {"batna"},
    "practice_nash": {"nash", "nash_other", "other"},
    "practice_no_nash": set(),
    "practice_left": {"left"},
    "practice_on_frontier": set(),
    "practice_off_frontier": {"distance"},
}

FILE = Path("parley") / "announcements.toml"


class AnnouncementsError(Exception):
    """The announcements file is missing an entry or uses an unknown name."""


def check(templates: dict[str, Any], where: Path | str) -> dict[str, str]:
    """The templates, if each one is there and uses only the names it may."""
    problems = []
    for key, allowed in FIELDS.items():
        template = templates.get(key)
        if not isinstance(template, str):
            problems.append(f"{key}: missing (a text is needed)")
            continue
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(template) if name}
        except ValueError as exc:
            problems.append(f"{key}: {exc} (write {{{{ and }}}} for literal braces)")
            continue
        if used - allowed:
            problems.append(
                f"{key}: unknown {', '.join(sorted(used - allowed))}; it may use "
                f"{', '.join(sorted(allowed)) or 'no names'}"
            )
    problems += [
        f"{key}: not an announcement Parley makes" for key in templates if key not in FIELDS
    ]
    if problems:
        raise AnnouncementsError("\n".join(f"{where}: {p}" for p in problems))
    return {key: templates[key] for key in FIELDS}


@cache
def templates(prompts_dir: Path | None = None) -> dict[str, str]:
    """The checked templates (read once)."""
    path = (prompts_dir or paths.PROMPTS_DIR) / FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise AnnouncementsError(f"{path}: {exc}") from None
    return check(data, path)


def say(key: str, **values: object) -> str:
    """An announcement in the file's words."""
    return templates()[key].format(**values)
