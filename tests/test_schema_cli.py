"""`parley schema`: the JSON Schema of the `parley-log/1` export on standard output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.review.schema import export_schema

PARLEY = Path(sys.executable).parent / "parley"


def test_schema_prints_the_export_schema_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    """`parley schema` exits 0 and prints exactly `export_schema()` as indented JSON."""
    assert main(["schema"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out) == export_schema()
    assert out == json.dumps(export_schema(), indent=2) + "\n"
    assert err == ""


def test_schema_runs_as_a_process_and_is_listed_in_help() -> None:
    """The installed `parley schema` prints valid JSON on stdout, and `--help` names it."""
    run = subprocess.run(
        [str(PARLEY), "schema"], capture_output=True, text=True, timeout=60, check=False
    )
    assert run.returncode == 0, run.stderr
    schema = json.loads(run.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["format"]["const"] == "parley-log/1"
    helped = subprocess.run(
        [str(PARLEY), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert "schema" in helped.stdout
