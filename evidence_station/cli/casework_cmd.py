"""``label``, ``evidence``, ``access view/copy``, ``user add/list/role/passwd``."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from datetime import datetime
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from evidence_station.casework.rules import CATEGORIES, ROLES, CaseworkError
from evidence_station.casework.service import submit
from evidence_station.cli.context import AppContext
from evidence_station.station import default_actor
from hashing.durable import write_file_durably
from hashing.stream import hash_file_from_disk

ACTOR = click.option("--actor", default=None, help="Who acts (default: the OS user); recorded in the ledger.")


def _select_clips(app: AppContext, clips: tuple[str, ...], session: str | None, device: str | None,
                  officer: str | None, time_from: str | None, time_to: str | None) -> list[str]:
    """Clips by id, or by docking session / device / officer / recorded time range."""
    with app.open_station() as station:
        if clips:
            chosen = []
            for clip in clips:
                matches = station.catalog.find_clip(clip)
                if len(matches) != 1:
                    raise CaseworkError(f"{clip!r} matches {len(matches)} clips; give more of the id")
                chosen.append(matches[0]["id"])
            return chosen
        if not any((session, device, officer, time_from, time_to)):
            raise CaseworkError("name clips, or choose them with --session, --device-id, "
                                "--officer-id, --from/--to")
        rows = station.catalog.clips(device_id=device, session_id=session)
    chosen = []
    for row in rows:
        if officer and row["officer_id"] != officer:
            continue
        recorded = row["recorded_at"] or ""
        if (time_from and recorded < time_from) or (time_to and recorded > time_to):
            continue
        chosen.append(row["id"])
    if not chosen:
        raise CaseworkError("no clips match that selection")
    return chosen


@click.command("label")
@click.argument("clips", nargs=-1)
@click.option("--case-number", required=True, help="案号")
@click.option("--party", required=True, help="当事人")
@click.option("--handler", required=True, help="承办人")
@click.option("--reporter", default=None, help="举报人 (masked for roles that may not see it, R12)")
@click.option("--complainant", default=None, help="投诉人 (masked for roles that may not see it, R12)")
@click.option("--category", type=click.Choice(CATEGORIES), default=None,
              help="What it is about; dispute/complaint/obstruction/assault/mass_incident/emergency "
              "are preserved long-term (R9).")
@click.option("--session", default=None, help="Every clip of this docking session.")
@click.option("--device-id", default=None, help="Every clip of this camera (with the other filters).")
@click.option("--officer-id", default=None, help="Every clip of this officer (with the other filters).")
@click.option("--from", "time_from", default=None, help="Recorded at or after (ISO time).")
@click.option("--to", "time_to", default=None, help="Recorded at or before (ISO time).")
@ACTOR
@click.pass_obj
def label_command(app: AppContext, clips: tuple[str, ...], case_number: str, party: str, handler: str,
                  reporter: str | None, complainant: str | None, category: str | None,
                  session: str | None,
                  device_id: str | None, officer_id: str | None, time_from: str | None,
                  time_to: str | None, actor: str | None) -> None:
    """Label clips with case number, party and handler (R5); one ledger event per change.

    为片段标注案号、当事人、承办人。"""
    chosen = _select_clips(app, clips, session, device_id, officer_id, time_from, time_to)
    seq = submit(app.data_dir, app.config, "label", actor or default_actor(), {
        "clip_ids": chosen, "case_number": case_number, "party": party, "handler": handler,
        "reporter": reporter, "complainant": complainant, "category": category})
    app.say(app.t("casework.labelled", count=len(chosen), seq=seq))


@click.command("evidence")
@click.argument("clips", nargs=-1, required=True)
@click.option("--collector", required=True, help="取证人员")
@click.option("--collected-at", required=True, help="取证时间 (ISO time)")
@click.option("--location", required=True, help="取证地点")
@click.option("--fact-to-prove", required=True, help="证明对象")
@click.option("--transcript-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Written transcript (R8: required for audio-only evidence "
              "unless the analysis transcribed it).")
@ACTOR
@click.pass_obj
def evidence_command(app: AppContext, clips: tuple[str, ...], collector: str, collected_at: str,
                     location: str, fact_to_prove: str, transcript_file: Path | None,
                     actor: str | None) -> None:
    """Designate CLIPs as evidence (R7) with the written note; one ledger event each.

    指定证据。"""
    transcript = transcript_file.read_text(encoding="utf-8") if transcript_file else None
    for clip_id in _select_clips(app, clips, None, None, None, None, None):
        fields = {"clip_id": clip_id, "collector": collector, "collected_at": collected_at,
                  "location": location, "fact_to_prove": fact_to_prove}
        if transcript is not None:
            fields["transcript"] = transcript
        seq = submit(app.data_dir, app.config, "evidence.designate", actor or default_actor(), fields)
        app.say(app.t("casework.designated", clip=clip_id, seq=seq))


@click.group("access")
def access_group() -> None:
    """The access register (R10): every viewing and copy, with approver and reason."""


@access_group.command("view")
@click.argument("clip")
@click.option("--viewer", required=True, help="调阅人")
@click.option("--approver", required=True, help="审批人")
@click.option("--reason", required=True, help="事由")
@click.option("--outside", is_flag=True, help="Release outside the unit (needs an admin approver, R12).")
@ACTOR
@click.pass_obj
def access_view(app: AppContext, clip: str, viewer: str, approver: str, reason: str, outside: bool,
                actor: str | None) -> None:
    """Register a viewing of CLIP.  登记调阅。"""
    clip_id = _select_clips(app, (clip,), None, None, None, None, None)[0]
    seq = submit(app.data_dir, app.config, "access.view", actor or default_actor(), {
        "clip_id": clip_id, "viewer": viewer, "approver": approver, "reason": reason,
        "outside": outside})
    app.say(app.t("casework.access", kind="view", clip=clip_id, seq=seq))


@access_group.command("copy")
@click.argument("clip")
@click.option("--copier", required=True, help="复制人")
@click.option("--approver", required=True, help="审批人")
@click.option("--reason", required=True, help="事由")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the copy, its SHA-256 manifest and inclusion proof.")
@click.option("--outside", is_flag=True, help="Release outside the unit (needs an admin approver, R12).")
@ACTOR
@click.pass_obj
def access_copy(app: AppContext, clip: str, copier: str, approver: str, reason: str, out_dir: Path,
                outside: bool, actor: str | None) -> None:
    """Copy CLIP out with a SHA-256 manifest and an inclusion proof, and register it.

    复制并登记；副本附带 SHA-256 清单和包含证明。"""
    clip_id = _select_clips(app, (clip,), None, None, None, None, None)[0]
    with app.open_station() as station:
        row = station.catalog.find_clip(clip_id)[0]
        source = station.store.path_for(row["sha256"])
        latest = station.latest_checkpoint()
        if latest is None or row["ledger_seq"] >= latest[0].size:
            raise CaseworkError("no checkpoint covers this clip yet; run `ledger checkpoint`")
        checkpoint, note = latest
        proof = {"seq": row["ledger_seq"], "tree_size": checkpoint.size,
                 "hashes": [h.hex() for h in station.ledger.inclusion_proof(row["ledger_seq"],
                                                                             checkpoint.size)]}
        event_line = station.ledger.event(row["ledger_seq"]).data.decode("utf-8")
        vkey = station.layout.verifier_key.read_text()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{row['sha256']}{Path(row['source_path']).suffix.lower()}"
    shutil.copyfile(source, target)
    with target.open("rb") as written:
        os.fsync(written.fileno())
    digest = hash_file_from_disk(target).sha256  # what landed on the copy's disk
    if digest != row["sha256"]:
        target.unlink()
        raise CaseworkError(f"the copy does not match the stored hash ({digest}); nothing released")
    manifest = {"clip_id": clip_id, "file": target.name, "sha256": digest, "size": row["size"],
                "ingest_event": event_line, "proof": proof, "copier": copier, "approver": approver,
                "reason": reason, "copied_at": datetime.now().astimezone().isoformat()}
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    write_file_durably(out_dir / "manifest.json", manifest_bytes)
    write_file_durably(out_dir / "checkpoint", note.encode())
    write_file_durably(out_dir / "station.vkey", vkey.encode())
    seq = submit(app.data_dir, app.config, "access.copy", actor or default_actor(), {
        "clip_id": clip_id, "copier": copier, "approver": approver, "reason": reason,
        "outside": outside, "destination": str(out_dir),
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest()})
    app.say(app.t("casework.access", kind="copy", clip=clip_id, seq=seq))


@click.group("user")
def user_group() -> None:
    """Local accounts and roles (officer, clerk, auditor, admin).  用户与角色。"""


def _password(prompt: bool) -> str:
    if not prompt:
        return sys.stdin.readline().rstrip("\n")
    return str(click.prompt("Password / 密码", hide_input=True, confirmation_prompt=True))


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--display-name", default=None)
@click.option("--officer-id", default=None, help="警号, for officers: they see their own clips.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@ACTOR
@click.pass_obj
def user_add(app: AppContext, username: str, role: str, display_name: str | None,
             officer_id: str | None, password_stdin: bool, actor: str | None) -> None:
    """Add a user with a role and a password (argon2 hash, kept out of the ledger)."""
    from evidence_station.casework.accounts import AccountStore

    password = _password(not password_stdin)
    store = AccountStore(app.data_dir / "accounts.sqlite")
    try:
        store.set_password(username, password)  # refuses a short password before any event
    except ValueError as err:
        raise CaseworkError(str(err)) from err
    finally:
        store.close()
    seq = submit(app.data_dir, app.config, "user.add", actor or default_actor(), {
        "username": username, "role": role, "display_name": display_name, "officer_id": officer_id})
    app.say(f"user.add #{seq}: {username} ({role})")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def user_list(app: AppContext, as_json: bool) -> None:
    """List users and their roles."""
    with app.open_station() as station:
        rows = station.catalog.users()
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    table = Table()
    for column in ("username", "role", "display_name", "officer_id", "updated_at", "updated_by"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(row[c] or "")) for c in (
            "username", "role", "display_name", "officer_id", "updated_at", "updated_by")))
    app.console.print(table)


@user_group.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@ACTOR
@click.pass_obj
def user_role(app: AppContext, username: str, role: str, actor: str | None) -> None:
    """Change USERNAME's role."""
    seq = submit(app.data_dir, app.config, "user.role", actor or default_actor(),
                 {"username": username, "role": role})
    app.say(f"user.role #{seq}: {username} → {role}")


@user_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@ACTOR
@click.pass_obj
def user_passwd(app: AppContext, username: str, password_stdin: bool, actor: str | None) -> None:
    """Set USERNAME's password (the change, not the hash, is a ledger event)."""
    from evidence_station.casework.accounts import AccountStore

    with app.open_station() as station:
        if station.catalog.user(username) is None:
            raise CaseworkError(f"no user {username!r}")
    store = AccountStore(app.data_dir / "accounts.sqlite")
    try:
        store.set_password(username, _password(not password_stdin))
    except ValueError as err:
        raise CaseworkError(str(err)) from err
    finally:
        store.close()
    seq = submit(app.data_dir, app.config, "user.password", actor or default_actor(),
                 {"username": username})
    app.say(f"user.password #{seq}: {username}")


def register(group: click.Group) -> None:
    for command in (label_command, evidence_command, access_group, user_group):
        group.add_command(command)
