"""The CLI fits the terminal people use (issue 19): every list is one line per row at
100 columns with short ids that resolve, the full hash in `show`; a hand `ingest`
analyses after the commit like the daemon; every list command has `--json`."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from rich.cells import cell_len

from evidence_station.cli import cli, main
from evidence_station.cli.tables import Col, short_ids, widths
from evidence_station.clock import FixedClock
from evidence_station.demo import make_demo_camera

Run = Callable[..., tuple[int, str, str]]
# every command that lists things (DESIGN.md: "--json where a command lists things")
LIST_COMMANDS = ("clips", "show", "review", "case list", "devices", "user list", "retention sweep",
                 "disc plan", "ledger witness", "check")


def test_short_ids_are_unique_prefixes() -> None:
    ids = ["65343478fadef964", "65343478fa000000", "c933185884b08d2d"]
    shorts = short_ids(ids)
    assert shorts["c933185884b08d2d"] == "c9331858"
    assert shorts["65343478fadef964"] == "65343478fad" and shorts["65343478fa000000"] == "65343478fa0"
    assert len(set(shorts.values())) == 3


def test_columns_shrink_widest_first_down_to_their_minimum() -> None:
    columns = [Col("id", shrink=False), Col("name", 4), Col("path", 6)]
    rows = [["0123456789abcdef", "a" * 30, "b" * 60]]
    sizes = widths(60, columns, rows)
    assert sizes[0] == 16 and sum(sizes) + 2 <= 60 and sizes[2] >= sizes[1] >= 4


def test_every_list_command_has_json() -> None:
    def find(path: str) -> click.Command:
        command: click.Command = cli
        for part in path.split():
            assert isinstance(command, click.Group)
            found = command.get_command(click.Context(command), part)  # the group is lazy
            assert found is not None, path
            command = found
        return command

    for path in LIST_COMMANDS:
        options = [opt for param in find(path).params for opt in getattr(param, "opts", [])]
        assert "--json" in options, f"`{path}` lists things but has no --json"


@pytest.fixture
def station(tmp_path: Path, capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Run]:
    data = tmp_path / "data"
    docked = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    clock = FixedClock(docked)
    monkeypatch.setenv("COLUMNS", "100")

    def run(*args: str, stdin: str = "") -> tuple[int, str, str]:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        code = main(["--data-dir", str(data), *args], clock=clock)
        out, err = capsys.readouterr()
        return code, out, err

    assert run("init", "--station", "fit")[0] == 0
    camera = make_demo_camera(tmp_path / "cam", count=3, seconds=0.5, start=docked - timedelta(hours=3))
    code, out, err = run("--lang", "en", "ingest", str(camera))
    assert code == 0, out + err
    # analysed right after the commit, as the daemon does: the review queue is not empty
    assert "Analysed 3 clip(s)" in out, out
    events = [json.loads(line) for line in (data / "ledger" / "events.jsonl").read_text().splitlines()]
    assert sum(1 for e in events if e["type"] == "analysis") == 3
    ids = [c["id"] for c in json.loads(run("clips", "--json")[1])]
    assert run("label", *ids[:2], "--case-number", "东西湖区医疗保障局行政处罚决定书〔2026〕第0012345号",
               "--party", "某某大药房连锁有限公司东西湖区第十七分店", "--handler", "李四")[0] == 0
    assert run("user", "add", "li", "--role", "clerk", "--display-name", "李" * 30,
               "--password-stdin", stdin="correct horse battery\n")[0] == 0
    return data, run


def _one_line_per_row(out: str, rows: int) -> None:
    lines = [line for line in out.splitlines() if line.strip()]
    assert all(cell_len(line) <= 100 for line in lines), "\n".join(lines)
    rule = next(i for i, line in enumerate(lines) if set(line.strip()) <= {"─", " "})
    assert len(lines) - rule - 1 == rows, "\n".join(lines)  # no row wrapped onto a second line


def test_lists_fit_100_columns(station: tuple[Path, Run]) -> None:
    _data, run = station
    for lang in ("zh", "en"):
        for command, rows in ((("clips",), 3), (("review",), None), (("case", "list"), 1),
                              (("devices",), 1), (("user", "list"), 1),
                              (("retention", "sweep", "--dry-run", "--now", "2027-12-01"), 3)):
            code, out, err = run("--lang", lang, *command)
            assert code == 0, out + err
            expected = rows if rows is not None else len(json.loads(run("review", "--json")[1]))
            _one_line_per_row(out, expected)
    # the short id the table shows resolves; `show` has the full hash
    code, out, _ = run("clips")
    full = json.loads(run("clips", "--json")[1])[0]
    short = out.splitlines()[2].split()[0]
    assert full["id"].startswith(short) and len(short) < len(full["id"])
    code, out, _ = run("show", short)
    assert code == 0 and full["sha256"] in out.replace("\n", "")


def test_ingest_without_analysis_says_how(tmp_path: Path, station: tuple[Path, Run]) -> None:
    data, run = station
    camera = make_demo_camera(tmp_path / "cam2", count=1, seconds=0.5, device_id="DEMO0002")
    code, out, err = run("--lang", "en", "ingest", str(camera), "--no-analyze")
    assert code == 0 and "run `evidence-station analyze`" in out, out + err
    events = [json.loads(line) for line in (data / "ledger" / "events.jsonl").read_text().splitlines()]
    assert sum(1 for e in events if e["type"] == "analysis") == 3
