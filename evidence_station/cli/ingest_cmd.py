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


@click.command("ingest")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--device-id", default=None, help="Camera product serial (产品序号); default: from file names.")
@click.option("--officer-id", default=None, help="Officer number (警号); default: from file names.")
@click.option("--returned-at", default=None, metavar="TIME",
              help="When the officer returned from remote or continuous work (local time, "
              "YYYY-MM-DDTHH:MM); R4 deadlines for earlier footage count from then.")
@click.option("--profile", "profile_name", default=None,
              help="Vendor profile to read file names with (default: the one that fits best).")
@click.pass_obj
def ingest_command(app: AppContext, path: Path, device_id: str | None, officer_id: str | None,
                   returned_at: str | None, profile_name: str | None) -> None:
    """Ingest a camera's folder or mount through the same pipeline as a docked camera.

    复制、校验并登记记录仪文件夹中的所有录像。Exit 1 when a file could not be
    ingested or the session was interrupted; the camera copy is never modified.
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
    if result.error is not None:
        raise result.error
    if not result.safe_to_unplug:
        raise click.exceptions.Exit(EXIT_FINDING)


def register(group: click.Group) -> None:
    group.add_command(ingest_command)
