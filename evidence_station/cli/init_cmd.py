"""``init --station NAME``."""

from __future__ import annotations

import click

from evidence_station.cli.context import AppContext
from evidence_station.identity import ROOT_ACCOUNT
from evidence_station.station import init_station


@click.command("init")
@click.option("--station", required=True, help="Station name (letters, digits, . _ -). 站点名称。")
@click.pass_obj
def init_command(app: AppContext, station: str) -> None:
    """Create the data dir, catalog, empty ledger and the Ed25519 station key (0600).

    初始化数据目录、目录库、空账本和站点签名密钥。
    """
    # Whoever creates the data dir owns it: root or the service user, the break-glass admin.
    verifier = init_station(app.data_dir, station, ROOT_ACCOUNT, app.clock)
    app.say(app.t("init.done", station=station, data_dir=app.data_dir,
                            vkey=verifier.encode()))


def register(group: click.Group) -> None:
    group.add_command(init_command)
