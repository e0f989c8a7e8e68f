"""``check [--verify-data]`` and ``catalog rebuild``."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from evidence_station.check import check_station, rebuild_catalog
from evidence_station.cli.context import AppContext
from evidence_station.errors import EXIT_FINDING


@click.command("check")
@click.option("--verify-data", is_flag=True, help="Also re-read and re-hash every stored file.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.pass_obj
def check_command(app: AppContext, verify_data: bool, as_json: bool) -> None:
    """Compare ledger, store and catalog (read-only; repairs nothing).

    Proves: the hash chain is intact, the Merkle root matches the signed checkpoint,
    every ingested file is in the store read-only with the right size (and, with
    --verify-data, the right SHA-256), and the catalog equals the ledger's projection.
    Exit 1 on any finding. 对账：账本、存储与目录。
    """
    with app.reading() as station:
        app.require(station, "ledger.verify")
        total = sum(p.stat().st_size for p in station.store.iter_objects()) if verify_data else 0
        with Progress(BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=app.err_console, transient=True,
                      disable=not verify_data) as progress:
            task = progress.add_task("verify", total=total or 1)
            report = check_station(station, verify_data=verify_data,
                                   progress=lambda n: progress.advance(task, n))
    if as_json:
        app.echo(json.dumps({
            "ok": report.ok, "events": report.events, "objects": report.objects,
            "verified_data": report.verified_data, "notes": report.notes,
            "findings": [{"area": f.area, "reason": f.reason, "seq": f.seq, "file": f.file}
                         for f in report.findings]}, ensure_ascii=False, indent=1))
    else:
        for note in report.notes:
            app.console.print(f"[dim]· {escape(note)}[/dim]", highlight=False)
        if report.ok:
            what = app.t("check.proves", events=report.events, objects=report.objects,
                         data=app.t("check.data" if verify_data else "check.nodata"))
            app.console.print(f"[bold green]✔ {app.t('check.ok', what=what)}[/bold green]",
                              highlight=False)
        else:
            app.console.print(f"[bold red]✘ {app.t('check.failed', count=len(report.findings))}"
                              "[/bold red]")
            for finding in report.findings:
                app.console.print(f"  {escape(str(finding))}", highlight=False)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_FINDING)


@click.group("catalog")
def catalog_group() -> None:
    """The catalog (SQLite), a projection of the ledger. 目录库。"""


@catalog_group.command("rebuild")
@click.pass_obj
def rebuild_command(app: AppContext) -> None:
    """Throw the catalog away and rebuild it from the ledger. 由账本重建目录库。"""
    with app.writing() as station:
        app.require(station, "catalog.rebuild")
        counts = rebuild_catalog(station)
    app.say(app.t("rebuild.done", clips=counts["clips"], sources=counts["sources"]))


def register(group: click.Group) -> None:
    group.add_command(check_command)
    group.add_command(catalog_group)
