"""The witness's own Ed25519 cosigning key, kept in the station's data dir (0600).

A separate key from the station's: a witness's cosignature must say "another party saw
this", and the tlog-cosignature key id (type 0x04) differs from a note key's (0x01), so
one key could not serve both safely anyway ("MUST use distinct public keys").
"""

from __future__ import annotations

import json
from pathlib import Path

from evidence_station.errors import NotInitialisedError
from hashing.cosignature import Cosigner
from hashing.durable import make_directories_durably, write_file_durably

KEY_FILE = Path("keys") / "witness.key"


def default_name(data_dir: Path) -> str:
    """``<station origin>/witness``: unique wherever the station's origin is."""
    try:
        station = json.loads((data_dir / "station.json").read_text())
    except FileNotFoundError as err:
        raise NotInitialisedError(data_dir=data_dir) from err
    return f"{station['origin']}/witness"


def witness_cosigner(data_dir: Path, name: str | None = None) -> Cosigner:
    """The witness key of ``data_dir``, made on first use under ``name`` (or the default)."""
    path = data_dir / KEY_FILE
    try:
        return Cosigner.parse(path.read_text())
    except FileNotFoundError:
        pass
    cosigner = Cosigner.generate(name or default_name(data_dir))
    make_directories_durably(path.parent, mode=0o700)
    write_file_durably(path, (cosigner.encode() + "\n").encode(), mode=0o600)
    return cosigner
