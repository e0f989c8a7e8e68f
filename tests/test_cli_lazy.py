"""The lazy command group (issue 16, "a command answers at once"): every command is in
the registry and in ``--help``, each command's ``--help`` works, the registry's summary is
the command's own, and what a read-only command imports leaves out the heavy parts.
No timing assertions: what is imported is checked, not how long it took."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

from evidence_station.cli import LazyGroup, cli, main
from evidence_station.cli.commands import COMMANDS
from tests.conftest import ROOT

# Loaded only when a command needs them (sqlite-utils pulls numpy unless told not to).
HEAVY = ("numpy", "pandas", "fastapi", "starlette", "av", "matplotlib", "faster_whisper",
         "jinja2", "weasyprint", "apscheduler", "pyudev")


def modules_after(argv: list[str]) -> tuple[int, set[str], str]:
    """Run the CLI in a fresh interpreter; its exit code, the modules it imported, stdout."""
    probe = ("import json, sys\nfrom evidence_station.cli import main\n"
             f"code = main({argv!r})\n"
             "sys.stdout.flush()\n"
             "print('\\nMODULES ' + json.dumps(sorted(sys.modules)))\n"
             "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    out, _, listed = done.stdout.rpartition("\nMODULES ")
    return done.returncode, set(json.loads(listed)), out


def top(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


def test_help_lists_every_command_and_imports_no_command_module() -> None:
    code, modules, out = modules_after(["--help"])
    assert code == 0
    for name in COMMANDS:
        assert f"\n  {name} " in out, f"{name} is missing from --help"
    assert not {m for m in modules if m.startswith("evidence_station.cli.") and
                m.endswith("_cmd")}, "--help imported a command module"
    assert not top(modules) & {*HEAVY, "rich", "pydantic", "sqlite_utils", "cryptography"}


def test_every_command_has_working_help(capsys: pytest.CaptureFixture[str]) -> None:
    for name in sorted(COMMANDS):
        assert main([name, "--help"]) == 0, name
        out = capsys.readouterr().out
        assert f"evidence-station {name}" in out, name


def test_registry_is_complete_and_its_summaries_are_the_commands_own() -> None:
    group = LazyGroup("probe")
    modules = {module for module, _ in COMMANDS.values()}
    for module in modules:  # every command a module registers is in the registry
        __import__(f"evidence_station.cli.{module}", fromlist=["register"]).register(group)
    assert set(group.commands) == set(COMMANDS)
    for name, (module, summary) in COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        assert command.callback is None or command.callback.__module__.endswith(module)
        assert command.get_short_help_str(limit=1000) == summary, name


def test_read_only_command_leaves_heavy_modules_out(tmp_path: Path) -> None:
    data = tmp_path / "d"
    assert main(["--data-dir", str(data), "init", "--station", "lazy-01"]) == 0
    code, modules, out = modules_after(["--data-dir", str(data), "clips", "--json"])
    assert code == 0 and json.loads(out) == []
    assert not top(modules) & {*HEAVY, "rich"}, top(modules) & {*HEAVY, "rich"}
    assert "evidence_station.casework.service" not in modules  # the write path stays out
    code, modules, _ = modules_after(["--data-dir", str(data), "review", "--json"])
    assert code == 0
    assert not top(modules) & set(HEAVY), top(modules) & set(HEAVY)
    assert "evidence_station.casework.service" not in modules


def test_the_daemon_loads_no_numpy_until_audio_is_decoded() -> None:
    """The daemon imports analysis at start even with analysis off; numpy (and OpenBLAS's
    threads) waits for the first clip whose audio is decoded (issue 16: a docking profile)."""
    probe = ("import sys, evidence_station.cli.daemon_cmd, evidence_station.docking.daemon, "
             "evidence_station.analysis.runner\nassert 'numpy' not in sys.modules, 'numpy'\n"
             "from evidence_station.analysis import speech\nprint(speech.SAMPLE_RATE)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "16000", done.stderr


def test_numpy_still_imports_after_sqlite_utils() -> None:
    """The catalog hides numpy from sqlite-utils only while importing it (sqlite.py)."""
    probe = ("import evidence_station.catalog, sys\nassert 'numpy' not in sys.modules\n"
             "import numpy\nprint(numpy.__name__)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "numpy", done.stderr


def test_read_only_commands_leave_sqlite_utils_and_cryptography_out(tmp_path: Path) -> None:
    """Issue 16: `clips`, `show` and `review` read the catalog through plain sqlite3
    (catalog/reader.py); sqlite-utils, pydantic's URL types and the write path stay out,
    and cryptography loads only where a signature is checked (`show`'s checkpoint)."""
    data = tmp_path / "d"
    assert main(["--data-dir", str(data), "init", "--station", "lazy-02"]) == 0
    code, modules, out = modules_after(["--data-dir", str(data), "clips", "--json"])
    assert code == 0 and json.loads(out) == []
    left_out = {"sqlite_utils", "cryptography", "pluggy", "dateutil", "rich", "tomllib"}
    assert not top(modules) & left_out, top(modules) & left_out
    assert not {"pydantic.networks", "evidence_station.docking.control",
                "evidence_station.casework.service", "retention.workdays"} & modules
    code, modules, _ = modules_after(["--data-dir", str(data), "review", "--json"])
    assert code == 0
    assert not top(modules) & left_out, top(modules) & left_out
    assert "retention.workdays" not in modules  # no case yet: no calendar to read


def test_show_reads_without_sqlite_utils_and_checks_the_checkpoint(tmp_path: Path) -> None:
    """`show` still verifies the signed checkpoint its inclusion proof is against (that
    needs cryptography), and still reveals a reporter to root (R12: kept in the private
    identities file, read now through a read-only sqlite3 connection), without sqlite-utils."""
    data = tmp_path / "d"
    camera = tmp_path / "cam" / "DCIM" / "100MEDIA"
    camera.mkdir(parents=True)
    (camera / "CAM12345_654321_20261121083000_0001.MP4").write_bytes(b"\0" * 4096)
    assert main(["--data-dir", str(data), "init", "--station", "lazy-03"]) == 0
    main(["--data-dir", str(data), "ingest", str(camera.parent.parent)])  # 1: malformed media
    _, _, out = modules_after(["--data-dir", str(data), "clips", "--json"])
    clip = json.loads(out)[0]["id"]
    assert main(["--data-dir", str(data), "label", clip, "--case-number", "A-1",
                 "--party", "张三", "--handler", "王五", "--reporter", "李四"]) == 0
    code, modules, out = modules_after(["--data-dir", str(data), "show", clip, "--json"])
    assert code == 0, out
    shown = json.loads(out)
    assert shown["labels"]["case_number"] == "A-1" and shown["labels"]["reporter"] == "李四"
    assert shown["inclusion_proof"]["tree_size"] > shown["ledger_seq"]
    assert "cryptography" in top(modules)  # the checkpoint's signature was checked
    assert not top(modules) & {"sqlite_utils", "rich", "pluggy"}, top(modules)


def test_a_daemon_client_loads_no_station(tmp_path: Path) -> None:
    """What `_through_daemon` needs to reach a daemon (docking/socket_client.py) loads
    neither the station, the catalog nor the accounts: the daemon opens those."""
    probe = ("import sys\nfrom evidence_station.docking.socket_client import daemon_answers, "
             "send_request, socket_path\n"
             "print(sorted(m for m in ('evidence_station.station', 'evidence_station.catalog', "
             "'evidence_station.identity', 'sqlite3') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", (done.stdout, done.stderr)


def test_trusted_proxies_validate_as_pydantic_ipvanynetwork() -> None:
    """config.AnyNetwork replaces pydantic's IPvAnyNetwork (whose module costs every
    command its URL and e-mail types): the same values, the same errors, the same JSON."""
    from pydantic import IPvAnyNetwork, TypeAdapter, ValidationError

    from evidence_station.config import AnyNetwork, Config

    ours, theirs = TypeAdapter(AnyNetwork), TypeAdapter(IPvAnyNetwork)
    for value in ("127.0.0.1", "10.0.0.0/8", "::1", "fe80::/10", 5, "10.0.0.1/8", "nope",
                  None, "", "1.2.3.4/33", ["x"]):
        try:
            expected: object = theirs.validate_python(value)
        except ValidationError as err:
            expected = [(e["type"], e["msg"]) for e in err.errors()]
        try:
            got: object = ours.validate_python(value)
        except ValidationError as err:
            got = [(e["type"], e["msg"]) for e in err.errors()]
        assert got == expected, value
    config = Config.model_validate({"web": {"trusted_proxies": ["127.0.0.1", "::1"]}})
    assert config.web.model_dump(mode="json")["trusted_proxies"] == ["127.0.0.1/32", "::1/128"]
    assert ours.json_schema() == theirs.json_schema()
    try:
        Config.model_validate({"web": {"trusted_proxies": ["nope"]}})
    except ValidationError as err:
        assert err.errors()[0]["loc"] == ("web", "trusted_proxies", 0)
    else:
        raise AssertionError("a bad network was accepted")


def test_revealing_an_identity_reads_only(tmp_path: Path) -> None:
    """IdentityStore.reveal (show, the web UI) never creates or changes the private file;
    a stored identity is revealed through the read-only connection, a wrong one is not."""
    from evidence_station.casework.identities import IdentityStore

    path = tmp_path / "identities.sqlite"
    reader = IdentityStore(path)
    assert reader.reveal("sha256:" + "0" * 64) is None
    assert not path.exists()  # asked, not created
    writer = IdentityStore(path)
    digest = writer.commit("李四")
    writer.close()
    assert (path.stat().st_mode & 0o777) == 0o600
    before = path.read_bytes()
    assert reader.reveal(digest) == "李四"  # the file appeared after the first question
    assert reader.reveal("sha256:" + "1" * 64) is None
    reader.close()
    assert path.read_bytes() == before


def test_terminal_width_is_riches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The width a daemon client sends (cli/width.py) is the one rich's Console gives."""
    from rich.console import Console

    from evidence_station.cli.width import terminal_width

    for env in ({}, {"COLUMNS": "123"}, {"COLUMNS": "x"}, {"TERM": "dumb"}):
        monkeypatch.delenv("COLUMNS", raising=False)
        monkeypatch.delenv("TERM", raising=False)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        assert terminal_width() == Console().width, env


@pytest.mark.slow
def test_a_command_sent_to_the_daemon_loads_neither_rich_nor_the_station(tmp_path: Path) -> None:
    """With the daemon running, `clips --json` is sent to it: the client process loads the
    config, click and the socket client only, and prints the daemon's answer."""
    from tests.docking_helpers import DaemonProcess, write_config

    data = tmp_path / "d"
    config = write_config(tmp_path / "config.toml", usb=False)
    assert main(["--data-dir", str(data), "--config", str(config), "init",
                 "--station", "test-station"]) == 0
    daemon = DaemonProcess(data, config)
    try:
        code, modules, out = modules_after(["--data-dir", str(data), "--config", str(config),
                                            "clips", "--json"])
        assert code == 0 and json.loads(out) == []
        assert "evidence_station.docking.socket_client" in modules  # it did ask the daemon
        assert not top(modules) & {"rich", "sqlite_utils", "cryptography"}, top(modules)
        assert not {"evidence_station.station", "evidence_station.catalog", "sqlite3",
                    "evidence_station.cli.clips_cmd"} & modules
    finally:
        assert daemon.stop() == 0
