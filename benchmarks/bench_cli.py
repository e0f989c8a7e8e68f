"""A command answers at once (issue 16): whole-process time of read-only commands.

``python benchmarks/bench_cli.py [--runs N] [--json-out FILE]``

On a small station (a few clips ingested through the CLI), each command runs as its own
process, as a clerk runs it: ``--help``, ``clips --json``, ``show CLIP --json``,
``review --json``. Each figure is the median of N runs (the minimum is printed too); the
baseline, measured in the same run, is the bare interpreter (``python -c pass``), which
no command can beat. Targets: ``--help`` < 0.2 s, read-only commands < 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import add_json_out, row, write_rows

ROOT = Path(__file__).resolve().parent.parent


CPU_MS: dict[str, list[float]] = {}


def run(argv: list[str], env: dict[str, str], name: str = "") -> float:
    """Wall time of one process (ms); its CPU time (user + system) goes to CPU_MS[name].
    On a machine others load, the CPU time is the steadier figure: wall time is what a
    clerk waits, CPU time what the command itself costs."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    took = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"{argv}: exit {process.returncode}")
    CPU_MS.setdefault(name, []).append((usage.ru_utime + usage.ru_stime) * 1e3)
    return took * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    add_json_out(parser)
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.pop("EVIDENCE_STATION_CONFIG", None)
    # An installed station runs from compiled bytecode (pip and dh-virtualenv write it);
    # a shell with PYTHONDONTWRITEBYTECODE=1 would time compiling every module instead.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory(prefix="bench-cli-", dir=os.environ.get("BENCH_DIR")) as work:
        data = Path(work) / "data"
        camera = Path(work) / "camera" / "DCIM" / "100MEDIA"
        camera.mkdir(parents=True)
        for number in range(5):
            name = f"CAM12345_654321_2026112{number + 1}083000_{number + 1:04d}.MP4"
            (camera / name).write_bytes(os.urandom(4096))
        cli = [sys.executable, "-m", "evidence_station", "--data-dir", str(data), "--lang", "en"]
        subprocess.run([*cli, "init", "--station", "bench-cli"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        # exit 1: random bytes are flagged as malformed media, and ingested all the same
        subprocess.run([*cli, "ingest", str(camera.parent.parent)], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        clips = json.loads(subprocess.run([*cli, "clips", "--json"], env=env, check=True,
                                          capture_output=True, text=True).stdout)
        clip = clips[0]["id"]
        commands = {
            "--help": ([*cli, "--help"], 200),
            "clips --json": ([*cli, "clips", "--json"], 300),
            "show CLIP --json": ([*cli, "show", clip, "--json"], 300),
            "review --json": ([*cli, "review", "--json"], 300),
        }
        baseline_runs = [run([sys.executable, "-c", "pass"], env, "pass") for _ in range(args.runs)]
        baseline = statistics.median(baseline_runs)
        print(f"python -c pass: median {baseline:.0f} ms, min {min(baseline_runs):.0f} ms")
        rows = []
        for name, (argv, target) in commands.items():
            run(argv, env)  # warm the page cache
            samples = [run(argv, env, name) for _ in range(args.runs)]
            value = statistics.median(samples)
            cpu = statistics.median(CPU_MS[name])
            print(f"{name}: median {value:.0f} ms, min {min(samples):.0f} ms, CPU {cpu:.0f} ms "
                  f"(target < {target} ms)")
            rows.append(row(f"whole process: {name} ({len(clips)} clips, median of {args.runs})",
                            value, "ms", target=f"< {target} ms", baseline=baseline,
                            baseline_name="python -c pass", passed=value < target))
            rows.append(row("  its CPU time (user + system)", cpu, "ms", target=f"< {target} ms",
                            baseline=statistics.median(CPU_MS["pass"]),
                            baseline_name="python -c pass", passed=cpu < target))
    write_rows(args.json_out, rows)


if __name__ == "__main__":
    main()
