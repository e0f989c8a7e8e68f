"""A rich ``Console`` made on first use.

Importing rich costs ~0.1 s, and a command that prints JSON (``clips --json``) never
uses it; so the console every command gets is this stand-in, which imports rich and
builds the real console the first time anything asks it for anything."""

from __future__ import annotations

from typing import Any


class LazyConsole:
    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Any = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return getattr(self._console, name)
