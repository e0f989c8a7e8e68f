"""Canonical JSON for ledger events (DESIGN.md, "Ledger format").

UTF-8, keys sorted, no spaces, ``ensure_ascii=False``. Floats are refused: their text
form is not canonical across implementations, and nothing in an event needs one
(sizes are integers, times are RFC 3339 strings).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
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


def _make_fast_encode() -> Callable[[Any], str]:
    """``_ENCODER.encode`` without its per-call setup. ``JSONEncoder.encode`` builds a new
    C encoder on every call, which a profile of the verifier showed costing more than
    the encoding itself; here it is built once. Falls back to ``_ENCODER.encode`` where
    the C accelerator is missing (other Python implementations): same text, slower."""
    import json.encoder

    c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - CPython always has _json
        return _ENCODER.encode
    encode_basestring = json.encoder.encode_basestring
    # Same settings as _ENCODER: no indent, "," and ":", sorted keys, no NaN. No circular
    # check: a value parsed from JSON text cannot refer to itself.
    make = c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", True,
                          False, False)

    def encode(value: Any) -> str:
        if type(value) is str:  # the C encoder handles containers; a bare string here
            return _ENCODER.encode(value)
        return "".join(make(value, 0))

    return encode


def _make_fast_decode() -> Callable[[str], Any]:
    """Parse one JSON text that must start at offset 0 and fill the whole string, with
    the C scanner directly (``JSONDecoder.decode`` adds two whitespace regex matches per
    call). Raises ``ValueError`` for anything else, including surrounding whitespace."""
    scan: Any = getattr(_DECODER, "scan_once")  # noqa: B009 - untyped in typeshed

    def decode(text: str) -> Any:
        try:
            value, end = scan(text, 0)
        except StopIteration as err:
            raise ValueError(f"no JSON value at offset {err.value}") from None
        if end != len(text):
            raise ValueError(f"extra data at offset {end}")
        return value

    return decode


fast_encode = _make_fast_encode()
fast_decode = _make_fast_decode()


def _make_raw_encoder() -> Callable[[Any, int], Iterable[str]]:
    """The C encoder itself, with ``_ENCODER``'s settings: ``"".join(encode_parts(value,
    0))`` is ``_ENCODER.encode(value)`` for any JSON container. For the verifier's loop,
    which runs 10^7 times: calling it directly instead of through :func:`fast_encode`
    saves ~0.5 µs an event (a profile over 10^5 bench events). Without the C accelerator
    it is ``_ENCODER.encode`` in one piece: same text, slower."""
    import json.encoder

    c_make_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:  # pragma: no cover - CPython always has _json
        return lambda value, _level: (_ENCODER.encode(value),)
    make: Callable[[Any, int], Iterable[str]] = c_make_encoder(
        None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",", True,
        False, False)
    return make


encode_parts = _make_raw_encoder()
# The C scanner itself: ``scan_value(text, 0)`` is (value, end) for the JSON value at
# offset 0, StopIteration when there is none (leading whitespace included); the caller
# checks ``end == len(text)``. What :func:`fast_decode` does, without its call.
scan_value: Callable[[str, int], tuple[Any, int]] = getattr(_DECODER, "scan_once")  # noqa: B009
