"""Where Parley finds its scenarios and prompts."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Scenario files (``rules/*.toml``); ``PARLEY_RULES_DIR`` points elsewhere.
RULES_DIR = Path(os.environ.get("PARLEY_RULES_DIR", ROOT / "rules"))

#: Prompt files (briefs, injects, announcements); ``PARLEY_PROMPTS_DIR`` points elsewhere.
PROMPTS_DIR = Path(os.environ.get("PARLEY_PROMPTS_DIR", ROOT / "prompts"))
