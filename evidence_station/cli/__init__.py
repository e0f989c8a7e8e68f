"""``evidence-station`` — one entry point, thin commands (sqlite-utils' ``cli.py`` habit).

Global options come before the command. Each command parses its arguments, calls one
service function, and renders the result. Exit codes: 0 success, 1 a finding, 2 a usage
or environment error.
"""

from __future__ import annotations

import importlib
import io
import os
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from evidence_station.cli.commands import COMMANDS
from evidence_station.errors import EXIT_USAGE, EvidenceStationError, ServiceNotRunningError
from evidence_station.i18n import Lang, detect_lang

# What every command needs is imported when a command runs, not here: `--help` and the
# command's own modules come first (issue 16; `python -X importtime -m evidence_station`).
if TYPE_CHECKING:
    from rich.console import Console

    from evidence_station.cli.context import AppContext
    from evidence_station.clock import Clock
    from evidence_station.identity import Actor
    from evidence_station.station import Station

# Commands that never go to the daemon: they start it, create the data dir, serve pages,
# or touch no station at all.
# `witness` is a server of its own with its own state beside the ledger, never the daemon's.
LOCAL_COMMANDS = frozenset({"init", "daemon", "web", "statement", "witness"})


class LazyGroup(click.Group):
    """A group that imports a command's module when that command is asked for (the
    registry: ``cli/commands.py``). The top-level ``--help`` lists the registry's
    summaries, so it imports no command module at all."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module = importlib.import_module(f"evidence_station.cli.{COMMANDS[cmd_name][0]}")
            module.register(self)  # adds this command and its module's others
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        for name in self.list_commands(ctx):
            loaded = self.commands.get(name)
            if loaded is not None and loaded.hidden:
                continue
            summary = loaded.get_short_help_str(limit) if loaded is not None else \
                _shorten(COMMANDS[name][1], limit)
            rows.append((name, summary))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _shorten(text: str, limit: int) -> str:
    """Click's shortening of a summary: whole words up to ``limit``, then "..."."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 3].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "..."


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
# readable=False: the data dir is the daemon's (0700); other OS users name it to reach
# the daemon's socket, never to read it themselves.
@click.option("--data-dir", type=click.Path(path_type=Path, readable=False), default=None,
              help="Data directory (store, catalog, ledger, keys). Also EVIDENCE_STATION_DATA_DIR. "
                   "数据目录。")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="TOML configuration file (see config.example.toml); else $EVIDENCE_STATION_CONFIG, "
                   "else /etc/evidence-station/config.toml if present. 配置文件。")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None,
              help="Language of messages: zh (default) or en; else taken from LANG. 界面语言。")
@click.version_option(package_name="evidence-station")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config_file: Path | None,
        lang: str | None) -> None:
    """执法记录仪接入工作站 · Body-worn camera docking station.

    Copies every recording into tamper-evident storage with SHA-256 hash chains,
    keeps a signed, append-only ledger of every change, and lets an auditor verify
    it offline with `evidence-station-verify`.
    """
    from evidence_station.cli.context import AppContext
    from evidence_station.config import find_config, load_config, resolve_data_dir

    chosen = detect_lang(lang)
    config_file = find_config(config_file)
    config = load_config(config_file)
    clock = ctx.obj if ctx.obj is not None else None  # main(…, clock=) hands the clock in
    ctx.obj = AppContext(
        lang=chosen, config=config, data_dir=resolve_data_dir(data_dir, config),
        config_file=config_file,  # the consoles: made when first used (not for `--json`)
    )
    if clock is not None:
        ctx.obj.clock = clock


def _split(argv: list[str]) -> tuple[dict[str, Any], list[str]] | None:
    """The global options and the command's own argv, or None when parsing fails (then
    the command runs here, and click explains the mistake)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx = cli.make_context("evidence-station", list(argv), resilient_parsing=True)
            rest = [*ctx.protected_args, *ctx.args]
    except click.ClickException:
        return None
    return ctx.params, rest


def _through_daemon(argv: list[str]) -> int | None:
    """While the daemon runs, a command is sent to it and runs there as the caller's
    account (DESIGN.md, one door); its output and exit code come back. None: run here."""
    split = _split(argv)
    if split is None:
        return None
    params, rest = split
    if not rest or rest[0] in LOCAL_COMMANDS or {"--help", "-h"} & set(rest):
        return None
    from evidence_station.config import find_config, load_config, resolve_data_dir
    from evidence_station.docking.socket_client import daemon_answers, send_request, socket_path

    config = load_config(find_config(params.get("config_file")))
    data_dir = resolve_data_dir(params.get("data_dir"), config)
    path = socket_path(data_dir, config)
    if not daemon_answers(path):
        _may_run_in_process(data_dir)
        return None
    from evidence_station.cli.width import terminal_width  # not rich: issue 16

    stdin = ""
    if any(flag in rest for flag in ("--password-stdin", "--transcript-stdin")):
        stdin = sys.stdin.read()
    lang = detect_lang(params.get("lang"))
    reply = send_request(path, {"kind": "command", "argv": rest, "stdin": stdin, "lang": lang,
                                "width": terminal_width()})
    if not reply.get("ok"):
        from rich.console import Console
        from rich.markup import escape

        console = Console(stderr=True)
        message = reply.get("error_zh") if lang == "zh" else reply.get("error")
        console.print(f"[bold red]错误 error:[/bold red] {escape(str(message))}", highlight=False,
                      soft_wrap=True)
        return int(reply.get("exit_code", EXIT_USAGE))
    sys.stdout.write(str(reply.get("stdout", "")))
    sys.stdout.flush()
    sys.stderr.write(str(reply.get("stderr", "")))
    return int(reply.get("code", 0))


def _may_run_in_process(data_dir: Path) -> None:
    """Without the daemon a command runs here, on the data dir itself: only root and the
    service user (its owner) can; anyone else is told to start the service rather than
    shown a permission error (DESIGN.md, one door)."""
    try:
        info = data_dir.stat()
    except FileNotFoundError:
        return  # the command says the station is not initialised
    except PermissionError:
        raise ServiceNotRunningError(data_dir=data_dir) from None
    if os.geteuid() not in (0, info.st_uid):
        raise ServiceNotRunningError(data_dir=data_dir)
    if os.geteuid() == 0 and info.st_uid != 0:
        _files_as_owner(info.st_uid, info.st_gid)


def _files_as_owner(uid: int, gid: int) -> None:
    """Root on an installed station's data dir (owned by the service user): what this
    command creates there must stay the service user's, or the daemon could not open it
    afterwards (a root-owned catalog or accounts file). So the effective ids become the
    owner's; the real uid stays 0, so the command still acts as the break-glass ``root``
    and the ledger says uid 0."""
    import pwd

    try:
        login = pwd.getpwuid(uid).pw_name
        os.setgroups(os.getgrouplist(login, gid))
    except KeyError:
        os.setgroups([gid])
    os.setegid(gid)
    os.seteuid(uid)


def serve_command(station: Station, actor: Actor, request: Mapping[str, Any]) -> dict[str, Any]:
    """Run one CLI command inside the daemon for a client (the control socket's
    ``command`` request): the same click command, its station the daemon's, its actor the
    client's account, its output captured and sent back."""
    from rich.console import Console

    from evidence_station.cli.context import AppContext, Served

    argv = request.get("argv")
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        raise click.UsageError("a command request carries argv")
    if argv[0] in LOCAL_COMMANDS:
        raise click.UsageError(f"`{argv[0]}` does not run through the daemon")
    lang: Lang = "en" if request.get("lang") == "en" else "zh"
    width = request.get("width") if isinstance(request.get("width"), int) else 100
    out, err = io.StringIO(), io.StringIO()
    app = AppContext(
        lang=lang, config=station.config, data_dir=station.layout.root,
        console=Console(file=out, width=width, color_system=None, soft_wrap=False),
        err_console=Console(file=err, width=width, color_system=None),
        clock=station.clock, out=out, stdin=io.StringIO(str(request.get("stdin") or "")),
        served=Served(station, actor, int(request.get("peer_uid", -1)),
                      str(request.get("stdin") or ""),
                      request_id=str(request["request_id"]) if request.get("request_id") else None))
    code = _run(argv, obj=app, err_console=app.err_console, lang=lang)
    return {"code": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def _run(argv: list[str], *, obj: AppContext, err_console: Console, lang: Lang) -> int:
    from rich.markup import escape

    command = cli.get_command(click.Context(cli), argv[0])
    if command is None:
        err_console.print(f"no command {argv[0]!r}")
        return EXIT_USAGE
    try:
        returned = command.main(args=argv[1:], prog_name=f"evidence-station {argv[0]}",
                                standalone_mode=False, obj=obj)
    except EvidenceStationError as err:
        err_console.print(f"[bold red]错误 error:[/bold red] {escape(err.render(lang))}",
                          highlight=False, soft_wrap=True)
        return err.exit_code
    except click.exceptions.Exit as exit_:
        return int(exit_.exit_code)
    except click.ClickException as err:
        err_console.print(escape(err.format_message()), highlight=False)
        return EXIT_USAGE
    except click.exceptions.Abort:
        return EXIT_USAGE
    return returned if isinstance(returned, int) else 0


def main(argv: list[str] | None = None, *, clock: Clock | None = None) -> int:
    """The entry point. ``clock`` is for tests that pin "now" in-process; the daemon and
    the CLI use the system clock."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if clock is None:
            forwarded = _through_daemon(args)
            if forwarded is not None:
                return forwarded
        returned = cli.main(args=args, prog_name="evidence-station", standalone_mode=False,
                            obj=clock)
    except EvidenceStationError as err:
        from rich.console import Console
        from rich.markup import escape

        lang = detect_lang(_lang_from_argv(argv if argv is not None else sys.argv[1:]))
        Console(stderr=True).print(f"[bold red]错误 error:[/bold red] {escape(err.render(lang))}",
                                   highlight=False)
        return err.exit_code
    except click.exceptions.Exit as exit_:
        return int(exit_.exit_code)
    except click.ClickException as err:
        err.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        return EXIT_USAGE
    # Without standalone mode click hands back ctx.exit(code) as the return value.
    return returned if isinstance(returned, int) else 0


def _lang_from_argv(argv: list[str]) -> str | None:
    for index, arg in enumerate(argv):
        if arg == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None
