"""What every command gets: language, config, data dir, console, actor."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from evidence_station.config import Config
from evidence_station.i18n import Lang, t
from evidence_station.station import Station


@dataclass
class AppContext:
    lang: Lang
    config: Config
    data_dir: Path
    console: Console
    err_console: Console

    def t(self, key: str, **values: object) -> str:
        return t(key, self.lang, **values)

    def say(self, text: str) -> None:
        """Print a message unwrapped: keys, hashes and paths must stay copyable."""
        self.console.print(text, soft_wrap=True, highlight=False)

    def open_station(self, *, writable: bool = False, recover: bool = False) -> Station:
        station = Station.open(self.data_dir, self.config, writable=writable, recover=recover)
        for notice in station.notices:
            self.err_console.print(f"[yellow]{escape(notice)}[/yellow]")
        return station
