"""Reading untrusted JSON fields for the verifiers: the bundle verifier (``verify.py``) and
the disc's own ``verify.py`` read every field through these, so a wrong type, a missing
key or a bad hash is one clear message naming the file and the place (exit 2), never a
traceback. Standard library only, like the rest of what the verifiers import."""

from __future__ import annotations

import json
import re
from typing import Any

HASH_HEX = re.compile(r"[0-9a-fA-F]{64}")  # a SHA-256 (RFC 6962 node) as 64 hex digits


class MalformedInput(Exception):
    """Input that cannot be read as what it claims to be (exit 2); the message starts with
    the file and the place in it."""


def shown(name: str) -> str:
    """A file name as printable text: a name that is not UTF-8 on disk comes back from
    the OS with surrogate escapes, which ``print`` would refuse with a traceback."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def kind(value: object) -> str:
    """JSON's name for a parsed value's type, for messages an auditor reads."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _refuse_constant(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def parse_json(data: bytes | str, name: str) -> Any:
    """JSON text from an untrusted file; NaN, Infinity and nesting past the recursion
    limit are refused like any other malformed input."""
    try:
        return json.loads(data, parse_constant=_refuse_constant)
    except RecursionError as err:
        raise MalformedInput(f"{name}: JSON nested too deeply") from err
    except UnicodeDecodeError as err:
        raise MalformedInput(f"{name}: byte {err.start} is not UTF-8") from err
    except json.JSONDecodeError as err:
        raise MalformedInput(
            f"{name}: not valid JSON at line {err.lineno} column {err.colno} ({err.msg})"
        ) from err
    except ValueError as err:  # a NaN, or an integer past Python's digit limit
        raise MalformedInput(f"{name}: not valid JSON ({err})") from err


def natural(value: dict[str, Any], key: str, name: str) -> int:
    """``value[key]`` as a non-negative integer (``true`` is not 1 here)."""
    if key not in value:
        raise MalformedInput(f"{name}: {key} is missing")
    item = value[key]
    if type(item) is not int or item < 0:
        raise MalformedInput(
            f"{name}: {key} is {kind(item)} ({str(item)[:40]}), not a non-negative integer")
    return item


def text(value: dict[str, Any], key: str, name: str) -> str:
    """``value[key]`` as a string that is real text (no lone surrogates)."""
    if key not in value:
        raise MalformedInput(f"{name}: {key} is missing")
    item = value[key]
    if type(item) is not str:
        raise MalformedInput(f"{name}: {key} is {kind(item)}, not a string")
    try:
        item.encode("utf-8")
    except UnicodeEncodeError as err:
        raise MalformedInput(f"{name}: {key} holds a lone surrogate, not text") from err
    return item


def hash_list(value: dict[str, Any], key: str, name: str) -> list[bytes]:
    """``value[key]`` as a list of 32-byte hashes, each given as 64 hex digits."""
    if key not in value:
        raise MalformedInput(f"{name}: {key} is missing")
    items = value[key]
    if type(items) is not list:
        raise MalformedInput(f"{name}: {key} is {kind(items)}, not a list of hex strings")
    hashes = []
    for index, item in enumerate(items):
        if type(item) is not str:
            raise MalformedInput(f"{name}: {key}[{index}] is not a hex string ({kind(item)})")
        if not HASH_HEX.fullmatch(item):
            raise MalformedInput(
                f"{name}: {key}[{index}] is not a hex string of 32 bytes ({item[:72]!r})")
        hashes.append(bytes.fromhex(item))
    return hashes
