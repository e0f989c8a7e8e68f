"""A request repeated after a crash is acknowledged, not recorded twice (issue 22;
``evidence_station/casework/retry.py``). The crash suite (tests/faults) finds these by
killing commands; here each case is pinned down directly, in-process."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from evidence_station.cli import main
from evidence_station.clock import FixedClock
from evidence_station.demo import make_demo_camera
from tests.accounts import run_as

ZONE = ZoneInfo("Asia/Shanghai")
DOCKED = datetime(2026, 11, 23, 10, 0, tzinfo=ZONE)
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(DOCKED)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        clock: FixedClock) -> Run:
    data = tmp_path / "data"

    def run(*args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(data), "--lang", "en", *args], clock=clock)
        out, err = capsys.readouterr()
        return code, out, err

    camera = make_demo_camera(tmp_path / "cam", count=2, seconds=0.5,
                              start=DOCKED - timedelta(hours=3))
    assert run("init", "--station", "retry")[0] == 0
    assert run("ingest", str(camera))[0] == 0
    for name in ("wang", "sun"):
        monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
        assert run("user", "add", name, "--role", "admin", "--password-stdin")[0] == 0
    return run


def types(tmp_path: Path) -> list[str]:
    lines = (tmp_path / "data" / "ledger" / "events.jsonl").read_bytes().splitlines()
    return [json.loads(line)["type"] for line in lines]


def test_same_label_hold_evidence_again_records_nothing(cli: Run, tmp_path: Path) -> None:
    first, second = (c["id"] for c in json.loads(cli("clips", "--json")[1]))
    label = ("label", first, second, "--case-number", "A-1", "--party", "p", "--handler", "h")
    code, out, _ = cli(*label)
    assert code == 0
    before = types(tmp_path)
    again_code, again_out, _ = cli(*label)
    assert again_code == 0 and again_out == out  # the same answer, the same ledger number
    assert types(tmp_path) == before
    # another value, or only one of the clips, is a change and is recorded
    assert cli("label", first, "--case-number", "A-1", "--party", "p", "--handler", "x")[0] == 0
    assert types(tmp_path) == [*before, "label"]
    for command in (("hold", second, "--reason", "诉讼"),
                    ("evidence", first, "--collector", "c", "--collected-at",
                     "2026-11-23T09:00", "--location", "l", "--fact-to-prove", "f")):
        assert cli(*command)[0] == 0
        recorded = types(tmp_path)
        assert cli(*command)[0] == 0 and types(tmp_path) == recorded
    # a released hold placed again is a new hold
    assert cli("hold", second, "--reason", "诉讼", "--release")[0] == 0
    assert cli("hold", second, "--reason", "诉讼")[0] == 0
    assert types(tmp_path).count("hold.place") == 2


def test_approval_repeated_after_a_crash_finishes_the_deletion(
        cli: Run, tmp_path: Path, clock: FixedClock) -> None:
    data = tmp_path / "data"
    clip = json.loads(cli("clips", "--json")[1])[0]["id"]
    clock.set(DOCKED + timedelta(days=400))
    assert run_as(data, "wang", "delete", clip, "--request", "--reason", "期满", clock=clock)[0] == 0
    assert run_as(data, "wang", "delete", clip, "--request", "--reason", "期满", clock=clock)[0] == 0
    assert types(tmp_path).count("deletion.request") == 1
    stored = Path(json.loads(cli("show", clip, "--json")[1])["store_path"])
    assert run_as(data, "sun", "delete", clip, "--approve", clock=clock)[0] == 0
    # the crash came between the durable tombstone and the unlink: the file is back
    os.chmod(stored.parent, 0o755)
    stored.write_bytes(b"left behind")
    code, _, err = run_as(data, "sun", "delete", clip, "--approve", clock=clock)
    assert code == 0, err
    assert not stored.exists() and types(tmp_path).count("deletion") == 1
    # anyone else is told it is gone, as before
    code, _, err = run_as(data, "wang", "delete", clip, "--approve", clock=clock)
    assert code == 2 and "already deleted" in err
