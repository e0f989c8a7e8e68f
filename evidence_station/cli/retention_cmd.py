"""``retention sweep``, ``hold``, ``delete``."""

from __future__ import annotations

import json
from datetime import datetime

import click

from evidence_station.casework.retention import as_of
from evidence_station.casework.service import expired_now
from evidence_station.cli.context import AppContext
from evidence_station.cli.tables import Col, fitted


def _now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as err:
        raise click.BadParameter(f"{value!r} is not a date or time like 2027-06-01",
                                 param_hint="--now") from err


@click.group("retention")
def retention_group() -> None:
    """Retention (R6, R9, R11): what has expired; nothing is deleted without approval."""


@retention_group.command("sweep")
@click.option("--now", "now", default=None, metavar="T",
              help="With --dry-run only: list as of this date/time (default: the station's clock).")
@click.option("--dry-run", is_flag=True, help="List only; record nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array: id, sha256, class, rule.")
@click.pass_obj
def sweep_command(app: AppContext, now: str | None, dry_run: bool, as_json: bool) -> None:
    """List clips whose retention is over (not held), judged on the station's clock.
    Without --dry-run the list is recorded as a `retention.sweep` ledger event. Deleting
    them needs `delete`. `--now` only sets the "as of" of a dry-run listing: a write never
    takes a caller's clock.

    列出已过保存期的片段（不删除）。"""
    when = _now(now)
    if when is not None and not dry_run:
        raise click.UsageError("--now only goes with --dry-run: the station's clock decides what "
                               "is recorded")
    if dry_run:
        with app.reading() as station:
            app.require(station, "retention.view")
            expired = expired_now(station, as_of(app.config, when) if when else None)
    else:
        expired = app.perform("retention.sweep", {}).fields["expired"]
    if as_json:
        app.echo(json.dumps(expired, ensure_ascii=False, indent=1))
        return
    columns = [Col("id", shrink=False), Col("class", 7), Col("expired_on", shrink=False), Col("rule", 12)]
    app.console.print(fitted(app.console, columns, [
        [item["id"], item["class"], item["expired_on"] or "", item["rule"]] for item in expired],
        title=app.t("retention.expired", count=len(expired))))


@click.command("hold")
@click.argument("clips", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why (e.g. litigation, complaint under review).")
@click.option("--release", is_flag=True, help="Release the hold instead of placing it.")
@click.pass_obj
def hold_command(app: AppContext, clips: tuple[str, ...], reason: str, release: bool) -> None:
    """Place (or --release) a legal hold: held clips never expire.  诉讼保全/冻结。"""
    kind = "hold.release" if release else "hold.place"
    seq = app.perform(kind, {"clip_ids": list(clips), "reason": reason}).seq
    app.say(f"{kind} #{seq}: {', '.join(clips)}")


@click.command("delete")
@click.argument("clips", nargs=-1, required=True)
@click.option("--request", "request", is_flag=True, help="Ask for deletion (with --reason).")
@click.option("--approve", is_flag=True,
              help="Approve a request made by another account (admins only); deletes.")
@click.option("--reason", default=None, help="Why (required with --request).")
@click.pass_obj
def delete_command(app: AppContext, clips: tuple[str, ...], request: bool, approve: bool,
                   reason: str | None) -> None:
    """Delete expired footage: one account requests, a different admin account approves
    (R11), each as themselves. Retention is judged on the station's clock, from the later
    of the recorded and the ingested time. The file is removed; a tombstone event keeps its
    hash in the ledger forever. Footage inside its retention period, held, evidence, or
    with an unresolved time flag cannot be deleted by any command.

    删除过期片段：一人申请、另一名管理员审批；账本永久保留其哈希。"""
    if request == approve:
        raise click.UsageError("say --request or --approve")
    if request:
        seq = app.perform("deletion.request", {"clip_ids": list(clips), "reason": reason}).seq
        app.say(f"deletion.request #{seq}: {', '.join(clips)}")
        return
    for clip in clips:
        seq = app.perform("deletion", {"clip_id": clip}).seq
        app.say(f"deletion #{seq}: {clip}")


def register(group: click.Group) -> None:
    for command in (retention_group, hold_command, delete_command):
        group.add_command(command)
