"""``fleet push`` · ``fleet status`` · ``fleet verify`` · ``fleet clips``: the unit's mirror.

Thin commands over :mod:`evidence_station.fleet`. ``push`` and ``status`` are about this
station (through the daemon while it runs); ``verify`` and ``clips`` need only the
``[fleet]`` settings, so an auditor at the unit can run them without a station.
"""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape

from evidence_station.cli.context import AppContext
from evidence_station.errors import EXIT_FINDING
from evidence_station.fleet import FleetError


def _say(app: AppContext, zh: str, en: str) -> None:
    app.say(zh if app.lang == "zh" else en)


@click.group("fleet")
def fleet_group() -> None:
    """Replicate to the unit's PostgreSQL and S3 Object Lock bucket; search and verify the
    fleet. 中心同步：PostgreSQL 与 S3 对象锁存储。"""


@fleet_group.command("push")
@click.option("--json", "as_json", is_flag=True, help="Print the pass's figures as JSON.")
@click.pass_obj
def push_command(app: AppContext, as_json: bool) -> None:
    """One catch-up pass; exit 0 only when the mirror holds every event and file.
    同步一次；全部同步完成才返回 0。"""
    from evidence_station.fleet.replicate import push

    with app.writing() as station:
        app.require(station, "ledger.checkpoint")
        report = push(station)
    if as_json:
        app.echo(json.dumps(report.as_dict(), ensure_ascii=False, sort_keys=True))
    else:
        status = report.status
        _say(app, f"已同步：事件 {report.events_sent}，文件 {report.objects_sent}（已存在 "
             f"{report.objects_reused}），延长保留 {report.locks_extended}，删除 {report.objects_deleted}；"
             f"尚欠事件 {status['events_behind']}、文件 {status['files_behind']}",
             f"sent: {report.events_sent} events, {report.objects_sent} files ({report.objects_reused} "
             f"already there), {report.locks_extended} locks extended, {report.objects_deleted} "
             f"deleted; behind: {status['events_behind']} events, {status['files_behind']} files")
    if not report.caught_up:
        raise click.exceptions.Exit(EXIT_FINDING)


@fleet_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def status_command(app: AppContext, as_json: bool) -> None:
    """How far behind the mirror is (events, files, bytes) and why. 同步状态。"""
    from evidence_station.fleet.replicate import status

    with app.reading() as station:
        app.require(station, "docks.view")
        result = status(station)
    if as_json:
        app.echo(json.dumps([result], ensure_ascii=False, sort_keys=True))
        return
    if not result["configured"]:
        _say(app, "未配置中心同步（[fleet] database_url、s3_bucket）",
             "replication is not configured ([fleet] database_url, s3_bucket)")
        return
    _say(app, f"落后：事件 {result['events_behind']}，文件 {result['files_behind']}"
         f"（{result['bytes_behind']} 字节）", f"behind: {result['events_behind']} events, "
         f"{result['files_behind']} files ({result['bytes_behind']} bytes)")
    _say(app, f"上次成功：{result['last_success'] or '无'}",
         f"last success: {result['last_success'] or 'never'}")
    if result["last_error"]:
        _say(app, f"上次错误：{escape(result['last_error'])}", f"last error: {escape(result['last_error'])}")
    if result["alarm"]:
        _say(app, f"告警：{result['alarm']}", f"alarm: {result['alarm']}")


def _engines(app: AppContext) -> tuple[Any, Any]:
    from evidence_station.fleet import central
    from evidence_station.fleet.objects import MIB, Bucket, s3_client

    fleet = app.config.fleet
    if not fleet.enabled:
        raise FleetError("[fleet] database_url and s3_bucket are not set")
    conn = central.connect(str(fleet.database_url), fleet.timeout_s)
    client = s3_client(fleet.s3_endpoint_url, fleet.s3_region, fleet.timeout_s)
    bucket = Bucket(client, str(fleet.s3_bucket), multipart_threshold=fleet.multipart_threshold_mib * MIB,
                    part_size=fleet.part_size_mib * MIB)
    return conn, bucket


@fleet_group.command("verify")
@click.option("--key", "keys", multiple=True,
              help="Pin a station's verifier key line (repeatable); else the key the mirror "
                   "registered on first contact. 固定站点公钥。")
@click.option("--no-data", is_flag=True, help="Check objects' checksums and locks, not their bytes.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_obj
def verify_command(app: AppContext, keys: tuple[str, ...], no_data: bool, as_json: bool) -> None:
    """Re-verify every station's chain, tree, checkpoints and every object from PostgreSQL
    and the bucket alone; name the first failure; exit 1 on a finding. 全网核验。"""
    from evidence_station.fleet.verify import verify_fleet
    from hashing.note import NoteError, Verifier

    try:
        pinned = {verifier.name: verifier for verifier in (Verifier.parse(k) for k in keys)}
    except NoteError as err:
        raise click.BadParameter(f"not a verifier key line: {err}", param_hint="--key") from err
    conn, bucket = _engines(app)
    try:
        report = verify_fleet(conn, bucket, pinned=pinned, data=not no_data)
    finally:
        conn.close()
    if as_json:
        app.echo(json.dumps(report.as_dict(), ensure_ascii=False, sort_keys=True, default=str))
    else:
        for station in report.stations:
            _say(app, f"{station.origin}：事件 {station.events}，已签名 {station.signed_size}，"
                 f"文件 {station.objects}", f"{station.origin}: {station.events} events, signed up to "
                 f"{station.signed_size}, {station.objects} files")
        if report.ok:
            _say(app, "核验通过", "verified: no finding")
        else:
            first = report.findings[0]
            _say(app, f"[bold red]首个问题[/bold red] {escape(first.origin)} {first.what} "
                 f"{escape(first.where)}：{escape(first.reason)}（共 {len(report.findings)} 个）",
                 f"[bold red]first failure[/bold red] {escape(first.origin)} {first.what} "
                 f"{escape(first.where)}: {escape(first.reason)} ({len(report.findings)} in all)")
    if not report.ok:
        raise click.exceptions.Exit(EXIT_FINDING)


@fleet_group.command("clips")
@click.option("--case-number", default=None, help="案号")
@click.option("--party", default=None, help="当事人")
@click.option("--handler", default=None, help="承办人")
@click.option("--officer-id", default=None, help="警号")
@click.option("--device-id", default=None, help="产品序号")
@click.option("--station", "origin", default=None, help="A station's origin. 站点。")
@click.option("--since", default=None, help="Recorded (else ingested) at or after (ISO 8601).")
@click.option("--until", default=None, help="Recorded (else ingested) before (ISO 8601).")
@click.option("--include-deleted", is_flag=True, help="Also clips deleted after retention.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_obj
def clips_command(app: AppContext, case_number: str | None, party: str | None, handler: str | None,
                  officer_id: str | None, device_id: str | None, origin: str | None,
                  since: str | None, until: str | None, include_deleted: bool, as_json: bool) -> None:
    """Search clips across every station (read-only, for the unit's auditors). 全网检索。"""
    from evidence_station.fleet import central

    fleet = app.config.fleet
    if not fleet.database_url:
        raise FleetError("[fleet] database_url is not set")
    conn = central.connect(fleet.database_url, fleet.timeout_s)
    try:
        rows = central.search_clips(conn, filters={
            "case_number": case_number, "party": party, "handler": handler, "officer_id": officer_id,
            "device_id": device_id, "origin": origin}, since=since, until=until,
            include_deleted=include_deleted)
    finally:
        conn.close()
    if as_json:
        app.echo(json.dumps(rows, ensure_ascii=False, sort_keys=True, default=str))
        return
    for row in rows:
        app.say(f"{escape(row['origin'])}  {row['clip_id']}  {row['sha256'][:16]}…  "
                f"{row['recorded_at'] or row['ingested_at']}  {escape(row['case_number'] or '-')}  "
                f"{escape(row['party'] or '-')}  {escape(row['handler'] or '-')}")
    _say(app, f"共 {len(rows)} 条", f"{len(rows)} clips")


def register(group: click.Group) -> None:
    group.add_command(fleet_group)
