"""The verifier's fast event loop (issue 16) against a plain, step-by-step reference scan:
same root, same first finding, for honest ledgers and for every way a line can be broken.
(The whole-bundle tamper cases stay in tests/test_verify.py, unchanged.)"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hashing.canonical import (
    NotCanonicalError,
    canonical_json,
    fast_decode,
    fast_encode,
    parse_canonical,
)
from hashing.event_scan import ZERO_HASH, scan_events
from hashing.merkle import EMPTY_ROOT, leaf_hash, node_hash


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH, recursively (the naive reference tree)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    split = 1
    while split * 2 < len(leaves):
        split *= 2
    return node_hash(reference_root(leaves[:split]), reference_root(leaves[split:]))


def reference_scan(lines: list[bytes]) -> tuple[int, bytes, str | None]:
    """Count, root and first finding's reason, one check at a time."""
    leaves: list[bytes] = []
    prev = ZERO_HASH
    for seq, line in enumerate(lines):
        if not line.endswith(b"\n"):
            return seq, reference_root(leaves), f"seq {seq}: last event is incomplete"
        body = line[:-1]
        try:
            value = parse_canonical(body)
        except NotCanonicalError:
            return seq, reference_root(leaves), f"seq {seq}: event is not canonical"
        except (ValueError, RecursionError):
            return seq, reference_root(leaves), f"seq {seq}: not valid JSON"
        if type(value) is not dict:
            return seq, reference_root(leaves), f"seq {seq}: not a JSON object"
        if type(value.get("seq")) is not int or value["seq"] != seq:
            return seq, reference_root(leaves), f"seq {seq}: event carries seq"
        if value.get("prev") != prev:
            return seq, reference_root(leaves), f"seq {seq}: prev is not"
        leaves.append(leaf_hash(body))
        prev = hashlib.sha256(body).hexdigest()
    return len(lines), reference_root(leaves), None


def ledger_lines(count: int, extra: list[dict[str, Any]] | None = None) -> list[bytes]:
    lines, prev = [], ZERO_HASH
    for seq in range(count):
        event: dict[str, Any] = {"seq": seq, "prev": prev, "type": "ingest", "actor": "t",
                                 "sha256": f"{seq:064x}", "size": seq,
                                 "source_path": f"DCIM/中文 {seq}.MP4", **((extra or [{}] * count)[seq])}
        body = canonical_json(event)
        lines.append(body + b"\n")
        prev = hashlib.sha256(body).hexdigest()
    return lines


def check_same(lines: list[bytes]) -> None:
    count, root, reason = reference_scan(lines)
    scan = scan_events(iter(lines))
    assert scan.count == count
    assert scan.root == root
    if reason is None:
        assert not scan.findings
    else:
        assert str(scan.findings[0]).startswith(reason), (str(scan.findings[0]), reason)


def test_honest_ledgers_of_every_small_size() -> None:
    for count in range(0, 70):
        check_same(ledger_lines(count))


def test_each_way_a_line_breaks() -> None:
    good = ledger_lines(9)
    broken = {
        "whitespace": good[4].replace(b'","', b'", "', 1),
        "unsorted keys": b'{"seq":4,' + good[4][1:].replace(b',"seq":4', b""),
        "float": good[4].replace(b'"size":4', b'"size":4.0'),
        "list": b"[1,2]\n",
        "not json": b"{nope\n",
        "ascii escape": good[4].replace("中".encode(), b"\\u4e2d"),
        "trailing space": good[4][:-1] + b" \n",
        "leading space": b" " + good[4],
        "seq bool": good[1].replace(b'"seq":1', b'"seq":true'),
        "no newline": good[4][:-1],
        "empty": b"\n",
        "deep": b"[" * 100_000 + b"]" * 100_000 + b"\n",
    }
    for name, line in broken.items():
        lines = [*good[:4], line, *good[5:]] if name != "seq bool" else [good[0], line, *good[2:]]
        check_same(lines)
        assert scan_events(iter(lines)).findings, name
    check_same([*good[:3], good[4], good[3], *good[5:]])  # swapped
    check_same([*good[:3], *good[4:]])  # dropped


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 12), st.integers(0, 400), st.binary(max_size=3))
def test_any_byte_change_is_named_the_same(count: int, where: int, replacement: bytes) -> None:
    lines = ledger_lines(max(count, 1))
    data = b"".join(lines)
    where %= len(data)
    changed = data[:where] + replacement + data[where + 1:]
    check_same(changed.splitlines(keepends=True))


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
                    max_leaves=20))
def test_fast_encode_and_decode_are_the_canonical_ones(value: Any) -> None:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert fast_encode(value) == text
    assert fast_decode(text) == value
