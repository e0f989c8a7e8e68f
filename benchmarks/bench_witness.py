"""Witness cosigning latency (run on demand: ``python benchmarks/bench_witness.py [--rounds N]``).

Starts a real witness (``evidence-station witness serve``) on 127.0.0.1 in its own
process, then from a station in this process, N times: append one event, issue a
checkpoint, and ask the witness to cosign it (request with the consistency proof from the
size it acknowledged; its SQLite commit with synchronous=FULL; the answer checked against
its key; the cosigned note stored durably). Prints the median and p95 of

* the HTTP round trip of add-checkpoint alone (what the witness costs), and
* the whole ``issue_checkpoint`` (sign, publish durably, ask, store) as a station sees it,
  against the same call without witnesses in the same run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchrows import add_json_out, full_size, row, write_rows

from evidence_station.casework.service import record_own
from evidence_station.identity import ROOT_ACCOUNT, Actor
from evidence_station.station import Station
from tests.witness_helpers import (
    WitnessProcess,
    config_for,
    free_port,
    new_station,
    write_config,
)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200 if full_size() else 50)
    add_json_out(parser)
    args = parser.parse_args()
    actor = Actor(ROOT_ACCOUNT, "admin", 0, "cli")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        vkey = new_station(root / "a", "bench.example/station-01")
        new_station(root / "b", "bench.example/central")
        witness = WitnessProcess(root / "b", write_config(root / "b.toml", logs=[vkey]), free_port())
        witness.start()
        try:
            with Station.open(root / "a", config_for([witness.url], [witness.key]),
                              writable=True) as station:
                station.issue_checkpoint()  # first contact (old 0)
                http_ms: list[float] = []
                whole_ms: list[float] = []
                from evidence_station.witness import client

                original = client._post

                def timed(url: str, body: bytes, timeout: float) -> client._Reply:
                    reply = original(url, body, timeout)
                    http_ms.append(reply.latency_ms)
                    return reply

                client._post = timed  # type: ignore[assignment]
                for number in range(args.rounds):
                    record_own(station, actor, "report", {"kind": f"bench-{number}"})
                    start = time.perf_counter()
                    station.issue_checkpoint()
                    whole_ms.append((time.perf_counter() - start) * 1000)
                alone_ms: list[float] = []
                for number in range(args.rounds):  # the baseline: no witness asked
                    record_own(station, actor, "report", {"kind": f"alone-{number}"})
                    start = time.perf_counter()
                    station.issue_checkpoint(witness=False)
                    alone_ms.append((time.perf_counter() - start) * 1000)
                station.issue_checkpoint()
                latest = station.latest_checkpoint()
                assert latest is not None and station.cosigned_note(latest[0].size) is not None
        finally:
            witness.stop()
    print(f"rounds: {args.rounds}, tree size at the end: {latest[0].size}")
    print(f"add-checkpoint HTTP round trip: median {statistics.median(http_ms):.1f} ms, "
          f"p95 {percentile(http_ms, 0.95):.1f} ms")
    print(f"issue_checkpoint incl. cosigning: median {statistics.median(whole_ms):.1f} ms, "
          f"p95 {percentile(whole_ms, 0.95):.1f} ms")
    print(f"issue_checkpoint without witnesses (same run): median "
          f"{statistics.median(alone_ms):.1f} ms, p95 {percentile(alone_ms, 0.95):.1f} ms")
    write_rows(args.json_out, [
        row("witness add-checkpoint HTTP round trip (p95)", percentile(http_ms, 0.95), "ms"),
        row("checkpoint with witness cosigning (p95)", percentile(whole_ms, 0.95), "ms",
            baseline=percentile(alone_ms, 0.95), baseline_name="without witnesses")])


if __name__ == "__main__":
    main()
