"""One pass over a ledger's ``events.jsonl``: the hash chain, ``seq``, canonical form, the
RFC 6962 root.

Its own module because four readers share it and only one of them is the bundle
verifier: ``hashing.verify`` (an auditor's bundle), ``hashing.parallel`` (the same scan
cut into byte ranges on every CPU), ``evidence_station.check`` and the scrubber (the
station's own ledger). Standard library only, like the verifier that carries it onto a
disc or into a bare virtualenv (DESIGN.md, "Export bundle")."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hashing.canonical import NotCanonicalError, encode_parts, parse_canonical, scan_value
from hashing.merkle import EMPTY_ROOT, LEAF_PREFIX, NODE_PREFIX, node_hash

ZERO_HASH = "0" * 64
"""``prev`` of event 0: there is no event before it."""


@dataclass
class Finding:
    """One failed check: why, and where (the event's seq, the bundle's file)."""

    reason: str
    seq: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.file is not None:
            where.append(self.file)
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


@dataclass
class EventScan:
    """What one pass over an ``events.jsonl`` stream found."""

    count: int = 0
    root: bytes = EMPTY_ROOT
    findings: list[Finding] = field(default_factory=list)
    leaves: dict[int, bytes] = field(default_factory=dict)
    lines: dict[int, bytes] = field(default_factory=dict)
    roots: dict[int, bytes] = field(default_factory=dict)
    ingested: dict[str, int] = field(default_factory=dict)  # sha256 -> size


def accepted_event(line: bytes, seq: int, prev: str) -> dict[str, Any] | None:
    """The event of ``line`` if it is complete, canonical JSON, an object, carries ``seq``
    and chains to ``prev``; None if it doubts any of it (then :func:`event_finding` says
    exactly why). The one acceptance rule of both event loops (:func:`scan_events` and
    :func:`hashing.parallel.scan_range`); the C scanner and encoder are called directly."""
    text = line[:-1]
    try:  # canonical exactly when re-encoding gives the same text (a str compare)
        decoded = text.decode("utf-8")
        value, end = scan_value(decoded, 0)
        if end != len(decoded) or "".join(encode_parts(value, 0)) != decoded:
            return None
    except (ValueError, RecursionError, StopIteration):
        return None
    if (not line.endswith(b"\n") or type(value) is not dict or value.get("seq") != seq
            or type(value["seq"]) is not int or value.get("prev") != prev):
        return None
    return value


def scan_events(
    handle: Iterable[bytes], *, capture: set[int] | frozenset[int] = frozenset(),
    root_at: set[int] | frozenset[int] = frozenset(),
) -> EventScan:
    """Check chain, seq and canonical form of every event; compute the Merkle root.

    Stops at the first broken event (everything after it is unanchored). ``capture``
    keeps the leaf hash and bytes of chosen seqs; ``root_at`` keeps roots at sizes.

    Why the loop is written out: it runs once per event (10^7 on a station's lifetime
    ledger), and a profile showed the time in the JSON decode and re-encode (C code),
    then in Python's per-call overhead around them (a helper call, the UTF-8 encode of
    the re-serialised text, a leaf prefix copy, a ``node_hash`` call per tree level).
    Those are gone here but one call to :func:`accepted_event`, the acceptance rule this
    loop shares with :func:`hashing.parallel.scan_range` (one rule, not two copies; its
    call is within the noise of the loop, ~6.1–6.4 µs an event either way). Any event it
    doubts goes through :func:`event_finding` for the exact reason.
    """
    scan = EventScan()
    stack: list[bytes] = []  # the compact range: one subtree root per set bit of seq
    prev = ZERO_HASH
    sha256 = hashlib.sha256
    accepted = accepted_event
    seq = 0
    if 0 in root_at:
        scan.roots[0] = EMPTY_ROOT
    watch = bool(capture or root_at)
    ingested = scan.ingested
    for line in handle:
        value = accepted(line, seq, prev)
        if value is None:
            scan.findings.append(event_finding(line, seq, prev))
            break
        body = line[:-1]
        leaf_hasher = sha256(LEAF_PREFIX)
        leaf_hasher.update(body)
        node = leaf_hasher.digest()
        if watch and seq in capture:
            scan.leaves[seq] = node
            scan.lines[seq] = body
        size = seq
        while size & 1:  # RFC 6962 compact range push (hashing.merkle.node_hash inlined)
            node = sha256(NODE_PREFIX + stack.pop() + node).digest()
            size >>= 1
        stack.append(node)
        kind_ = value.get("type")
        if kind_ == "ingest":
            if type(value.get("sha256")) is str:
                ingested[value["sha256"]] = value.get("size", -1)
        elif kind_ == "deletion" and type(value.get("sha256")) is str:
            # an approved deletion after retention: the hash stays, the file may be gone
            ingested.pop(value["sha256"], None)
        prev = sha256(body).hexdigest()
        seq += 1
        if watch and seq in root_at:
            scan.roots[seq] = stack_root(stack)
    scan.count = seq
    scan.root = stack_root(stack)
    return scan


def stack_root(stack: list[bytes]) -> bytes:
    """The RFC 6962 root of a compact range (its subtree roots, largest first)."""
    if not stack:
        return EMPTY_ROOT
    root = stack[-1]
    for left in reversed(stack[:-1]):
        root = node_hash(left, root)
    return root


def event_finding(line: bytes, seq: int, prev: str) -> Finding:
    """Why the event at ``seq`` is broken, checked step by step (the slow, exact path;
    it runs once, for the first event the fast loop doubts)."""
    if not line.endswith(b"\n"):
        return Finding("last event is incomplete (truncated ledger)", seq=seq)
    try:
        value = parse_canonical(line[:-1])
    except NotCanonicalError as err:
        return Finding(f"event is not canonical JSON: {err}", seq=seq)
    except ValueError as err:
        return Finding(f"not valid JSON ({err})", seq=seq)
    except RecursionError:
        return Finding("not valid JSON (nested too deeply)", seq=seq)
    if type(value) is not dict:
        return Finding("not a JSON object", seq=seq)
    if type(value.get("seq")) is not int or value.get("seq") != seq:
        return Finding(
            f"event carries seq {value.get('seq')!r}: an event was dropped, inserted or "
            "reordered", seq=seq)
    return Finding(
        "prev is not the SHA-256 of the previous event: the previous event was "
        "changed, or this one was moved", seq=seq)
