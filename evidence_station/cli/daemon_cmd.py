"""``daemon``, ``devices``, ``device register``, ``receipt``."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
from pathlib import Path
from types import FrameType

import click
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from evidence_station.cli.context import AppContext
from evidence_station.errors import DaemonNotInitialisedError, NotInitialisedError
from evidence_station.identity import ROOT_ACCOUNT
from evidence_station.install import note_upgrade
from evidence_station.station import Station, init_station
from hashing.durable import fsync_directory

log = logging.getLogger("evidence_station.daemon")


@click.command("daemon")
@click.option("--once", is_flag=True,
              help="Dock what is there now (devices, inbox folders, demo), wait until done, exit.")
@click.option("--station", "station_name", default=None,
              help="Initialise the data dir with this station name if it is not yet. Without it, "
                   "only the embedded defaults (a checkout) initialise, as station-01; an installed "
                   "station's daemon refuses to start before `init`. 未初始化时使用的站点名称。")
@click.pass_obj
def daemon_command(app: AppContext, once: bool, station_name: str | None) -> None:
    """Watch USB docks and inbox folders; ingest every camera; show per-port status.

    States per dock: detected → mounting → copying ⇄ verifying → committed → safe to
    unplug, or error with the reason; unknown USB storage waits for `device register`.
    The status is also written to DATA_DIR/run/status.json for the web UI, and every
    docking session leaves a receipt in DATA_DIR/receipts/. With no camera and no inbox
    configured, a generated demo camera is docked.

    监视 USB 接入口与收件目录，自动入库并显示各接口状态；每次接入生成交接回执。
    """
    from evidence_station.docking.daemon import Daemon
    from evidence_station.docking.receipt import Receipt, render_text
    from evidence_station.docking.status import DockStatus
    from evidence_station.logs import setup_logging, under_journald

    interactive = app.console.is_terminal and not under_journald()
    setup_logging(console=app.console if interactive else None)
    from evidence_station.cli import serve_command

    try:
        station = Station.open(app.data_dir, app.config, writable=True, clock=app.clock)
    except NotInitialisedError:
        # DESIGN.md, "Settled between issues": only a checkout (embedded defaults) or an
        # explicit --station invents a name; an installed station waits for `init`.
        if station_name is None and app.config_file is not None:
            error = DaemonNotInitialisedError(data_dir=app.data_dir)
            log.critical("%s", error.render("en"))
            raise error from None
        init_station(app.data_dir, station_name or "station-01", ROOT_ACCOUNT, app.clock)
        station = Station.open(app.data_dir, app.config, writable=True, clock=app.clock)
    app.notices(station)
    upgrade = note_upgrade(station)
    if upgrade is not None:
        log.warning("software changed from %s to %s (ledger #%d, station.upgrade)",
                    upgrade.fields.get("from"), upgrade.fields.get("to"), upgrade.seq)
    if os.stat(app.data_dir).st_mode & 0o077:
        os.chmod(app.data_dir, 0o700)  # DESIGN.md: the daemon owns the data dir, 0700
        fsync_directory(app.data_dir)  # ... and the mode survives a power cut
        log.warning("%s was readable by other users; now 0700", app.data_dir)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def on_receipt(receipt: Receipt, path: Path) -> None:
        if interactive:
            app.console.print(escape(render_text(receipt, app.lang)), highlight=False, soft_wrap=True)
        app.say(app.t("dock.receipt", path=path))

    with station:
        daemon = Daemon(station, lang=app.lang, on_receipt=on_receipt, run_command=serve_command)
        def log_state(status: DockStatus) -> None:
            # Per-file copying/verifying flips are for the table; the log keeps milestones.
            level = logging.DEBUG if status.state in ("copying", "verifying") else \
                logging.WARNING if status.state in ("error", "waiting") else logging.INFO
            log.log(level, "%s: %s%s", status.port, status.state,
                    f" ({status.reason})" if status.reason else "")

        daemon.board.on_change(log_state)
        if not station.config.daemon.inbox_dirs and station.config.daemon.demo_camera:
            app.say(app.t("daemon.demo", path=station.layout.root / "demo-camera"))
        daemon.start(watch=not once)
        live = Live(daemon.board.table(app.lang), console=app.console, refresh_per_second=4,
                    transient=False) if interactive else None
        try:
            if live is not None:
                live.start()
            while not stop.is_set():
                if once and not daemon.busy():
                    break
                daemon.tick()
                if live is not None:
                    live.update(daemon.board.table(app.lang))
                stop.wait(min(0.25, station.config.daemon.poll_seconds))
        finally:
            daemon.stop()
            if live is not None:
                live.update(daemon.board.table(app.lang))
                live.stop()
        if not interactive:
            app.console.print(daemon.board.table(app.lang))


@click.command("devices")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_obj
def devices_command(app: AppContext, as_json: bool) -> None:
    """The device register (R16): every camera seen or registered, its officer, the port
    and storage seen at its last docking.  设备登记表：记录仪、绑定警号、最近接入与存储情况。"""
    with app.reading() as station:
        rows = station.catalog.docking.devices()
    if as_json:
        app.console.print_json(json.dumps(rows, ensure_ascii=False))
        return
    table = Table(title=app.t("col.device"))
    for column in ("device_id", "officer_id", "registered", "last_docked", "last_port",
                   "storage_free", "storage_total", "sessions"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(row.get(c) if row.get(c) is not None else "")) for c in (
            "device_id", "officer_id", "registered", "last_docked", "last_port",
            "storage_free", "storage_total", "sessions")))
    app.console.print(table)


@click.group("device")
def device_group() -> None:
    """Register cameras and bind them to officers (R16).  记录仪登记。"""


@device_group.command("register")
@click.argument("device_id")
@click.option("--officer-id", required=True, help="警号/执法证号 the camera is issued to.")
@click.option("--note", default=None, help="Free text, e.g. the asset tag.")
@click.pass_obj
def device_register(app: AppContext, device_id: str, officer_id: str, note: str | None) -> None:
    """Register DEVICE_ID (产品序号, or `usb:SERIAL` / `vol:UUID` as the daemon shows for
    unknown storage) to an officer. Storage waiting for acceptance is then ingested.
    While the daemon runs, the request goes through its control socket."""
    seq = app.perform("device.register",
                      {"device_id": device_id, "officer_id": officer_id, "note": note}).seq
    app.say(f"device.register #{seq}: {device_id} → {officer_id}")


@click.command("receipt")
@click.argument("session_id")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also copy the printable HTML page here.")
@click.pass_obj
def receipt_command(app: AppContext, session_id: str, html_out: Path | None) -> None:
    """Print the docking receipt of SESSION_ID (files, hashes, what was not taken, the
    signed checkpoint).  打印交接回执。"""
    from evidence_station.docking.receipt import load_receipt, render_html, render_text

    if not re.fullmatch(r"[0-9A-Za-z_.-]{1,80}", session_id) or session_id.startswith("."):
        raise click.UsageError(f"{session_id!r} is not a session id (see `clips` or the receipt)")
    with app.reading() as station:
        app.require(station, "docks.view")
    directory = app.data_dir / "receipts"
    try:
        receipt = load_receipt(directory, session_id)
    except FileNotFoundError as err:
        raise click.UsageError(f"no receipt for session {session_id!r} in {directory}") from err
    app.say(escape(render_text(receipt, app.lang)))
    if html_out is not None:
        app.output_dir(html_out.parent)
        html_out.write_text(render_html(receipt, app.lang), encoding="utf-8")
        app.hand_over(html_out)


def register(group: click.Group) -> None:
    group.add_command(daemon_command)
    group.add_command(devices_command)
    group.add_command(device_group)
    group.add_command(receipt_command)
