"""``label``, ``evidence``, ``access view/copy``, ``user add/list/role/passwd``."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import click

from evidence_station.casework.rules import CATEGORIES, ROLES, CaseworkError
from evidence_station.cli.context import AppContext
from evidence_station.cli.tables import Col, fitted
from evidence_station.errors import EvidenceStationError
from evidence_station.station import Station
from hashing.durable import write_file_durably
from hashing.proof import EXTENSION as PROOF_EXTENSION
from hashing.proof import encode_proof
from hashing.stream import copy_and_hash, hash_file_from_disk
from retention.browser_verifier import write_browser_verifier


def _select_clips(app: AppContext, clips: tuple[str, ...], session: str | None, device: str | None,
                  officer: str | None, time_from: str | None, time_to: str | None) -> list[str]:
    """Clips by id, or by docking session / device / officer / recorded time range."""
    with app.reading() as station:
        if clips:
            chosen = []
            for clip in clips:
                matches = station.catalog.footage.find_clip(clip)
                if len(matches) != 1:
                    raise CaseworkError(f"{clip!r} matches {len(matches)} clips; give more of the id")
                chosen.append(matches[0]["id"])
            return chosen
        if not any((session, device, officer, time_from, time_to)):
            raise CaseworkError("name clips, or choose them with --session, --device-id, "
                                "--officer-id, --from/--to")
        rows = station.catalog.footage.clips(device_id=device, session_id=session)
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
@click.option("--reporter", default=None,
              help="举报人 (masked for roles that may not see it, R12). Left out, a relabel keeps "
              "it; --reporter \"\" clears it.")
@click.option("--complainant", default=None,
              help="投诉人 (masked, R12). Left out, a relabel keeps it; --complainant \"\" clears it.")
@click.option("--category", type=click.Choice(CATEGORIES), default=None,
              help="What it is about; dispute/complaint/obstruction/assault/mass_incident/emergency "
              "are preserved long-term (R9). Left out, a relabel keeps it.")
@click.option("--session", default=None, help="Every clip of this docking session.")
@click.option("--device-id", default=None, help="Every clip of this camera (with the other filters).")
@click.option("--officer-id", default=None, help="Every clip of this officer (with the other filters).")
@click.option("--from", "time_from", default=None, help="Recorded at or after (ISO time).")
@click.option("--to", "time_to", default=None, help="Recorded at or before (ISO time).")
@click.pass_obj
def label_command(app: AppContext, clips: tuple[str, ...], case_number: str, party: str, handler: str,
                  reporter: str | None, complainant: str | None, category: str | None,
                  session: str | None,
                  device_id: str | None, officer_id: str | None, time_from: str | None,
                  time_to: str | None) -> None:
    """Label clips with case number, party and handler (R5); one ledger event per change.

    为片段标注案号、当事人、承办人。"""
    chosen = _select_clips(app, clips, session, device_id, officer_id, time_from, time_to)
    # an option not given keeps the clip's current value; `--reporter ""` clears it
    optional = {"reporter": reporter, "complainant": complainant, "category": category}
    seq = app.perform("label", {
        "clip_ids": chosen, "case_number": case_number, "party": party, "handler": handler,
        **{key: value for key, value in optional.items() if value is not None}}).seq
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
@click.pass_obj
def evidence_command(app: AppContext, clips: tuple[str, ...], collector: str, collected_at: str,
                     location: str, fact_to_prove: str, transcript_file: Path | None) -> None:
    """Designate CLIPs as evidence (R7) with the written note; one ledger event each.

    指定证据。"""
    transcript = app.read_input(transcript_file) if transcript_file else None
    for clip_id in _select_clips(app, clips, None, None, None, None, None):
        fields = {"clip_id": clip_id, "collector": collector, "collected_at": collected_at,
                  "location": location, "fact_to_prove": fact_to_prove}
        if transcript is not None:
            fields["transcript"] = transcript
        seq = app.perform("evidence.designate", fields).seq
        app.say(app.t("casework.designated", clip=clip_id, seq=seq))


@click.group("access")
def access_group() -> None:
    """The access register (R10): every viewing and copy, with approver and reason."""


@access_group.command("view")
@click.argument("clip")
@click.option("--viewer", required=True, help="调阅人")
@click.option("--approver", required=True,
              help="审批人 as on the paper approval; recorded as what you, the custodian, attest.")
@click.option("--reason", required=True, help="事由")
@click.pass_obj
def access_view(app: AppContext, clip: str, viewer: str, approver: str, reason: str) -> None:
    """Register a viewing of CLIP (R10). You, the custodian, are the actor; the approver
    is recorded as what you attest.  登记调阅。"""
    clip_id = _select_clips(app, (clip,), None, None, None, None, None)[0]
    seq = app.perform("access.view", {
        "clip_id": clip_id, "viewer": viewer, "approver": approver, "reason": reason}).seq
    app.say(app.t("casework.access", kind="view", clip=clip_id, seq=seq))


@access_group.command("copy")
@click.argument("clip", required=False)
@click.option("--copier", default=None, help="复制人")
@click.option("--approver", default=None,
              help="审批人 as on the paper approval (inside the unit); recorded as what you attest.")
@click.option("--reason", default=None, help="事由")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the copy, its SHA-256 manifest and inclusion proof.")
@click.option("--outside", is_flag=True,
              help="R12: file a request to release CLIP outside the unit; writes nothing. Another "
              "admin approves it (`access approve`), then `--request` writes the copy once.")
@click.option("--request", "request_id", type=int, default=None,
              help="Write the copy of an approved outside-release request (once).")
@click.pass_obj
def access_copy(app: AppContext, clip: str | None, copier: str | None, approver: str | None,
                reason: str | None, out_dir: Path | None, outside: bool, request_id: int | None) -> None:
    """Copy CLIP out with a SHA-256 manifest and an inclusion proof, and register it (R10).

    Inside the unit: `access copy CLIP --copier C --approver A --reason R --out DIR`.
    Outside the unit (R12): `--outside` files a request, a different admin approves it with
    `access approve REQUEST`, and `access copy --request REQUEST --out DIR` writes it.
    Everything is checked before anything is written; the copy is an intent event before
    and a done event after.  复制并登记；对外提供须另一名管理员审批。"""
    if outside:
        if clip is None or not copier or not reason or out_dir or approver or request_id:
            raise click.UsageError("--outside takes CLIP, --copier and --reason only (no --out: "
                                   "the copy is written after approval, with --request)")
        clip_id = _select_clips(app, (clip,), None, None, None, None, None)[0]
        seq = app.perform("access.release.request",
                          {"clip_id": clip_id, "copier": copier, "reason": reason}).seq
        app.say(app.t("casework.release_requested", request=seq, clip=clip_id))
        return
    if out_dir is None:
        raise click.UsageError("--out DIR is required to write a copy")
    if request_id is not None:
        fields: dict[str, object] = {"release_request": request_id}
    else:
        if clip is None or not copier or not approver or not reason:
            raise click.UsageError("give CLIP, --copier, --approver and --reason (or --request)")
        fields = {"clip_id": _select_clips(app, (clip,), None, None, None, None, None)[0],
                  "copier": copier, "approver": approver, "reason": reason}
    with app.writing() as station:
        write_access_copy(app, station, fields, out_dir)


def write_access_copy(app: AppContext, station: Station, fields: dict[str, object],
                      out_dir: Path) -> None:
    """Validate, record the intent, write and verify the copy, record that it is done."""
    from evidence_station.casework.service import perform

    actor = app.actor(station)
    clip_id = fields.get("clip_id")
    if clip_id is None:  # an outside release names its clip in the request
        request = station.catalog.casework.release_request(int(str(fields["release_request"])))
        clip_id = request["clip_id"] if request else None
    matches = station.catalog.footage.find_clip(str(clip_id)) if clip_id else []
    if len(matches) != 1:
        raise CaseworkError(f"no clip {clip_id!r}")
    row = matches[0]
    # The copy's proof is built on this checkpoint: it must cover the clip and be of this
    # ledger (one left by another history is an integrity alarm here).
    covering = station.reusable_checkpoint(row["ledger_seq"] + 1)
    if covering is None:
        raise CaseworkError("no checkpoint covers this clip yet; run `ledger checkpoint`")
    checkpoint, note = covering
    if out_dir.exists() and any(out_dir.iterdir()):
        raise CaseworkError(f"{out_dir} is not empty; choose a new folder for the copy")
    created = not out_dir.exists()
    target_dir = app.output_dir(out_dir)
    target = target_dir / f"{row['sha256']}{Path(row['source_path']).suffix.lower()}"
    try:
        intent = perform(station, actor, "access.copy", {**fields, "destination": str(target_dir)},
                         request_id=app.request_id)
    except EvidenceStationError:
        if created:
            target_dir.rmdir()  # a refused request leaves nothing behind
        raise
    proof = {"seq": row["ledger_seq"], "tree_size": checkpoint.size,
             "hashes": [h.hex() for h in station.ledger.inclusion_proof(row["ledger_seq"],
                                                                         checkpoint.size)]}
    _copy_out(station.store.path_for(row["sha256"]), target)
    digest = hash_file_from_disk(target).sha256  # what landed on the copy's disk
    if digest != row["sha256"]:
        target.unlink()
        raise CaseworkError(f"the copy does not match the stored hash ({digest}); nothing released")
    manifest = {"clip_id": row["id"], "file": target.name, "sha256": digest, "size": row["size"],
                "ingest_event": station.ledger.event(row["ledger_seq"]).data.decode("utf-8"),
                "proof": proof, "register_seq": intent.seq,
                **{key: intent.fields.get(key) for key in ("copier", "approver", "reason", "outside")},
                "actor": actor.account,
                "copied_at": station.clock.now().astimezone().isoformat()}
    manifest_bytes = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
    write_file_durably(target_dir / "manifest.json", manifest_bytes)
    note = station.best_note(checkpoint, note)  # with the witnesses' cosignatures
    write_file_durably(target_dir / "checkpoint", note.encode())
    write_file_durably(target_dir / "station.vkey", station.layout.verifier_key.read_bytes())
    # one self-contained proof for this clip (C2SP tlog-proof): checkpoint, cosignatures,
    # inclusion proof and the ingest event, so a court can check it with nothing else
    write_file_durably(target_dir / f"{target.name}{PROOF_EXTENSION}", encode_proof(
        row["ledger_seq"], station.ledger.inclusion_proof(row["ledger_seq"], checkpoint.size),
        note, station.ledger.event(row["ledger_seq"]).data).encode())
    write_browser_verifier(target_dir)  # the recipient checks the copy with only a browser
    app.hand_over(target_dir)
    done = perform(station, actor, "access.copy.done", {
        "copy_seq": intent.seq, "sha256": digest,
        "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest()})
    app.say(app.t("casework.access", kind="copy", clip=row["id"], seq=done.seq))


def _copy_out(source: Path, target: Path) -> None:
    """Copy a stored original to a new file (never through a planted link), durably."""
    source_fd = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
    try:
        target_fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                            0o644)
        try:
            copy_and_hash(source_fd, target_fd)
            os.fsync(target_fd)
        finally:
            os.close(target_fd)
    finally:
        os.close(source_fd)


@access_group.command("approve")
@click.argument("request_id", type=int)
@click.pass_obj
def access_approve(app: AppContext, request_id: int) -> None:
    """Approve release request REQUEST_ID outside the unit (R12): an admin other than the
    requester, as themselves.  审批对外提供。"""
    seq = app.perform("access.release.approve", {"request_id": request_id}).seq
    app.say(f"access.release.approve #{seq}: request #{request_id}")


@click.group("user")
def user_group() -> None:
    """Local accounts and roles (officer, clerk, auditor, admin).  用户与角色。"""


def _password(app: AppContext, prompt: bool) -> str:
    if not prompt or app.served is not None:
        return app.stdin.readline().rstrip("\n")
    return str(click.prompt("Password / 密码", hide_input=True, confirmation_prompt=True))


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--display-name", default=None)
@click.option("--officer-id", default=None, help="警号, for officers: they see their own clips.")
@click.option("--os-user", default=None, metavar="LOGIN",
              help="The OS login whose commands act as this account (the CLI's identity).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def user_add(app: AppContext, username: str, role: str, display_name: str | None,
             officer_id: str | None, os_user: str | None, password_stdin: bool) -> None:
    """Add an account with a role, a password for the web UI (argon2 hash, kept out of the
    ledger) and optionally the OS user whose CLI commands act as it.  添加账户。"""
    password = _password(app, not password_stdin)
    seq = app.perform("user.add", {
        "username": username, "role": role, "display_name": display_name, "officer_id": officer_id,
        "os_user": os_user, "password": password}).seq
    app.say(f"user.add #{seq}: {username} ({role})")


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def user_list(app: AppContext, as_json: bool) -> None:
    """List users and their roles."""
    with app.reading() as station:
        app.require(station, "users.manage")
        rows = station.catalog.accounts.users()
    if as_json:
        app.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    columns = ("username", "role", "os_user", "display_name", "officer_id", "disabled_at", "updated_by")
    app.console.print(fitted(app.console, [Col(c, 6) for c in columns],
                             [[str(row.get(c) or "") for c in columns] for row in rows]))


@user_group.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@click.pass_obj
def user_role(app: AppContext, username: str, role: str) -> None:
    """Change USERNAME's role."""
    seq = app.perform("user.role", {"username": username, "role": role}).seq
    app.say(f"user.role #{seq}: {username} → {role}")


@user_group.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.pass_obj
def user_passwd(app: AppContext, username: str, password_stdin: bool) -> None:
    """Set USERNAME's password (the change, not the hash, is a ledger event)."""
    seq = app.perform("user.password", {"username": username,
                                        "password": _password(app, not password_stdin)}).seq
    app.say(f"user.password #{seq}: {username}")


@user_group.command("disable")
@click.argument("username")
@click.option("--enable", is_flag=True, help="Enable the account again.")
@click.pass_obj
def user_disable(app: AppContext, username: str, enable: bool) -> None:
    """Disable USERNAME (or --enable it again): a disabled account cannot log in or act."""
    kind = "user.enable" if enable else "user.disable"
    seq = app.perform(kind, {"username": username}).seq
    app.say(f"{kind} #{seq}: {username}")


def register(group: click.Group) -> None:
    for command in (label_command, evidence_command, access_group, user_group):
        group.add_command(command)
