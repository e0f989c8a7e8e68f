"""``init --station NAME``."""

from __future__ import annotations

import click

from evidence_station.cli.context import AppContext
from evidence_station.station import default_actor, init_station


@click.command("init")
@click.option("--station", required=True, help="Station name (letters, digits, . _ -). 站点名称。")
@click.option("--actor", default=None, help="Who initialises the station (default: OS user).")
@click.pass_obj
def init_command(app: AppContext, station: str, actor: str | None) -> None:
    """Create the data dir, catalog, empty ledger and the Ed25519 station key (0600).

    初始化数据目录、目录库、空账本和站点签名密钥。
    """
    verifier = init_station(app.data_dir, station, actor or default_actor())
    app.say(app.t("init.done", station=station, data_dir=app.data_dir,
                            vkey=verifier.encode()))


def register(group: click.Group) -> None:
    group.add_command(init_command)
