"""Run the CLI, or send one control-socket request, as another OS user.

Started as root, it imports what the client needs first, then drops to the user
(supplementary groups, gid, uid — what ``setpriv --init-groups`` does) before it touches
the station: SO_PEERCRED sees the user's real uid. Importing first means the checkout
and its virtualenv need not be readable by that user (a clone under /root or a 0700
temp dir, as in CI).

    python tests/as_os_user.py LOGIN cli ARGV...
    python tests/as_os_user.py LOGIN request SOCKET JSON
"""

from __future__ import annotations

import io
import json
import os
import pwd
import sys
from pathlib import Path


def _warm_up() -> None:
    """Load every module the client path may import lazily while still root."""
    import tomllib  # noqa: F401  # load_config parses a file with it, imported then (issue 16)

    from rich.console import Console

    import evidence_station.cli
    import evidence_station.cli.context
    import evidence_station.cli.width
    import evidence_station.docking.control
    import evidence_station.docking.socket_client
    import evidence_station.errors  # noqa: F401
    from evidence_station.config import find_config, load_config

    load_config(find_config(None))  # validators import what they need (durations) lazily

    Console(file=io.StringIO(), width=80).print("[bold red]错误 error:[/bold red] x ✔")


def _become(login: str) -> None:
    user = pwd.getpwnam(login)
    os.setgroups(os.getgrouplist(login, user.pw_gid))
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def main() -> int:
    login, mode, *rest = sys.argv[1:]
    _warm_up()
    _become(login)
    if mode == "cli":
        from evidence_station.cli import main as cli

        return cli(rest)
    from evidence_station.docking.control import send_request

    reply = send_request(Path(rest[0]), json.loads(rest[1]), attempts=1)
    print(json.dumps(reply, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
