"""/session export and /session compare: files attached in Discord, for facilitators."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest

from bot.discord_app.app import ParleyBot
from tests.discord_app.conftest import (
    Seminar,
    answer,
    answer_containing,
    make_seminar,
    settings_for,
    start_bot,
    stop_bot,
)
from tests.discord_app.test_table_flow import started
from tests.fakediscord import FakeDiscord
from tests.fakediscord import server as fake_server
from tests.fakediscord.server import InteractionRecord, UploadedFile


def uploaded(record: InteractionRecord) -> list[UploadedFile]:
    return [f for m in record.followups for f in m.files] + record.callback_files


async def play_and_end(s: Seminar) -> None:
    await started(s)
    await s.slash(s.alice, "offer", {"give": "us-liaison-office", "ask": "dprk-liaison-access"})
    await s.slash(s.carol, "accept")
    await s.slash(s.prof, "session end")
    await s.message_with("The table is closed")


async def test_export_attaches_the_report_and_the_data(seminar: Seminar, parley: ParleyBot) -> None:
    """The HTML report by default, JSON on request: multipart uploads with the right names."""
    s = seminar
    await play_and_end(s)
    record = await s.slash(s.prof, "session export")
    await answer_containing(s.fake, record, "events")
    (report,) = uploaded(record)
    assert report.filename == "parley-table-1.html"
    assert report.guessed_content_type == "text/html"
    assert report.data.startswith(b"<!doctype html>") and b"<svg" in report.data
    assert record.ephemeral
    request = next(r for r in s.fake.requests if r.files and r.files[0] is report)
    # a multipart upload: in the response itself, or a follow-up if it was deferred
    assert request.method in ("POST", "PATCH")
    assert request.path.startswith("/webhooks/") or request.path.endswith("/callback")
    record = await s.slash(s.prof, "session export", {"format": "json", "table": "1"})
    await answer_containing(s.fake, record, "events")
    (data,) = uploaded(record)
    assert data.filename == "parley-table-1.json"
    exported = json.loads(data.data)
    assert len(exported["events"]) == len(await parley.tables.events(1))
    assert exported["format"] == "parley-log/1"


async def test_export_as_csv_or_markdown_gives_the_data_and_the_transcript(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """`format:csv` attaches one row per event under a header; `format:markdown` the
    transcript, its joint statement included."""
    s = seminar
    await play_and_end(s)
    events = await parley.tables.events(1)
    record = await s.slash(s.prof, "session export", {"format": "csv"})
    await answer_containing(s.fake, record, "events")
    (data,) = uploaded(record)
    assert data.filename == "parley-table-1.csv"
    rows = list(csv.reader(io.StringIO(data.data.decode("utf-8"))))
    assert rows[0][:2] == ["table_id", "seq"]
    assert [int(row[1]) for row in rows[1:]] == [e.seq for e in events]
    record = await s.slash(s.prof, "session export", {"format": "markdown"})
    await answer_containing(s.fake, record, "events")
    (transcript,) = uploaded(record)
    assert transcript.filename == "parley-table-1.md"
    text = transcript.data.decode("utf-8")
    assert text.startswith("# ") and "## Joint statement" in text, text[:300]
    statement = text.split("## Joint statement", 1)[1]
    state = await parley.tables.state(1)
    assert state.agreed and all(state.item(i).text in statement for i in state.agreed)


async def test_export_is_for_facilitators_only(seminar: Seminar, parley: ParleyBot) -> None:
    """A player asking for an export is refused and receives no file."""
    s = seminar
    await play_and_end(s)
    record = await s.slash(s.alice, "session export", {"format": "json"})
    assert "not_facilitator" in answer(s.fake, record) and not uploaded(record)


async def test_large_files_are_compressed_or_refused(
    seminar: Seminar, parley: ParleyBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the upload limit the file goes gzipped; if that is still too big, it says how."""
    s = seminar
    await play_and_end(s)
    full = await s.slash(s.prof, "session export")
    await answer_containing(s.fake, full, "events")
    size = len(uploaded(full)[0].data)
    monkeypatch.setattr(fake_server, "ATTACHMENT_SIZE_LIMIT", size // 2)
    record = await s.slash(s.prof, "session export")
    await answer_containing(s.fake, record, "events")
    (packed,) = uploaded(record)
    assert packed.filename == "parley-table-1.html.gz"
    assert gzip.decompress(packed.data).startswith(b"<!doctype html>")
    monkeypatch.setattr(fake_server, "ATTACHMENT_SIZE_LIMIT", 2_000)
    record = await s.slash(s.prof, "session export")
    text = await answer_containing(s.fake, record, "upload limit")
    assert "parley export" in text and not uploaded(record)


async def test_compare_attaches_one_page_for_closed_tables(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """Two closed tables of one scenario give one comparison page; an open one is refused."""
    s = seminar
    await play_and_end(s)
    second = s.fake.add_channel("section-b")
    await s.slash(
        s.prof, "session open", {"scenario": "hanoi-2019", "sequencing": "package"}, channel=second
    )
    refused = await s.slash(s.prof, "session compare", {"tables": "1,2"})
    assert "still open" in answer(s.fake, refused) and not uploaded(refused)
    await s.slash(s.prof, "session end", channel=second)
    record = await s.slash(s.prof, "session compare", {"tables": "1, 2"})
    await answer_containing(s.fake, record, "side by side")
    (page,) = uploaded(record)
    assert page.filename == "parley-compare-1-2.html"
    assert page.guessed_content_type == "text/html" and b"<svg" in page.data
    unknown = await s.slash(s.prof, "session compare", {"tables": "1,99"})
    assert "unknown_table" in answer(s.fake, unknown)
    shown = await s.slash(s.prof, "session compare", {"tables": "1,2", "anonymize": True})
    await answer_containing(s.fake, shown, "side by side")
    (anonymous,) = uploaded(shown)
    for name in (s.alice.name, s.carol.name, s.prof.name):
        assert name.encode() not in anonymous.data
    assert b"#1 " in page.data and b"#1 " not in anonymous.data.replace(b"#1 Table", b"")
    assert b"Table A" in anonymous.data and b"Table B" in anonymous.data


async def test_export_by_number_is_refused_to_another_server(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    """A facilitator of another server cannot export this server's table by its number."""
    other = fake.add_guild("Other school")
    lobby = fake.add_channel("lobby", guild=other)
    outsider = fake.add_user("other-prof", manage_guild=True, guild=other)
    settings = settings_for(fake, tmp_path / "p.db").model_copy(
        update={"guild_ids": [fake.guild.id, other.id]}
    )
    bot, task = await start_bot(settings, fake)
    try:
        s = make_seminar(fake)
        await play_and_end(s)
        refused = await s.slash(
            outsider, "session export", {"format": "json", "table": "1"}, channel=lobby
        )
        text = answer(fake, refused)
        assert refused.ephemeral and "unknown_table" in text, text
        assert "This server has no table #1" in text and not uploaded(refused)
        # in its own server, from any channel, the closed table is exported by its number
        staff = fake.add_channel("staff")
        record = await s.slash(
            s.prof, "session export", {"format": "json", "table": "1"}, channel=staff
        )
        await answer_containing(fake, record, "events")
        assert [f.filename for f in uploaded(record)] == ["parley-table-1.json"]
    finally:
        await stop_bot(bot, task)


async def test_an_open_table_is_exported_by_number_only_from_its_own_channel(
    seminar: Seminar, parley: ParleyBot
) -> None:
    """By number, an open table exports from its channel only; once closed, from anywhere."""
    s = seminar
    await started(s)
    elsewhere = s.fake.add_channel("section-b")
    refused = await s.slash(
        s.prof, "session export", {"format": "json", "table": "1"}, channel=elsewhere
    )
    text = answer(s.fake, refused)
    assert refused.ephemeral and "wrong_phase" in text, text
    assert "Table #1 is still open; export it from its channel" in text, text
    assert not uploaded(refused)
    here = await s.slash(s.prof, "session export", {"format": "json", "table": "1"})
    await answer_containing(s.fake, here, "events")
    (data,) = uploaded(here)
    assert data.filename == "parley-table-1.json"
    assert json.loads(data.data)["table"]["phase"] == "negotiating"
    await s.slash(s.prof, "session end")
    await s.message_with("The table is closed")
    closed = await s.slash(
        s.prof, "session export", {"format": "json", "table": "1"}, channel=elsewhere
    )
    await answer_containing(s.fake, closed, "events")
    assert [f.filename for f in uploaded(closed)] == ["parley-table-1.json"]
