"""Bad input on the `parley` command line: one line on standard error saying what is wrong
and what would work, exit 1 for a failure and 2 for a usage error, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OPENED = "instructor: session open scenario=hanoi-2019 title=Errors\n"


def parley_many(
    *runs: tuple[list[str], dict[str, str]], cwd: Path
) -> list[subprocess.CompletedProcess[str]]:
    """Run `python -m bot.cli ARGS` for each (args, extra environment) at once."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PARLEY_"))}
    procs = [
        (
            args,
            subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *args],
                env={**clean, **env},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for args, env in runs
    ]
    done = []
    for args, proc in procs:
        out, err = proc.communicate(timeout=60)
        done.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return done


def parley(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run one `python -m bot.cli ARGS` with extra environment variables."""
    [run] = parley_many((list(args), env), cwd=cwd)
    return run


def one_line(run: subprocess.CompletedProcess[str], code: int) -> str:
    """Check the run failed with ``code``, one line on stderr, nothing on stdout."""
    assert run.returncode == code, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("parley"), run.stderr
    assert run.stdout == ""
    return run.stderr


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log holding one table (id 1), opened with `parley play`."""
    path = tmp_path_factory.mktemp("errors") / "one.db"
    subprocess.run(
        [sys.executable, "-m", "bot.cli", "play", "--db", str(path)],
        input=OPENED,
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=60,
    )
    return path


# -- demo ---------------------------------------------------------------------------------


def test_demo_without_its_scenario_says_where_it_looked(tmp_path: Path) -> None:
    """PARLEY_RULES_DIR on an empty or missing folder: exit 1, naming it and the fix."""
    (tmp_path / "empty").mkdir()
    empty, missing = parley_many(
        (["demo", "--db", "d.db"], {"PARLEY_RULES_DIR": str(tmp_path / "empty")}),
        (["demo", "--db", "d.db"], {"PARLEY_RULES_DIR": str(tmp_path / "nowhere")}),
        cwd=tmp_path,
    )
    for run, folder in ((empty, "empty"), (missing, "nowhere")):
        message = one_line(run, 1)
        assert f"no hanoi-2019 scenario in {tmp_path / folder}" in message
        assert "PARLEY_RULES_DIR" in message
    assert "does not exist" in missing.stderr
    assert not (tmp_path / "d.db").exists()


def test_demo_without_its_script_names_the_missing_file(tmp_path: Path) -> None:
    """Prompts without demo.play (or none at all): exit 1, naming the file and the setting."""
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", prompts)
    (prompts / "hanoi-2019" / "demo.play").unlink()
    (tmp_path / "empty").mkdir()
    no_script, no_prompts = parley_many(
        (["demo", "--db", "d.db"], {"PARLEY_PROMPTS_DIR": str(prompts)}),
        (["demo", "--db", "d.db"], {"PARLEY_PROMPTS_DIR": str(tmp_path / "empty")}),
        cwd=tmp_path,
    )
    message = one_line(no_script, 1)
    assert f"prompts.demo: prompt file not found: {prompts / 'hanoi-2019' / 'demo.play'}" in (
        message
    )
    assert "PARLEY_PROMPTS_DIR" in message
    message = one_line(no_prompts, 1)
    assert "prompt file not found" in message and "more; `parley check " in message
    assert not (tmp_path / "d.db").exists()


# -- export -------------------------------------------------------------------------------


def test_export_to_an_unknown_suffix_names_the_suffixes_that_work(db: Path, tmp_path: Path) -> None:
    """`-o report.txt` is a usage error (exit 2) naming the suffixes and --format."""
    txt, forced = parley_many(
        (["export", "1", "--db", str(db), "-o", "report.txt"], {}),
        (["export", "1", "--db", str(db), "-o", "forced.txt", "--format", "json"], {}),
        cwd=tmp_path,
    )
    message = one_line(txt, 2)
    assert "'.txt'" in message and ".html, .md, .json or .csv" in message
    assert "--format" in message
    assert not (tmp_path / "report.txt").exists()
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "forced.txt").read_text(encoding="utf-8").startswith("{")


def test_export_of_an_unknown_table_points_to_parley_tables(db: Path, tmp_path: Path) -> None:
    """`parley export 999`: exit 1, no table 999, and `parley tables` lists them."""
    message = one_line(parley("export", "999", "--db", str(db), cwd=tmp_path), 1)
    assert "there is no table 999" in message
    assert f"`parley tables --db {db}` lists the tables" in message


def test_export_from_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    """Exporting from a file that does not exist says so, exit 1, and leaves no file."""
    message = one_line(parley("export", "1", "--db", "typo.db", cwd=tmp_path), 1)
    assert "there is no database typo.db" in message and "--db" in message
    assert not (tmp_path / "typo.db").exists()


def test_export_to_a_missing_folder_says_it_cannot_write(db: Path, tmp_path: Path) -> None:
    """`-o` into a folder that does not exist: exit 1, naming the file."""
    out = tmp_path / "nowhere" / "report.html"
    message = one_line(parley("export", "1", "--db", str(db), "-o", str(out), cwd=tmp_path), 1)
    assert f"cannot write {out}" in message


# -- the database and the settings -----------------------------------------------------------


def test_a_database_that_cannot_be_opened(tmp_path: Path) -> None:
    """A folder, a missing folder or a non-SQLite file as --db: one line each, exit 1."""
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.db").write_text("not a database\n", encoding="utf-8")
    bad = {
        "folder": "folder: cannot use a folder as the database",
        str(tmp_path / "nowhere" / "x.db"): f"there is no folder {tmp_path / 'nowhere'}",
        "notes.db": "notes.db: cannot use this database: it is not an SQLite file",
    }
    runs = [
        ([*command, "--db", path], {})
        for path in bad
        for command in (["tables"], ["play"], ["demo"], ["export", "1"])
    ]
    results = parley_many(*runs, cwd=tmp_path)
    for (args, _), run in zip(runs, results, strict=True):
        message = one_line(run, 1)
        expected = bad[args[-1]]
        if args[0] == "export" and "nowhere" in args[-1]:
            expected = "there is no database"  # reading never creates a file
        assert expected in message and "--db" in message, (args, message)
    assert (tmp_path / "notes.db").read_text(encoding="utf-8") == "not a database\n"


def test_a_bad_setting_is_one_line_naming_it(tmp_path: Path) -> None:
    """PARLEY_LOG_LEVEL=loud: exit 2, one line naming the setting and the levels there are."""
    message = one_line(parley("tables", cwd=tmp_path, PARLEY_LOG_LEVEL="loud"), 2)
    assert "PARLEY_LOG_LEVEL" in message and "DEBUG, INFO" in message
