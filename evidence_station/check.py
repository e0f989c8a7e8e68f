"""``check``: compare ledger, store and catalog, read-only (borg ``check``'s habit).

What a passing check proves:
* the ledger's hash chain is intact from seq 0, every event is canonical, and the Merkle
  root over the events equals the stored tree's root;
* the latest signed checkpoint verifies with the station key and its root equals the
  root of the ledger at the checkpoint's size (the signed history was not rewritten);
* every file an ingest event names is in the store, read-only, with the right size, and
  with ``--verify-data`` its bytes still hash to its name (re-read from disk);
* the catalog equals a fresh projection of the ledger (nothing added, lost or altered).

What it does not prove: that the station key itself was not stolen, or that a file was
never changed and changed back between two checks. It never repairs anything: a
mismatch is an alarm for a person to look at (invariant 2). ``catalog rebuild`` is the
only repair, and only of the catalog.
"""

from __future__ import annotations

import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evidence_station.catalog import Catalog
from evidence_station.projection import projected_tables
from evidence_station.station import Station
from hashing.checkpoint import CheckpointError
from hashing.event_scan import scan_events
from hashing.stream import hash_file_from_disk

MAX_PER_TABLE = 20  # differences named per table; one is enough to raise the alarm


@dataclass
class CheckFinding:
    area: str  # ledger | checkpoint | store | catalog
    reason: str
    seq: int | None = None
    file: str | None = None

    def __str__(self) -> str:
        where = [self.area]
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.file:
            where.append(self.file)
        return f"[{' · '.join(where)}] {self.reason}"


@dataclass
class CheckReport:
    events: int = 0
    objects: int = 0
    verified_data: bool = False
    findings: list[CheckFinding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def check_station(
    station: Station, *, verify_data: bool = False,
    progress: Callable[[int], None] | None = None,
) -> CheckReport:
    report = CheckReport(verified_data=verify_data)
    ledger = station.ledger
    checkpoint_size = None
    latest = None
    try:
        latest = station.latest_checkpoint()
    except CheckpointError as err:
        report.findings.append(CheckFinding("checkpoint", f"latest checkpoint: {err}"))
    if latest is not None:
        checkpoint_size = latest[0].size
    with open(ledger.path, "rb") as handle:
        limited = (line for _, line in zip(range(ledger.size), handle, strict=False))
        scan = scan_events(limited, root_at={checkpoint_size} if checkpoint_size else set())
    report.events = scan.count
    if ledger.uncached_events:  # issue 22: a crash after the append, before the caches
        report.findings.append(CheckFinding(
            "ledger", f"{ledger.uncached_events} complete event(s) after seq {ledger.size - 1} "
            "are in the events file but not yet in the tree and offset caches (a crash before "
            "they were cached); nothing is lost: start the daemon or run any writing command "
            "(`evidence-station ledger recover`) to rebuild the caches, then check again"))
    for finding in scan.findings:
        report.findings.append(CheckFinding("ledger", finding.reason, seq=finding.seq))
    if not scan.findings:
        if scan.count != ledger.size:
            report.findings.append(CheckFinding(
                "ledger", f"{scan.count} events read, {ledger.size} expected"))
        elif scan.root != ledger.root():
            report.findings.append(CheckFinding(
                "ledger", "stored Merkle tree disagrees with the events (run any writing "
                "command to rebuild the cache, then check again)"))
        if latest is not None:
            checkpoint = latest[0]
            if checkpoint.size > scan.count:
                report.findings.append(CheckFinding(
                    "checkpoint", f"signed checkpoint covers {checkpoint.size} events but the "
                    f"ledger has {scan.count}: events were removed"))
            elif scan.roots.get(checkpoint.size) != checkpoint.root:
                report.findings.append(CheckFinding(
                    "checkpoint", f"the first {checkpoint.size} events do not match the signed "
                    "checkpoint: signed history was rewritten"))
    _check_store(station, scan.ingested, report, verify_data, progress)
    _check_catalog(station, report)
    return report


def _check_store(station: Station, ingested: dict[str, int], report: CheckReport,
                 verify_data: bool, progress: Callable[[int], None] | None) -> None:
    store = station.store
    known: set[str] = set()
    for sha256, size in sorted(ingested.items()):
        path = store.path_for(sha256)
        known.add(sha256)
        rel = str(path.relative_to(store.root))
        try:
            info = path.stat()
        except FileNotFoundError:
            report.findings.append(CheckFinding("store", "missing: the ledger records this file "
                                                "but the store does not have it", file=rel))
            continue
        report.objects += 1
        if info.st_size != size:
            report.findings.append(CheckFinding(
                "store", f"size {info.st_size}, the ledger says {size}", file=rel))
        if info.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            report.findings.append(CheckFinding("store", "is writable; originals must be "
                                                "read-only", file=rel))
        if verify_data:
            digest = hash_file_from_disk(path, progress=progress)
            if digest.sha256 != sha256:
                report.findings.append(CheckFinding(
                    "store", f"content hashes to {digest.sha256}: the original was altered or "
                    "the disk damaged it", file=rel))
    for path in store.iter_objects():
        if path.name not in known:
            report.notes.append(
                f"{path.relative_to(store.root)}: stored but not in the ledger (an interrupted "
                "ingest; it is adopted when that camera is docked again)")
    leftovers = list(store.tmp.iterdir())
    if leftovers:
        report.notes.append(f"{len(leftovers)} unfinished temp copies in store/tmp (removed at "
                            "the next writing start)")


# Kept by the catalog's triggers from the projected tables (catalog/indexes.py, duties.py)
DERIVED_TABLES = ("case_last", "case_pairs", "compliance_weeks", "compliance_blocks")


def _check_catalog(station: Station, report: CheckReport) -> None:
    """Compare every table the projection writes with a fresh projection of the ledger
    (``projection.projected_tables``, from the one registry), row by row and column by
    column, and name each difference. A row edited, added or deleted by hand in
    ``catalog.sqlite`` — a role raised, a hold removed, a case number changed — shows.
    So does one in the tables the catalog's triggers keep from those (``DERIVED_TABLES``):
    a week's late-storage count lowered before an inspection is as much a lie."""
    catalog = station.catalog
    if catalog.applied_seq != station.ledger.size - 1:
        report.findings.append(CheckFinding(
            "catalog", f"has applied events up to seq {catalog.applied_seq}, the ledger ends at "
            f"{station.ledger.size - 1} (it catches up at the next writing start)"))
        return
    with tempfile.TemporaryDirectory() as scratch:
        fresh = Catalog(Path(scratch) / "projection.sqlite")
        try:
            fresh.catch_up(station.ledger)
            for table in [*sorted(projected_tables()), *DERIVED_TABLES]:
                report.findings.extend(_compare_table(catalog, fresh, table))
        finally:
            fresh.close()


def _compare_table(ours: Catalog, fresh: Catalog, table: str) -> list[CheckFinding]:
    keys = fresh.table(table).pks
    if table not in ours.db.table_names():
        return [CheckFinding("catalog", f"table {table} is missing")]

    def rows(catalog: Catalog) -> dict[tuple[object, ...], dict[str, object]]:
        return {tuple(row[k] for k in keys): row
                for row in catalog.table_rows(table)}

    mine, truth = rows(ours), rows(fresh)
    found: list[CheckFinding] = []

    def name(key: tuple[object, ...]) -> str:
        return "/".join(str(part) for part in key)

    for key in sorted(set(truth) - set(mine), key=str)[:MAX_PER_TABLE]:
        found.append(CheckFinding("catalog", f"{table} row {name(key)} is in the ledger but "
                                  "missing from the catalog"))
    for key in sorted(set(mine) - set(truth), key=str)[:MAX_PER_TABLE]:
        found.append(CheckFinding("catalog", f"{table} row {name(key)} has no ledger event "
                                  "behind it"))
    for key in sorted(set(mine) & set(truth), key=str):
        changed = [f"{column} is {mine[key].get(column)!r}, the ledger says {value!r}"
                   for column, value in truth[key].items() if mine[key].get(column) != value]
        if changed:
            found.append(CheckFinding("catalog", f"{table} row {name(key)}: {'; '.join(changed)}"))
        if len(found) >= MAX_PER_TABLE:
            break
    return found


def rebuild_catalog(station: Station) -> dict[str, int]:
    """Throw the projection away and project it again from the ledger. The file stays
    (other connections — the daemon's, the web UI's — keep working); the tables are
    dropped and replayed under the writer's lock, so no event lands in between."""
    with station.lock:
        station.catalog.reset()
        station.catalog.catch_up(station.ledger)
        return station.catalog.counts()
