"""The station and the operations the fault suite breaks, and the checks after each break.

One *base* station (a camera ingested, two admins, a clerk, two clips labelled, one
designated evidence) is built once and copied for every crash point, so each point starts
from the same bytes. Each :class:`Operation` is one or more real CLI commands run as
subprocesses (``tests.faults.runner``: the real ``evidence_station.cli.main`` with the
station clock pinned, so a seed reproduces a run exactly).

After a fault, :func:`recover_and_check` finishes the operation the way a person would
(re-run every step that was not acknowledged; ``ledger recover`` only when a command's
message says so) and then proves, against a reference run of the same operation without
a fault:

* ``check --verify-data`` reports nothing (hash chain, Merkle root, checkpoint, every
  original present, read-only, right size and SHA-256, catalog = projection);
* a catalog rebuilt from the ledger equals the live catalog, table by table, row by row;
* every acknowledged event is still there (the ledger a step left when it exited 0 is a
  byte prefix of the final ledger; everything before the operation too);
* nothing is lost or duplicated: the operation's effects (its events without seq, prev,
  time and per-run ids) are exactly the reference run's, each as many times;
* no partial or temporary file is left anywhere in the data dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[2]
ZONE = ZoneInfo("Asia/Shanghai")
DOCKED = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE)
# R6: general footage is kept 3 months by default; a year on, clip 3 may be deleted.
EXPIRED = DOCKED + timedelta(days=400)
PASSWORD = "correct horse battery\n"
CASE = "(2026)公刑字001号"
CONFIG = """\
[ingest]
reserve_mib = 0
[analysis]
speech_auto = false
"""
# Per-run bookkeeping, not effects: a re-run legitimately writes these again.
BOOKKEEPING_TYPES = frozenset({"session.start", "session.end", "session.interrupted",
                               "ledger.recovered", "checkpoint", "analysis", "review.flag"})
VOLATILE_FIELDS = frozenset({"seq", "prev", "time", "session_id", "request_id", "auth",
                             "start_seq", "end_seq", "file_seq", "tree_size", "root",
                             "checkpoint", "request_seq"})
LEFTOVER = re.compile(r"(\.tmp|\.partial|tmp-|\.part$|-journal$)")


@dataclass(frozen=True)
class Step:
    argv: tuple[str, ...]
    account: str | None = None  # None: in-process as root, the way the CLI runs without a daemon
    at: datetime = DOCKED
    stdin: str = ""


@dataclass(frozen=True)
class Operation:
    name: str
    steps: tuple[Step, ...]
    # A re-run of an already recorded step may be refused with one of these (it is done).
    done_already: tuple[str, ...] = ()
    # Event types whose act comes before its record and makes something outside the data
    # dir: a re-run after a crash that came after the record repeats the act (a second
    # physical disc) and records it too. One extra is a repeated act, counted apart; more
    # would be a duplicate.
    repeatable: frozenset[str] = frozenset()


@dataclass
class Base:
    """The prepared station every crash point starts from (copied, never modified)."""

    work: Path
    data: Path
    config: Path
    camera_b: Path
    clips: list[str]


@dataclass
class StepResult:
    code: int
    stdout: str
    stderr: str
    killed: bool
    ledger_after: bytes | None = None  # the ledger when the step acknowledged (exit 0)


@dataclass
class Outcome:
    """What one fault and its recovery came to (a row of the report)."""

    operation: str
    point: str
    checks: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)  # see Operation.repeatable
    corrupt: list[str] = field(default_factory=list)
    recovered_torn_tail: bool = False
    mid_operation: bool = False  # killed / cut before the operation ended

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.corrupt)

    def describe(self) -> str:
        problems = [f"lost: {x}" for x in self.lost] + [f"duplicated: {x}" for x in
                                                         self.duplicated]
        problems += [f"corrupt: {x}" for x in self.corrupt]
        return f"{self.operation} @ {self.point}: " + "; ".join(problems)


def python_env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160", "PYTHONUNBUFFERED": "1"}
    env.pop("EVIDENCE_STATION_DATA_DIR", None)
    env.pop("EVIDENCE_STATION_CONFIG", None)
    return env


def step_command(step: Step, data: Path, config: Path) -> list[str]:
    command = [sys.executable, "-m", "tests.faults.runner", "--clock", step.at.isoformat(),
               "--data-dir", str(data), "--config", str(config)]
    if step.account is not None:
        command += ["--account", step.account, "--stdin", step.stdin]
    return [*command, "--", *step.argv]


def run_step(step: Step, data: Path, config: Path, *, prefix: list[str] | None = None,
             timeout: float = 300) -> StepResult:
    """Run one step as a subprocess in its own session (so a kill takes its children —
    xorriso — with it); ``prefix`` wraps it (strace)."""
    command = [*(prefix or []), *step_command(step, data, config)]
    process = subprocess.Popen(command, env=python_env(), cwd=ROOT, start_new_session=True,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(step.stdin if step.account is None else "",
                                       timeout=timeout)
    finally:
        kill_group(process.pid)
    killed = process.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL) or (
        "+++ killed by SIGKILL" in err)
    result = StepResult(process.returncode, out, err, killed)
    if process.returncode == 0 and not killed:
        try:
            result.ledger_after = ledger_bytes(data)
        except OSError:  # the power went after the command answered: the caller reads it
            result.ledger_after = None
    return result


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def ledger_bytes(data: Path) -> bytes:
    try:
        return (data / "ledger" / "events.jsonl").read_bytes()
    except FileNotFoundError:
        return b""


def build_base(work: Path) -> Base:
    """init, ingest camera A (3 clips), accounts wang + sun (admin) and li (clerk), clips 1
    and 2 labelled with CASE, clip 1 designated evidence; camera B waits for the ingest
    operation."""
    from evidence_station.demo import make_demo_camera

    work.mkdir(parents=True, exist_ok=True)
    config = work / "config.toml"
    config.write_text(CONFIG)
    camera_a = make_demo_camera(work / "camA", count=3, seconds=0.5,
                                start=DOCKED - timedelta(hours=3))
    camera_b = other_camera(work / "camB")
    data = work / "data"
    steps = [Step(("init", "--station", "faults-01")), Step(("ingest", str(camera_a)))]
    steps += [Step(("user", "add", name, "--role", role, "--password-stdin"), stdin=PASSWORD)
              for name, role in (("wang", "admin"), ("sun", "admin"), ("li", "clerk"))]
    for step in steps:
        result = run_step(step, data, config)
        assert result.code == 0, (step, result.stdout, result.stderr)
    clips = sorted(row["id"] for row in clips_json(data, config))
    for step in (Step(("label", clips[0], clips[1], "--case-number", CASE, "--party", "张三",
                       "--handler", "李四")),
                 Step(("evidence", clips[0], "--collector", "王五", "--collected-at",
                       "2026-11-23T07:30", "--location", "人民路", "--fact-to-prove",
                       "殴打经过"))):
        result = run_step(step, data, config)
        assert result.code == 0, (step, result.stdout, result.stderr)
    return Base(work, data, config, camera_b, clips)


def other_camera(root: Path) -> Path:
    """Camera B: three recordings with other bytes than camera A's (new objects to store)."""
    from evidence_station.demo import recording_name, write_mp4

    folder = root / "DCIM" / "100MEDIA"
    folder.mkdir(parents=True)
    for number in range(3):
        when = DOCKED - timedelta(hours=2) + timedelta(minutes=10 * number)
        path = folder / recording_name("CAM77777", "123456", when, number + 1)
        write_mp4(path, seconds=0.5, seed=100 + number)
        os.utime(path, (when.timestamp(), when.timestamp()))
    return root


def clips_json(data: Path, config: Path) -> list[dict[str, Any]]:
    result = run_step(Step(("clips", "--json")), data, config)
    assert result.code == 0, result.stderr
    return list(json.loads(result.stdout))


def operations(base: Base, disc_image: Path) -> dict[str, Operation]:
    """The operations issue 22 names (replication is another branch's: not here)."""
    _, second, third = base.clips
    return {op.name: op for op in (
        Operation("ingest", (Step(("ingest", str(base.camera_b))),)),
        Operation("label", (Step(("label", second, third, "--case-number", "(2026)公刑字002号",
                                  "--party", "赵六", "--handler", "钱七")),)),
        Operation("evidence", (Step(("evidence", second, "--collector", "王五",
                                     "--collected-at", "2026-11-23T07:40", "--location",
                                     "人民路", "--fact-to-prove", "现场情况")),)),
        Operation("hold", (Step(("hold", third, "--reason", "行政诉讼")),)),
        Operation("delete", (
            Step(("delete", third, "--request", "--reason", "保存期满"), account="wang",
                 at=EXPIRED),
            Step(("delete", third, "--approve"), account="sun", at=EXPIRED)),
            done_already=("already", "no pending", "deleted")),
        Operation("disc", (Step(("disc", "burn", "--case-number", CASE, "--drive",
                                 f"stdio:{disc_image}", "--media", "cd", "--maker", "甲",
                                 "--extractor", "乙")),),
                  repeatable=frozenset({"disc.burn"})),
        Operation("checkpoint", (Step(("ledger", "checkpoint")),)),
    )}


def fresh_copy(base: Base, target: Path) -> Path:
    """A copy of the base data dir (modes and all) for one crash point."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(base.data, target, symlinks=True)
    return target


# -- what an operation did ------------------------------------------------------------------
def events(ledger: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in ledger.splitlines() if line.strip()]


def effects(ledger: bytes, start: int) -> Counter[str]:
    """The operation's effects: its events from ``start`` without what differs from run to
    run (seq, prev, time, session and request ids) and without per-run bookkeeping."""
    found: Counter[str] = Counter()
    for event in events(ledger)[start:]:
        if event["type"] in BOOKKEEPING_TYPES or event["type"].startswith("session."):
            continue
        kept = {key: value for key, value in event.items() if key not in VOLATILE_FIELDS}
        found[json.dumps(kept, sort_keys=True, ensure_ascii=False)] += 1
    return found


# -- checks -----------------------------------------------------------------------------------
def leftovers(data: Path) -> list[str]:
    """Partial or temporary files anywhere in the data dir (store/tmp must be empty too)."""
    found = []
    for directory, _, names in os.walk(data):
        for name in names:
            path = Path(directory) / name
            relative = str(path.relative_to(data))
            if LEFTOVER.search(name) or relative.startswith("store/tmp/"):
                found.append(relative)
    return sorted(found)


def catalog_rows(catalog: Path, tables: set[str]) -> dict[str, list[tuple[Any, ...]]]:
    connection = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True)
    try:
        return {table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall(),
                              key=repr)  # table names come from the registry
                for table in sorted(tables)}
    finally:
        connection.close()


def rebuilt_catalog_differences(data: Path, scratch: Path) -> list[str]:
    """Project the ledger into a new catalog (what ``catalog rebuild`` does) and compare
    every projected table with the live catalog, row by row."""
    from evidence_station.catalog import Catalog
    from evidence_station.projection import projected_tables
    from hashing.ledger import Ledger, LedgerError

    path = scratch / "rebuilt.sqlite"
    for leftover in scratch.glob("rebuilt.sqlite*"):
        leftover.unlink()
    try:
        ledger = Ledger.open(data / "ledger", station="faults-01")
    except LedgerError as err:
        return [f"ledger does not open for the rebuild: {err}"]
    fresh = Catalog(path)
    try:
        fresh.catch_up(ledger)
    finally:
        fresh.close()
        ledger.close()
    tables = projected_tables()
    live, rebuilt = catalog_rows(data / "catalog.sqlite", tables), catalog_rows(path, tables)
    return [f"table {table}: live {len(live[table])} rows, rebuilt {len(rebuilt[table])}, "
            f"first difference {next(iter(set(live[table]) ^ set(rebuilt[table])), None)!r}"
            for table in sorted(tables) if live[table] != rebuilt[table]]


def check_verify_data(data: Path, config: Path) -> list[str]:
    """What ``check --verify-data`` finds, run in this process (the same function the
    command runs; a subprocess would only add an interpreter start per point)."""
    from evidence_station.check import check_station
    from evidence_station.config import load_config
    from evidence_station.station import Station

    try:
        with Station.open(data, load_config(config), writable=False) as station:
            report = check_station(station, verify_data=True)
    except Exception as err:  # any failure to check is a finding here
        return [f"check --verify-data could not run: {type(err).__name__}: {err}"]
    return [f"check --verify-data: {finding}" for finding in report.findings]


def deleted_files_present(data: Path) -> list[str]:
    """R11: a clip whose tombstone is in the ledger has no file left in the store (unless a
    live clip has the same bytes)."""
    connection = sqlite3.connect(f"file:{data / 'catalog.sqlite'}?mode=ro", uri=True)
    try:
        gone = {row[0] for row in connection.execute("SELECT sha256 FROM deletions")}
        kept = {row[0] for row in connection.execute(
            "SELECT sha256 FROM clips WHERE deleted_at IS NULL OR deleted_at = ''")}
    finally:
        connection.close()
    return sorted(sha for sha in gone - kept
                  if (data / "store" / "objects" / sha[:2] / sha[2:4] / sha).exists())


def needs_recover(result: StepResult) -> bool:
    return result.code == 2 and "ledger recover" in " ".join(result.stderr.split())


def finish(operation: Operation, data: Path, config: Path,
           acknowledged: list[StepResult | None], outcome: Outcome) -> None:
    """Re-run every step the fault left unacknowledged, as a person would."""
    for index, step in enumerate(operation.steps):
        if index < len(acknowledged) and acknowledged[index] is not None:
            continue
        result = run_step(step, data, config)
        if needs_recover(result):  # the message says what to do; do exactly that
            recover = run_step(Step(("ledger", "recover")), data, config)
            if recover.code != 0:
                outcome.corrupt.append(f"ledger recover failed: {recover.stderr[-400:]}")
                return
            outcome.recovered_torn_tail = True
            result = run_step(step, data, config)
        if result.code != 0:
            said = " ".join((result.stdout + result.stderr).split()).lower()
            if not any(marker in said for marker in operation.done_already):
                outcome.corrupt.append(f"re-running step {index + 1} ({' '.join(step.argv[:2])})"
                                       f" failed with {result.code}: {said[-400:]}")
                return
    outcome.checks.append("re-run")


def verify(operation: Operation, base: Base, data: Path, reference: bytes,
           acknowledged: list[StepResult | None], outcome: Outcome, scratch: Path,
           *, originals_read_only: bool = False) -> None:
    """Every check of the module docstring; findings go into ``outcome``."""
    config = base.config
    outcome.checks.append("check --verify-data")
    outcome.corrupt += check_verify_data(data, config)
    outcome.checks.append("rebuilt catalog = live")
    outcome.corrupt += rebuilt_catalog_differences(data, scratch)
    outcome.checks.append("deleted files gone")
    outcome.corrupt += [f"deleted clip's file still stored: {sha}"
                        for sha in deleted_files_present(data)]
    final = ledger_bytes(data)
    outcome.checks.append("acknowledged events present")
    before = ledger_bytes(base.data)
    if not final.startswith(before):
        outcome.lost.append("events recorded before the operation are no longer a prefix")
    for index, step_result in enumerate(acknowledged):
        if step_result is not None and step_result.ledger_after is not None and not \
                final.startswith(step_result.ledger_after):
            outcome.lost.append(f"step {index + 1} was acknowledged but its events changed")
    outcome.checks.append("effects = reference (0 lost, 0 duplicated)")
    start = len(events(before))
    mine, truth = effects(final, start), effects(reference, start)
    for key in sorted(truth):
        if mine[key] < truth[key]:
            outcome.lost.append(f"effect missing: {key[:300]}")
    for key in sorted(mine):
        if mine[key] == truth[key] + 1 and json.loads(key)["type"] in operation.repeatable:
            outcome.repeated.append(key[:300])
        elif mine[key] > truth[key]:
            outcome.duplicated.append(f"{mine[key]}x (reference {truth[key]}x): {key[:300]}")
    outcome.checks.append("no partial files")
    left = leftovers(data)
    if left:
        outcome.corrupt.append(f"partial/temp files left: {left[:5]}")
    if originals_read_only:
        outcome.checks.append("originals 0444")
        for path in stored_objects(data):
            mode = path.stat().st_mode & 0o777
            if mode != 0o444:
                outcome.corrupt.append(f"{path.relative_to(data)} is mode {mode:o}, not 444")


def stored_objects(data: Path) -> Iterator[Path]:
    objects = data / "store" / "objects"
    if objects.exists():
        for directory, _, names in os.walk(objects):
            for name in names:
                yield Path(directory) / name
