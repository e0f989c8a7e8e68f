"""Scrub benchmark (F34): does a dock keep >= 90 % of its copy speed while a scrub runs?

``python benchmarks/bench_scrub.py [--store-mb 384] [--copy-mb 192] [--rounds 3]
[--max-read-mb-s 50] [--json-out FILE]`` (full size: ``--store-mb 4096 --copy-mb 2048``).

One station, one process, the way the daemon runs them: a store filled with
``--store-mb`` of recordings, then, alternating in the same run on the same disk:
* **baseline** — a camera folder of ``--copy-mb`` ingested through the real pipeline
  (copy while hashing, fsync, re-read, verify, ledger commit) with nothing else running;
* **with scrub** — the same size of new content ingested while scrub passes run back to
  back on their own idle-priority thread at ``--max-read-mb-s`` (the config default);
* **with an unthrottled scrub** — the same, the throttle lifted: what the throttle buys.
Each camera's files are written, synced and dropped from the page cache before their
ingest (posix_fadvise, per file: nothing machine-wide), so the copy reads the disk. The
median of the rounds is compared; the ratio is with-scrub / baseline speed, target >= 0.90.
The scrub's own achieved read rate is printed against its limit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from evidence_station.config import Config
from evidence_station.identity import STATION
from evidence_station.ingest.pipeline import ingest_source
from evidence_station.scrub import Interrupted, run_idle
from evidence_station.scrub import Progress as ScrubProgress
from evidence_station.scrub.pace import Pacer
from evidence_station.station import Station, init_station

MB = 1_000_000
FILE_MB = 64


def make_camera(folder: Path, total_mb: int, tag: str) -> int:
    """A camera folder of random-content recordings, on disk and out of the page cache."""
    media = folder / "DCIM" / "100MEDIA"
    media.mkdir(parents=True)
    written = 0
    number = 0
    while written < total_mb * MB:
        size = min(FILE_MB * MB, total_mb * MB - written)
        path = media / f"{tag}{number:04d}.MP4"
        with path.open("wb") as handle:
            remaining = size
            while remaining:
                block = os.urandom(min(remaining, 4 * 1024 * 1024))
                handle.write(block)
                remaining -= len(block)
            handle.flush()
            os.fsync(handle.fileno())
            os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        written += size
        number += 1
    return written


class Counter(ScrubProgress):
    def __init__(self) -> None:
        self.bytes = 0

    def advance(self, count: int) -> None:
        self.bytes += count


class ScrubLoop:
    """Scrub passes back to back until stopped, like a long pass over a big store."""

    def __init__(self, station: Station, max_read_mb_s: float, *, polite: bool = True) -> None:
        self.station = station
        self.max_read_mb_s = max_read_mb_s
        self.polite = polite  # False: no throttle and no yielding to docks
        self.stop = threading.Event()
        self.counter = Counter()
        self.thread = threading.Thread(target=self._run, name="scrub-loop")
        self.window_rate = 0.0  # MB/s read by the scrub while the dock copied

    def _run(self) -> None:
        view = self.station.view()
        try:
            while not self.stop.is_set():
                options: dict[str, Any] = {} if self.polite else {"pacer": Pacer(1e12)}
                try:
                    run_idle(view, STATION, trigger="benchmark", max_read_mb_s=self.max_read_mb_s,
                             progress=self.counter, stopping=self.stop.is_set, **options)
                except Interrupted:
                    break
        finally:
            view.close()

    def __enter__(self) -> ScrubLoop:
        self.thread.start()
        while self.counter.bytes == 0 and self.thread.is_alive():
            time.sleep(0.01)  # the scrub is reading before the copy starts
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def timed_ingest(station: Station, camera: Path, tag: str, size: int,
                 loop: ScrubLoop | None = None) -> float:
    """Ingest a prepared camera folder; with ``loop``, a scrub runs exactly around the copy
    (its read rate is measured over the same window)."""
    if loop is not None:
        loop.__enter__()
        time.sleep(1.0)  # past its first burst: the scrub reads steadily when the dock starts
    read_before = loop.counter.bytes if loop is not None else 0
    start = time.perf_counter()
    try:
        result = ingest_source(station, camera, device_id=f"BENCH-{tag}", actor="station")
        elapsed = time.perf_counter() - start
        if loop is not None:  # the scrub's reads over exactly the copy's window
            loop.window_rate = (loop.counter.bytes - read_before) / MB / elapsed
    finally:
        if loop is not None:
            loop.__exit__()
    committed = sum(1 for outcome in result.outcomes if outcome.status == "committed")
    if committed != len(result.outcomes) or not committed:
        raise SystemExit(f"ingest {tag}: {committed}/{len(result.outcomes)} committed")
    shutil.rmtree(camera)
    return size / MB / elapsed


def row(figure: str, value: float, unit: str, baseline: float | None, baseline_name: str | None,
        target: str | None, passed: bool | None) -> dict[str, Any]:
    ratio = round(value / baseline, 3) if baseline else None
    return {"figure": figure, "value": round(value, 2), "unit": unit,
            "baseline": round(baseline, 2) if baseline is not None else None,
            "baseline_name": baseline_name, "ratio": ratio, "target": target, "pass": passed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store-mb", type=int, default=384)
    parser.add_argument("--copy-mb", type=int, default=192)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-read-mb-s", type=float,
                        default=Config.model_validate({}).scrub.max_read_mb_s)
    parser.add_argument("--dir", type=Path, default=None, help="work here (default: a temp dir)")
    parser.add_argument("--json-out", type=Path, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-scrub-", dir=args.dir))
    try:
        data = work / "data"
        init_station(data, "bench-scrub", "bench")
        config = Config.model_validate({"ingest": {"reserve_mib": 0},
                                        "analysis": {"enabled": False}})
        with Station.open(data, config, writable=True) as station:
            filled = make_camera(work / "store-fill", args.store_mb, "FILL")
            ingest_source(station, work / "store-fill", device_id="FILL", actor="station")
            shutil.rmtree(work / "store-fill")
            print(f"store filled with {filled / MB:.0f} MB; copies of {args.copy_mb} MB, "
                  f"{args.rounds} rounds, scrub limit {args.max_read_mb_s} MB/s")
            start = time.perf_counter()
            counter = Counter()
            run_idle(station, STATION, trigger="benchmark", max_read_mb_s=args.max_read_mb_s,
                     progress=counter)
            scrub_alone = counter.bytes / MB / (time.perf_counter() - start)
            print(f"scrub pass alone: {scrub_alone:.1f} MB/s (limit {args.max_read_mb_s})")
            alone: list[float] = []
            throttled: list[float] = []
            unthrottled: list[float] = []
            scrub_rates: list[float] = []
            for number in range(args.rounds):
                cameras = {}
                for tag in ("A", "S", "U"):  # made before any timing, out of the page cache
                    camera = work / f"cam-{tag}{number}"
                    cameras[tag] = (camera, make_camera(camera, args.copy_mb, f"{tag}{number}"))
                alone.append(timed_ingest(station, cameras["A"][0], f"A{number}",
                                          cameras["A"][1]))
                loop = ScrubLoop(station, args.max_read_mb_s)
                throttled.append(timed_ingest(station, cameras["S"][0], f"S{number}",
                                              cameras["S"][1], loop))
                scrub_rates.append(loop.window_rate)
                unthrottled.append(timed_ingest(station, cameras["U"][0], f"U{number}",
                                                cameras["U"][1],
                                                ScrubLoop(station, args.max_read_mb_s,
                                                          polite=False)))
                print(f"round {number + 1}: alone {alone[-1]:.1f} MB/s · with scrub "
                      f"{throttled[-1]:.1f} MB/s (scrub read {scrub_rates[-1]:.1f} MB/s) · with "
                      f"unthrottled scrub {unthrottled[-1]:.1f} MB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    base = statistics.median(alone)
    with_scrub = statistics.median(throttled)
    without_limit = statistics.median(unthrottled)
    scrub_rate = statistics.median(scrub_rates)
    rows = [
        row("ingest copy speed with a scrub running", with_scrub, "MB/s", base, "ingest alone",
            ">= 0.90", with_scrub / base >= 0.90),
        row("ingest copy speed with a scrub neither throttled nor yielding", without_limit,
            "MB/s", base, "ingest alone", None, None),
        row("scrub read rate, no dock copying", scrub_alone, "MB/s", args.max_read_mb_s,
            "max_read_mb_s", "<= 1.05", scrub_alone / args.max_read_mb_s <= 1.05),
        row("scrub read rate while a dock copies", scrub_rate, "MB/s",
            args.max_read_mb_s * Pacer.BUSY_SHARE, "max_read_mb_s x 0.1", "<= 1.05",
            scrub_rate / (args.max_read_mb_s * Pacer.BUSY_SHARE) <= 1.05),
    ]
    for item in rows:
        verdict = "" if item["pass"] is None else ("  PASS" if item["pass"] else "  FAIL")
        print(f"{item['figure']}: {item['value']} {item['unit']} vs {item['baseline_name']} "
              f"{item['baseline']} → ratio {item['ratio']}"
              f"{' (target ' + item['target'] + ')' if item['target'] else ''}{verdict}")
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
