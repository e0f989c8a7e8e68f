"""``statement parse``, ``analyze``, ``review``, ``review resolve``."""

from __future__ import annotations

import json
from datetime import date

import click

from evidence_station.case_files import review_items as case_review_items
from evidence_station.cli.context import AppContext
from evidence_station.cli.tables import SHORT_ID, Col, fitted, short_ids
from evidence_station.clock import local_today
from evidence_station.errors import EXIT_FINDING
from evidence_station.i18n import MESSAGES


@click.group("statement")
def statement_group() -> None:
    """The spoken start statement (语音说明, R2)."""


@statement_group.command("parse")
@click.argument("text")
@click.option("--on", "on", default=None, metavar="DATE",
              help="The recording's date (YYYY-MM-DD) for parts the text leaves out; default today.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object.")
@click.pass_obj
def statement_parse(app: AppContext, text: str, on: str | None, as_json: bool) -> None:
    """Print the time TEXT states, as ISO 8601. Exit 1 when it states no time.

    例：evidence-station statement parse "二〇二六年十一月三日下午两点三十分"
    """
    from evidence_station.analysis.statement import parse_statement

    try:
        day = date.fromisoformat(on) if on else local_today(app.clock, app.config.station.timezone)
    except ValueError as err:
        raise click.BadParameter(f"{on!r} is not a date like 2026-11-03", param_hint="--on") from err
    stated = parse_statement(text, day)
    if as_json:
        app.echo(json.dumps({"text": text, "on": day.isoformat(),
                               "time": stated.isoformat() if stated else None,
                               "has_date": stated.has_date if stated else None,
                               "matched": stated.matched if stated else None}, ensure_ascii=False))
    elif stated:
        app.echo(stated.isoformat())
    else:
        app.err_console.print(app.t("statement.none"), highlight=False)
    if stated is None:
        raise click.exceptions.Exit(EXIT_FINDING)


@click.command("analyze")
@click.argument("clips", nargs=-1)
@click.pass_obj
def analyze_command(app: AppContext, clips: tuple[str, ...]) -> None:
    """Analyse clips: media facts, spoken statement, drift, deadlines, interruptions.

    With no CLIP, every clip not yet analysed (the daemon does this after each docking).
    分析片段：媒体信息、语音说明、时钟偏差、存储时限、中止。"""
    from evidence_station.analysis.runner import Analyser

    with app.writing() as station:
        actor = app.require(station, "analysis.run")
        analyser = Analyser.for_station(station, actor=actor.account)
        if clips:
            for clip in clips:
                matches = station.catalog.footage.find_clip(clip)
                if len(matches) != 1:
                    raise click.BadParameter(f"{clip!r} matches {len(matches)} clips", param_hint="CLIP")
                analyser.analyse_clip(matches[0]["id"])
                for source in station.catalog.footage.sources_of(matches[0]["id"]):
                    analyser.analyse_device(source["device_id"])
            count = len(clips)
        else:
            count = analyser.analyse_pending()
        open_flags = len(station.catalog.flags.review())
    app.say(app.t("analysis.done", count=count, flags=open_flags))


@click.group("review", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--all", "include_resolved", is_flag=True, help="Include resolved flags.")
@click.pass_context
def review_group(ctx: click.Context, as_json: bool, include_resolved: bool) -> None:
    """The review queue: drift, missing statement, interruption, missing files, late
    storage — each with its clip, figures and the article it cites.  待复核队列。"""
    if ctx.invoked_subcommand is not None:
        return
    app: AppContext = ctx.obj
    with app.reading() as station:
        app.require(station, "clips.all")
        rows = station.catalog.flags.review(include_resolved=include_resolved)
        rows += case_review_items(station)  # R14: case files due or late
    if as_json:
        app.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not rows:
        app.say(app.t("review.empty"))
        return
    # one line per flag at 100 columns: short ids (any prefix resolves), the article's
    # duty code (R2) — the full article and figures are in --json
    shorts = short_ids([row["flag_id"] for row in rows if not row["flag_id"].startswith("case:")])
    columns = [Col(app.t("review.flag"), shrink=False), Col(app.t("col.id"), 8),
               Col(app.t("review.kind"), 12), Col(app.t("review.figures"), 10),
               Col(app.t("review.article"), shrink=False), Col(app.t("review.state"), 4)]
    app.console.print(fitted(app.console, columns, [
        [shorts.get(row["flag_id"], row["flag_id"]),
         (row["clip_id"] or "")[:SHORT_ID] or row.get("case_number") or app.t("col.station_flag"),
         app.t(f"flag.{row['kind']}") if f"flag.{row['kind']}" in MESSAGES else row["kind"],
         ", ".join(f"{k}={v}" for k, v in row["figures"].items() if v not in (None, "")),
         (row["article"] or "").split(" ", 1)[0], row["state"]] for row in rows],
        title=app.t("review.title")))


@review_group.command("resolve")
@click.argument("flag_id")
@click.option("--resolution", required=True, help="What was found or done (事由/处理结果).")
@click.pass_obj
def review_resolve(app: AppContext, flag_id: str, resolution: str) -> None:
    """Resolve FLAG_ID with a written resolution (a ledger event with actor and time)."""
    event = app.perform("review.resolve", {"flag_id": flag_id, "resolution": resolution})
    app.say(f"review.resolve #{event.seq}: {flag_id}")


def register(group: click.Group) -> None:
    group.add_command(statement_group)
    group.add_command(analyze_command)
    group.add_command(review_group)
