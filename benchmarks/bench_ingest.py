"""Verified-ingest benchmark against the I/O floor, measured in the same run.

Run: ``python benchmarks/bench_ingest.py [--total-mib 1024] [--clip-mib 128]
[--rss-sizes 10,100,1000] [--full] [--json-out FILE]``.

1. Speed. A camera folder of ``--total-mib`` of random clips (``--clip-mib`` each) is
   ingested by ``evidence-station ingest --no-analyze`` (copy while hashing, fsync,
   O_DIRECT re-read and verify, ledger and catalog commit, session checkpoint: a dock's
   copy path; the analysis that follows the commit is ``bench_analysis``'s subject). In
   the same run, on the same disk, from the same cold cache (``drop_caches`` before each, as root):
   * the I/O floor: ``cp -r`` + ``sync`` of the copies (``sync FILE…``: their own fsync,
     not other writers'), plus an ``O_DIRECT`` read (``dd iflag=direct``) of the copies —
     the least any verified copy must move;
   * what a clerk does by hand: ``cp -r`` + ``sync`` + ``sha256sum`` of the copies.
   The ingest time is the ``ingest`` command's own run in a process whose imports are
   already done (start-up is another figure: ``clips``/``--help`` latency); the whole
   command's wall time is printed beside it.
2. Memory. One clip of each ``--rss-sizes`` size (MiB) is ingested in a fresh process and
   its peak RSS (``ru_maxrss``) recorded: it must stay < 100 MB and flat.

Targets (issue 16): ingest ≥ 0.85× the floor, ≥ 2× cp+sync+sha256sum, RSS < 100 MB.
``--full`` uses 2 GiB of clips and RSS sizes up to 8 GiB. Rows for ``make bench`` go to
``--json-out`` (a JSON list: figure, value, unit, baseline, baseline_name, ratio, target,
pass).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# The child imports the whole CLI first, then drops the page cache and times the command.
INGEST = """
import os, resource, subprocess, sys, time
from pathlib import Path
from evidence_station.cli import main
import contextlib, importlib
with contextlib.suppress(ImportError):  # the command's own modules, imported up front
    importlib.import_module("evidence_station.cli.ingest_cmd")
    importlib.import_module("evidence_station.ingest.pipeline")
subprocess.run(["sync"], check=True)
if os.geteuid() == 0:
    Path("/proc/sys/vm/drop_caches").write_text("3\\n")
start = time.perf_counter()
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
elapsed = time.perf_counter() - start
print("INGEST_S", elapsed, "MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
      file=sys.stderr)
sys.exit(code)
"""


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    if os.geteuid() == 0:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


def timed_shell(script: str) -> float:
    drop_caches()
    start = time.perf_counter()
    subprocess.run(["sh", "-c", script], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def make_clips(folder: Path, total_mib: int, clip_mib: int, seed_block: bytes) -> list[Path]:
    """Clips of distinct random content (a per-clip random prefix on a random 8 MiB block
    repeated: incompressible enough for a disk, cheap to generate at GiB scale)."""
    folder.mkdir(parents=True)
    clips = []
    number = 0
    remaining = total_mib
    while remaining > 0:
        size = min(clip_mib, remaining)
        number += 1
        clip = folder / f"CAM1_000001_20261123{8 + number // 60:02d}{number % 60:02d}00_{number:04d}.MP4"
        with open(clip, "wb") as handle:
            handle.write(os.urandom(1 << 20))
            written = 1
            while written < size:
                step = min(8, size - written)
                handle.write(seed_block[: step << 20])
                written += step
        clips.append(clip)
        remaining -= size
    return clips


def run_ingest(camera: Path, data: Path) -> tuple[float, float, int]:
    env = {**os.environ, "EVIDENCE_STATION_DATA_DIR": str(data), "COLUMNS": "120",
           "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    subprocess.run([sys.executable, "-c", INGEST, "init", "--station", "bench"], env=env,
                   check=True, capture_output=True)
    drop_caches()
    start = time.perf_counter()
    # --no-analyze: the figure is the dock's copy path (copy, verify, commit). Analysis
    # runs after the commit, off that path (the daemon's idle thread; bench_analysis).
    done = subprocess.run([sys.executable, "-c", INGEST, "ingest", "--no-analyze", str(camera)],
                          env=env, capture_output=True, text=True)
    whole = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"ingest failed ({done.returncode}): {done.stdout}{done.stderr}")
    fields = done.stderr.split("INGEST_S")[1].split()
    return float(fields[0]), whole, int(fields[2])


def row(figure: str, value: float, unit: str, baseline: float | None, baseline_name: str,
        target: str, ratio: float | None) -> dict[str, Any]:
    passed: bool | None = None
    if target and ratio is not None:
        op, bound = target.split()
        passed = ratio >= float(bound) if op == ">=" else ratio < float(bound)
    elif target:
        op, bound = target.split()
        passed = value >= float(bound) if op == ">=" else value < float(bound)
    return {"figure": figure, "value": round(value, 3), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 3),
            "baseline_name": baseline_name, "ratio": None if ratio is None else round(ratio, 3),
            "target": target, "pass": passed}


def speed(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    seed = os.urandom(8 << 20)
    camera = work / "camera"
    clips = make_clips(camera / "DCIM", args.total_mib, args.clip_mib, seed)
    mib = args.total_mib
    copies = work / "copies"
    floor_s = dd_s = cp_sync_s = clerk_s = 0.0
    ingest_s = whole_s = 0.0
    for attempt in range(args.repeat):
        # Interleaved so a noisy neighbour on the shared disk hits every measurement alike.
        names = " ".join(f"'{copies}/DCIM/{clip.name}'" for clip in clips)
        # `sync FILE…` fsyncs these copies only (as ingest fsyncs its own): a bare `sync`
        # would also wait for every other writer's dirty pages on a shared machine.
        cp_sync_s += timed_shell(f"cp -r '{camera}' '{copies}' && sync {names}")
        drop_caches()
        dd_s += timed_shell(f"for f in {names}; do dd if=\"$f\" of=/dev/null bs=8M "
                            "iflag=direct status=none; done")
        shutil.rmtree(copies)
        clerk_s += timed_shell(f"cp -r '{camera}' '{copies}' && sync {names} && "
                               f"sha256sum {names} >/dev/null")
        shutil.rmtree(copies)
        data = work / f"data{attempt}"
        took, whole, _ = run_ingest(camera, data)
        ingest_s += took
        whole_s += whole
        shutil.rmtree(data)
    n = args.repeat
    floor_s = (cp_sync_s + dd_s) / n
    clerk_s /= n
    ingest_s /= n
    whole_s /= n
    print(f"{mib} MiB in {len(clips)} clips, mean of {n} run(s), cold cache each:")
    print(f"  cp+sync {cp_sync_s / n:6.2f} s + O_DIRECT read {dd_s / n:6.2f} s = I/O floor "
          f"{floor_s:6.2f} s ({mib / floor_s:6.1f} MiB/s)")
    print(f"  cp+sync+sha256sum {clerk_s:6.2f} s ({mib / clerk_s:6.1f} MiB/s)")
    print(f"  verified ingest {ingest_s:6.2f} s ({mib / ingest_s:6.1f} MiB/s); whole command "
          f"incl. start-up {whole_s:6.2f} s")
    print(f"  ratio to floor {floor_s / ingest_s:4.2f}× (target ≥ 0.85); to cp+sync+sha256sum "
          f"{clerk_s / ingest_s:4.2f}× (target ≥ 2)")
    shutil.rmtree(camera)
    return [
        row(f"ingest {mib} MiB vs I/O floor", mib / ingest_s, "MiB/s", mib / floor_s,
            "cp+sync+O_DIRECT read", ">= 0.85", floor_s / ingest_s),
        row(f"ingest {mib} MiB vs cp+sync+sha256sum", mib / ingest_s, "MiB/s", mib / clerk_s,
            "cp+sync+sha256sum", ">= 2", clerk_s / ingest_s),
        row(f"ingest {mib} MiB whole command vs I/O floor", mib / whole_s, "MiB/s",
            mib / floor_s, "cp+sync+O_DIRECT read", "", floor_s / whole_s),
        # What the ≥ 2× target asks of the disk: an ingest exactly at the I/O floor scores
        # this; above it only by overlapping its writes and re-reads better than the
        # floor's one-after-the-other (~10 % on this virtio disk, measured with dd).
        row(f"the I/O floor itself vs cp+sync+sha256sum ({mib} MiB)", mib / floor_s, "MiB/s",
            mib / clerk_s, "cp+sync+sha256sum", "", clerk_s / floor_s),
    ]


def memory(args: argparse.Namespace, work: Path) -> list[dict[str, Any]]:
    seed = os.urandom(8 << 20)
    rows = []
    peaks = []
    for size in (int(x) for x in args.rss_sizes.split(",")):
        camera = work / f"rss{size}"
        make_clips(camera / "DCIM", size, size, seed)
        data = work / f"rssdata{size}"
        took, _, rss_kb = run_ingest(camera, data)
        shutil.rmtree(data)
        shutil.rmtree(camera)
        peaks.append(rss_kb / 1024)
        print(f"  one {size} MiB clip: {took:6.2f} s ({size / took:6.1f} MiB/s), peak RSS "
              f"{rss_kb / 1024:5.1f} MiB")
        rows.append(row(f"ingest peak RSS, one {size} MiB clip", rss_kb * 1024 / 1e6, "MB", None,
                        "", "< 100", None))
    spread = max(peaks) - min(peaks)
    print(f"  peak RSS {min(peaks):.1f}–{max(peaks):.1f} MiB across sizes (spread {spread:.1f})")
    rows.append(row("ingest peak RSS spread across clip sizes", spread * 1.048576, "MB", None, "",
                    "", None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--total-mib", type=int, default=1024)
    parser.add_argument("--clip-mib", type=int, default=128)
    parser.add_argument("--rss-sizes", default="10,100,1000", help="clip sizes in MiB")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--full", action="store_true",
                        default=os.environ.get("BENCH_FULL", "") not in ("", "0"),
                        help="issue-size run: 2 GiB of clips, RSS sizes up to 8 GiB, 2 repeats")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if args.full:
        rss_given = "--rss-sizes" in " ".join(sys.argv)
        args.total_mib, args.repeat = 2048, 2
        args.rss_sizes = args.rss_sizes if rss_given else "10,100,1000,8192"
    work = Path(tempfile.mkdtemp(prefix="bench-ingest-", dir=os.environ.get("BENCH_DIR")))
    try:
        rows = speed(args, work) + (memory(args, work) if args.rss_sizes else [])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
