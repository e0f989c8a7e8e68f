"""What every command gets: language, config, data dir, consoles, clock — and the station.

A command declares what it needs (borg's ``with_repository`` habit) by the way it opens
the station: ``app.reading()`` for a reader, which never takes the writer lock, and
``app.writing()`` for the writer. Where the command runs decides what that means:
- **in-process** (no daemon): a reader opens the data dir read-only; the writer takes the
  ledger lock, waiting while another command holds it (never "busy");
- **served by the daemon** (it runs the command for a client over the control socket):
  a reader still opens its own read-only view, the writer shares the daemon's writer.
Who acts is never typed: :meth:`AppContext.actor` is the caller's authenticated account.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, overload

from evidence_station.clock import SYSTEM_CLOCK, Clock
from evidence_station.config import Config
from evidence_station.errors import LedgerProblem, NotAuthorisedError, RefusedError
from evidence_station.i18n import Lang, t
from evidence_station.identity import Actor, actor_for_uid
from evidence_station.station import Station
from hashing.ledger import Event, LedgerBusyError

if TYPE_CHECKING:  # rich and the write path load when a command uses them (issue 16)
    from rich.console import Console

WRITER_WAIT_S = 600.0  # another command holds the ledger: wait for it, never answer "busy"


@dataclass
class Served:
    """The daemon runs this command for a client: its station and the client's identity."""

    station: Station
    actor: Actor
    peer_uid: int
    stdin: str = ""
    request_id: str | None = None  # the client's idempotency key, kept in each event's auth


class _ConsoleSlot:
    """A rich console made on first use: importing rich costs ~0.1 s, and a command that
    prints JSON (``clips --json``) never needs it (issue 16). A console given to the
    constructor is kept as given."""

    def __init__(self, *, stderr: bool) -> None:
        self.stderr = stderr
        self.attribute = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = f"_{name}"

    @overload
    def __get__(self, instance: None, owner: type) -> None: ...
    @overload
    def __get__(self, instance: object, owner: type) -> Console: ...
    def __get__(self, instance: object | None, owner: type) -> Console | None:
        if instance is None:
            return None  # the dataclass default: "make one when first asked"
        console: Console | None = instance.__dict__.get(self.attribute)
        if console is None:
            from rich.console import Console

            console = Console(stderr=self.stderr)
            instance.__dict__[self.attribute] = console
        return console

    def __set__(self, instance: object, value: Console | None) -> None:
        instance.__dict__[self.attribute] = value


@dataclass
class AppContext:
    lang: Lang
    config: Config
    data_dir: Path
    console: _ConsoleSlot = _ConsoleSlot(stderr=False)
    err_console: _ConsoleSlot = _ConsoleSlot(stderr=True)
    clock: Clock = SYSTEM_CLOCK
    served: Served | None = None
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    stdin: IO[str] = field(default_factory=lambda: sys.stdin)
    # the file the config came from; None = the embedded defaults (a checkout)
    config_file: Path | None = None

    def t(self, key: str, **values: object) -> str:
        return t(key, self.lang, **values)

    def say(self, text: str) -> None:
        """Print a message unwrapped: keys, hashes and paths must stay copyable."""
        self.console.print(text, soft_wrap=True, highlight=False)

    def echo(self, text: str, nl: bool = True) -> None:
        """Plain output (JSON, a checkpoint note) to this command's own stdout."""
        self.out.write(text + ("\n" if nl else ""))
        self.out.flush()

    def notices(self, station: Station) -> None:
        from rich.markup import escape

        for notice in station.notices:
            self.err_console.print(f"[yellow]{escape(notice)}[/yellow]")

    # -- the station ----------------------------------------------------------------------
    @contextlib.contextmanager
    def reading(self) -> Iterator[Station]:
        """A read-only view: never the writer lock, never blocks or fails a writer."""
        try:
            station = Station.open(self.data_dir, self.config, writable=False, clock=self.clock)
        except PermissionError as err:
            raise NotAuthorisedError(
                f"{self.data_dir} is readable only by the station's service user; start the "
                "service (`systemctl start evidence-station`) and ask it, or run as that user") from err
        with station:
            yield station

    @contextlib.contextmanager
    def writing(self, *, recover: bool = False) -> Iterator[Station]:
        """The station's one writer: the daemon's when it serves this command."""
        if self.served is not None:
            yield self.served.station
            return
        deadline = time.monotonic() + WRITER_WAIT_S
        told = False
        while True:
            try:
                station = Station.open(self.data_dir, self.config, writable=True, recover=recover,
                                       clock=self.clock)
                break
            except PermissionError as err:
                raise NotAuthorisedError(
                    f"only the service user and root may open {self.data_dir}; start the service "
                    "and run the command again: it is then sent to the service") from err
            except LedgerProblem as err:
                if not isinstance(err.__cause__, LedgerBusyError) or time.monotonic() > deadline:
                    raise
                if not told:
                    self.err_console.print(self.t("writer.waiting"))
                    told = True
                time.sleep(0.2)
        with station:
            self.notices(station)
            yield station

    def actor(self, station: Station) -> Actor:
        """The authenticated account this command acts for."""
        if self.served is not None:
            return self.served.actor
        return actor_for_uid(station.catalog, os.getuid(), data_dir=self.data_dir, via="cli")

    def require(self, station: Station, permission: str) -> Actor:
        from evidence_station.casework.authorise import authorise

        actor = self.actor(station)
        authorise(actor, permission)
        return actor

    def perform(self, kind: str, fields: dict[str, Any]) -> Event:
        """One change through the one door, as this command's account."""
        from evidence_station.casework import service

        with self.writing() as station:
            return service.perform(station, self.actor(station), kind, fields,
                                   request_id=self.request_id)

    @property
    def request_id(self) -> str | None:
        return self.served.request_id if self.served is not None else None

    def read_input(self, path: Path) -> str:
        """A file a command reads on the caller's behalf (``--transcript-file``). Served for
        another OS user, the daemon reads only what that user owns: it must never become a
        way to read files the caller cannot."""
        with open(path, encoding="utf-8", opener=_no_follow) as handle:
            if self.served is not None and self.served.peer_uid not in (0, os.getuid()) \
                    and os.fstat(handle.fileno()).st_uid != self.served.peer_uid:
                raise RefusedError(f"{path} is not owned by the requesting user")
            return handle.read()

    def input_dir(self, path: Path) -> None:
        """A folder a command reads for the caller (``ingest PATH``): served for another OS
        user, it must be that user's own."""
        if self.served is None or self.served.peer_uid in (0, os.getuid()):
            return
        info = os.lstat(path)
        if os.path.islink(path) or info.st_uid != self.served.peer_uid:
            raise RefusedError(f"{path} is not a folder owned by the requesting user")

    def output_dir(self, path: Path) -> Path:
        """A folder a command writes into for the caller (``--out``). Served for another
        OS user, it must be (or be created inside) a folder that user owns; what the daemon
        writes there is handed to that user."""
        if self.served is None or self.served.peer_uid in (0, os.getuid()):
            path.mkdir(parents=True, exist_ok=True)
            return path
        owner_dir = path if path.exists() else path.parent
        info = os.lstat(owner_dir)
        if not os.path.isdir(owner_dir) or os.path.islink(owner_dir) or \
                info.st_uid != self.served.peer_uid:
            raise RefusedError(f"{owner_dir} is not a folder owned by the requesting user; "
                               "choose a folder of your own for --out")
        path.mkdir(exist_ok=True)
        os.chown(path, self.served.peer_uid, -1)
        return path

    def hand_over(self, *paths: Path) -> None:
        """Give files written for a served caller to that caller."""
        if self.served is None or self.served.peer_uid in (0, os.getuid()):
            return
        for path in paths:
            for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
                os.lchown(item, self.served.peer_uid, -1)


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)
