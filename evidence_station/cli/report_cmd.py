"""``report retention``, ``report compliance``, ``report custody``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from evidence_station.casework.service import record_own
from evidence_station.cli.context import AppContext
from evidence_station.cli.custody_cmd import custody_options, custody_report
from evidence_station.pdf import PdfError


@click.command("report")
@click.argument("kind", type=click.Choice(["retention", "compliance", "custody"]))
@click.argument("clips", nargs=-1)
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write (FILE.html and FILE.pdf); default report-KIND-DATE in the "
              "current folder.")
@custody_options
@click.option("--now", "now", default=None, metavar="T",
              help="The report's \"as of\" date (default: the station's clock). The event that "
              "records the report has the station's time.")
@click.option("--from", "start", default=None, metavar="DATE",
              help="compliance: first day of the period (default: 30 days before --to).")
@click.option("--to", "end", default=None, metavar="DATE",
              help="compliance: last day of the period, inclusive (default: the as-of date).")
@click.option("--unlabelled-days", type=int, default=7, show_default=True,
              help="compliance (R5): a clip stored longer than this without labels is late.")
@click.option("--idle-days", type=int, default=30, show_default=True,
              help="compliance (R16): a device not docked for this long is listed.")
@click.option("--card-full-pct", type=int, default=90, show_default=True,
              help="compliance (R16): a card fuller than this at its last docking is listed.")
@click.pass_obj
def report_command(app: AppContext, kind: str, clips: tuple[str, ...], out: Path | None,
                   now: str | None, case_number: str | None, formats: tuple[str, ...],
                   no_verify_data: bool, start: str | None, end: str | None,
                   unlabelled_days: int, idle_days: int, card_full_pct: int) -> None:
    """Admin reports with plots (R15), HTML and PDF, each with the current signed checkpoint.

    retention: what expires when, holds, deletion requests, deletions and their approvers.
    compliance (R15): for --from/--to, per officer, device and unit, every duty R1–R16
    the station can show, each figure linked to its clips; HTML, PDF and CSV.
    custody CLIP… | --case-number N: every ledger event touching the clips, each proven
    against the signed checkpoint (clerks, auditors, admins; the reading is recorded).
    报告：保存期限 / 合规 / 证据保管链。"""
    if kind == "custody" or clips or case_number or formats or no_verify_data:
        custody_report(app, kind, clips, out, now, case_number=case_number, formats=formats,
                       no_verify_data=no_verify_data)
        return

    from evidence_station.compliance import ComplianceError, Options
    from evidence_station.compliance_report import period
    from evidence_station.report import write_compliance, write_report

    try:
        when = datetime.fromisoformat(now) if now else None
    except ValueError as err:
        raise click.UsageError(f"--now: {err}") from err
    scope: dict[str, str] = {}
    options: Options | None = None
    if kind == "compliance":  # checked before anything is opened or written
        zone = ZoneInfo(app.config.station.timezone)
        as_of = (when.replace(tzinfo=when.tzinfo or zone) if when else app.clock.now()).astimezone(zone)
        try:
            first, last = period(start, end, as_of.date())
            options = Options(first, last, as_of, zone, unlabelled_days, idle_days, card_full_pct)
        except (ValueError, ComplianceError) as err:
            raise click.UsageError(f"report compliance: {err}") from err
        scope = {"from": str(first), "to": str(last)}
    with app.writing() as station:
        actor = app.require(station, "reports")
        target = out or Path(f"report-{kind}-{station.clock.now():%Y%m%d-%H%M%S}")
        app.output_dir(target.absolute().parent)
        if options is not None:  # R14: judged by the case-file rule, as of the report's date
            from dataclasses import replace

            from evidence_station.case_files import late_cases

            options = replace(options, late_cases=late_cases(station, options.as_of.date()))
        try:
            paths = list(write_compliance(station, target, options, app.lang) if options
                         else write_report(station, kind, target, when))
        except PdfError as err:
            raise click.ClickException(str(err)) from err
        app.hand_over(*paths)
        pdf = next(path for path in paths if path.suffix == ".pdf")
        record_own(station, actor, "report", {"kind": kind, "file": str(pdf),
                                              "as_of": when.isoformat() if when else None,
                                              **scope})
    app.say("\n".join(str(path) for path in paths))


def register(group: click.Group) -> None:
    group.add_command(report_command)
