"""One way from an export to any format (bot.review.render), the export and the report
importing neither the other's way back, and the pages' HTML kept in the templates."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from bot.review import export as exports
from bot.review.pages import environment
from bot.review.render import render

from .conftest import Played

REVIEW = Path(exports.__file__).parent


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_render_gives_every_format(fmt: str, tables: dict[str, Played]) -> None:
    """html, markdown, json and csv each come out as their own kind of text."""
    export = tables["demo"].export
    text = render(export, fmt)
    if fmt == "html":
        assert text.startswith("<!doctype html>") and 'id="debrief"' in text
    elif fmt == "json":
        assert json.loads(text)["format"] == exports.FORMAT
    elif fmt == "csv":
        assert text.startswith(",".join(exports.CSV_COLUMNS))
    else:
        assert text.startswith(f"# {export['table']['title']}")


def test_render_refuses_an_unknown_format(tables: dict[str, Played]) -> None:
    """An unknown format raises ValueError listing the formats."""
    with pytest.raises(ValueError, match="formats: html, markdown, json, csv"):
        render(tables["demo"].export, "pdf")


def test_the_export_does_not_import_the_report() -> None:
    """Importing the export (JSON, CSV, Markdown) loads neither the report nor matplotlib."""
    probe = (
        "import sys, bot.review.export; "
        "print(sorted(m for m in ('bot.review.report', 'bot.review.render', 'matplotlib') "
        "if m in sys.modules))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "[]"


def test_the_report_imports_the_export_for_constants_and_helpers_only() -> None:
    """report.py takes from export.py only what needs no rendering: names, no `render`."""
    tree = ast.parse((REVIEW / "report.py").read_text(encoding="utf-8"))
    taken = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "bot.review.export"
        for alias in node.names
    }
    assert taken <= {"FORMAT", "joint_statement"}


@pytest.mark.parametrize("module", ["report.py", "compare.py", "pages.py", "render.py"])
def test_no_html_in_python_strings(module: str) -> None:
    """The pages' markup lives in templates/: no string in these modules holds a tag."""
    tree = ast.parse((REVIEW / module).read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
    }
    tags = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and re.search(r"</?[a-z][a-z0-9]*[\s>/]", node.value)
    ]
    assert tags == []


def test_templates_escape_and_refuse_unknown_names() -> None:
    """What a template prints is escaped, and a name the model lacks is an error, not ""."""
    assert environment().from_string("{{ x }}").render(x="<b>&") == "&lt;b&gt;&amp;"
    with pytest.raises(UndefinedError):
        environment().from_string("{{ page.missing }}").render(page=object())
