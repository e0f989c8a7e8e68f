"""``scrub run`` and ``scrub status`` (F34): one whole pass now, and what the last found."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from evidence_station.casework import service
from evidence_station.cli.context import AppContext
from evidence_station.errors import EXIT_FINDING, NotAuthorisedError
from evidence_station.i18n import human_bytes
from evidence_station.identity import Actor
from evidence_station.scrub import Interrupted, PassResult, parse_duration, run_idle, status
from evidence_station.scrub import Progress as ScrubProgress
from evidence_station.station import Station


def _allowed(app: AppContext, station: Station) -> Actor:
    """Auditors verify the station (``ledger.verify``); admins look after it and see its
    alarms on the admin page (``settings.view``): either may scrub and read the result."""
    actor = app.actor(station)
    try:
        service.authorise(actor, "ledger.verify")
    except NotAuthorisedError:
        service.authorise(actor, "settings.view")
    return actor


class _RichProgress(ScrubProgress):
    """A bar with bytes and speed on a terminal (never in JSON or served output)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("scrub", total=1)

    def begin(self, objects: int, total_bytes: int) -> None:
        self.progress.update(self.task, total=total_bytes or 1)

    def advance(self, count: int) -> None:
        self.progress.advance(self.task, count)


@click.group("scrub")
def scrub_group() -> None:
    """Re-hash every stored original and re-verify the ledger. 完整性巡检。"""


@scrub_group.command("run")
@click.option("--json", "as_json", is_flag=True, help="Print the pass as JSON.")
@click.pass_obj
def run_command(app: AppContext, as_json: bool) -> None:
    """One whole pass now (through the daemon when it runs): re-hash every stored file,
    re-verify the hash chain, the Merkle tree and the latest checkpoint. A mismatch is an
    integrity alarm (ledger event, review flag, journald crit), never a repair. Exit 1 if
    the pass found a mismatch. 立即执行一次完整巡检；发现不一致时退出码为 1。
    """
    with app.writing() as station:
        actor = _allowed(app, station)
        show = app.console.is_terminal and not as_json
        with Progress(BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      console=app.err_console, transient=True, disable=not show) as bar:
            try:
                result = run_idle(station, actor, trigger="command",
                                  max_read_mb_s=station.config.scrub.max_read_mb_s,
                                  progress=_RichProgress(bar))
            except Interrupted:
                raise click.ClickException(app.t("scrub.interrupted")) from None
    if as_json:
        app.echo(json.dumps(_result_json(result), ensure_ascii=False, indent=1))
    else:
        _print_result(app, result)
    if not result.ok:
        raise click.exceptions.Exit(EXIT_FINDING)


def _result_json(result: PassResult) -> dict[str, Any]:
    return {"ok": result.ok, "pass_id": result.pass_id, "seq": result.seq,
            "started_at": result.started_at.isoformat(),
            "ended_at": result.ended_at.isoformat() if result.ended_at else None,
            "events": result.events, "objects": result.objects, "bytes": result.bytes,
            "expected_objects": result.expected_objects, "expected_bytes": result.expected_bytes,
            "coverage": result.coverage, "alarms": result.alarms,
            "mismatches": [{"clip_id": m.clip_id, "sha256": m.sha256, "found": m.what,
                            "detail": m.detail, "path": m.path, "event_seq": m.seq}
                           for m in result.mismatches]}


def _print_result(app: AppContext, result: PassResult) -> None:
    summary = app.t("scrub.summary", objects=result.objects, expected=result.expected_objects,
                    bytes=human_bytes(result.bytes), coverage=f"{result.coverage:.1f}",
                    events=result.events)
    if result.ok:
        app.console.print(f"[bold green]✔ {escape(app.t('scrub.clean'))}[/bold green] "
                          f"{escape(summary)}", highlight=False, soft_wrap=True)
        return
    app.console.print(f"[bold red]✘ {escape(app.t('scrub.alarm', count=len(result.mismatches)))}"
                      f"[/bold red] {escape(summary)}", highlight=False, soft_wrap=True)
    _mismatch_table(app, [{"clip_id": m.clip_id, "sha256": m.sha256, "found": m.what,
                           "detail": m.detail, "path": m.path} for m in result.mismatches])
    app.say(app.t("scrub.never_repaired"))


def _mismatch_table(app: AppContext, rows: list[dict[str, Any]]) -> None:
    table = Table(show_lines=False)
    for key in ("col.id", "col.sha256", "scrub.found", "scrub.detail"):
        table.add_column(app.t(key), overflow="fold")
    for row in rows:
        table.add_row(escape(row.get("clip_id") or "—"), escape(row.get("sha256") or
                                                              row.get("path") or "—"),
                      escape(app.t(f"flag.integrity_{row['found']}")), escape(row["detail"]))
    app.console.print(table)


@scrub_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def status_command(app: AppContext, as_json: bool) -> None:
    """The last complete pass (start, end, objects, bytes, coverage), the next one due, and
    every mismatch it found. 最近一次完整巡检、下次巡检时间及全部不一致项。
    """
    with app.reading() as station:
        _allowed(app, station)
        report = status(station, parse_duration(station.config.scrub.every))
    if as_json:
        app.echo(json.dumps(report, ensure_ascii=False, indent=1))
        return
    last = report["last_pass"]
    if last is None:
        app.say(app.t("scrub.never"))
    else:
        app.say(app.t("scrub.last", start=last["started_at"], end=last["ended_at"],
                      actor=last["actor"], seq=last["seq"]))
        app.say(app.t("scrub.summary", objects=last["objects"], expected=last["expected_objects"],
                      bytes=human_bytes(int(last["bytes"])), coverage=f"{last['coverage']:.1f}",
                      events=last["events"]))
    app.say(app.t("scrub.next", when=report["next_due"] or app.t("scrub.next_start")))
    if report["mismatches"]:
        app.console.print(f"[bold red]{escape(app.t('scrub.alarm', count=len(report['mismatches'])))}"
                          "[/bold red]", highlight=False)
        _mismatch_table(app, report["mismatches"])
    elif last is not None:
        app.console.print(f"[green]{escape(app.t('scrub.clean'))}[/green]", highlight=False)
    if report["open_alarms"]:
        app.say(app.t("scrub.open_alarms", count=len(report["open_alarms"])))


def register(group: click.Group) -> None:
    group.add_command(scrub_group)
