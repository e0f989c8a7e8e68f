"""``report retention``, ``report compliance``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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
@click.pass_obj
def report_command(app: AppContext, kind: str, clips: tuple[str, ...], out: Path | None,
                   now: str | None, case_number: str | None, formats: tuple[str, ...],
                   no_verify_data: bool) -> None:
    """Admin reports with plots (R15), HTML and PDF, each with the current signed checkpoint.

    retention: what expires when, holds, deletion requests, deletions and their approvers.
    compliance: late storage, missing statements, drift, interruptions, access register.
    custody CLIP… | --case-number N: every ledger event touching the clips, each proven
    against the signed checkpoint (clerks, auditors, admins; the reading is recorded).
    报告：保存期限 / 合规 / 证据保管链。"""
    from evidence_station.report import write_report

    if kind == "custody" or clips or case_number or formats or no_verify_data:
        custody_report(app, kind, clips, out, now, case_number=case_number, formats=formats,
                       no_verify_data=no_verify_data)
        return

    when = datetime.fromisoformat(now) if now else None
    with app.writing() as station:
        actor = app.require(station, "reports")
        target = out or Path(f"report-{kind}-{station.clock.now():%Y%m%d-%H%M%S}")
        app.output_dir(target.absolute().parent)
        try:
            html, pdf = write_report(station, kind, target, when)
        except PdfError as err:
            raise click.ClickException(str(err)) from err
        app.hand_over(html, pdf)
        record_own(station, actor, "report", {"kind": kind, "file": str(pdf),
                                              "as_of": when.isoformat() if when else None})
    app.say(f"{html}\n{pdf}")


def register(group: click.Group) -> None:
    group.add_command(report_command)
