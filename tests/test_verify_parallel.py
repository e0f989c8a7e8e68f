"""The verifier's event scan split over processes (hashing.parallel, issue 16) against the
single-process scan: the same count, root, roots, captured leaves and lines, ingested
hashes and the same first finding, wherever the ranges are cut and whatever is broken.

Two ways in: ``split_scan`` cuts at chosen lines and joins the ranges in this process (so
a break can be put exactly on a boundary), and ``scan_events_file`` forks real workers."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashing.canonical import canonical_json
from hashing.event_scan import ZERO_HASH, EventScan, scan_events
from hashing.parallel import (
    BLOCK,
    EventsScan,
    cut_points,
    join,
    read_lines,
    scan_events_file,
    scan_range,
)
from tests.conftest import ROOT
from tests.test_verify import bundle  # noqa: F401 - the fixture, for the standalone copy
from tests.test_verify_fast import ledger_lines


def mixed_ledger(count: int, seed: int = 0) -> list[bytes]:
    """Ingests, deletions of earlier ingests and other events, chained."""
    rng = random.Random(seed)
    lines, prev, hashes = [], ZERO_HASH, []
    for seq in range(count):
        event: dict[str, Any] = {"seq": seq, "prev": prev, "actor": "t"}
        roll = rng.random()
        if roll < 0.5:
            digest = f"{rng.randrange(count // 3 + 1):064x}"
            event.update(type="ingest", sha256=digest, size=rng.randrange(10**9))
            hashes.append(digest)
        elif roll < 0.6 and hashes:
            event.update(type="deletion", sha256=rng.choice(hashes))
        else:
            event.update(type="flag", note="中文 " * rng.randrange(5))
        body = canonical_json(event)
        lines.append(body + b"\n")
        prev = hashlib.sha256(body).hexdigest()
    return lines


def same(a: EventScan, b: EventScan) -> None:
    assert a.count == b.count
    assert a.root == b.root
    assert [str(f) for f in a.findings] == [str(f) for f in b.findings]
    assert a.leaves == b.leaves and a.lines == b.lines
    assert a.roots == b.roots
    assert a.ingested == b.ingested


def split_scan(lines: list[bytes], cuts: list[int], capture: set[int] = frozenset(),  # type: ignore[assignment]
               root_at: set[int] = frozenset()) -> EventScan:  # type: ignore[assignment]
    """Ranges starting at the given line indexes, scanned and joined in this process."""
    bounds = [0, *sorted(set(cuts) - {0}), len(lines)]
    parts = [scan_range(lines[start:end], (0, ZERO_HASH) if index == 0 else None,
                        capture=capture, root_at=root_at)
             for index, (start, end) in enumerate(itertools.pairwise(bounds))
             if end > start or index == 0]
    return join(parts, root_at=root_at)


def check_split(lines: list[bytes], cuts: list[int], capture: set[int] = frozenset(),  # type: ignore[assignment]
                root_at: set[int] = frozenset()) -> EventScan:  # type: ignore[assignment]
    reference = scan_events(iter(lines), capture=capture, root_at=root_at)
    same(split_scan(lines, cuts, capture, root_at), reference)
    return reference


def test_honest_ledgers_every_size_and_cut() -> None:
    for count in range(0, 20):
        lines = ledger_lines(count)
        for cut in range(0, count + 1):
            check_split(lines, [cut], capture={0, cut, count - 1}, root_at={0, cut, count})
            check_split(lines, [cut, (cut + count) // 2])


def test_break_on_each_side_of_a_boundary() -> None:
    good = ledger_lines(12)
    for cut in (1, 6, 11):
        for at in (cut - 1, cut, cut + 1):
            if at >= len(good):
                continue
            for broken in (good[at].replace(b'"actor":"t"', b'"actor":"u"'),  # canonical
                           good[at].replace(b'","', b'", "', 1),  # not canonical
                           b"{nope\n", b"\n", good[at][:-1] + b" \n"):
                lines = [*good[:at], broken, *good[at + 1:]]
                reference = check_split(lines, [cut])
                assert reference.findings or at == len(good) - 1, (cut, at, broken)
                check_split(lines, [cut, cut + 2])  # and a range after the break


def test_break_in_first_and_last_range() -> None:
    good = ledger_lines(30)
    for at in (0, 2, 27, 29):
        lines = [*good[:at], good[at].replace(b'"actor":"t"', b'"actor":"v"'), *good[at + 1:]]
        check_split(lines, [10, 20])
        check_split(lines, [10, 20], capture={0, 29}, root_at={5, 25, 30})


def test_reordered_pair_across_ranges_dropped_and_duplicated_line() -> None:
    good = ledger_lines(16)
    for cut in (1, 8, 15):
        swapped = [*good[:cut - 1], good[cut], good[cut - 1], *good[cut + 1:]]
        assert check_split(swapped, [cut]).findings
        dropped = check_split([*good[:cut], *good[cut + 1:]], [cut])
        assert dropped.findings or cut == len(good) - 1  # the last: caught by the size
        assert check_split([*good[:cut], good[cut - 1], *good[cut:]], [cut]).findings
        assert check_split([*good[:cut], *good[:cut], *good[cut:]], [cut]).findings  # replayed


def test_truncated_last_line_alone_in_its_range() -> None:
    good = ledger_lines(10)
    for cut in (5, 9):
        lines = [*good[:-1], good[-1][:-7]]
        reference = check_split(lines, [cut])
        assert "incomplete" in str(reference.findings[0])
    check_split([*good, b'{"seq":10'], [10])  # a torn append after the last good event


def test_empty_and_one_event_ledgers(tmp_path: Path) -> None:
    for lines in ([], ledger_lines(1), [ledger_lines(1)[0][:-1]]):
        check_split(lines, [0], capture={0}, root_at={0, 1})
        path = tmp_path / "events.jsonl"
        path.write_bytes(b"".join(lines))
        for workers in (1, 2, 3):
            same(scan_events_file(path, workers=workers, min_bytes=0, capture={0},
                                  root_at={0, 1}),
                 scan_events(iter(lines), capture={0}, root_at={0, 1}))


def test_blocks_roots_and_captures_across_ranges() -> None:
    """Sizes past one block (1,024 leaves), not a power of two, cuts on and off block
    boundaries, roots asked for inside blocks, on block edges and in other ranges."""
    lines = mixed_ledger(3 * BLOCK + 77)
    size = len(lines)
    capture = {0, 1, BLOCK - 1, BLOCK, 2 * BLOCK + 5, size - 1}
    root_at = {0, 1, 3, BLOCK, BLOCK + 1, 2 * BLOCK - 1, 2 * BLOCK, 2 * BLOCK + 300, size}
    for cuts in ([BLOCK], [BLOCK + 1], [BLOCK - 1, 2 * BLOCK], [700, 1500, 2800],
                 [2 * BLOCK + 300], [size - 1]):
        check_split(lines, cuts, capture, root_at)
    broken = [*lines[:2 * BLOCK], lines[2 * BLOCK].replace(b'"actor":"t"', b'"actor":"x"'),
              *lines[2 * BLOCK + 1:]]
    for cuts in ([BLOCK], [2 * BLOCK], [2 * BLOCK + 1], [2 * BLOCK + 2]):
        check_split(broken, cuts, capture, root_at)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 40), st.lists(st.integers(0, 40), max_size=4), st.integers(0, 3000),
       st.binary(max_size=3), st.booleans())
def test_random_ledgers_and_damage_split_anywhere(count: int, cuts: list[int], where: int,
                                                  replacement: bytes, damage: bool) -> None:
    lines = mixed_ledger(count, seed=count)
    if damage and lines:
        data = b"".join(lines)
        where %= len(data)
        lines = (data[:where] + replacement + data[where + 1:]).splitlines(keepends=True)
    cuts = [cut % (len(lines) + 1) for cut in cuts]
    check_split(lines, cuts, capture={0, count // 2}, root_at={count // 3, count})


@pytest.mark.parametrize("workers", [2, 3, 5])
def test_forked_workers_match_one_process(tmp_path: Path, workers: int) -> None:
    lines = mixed_ledger(2 * BLOCK + 333, seed=7)
    path = tmp_path / "events.jsonl"
    capture, root_at = {0, 10, 1500, len(lines) - 1}, {1000, 1024, 2048, len(lines)}
    reference = scan_events(iter(lines), capture=capture, root_at=root_at)
    path.write_bytes(b"".join(lines))
    same(scan_events_file(path, workers=workers, min_bytes=0, capture=capture,
                          root_at=root_at), reference)
    rng = random.Random(workers)
    for _ in range(4):  # one damaged line somewhere, and the rest unchanged
        at = rng.randrange(len(lines))
        damaged = [*lines[:at], lines[at].replace(b'"actor":"t"', b'"actor":"T"'),
                   *lines[at + 1:]]
        path.write_bytes(b"".join(damaged))
        same(scan_events_file(path, workers=workers, min_bytes=0, capture=capture,
                              root_at=root_at),
             scan_events(iter(damaged), capture=capture, root_at=root_at))


def test_cut_points_are_line_ends_and_ranges_cover_the_file(tmp_path: Path) -> None:
    lines = mixed_ledger(500, seed=3)
    path = tmp_path / "events.jsonl"
    data = b"".join(lines) + b'{"torn'
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        for shares in ([1.0, 1.0], [0.1, 1.0, 1.0], [1.0] * 7, [0.0, 1.0], [1.0] * 600):
            cuts = cut_points(fd, len(data), shares)
            assert cuts[0] == 0 and cuts[-1] == len(data) and cuts == sorted(cuts)
            assert all(data[cut - 1:cut] == b"\n" for cut in cuts[1:-1] if 0 < cut < len(data))
            ranges = [list(read_lines(fd, start, end)) for start, end in itertools.pairwise(cuts)]
            assert [line for part in ranges for line in part] == [*lines, b'{"torn']
    finally:
        os.close(fd)


def test_worker_that_dies_falls_back_to_one_process(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    lines = mixed_ledger(300, seed=5)
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(lines))

    def fail(*args: object, **kwargs: object) -> None:
        raise MemoryError("a worker ran out of memory")

    monkeypatch.setattr("hashing.parallel._child_scan", fail)
    scan = EventsScan(path, workers=2, min_bytes=0)
    assert scan.children  # forked, and the child will fail
    same(scan.result(), scan_events(iter(lines)))
    assert not scan.children


def test_one_cpu_runs_in_process(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(mixed_ledger(50)))
    scan = EventsScan(path, workers=1, min_bytes=0)
    assert not scan.cuts and not scan.children
    same(scan.result(), scan_events(iter(mixed_ledger(50))))


@pytest.mark.skipif(not os.path.exists("/usr/bin/taskset"), reason="needs taskset")
def test_cli_on_one_cpu_and_forced_split_agree(tmp_path: Path) -> None:
    """``evidence-station-verify`` pinned to one CPU runs in-process; the same bundle
    through forked workers gives the same output, for an honest and a damaged ledger."""
    from hashing.checkpoint import Checkpoint, sign_checkpoint
    from hashing.note import Signer

    signer = Signer.generate("evidence-station/test")
    lines = mixed_ledger(1500, seed=9)
    first = canonical_json({"seq": 0, "prev": ZERO_HASH, "type": "station.init", "actor": "t",
                            "verifier_key": signer.verifier.encode()})
    lines = [first + b"\n"]
    prev = hashlib.sha256(first).hexdigest()
    for seq in range(1, 1500):
        body = canonical_json({"seq": seq, "prev": prev, "type": "flag", "actor": "t"})
        lines.append(body + b"\n")
        prev = hashlib.sha256(body).hexdigest()
    reference = scan_events(iter(lines))
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "station.vkey").write_text(signer.verifier.encode())
    (folder / "checkpoint").write_text(
        sign_checkpoint(Checkpoint(signer.name, reference.count, reference.root), signer))
    damaged = [*lines[:999], lines[999].replace(b'"actor":"t"', b'"actor":"z"'), *lines[1000:]]
    for ledger, code in ((lines, 0), (damaged, 1)):
        (folder / "events.jsonl").write_bytes(b"".join(ledger))
        outputs = []
        for command in (["taskset", "-c", "0", sys.executable, "-m", "hashing.verify"],
                        [sys.executable, "-c", "import sys, hashing.parallel as p; "
                         "p.PARALLEL_MIN_BYTES = 0; p.usable_cpus = lambda: 3; "
                         "from hashing.verify import main; sys.exit(main())"]):
            done = subprocess.run([*command, str(folder)], capture_output=True, text=True,
                                  cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            assert done.returncode == code, done.stderr
            outputs.append(done.stdout)
        assert outputs[0] == outputs[1]
        assert ("seq 1000:" in outputs[0]) == (code == 1)


@pytest.mark.slow
def test_standalone_copy_splits_in_a_bare_virtualenv(bundle: Path,  # noqa: F811 - fixture
                                                     tmp_path: Path,
                                                     cryptography_only_python: Path) -> None:
    """The copy of hashing/ an auditor runs (a virtualenv with only `cryptography`,
    ``python -I``) forks its event workers too, and says OK for an honest bundle."""
    workdir = tmp_path / "auditor"
    shutil.copytree(ROOT / "hashing", workdir / "hashing",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [str(cryptography_only_python), "-I", "-c",
         "import sys; sys.path.insert(0, '.'); import hashing.parallel as p; "
         "p.PARALLEL_MIN_BYTES = 0; p.usable_cpus = lambda: 2; forks = []; "
         "fork = p.EventsScan._fork; "
         "p.EventsScan._fork = lambda self, a, b: forks.append(a) or fork(self, a, b); "
         f"from hashing.verify import main; code = main([{str(bundle)!r}]); "
         "print('forks', len(forks)); sys.exit(code)"],
        cwd=workdir, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout and "forks 1" in done.stdout
