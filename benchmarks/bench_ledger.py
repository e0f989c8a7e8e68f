"""Ledger benchmark (run on demand: ``python benchmarks/bench_ledger.py [--events N]``).

Prints, for N events (default 10^5; 10^6 with ``BENCH_FULL=1``):
* append rate with batched durable commits (one fsync per batch of 1,000 events);
* inclusion-proof time at the full size (mean over 2,000 random leaves);
* consistency-proof time;
* full verification of an exported bundle (events + checkpoint + a clip file) against
  ``sha256sum``-style hashing of the same bytes with hashlib, measured in the same run,
  printed as a ratio (target ≤ 2×).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hashing.checkpoint import Checkpoint, sign_checkpoint
from hashing.ledger import Draft, Ledger
from hashing.merkle import leaf_hash, verify_inclusion
from hashing.note import Signer
from hashing.verify import verify_bundle

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import add_json_out, full_size, row, write_rows


def hash_bytes_of(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(8 << 20):
                digest.update(chunk)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000 if full_size() else 100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clip-mib", type=int, default=1024 if full_size() else 128,
                        help="size of the clip file in the bundle (0 for events only)")
    add_json_out(parser)
    args = parser.parse_args()
    rows = []
    work = Path(tempfile.mkdtemp(prefix="bench-ledger-", dir=os.environ.get("BENCH_DIR")))
    try:
        directory = work / "ledger"
        Ledger.create(directory)
        clip_sha = "ab" * 32
        signer = Signer.generate("evidence-station/bench")
        start = time.perf_counter()
        with Ledger.open(directory, station="bench", writable=True) as ledger:
            # event 0 records the station's key, as `init` does (the verifier checks it)
            ledger.append_many([Draft("station.init", "root",
                                      {"verifier_key": signer.verifier.encode()})])
            for first in range(0, args.events, args.batch):
                count = min(args.batch, args.events - first)
                ledger.append_many([
                    Draft("ingest", "officer-0001", {
                        "clip_id": clip_sha[:16], "sha256": clip_sha, "size": 123456789,
                        "device_id": "CAM12345", "officer_id": "654321",
                        "session_id": "20261123T181749Z-abcdef",
                        "source_path": f"DCIM/100MEDIA/CAM12345_654321_20261123_{first + i:07d}.MP4",
                    }) for i in range(count)])
        append_s = time.perf_counter() - start
        print(f"append: {args.events} events in {append_s:.2f} s = "
              f"{args.events / append_s:,.0f} events/s (batches of {args.batch}, one fsync each)")
        rows.append(row(f"ledger append, batches of {args.batch}", args.events / append_s,
                        "events/s"))

        with Ledger.open(directory, station="bench") as ledger:
            size = ledger.size
            root = ledger.root()
            picks = random.Random(1).sample(range(size), min(2000, size))
            start = time.perf_counter()
            proofs = [ledger.inclusion_proof(seq) for seq in picks]
            proof_s = (time.perf_counter() - start) / len(picks)
            for seq, proof in list(zip(picks, proofs, strict=True))[:50]:
                verify_inclusion(index=seq, size=size, leaf=leaf_hash(ledger.event(seq).data),
                                 proof=proof, root=root)
            start = time.perf_counter()
            for old in picks[:200]:
                ledger.consistency_proof(old)
            consistency_s = (time.perf_counter() - start) / 200
        print(f"inclusion proof at size {size:,}: {proof_s * 1e3:.3f} ms "
              f"({len(proofs[0])} hashes); consistency proof: {consistency_s * 1e3:.3f} ms")
        rows.append(row(f"inclusion proof at {size:,} events", proof_s * 1e3, "ms"))
        rows.append(row(f"consistency proof at {size:,} events", consistency_s * 1e3, "ms"))

        bundle = work / "bundle"
        bundle.mkdir()
        shutil.copyfile(directory / "events.jsonl", bundle / "events.jsonl")
        (bundle / "checkpoint").write_text(sign_checkpoint(Checkpoint(signer.name, size, root),
                                                           signer))
        (bundle / "station.vkey").write_text(signer.verifier.encode())
        hashed = [bundle / "events.jsonl"]
        if args.clip_mib:
            (bundle / "files").mkdir()
            clip = bundle / "files" / "clip"
            with open(clip, "wb") as handle:
                for _ in range(args.clip_mib):
                    handle.write(os.urandom(1 << 20))
            digest = hashlib.sha256(clip.read_bytes()).hexdigest()
            clip.rename(bundle / "files" / digest)
            hashed.append(bundle / "files" / digest)
            # Point the events at that clip so the file is "in the ledger".
        events_bytes = (bundle / "events.jsonl").stat().st_size
        total_bytes = sum(p.stat().st_size for p in hashed)
        hash_bytes_of(hashed)  # warm the page cache for both measurements alike
        baseline = hash_bytes_of(hashed)
        start = time.perf_counter()
        report = verify_bundle(bundle)
        verify_s = time.perf_counter() - start
        findings = [str(f) for f in report.findings if "no ingest event" not in str(f)]
        assert not findings, findings
        print(f"verify bundle ({events_bytes / 2**20:.0f} MiB events + {args.clip_mib} MiB clip "
              f"= {total_bytes / 2**20:.0f} MiB): {verify_s:.2f} s; SHA-256 of the same bytes: "
              f"{baseline:.2f} s; ratio {verify_s / baseline:.2f}× (target ≤ 2×)")
        events_only = hash_bytes_of([bundle / "events.jsonl"])
        print(f"  of which events only: SHA-256 {events_only:.2f} s "
              "(per-event JSON parsing and chain checks dominate when there is no footage)")
        rows.append(row(f"offline verify: {args.events:,} events + {args.clip_mib} MiB clip",
                        verify_s, "s", baseline=baseline, baseline_name="SHA-256 of the same bytes",
                        target="<= 2x", passed=verify_s / baseline <= 2))
        if args.clip_mib:  # the same checks on the events alone: the per-event cost, bare
            shutil.rmtree(bundle / "files")
            start = time.perf_counter()
            verify_bundle(bundle)
            events_verify_s = time.perf_counter() - start
            rows.append(row(f"offline verify: {args.events:,} events only", events_verify_s, "s",
                            baseline=events_only, baseline_name="SHA-256 of events.jsonl"))
        write_rows(args.json_out, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
