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


def test_numpy_still_imports_after_sqlite_utils() -> None:
    """The catalog hides numpy from sqlite-utils only while importing it (sqlite.py)."""
    probe = ("import evidence_station.catalog, sys\nassert 'numpy' not in sys.modules\n"
             "import numpy\nprint(numpy.__name__)")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "numpy", done.stderr
