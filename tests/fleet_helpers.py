"""Real central engines for the fleet tests: a throwaway PostgreSQL 15 cluster and a
``moto_server`` S3 endpoint, each started directly (Popen / pg_ctl, PIDs kept) and stopped
by the caller. No mocks: the station talks libpq and the S3 protocol to them.

PostgreSQL refuses to run as root, so the cluster belongs to an unprivileged OS user
(the Debian ``postgres`` account when it exists); its directory, socket and port are new
for every cluster, so parallel test runs never meet.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_user() -> tuple[int, int] | None:
    """The uid/gid the cluster runs as: None when we are not root (then ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
        entry = pwd.getpwnam("postgres")
    return entry.pw_uid, entry.pw_gid


class PostgresCluster:
    """``initdb`` + ``pg_ctl start`` in ``directory``; scram-sha-256 with a password, so a
    wrong password is refused as on a real server."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "pgdata"
        self.socket_dir = directory / "sock"
        self.port = free_port()
        self.password = secrets.token_hex(8)
        self.owner = _pg_user()

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        def demote() -> None:
            if self.owner is not None:
                os.setgid(self.owner[1])
                os.setuid(self.owner[0])
        return subprocess.run(list(argv), check=True, capture_output=True, text=True,
                              preexec_fn=demote if self.owner else None, cwd=self.directory)

    def _chown(self, path: Path) -> None:
        if self.owner is not None:
            os.chown(path, *self.owner)

    def start(self) -> PostgresCluster:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._chown(self.directory)
        self.socket_dir.mkdir(exist_ok=True)
        self._chown(self.socket_dir)
        os.chmod(self.directory, 0o755)
        pwfile = self.directory / "pw"
        pwfile.write_text(self.password + "\n")
        self._chown(pwfile)
        if not self.data.exists():
            self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                      "-A", "scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync",
                      "--locale=C.UTF-8")
        self.resume()
        return self

    def resume(self) -> None:
        options = (f"-k {self.socket_dir} -p {self.port} -c listen_addresses='' -c fsync=off "
                   "-c synchronous_commit=off -c full_page_writes=off")
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"),
                  "-o", options, "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, password: str | None = None) -> str:
        return (f"postgresql://postgres:{password or self.password}@/postgres"
                f"?host={self.socket_dir}&port={self.port}")

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


class MotoServer:
    """``moto_server -H 127.0.0.1 -p PORT`` as a child process (PID kept)."""

    def __init__(self, port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        binary = Path(sys.executable).with_name("moto_server")
        argv = [str(binary)] if binary.exists() else [sys.executable, "-m", "moto.server"]
        self.process = subprocess.Popen([*argv, "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        env={**os.environ, **self.env})
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=1):
                    return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError("moto_server exited at start") from None
                time.sleep(0.1)
        raise RuntimeError("moto_server did not answer within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def restart(self) -> None:
        """The same port again (its state is gone: moto keeps it in memory)."""
        self.stop()
        self.start()


def s3_env() -> dict[str, str]:
    """The usual AWS variables for the test endpoint (never in the ledger)."""
    return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1"}


def make_bucket(endpoint: str, name: str, *, lock: bool = True, default_days: int | None = None,
                mode: str = "COMPLIANCE") -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=lock)
    if lock and default_days is not None:
        client.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": mode, "Days": default_days}}})
