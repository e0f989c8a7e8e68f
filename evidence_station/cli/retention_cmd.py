"""``retention sweep``, ``hold``, ``delete``."""

from __future__ import annotations

import json
from datetime import datetime

import click
from rich.markup import escape
from rich.table import Table

from evidence_station.casework.service import expired_now, submit
from evidence_station.cli.context import AppContext
from evidence_station.station import default_actor


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
@click.option("--now", "now", default=None, metavar="T", help="Judge as of this date/time (default: now).")
@click.option("--dry-run", is_flag=True, help="List only; record nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array: id, sha256, class, rule.")
@click.option("--actor", default=None, help="Who runs the sweep (default: the OS user).")
@click.pass_obj
def sweep_command(app: AppContext, now: str | None, dry_run: bool, as_json: bool,
                  actor: str | None) -> None:
    """List clips whose retention is over (not held). Without --dry-run the list is
    recorded as a `retention.sweep` ledger event. Deleting them needs `delete`.

    列出已过保存期的片段（不删除）。"""
    when = _now(now)
    with app.open_station() as station:
        expired = expired_now(station, when)
    if not dry_run:
        fields = {"now": when.isoformat()} if when else {}
        submit(app.data_dir, app.config, "retention.sweep", actor or default_actor(), fields)
    if as_json:
        click.echo(json.dumps(expired, ensure_ascii=False, indent=1))
        return
    table = Table(title=app.t("retention.expired", count=len(expired)))
    for column in ("id", "class", "expired_on", "rule"):
        table.add_column(column, overflow="fold")
    for item in expired:
        table.add_row(item["id"], item["class"], item["expired_on"] or "", escape(item["rule"]))
    app.console.print(table)


@click.command("hold")
@click.argument("clips", nargs=-1, required=True)
@click.option("--reason", required=True, help="Why (e.g. litigation, complaint under review).")
@click.option("--release", is_flag=True, help="Release the hold instead of placing it.")
@click.option("--actor", default=None, help="Who (default: the OS user).")
@click.pass_obj
def hold_command(app: AppContext, clips: tuple[str, ...], reason: str, release: bool,
                 actor: str | None) -> None:
    """Place (or --release) a legal hold: held clips never expire.  诉讼保全/冻结。"""
    kind = "hold.release" if release else "hold.place"
    seq = submit(app.data_dir, app.config, kind, actor or default_actor(),
                 {"clip_ids": list(clips), "reason": reason})
    app.say(f"{kind} #{seq}: {', '.join(clips)}")


@click.command("delete")
@click.argument("clips", nargs=-1, required=True)
@click.option("--request", "request", is_flag=True, help="Ask for deletion (with --reason).")
@click.option("--approve", is_flag=True, help="Approve a request made by someone else; deletes.")
@click.option("--reason", default=None, help="Why (required with --request).")
@click.option("--now", "now", default=None, metavar="T", help="Judge as of this date/time.")
@click.option("--actor", default=None, help="Who requests or approves (default: the OS user).")
@click.pass_obj
def delete_command(app: AppContext, clips: tuple[str, ...], request: bool, approve: bool,
                   reason: str | None, now: str | None, actor: str | None) -> None:
    """Delete expired footage: one person requests, another approves (R11). The file is
    removed; a tombstone event keeps its hash in the ledger forever. Footage inside its
    retention period, held, or evidence cannot be deleted by any command.

    删除过期片段：一人申请、另一人审批；账本永久保留其哈希。"""
    if request == approve:
        raise click.UsageError("say --request or --approve")
    when = _now(now)
    who = actor or default_actor()
    extra = {"now": when.isoformat()} if when else {}
    if request:
        seq = submit(app.data_dir, app.config, "deletion.request", who,
                     {"clip_ids": list(clips), "reason": reason, **extra})
        app.say(f"deletion.request #{seq}: {', '.join(clips)}")
        return
    for clip in clips:
        seq = submit(app.data_dir, app.config, "deletion", who, {"clip_id": clip, **extra})
        app.say(f"deletion #{seq}: {clip}")


def register(group: click.Group) -> None:
    for command in (retention_group, hold_command, delete_command):
        group.add_command(command)
