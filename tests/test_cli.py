"""The command-line contract: names, JSON fields, exit codes, help, languages, crashes."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest

from evidence_station.cli import cli, main
from tests.conftest import ROOT


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_init_creates_private_key_and_refuses_twice(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d"
    code, out, _ = run_cli(capsys, "--data-dir", str(data), "--lang", "en", "init",
                           "--station", "unit-01")
    assert code == 0 and "Verifier key: evidence-station/unit-01+" in out
    assert stat.S_IMODE((data / "keys" / "station.key").stat().st_mode) == 0o600
    code, _, err = run_cli(capsys, "--data-dir", str(data), "init", "--station", "unit-01")
    assert code == 2 and "已经初始化" in err


def test_ingest_clips_show_check_rebuild(tmp_path: Path, camera: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "d")
    assert run_cli(capsys, "--data-dir", data, "init", "--station", "s1")[0] == 0
    code, out, _ = run_cli(capsys, "--data-dir", data, "ingest", str(camera),
                           "--officer-id", "999888")
    assert code == 0 and "可以拔出记录仪" in out
    code, out, _ = run_cli(capsys, "--data-dir", data, "clips", "--json")
    clips = json.loads(out)
    assert len(clips) == 3
    for key in ("id", "sha256", "size", "source_path", "device_id", "recorded_at", "ingested_at"):
        assert key in clips[0]
    assert clips[0]["officer_id"] == "999888" and clips[0]["device_id"] == "CAM12345"
    code, out, _ = run_cli(capsys, "--data-dir", data, "show", clips[0]["id"][:8], "--json")
    shown = json.loads(out)
    assert shown["sha256"] == clips[0]["sha256"] and shown["sources"][0]["seq"] >= 0
    assert shown["inclusion_proof"]["hashes"]
    code, out, _ = run_cli(capsys, "--data-dir", data, "--lang", "en", "check", "--verify-data")
    assert code == 0 and "every file re-hashed correctly" in out
    code, out, _ = run_cli(capsys, "--data-dir", data, "--lang", "en", "catalog", "rebuild")
    assert code == 0 and "3 clips" in out
    assert run_cli(capsys, "--data-dir", data, "check")[0] == 0
    # An altered original is an alarm, never a silent fix.
    stored = Path(shown["store_path"])
    os.chmod(stored, 0o644)
    stored.write_bytes(stored.read_bytes() + b"x")
    os.chmod(stored, 0o444)
    code, out, _ = run_cli(capsys, "--data-dir", data, "--lang", "en", "check", "--verify-data")
    assert code == 1 and "size" in out
    code, _, err = run_cli(capsys, "--data-dir", data, "show", "ffffffffffff")
    assert code == 2 and "ffffffffffff" in err


def test_bad_config_names_file_and_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[ingest]\nreserve_mb = 5\n")
    code, _, err = run_cli(capsys, "--config", str(config), "--lang", "en", "clips")
    assert code == 2
    assert str(config) in err.replace("\n", "") and "ingest.reserve_mb" in err


def test_example_config_is_valid() -> None:
    from evidence_station.config import load_config

    load_config(ROOT / "config.example.toml")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):  # the lazy group loads each command here
        command = group.get_command(context, name)
        assert command is not None, name
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            found += _commands(command, full + " ")
        else:
            found.append((full, command))
    return found


def test_every_command_has_help_and_a_readme_line(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    for name, command in _commands(cli):
        assert command.help, f"{name} has no help"
        assert f"`{name}" in readme, f"{name} is not in the README"
        code, out, _ = run_cli(capsys, *name.split(), "--help")
        assert code == 0 and "Usage" in out


@pytest.mark.slow
def test_kill_9_mid_ingest_then_resume(tmp_path: Path) -> None:
    """A crash while copying: nothing half-written counts; the next run resumes."""
    data = tmp_path / "d"
    camera = tmp_path / "cam"
    camera.mkdir()
    for number in range(6):
        (camera / f"REC{number:04d}.MP4").write_bytes(os.urandom(40 * 1024 * 1024))
    env = {**os.environ, "EVIDENCE_STATION_DATA_DIR": str(data), "COLUMNS": "120"}
    command = [sys.executable, "-c", "import sys; from evidence_station.cli import main; "
               "sys.exit(main())"]
    subprocess.run([*command, "init", "--station", "crash"], env=env, check=True,
                   capture_output=True)
    process = subprocess.Popen([*command, "ingest", str(camera), "--device-id", "D1"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    events = data / "ledger" / "events.jsonl"
    while time.monotonic() < deadline:  # wait until at least one file is committed
        if events.read_bytes().count(b'"type":"ingest"') >= 1:
            break
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    committed_before = events.read_bytes().count(b'"type":"ingest"')
    assert 0 < committed_before < 6  # killed mid-session
    resumed = subprocess.run([*command, "--lang", "en", "ingest", str(camera), "--device-id", "D1"],
                             env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "marked interrupted" in resumed.stderr
    ledger = events.read_bytes()
    assert ledger.count(b'"type":"ingest"') == 6  # each file exactly once
    assert b'"state":"interrupted"' in ledger
    assert not any((data / "store" / "tmp").iterdir())
    check = subprocess.run([*command, "check", "--verify-data"], env=env, capture_output=True)
    assert check.returncode == 0, check.stdout


def test_ledger_recover_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d"
    assert run_cli(capsys, "--data-dir", str(data), "init", "--station", "r1")[0] == 0
    with open(data / "ledger" / "events.jsonl", "ab") as handle:
        handle.write(b'{"seq":1,"ty')
    (data / "ledger" / "state.json").unlink(missing_ok=True)
    code, _, err = run_cli(capsys, "--data-dir", str(data), "--lang", "en", "clips")
    assert code == 2 and "ledger recover" in err.replace("\n", " ")
    code, out, _ = run_cli(capsys, "--data-dir", str(data), "--lang", "en", "ledger", "recover")
    assert code == 0 and "kept 1 complete events" in out
    assert run_cli(capsys, "--data-dir", str(data), "check")[0] == 0


def test_daemon_once_ingests_demo_camera(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d"
    code, out, _ = run_cli(capsys, "--data-dir", str(data), "--lang", "en", "daemon", "--once")
    assert code == 0 and "safe to unplug" in out
    code, out, _ = run_cli(capsys, "--data-dir", str(data), "clips", "--json")
    assert len(json.loads(out)) == 3
