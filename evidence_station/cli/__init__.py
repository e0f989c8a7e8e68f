"""``evidence-station`` — one entry point, thin commands (sqlite-utils' ``cli.py`` habit).

Global options come before the command. Each command parses its arguments, calls one
service function, and renders the result. Exit codes: 0 success, 1 a finding, 2 a usage
or environment error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape

from evidence_station.casework.rules import CaseworkError
from evidence_station.cli.context import AppContext
from evidence_station.config import load_config, resolve_data_dir
from evidence_station.docking.control import ControlError
from evidence_station.errors import EXIT_USAGE, EvidenceStationError
from evidence_station.i18n import detect_lang


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--data-dir", type=click.Path(path_type=Path), default=None,
              help="Data directory (store, catalog, ledger, keys). Also EVIDENCE_STATION_DATA_DIR. "
                   "数据目录。")
@click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
              help="TOML configuration file (see config.example.toml). 配置文件。")
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
    chosen = detect_lang(lang)
    config = load_config(config_file)
    ctx.obj = AppContext(
        lang=chosen, config=config, data_dir=resolve_data_dir(data_dir, config),
        console=Console(), err_console=Console(stderr=True),
    )


def _register() -> None:
    from evidence_station.cli import (
        analysis_cmd,
        casework_cmd,
        check_cmd,
        clips_cmd,
        daemon_cmd,
        disc_cmd,
        ingest_cmd,
        init_cmd,
        ledger_cmd,
        report_cmd,
        retention_cmd,
        web_cmd,
    )

    for module in (init_cmd, ingest_cmd, clips_cmd, check_cmd, ledger_cmd, daemon_cmd, analysis_cmd,
                   casework_cmd, web_cmd, retention_cmd, disc_cmd,
                   report_cmd):
        module.register(cli)


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        returned = cli.main(args=argv, prog_name="evidence-station", standalone_mode=False)
    except (CaseworkError, ControlError) as err:  # a rule refused the request
        Console(stderr=True).print(f"[bold red]错误 error:[/bold red] {escape(str(err))}",
                                   highlight=False, soft_wrap=True)
        return EXIT_USAGE
    except EvidenceStationError as err:
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
