"""Where Parley finds its scenarios and prompts.

The shipped ``rules/`` and ``prompts/`` are the top-level folders of a source checkout
(an editable install reads them there); a wheel carries a copy of them inside the
package, as ``bot/_shipped/rules`` and ``bot/_shipped/prompts`` (see pyproject.toml).
``PARLEY_RULES_DIR`` and ``PARLEY_PROMPTS_DIR`` (environment or ``.env``) point elsewhere.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from bot.settings import Folders

#: The folder holding the ``bot`` package: a source checkout's root.
ROOT = Path(__file__).resolve().parent.parent

#: Where a wheel puts the shipped folders, inside the ``bot`` package.
PACKAGED = "_shipped"


def shipped(name: Literal["rules", "prompts"]) -> Path:
    """The shipped ``rules`` or ``prompts`` folder: the wheel's copy, else the checkout's."""
    packaged = resources.files("bot") / PACKAGED / name
    # An installed wheel is a plain folder on disk (Parley does not run from a zip file).
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return ROOT / name


def rules_dir() -> Path:
    """Scenario files (``rules/*.toml``): ``PARLEY_RULES_DIR``, else the shipped ones."""
    chosen = Folders().rules_dir
    return chosen.expanduser() if chosen else shipped("rules")


def prompts_dir() -> Path:
    """Prompt files (briefs, injects, announcements): ``PARLEY_PROMPTS_DIR``, else shipped."""
    chosen = Folders().prompts_dir
    return chosen.expanduser() if chosen else shipped("prompts")


def __getattr__(name: str) -> Path:
    """``paths.RULES_DIR`` and ``paths.PROMPTS_DIR``, read from the settings when asked."""
    if name == "RULES_DIR":
        return rules_dir()
    if name == "PROMPTS_DIR":
        return prompts_dir()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
