"""Bad input on the `parley` command line: one line on standard error saying what is wrong
and what would work, exit 1 for a failure and 2 for a usage error, never a traceback."""

from __future__ import annotations

import os
import shutil
import sqlite3
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


# -- scenario files --------------------------------------------------------------------------

HANOI = (ROOT / "rules" / "hanoi-2019.toml").read_text(encoding="utf-8")


def test_check_refuses_turn_lengths_no_clock_can_count(tmp_path: Path) -> None:
    """turn_minutes or reminder_minutes of inf or 1e300 (base rules or a variant), or a turn
    under 30 s: `parley check` names the field, exit 1 (such a table's start was a
    traceback, or it paused itself at once)."""
    changes = {
        "inf.toml": ("turn_minutes = 10", "turn_minutes = inf"),
        "huge.toml": ("turn_minutes = 10", "turn_minutes = 1e300"),
        "reminder.toml": ("reminder_minutes = 2", "reminder_minutes = 99999999999999999999"),
        "variant.toml": ("[variants.package]\n", "[variants.package]\nturn_minutes = 1e20\n"),
        "short.toml": ("turn_minutes = 10", "turn_minutes = 1e-9"),
    }
    for name, (old, new) in changes.items():
        assert old in HANOI, old
        (tmp_path / name).write_text(HANOI.replace(old, new, 1), encoding="utf-8")
    run = parley("check", *changes, "--prompts", str(ROOT / "prompts"), cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 5, lines
    for name, line in zip(changes, lines, strict=True):
        assert line.startswith(f"{name}: "), line
        assert "minutes" in line, line
    assert all("less than or equal to" in line for line in lines[:4])
    assert "variants.package.turn_minutes" in lines[3]
    assert "at least 0.5 (30 seconds" in lines[4]


def test_check_reads_a_scenario_saved_with_a_byte_order_mark(tmp_path: Path) -> None:
    """A UTF-8 file starting with a byte order mark (Notepad's "UTF-8 with BOM") is valid."""
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + HANOI.encode("utf-8"))
    run = parley("check", "bom.toml", "--prompts", str(ROOT / "prompts"), cwd=tmp_path)
    assert run.returncode == 0, run.stdout
    assert run.stdout.startswith("bom.toml: ok")


def test_a_prompt_file_that_is_not_utf8_is_a_broken_scenario(tmp_path: Path) -> None:
    """A brief with a byte that is not UTF-8: `parley check` names the file (it said ok) and
    `parley demo` stops in one line (it was a traceback); no log is made."""
    prompts = tmp_path / "prompts"
    shutil.copytree(ROOT / "prompts", prompts)
    brief = prompts / "hanoi-2019" / "brief-us.md"
    brief.write_bytes(brief.read_bytes() + b"caf\xe9\n")
    hanoi = str(ROOT / "rules" / "hanoi-2019.toml")
    check, demo = parley_many(
        (["check", hanoi, "--prompts", str(prompts)], {}),
        (["demo", "--db", "d.db"], {"PARLEY_PROMPTS_DIR": str(prompts)}),
        cwd=tmp_path,
    )
    assert check.returncode == 1, check.stdout
    assert check.stdout == (
        f"{hanoi}: delegations[0].brief: prompt file is not UTF-8 text: {brief} "
        f"(byte 0xe9 at byte {len(brief.read_bytes()) - 2})\n"
    )
    message = one_line(demo, 1)
    assert "delegations[0].brief: prompt file is not UTF-8 text" in message
    assert "save that prompt file as UTF-8" in message
    assert not (tmp_path / "d.db").exists()


# -- table ids and output files ----------------------------------------------------------------


def test_a_table_id_larger_than_any_log_holds_is_no_table(db: Path, tmp_path: Path) -> None:
    """`parley export` or `compare` of a table id past SQLite's integers: no such table,
    exit 1 (it was an OverflowError traceback)."""
    huge = str(2**63)
    export, compare = parley_many(
        (["export", huge, "--db", str(db)], {}),
        (["compare", "1", huge, "--db", str(db)], {}),
        cwd=tmp_path,
    )
    assert f"there is no table {huge}" in one_line(export, 1)
    assert f"no table {huge}" in one_line(compare, 1)


def test_an_empty_output_name_is_one_line(db: Path, tmp_path: Path) -> None:
    """`parley export -o ''`: exit 1, the output file name is empty (it said "Is a
    directory")."""
    message = one_line(parley("export", "1", "--db", str(db), "-o", "", cwd=tmp_path), 1)
    assert "the output file name is empty" in message, message


def test_compare_to_a_file_it_cannot_write_says_so(tmp_path: Path) -> None:
    """`parley compare -o` a folder or into a missing folder: exit 1, naming the file."""
    db = tmp_path / "two.db"
    for _ in range(2):
        run = parley("demo", "--db", str(db), cwd=tmp_path)
        assert run.returncode == 0, run.stderr
    (tmp_path / "folder").mkdir()
    missing = tmp_path / "nowhere" / "page.html"
    folder, nowhere = parley_many(
        (["compare", "1", "2", "--db", str(db), "-o", "folder"], {}),
        (["compare", "1", "2", "--db", str(db), "-o", str(missing)], {}),
        cwd=tmp_path,
    )
    assert "cannot write folder" in one_line(folder, 1)
    assert f"cannot write {missing}" in one_line(nowhere, 1)


def _small_files(limit: int) -> None:
    """In the child: files may grow to ``limit`` bytes, as on a disk that is nearly full."""
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_an_export_that_cannot_be_written_whole_keeps_the_file_there(
    db: Path, tmp_path: Path
) -> None:
    """An export cut short by the disk (here a file size limit) fails in one line, exit 1,
    and the file already at -o keeps what it held (it was cut to what fitted)."""
    report = tmp_path / "report.html"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PARLEY_"))}
    # First without the limit: on a fresh machine matplotlib writes its font cache (larger
    # than the limit) on its first use, and would warn under the limit
    warm = [sys.executable, "-m", "bot.cli", "export", "1", "--db", str(db), "-o", str(report)]
    subprocess.run(warm, env=clean, cwd=tmp_path, capture_output=True, check=True, timeout=60)
    report.write_text("the report of last week\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "export", "1", "--db", str(db), "-o", str(report)],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: _small_files(40_000),
    )
    message = one_line(run, 1)
    assert f"cannot write {report}: File too large" in message
    assert report.read_text(encoding="utf-8") == "the report of last week\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_demo_whose_report_cannot_be_written_says_so_and_keeps_the_table(
    tmp_path: Path,
) -> None:
    """The demo's report path taken by a folder: exit 1 with one line on stderr naming it
    and `parley export`, and the table stays in the log."""
    (tmp_path / "d-table-1.html").mkdir()
    run = parley("demo", "--db", "d.db", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("parley demo: cannot write d-table-1.html: ")
    assert "parley export 1 --db d.db" in run.stderr
    assert "Seminar A" in parley("tables", "--db", "d.db", cwd=tmp_path).stdout


# -- databases SQLite keeps nothing of, and `parley run` -----------------------------------


def test_a_database_sqlite_would_not_keep_is_refused(tmp_path: Path) -> None:
    """--db :memory: or an empty PARLEY_DB: one line, exit 1, before anything is played (it
    was a traceback, or a log in a temporary file SQLite deletes)."""
    runs = [
        ([*command, "--db", ":memory:"], {})
        for command in (["tables"], ["play"], ["demo"], ["simulate", "hanoi-2019", "--runs", "1"])
    ]
    runs += [(["tables"], {"PARLEY_DB": ""}), (["play"], {"PARLEY_DB": " "})]
    for (args, env), run in zip(runs, parley_many(*runs, cwd=tmp_path), strict=True):
        message = one_line(run, 1)
        expected = "keeps nothing" if ":memory:" in args else "empty"
        assert expected in message and "--db" in message, (args, env, message)
    assert list(tmp_path.iterdir()) == []


def test_run_says_when_it_cannot_use_the_log_or_reach_discord(tmp_path: Path) -> None:
    """`parley run` with PARLEY_DB a folder stops before connecting; with Discord out of
    reach (DISCORD_API_BASE on a closed port) it says so: one line (the bot's log aside),
    exit 1 each."""
    (tmp_path / "folder").mkdir()
    token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.x.y"
    closed = {"DISCORD_TOKEN": token, "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10"}
    folder, unreachable = parley_many(
        (["run"], {**closed, "PARLEY_DB": "folder"}),
        (["run"], {**closed, "PARLEY_DB": "bot.db", "PARLEY_LOG_LEVEL": "ERROR"}),
        cwd=tmp_path,
    )
    assert "folder: cannot use a folder as the database" in one_line(folder, 1)
    message = one_line(unreachable, 1)
    assert "cannot reach Discord at http://127.0.0.1:9/api/v10" in message
    assert "DISCORD_API_BASE" in message


def test_invite_url_with_a_bad_setting_is_one_line(tmp_path: Path) -> None:
    """`parley invite-url` with PARLEY_LOG_LEVEL=loud: exit 2, one line naming the setting
    (it printed pydantic's report over several lines)."""
    run = parley("invite-url", "--client-id", "1", cwd=tmp_path, PARLEY_LOG_LEVEL="loud")
    message = one_line(run, 2)
    assert "bad settings" in message and "PARLEY_LOG_LEVEL" in message


def test_simulate_with_no_strategy_or_mode_is_a_usage_error(tmp_path: Path) -> None:
    """`--strategies ""` or `--sequencing ,` names nothing to play: exit 2 (it printed an
    empty table and exit 0)."""
    strategies, modes = parley_many(
        (["simulate", "hanoi-2019", "--runs", "1", "--strategies", ""], {}),
        (["simulate", "hanoi-2019", "--runs", "1", "--sequencing", ","], {}),
        cwd=tmp_path,
    )
    assert "--strategies" in one_line(strategies, 2)
    assert "--sequencing" in one_line(modes, 2)


def test_an_sqlite_file_of_another_program_is_left_alone(tmp_path: Path) -> None:
    """An SQLite database that is not a Parley log (its own tables, none of Parley's): one
    line, exit 1, and the file gains no table (Parley's were added to it)."""
    other = tmp_path / "notes.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    before = other.read_bytes()
    runs = [(["tables", "--db", str(other)], {}), (["play", "--db", str(other)], {})]
    for run in parley_many(*runs, cwd=tmp_path):
        message = one_line(run, 1)
        assert "not a Parley log" in message and "--db" in message, message
    assert other.read_bytes() == before


def test_standard_output_that_cannot_take_the_output_is_one_line(tmp_path: Path) -> None:
    """`parley schema > /dev/full`: exit 1 with one line on stderr; `parley schema | head`
    closing the pipe early: exit 1 and no traceback (both were tracebacks)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "PARLEY_"))}
    command = [sys.executable, "-m", "bot.cli", "schema"]
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            command, env=clean, cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert run.returncode == 1, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("parley: cannot write the output: No space left on device")
    proc = subprocess.Popen(
        command, env=clean, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.read(1)
    proc.stdout.close()
    assert proc.wait(timeout=60) == 1
    assert proc.stderr.read() == b""
