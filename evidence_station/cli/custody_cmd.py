"""``report custody CLIP… | --case-number N [--out FILE] [--format html|pdf|csv]``.

The reading is a change worth recording (who read which clips' history): it goes
through the one door as a ``report`` event first, then a checkpoint is issued (and
cosigned by the witnesses when they answer) so every event of the report, this reading
included, is proven against it. A proof that fails is a finding: the report is still
written, with the failure on its first lines, and the command exits 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from evidence_station.casework import service
from evidence_station.cli.context import AppContext
from evidence_station.custody import make_report, select_clips
from evidence_station.custody_render import FORMATS, write_custody
from evidence_station.errors import EXIT_FINDING
from evidence_station.pdf import PdfError

F = TypeVar("F", bound=Callable[..., Any])


def custody_options(command: F) -> F:
    """The options only ``report custody`` takes."""
    for option in reversed((
        click.option("--case-number", default=None, metavar="N",
                     help="custody: every clip ever labelled with this case number (案号)."),
        click.option("--format", "formats", type=click.Choice(FORMATS), multiple=True,
                     help="custody: html, pdf and/or csv (repeatable; default html and pdf)."),
        click.option("--no-verify-data", is_flag=True,
                     help="custody: do not re-hash the stored files (the proofs are still "
                     "checked)."),
    )):
        command = option(command)
    return command


def custody_report(app: AppContext, kind: str, clips: tuple[str, ...], out: Path | None,
                   now: str | None, *, case_number: str | None, formats: tuple[str, ...],
                   no_verify_data: bool) -> None:
    if kind != "custody":
        raise click.UsageError("CLIP arguments, --case-number, --format and --no-verify-data "
                               "are for `report custody`")
    if now is not None:
        raise click.UsageError("a custody report is always as of now: it proves the events "
                               "against the latest checkpoint")
    chosen = formats or ("html", "pdf")
    with app.writing() as station:
        actor = app.actor(station)
        service.authorise(actor, "custody")
        # refuse a bad selection before anything is recorded
        selected = select_clips(station, clips, case_number)
        target = out or Path(f"custody-{station.clock.now():%Y%m%d-%H%M%S}")
        app.output_dir(target.absolute().parent)
        event = service.perform(station, actor, "report", {
            "kind": "custody", "clip_ids": [] if case_number else [c["id"] for c in selected],
            "case_number": case_number, "formats": list(chosen),
            "file": str(target.absolute())}, request_id=app.request_id)
        checkpoint, note = station.issue_checkpoint()
        report = make_report(station, selected, note=station.best_note(checkpoint, note),
                             made_by=f"{actor.account} ({actor.role})", case_number=case_number,
                             report_seq=event.seq, verify_data=not no_verify_data)
        try:
            written = write_custody(report, target, chosen, app.lang)
        except PdfError as err:
            raise click.ClickException(str(err)) from err
        app.hand_over(*written)
    app.say("\n".join(str(path) for path in written))
    summary = (f"{len(report.entries)} events, {report.verified_count} proven against checkpoint "
               f"{report.checkpoint_size}" + (f", cosigned by {', '.join(report.witnesses)}"
                                              if report.witnesses else ""))
    if app.lang == "zh":
        summary = (f"{len(report.entries)} 个事件，{report.verified_count} 个已对检查点 "
                   f"{report.checkpoint_size} 验证" + (f"，证人联署：{'、'.join(report.witnesses)}"
                                                     if report.witnesses else ""))
    app.err_console.print(summary, highlight=False, soft_wrap=True)
    if not report.ok:
        for finding in report.findings:
            app.err_console.print(f"[bold red]✗[/bold red] {finding}", highlight=False, soft_wrap=True)
        raise click.exceptions.Exit(EXIT_FINDING)
