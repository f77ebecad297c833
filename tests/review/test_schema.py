"""The JSON Schema of `parley-log/1` against every export the project writes: the demo's,
each review table's, and a table that logs every kind of event a script can produce.

The schema is generated from the models (:mod:`bot.review.schema`); these tests check it
with an independent validator (``jsonschema``, draft 2020-12), and check that the review
pages' typed reading of the events (:class:`bot.review.schema.ExportedEvent`) keeps every
field of the export.
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.cli import main, play_lines
from bot.domain import events as ev
from bot.domain.events import EventKind
from bot.domain.scenario import Scenario
from bot.review.export import build_export
from bot.review.narrate import describe
from bot.review.schema import (
    EVENT_MODELS,
    SCHEMA_DIALECT,
    ParleyLog,
    export_schema,
    parse_events,
)
from bot.store import Store
from tests.review.conftest import Played

#: Kinds that only Discord produces (a recorded caucus room message).
DISCORD_ONLY = {EventKind.CAUCUS_MESSAGE}

#: A table that logs every kind a `parley play` script can: membership, a refusal, an
#: agreement, the clock's reminder and expiry, a statement, an undone rejection, pause,
#: resume, extension, inject, a pass, an undone walk-out and the facilitator's close.
EVERY_KIND_SCRIPT = """\
instructor: session open scenario=hanoi-2019 sequencing=singapore title="Every kind"
alice: join
bob: join
carol: join
dave: join
erin: join
erin: leave
instructor: session assign member=alice delegation=us role=head
instructor: session assign member=bob delegation=us role=member
instructor: session assign member=carol delegation=dprk role=head
instructor: session assign member=dave delegation=dprk role=member
alice: offer give=us-liaison-office ask=dprk-liaison-access
instructor: session start
alice: offer give=us-liaison-office ask=dprk-liaison-access,dprk-family-reunions note="First."
carol: accept
clock +9
clock +2
alice: say text="On the record."
carol: offer give=dprk-dmz-pullback ask=us-security-assurance,us-exercises,us-end-of-war
alice: reject reason="Too much."
instructor: session undo
instructor: session pause
instructor: session resume
instructor: session extend minutes=5
instructor: session inject event=april-calendar
alice: pass
carol: walkaway
instructor: session undo
instructor: session seat delegation=dprk strategy=linear
instructor: session unseat delegation=dprk
instructor: session end
"""


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    """A draft 2020-12 validator of the generated schema."""
    return Draft202012Validator(export_schema())


def problems(validator: Draft202012Validator, export: dict[str, Any]) -> list[str]:
    """Every schema violation in ``export``, as `path: message` lines."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
        for error in validator.iter_errors(export)
    ]


async def _play(script: str, db: Path) -> dict[str, Any]:
    out = io.StringIO()
    code, table_id = await play_lines(script.splitlines(), str(db), ["instructor"], out)
    assert code == 0 and table_id is not None, out.getvalue()
    async with await Store.open(str(db)) as store:
        return await build_export(store, table_id)


@pytest.fixture(scope="module")
def every_kind(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The export of :data:`EVERY_KIND_SCRIPT` played into a fresh log."""
    db = tmp_path_factory.mktemp("every-kind") / "log.db"
    return asyncio.run(_play(EVERY_KIND_SCRIPT, db))


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """`parley demo` into a fresh file, its table exported by `parley export --format json`."""
    where = tmp_path_factory.mktemp("demo")
    db, out = where / "demo.db", where / "demo.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(where)
        printed = io.StringIO()
        mp.setattr("sys.stdout", printed)
        assert main(["demo", "--db", str(db)]) == 0
        found = re.search(r"parley export (\d+) --db", printed.getvalue())
        assert found, printed.getvalue()
        code = main(["export", found.group(1), "--db", str(db), "--format", "json", "-o", str(out)])
        assert code == 0
    export: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return export


# -- the schema itself -------------------------------------------------------------------


def test_schema_is_a_valid_draft_2020_12_schema_with_an_id_and_title() -> None:
    """The generated schema passes the draft 2020-12 meta-schema and names itself."""
    schema = export_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == SCHEMA_DIALECT
    assert schema["$id"].endswith("parley-log-1.json")
    assert "parley-log/1" in schema["title"]
    assert schema["properties"]["format"]["const"] == "parley-log/1"


def test_schema_has_one_event_model_per_kind_keyed_on_kind() -> None:
    """The events are a union discriminated on `kind` with one model per event kind."""
    items = export_schema()["properties"]["events"]["items"]
    assert set(items["discriminator"]["mapping"]) == {k.value for k in EventKind}
    assert len(items["oneOf"]) == len(EventKind) == len(EVENT_MODELS)
    defs = export_schema()["$defs"]
    for kind, model in EVENT_MODELS.items():
        event = defs[model.__name__]
        assert event["properties"]["kind"]["const"] == kind
        assert set(event["required"]) == {"seq", "at", "kind", "actor", "data", "reverted_by"}
        assert event["additionalProperties"] is False


def test_schema_data_follows_the_event_models() -> None:
    """Each kind's `data` schema has exactly its model's fields, required where it has no
    default: the schema is generated, not written by hand."""
    defs = export_schema()["$defs"]
    for kind, model in ev.DATA_MODELS.items():
        data = defs[model.__name__]
        assert set(data["properties"]) == set(model.model_fields), kind
        required = {name for name, f in model.model_fields.items() if f.is_required()}
        assert set(data.get("required", [])) == required, kind
        assert data["additionalProperties"] is False


# -- every export the project writes -----------------------------------------------------


def test_demo_json_export_validates(
    validator: Draft202012Validator, demo_export: dict[str, Any]
) -> None:
    """`parley demo` then `parley export --format json` writes an export the schema accepts."""
    assert problems(validator, demo_export) == []
    assert len(demo_export["events"]) > 40


@pytest.mark.parametrize("name", ["demo", "package", "hostile", "open"])
def test_every_review_table_export_validates(
    validator: Draft202012Validator, tables: dict[str, Played], name: str
) -> None:
    """Each table the review tests play (closed, walked out, hostile text, still open)
    exports to a document the schema accepts, also once written as JSON text."""
    export = tables[name].export
    assert problems(validator, export) == []
    assert problems(validator, json.loads(json.dumps(export))) == []


def test_a_table_of_every_kind_validates_and_logs_all_but_discords_kinds(
    validator: Draft202012Validator, every_kind: dict[str, Any]
) -> None:
    """A scripted table logs every kind of event but the caucus message (Discord only),
    undone ones among them, and its export validates."""
    kinds = {e["kind"] for e in every_kind["events"]}
    assert kinds == {k.value for k in EventKind} - DISCORD_ONLY
    assert any(e["reverted_by"] for e in every_kind["events"])
    assert every_kind["outcome"]["reason"] == "facilitator"
    assert problems(validator, every_kind) == []


def test_a_caucus_message_event_validates(
    validator: Draft202012Validator, every_kind: dict[str, Any]
) -> None:
    """A recorded caucus message, the one kind no script logs, fits the schema too."""
    export = copy.deepcopy(every_kind)
    last = export["events"][-1]
    export["events"].append(
        {
            "seq": last["seq"] + 1,
            "at": last["at"],
            "kind": "caucus_message",
            "actor": {"user_id": "42", "name": "Bob", "delegation": "us", "role": "member"},
            "data": ev.CaucusMessage(delegation="us", text="Hold firm.", round=1).dumped(),
            "reverted_by": None,
        }
    )
    assert problems(validator, export) == []


def test_later_top_level_keys_such_as_analysis_are_allowed(
    validator: Draft202012Validator, tables: dict[str, Played]
) -> None:
    """Keys later versions add at the top level (`analysis`) do not break validation."""
    export = {**tables["demo"].export, "analysis": {"sequencing": "singapore", "offers": []}}
    assert problems(validator, export) == []


def test_the_models_accept_every_export(
    tables: dict[str, Played], every_kind: dict[str, Any], demo_export: dict[str, Any]
) -> None:
    """The pydantic models behind the schema read every export as well."""
    for export in [*(p.export for p in tables.values()), every_kind, demo_export]:
        log = ParleyLog.model_validate(export)
        assert [e.kind for e in log.events] == [e["kind"] for e in export["events"]]


# -- broken exports fail -----------------------------------------------------------------


def _first(export: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e for e in export["events"] if e["kind"] == kind)


def _drop_give(x: dict[str, Any]) -> None:
    del _first(x, "offer_tabled")["data"]["give"]


def _unknown_kind(x: dict[str, Any]) -> None:
    _first(x, "statement")["kind"] = "telepathy"


def _data_of_another_kind(x: dict[str, Any]) -> None:
    _first(x, "statement")["kind"] = "offer_tabled"


def _renamed_field(x: dict[str, Any]) -> None:
    offer = _first(x, "offer_tabled")["data"]
    offer["gives"] = offer.pop("give")


def _time_not_utc(x: dict[str, Any]) -> None:
    x["events"][0]["at"] = x["events"][0]["at"].replace("Z", "+02:00")


def _no_reverted_by(x: dict[str, Any]) -> None:
    del x["events"][0]["reverted_by"]


def _other_format(x: dict[str, Any]) -> None:
    x["format"] = "parley-log/2"


def _score_as_text(x: dict[str, Any]) -> None:
    scores = x["outcome"]["scores"]
    first = next(iter(scores))
    scores[first]["score"] = str(scores[first]["score"])


def _member_without_left(x: dict[str, Any]) -> None:
    del x["members"][0]["left"]


def _unknown_table_key(x: dict[str, Any]) -> None:
    x["table"]["colour"] = "blue"


@pytest.mark.parametrize(
    "breakage",
    [
        _drop_give,
        _unknown_kind,
        _data_of_another_kind,
        _renamed_field,
        _time_not_utc,
        _no_reverted_by,
        _other_format,
        _score_as_text,
        _member_without_left,
        _unknown_table_key,
    ],
    ids=lambda f: f.__name__.strip("_"),
)
def test_a_broken_export_fails_validation(
    validator: Draft202012Validator,
    tables: dict[str, Played],
    breakage: Callable[[dict[str, Any]], None],
) -> None:
    """An export with a missing, renamed, mistyped or unknown field or kind is refused."""
    export = copy.deepcopy(tables["demo"].export)
    assert problems(validator, export) == []
    breakage(export)
    assert problems(validator, export) != []


# -- the review pages' typed reading -----------------------------------------------------


def test_parsed_events_keep_every_exported_field(
    every_kind: dict[str, Any], tables: dict[str, Played]
) -> None:
    """Each exported event parses into its kind's model and gives back the same time,
    actor, data and undo link (the readers lose nothing by reading models)."""
    for export in [every_kind, *(p.export for p in tables.values())]:
        parsed = parse_events(export["events"])
        for raw, event in zip(export["events"], parsed, strict=True):
            assert isinstance(event.data, ev.DATA_MODELS[EventKind(raw["kind"])])
            assert event.seq == raw["seq"]
            assert event.at_text == raw["at"]
            assert (event.actor.model_dump() if event.actor else None) == raw["actor"]
            assert event.data.dumped() == raw["data"]
            assert event.reverted_by == raw["reverted_by"]
        assert parse_events(parsed) == parsed


def test_every_kind_is_described_the_same_from_a_dict_or_a_model(
    every_kind: dict[str, Any],
) -> None:
    """`describe` tells every kind in words, given the export's dict or the parsed event."""
    scenario = Scenario.model_validate(every_kind["scenario"])
    for raw, event in zip(every_kind["events"], parse_events(every_kind["events"]), strict=True):
        text = describe(raw, scenario)
        assert text and text == describe(event, scenario)
