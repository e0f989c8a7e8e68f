"""``disc plan``, ``disc burn``, ``disc verify``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from evidence_station.casework.service import record_own
from evidence_station.cli.context import AppContext
from evidence_station.errors import EXIT_FINDING
from evidence_station.i18n import human_bytes
from retention.disc import MEDIA, DiscError

CASE = click.option("--case-number", required=True, help="案号 of the case whose evidence goes on disc.")
MEDIUM = click.option("--media", "medium", type=click.Choice(list(MEDIA)), default="dvd", show_default=True,
                      help="Disc type: CD 700 MB, DVD 4.7 GB, DVD DL 8.5 GB, BD 25 GB.")
DRIVE = click.option("--drive", required=True, metavar="DEV",
                     help="A burner (/dev/sr0) or an image file as stdio:FILE.")


@click.group("disc")
def disc_group() -> None:
    """Burn a case's evidence to optical disc with its written note (R7); verify discs."""


@disc_group.command("plan")
@CASE
@MEDIUM
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of discs.")
@click.pass_obj
def disc_plan(app: AppContext, case_number: str, medium: str, as_json: bool) -> None:
    """Show how the case's evidence fits on discs.  规划光盘。"""
    from evidence_station.disc import plan_case

    with app.reading() as station:
        app.require(station, "disc.burn")
        try:
            _clips, plans = plan_case(station, case_number, medium)
        except DiscError as err:
            raise click.ClickException(str(err)) from err
    if as_json:
        app.echo(json.dumps([{"disc": plan.number, "files": [f.key for f in plan.files],
                                "bytes": plan.size} for plan in plans], indent=1))
        return
    table = Table(title=f"{case_number} · {medium}")
    for column in ("disc", "files", "bytes"):
        table.add_column(column)
    for plan in plans:
        table.add_row(str(plan.number), ", ".join(f.key for f in plan.files), human_bytes(plan.size))
    app.console.print(table)


@disc_group.command("burn")
@CASE
@DRIVE
@MEDIUM
@click.option("--disc", "only", type=int, default=None, help="Which disc of a multi-disc case.")
@click.option("--maker", required=True, help="制作人 (disc maker).")
@click.option("--extractor", required=True, help="提取人 (who extracts the footage).")
@click.pass_obj
def disc_burn(app: AppContext, case_number: str, drive: str, medium: str, only: int | None,
              maker: str, extractor: str) -> None:
    """Burn the case's evidence: clips, written note (HTML + PDF), SHA-256 manifest,
    signed checkpoint with inclusion proofs, and the standalone verifier; then read the
    disc back and verify every file. Prints the disc label text.  刻录证据光盘。"""
    from evidence_station.disc import burn_case

    with app.writing() as station:
        actor = app.require(station, "disc.burn")
        _check_drive(app, drive)
        try:
            results = burn_case(station, case_number, drive, medium=medium, maker=maker,
                                extractor=extractor, actor=actor, only=only)
        except DiscError as err:
            raise click.ClickException(str(err)) from err
        if drive.startswith("stdio:"):
            app.hand_over(Path(drive[len("stdio:"):]))
    for result in results:
        app.say(escape(result["label"]))
        verification = result["verification"]
        if not verification["verified"]:
            for problem in verification["problems"]:
                app.err_console.print(escape(problem), highlight=False)
            raise click.exceptions.Exit(EXIT_FINDING)
        app.say(f"disc.burn #{result['seq']}: verified ({len(result['files'])} files)")


@disc_group.command("verify")
@CASE
@DRIVE
@click.pass_obj
def disc_verify(app: AppContext, case_number: str, drive: str) -> None:
    """Read a disc back: xorriso's MD5 check, then every file's SHA-256 and inclusion
    proof with the disc's own verifier. Exit 1 if anything differs.  校验光盘。"""
    from evidence_station.disc import verify_disc

    with app.reading() as station:
        app.require(station, "disc.verify")
        key = station.layout.verifier_key.read_text().strip()
    _check_drive(app, drive)
    with tempfile.TemporaryDirectory(prefix="disc-verify-") as work:
        report = verify_disc(drive, Path(work) / "readback", key)
    manifest = report.get("manifest") or {}
    if manifest and manifest.get("case_number") != case_number:
        raise click.ClickException(f"{drive} holds case {manifest.get('case_number')!r}, "
                                   f"not {case_number!r}")
    with app.writing() as station:
        event = record_own(station, app.actor(station), "disc.verify", {
            "case_number": case_number, "drive": drive, "verified": report["verified"],
            "volume_id": manifest.get("volume_id"), "problems": report["problems"][:20]})
    app.say(escape(report["output"]))
    if not report["verified"]:
        for problem in report["problems"]:
            app.err_console.print(escape(problem), highlight=False, soft_wrap=True)
        raise click.exceptions.Exit(EXIT_FINDING)
    app.say(f"disc.verify #{event.seq}: verified")


def _check_drive(app: AppContext, drive: str) -> None:
    """A burner device, or an image file in a folder the caller owns (served for another
    OS user, the daemon must not write or read files that user could not)."""
    if drive.startswith("stdio:"):
        app.output_dir(Path(drive[len("stdio:"):]).absolute().parent)
    elif not drive.startswith("/dev/sr"):
        raise click.BadParameter(f"{drive!r}: use a burner (/dev/srN) or stdio:FILE",
                                 param_hint="--drive")


def register(group: click.Group) -> None:
    group.add_command(disc_group)
