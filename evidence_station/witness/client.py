"""The station asks its witnesses to cosign its latest checkpoint (C2SP tlog-witness).

After every checkpoint and on the daemon's schedule, for each ``[witness]`` url/key pair:
send ``old <size the witness last acknowledged>``, the consistency proof from that size,
and the signed checkpoint. What the answers mean here:

* **200** — the cosignature is checked against the witness's key from the config (a
  line by any other key is ignored, as the spec says clients MUST) and stored beside the
  checkpoint: ``ledger/cosigned/<size>.note`` is the station's note with every
  cosignature gathered for it, what receipts, discs and export bundles carry.
* **409** — the witness holds another size (we lost its answer, it was restarted, or it
  is new to us): if that size is within our tree, ask once more from it — the witness
  then checks our proof against the root *it* holds, so a fork still fails (422).
* **400/403/404/422**, or a 409 for a size larger than ours — a refusal: an alarm at once.
* no answer — the station keeps working (it never waits on the network longer than
  ``timeout_s``, and skips a failing witness until ``retry_every_s`` has passed); past
  ``alarm_after_s`` without a cosignature it is an alarm.

An alarm is a ``witness.alarm`` event by the STATION actor through the one door, a
review flag, and a journald ``crit`` line; its recovery is a ``witness.recovered``
event. Cosignatures themselves are not events: each is self-proving, stored durably, and
recording one would only make the ledger outgrow the checkpoint it cosigns.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from evidence_station.config import WitnessConfig
from evidence_station.witness.protocol import (
    ADD_CHECKPOINT_PATH,
    encode_request,
    parse_size_answer,
)
from hashing.checkpoint import Checkpoint
from hashing.cosignature import CosignatureError, CosignerVerifier, add_signature_lines
from hashing.durable import make_directories_durably, write_file_durably
from hashing.note import NoteError, split_note

log = logging.getLogger(__name__)

STATE_FILE = "witnesses.json"
COSIGNED_DIR = "cosigned"
USER_AGENT = "evidence-station witness client"

# One witness round at a time per data dir: two rounds would race on the acknowledged
# size (and the witness would answer one of them 409).
_ROUNDS: dict[Path, threading.Lock] = {}
_ROUNDS_LOCK = threading.Lock()


@dataclass
class WitnessStatus:
    """What the station knows of one witness (``witnesses.json``)."""

    url: str
    key: str
    acked_size: int = 0  # the size of the latest checkpoint it cosigned for us
    acked_at: str | None = None
    failing_since: str | None = None  # first failed attempt since the last success
    last_attempt: str | None = None
    last_error: str | None = None
    alarm: str | None = None  # "refused" | "unreachable" while an alarm is open

    @property
    def name(self) -> str:
        return self.key.split("+", 1)[0]


@dataclass
class Outcome:
    """One witness's answer to this round."""

    url: str
    witness: str
    result: str  # cosigned | refused | unreachable | skipped
    size: int
    detail: str = ""
    latency_ms: float | None = None
    alarm: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Reply:
    status: int
    body: bytes
    error: str | None = None
    latency_ms: float = 0.0


def _post(url: str, body: bytes, timeout: float) -> _Reply:
    import time

    request = urllib.request.Request(
        url.rstrip("/") + ADD_CHECKPOINT_PATH, data=body, method="POST",
        headers={"Content-Type": "text/plain; charset=utf-8", "User-Agent": USER_AGENT})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = response.read(65536)
            return _Reply(response.status, data, latency_ms=(time.perf_counter() - start) * 1000)
    except urllib.error.HTTPError as err:
        data = err.read(65536)
        return _Reply(err.code, data, latency_ms=(time.perf_counter() - start) * 1000)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        reason = getattr(err, "reason", err)
        return _Reply(0, b"", error=f"{type(reason).__name__}: {reason}",
                      latency_ms=(time.perf_counter() - start) * 1000)


def cosigned_path(ledger_dir: Path, size: int) -> Path:
    return ledger_dir / COSIGNED_DIR / f"{size:012d}.note"


def cosigned_note(ledger_dir: Path, size: int) -> str | None:
    try:
        return cosigned_path(ledger_dir, size).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def store_cosignature(ledger_dir: Path, note: str, line: str, size: int) -> str:
    """Merge ``line`` into the cosigned note of ``size`` (durably) and return it."""
    current = cosigned_note(ledger_dir, size) or note
    merged = add_signature_lines(current, [line])
    if merged != current or not cosigned_path(ledger_dir, size).exists():
        path = cosigned_path(ledger_dir, size)
        make_directories_durably(path.parent)
        write_file_durably(path, merged.encode())
    return merged


class WitnessClient:
    """Asks the configured witnesses for one station (its data dir, ledger and clock)."""

    def __init__(self, station: Any, config: WitnessConfig) -> None:
        self.station = station
        self.config = config
        self.state_path: Path = station.layout.root / STATE_FILE
        with _ROUNDS_LOCK:
            self.round_lock = _ROUNDS.setdefault(station.layout.root.resolve(), threading.Lock())

    # -- state ----------------------------------------------------------------------------
    def load(self) -> list[WitnessStatus]:
        try:
            saved = {item["key"]: item for item in json.loads(self.state_path.read_text())}
        except FileNotFoundError:
            saved = {}
        statuses = []
        for url, key in zip(self.config.urls, self.config.keys, strict=True):
            known = saved.get(key.strip())
            status = WitnessStatus(**known) if known else WitnessStatus(url, key.strip())
            status.url = url
            statuses.append(status)
        return statuses

    def _save(self, statuses: list[WitnessStatus]) -> None:
        write_file_durably(self.state_path, json.dumps(
            [asdict(s) for s in statuses], ensure_ascii=False, indent=1).encode())

    # -- a round ---------------------------------------------------------------------------
    def ask(self, *, force: bool = False) -> list[Outcome]:
        """Ask every witness to cosign the station's latest checkpoint. ``force``: also
        the witnesses skipped for failing recently (the schedule, `ledger witness`)."""
        if not self.config.urls:
            return []
        # Wait for a round in progress (its answers may be ours), but never forever: a
        # caller holding the station's lock while another round waits for that lock must
        # not deadlock; the schedule then asks for this checkpoint.
        budget = 2 * self.config.timeout_s * (len(self.config.urls) + 1) + 1
        if not self.round_lock.acquire(timeout=budget):
            log.warning("witness round still running after %.0f s; left to the schedule", budget)
            return []
        try:
            latest = self.station.latest_of_this_ledger()  # never another history's
            if latest is None:
                return []
            checkpoint, note = latest
            statuses = self.load()
            outcomes = [self._ask_one(status, checkpoint, note, force=force) for status in statuses]
            self._save(statuses)
        finally:
            self.round_lock.release()
        for status, outcome in zip(statuses, outcomes, strict=True):
            self._alarm_or_recover(status, outcome, checkpoint)
        if any(o.alarm for o in outcomes):
            self._save(statuses)
        return outcomes

    def _now(self) -> datetime:
        now: datetime = self.station.clock.now()
        return now

    def _ask_one(self, status: WitnessStatus, checkpoint: Checkpoint, note: str, *,
                 force: bool) -> Outcome:
        now = self._now()
        if (not force and status.failing_since and status.last_attempt
                and now - datetime.fromisoformat(status.last_attempt)
                < timedelta(seconds=self.config.retry_every_s)):
            return Outcome(status.url, status.name, "skipped", checkpoint.size,
                           f"failing since {status.failing_since}; retried on the schedule")
        try:
            witness = CosignerVerifier.parse(status.key)
        except NoteError as err:
            return self._refused(status, checkpoint, f"[witness] key cannot be read: {err}")
        status.last_attempt = now.isoformat()
        old = min(status.acked_size, checkpoint.size)
        reply = self._send(status, old, checkpoint, note)
        if reply.status == 409:
            held = parse_size_answer(reply.body)
            if held is not None and held <= checkpoint.size:
                reply = self._send(status, held, checkpoint, note)
            elif held is not None:
                return self._refused(status, checkpoint, (
                    f"witness holds size {held}, larger than this station's checkpoint "
                    f"{checkpoint.size}: this ledger was rolled back or forked"), reply)
        if reply.status == 0 or reply.status >= 500:
            status.failing_since = status.failing_since or now.isoformat()
            status.last_error = reply.error or f"HTTP {reply.status}"
            return Outcome(status.url, status.name, "unreachable", checkpoint.size,
                           status.last_error, reply.latency_ms)
        if reply.status != 200:
            text = reply.body.decode("utf-8", "replace").strip()[:500]
            return self._refused(status, checkpoint, f"HTTP {reply.status}: {text}", reply)
        try:
            line = _check_cosignature(reply.body, witness, note)
        except (CosignatureError, NoteError) as err:
            return self._refused(status, checkpoint, f"answer is not its cosignature: {err}", reply)
        store_cosignature(self.station.layout.ledger, note, line, checkpoint.size)
        status.acked_size, status.acked_at = checkpoint.size, now.isoformat()
        status.failing_since = status.last_error = None
        return Outcome(status.url, status.name, "cosigned", checkpoint.size, "",
                       reply.latency_ms)

    def _send(self, status: WitnessStatus, old: int, checkpoint: Checkpoint, note: str) -> _Reply:
        with self.station.lock:  # the tree is read while no one appends
            proof = (self.station.ledger.consistency_proof(old, checkpoint.size)
                     if 0 < old < checkpoint.size else [])
        return _post(status.url, encode_request(old, proof, note), self.config.timeout_s)

    def _refused(self, status: WitnessStatus, checkpoint: Checkpoint, detail: str,
                 reply: _Reply | None = None) -> Outcome:
        status.last_error = detail
        status.failing_since = status.failing_since or self._now().isoformat()
        return Outcome(status.url, status.name, "refused", checkpoint.size, detail,
                       reply.latency_ms if reply else None)

    # -- alarms ----------------------------------------------------------------------------
    def _alarm_or_recover(self, status: WitnessStatus, outcome: Outcome,
                          checkpoint: Checkpoint) -> None:
        kind: str | None = None
        if outcome.result == "refused":
            kind = "refused"
        elif outcome.result in ("unreachable", "skipped") and status.failing_since:
            since = datetime.fromisoformat(status.failing_since)  # unreachable since then
            if self._now() - since > timedelta(seconds=self.config.alarm_after_s):
                kind = "unreachable"
        if outcome.result == "cosigned" and status.alarm:
            self._record("witness.recovered", {
                "witness": status.key, "url": status.url, "alarm": status.alarm,
                "checkpoint_size": checkpoint.size})
            status.alarm = None
            outcome.alarm = True  # state changed: saved again
            return
        if kind is None or status.alarm == kind:
            return
        status.alarm = kind
        outcome.alarm = True
        log.critical("证人告警 witness alarm: %s %s at checkpoint size %d: %s",
                     status.name, kind, checkpoint.size, outcome.detail)
        self._record("witness.alarm", {
            "witness": status.key, "url": status.url, "kind": kind,
            "checkpoint_size": checkpoint.size, "detail": outcome.detail,
            "since": status.failing_since,
            "flags": [{"flag_id": "", "clip_id": None, "kind": f"witness_{kind}",
                       "article": None,
                       "figures": {"witness": status.name, "url": status.url,
                                   "checkpoint_size": checkpoint.size,
                                   "detail": outcome.detail[:300]}}],
        })

    def _record(self, kind: str, fields: dict[str, Any]) -> None:
        """Record an alarm or a recovery through the one door, as the station's own act."""
        from evidence_station.casework.service import record_own
        from evidence_station.identity import STATION

        with self.station.lock:
            if kind == "witness.alarm":
                fields["flags"][0]["flag_id"] = f"W{self.station.ledger.size}"  # the event's seq
                record_own(self.station, STATION, "witness.alarm", fields)
            else:
                record_own(self.station, STATION, "witness.recovered", fields)


def _check_cosignature(body: bytes, witness: CosignerVerifier, note: str) -> str:
    """The witness's cosignature line from a 200 answer, checked against its configured
    key. "The client MAY concatenate it to the checkpoint, and use a note verification
    function"; lines by other keys are ignored ("MUST ignore … unknown keys")."""
    import base64

    text, _ = split_note(note)
    try:
        answer = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise CosignatureError("the answer is not UTF-8") from err
    _, signatures = split_note(text + "\n" + answer if answer.endswith("\n") else text + "\n" + answer + "\n")
    for name, raw in signatures:
        if name == witness.name and raw[:4] == witness.key_id:
            witness.verify_line(text, raw)
            return f"— {name} {base64.b64encode(raw).decode()}\n"
    raise CosignatureError(f"no cosignature by {witness.name}+{witness.key_id.hex()} in the answer")


def ask_witnesses(station: Any, *, force: bool = False) -> list[Outcome]:
    """One round for ``station`` with its config's ``[witness]``; [] when none is set."""
    return WitnessClient(station, station.config.witness).ask(force=force)
