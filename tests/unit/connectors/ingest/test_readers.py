"""Input readers: each format maps to BehaviorEvents; bad lines come back with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.ingest.errors import ReplayError
from connectors.ingest.readers import Rejected, detect_format, read_events
from schemas.records import BehaviorEvent


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_taobao_rows_map_to_events(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ub.csv",
        "1,10,100,pv,1511658000\n2,20,200,cart,1511658001\n2,20,200,buy,1511658002\n3,30,300,fav,1511658003\n",
    )
    assert detect_format(path) == "taobao"
    rows = list(read_events(path))
    events = [e for _, e in rows]
    assert [e.type for e in events] == ["view", "cart", "purchase", "fav"]
    assert events[1] == BehaviorEvent(
        event_id="taobao:ub.csv:2",
        user_id="2",
        type="cart",
        event_time_ms=1_511_658_001_000,
        item_id="20",
        category="200",
        cart_id="2",
    )
    assert events[0].cart_id is None and events[2].cart_id == "2"
    assert [n for n, _ in rows] == [1, 2, 3, 4]


def test_taobao_bad_lines_are_rejected_with_reasons(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "ub.csv",
        "1,10,100,pv,1511658000\n1,10,100,jump,1511658000\nx,10,100,pv,1511658000\n1,10\n301780,543546,4181361,pv,15",
    )
    rejected = [e for _, e in read_events(path, "taobao") if isinstance(e, Rejected)]
    assert [(r.line_no, r.reason.split(" (")[0]) for r in rejected] == [
        (2, "unknown behavior_type 'jump'"),
        (3, "user_id 'x' is not an integer"),
        (4, "expected 5 comma-separated fields, got 2"),
        (5, "BehaviorEvent: event_time_ms=15000 is before 2000-01-01"),
    ]
    assert rejected[-1].reason.endswith("(last line has no newline: truncated?)")
    assert rejected[-1].line == "301780,543546,4181361,pv,15"


def test_retailrocket(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "events.csv",
        "timestamp,visitorid,event,itemid,transactionid\n"
        "1433221332117,257597,view,355908,\n1433224214164,992329,addtocart,248676,\n"
        "1433221999827,111016,transaction,264947,4000\n1433221999827,111016,click,1,\n",
    )
    assert detect_format(path) == "retailrocket"
    parsed = [e for _, e in read_events(path)]
    assert [getattr(e, "type", None) for e in parsed[:3]] == ["view", "cart", "purchase"]
    assert parsed[2].properties == {"transaction_id": "4000"} and parsed[2].cart_id == "111016"
    assert parsed[0].event_id == "retailrocket:events.csv:2"
    assert isinstance(parsed[3], Rejected) and "unknown event 'click'" in parsed[3].reason


def test_jsonl(tmp_path: Path) -> None:
    good = {"event_id": "e1", "user_id": "u1", "type": "app_open", "event_time_ms": 1_700_000_000_000}
    path = write(tmp_path, "e.jsonl", json.dumps(good) + "\n{broken\n" + json.dumps({**good, "user_id": ""}) + "\n")
    parsed = [e for _, e in read_events(path)]
    assert parsed[0] == BehaviorEvent(**good)
    assert isinstance(parsed[1], Rejected) and parsed[1].reason.startswith("not JSON")
    assert isinstance(parsed[2], Rejected) and "user_id is empty" in parsed[2].reason


def test_limit_counts_data_rows(tmp_path: Path) -> None:
    path = write(tmp_path, "ub.csv", "".join(f"{i},1,1,pv,1511658000\n" for i in range(1, 11)))
    assert len(list(read_events(path, limit=4))) == 4


def test_unknown_format_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="cannot tell the format"):
        detect_format(write(tmp_path, "x.txt", "hello world\n"))
    with pytest.raises(ReplayError, match="unknown format 'xml'"):
        list(read_events(write(tmp_path, "y.txt", "a\n"), "xml"))
