"""Logging for the daemon: journald priorities under systemd, plain lines otherwise.

systemd sets ``JOURNAL_STREAM`` for a service whose output goes to the journal; a line
starting with ``<N>`` is then stored with syslog priority N (sd-daemon(3)), so
``journalctl -p warning -u evidence-station`` shows problems only. No extra library.
"""

from __future__ import annotations

import logging
import os
import sys

from rich.console import Console
from rich.logging import RichHandler

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def under_journald() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM"))


def setup_logging(level: int = logging.INFO, console: Console | None = None) -> None:
    """Configure the root logger: journald lines under systemd, rich lines above the
    live table on a terminal (``console``), timestamped lines otherwise."""
    handler: logging.Handler
    if under_journald():
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    elif console is not None:
        handler = RichHandler(console=console, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
