"""``daemon``."""

from __future__ import annotations

import contextlib

import click

from evidence_station.cli.context import AppContext
from evidence_station.cli.progress import RichReporter, print_summary
from evidence_station.errors import NotInitialisedError
from evidence_station.ingest.model import SessionResult
from evidence_station.station import default_actor, init_station


@click.command("daemon")
@click.option("--once", is_flag=True, help="Dock what is there now, then exit.")
@click.option("--station", "station_name", default="station-01",
              help="Station name used if the data dir is not initialised yet.")
@click.pass_obj
def daemon_command(app: AppContext, once: bool, station_name: str) -> None:
    """Watch docks and inbox folders and ingest every camera that appears.

    With nothing configured, docks a generated demo camera so the whole flow is
    visible. 监视接入口并自动入库；未配置时使用演示记录仪。
    """
    from evidence_station import daemon  # imports PyAV for the demo camera: only here

    actor = default_actor()
    try:
        station = app.open_station(writable=True)
    except NotInitialisedError:
        init_station(app.data_dir, station_name, actor)
        station = app.open_station(writable=True)
    with station:
        inboxes = station.config.daemon.inbox_dirs
        if inboxes:
            app.say(app.t("daemon.watching", dirs=", ".join(map(str, inboxes))))
        else:
            app.say(app.t("daemon.demo", path=station.layout.root / "demo-camera"))

        def on_result(camera: object, result: SessionResult) -> None:
            print_summary(app.console, result, app.lang)

        def reporter_factory(camera: object) -> RichReporter:
            reporter = RichReporter(app.console, app.lang)
            reporter.progress.start()
            return reporter

        with contextlib.suppress(KeyboardInterrupt):
            daemon.run(station, actor=actor, once=once, reporter_factory=reporter_factory,
                       on_result=on_result)


def register(group: click.Group) -> None:
    group.add_command(daemon_command)
