"""A station at scale (issue 16: 10^6 clips, 10^7 ledger events), through the real write path.

``python benchmarks/bench_scale.py [--clips N] [--events-per-clip E] [--json-out FILE]``

The station is generated session by session the way a dock and a clerk make it:
``session.start`` and ``session.end`` through :meth:`Station.record`; each clip a real
store file (small, content unique to the clip, mode 0444) and an ``ingest`` event with
the fields the pipeline writes, plus an ``analysis`` event and ``camera.clock`` readings
(events that project nothing) up to E events per clip, appended as one durable batch per
session and projected by the real catalog (the batched session commit issue 16 proposes;
one fsync per session, not per file); the session's clips labelled with one ``label``
request through the one door (:func:`perform`, as a clerk's ``label`` command); a signed
checkpoint after every session. Going through the whole ingest pipeline per file costs
~50 ms of fsyncs and thread starts per file here, which would make 10^6 clips take a day.

The station is cached under ``BENCH_DIR`` (default /var/tmp/evidence-station-bench) and
resumed: a later run with more clips extends it. Default 20,000 clips × 10 events; with
``BENCH_FULL=1`` 10^6 clips × 10 = 10^7 events (hours; resumable).

Measured (each p95 over many random queries; baselines from the same run):
* ``clips`` search by case number, officer, date (the CLI's own query), target < 50 ms;
* every web page (clip queue first and deep pages, search, one clip, review, ledger,
  admin) and the media route, through the real app in-process, target < 100 ms;
* ``show CLIP --json`` with its inclusion proof (the whole command in-process), < 20 ms,
  against computing the same proof from the raw events (the recomputation it avoids);
* a checkpoint after a session, < 50 ms;
* ``catalog rebuild`` (reported), against reading the ledger's events alone.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchrows import add_json_out, full_size, row, write_rows

from evidence_station.casework.service import perform
from evidence_station.clock import FixedClock
from evidence_station.config import load_config
from evidence_station.identity import ROOT_ACCOUNT, Actor
from evidence_station.station import Station, init_station
from hashing.ledger import Draft
from hashing.merkle import leaf_hash, node_hash

PASSWORD = "correct horse battery staple"
CLERK = "scale-clerk"  # the clip queue, review, labels, the media route
ADMIN = "scale-admin"  # the ledger and admin pages
START = datetime(2024, 1, 1, tzinfo=UTC)
SYNC_THREADS = 16  # fsyncs in flight at once at a session's end (the journal commits them together)
# the labels of each session: root in-process, as `label` run by root on the station
CLERK_ACTOR = Actor(ROOT_ACCOUNT, "admin", 0, "cli")


class TickingClock(FixedClock):
    """The station's clock for the generator: starts at a fixed date, one second per
    reading, so no figure depends on today's date."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.moment = start

    def now(self) -> datetime:
        self.moment += timedelta(seconds=1)
        return self.moment


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1e3)
    return samples


# -- generating ------------------------------------------------------------------------------

def officer_of(index: int, officers: int) -> str:
    return f"{100000 + index % officers}"


def clip_content(index: int) -> bytes:
    return f"evidence-station bench clip {index}\n".encode() * 4


def write_store_file(station: Station, content: bytes, sha256: str, made_dirs: set[Path],
                     synced: set[Path]) -> Path | None:
    """A real store object: named by its SHA-256, read-only; the new path, or None when
    it was there already. Not fsynced one by one (the ingest path's durability is
    bench_ingest's subject): :func:`sync_session` makes the session's objects durable at
    its end. ``made_dirs`` remembers the directories known to exist (one ``mkdir`` per
    directory, not per file); ``synced`` collects the directories whose entries changed."""
    path = station.store.path_for(sha256)
    parent = path.parent
    if parent not in made_dirs:
        for directory in (parent.parent, parent):  # objects/ab, objects/ab/cd
            if directory not in made_dirs:
                try:
                    directory.mkdir()
                    synced.add(directory.parent)  # a new name in its parent
                except FileExistsError:
                    pass
                made_dirs.add(directory)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        return None
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    synced.add(parent)
    return path


def _fsync_paths(paths: list[Path]) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def sync_session(files: list[Path], directories: set[Path], pool: ThreadPoolExecutor | None) -> None:
    """The session's store objects durable: each new file's data and mode by its fsync,
    then each directory that got a new name by the directory's fsync (DESIGN.md: durable
    means fsynced). Issued from a pool of threads, so the file system commits many of
    them together; ``os.sync()`` (``pool`` None, ``--os-sync``) instead waits for every
    dirty page of the machine, other jobs' too: on a shared machine it measured seconds
    per session."""
    if pool is None:
        os.sync()
        return
    # one task per thread, not per path: a future per fsync cost more CPU than the fsync
    for paths in (files, sorted(directories, key=lambda p: -len(p.parts))):
        list(pool.map(_fsync_paths, [paths[n::SYNC_THREADS] for n in range(SYNC_THREADS)]))


def generate(data: Path, clips: int, events_per_clip: int, session_clips: int,
             checkpoint_ms: list[float], *, os_sync: bool = False) -> tuple[int, float]:
    """Extend the station in ``data`` to ``clips`` clips; (clips made now, seconds)."""
    config = load_config(None)
    clock = TickingClock(START)
    if not (data / "station.json").exists():
        init_station(data, "bench-scale", "root", clock)
    officers = max(10, clips // 1000)
    fillers = max(0, events_per_clip - 2)
    made, started = 0, time.perf_counter()
    made_dirs: set[Path] = set()
    pool = None if os_sync else ThreadPoolExecutor(SYNC_THREADS)
    with Station.open(data, config, writable=True, clock=clock) as station, \
            pool or contextlib.nullcontext():
        done = station.catalog.db.execute("select count(*) from clips").fetchone()[0]
        if station.ledger.size:  # resume the clock after the last event
            last = json.loads(station.ledger.event(station.ledger.size - 1).data)["time"]
            clock.moment = datetime.fromisoformat(last.replace("Z", "+00:00"))
        # a run killed between session.start and its batch left a session without clips:
        # number on past every session recorded, so no session id is used twice
        sessions = station.catalog.db.execute("select count(*) from sessions").fetchone()[0]
        session_number = max(done // session_clips, sessions)
        while done < clips:
            count = min(session_clips, clips - done)
            first = done
            officer = officer_of(session_number, officers)
            device = f"CAM{int(officer):07d}"
            session_id = f"bench-{session_number:07d}"
            station.record(Draft("session.start", "station", {
                "session_id": session_id, "device_id": device, "officer_id": officer,
                "source": f"/media/bench/{device}", "files_planned": count, "bytes_planned": 0,
                "files_already": 0, "profile": None, "dock": {}, "returned_at": None}))
            drafts, clip_ids, size = [], [], 0
            files: list[Path] = []
            directories: set[Path] = set()
            day = START + timedelta(days=first // 500)  # ~500 clips recorded a day
            for index in range(first, first + count):
                content = clip_content(index)
                sha256 = hashlib.sha256(content).hexdigest()
                made_file = write_store_file(station, content, sha256, made_dirs, directories)
                if made_file is not None:
                    files.append(made_file)
                clip_ids.append(sha256[:16])
                size += len(content)
                recorded = day + timedelta(seconds=(index % 500) * 170)
                name = f"DCIM/100MEDIA/{device}_{officer}_{recorded:%Y%m%d%H%M%S}_{index:07d}.MP4"
                drafts.append(Draft("ingest", "station", {
                    "session_id": session_id, "clip_id": sha256[:16], "sha256": sha256,
                    "size": len(content), "device_id": device, "officer_id": officer,
                    "source_path": name,
                    "source_path_b64": base64.b64encode(name.encode()).decode(),
                    "source_encoding": "utf-8", "mtime_ns": int(recorded.timestamp() * 1e9),
                    "file_mtime": recorded.isoformat(), "recorded_at": recorded.isoformat(),
                    "file_seq": index, "duplicate": False, "flags": []}))
                drafts.append(Draft("analysis", "station", {
                    "clip_id": sha256[:16], "media": {"kind": "video", "duration_ms": 60000},
                    "spoken_time": None, "transcript": None, "drift_s": 0, "flags": []}))
                drafts.extend(Draft("camera.clock", "station", {
                    "device_id": device, "session_id": session_id, "reading": n,
                    "camera_time": recorded.isoformat(), "drift_s": 0}) for n in range(fillers))
            with station.lock:  # what Station.record does, for the session's batch at once
                station.ledger.append_many(drafts)
                station.catalog.catch_up(station.ledger)
            sync_session(files, directories, pool)  # the store objects, once per session
            station.record(Draft("session.end", "station", {
                "session_id": session_id, "state": "done", "reason": None,
                "counts": {"seen": count, "committed": count, "bytes": size}, "problems": []}))
            perform(station, CLERK_ACTOR, "label", {
                "clip_ids": clip_ids, "case_number": f"2024-XC-{session_number:06d}",
                "party": f"当事人{session_number % 997}", "handler": f"承办人{session_number % 89}"})
            start = time.perf_counter()
            station.issue_checkpoint(witness=False)
            checkpoint_ms.append((time.perf_counter() - start) * 1e3)
            done += count
            made += count
            session_number += 1
            if session_number % 100 == 0:
                rate = made / (time.perf_counter() - started)
                print(f"  {done:,} clips, {station.ledger.size:,} events ({rate:,.0f} clips/s; "
                      f"checkpoint p95 of the last 100: {p95(checkpoint_ms[-100:]):.1f} ms; "
                      f"{time.strftime('%H:%M:%S')})", flush=True)
    return made, time.perf_counter() - started


# -- measuring -------------------------------------------------------------------------------

def run_cli(argv: list[str], *, system_clock: bool = False) -> str:
    """One command in-process (no daemon: the CLI runs the service here). The clock is
    pinned after the generated history, except for what the web login must believe (an
    account the web app, on the system clock, sees as created)."""
    from evidence_station.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv, clock=None if system_clock else FixedClock(START + timedelta(days=3650)))
    if code != 0:
        raise RuntimeError(f"{argv}: exit {code}")
    return out.getvalue()


def recomputed_proof(data: Path, seq: int, size: int) -> list[bytes]:
    """The inclusion proof computed from the raw events (what the tree caches avoid)."""
    leaves = []
    with open(data / "ledger" / "events.jsonl", "rb") as handle:
        for _, line in zip(range(size), handle, strict=False):
            leaves.append(leaf_hash(line[:-1]))

    def mth(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaves[start]
        split = 1
        while split * 2 < end - start:
            split *= 2
        return node_hash(mth(start, start + split), mth(start + split, end))

    def path(index: int, start: int, end: int) -> Iterator[bytes]:
        if end - start <= 1:
            return
        split = 1
        while split * 2 < end - start:
            split *= 2
        if index < start + split:
            yield from path(index, start, start + split)
            yield mth(start + split, end)
        else:
            yield from path(index, start + split, end)
            yield mth(start, start + split)

    return list(path(seq, 0, size))


def warm(data: Path) -> None:
    """Read the catalog and the ledger's tree caches once, as a station's working set is in
    the page cache; a figure that read them cold from disk would measure the disk."""
    paths = [data / "catalog.sqlite", *sorted((data / "ledger" / "tree").glob("*"))]
    for path in paths:
        if path.is_file():
            with open(path, "rb") as handle:
                while handle.read(8 << 20):
                    pass


def measure(data: Path, args: argparse.Namespace, rows: list[dict[str, Any]]) -> None:
    base = ["--data-dir", str(data), "--lang", "en"]
    warm(data)
    config = load_config(None)
    with Station.open(data, config) as station:
        db = station.catalog.db
        clips = db.execute("select count(*) from clips").fetchone()[0]
        events = station.ledger.size
        sample = [r[0] for r in db.execute(
            "select clip_id from clips where rowid % ? = 0 limit 200", [max(1, clips // 200)])]
        cases = [r[0] for r in db.execute(
            "select distinct case_number from labels where rowid % ? = 0 limit 100",
            [max(1, clips // 100)])]
        officers = [r[0] for r in db.execute("select distinct officer_id from clips limit 50")]
        days = [r[0][:10] for r in db.execute(
            "select recorded_at from clips where rowid % ? = 0 limit 50", [max(1, clips // 50)])]
    rng = random.Random(16)
    scale = f"{clips:,} clips, {events:,} events"
    print(f"station: {scale}")

    # clips search, as the CLI runs it (in-process, JSON out), a page of at most 100 rows
    def search(option: str, values: list[str], extra: Callable[[str], list[str]]) -> list[float]:
        return [timed(lambda v=v: run_cli([*base, "clips", "--json", "--limit", "100",
                                           option, v, *extra(v)]), 1)[0]
                for v in rng.choices(values, k=args.queries)]

    run_cli([*base, "clips", "--json", "--limit", "1"])  # warm: imports, page cache
    baseline = p95(timed(lambda: run_cli([*base, "clips", "--json", "--limit", "1"]), args.queries))
    for name, samples in (
            ("case number", search("--case-number", cases, lambda v: [])),
            ("officer", search("--officer-id", officers, lambda v: [])),
            ("date", search("--from", days, lambda v: ["--to", v + "T23:59:59"]))):
        value = p95(samples)
        rows.append(row(f"clips search by {name} (p95, {scale})", value, "ms", target="< 50 ms",
                        baseline=baseline, baseline_name="clips --limit 1",
                        passed=value < 50))
        print(f"clips --{name}: p95 {value:.1f} ms (clips --limit 1: {baseline:.1f} ms)")

    # show with its inclusion proof, the whole command in-process
    run_cli([*base, "show", sample[0], "--json"])  # warm
    show = [timed(lambda c=c: run_cli([*base, "show", c, "--json"]), 1)[0]
            for c in rng.choices(sample, k=args.queries)]
    shown = json.loads(run_cli([*base, "show", sample[-1], "--json"]))
    proof = shown["inclusion_proof"]
    start = time.perf_counter()
    slow = recomputed_proof(data, shown["ledger_seq"], proof["tree_size"])
    recompute_ms = (time.perf_counter() - start) * 1e3
    assert [h.hex() for h in slow] == proof["hashes"], "the cached proof differs from the events'"
    rows.append(row(f"show CLIP with inclusion proof (p95, {scale})", p95(show), "ms",
                    target="< 20 ms", baseline=recompute_ms,
                    baseline_name="same proof recomputed from the events",
                    passed=p95(show) < 20))
    print(f"show: p95 {p95(show):.1f} ms; the proof recomputed from the events: {recompute_ms:.0f} ms")

    web_pages(data, sample, cases, rng, args, rows, scale)

    # a checkpoint after a session (sampled while generating, and once more here)
    if args.checkpoint_ms:
        value = p95(args.checkpoint_ms)
        rows.append(row(f"checkpoint after a session (p95 of {len(args.checkpoint_ms)})", value,
                        "ms", target="< 50 ms", passed=value < 50))
        print(f"checkpoint after a session: p95 {value:.1f} ms")

    if args.rebuild:
        with Station.open(data, config) as station:
            start = time.perf_counter()
            for _ in station.ledger.events():
                pass
            read_s = time.perf_counter() - start
        copy = data.parent / (data.name + "-rebuild")
        import shutil

        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(data, copy)
        try:
            start = time.perf_counter()
            run_cli(["--data-dir", str(copy), "catalog", "rebuild"])
            rebuild_s = time.perf_counter() - start
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        rows.append(row(f"catalog rebuild ({scale})", rebuild_s, "s", target="reported",
                        baseline=read_s, baseline_name="reading the events"))
        print(f"catalog rebuild: {rebuild_s:.1f} s (reading the events: {read_s:.1f} s)")


def web_pages(data: Path, sample: list[str], cases: list[str], rng: random.Random,
              args: argparse.Namespace, rows: list[dict[str, Any]], scale: str) -> None:
    """Every page through the real app (in-process ASGI), as a logged-in clerk (the
    ledger and admin pages as an admin)."""
    ensure_user(data, CLERK, "clerk")
    ensure_user(data, ADMIN, "admin")
    web, admin = login(data, CLERK), login(data, ADMIN)
    page_size = load_config(None).web.page_size
    with Station.open(data, load_config(None)) as station:
        clips = station.catalog.db.execute("select count(*) from clips").fetchone()[0]
        officer = station.catalog.db.execute("select officer_id from clips where clip_id = ?",
                                             [sample[0]]).fetchone()[0]
    last_page = max(1, clips // page_size)
    # R15's inspection page for the second year of footage (~180,000 clips at 10^6), and
    # the clips behind one officer's figure (issue 21's page)
    year = f"from={(START.year + 1)}-01-01&to={(START.year + 1)}-12-31"
    pages: dict[str, tuple[Any, Callable[[], str]]] = {
        "clip queue (unlabelled)": (web, lambda: "/clips"),
        "all clips, page 1": (web, lambda: "/clips?show=all"),
        "all clips, a random page": (web, lambda: f"/clips?show=all&page={rng.randint(1, last_page)}"),
        "all clips, the last page": (web, lambda: f"/clips?show=all&page={last_page}"),
        "search by case number": (web, lambda: f"/clips?show=all&q={rng.choice(cases)}"),
        "one clip": (web, lambda: f"/clips/{rng.choice(sample)}"),
        "review queue": (web, lambda: "/review"),
        "ledger (newest page)": (admin, lambda: "/ledger"),
        "admin": (admin, lambda: "/admin"),
        "compliance report, a whole year": (admin, lambda: f"/reports/compliance?{year}"),
        "compliance: one officer's clips of the year": (
            admin, lambda: f"/reports/compliance/items?{year}&group=officer&key={officer}"
                           "&duty=recordings"),
        "compliance: the unit's unlabelled clips of the year": (
            admin, lambda: f"/reports/compliance/items?{year}&group=unit&duty=unlabelled"),
        # the largest list of the page (every recording of the year), first and a deep page
        "compliance: the unit's recordings of the year": (
            admin, lambda: f"/reports/compliance/items?{year}&group=unit&duty=recordings"),
        "compliance: the unit's recordings of the year, a random page": (
            admin, lambda: f"/reports/compliance/items?{year}&group=unit&duty=recordings"
                           f"&page_number={rng.randint(1, 1000)}"),
    }
    for name, (client, target) in pages.items():
        client.get(target())  # warm: the first render compiles the template
        samples = []
        for _ in range(args.queries):
            url = target()
            start = time.perf_counter()
            answer = client.get(url)
            samples.append((time.perf_counter() - start) * 1e3)
            assert answer.status_code == 200, (url, answer.status_code)
        value = p95(samples)
        rows.append(row(f"web: {name} (p95, {scale})", value, "ms", target="< 100 ms",
                        passed=value < 100))
        print(f"web {name}: p95 {value:.1f} ms")
    # the compliance page's weekly plots: images of their own, drawn by matplotlib
    plot_ms = []
    for number in (0, 1) * (args.queries // 2):
        start = time.perf_counter()
        answer = admin.get(f"/reports/compliance/plot/{number}.png?{year}")
        plot_ms.append((time.perf_counter() - start) * 1e3)
        assert answer.status_code == 200, answer.status_code
    value = p95(plot_ms)
    rows.append(row(f"web: a compliance plot of a year, an image the page loads (p95, {scale})",
                    value, "ms", target="reported"))
    print(f"web compliance plot image: p95 {value:.1f} ms")
    # the media route, after a registered viewing (R10) of each clip played
    token = web.get("/clips").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    media = []
    for clip in rng.sample(sample, min(len(sample), 20)):
        answer = web.post(f"/clips/{clip}/view", data={
            "approver": "王科长", "reason": "bench", "csrf_token": token})
        assert answer.status_code == 303, answer.text
        start = time.perf_counter()
        answer = web.get(f"/media/{clip}")
        media.append((time.perf_counter() - start) * 1e3)
        assert answer.status_code == 200, answer.status_code
    value = p95(media)
    rows.append(row(f"web: media route (p95, {scale})", value, "ms", target="< 100 ms, O(1)",
                    passed=value < 100))
    print(f"web media: p95 {value:.1f} ms")


def ensure_user(data: Path, name: str, role: str) -> None:
    base = ["--data-dir", str(data), "--lang", "en"]
    if f'"{name}"' in run_cli([*base, "user", "list", "--json"]):
        return
    old = sys.stdin
    sys.stdin = io.StringIO(PASSWORD + "\n")
    try:
        run_cli([*base, "user", "add", name, "--role", role, "--password-stdin"],
                system_clock=True)
    finally:
        sys.stdin = old


def login(data: Path, name: str) -> Any:
    from fastapi.testclient import TestClient

    from evidence_station.web.app import create_app

    web = TestClient(create_app(data, load_config(None)), follow_redirects=False)
    token = web.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = web.post("/login", data={"username": name, "password": PASSWORD,
                                      "csrf_token": token})
    assert answer.status_code == 303, answer.text
    return web


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1_000_000 if full_size() else 20_000)
    parser.add_argument("--events-per-clip", type=int, default=10)
    parser.add_argument("--session-clips", type=int, default=200,
                        help="clips per dock session (a real one holds tens to hundreds)")
    parser.add_argument("--os-sync", action="store_true",
                        help="make each session's store objects durable with os.sync() (the "
                             "whole machine) instead of fsyncing them (the comparison)")
    parser.add_argument("--queries", type=int, default=40, help="samples per figure")
    parser.add_argument("--dir", type=Path, default=None,
                        help="the cached station (default BENCH_DIR/scale-<clips>x<events>)")
    parser.add_argument("--no-rebuild", dest="rebuild", action="store_false",
                        help="skip the catalog rebuild (long at 10^7 events)")
    parser.add_argument("--generate-only", action="store_true",
                        help="extend the cached station and report only the generation rate "
                             "and the checkpoints after its sessions (measure in a later run)")
    add_json_out(parser)
    args = parser.parse_args()
    root = Path(os.environ.get("BENCH_DIR") or "/var/tmp/evidence-station-bench")
    data = args.dir or root / f"scale-x{args.events_per_clip}"
    data.parent.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    args.checkpoint_ms = []
    made, took = generate(data, args.clips, args.events_per_clip, args.session_clips,
                          args.checkpoint_ms, os_sync=args.os_sync)
    if made:
        rows.append(row(f"generate {made:,} clips through the write path", made / took,
                        "clips/s", target="reported"))
        print(f"generated {made:,} clips in {took:.0f} s")
    if args.generate_only:
        if args.checkpoint_ms:
            value = p95(args.checkpoint_ms)
            rows.append(row(f"checkpoint after a session (p95 of {len(args.checkpoint_ms)})",
                            value, "ms", target="< 50 ms", passed=value < 50))
            print(f"checkpoint after a session: p95 {value:.1f} ms")
        write_rows(args.json_out, rows)
        return
    try:
        measure(data, args, rows)
    finally:
        write_rows(args.json_out, rows)


if __name__ == "__main__":
    main()
