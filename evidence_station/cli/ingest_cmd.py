"""``ingest PATH``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from docks.profiles import PROFILE_DIR, identify, load_profiles
from evidence_station.cli.context import AppContext
from evidence_station.cli.progress import RichReporter, print_summary
from evidence_station.errors import EXIT_FINDING, SourceNotFoundError
from evidence_station.ingest.pipeline import ingest_source
from evidence_station.station import Station


@click.command("ingest")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--device-id", default=None, help="Camera product serial (产品序号); default: from file names.")
@click.option("--officer-id", default=None, help="Officer number (警号); default: from file names.")
@click.option("--returned-at", default=None, metavar="TIME",
              help="When the officer returned from remote or continuous work (local time, "
              "YYYY-MM-DDTHH:MM); R4 deadlines for earlier footage count from then.")
@click.option("--profile", "profile_name", default=None,
              help="Vendor profile to read file names with (default: the one that fits best).")
@click.option("--no-analyze", is_flag=True,
              help="Do not analyse after the commit (run `evidence-station analyze` later).")
@click.pass_obj
def ingest_command(app: AppContext, path: Path, device_id: str | None, officer_id: str | None,
                   returned_at: str | None, profile_name: str | None, no_analyze: bool) -> None:
    """Ingest a camera's folder or mount through the same pipeline as a docked camera.

    Like the daemon after a docking, the new clips are then analysed (statement, drift,
    deadlines, interruptions), after the commit so copying is never slowed: the review
    queue is filled at once. 复制、校验并登记记录仪文件夹中的所有录像，随后自动分析。
    Exit 1 when a file could not be ingested or the session was interrupted; the camera
    copy is never modified.
    """
    if not path.is_dir():
        raise SourceNotFoundError(path=path)
    app.input_dir(path)
    returned = None
    if returned_at is not None:
        try:
            returned = datetime.fromisoformat(returned_at)
        except ValueError as err:
            raise click.BadParameter(f"{returned_at!r} is not a time like 2026-11-03T18:00",
                                     param_hint="--returned-at") from err
        if returned.tzinfo is None:
            returned = returned.replace(tzinfo=ZoneInfo(app.config.station.timezone))
    profiles = load_profiles([PROFILE_DIR, *app.config.daemon.profile_dirs])
    if profile_name is not None:
        profile = next((p for p in profiles if p.name == profile_name), None)
        if profile is None:
            raise click.BadParameter(f"no profile {profile_name!r}; known: "
                                     f"{', '.join(sorted(p.name for p in profiles))}",
                                     param_hint="--profile")
    else:
        profile = identify(path, profiles, app.config.ingest.recording_extensions,
                           app.config.station.timezone).profile
    with app.writing() as station:
        actor = app.require(station, "ingest")
        with RichReporter(app.console, app.lang) as reporter:
            result = ingest_source(station, path, device_id=device_id, officer_id=officer_id,
                                   actor=actor.account, reporter=reporter,
                                   profile=profile, returned_at=returned)
        print_summary(app.console, result, app.lang)
        _analyse_after_commit(app, station, result.device_id, skip=no_analyze)
    if result.error is not None:
        raise result.error
    if not result.safe_to_unplug:
        raise click.exceptions.Exit(EXIT_FINDING)


def _analyse_after_commit(app: AppContext, station: Station, device_id: str | None, *,
                          skip: bool) -> None:
    """What the daemon does after each docking session, so a hand ingest does not leave
    the review queue empty until someone thinks of `analyze` (issue 19). The station's
    own act, as in the daemon (actor ``analysis``)."""
    if skip or not station.config.analysis.enabled:
        app.say(app.t("ingest.analyse_later"))
        return
    from evidence_station.analysis.runner import Analyser

    analyser = Analyser.for_station(station)
    count = analyser.analyse_pending()
    if device_id:
        analyser.analyse_device(device_id)
    app.say(app.t("analysis.done", count=count, flags=len(station.catalog.flags.review())))


def register(group: click.Group) -> None:
    group.add_command(ingest_command)
