"""``case list``, ``case end N --on DATE``, ``case close N --on DATE`` (R14 case files)."""

from __future__ import annotations

import json
from datetime import date

import click

from evidence_station.case_files import case_states, state_dict
from evidence_station.cli.context import AppContext
from evidence_station.cli.tables import Col, fitted


@click.group("case")
def case_group() -> None:
    """Case files (案卷, R14): formed within 30 days after the enforcement ends.

    The end is the day of the case's last labelled recording unless a clerk records it
    (`case end`); a reminder from day 20, a flag once the last day has passed, until
    `case close` records the case file as formed.  案卷期限。"""


@case_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--open", "only_open", is_flag=True, help="Only cases whose case file is not formed.")
@click.pass_obj
def case_list(app: AppContext, as_json: bool, only_open: bool) -> None:
    """Every case number with its R14 state, end, last day and day count.  案卷列表。"""
    with app.reading() as station:
        app.require(station, "clips.all")
        states = case_states(station)
    rows = [state_dict(s) for s in states
            if not only_open or s.state not in ("formed", "formed_late")]
    if as_json:
        app.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        app.say(app.t("case.none"))
        return
    columns = [Col(app.t("case.col.case"), 12), Col(app.t("case.col.state"), 8),
               Col(app.t("case.col.ended"), 10), Col(app.t("case.col.deadline"), shrink=False),
               Col(app.t("case.col.day"), shrink=False, justify="right"),
               Col(app.t("case.col.formed"), shrink=False)]
    app.console.print(fitted(app.console, columns, [
        [row["case_number"], app.t("case.state." + row["state"]),
         (row["ended_on"] or "") + (f" ({app.t('case.end_source.' + row['end_source'])})"
                                    if row["end_source"] else ""),
         row["deadline"] or "", "" if row["day"] is None else str(row["day"]), row["formed_on"] or ""]
        for row in rows], title=app.t("case.title")))


def _date(value: str, option: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as err:
        raise click.BadParameter(f"{value!r} is not a date like 2026-12-03", param_hint=option) from err


@case_group.command("end")
@click.argument("case_number")
@click.option("--on", "on", required=True, metavar="DATE",
              help="The day the enforcement action ended (YYYY-MM-DD), as you attest it.")
@click.pass_obj
def case_end(app: AppContext, case_number: str, on: str) -> None:
    """Record the day CASE_NUMBER's enforcement ended (else its last labelled recording
    counts).  登记执法终结日。"""
    event = app.perform("case.end", {"case_number": case_number, "ended_on": _date(on, "--on")})
    with app.reading() as station:
        state = case_states(station, case_number=event.fields["case_number"])[0]
    app.say(app.t("case.ended", case=case_number, on=event.fields["ended_on"], seq=event.seq,
                  deadline=state.deadline))


@case_group.command("close")
@click.argument("case_number")
@click.option("--on", "on", required=True, metavar="DATE",
              help="The day the case file was formed (YYYY-MM-DD), as you attest it.")
@click.pass_obj
def case_close(app: AppContext, case_number: str, on: str) -> None:
    """Record CASE_NUMBER's case file (案卷) as formed (R14); on time or late is judged on
    today's station date.  登记案卷形成。"""
    event = app.perform("case.close", {"case_number": case_number, "formed_on": _date(on, "--on")})
    late = "" if event.fields["on_time"] else app.t("case.closed_late",
                                                    deadline=event.fields["deadline"],
                                                    today=event.fields["today"])
    app.say(app.t("case.closed", case=case_number, on=event.fields["formed_on"], seq=event.seq,
                  late=late))


def register(group: click.Group) -> None:
    group.add_command(case_group)
