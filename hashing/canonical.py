"""Canonical JSON for ledger events (DESIGN.md, "Ledger format").

UTF-8, keys sorted, no spaces, ``ensure_ascii=False``. Floats are refused: their text
form is not canonical across implementations, and nothing in an event needs one
(sizes are integers, times are RFC 3339 strings).
"""

from __future__ import annotations

import json
from typing import Any


class NotCanonicalError(ValueError):
    """An event value cannot be serialized canonically."""


_SCALARS = frozenset({str, int, bool, type(None)})


def _check(value: Any) -> None:
    """Refuse floats and non-JSON types anywhere in ``value`` (iterative, allocation-light:
    this runs for every event appended)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        where = "event" + "".join(f"[{p!r}]" for p in path)
        if kind is dict:
            for key, child in item.items():
                if type(key) is not str:
                    raise NotCanonicalError(f"{where}: object keys must be strings ({key!r})")
                if type(child) not in _SCALARS:
                    stack.append((child, (*path, key)))
        elif kind is list or kind is tuple:
            for index, child in enumerate(item):
                if type(child) not in _SCALARS:
                    stack.append((child, (*path, index)))
        elif isinstance(item, float):
            raise NotCanonicalError(f"{where}: floats are not allowed in ledger events ({item!r})")
        else:
            raise NotCanonicalError(f"{where}: {kind.__name__} is not a JSON value")


def canonical_json(value: dict[str, Any]) -> bytes:
    """Serialize ``value`` to the canonical event bytes (no trailing newline)."""
    _check(value)
    return _ENCODER.encode(value).encode("utf-8")


def _refuse_float(text: str) -> Any:
    raise NotCanonicalError(f"float {text} is not allowed in ledger events")


# Built once: json.dumps/loads with options build a new encoder/decoder on every call,
# which costs more than the encoding itself for a small event.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)
_DECODER = json.JSONDecoder(parse_float=_refuse_float, parse_constant=_refuse_float)


def parse_canonical(line: bytes) -> Any:
    """Parse an event line and check that it is exactly its canonical form.

    Floats are refused while parsing, so the check is one ``loads`` and one ``dumps``.
    Raises ``ValueError`` (``NotCanonicalError`` or a JSON error).
    """
    value = _DECODER.decode(line.decode("utf-8"))
    if _ENCODER.encode(value).encode("utf-8") != line:
        raise NotCanonicalError("bytes differ from the canonical form")
    return value
