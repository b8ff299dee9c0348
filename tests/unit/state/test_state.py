"""The store's pieces: ordered keys, both databases alike, the due and fan-out indexes, the bounded cache."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from streams.state.cache import RecordCache
from streams.state.db import MemoryDB, RocksPartition
from streams.state.indexes import DueIndex, FanIndex
from streams.state.keys import DUE_ENGINE, due_bound, due_key, fan_key, fan_prefix, parse_due, prefix_end


def rocks(tmp_path: Path) -> RocksPartition:
    from rocksdict import Options, Rdict

    return RocksPartition(Rdict(str(tmp_path / "db"), options=Options(raw_mode=True)))


@pytest.mark.parametrize("kind", ["memory", "rocksdb"])
def test_both_databases_give_the_same_ordered_ranges(kind: str, tmp_path: Path) -> None:
    db = MemoryDB() if kind == "memory" else rocks(tmp_path)
    rng = random.Random(3)
    entries = {due_key(DUE_ENGINE, rng.randrange(10**13), f"u{i}"): b"" for i in range(300)}
    entries |= {fan_key(f"c:{i % 7}", f"u{i}"): b"" for i in range(300)}
    db.write(entries.items())
    deleted = next(iter(entries))
    db.write([(deleted, None)])
    expected = sorted(set(entries) - {deleted})
    everything = list(db.range(b"", b"\xff"))
    assert [k for k, _ in everything] == expected
    upto = 5 * 10**12
    due = [parse_due(DUE_ENGINE, k)[0] for k, _ in db.range(DUE_ENGINE, due_bound(DUE_ENGINE, upto))]
    assert due == sorted(d for d in due) and all(d <= upto for d in due) and due
    fans = [k for k, _ in db.range(fan_prefix("c:3"), prefix_end(fan_prefix("c:3")))]
    assert len(fans) == sum(1 for i in range(300) if i % 7 == 3)


def test_a_fan_prefix_is_not_the_prefix_of_a_longer_key() -> None:
    assert not fan_key("c:shoes2", "u").startswith(fan_prefix("c:shoes"))


def test_the_due_index_hands_out_valid_entries_in_time_order_from_store_and_memory() -> None:
    db = MemoryDB()
    current = {"a": 30, "b": 10, "c": None, "d": 50}
    db.write([(due_key(DUE_ENGINE, 10, "b"), b""), (due_key(DUE_ENGINE, 20, "c"), b""),  # c's entry is stale
              (due_key(DUE_ENGINE, 40, "a"), b"")])  # fmt: skip  # a moved to 30 since the checkpoint
    index = DueIndex(db, DUE_ENGINE, current.get)
    index.set("a", 30)
    index.set("d", 50)
    assert index.next_due() == 10
    assert index.peek(35) == (10, "b") and index.peek(35) == (10, "b")  # a peek leaves it in
    assert index.pop(35) == (10, "b")
    current["b"] = None
    assert index.pop(35) == (30, "a")  # c's stale entry at 20 skipped
    current["a"] = None
    assert index.pop(45) is None  # a's stored entry at 40 is stale too
    assert index.pop(100) == (50, "d") and index.pop(10**12) is None


def test_the_due_index_writes_move_an_entry() -> None:
    index = DueIndex(MemoryDB(), DUE_ENGINE, lambda u: None)
    assert index.writes("u", 10, 10) == []
    assert index.writes("u", 10, 20) == [(due_key(DUE_ENGINE, 10, "u"), None), (due_key(DUE_ENGINE, 20, "u"), b"")]
    assert index.writes("u", None, 5) == [(due_key(DUE_ENGINE, 5, "u"), b"")]


def test_a_later_due_keeps_its_earlier_entry_until_a_tick_reaches_it() -> None:
    index = DueIndex(MemoryDB(), DUE_ENGINE, lambda u: None)
    assert index.move("u", 10, 20, lazy=True) == ([], 10)  # pushed later: nothing written, the entry stays at 10
    assert index.move("u", 10, 5, lazy=True) == (index.writes("u", 10, 5), 5)  # earlier: moved at once
    assert index.move("u", 10, None, lazy=True) == (index.writes("u", 10, None), None)
    assert index.move("u", 10, 20, lazy=False) == (index.writes("u", 10, 20), 20)  # reached: moved


def test_reaching_an_entry_earlier_than_the_due_fires_nothing_then_and_the_due_on_time() -> None:
    db = MemoryDB()
    db.write([(due_key(DUE_ENGINE, 10, "a"), b""), (due_key(DUE_ENGINE, 15, "b"), b"")])
    current, passed = {"a": 30, "b": 15}, []
    index = DueIndex(db, DUE_ENGINE, current.get, passed.append)
    assert index.pop(12) is None and passed == ["a"]  # a's entry at 10 was left when its due moved to 30
    assert index.pop(20) == (15, "b")
    assert index.pop(29) is None and index.pop(30) == (30, "a")  # from memory, before any checkpoint


def test_the_fan_index_finds_the_stored_fans_of_any_key() -> None:
    db = MemoryDB()
    db.write(FanIndex.writes("u1", {"c:shoes": True, "i:9": True}))
    assert FanIndex.writes("u1", {"i:9": False}) == [(fan_key("i:9", "u1"), None)]
    db.write(FanIndex.writes("u2", {"c:shoes": True}))
    fans = FanIndex(db)
    assert fans.users(["c:shoes"]) == {"u1", "u2"} and fans.users(["i:9", "c:x"]) == {"u1"}


def test_the_cache_stays_within_its_bound_least_recently_used_first_out() -> None:
    cache = RecordCache(max_bytes=10_000)
    for i in range(100):
        cache.put(i, f"record {i}", 100)
        cache.get(0)  # used all the time: stays
    assert cache.bytes <= 10_000 and cache.get(0) == "record 0" and cache.get(1) is None
    assert cache.evictions > 0 and len(cache) < 100
