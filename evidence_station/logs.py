"""Logging for the daemon: journald priorities under systemd, plain lines otherwise.

systemd sets ``JOURNAL_STREAM`` for a service whose output goes to the journal; a line
starting with ``<N>`` is then stored with syslog priority N (sd-daemon(3)), so
``journalctl -p warning -u evidence-station`` shows problems only. No extra library.
"""

from __future__ import annotations

import logging
import os
import sys

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        text = super().format(record)
        return "\n".join(f"<{priority}>{line}" for line in text.splitlines())


def setup_logging(level: int = logging.INFO) -> bool:
    """Configure the root logger; return True when logging to journald."""
    handler = logging.StreamHandler(sys.stderr)
    journald = bool(os.environ.get("JOURNAL_STREAM"))
    if journald:
        handler.setFormatter(JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return journald
