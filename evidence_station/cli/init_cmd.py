"""``init --station NAME``."""

from __future__ import annotations

import os

import click

from evidence_station.cli.context import AppContext
from evidence_station.identity import ROOT_ACCOUNT
from evidence_station.install import hand_to_owner_of
from evidence_station.station import init_station


@click.command("init")
@click.option("--station", required=True, help="Station name (letters, digits, . _ -). 站点名称。")
@click.pass_obj
def init_command(app: AppContext, station: str) -> None:
    """Create the data dir, catalog, empty ledger and the Ed25519 station key (0600).

    On an installed station run it once as root: the data dir the package made belongs to
    the service user, and so does everything init creates in it.

    初始化数据目录、目录库、空账本和站点签名密钥。已安装的工作站以 root 身份运行一次，
    所建文件归服务用户 evidence-station 所有。
    """
    # Whoever creates the data dir owns it: root or the service user, the break-glass admin.
    # A data dir that already exists keeps its owner (the package's service user), and
    # what root creates in it is handed over, or the daemon could not write its own files.
    try:
        existing = os.stat(app.data_dir)
    except FileNotFoundError:
        existing = None
    verifier = init_station(app.data_dir, station, ROOT_ACCOUNT, app.clock)
    if existing is not None and os.geteuid() == 0 and existing.st_uid != 0:
        hand_to_owner_of(app.data_dir, uid=existing.st_uid, gid=existing.st_gid)
    app.say(app.t("init.done", station=station, data_dir=app.data_dir,
                            vkey=verifier.encode()))


def register(group: click.Group) -> None:
    group.add_command(init_command)
