"""`nudge tail`: any topic as JSON lines, decoded through the codec (bytes as base64)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from typing import Any, TextIO

from connectors.ingest.topic_reader import TopicReader
from schemas.codec import default_codec
from schemas.errors import SchemaError

Decoder = Callable[[bytes, str], Any]


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _key(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode()
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode()


def to_line(
    topic: str,
    partition: int | None,
    offset: int | None,
    timestamp_ms: int,
    key: bytes | None,
    value: bytes | None,
    decode: Decoder,
) -> str:
    """One message as a JSON line: the decoded record, or the raw bytes and why they did not decode."""
    line: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset, "timestamp_ms": timestamp_ms}
    line["key"] = _key(key)
    if value is None:
        line["value"] = None
    else:
        try:
            record = decode(value, topic)
            line["type"] = type(record).__name__
            line["value"] = default_codec().to_json(record)
        except SchemaError as exc:
            line["error"] = str(exc)
            line["value_base64"] = _b64(value)
    return json.dumps(line, ensure_ascii=False)


def tail(
    config: dict[str, Any],
    topic: str,
    out: TextIO,
    *,
    from_beginning: bool = False,
    max_messages: int | None = None,
    idle_timeout_s: float | None = None,
    to_end: bool = False,
    decode: Decoder | None = None,
    stop: threading.Event | None = None,
    note: Callable[[str], None] | None = None,
) -> int:
    """Print `topic` as JSON lines; return how many. Stops after `max_messages`, at the end the topic had at the
    start (`to_end`), after `idle_timeout_s` without messages, or when `stop` is set. `note` hears, in words,
    what is read and why nothing was printed."""
    decoder: Decoder = decode or (lambda data, _topic: default_codec().decode(data))
    say = note or (lambda _text: None)
    printed = 0
    if max_messages is not None and max_messages < 1:
        return 0
    with TopicReader(config, topic, from_beginning=from_beginning) as reader:
        earlier = reader.backlog if not from_beginning else 0
        say(f"reading {topic} ({reader.partitions} partitions) from the "
            + ("beginning" if from_beginning else f"end: {earlier} earlier messages are skipped (--from-beginning)")
            + (", to its current end" if to_end else ""))  # fmt: skip
        for msg in reader.messages(to_end=to_end, idle_timeout_s=idle_timeout_s, stop=stop):
            line = to_line(topic, msg.partition(), msg.offset(), msg.timestamp()[1], msg.key(), msg.value(), decoder)
            out.write(line + "\n")
            out.flush()
            printed += 1
            if max_messages is not None and printed >= max_messages:
                break
    if printed == 0 and earlier:
        say(f"printed nothing: {topic} held {earlier} messages from before the start; --from-beginning prints them")
    return printed
