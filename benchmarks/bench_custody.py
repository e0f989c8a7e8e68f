"""Custody report benchmark (run on demand: ``python benchmarks/bench_custody.py [--events N]``).

A station's life is 10^5–10^6 clips; a custody report reads the whole ledger to find the
events touching a few of them. Prints, for a ledger of N ingest events of distinct clips
(default 10^6) with 20 events touching one clip spread through it:
* the plain read of every event's bytes (``Ledger.raw_events``) — the floor any full scan
  pays — and a naive scan that parses every event as JSON, both measured in the same run;
* finding the touching events (``custody.touching_events``), as a ratio to the plain read;
* building and checking the inclusion proof of each touching event against a checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import add_json_out, full_size, row, write_rows

from evidence_station.custody import _check_one, touching_events
from hashing.checkpoint import Checkpoint, sign_checkpoint
from hashing.ledger import Draft, Ledger
from hashing.note import Signer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000 if full_size() else 100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    add_json_out(parser)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-custody-", dir=os.environ.get("BENCH_DIR")))
    target = "c0ffee00" * 8
    try:
        directory = work / "ledger"
        Ledger.create(directory)
        every = max(1, args.events // 20)
        with Ledger.open(directory, station="bench", writable=True) as ledger:
            for first in range(0, args.events, args.batch):
                drafts = []
                for seq in range(first, min(first + args.batch, args.events)):
                    sha = target if seq % every == every - 1 else f"{seq:064x}"
                    kind = "access.view" if sha == target and seq > every else "ingest"
                    drafts.append(Draft(kind, "officer-0001", {
                        "clip_id": sha[:16], "sha256": sha, "size": 123456789,
                        "device_id": "CAM12345", "officer_id": "654321",
                        "session_id": f"2026112{seq % 10}T181749Z-abcdef",
                        "source_path": f"DCIM/100MEDIA/CAM12345_654321_{seq:08d}.MP4"}))
                ledger.append_many(drafts)
        with Ledger.open(directory, station="bench", writable=False) as ledger:
            size = ledger.size
            total = sum(len(body) for _, body in ledger.raw_events(0))
            station = cast(Any, SimpleNamespace(ledger=ledger))
            found: list[Any] = []

            def plain() -> None:
                for _ in ledger.raw_events(0):
                    pass

            def naive() -> None:
                for _, body in ledger.raw_events(0):
                    json.loads(body)

            def custody() -> None:
                found[:] = touching_events(station, [target[:16]])[0]

            # interleaved rounds, the best of each: on a shared machine the load changes
            # between measurements, and the ratio must compare like with like
            best = {name: float("inf") for name in ("plain", "naive", "custody")}
            for _ in range(args.rounds):
                for name, run in (("plain", plain), ("naive", naive), ("custody", custody)):
                    start = time.perf_counter()
                    run()
                    best[name] = min(best[name], time.perf_counter() - start)
            raw, parsed, scan = best["plain"], best["naive"], best["custody"]
            signer = Signer.generate("bench")
            note = sign_checkpoint(Checkpoint("bench", size, ledger.root()), signer)
            start = time.perf_counter()
            problems = [_check_one(event, ledger.inclusion_proof(event.seq, size), note, signer.verifier)
                        for event, _ in found]
            proofs = time.perf_counter() - start
        assert not any(problems), problems
        print(f"ledger: {size:,} events, {total / 2**20:.0f} MiB")
        print(f"best of {args.rounds} interleaved rounds each")
        print(f"plain read of every event (baseline): {raw:.2f} s")
        print(f"naive scan parsing every event:       {parsed:.2f} s ({parsed / raw:.1f}× the plain read)")
        print(f"custody scan (touching events):       {scan:.2f} s ({scan / raw:.1f}× the plain read), "
              f"{len(found)} events found")
        print(f"inclusion proofs built and checked:   {proofs * 1000:.1f} ms for {len(found)} events "
              f"({proofs / max(1, len(found)) * 1000:.2f} ms each)")
        write_rows(args.json_out, [
            row(f"custody scan of {size:,} events", scan, "s", baseline=raw,
                baseline_name="plain read of every event", target="reported"),
            row("custody: inclusion proof built and checked", proofs / max(1, len(found)) * 1000,
                "ms per event", target="reported")])
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
