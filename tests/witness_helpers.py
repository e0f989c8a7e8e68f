"""Real witnesses for tests: `evidence-station witness serve` as a subprocess on a free
127.0.0.1 port, its PID kept and stopped in teardown; station data dirs and configs."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from evidence_station.config import Config
from evidence_station.station import Station, init_station

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def write_config(path: Path, *, urls: list[str] = (), keys: list[str] = (),  # type: ignore[assignment]
                 logs: list[str] = (), alarm_after_s: int = 3600,  # type: ignore[assignment]
                 timeout_s: float = 5.0) -> Path:
    path.write_text(
        "[ingest]\nreserve_mib = 0\n"
        f"[witness]\nurls = {toml_list(list(urls))}\nkeys = {toml_list(list(keys))}\n"
        f"timeout_s = {timeout_s}\nalarm_after_s = {alarm_after_s}\n"
        f"[witness_server]\nlogs = {toml_list(list(logs))}\n", encoding="utf-8")
    return path


def config_for(urls: list[str], keys: list[str], **witness: object) -> Config:
    return Config.model_validate({"ingest": {"reserve_mib": 0},
                                  "witness": {"urls": urls, "keys": keys, **witness}})


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "EVIDENCE_STATION_CONFIG": ""}


def cli(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "evidence_station", "--lang", "en",
                           *map(str, args)], capture_output=True, text=True, env=env(), cwd=ROOT,
                          timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


@dataclass
class WitnessProcess:
    """A running `witness serve`: its data dir, config, port, process."""

    data_dir: Path
    config: Path
    port: int
    process: subprocess.Popen[str] | None = None
    key: str = ""
    stderr: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> WitnessProcess:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "evidence_station", "--config", str(self.config),
             "--data-dir", str(self.data_dir), "witness", "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT)
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], 60)
        line = self.process.stdout.readline() if ready else ""
        if "listening on" not in line:
            self.stop()
            raise RuntimeError(f"witness did not start: {line!r}")
        self.key = line.split()[1]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # uvicorn accepts once its loop runs
            try:
                urllib.request.urlopen(f"{self.url}/00/checkpoint", timeout=2)
            except urllib.error.HTTPError:
                return self  # the 404 of an unknown origin: it answers
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)
        raise RuntimeError("witness does not answer")

    def kill(self) -> None:
        """SIGKILL: no chance to finish anything (a power cut, as far as it can tell)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self.process = None


def post(url: str, body: bytes) -> tuple[int, str, str]:
    """POST add-checkpoint; (status, content type, body)."""
    request = urllib.request.Request(f"{url}/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read().decode()


def new_station(path: Path, name: str) -> str:
    """Initialise a station; its verifier key line."""
    return init_station(path, name, "root").encode()


def open_station(path: Path, config: Config, **options: object) -> Station:
    return Station.open(path, config, writable=True, **options)  # type: ignore[arg-type]
