"""24 cameras docked at once through the real daemon (issue 16).

Run (root, FUSE): ``python benchmarks/bench_docks.py [--cameras 24] [--usb3 4]
[--files 4] [--file-mib 16] [--parallel 4,12,24] [--camera c|python] [--full]
[--json-out FILE]``.

Each camera is a FUSE filesystem serving its own random clips, throttled to
``--usb2-mb-s`` (35 MB/s, USB 2.0) or, for ``--usb3`` of them, ``--usb3-mb-s``: by
default ``benchmarks/fusecam.c`` (libfuse2, built here with gcc and ``libfuse-dev``),
or ``--camera python``, ``benchmarks/fusecam.py`` (fusepy, ~3× the CPU per byte). They
are mounted as the subfolders of an inbox folder, and the real daemon
(``evidence-station daemon``, a separate process) docks them all: copy, verify, commit,
receipt, per-port ``status.json``. In the same run, from a cold page cache:
* the store's write floor: ``cp -r`` + ``sync`` of the same clips from the local disk,
  one ``cp`` per camera at once, and its I/O floor: the same plus an ``O_DIRECT`` read of
  the copies (issue 16's floor for a verified ingest, which re-reads every byte from the
  device);
* through the same FUSE cameras: ``cp -r`` of every camera at once + ``sync``, the same
  with ``sha256sum`` of the copies, and the same with an ``O_DIRECT`` read of them.
Figures: aggregate ingest throughput ÷ min(sum of camera speeds, store write floor)
(the issue's target ≥ 0.8; with ``--camera python`` it is judged against ``cp`` through
the simulation instead, DESIGN.md "Settled": there the simulation's own cost dominates),
and ÷ each of the other floors; each port's throughput while all were copying ÷ its
max-min fair share (target within 25 %); per-port progress in ``status.json`` exact
(bytes and files done = the camera's, never going backwards); daemon peak RSS (VmHWM,
target < 200 MB). ``--parallel`` runs the daemon once per value of
``daemon.max_parallel_copies`` (the table tells which to ship as the default), in each
of ``--rounds`` rounds that alternate with the baselines (figures are medians).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evidence_station.docking.fairness import fair_shares  # noqa: E402

MB = 1e6


def drop_caches() -> None:
    subprocess.run(["sync"], check=True)
    if os.geteuid() == 0:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")


def make_cameras(sources: Path, cameras: int, files: int, file_mib: int) -> int:
    seed = os.urandom(8 << 20)
    total = 0
    for camera in range(cameras):
        folder = sources / f"cam{camera:02d}" / "DCIM"
        folder.mkdir(parents=True)
        for number in range(1, files + 1):
            clip = folder / f"CAM{camera:02d}_0000{camera:02d}_20261123{8 + number // 60:02d}" \
                f"{number % 60:02d}00_{number:04d}.MP4"
            with open(clip, "wb") as handle:
                handle.write(os.urandom(1 << 20))  # distinct content per clip
                written = 1
                while written < file_mib:
                    step = min(8, file_mib - written)
                    handle.write(seed[: step << 20])
                    written += step
            total += file_mib << 20
    return total


class Cameras:
    """The FUSE cameras, mounted under ``inbox``; unmounted and stopped on exit."""

    def __init__(self, sources: Path, inbox: Path, speeds: list[float],
                 c_camera: Path | None = None) -> None:
        self.mounts: list[tuple[Path, subprocess.Popen[bytes]]] = []
        inbox.mkdir()
        try:
            for index, speed in enumerate(speeds):
                target = inbox / f"cam{index:02d}"
                target.mkdir()
                source = str(sources / f"cam{index:02d}")
                process = subprocess.Popen(
                    [str(c_camera), source, str(target), str(speed)] if c_camera else
                    [sys.executable, str(ROOT / "benchmarks" / "fusecam.py"), source,
                     str(target), "--mb-s", str(speed)])
                self.mounts.append((target, process))
            deadline = time.monotonic() + 60
            for target, process in self.mounts:
                while not os.path.ismount(target):
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"FUSE camera {target} did not mount")
                    time.sleep(0.05)
        except BaseException:
            self.close()
            raise

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(process.pid) for _, process in self.mounts)

    def close(self) -> None:
        for target, process in self.mounts:
            subprocess.run(["fusermount", "-u", "-z", str(target)], check=False,
                           stderr=subprocess.DEVNULL)
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        for _, process in self.mounts:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def build_c_camera(work: Path) -> Path:
    """Compile ``fusecam.c`` (gcc + libfuse2's headers, ``libfuse-dev``) into ``work``."""
    binary = work / "fusecam"
    try:
        subprocess.run(["gcc", "-O2", "-Wall", "-D_FILE_OFFSET_BITS=64", "-I/usr/include/fuse",
                        "-o", str(binary), str(ROOT / "benchmarks" / "fusecam.c"), "-lfuse",
                        "-lpthread"], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as err:
        detail = getattr(err, "stderr", None) or err
        raise SystemExit(f"cannot build benchmarks/fusecam.c ({detail}); install gcc and "
                         "libfuse-dev, or run with --camera python") from err
    return binary


def _rates(values: list[float]) -> str:
    return " / ".join(f"{value:.0f}" for value in values)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a live process so far (``/proc/PID/stat``), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_parallel(commands: list[str], copies: Path) -> float:
    """Run ``commands`` at once, then fsync what they wrote under ``copies`` (only that:
    a bare ``sync`` would wait for every other writer on a shared machine)."""
    drop_caches()
    start = time.perf_counter()
    running = [subprocess.Popen(["sh", "-c", command], stdout=subprocess.DEVNULL)
               for command in commands]
    codes = [process.wait() for process in running]
    written = [str(path) for path in copies.rglob("*") if path.is_file()]
    if written:
        subprocess.run(["sync", *written], check=True)
    if any(codes):
        raise SystemExit(f"baseline command failed: {codes}")
    return time.perf_counter() - start


def timed_direct_read(copies: Path) -> float:
    """Read every copy under ``copies`` back with ``O_DIRECT`` (``dd iflag=direct``), one
    reader per camera's folder at once, as the daemon's verifications do: the re-read that
    makes an ingest verified (issue 16's I/O floor is ``cp`` + ``sync`` plus this read)."""
    by_camera: dict[str, list[Path]] = {}
    for path in sorted(copies.rglob("*")):
        if path.is_file():
            by_camera.setdefault(path.relative_to(copies).parts[0], []).append(path)
    start = time.perf_counter()
    running = [subprocess.Popen(["sh", "-c", 'for f in "$@"; do dd if="$f" of=/dev/null bs=1M '
                                 'iflag=direct status=none || exit 1; done', "dd-loop",
                                 *map(str, paths)]) for paths in by_camera.values()]
    if any(process.wait() for process in running):
        raise SystemExit("O_DIRECT read of the copies failed")
    return time.perf_counter() - start


def run_daemon(work: Path, inbox: Path, parallel: int, cameras: int, files: int,
               bytes_each: int) -> dict[str, Any]:
    data = work / f"station-p{parallel}"
    config = work / f"config-p{parallel}.toml"
    config.write_text(
        "[ingest]\nreserve_mib = 0\n[analysis]\nenabled = false\n[daemon]\n"
        f"demo_camera = false\nusb = false\nsettle_seconds = 0.5\npoll_seconds = 0.5\n"
        f"max_parallel_copies = {parallel}\ninbox_dirs = [{json.dumps(str(inbox))}]\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    subprocess.run([sys.executable, "-m", "evidence_station", "--data-dir", str(data), "init",
                    "--station", "bench"], env=env, check=True, capture_output=True)
    drop_caches()
    log = (work / f"daemon-p{parallel}.log").open("wb")
    daemon = subprocess.Popen([sys.executable, "-m", "evidence_station", "--data-dir", str(data),
                               "--config", str(config), "--lang", "en", "daemon"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    status_path = data / "run" / "status.json"
    samples: list[tuple[float, dict[str, dict[str, Any]]]] = []
    peak_kb = 0
    try:
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            if daemon.poll() is not None:
                raise SystemExit(f"daemon exited {daemon.returncode}; see {log.name}")
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{daemon.pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kb = int(line.split()[1])
            try:
                status = json.loads(status_path.read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.1)
                continue
            docks = {dock["port"]: dock for dock in status.get("docks", [])}
            samples.append((time.monotonic(), docks))
            done = [d for d in docks.values() if d["state"] in ("safe_to_unplug", "error")]
            if len(docks) == cameras and len(done) == cameras:
                break
            time.sleep(0.2)
        else:
            raise SystemExit("daemon did not finish within an hour")
        daemon_cpu = cpu_seconds(daemon.pid)
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=120)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()
    shutil.rmtree(data)
    result = analyse(samples, peak_kb, cameras, files, bytes_each)
    result["daemon_cpu_s"] = daemon_cpu
    return result


def analyse(samples: list[tuple[float, dict[str, dict[str, Any]]]], peak_kb: int,
            cameras: int, files: int, bytes_each: int) -> dict[str, Any]:
    def started(docks: dict[str, dict[str, Any]]) -> bool:
        return any(d["bytes_done"] > 0 for d in docks.values())

    first = next(i for i, (_, docks) in enumerate(samples) if started(docks))
    t_start = samples[max(0, first - 1)][0]
    t_end = samples[-1][0]
    final = samples[-1][1]
    errors = []
    previous: dict[str, int] = {}
    for _, docks in samples:
        for port, dock in docks.items():
            if dock["bytes_done"] < previous.get(port, 0):
                errors.append(f"{port}: bytes_done went backwards")
            previous[port] = dock["bytes_done"]
    for port, dock in sorted(final.items()):
        if dock["state"] != "safe_to_unplug":
            errors.append(f"{port}: ended {dock['state']} ({dock.get('reason')})")
        if not (dock["bytes_done"] == dock["bytes_total"] == bytes_each):
            errors.append(f"{port}: bytes {dock['bytes_done']}/{dock['bytes_total']} != {bytes_each}")
        if not (dock["files_done"] == dock["files_total"] == files):
            errors.append(f"{port}: files {dock['files_done']}/{dock['files_total']} != {files}")
    # The contention window: from when every port is copying until the first is done
    # (ports start a moment apart: mount, identify, plan; that is not the scheduler's doing).
    finished_at = {}
    for when, docks in samples:
        for port, dock in docks.items():
            if port not in finished_at and dock["bytes_total"] and \
                    dock["bytes_done"] >= dock["bytes_total"]:
                finished_at[port] = when
    t_window = min(finished_at.values(), default=t_end)
    all_going = next((i for i, (_, docks) in enumerate(samples)
                      if len(docks) == cameras and all(d["bytes_done"] > 0 for d in docks.values())),
                     first)
    if samples[all_going][0] >= t_window:  # no overlap at all: judge the whole run
        all_going = first
        t_window = t_end
    at_start = samples[all_going][1]
    at_window = next(docks for when, docks in samples if when >= t_window)
    window = max(t_window - samples[all_going][0], 1e-6)
    rates = {port: (at_window.get(port, {}).get("bytes_done", 0)
                    - at_start.get(port, {}).get("bytes_done", 0)) / window
             for port in final}
    return {"elapsed": t_end - t_start, "bytes": cameras * bytes_each, "rates": rates,
            "window": window, "peak_rss_kb": peak_kb, "errors": errors}


def row(figure: str, value: float, unit: str, baseline: float | None, baseline_name: str,
        target: str, ratio: float | None, passed: bool | None) -> dict[str, Any]:
    return {"figure": figure, "value": round(value, 3), "unit": unit,
            "baseline": None if baseline is None else round(baseline, 3),
            "baseline_name": baseline_name, "ratio": None if ratio is None else round(ratio, 3),
            "target": target, "pass": passed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cameras", type=int, default=24)
    parser.add_argument("--usb3", type=int, default=4, help="how many cameras are USB 3")
    parser.add_argument("--usb2-mb-s", type=float, default=35.0)
    parser.add_argument("--usb3-mb-s", type=float, default=120.0)
    parser.add_argument("--files", type=int, default=4, help="clips per camera")
    parser.add_argument("--file-mib", type=int, default=16)
    parser.add_argument("--parallel", default="4,12,24",
                        help="max_parallel_copies values to run")
    parser.add_argument("--full", action="store_true",
                        help="issue size: 4 clips of 64 MiB per camera, parallel 2,4,8,12,16,24")
    parser.add_argument("--rounds", type=int, default=2,
                        help="baselines and daemon runs alternate this many times (medians)")
    parser.add_argument("--camera", choices=("c", "python"), default="c",
                        help="the FUSE cameras: fusecam.c (libfuse2, the default: ~1/3 of the "
                        "CPU, closer to a USB camera, which costs the host little) or "
                        "fusecam.py (fusepy, whose own CPU dominates on 2 cores)")
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if args.full:
        args.file_mib, args.parallel = 64, "2,4,8,12,16,24"
    if os.geteuid() != 0 or not Path("/dev/fuse").exists():
        raise SystemExit("needs root and /dev/fuse (FUSE cameras, drop_caches)")
    speeds = [args.usb3_mb_s if i >= args.cameras - args.usb3 else args.usb2_mb_s
              for i in range(args.cameras)]
    work = Path(tempfile.mkdtemp(prefix="bench-docks-", dir=os.environ.get("BENCH_DIR")))
    rows: list[dict[str, Any]] = []
    try:
        sources = work / "sources"
        total = make_cameras(sources, args.cameras, args.files, args.file_mib)
        bytes_each = total // args.cameras
        copies = work / "copies"
        bus_sum = sum(speeds)
        c_camera = build_c_camera(work) if args.camera == "c" else None
        cameras = Cameras(sources, work / "inbox", speeds, c_camera)
        inbox = work / "inbox"
        try:
            # Rounds alternate baselines and daemon runs, so a noisy neighbour on a shared
            # machine hits both alike; figures are medians over the rounds.
            store_rates: list[float] = []
            store_verified_rates: list[float] = []  # + an O_DIRECT read of the copies
            cp_rates: list[float] = []
            floor_rates: list[float] = []  # cp through the cameras + sync + O_DIRECT read
            cp_sha_rates: list[float] = []
            results: dict[int, list[dict[str, Any]]] = {}
            def per_camera(origin: Path, then: str = "") -> list[str]:
                """One ``cp -r`` of each camera's folder into ``copies``, all at once."""
                return [f"cp -r {shlex.quote(str(origin / f'cam{i:02d}'))} "
                        f"{shlex.quote(str(copies / f'cam{i:02d}'))}"
                        + then.format(copy=shlex.quote(str(copies / f"cam{i:02d}")))
                        for i in range(args.cameras)]

            for _ in range(args.rounds):
                copies.mkdir()
                # One cp per camera at once, as the daemon and the cp through the cameras
                # write: a single cp -r of 6 GB measured half of what 24 streams reach.
                store_s = timed_parallel(per_camera(sources), copies)
                store_rates.append(total / store_s / MB)
                store_verified_rates.append(total / (store_s + timed_direct_read(copies)) / MB)
                shutil.rmtree(copies)
                copies.mkdir()
                cp_s = timed_parallel(per_camera(inbox), copies)
                cp_rates.append(total / cp_s / MB)
                floor_rates.append(total / (cp_s + timed_direct_read(copies)) / MB)
                shutil.rmtree(copies)
                copies.mkdir()
                cp_sha_rates.append(total / timed_parallel(
                    per_camera(inbox, " && sha256sum {copy}/DCIM/* >/dev/null"), copies) / MB)
                shutil.rmtree(copies)
                for parallel in (int(x) for x in args.parallel.split(",")):
                    fuse_before = cameras.cpu_seconds()
                    result = run_daemon(work, inbox, parallel, args.cameras, args.files,
                                        bytes_each)
                    result["fuse_cpu_s"] = cameras.cpu_seconds() - fuse_before
                    results.setdefault(parallel, []).append(result)
            store_floor = statistics.median(store_rates)
            store_verified = statistics.median(store_verified_rates)
            cp_rate = statistics.median(cp_rates)
            cp_sha_rate = statistics.median(cp_sha_rates)
            floor_rate = statistics.median(floor_rates)
            print(f"{args.cameras} cameras ({args.cameras - args.usb3} × {args.usb2_mb_s:g} MB/s, "
                  f"{args.usb3} × {args.usb3_mb_s:g} MB/s; sum {bus_sum:.0f} MB/s), "
                  f"{args.files} × {args.file_mib} MiB each, {total / MB:.0f} MB in all; "
                  f"medians of {args.rounds} round(s)")
            print(f"  store write floor (cp+sync, local): {store_floor:7.1f} MB/s "
                  f"({_rates(store_rates)})")
            print(f"  cp through the FUSE cameras + sync: {cp_rate:7.1f} MB/s "
                  f"({_rates(cp_rates)}); with sha256sum: {cp_sha_rate:7.1f} MB/s "
                  f"({_rates(cp_sha_rates)})")
            print(f"  I/O floor through the cameras (cp+sync, then an O_DIRECT read of the "
                  f"copies): {floor_rate:7.1f} MB/s ({_rates(floor_rates)})")
            print(f"  store I/O floor (cp+sync, local, then an O_DIRECT read of the copies): "
                  f"{store_verified:7.1f} MB/s ({_rates(store_verified_rates)})")
            ideal = min(bus_sum, store_floor)
            # The target is against min(bus sum, store write floor). DESIGN.md
            # ("Settled"): where the simulation's own cost dominates — fusepy cameras — the
            # judged baseline is cp through the same simulation instead.
            cp_judged = args.camera == "python"
            verified_ideal = min(bus_sum, store_verified)
            rows.append(row("docks: store write floor (cp+sync)", store_floor, "MB/s", None, "",
                            "", None, None))
            rows.append(row("docks: store I/O floor (cp+sync, O_DIRECT read)", store_verified,
                            "MB/s", None, "", "", None, None))
            rows.append(row("docks: cp through the simulation", cp_rate, "MB/s", ideal,
                            "min(sum of camera speeds, store write floor)", "", cp_rate / ideal,
                            None))
            rows.append(row("docks: I/O floor through the simulation (cp+sync, O_DIRECT read)",
                            floor_rate, "MB/s", ideal,
                            "min(sum of camera speeds, store write floor)", "",
                            floor_rate / ideal, None))
            for parallel, runs in results.items():
                rates = [r["bytes"] / r["elapsed"] / MB for r in runs]
                rate = statistics.median(rates)
                worsts = []
                for result in runs:
                    ports = sorted(result["rates"])
                    in_window = sum(result["rates"].values()) / MB
                    shares = fair_shares([speeds[int(p.split("cam")[-1])] for p in ports],
                                         in_window)
                    deviations = [abs(result["rates"][p] / MB - share) / share
                                  for p, share in zip(ports, shares, strict=True) if share > 0]
                    worsts.append(max(deviations, default=0.0))
                worst = statistics.median(worsts)
                result = runs[len(runs) // 2]
                errors = [error for r in runs for error in r["errors"]]
                rss_mb = max(r["peak_rss_kb"] for r in runs) * 1024 / MB
                print(f"  daemon, max_parallel_copies={parallel:2d}: {rate:7.1f} MB/s "
                      f"({_rates(rates)}; {rate / cp_rate:4.2f}× cp through the simulation"
                      f"{', target ≥ 0.8' if cp_judged else ''}; {rate / floor_rate:4.2f}× the "
                      f"I/O floor through it; {rate / ideal:4.2f}× min(bus sum, store floor)"
                      f"{'' if cp_judged else ', target ≥ 0.8'}, "
                      f"{rate / verified_ideal:4.2f}× min(bus sum, store I/O floor)); worst port "
                      f"{worst * 100:4.1f} % from its fair share (target ≤ 25 %; "
                      f"{' / '.join(f'{w * 100:.1f}' for w in worsts)}) over "
                      f"{result['window']:.1f} s (ports {min(result['rates'].values()) / MB:.1f}–"
                      f"{max(result['rates'].values()) / MB:.1f} MB/s); peak RSS {rss_mb:.0f} MB; "
                      f"progress {'exact' if not errors else errors[:3]}; CPU: daemon "
                      f"{result['daemon_cpu_s']:.1f} s, FUSE cameras {result['fuse_cpu_s']:.1f} s,"
                      f" over {result['elapsed']:.1f} s on {os.cpu_count()} cores")
                name = f"docks p={parallel}"
                rows += [
                    row(f"{name}: aggregate ingest vs cp through the simulation", rate, "MB/s",
                        cp_rate, "cp+sync through the same FUSE cameras",
                        ">= 0.8" if cp_judged else "", rate / cp_rate,
                        rate / cp_rate >= 0.8 if cp_judged else None),
                    row(f"{name}: aggregate ingest vs cp+sha256sum through the simulation",
                        rate, "MB/s", cp_sha_rate, "cp+sync+sha256sum through the same FUSE "
                        "cameras", "", rate / cp_sha_rate, None),
                    row(f"{name}: aggregate ingest vs the I/O floor through the simulation",
                        rate, "MB/s", floor_rate, "cp+sync through the same FUSE cameras, then "
                        "an O_DIRECT read of the copies", "", rate / floor_rate, None),
                    row(f"{name}: aggregate vs min(bus sum, store floor)", rate, "MB/s", ideal,
                        "min(sum of camera speeds, store write floor)",
                        "" if cp_judged else ">= 0.8", rate / ideal,
                        None if cp_judged else rate / ideal >= 0.8),
                    row(f"{name}: aggregate vs min(bus sum, store I/O floor)", rate, "MB/s",
                        verified_ideal, "min(sum of camera speeds, store cp+sync+O_DIRECT read)",
                        "", rate / verified_ideal, None),
                    row(f"{name}: worst port deviation from fair share", worst * 100, "%", None,
                        "max-min fair share", "< 25", None, worst < 0.25),
                    row(f"{name}: per-port progress errors", len(errors), "count",
                        None, "", "< 1", None, not errors),
                    row(f"{name}: daemon peak RSS", rss_mb, "MB", None, "", "< 200", None,
                        rss_mb < 200),
                ]
        finally:
            cameras.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json_out:
        args.json_out.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
