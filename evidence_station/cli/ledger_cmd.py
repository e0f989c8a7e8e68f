"""``ledger export``, ``ledger checkpoint``, ``ledger recover``."""

from __future__ import annotations

from pathlib import Path

import click

from evidence_station.cli.context import AppContext
from evidence_station.export import export_bundle


@click.group("ledger")
def ledger_group() -> None:
    """The append-only, signed ledger. 账本。"""


@ledger_group.command("export")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="New bundle folder.")
@click.option("--clip", "clips", multiple=True, help="Add this clip's file and proof (repeatable).")
@click.pass_obj
def export_command(app: AppContext, out: Path, clips: tuple[str, ...]) -> None:
    """Write an export bundle for `evidence-station-verify`. 导出审计包。"""
    with app.writing() as station:
        actor = app.require(station, "ledger.export")
        if not (out.exists() and any(out.iterdir())):
            app.output_dir(out)
        result = export_bundle(station, out, list(clips), actor=actor)
        app.hand_over(out)
    app.say(app.t("export.done", out=result.out, events=result.events,
                            proofs=result.proofs, files=result.files))


@ledger_group.command("checkpoint")
@click.pass_obj
def checkpoint_command(app: AppContext) -> None:
    """Issue a signed checkpoint of the current ledger and print it. 签发检查点。"""
    with app.writing() as station:
        app.require(station, "ledger.checkpoint")
        checkpoint, note = station.issue_checkpoint()
        note = station.best_note(checkpoint, note)
    app.say(app.t("checkpoint.done", size=checkpoint.size, root=checkpoint.root.hex()))
    app.echo(note, nl=False)


@ledger_group.command("witness")
@click.option("--json", "as_json", is_flag=True, help="Print the outcomes as a JSON array.")
@click.pass_obj
def witness_command(app: AppContext, as_json: bool) -> None:
    """Ask every [witness] to cosign the latest checkpoint now; exit 1 if one refused or
    is unreachable. 立即请证人联署最新检查点。"""
    import json

    from evidence_station.witness.client import ask_witnesses

    with app.writing() as station:
        app.require(station, "ledger.checkpoint")
        outcomes = ask_witnesses(station, force=True)
    if as_json:
        app.echo(json.dumps([o.as_dict() for o in outcomes], ensure_ascii=False))
    else:
        if not outcomes:
            app.say(app.t("witness.none"))
        for outcome in outcomes:
            app.say(app.t(f"witness.{outcome.result}", witness=outcome.witness, url=outcome.url,
                          size=outcome.size, detail=outcome.detail))
    if any(o.result != "cosigned" for o in outcomes):
        raise click.exceptions.Exit(1)


@ledger_group.command("recover")
@click.pass_obj
def recover_command(app: AppContext) -> None:
    """Recover from a torn ledger tail after a crash: keep every complete event, move
    the broken bytes to a quarantine file, record the recovery as an event.
    崩溃后恢复账本尾部。"""
    with app.writing(recover=True) as station:
        app.require(station, "catalog.rebuild")
        station.recover_ledger()  # the daemon's writer, stopped on a torn tail (issue 22)
        last = station.ledger.event(station.ledger.size - 1)
    if last.type == "ledger.recovered":
        app.say(app.t("recover.done", kept=last.fields["complete_events_kept"],
                                quarantine=last.fields["quarantine_file"]))
    else:
        app.say(app.t("recover.none"))


def register(group: click.Group) -> None:
    group.add_command(ledger_group)
