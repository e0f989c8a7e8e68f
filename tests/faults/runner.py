"""Run one real CLI command in this process, the way a crash test needs it.

``python -m tests.faults.runner [--clock ISO] [--account NAME] -- ARGV…`` runs
``evidence_station.cli.main(ARGV)`` with the station clock pinned (``FixedClock``: every
run of a crash point writes the same times, so a seed reproduces it), or, with
``--account``, serves the command as that station account exactly as the daemon serves a
client (``tests.accounts.run_as``): how a second admin approves a deletion without a
daemon. The exit code is the command's; stdout is flushed line by line so the harness
knows what was acknowledged before a kill.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clock", required=True)
    parser.add_argument("--account", default=None)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--config", default=None)
    parser.add_argument("--stdin", default="")
    parser.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    argv = [a for a in args.argv if a != "--"] if args.argv[:1] == ["--"] else args.argv
    from evidence_station.clock import FixedClock

    clock = FixedClock(datetime.fromisoformat(args.clock))
    if args.account is None:
        from evidence_station.cli import main as cli_main

        extra = ["--config", args.config] if args.config else []
        return cli_main(["--data-dir", args.data_dir, *extra, "--lang", "en", *argv],
                        clock=clock)
    from pathlib import Path

    from evidence_station.config import load_config
    from tests.accounts import run_as

    config = load_config(Path(args.config)) if args.config else None
    code, out, err = run_as(Path(args.data_dir), args.account, *argv, stdin=args.stdin,
                            config=config, clock=clock)
    sys.stdout.write(out)
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    sys.exit(main())
