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


def _check(value: Any, where: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, float):
        raise NotCanonicalError(f"{where}: floats are not allowed in ledger events ({value!r})")
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{where}[{index}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonicalError(f"{where}: object keys must be strings ({key!r})")
            _check(item, f"{where}.{key}")
        return
    raise NotCanonicalError(f"{where}: {type(value).__name__} is not a JSON value")


def canonical_json(value: dict[str, Any]) -> bytes:
    """Serialize ``value`` to the canonical event bytes (no trailing newline)."""
    _check(value, "event")
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def is_canonical(line: bytes, value: dict[str, Any]) -> bool:
    """True when ``line`` is exactly the canonical form of its parsed ``value``."""
    try:
        return canonical_json(value) == line
    except NotCanonicalError:
        return False
