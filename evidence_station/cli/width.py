"""The width of the caller's terminal, as rich's ``Console().width`` gives it, without
importing rich (~0.1 s): a command sent to the daemon tells it this width so the daemon
lays out the tables for the caller's terminal (issue 16, "a command answers at once")."""

from __future__ import annotations

import os
import sys


def terminal_width() -> int:
    """``COLUMNS`` when set to a number, else 80 on a dumb terminal, else the size of the
    first of stdin, stdout, stderr that is a terminal, else 80 (rich's rules on POSIX)."""
    columns = os.environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns)
    if os.environ.get("TERM", "").lower() in ("dumb", "unknown") and _stdout_is_terminal():
        return 80
    width = 0
    for descriptor in (0, 1, 2):
        try:
            width = os.get_terminal_size(descriptor).columns
        except (AttributeError, ValueError, OSError):  # not a terminal
            continue
        break
    return width or 80


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
