"""A call record as data (``CallRecord.to_dict``): its events' times are turned into text once
and reused on the next call (five per call), and what it returns is the record as it is now."""

from __future__ import annotations

import json

from ivr.engine.record import CallEvent, CallRecord


def a_record() -> CallRecord:
    return CallRecord(
        uniqueid="1764740000.1",
        caller="13800000000",
        caller_name="",
        dialled="12345",
        config_version="v1",
        channel="PJSIP/trunk-00000001",
    )


def test_events_added_between_two_reads_are_in_the_second() -> None:
    record = a_record()
    record.add("enter", "main")
    first = record.to_dict()
    record.add("digit", "main", "1")
    record.finish("queue", "consult")
    second = record.to_dict()
    assert [e["kind"] for e in first["events"]] == ["enter"]
    assert [e["kind"] for e in second["events"]] == ["enter", "digit", "end"]
    assert second["digits"] == "1" and second["path"] == ["main"]
    assert second["events"][0] == first["events"][0]
    assert second["events"][2]["detail"] == "queue consult"
    json.dumps(second)  # plain data, JSON-ready


def test_what_a_reader_does_to_its_copy_stays_there() -> None:
    record = a_record()
    record.add("enter", "main")
    data = record.to_dict()
    data["events"][0]["detail"] = "changed by a reader"
    data["events"].append({"kind": "extra"})
    again = record.to_dict()
    assert again["events"] == [
        {
            "at": record.events[0].at.isoformat(),
            "offset": record.events[0].offset,
            "kind": "enter",
            "node": "main",
            "detail": "",
        }
    ]


def test_an_events_list_edited_in_place_is_read_again() -> None:
    record = a_record()
    record.add("enter", "main")
    record.add("digit", "main", "2")
    record.to_dict()
    first = record.events[0]
    record.events[1] = CallEvent(first.at, 1.5, "timeout", "main", "")  # replaced
    assert [e["kind"] for e in record.to_dict()["events"]] == ["enter", "timeout"]
    del record.events[0]  # shorter
    assert [e["kind"] for e in record.to_dict()["events"]] == ["timeout"]
    record.events = []  # a new list
    assert record.to_dict()["events"] == []


def test_records_compare_and_print_as_before() -> None:
    one, two = a_record(), a_record()
    one.to_dict()  # one has its events' data made, two not
    two._t0 = one._t0
    two.started_at = one.started_at
    assert one == two
    assert "_iso" not in repr(one)
    assert not any(key.startswith("_") for key in one.to_dict())
