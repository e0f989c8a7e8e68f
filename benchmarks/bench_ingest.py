"""Ingest benchmark (run on demand: ``python benchmarks/bench_ingest.py [--sizes 10,100,1000,2000]``).

For each clip size (MiB) it makes one camera folder holding one clip of random bytes and,
in the same run and on the same disk, times:
* ``evidence-station ingest`` (copy while hashing, fsync, re-read from disk, verify,
  ledger commit) in a fresh process, with that process's peak RSS;
* ``cp`` + ``sync`` of the same file;
* ``cp`` + ``sha256sum`` of the same file.
The page cache is dropped before every measurement (when run as root) so each starts
with the source on disk. Prints speeds and the ratios the issue sets as targets:
ingest ≥ 0.85× the speed of cp+sync, ≥ 1.6× cp+sha256sum, peak RSS < 120 MB and flat.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import add_json_out, full_size, row, write_rows

INGEST = """
import resource, sys
from evidence_station.cli import main
code = main(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    if os.geteuid() == 0:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


def timed(command: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    drop_caches()
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {done.stdout}{done.stderr}")
    return elapsed, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,1000,2000" if full_size() else "10,100,500",
                        help="clip sizes in MiB")
    add_json_out(parser)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=os.environ.get("BENCH_DIR")))
    rows = []
    try:
        for size_mib in (int(x) for x in args.sizes.split(",")):
            camera = work / f"cam{size_mib}"
            camera.mkdir()
            clip = camera / f"CAM1_000001_20261123083000_{size_mib:04d}.MP4"
            with open(clip, "wb") as handle:
                for _ in range(size_mib):
                    handle.write(os.urandom(1 << 20))
            data = work / f"data{size_mib}"
            env = {**os.environ, "EVIDENCE_STATION_DATA_DIR": str(data), "COLUMNS": "120"}
            subprocess.run([sys.executable, "-c", INGEST, "init", "--station", "bench"],
                           env=env, check=True, capture_output=True)
            ingest_s, stderr = timed([sys.executable, "-c", INGEST, "ingest", str(camera)], env)
            rss_kb = int(stderr.split("MAXRSS_KB")[1].split()[0])
            target = work / "copy.bin"
            cp_sync_s, _ = timed(["sh", "-c", f"cp '{clip}' '{target}' && sync"])
            os.unlink(target)
            cp_sha_s, _ = timed(["sh", "-c", f"cp '{clip}' '{target}' && sha256sum '{target}'"])
            os.unlink(target)
            shutil.rmtree(data)
            os.unlink(clip)
            rows.append((size_mib, ingest_s, cp_sync_s, cp_sha_s, rss_kb))
            mib_s = size_mib / ingest_s
            print(f"{size_mib:5d} MiB: ingest {ingest_s:6.2f} s ({mib_s:6.1f} MiB/s) | "
                  f"cp+sync {cp_sync_s:6.2f} s → ratio {cp_sync_s / ingest_s:4.2f}× | "
                  f"cp+sha256sum {cp_sha_s:6.2f} s → ratio {cp_sha_s / ingest_s:4.2f}× | "
                  f"peak RSS {rss_kb / 1024:5.1f} MiB", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rss = [item[4] / 1024 for item in rows]
    print(f"peak RSS from {min(rss):.1f} to {max(rss):.1f} MiB across sizes "
          "(targets: ratios ≥ 0.85 and ≥ 1.6; RSS < 120 MB and flat)")
    figures = []
    for size_mib, ingest_s, cp_sync_s, cp_sha_s, rss_kb in rows:
        speed = size_mib / ingest_s
        figures.append(row(f"verified ingest {size_mib} MiB vs cp+sync", speed, "MiB/s",
                           baseline=size_mib / cp_sync_s, baseline_name="cp + sync",
                           target=">= 0.85x", passed=cp_sync_s / ingest_s >= 0.85))
        figures.append(row(f"verified ingest {size_mib} MiB vs cp+sha256sum", speed, "MiB/s",
                           baseline=size_mib / cp_sha_s, baseline_name="cp + sha256sum",
                           target=">= 2x", passed=cp_sha_s / ingest_s >= 2))
        figures.append(row(f"ingest peak RSS, {size_mib} MiB clip", rss_kb / 1024, "MiB",
                           target="< 100 MB", passed=rss_kb * 1024 < 100e6))
    write_rows(args.json_out, figures)


if __name__ == "__main__":
    main()
