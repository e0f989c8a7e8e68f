"""The Debian package (issue 23): what an admin installs, upgrades and purges.

Fast tests hold the shipped files to the code (every config key in the conffile, the
units' exit code and address families, the daemon's refusal before ``init``, root's
``init`` on the service user's data dir, the ``station.upgrade`` event). The slow test
does what an admin does, in a clean Debian 12 root made by ``debootstrap --variant=minbase``
(cached under /var/cache/evidence-station-test, with the apt archives and pip's cache):
build the package, ``apt install`` it, check files, owners and modes, ``systemd-analyze
verify`` the installed units, ``init``, run the daemon exactly as the unit's ``ExecStart``
says as the service user, ingest a folder camera, ask ``clips`` from an OS user in the
socket group and from one outside it, install a rebuilt higher version over it (the clip
is still there, ``check`` is clean, the upgrade is a ledger event), then ``apt remove``
and ``apt purge`` (the data dir and its clip are still there).

systemd is not PID 1 on the machines this runs on (``systemd-nspawn -b`` needs it), so
the units are verified, and the daemon is started by hand the way the unit starts it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evidence_station.cli import main
from evidence_station.config import Config, load_config
from evidence_station.errors import EXIT_USAGE
from evidence_station.station import Station, init_station

ROOT = Path(__file__).resolve().parent.parent
CONFFILE = ROOT / "debian" / "config.toml"
UNITS = ROOT / "systemd"
CACHE = Path(os.environ.get("EVIDENCE_STATION_TEST_CACHE", "/var/cache/evidence-station-test"))
MIRROR = "http://deb.debian.org/debian"
USER = "evidence-station"


def unit(name: str) -> dict[str, list[str]]:
    """A unit file's keys (all sections) and their values, in order."""
    values: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


# -- fast: the shipped files against the code ---------------------------------------------
def test_conffile_lists_every_key_and_sets_the_installed_station() -> None:
    """Every key of the config model appears in the conffile (set or commented at its
    default), and the file loads: an installed station has no demo camera, its socket in
    /run/evidence-station for the group evidence-station, its data in /var/lib."""
    text = CONFFILE.read_text(encoding="utf-8")
    section = None
    present: set[str] = set()
    for line in text.splitlines():
        if match := re.match(r"^\[(\w+)\]", line):
            section = match.group(1)
        elif section and (match := re.match(r"^#?\s?(\w+) = ", line)):
            present.add(f"{section}.{match.group(1)}")
    expected = {f"{name}.{key}" for name, field in Config.model_fields.items()
                if name != "version" for key in field.annotation.model_fields}  # type: ignore[union-attr]
    assert expected - present == set()
    config = load_config(CONFFILE)
    assert config.daemon.demo_camera is False
    assert config.daemon.runtime_dir == Path("/run/evidence-station")
    assert config.daemon.socket_group == USER
    assert config.station.data_dir == Path("/var/lib/evidence-station")
    # Every commented line is a default: uncommenting it alone changes nothing.
    uncommented = re.sub(r"^# (\w+ = )", r"\1", text, flags=re.MULTILINE)
    # ... except the examples of keys whose default is "unset"
    examples = ("speech_model_dir|speech_model_sha256|speech_prompt|name"
                "|database_url|s3_endpoint_url|s3_bucket")
    uncommented = re.sub(rf"(?m)^((?:{examples}) = .*)$", r"# \1", uncommented)
    assert load_config_text(uncommented) == config


def load_config_text(text: str) -> Config:
    return Config.model_validate(tomllib.loads(text))


def test_package_version_follows_the_python_version() -> None:
    """debian/changelog names the version `make deb` builds; it must be pyproject's."""
    first = (ROOT / "debian" / "changelog").read_text(encoding="utf-8").splitlines()[0]
    version = re.match(r"^evidence-station \(([^)]+)\)", first)
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert version is not None and version.group(1).split("+")[0].split("-")[0] == python


def test_units_run_as_the_service_user_with_only_the_families_they_need() -> None:
    daemon, web = unit("evidence-station.service"), unit("evidence-station-web.service")
    for values in (daemon, web):
        assert values["User"] == [USER] and values["Group"] == [USER]
        assert values["ExecStart"][0].startswith("/opt/evidence-station/bin/evidence-station ")
        assert values["RestartPreventExitStatus"] == [str(EXIT_USAGE)]
        assert values["ProtectSystem"] == ["strict"] and values["NoNewPrivileges"] == ["yes"]
    # IPv4/IPv6 for fleet replication only, and no address until the site allows one
    assert daemon["RestrictAddressFamilies"] == ["AF_UNIX AF_NETLINK AF_INET AF_INET6"]
    assert daemon["IPAddressDeny"] == ["any"] and "IPAddressAllow" not in daemon
    assert daemon["RuntimeDirectory"] == [USER] and daemon["RuntimeDirectoryMode"] == ["0750"]
    assert web["RestrictAddressFamilies"] == ["AF_UNIX AF_INET AF_INET6"]
    assert "--host 127.0.0.1" in web["ExecStart"][0] and web["IPAddressAllow"] == ["localhost"]
    assert web["CapabilityBoundingSet"] == [""]


def test_daemon_with_a_config_file_refuses_to_start_before_init(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An installed station never invents a name: exit 2 (the unit does not restart it) and
    the admin's one step in the message, in both languages."""
    config = tmp_path / "config.toml"
    config.write_text(CONFFILE.read_text(encoding="utf-8").replace(
        'runtime_dir = "/run/evidence-station"', f'runtime_dir = "{tmp_path / "run"}"'))
    data = tmp_path / "data"
    for lang in ("en", "zh"):
        code = main(["--data-dir", str(data), "--config", str(config), "--lang", lang, "daemon",
                     "--once"])
        assert code == EXIT_USAGE
        assert "evidence-station init --station" in capsys.readouterr().err
    assert not (data / "station.json").exists()


def test_root_init_hands_the_data_dir_to_its_owner(tmp_path: Path) -> None:
    """The package makes /var/lib/evidence-station for the service user; root's ``init``
    must leave every file the daemon's own."""
    if os.geteuid() != 0:
        pytest.skip("needs root to own files as another user")
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    os.chown(data, 65534, 65534)
    assert main(["--data-dir", str(data), "--lang", "en", "init", "--station", "pkg"]) == 0
    owners = {(p.lstat().st_uid, p.lstat().st_gid) for p in [data, *data.rglob("*")]}
    assert owners == {(65534, 65534)}
    assert data.stat().st_mode & 0o777 == 0o700


def test_a_new_software_version_is_one_station_upgrade_event(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from evidence_station import install

    data = tmp_path / "data"
    monkeypatch.setattr(install, "software_version", lambda: "0.1.0")
    init_station(data, "pkg", "root")
    with Station.open(data, Config.model_validate({}), writable=True) as station:
        assert install.note_upgrade(station) is None  # init recorded the version
        monkeypatch.setattr(install, "software_version", lambda: "0.1.0+2")
        event = install.note_upgrade(station)
        assert event is not None and event.type == "station.upgrade"
        assert (event.fields["from"], event.fields["to"], event.fields["actor"]) == (
            "0.1.0", "0.1.0+2", "station")
        assert install.note_upgrade(station) is None  # once
    assert main(["--data-dir", str(data), "check"]) == 0


# -- slow: the package in a clean Debian 12 root -----------------------------------------
def run(argv: list[str], *, timeout: float = 900, check: bool = True,
        env: dict[str, str] | None = None, input: str | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                            input=input, cwd=cwd, check=False)
    if check and result.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)} exited {result.returncode}\n"
                             f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


CHROOT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
              "DEBIAN_FRONTEND": "noninteractive", "HOME": "/root"}


class CleanRoot:
    """A copy of the cached minbase root with /proc, /sys, /dev and the apt archive cache
    mounted; :meth:`close` unmounts all of it, whatever happened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.mounts: list[Path] = []

    def mount(self, argv: list[str], target: Path) -> None:
        target.mkdir(parents=True, exist_ok=True)
        run(["mount", *argv, str(target)])
        self.mounts.append(target)

    def open(self) -> None:
        self.mount(["-t", "proc", "proc"], self.path / "proc")
        self.mount(["--bind", "/sys"], self.path / "sys")
        self.mount(["--bind", "/dev"], self.path / "dev")
        archives = CACHE / "apt-archives"
        (archives / "partial").mkdir(parents=True, exist_ok=True)
        self.mount(["--bind", str(archives)], self.path / "var/cache/apt/archives")
        shutil.copy2("/etc/resolv.conf", self.path / "etc/resolv.conf")

    def close(self) -> None:
        for target in reversed(self.mounts):
            if run(["umount", str(target)], check=False).returncode != 0:
                run(["umount", "-l", str(target)], check=False)
        self.mounts.clear()

    def __call__(self, *argv: str, user: str | None = None, check: bool = True,
                 input: str | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run a command in the root, as root or as ``user`` (with its groups)."""
        spec = [f"--userspec={user}:{user}"] if user else []  # names looked up in the root
        env = dict(CHROOT_ENV, HOME="/root" if user is None else f"/home/{user}")
        return run(["chroot", *spec, str(self.path), *argv], check=check, env=env, input=input,
                   timeout=timeout)


def base_root() -> Path:
    """The cached minbase root (made once, ~35 s); a miss makes it."""
    base = CACHE / "base-bookworm"
    if not (base / "usr/bin/apt-get").exists():
        scratch = CACHE / "base.tmp"
        shutil.rmtree(scratch, ignore_errors=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        run(["debootstrap", "--variant=minbase", "bookworm", str(scratch), MIRROR], timeout=900)
        scratch.rename(base)
    return base


def build(version: str | None, build_dir: str) -> subprocess.Popen[bytes]:
    """``make deb`` from this tree (pip's cache kept between runs, quick compression).
    lintian judges the first package while the clean root installs it; the rebuild for the
    upgrade is the same tree."""
    env = dict(os.environ, PIP_CACHE_DIR=str(CACHE / "pip"), DEB_COMPRESS="-Zxz -z1")
    argv = ["make", "-C", str(ROOT), "deb", f"DEB_BUILD={build_dir}"]
    argv.append("LINTIAN=true")  # the test runs lintian itself, beside the clean root
    if version:
        argv.append(f"DEB_VERSION={version}")
    CACHE.mkdir(parents=True, exist_ok=True)  # a fresh machine: the build starts first
    log = (CACHE / f"make-deb-{version or 'first'}.log").open("wb")
    # its own process group, so a failed or timed-out test stops dpkg-buildpackage and pip
    # too (killing make alone left them building into the next run's tree)
    return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def stop_build(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def finished(process: subprocess.Popen[bytes], what: str, timeout: float = 1500) -> None:
    try:
        code = process.wait(timeout=timeout)
    except BaseException:  # a timeout here or pytest-timeout's
        stop_build(process)
        raise
    if code != 0:
        name = Path(getattr(process.stdout, "name", "")).name
        raise AssertionError(f"{what} failed ({code}); see {CACHE}/{name or 'make-deb-*.log'}")


def exec_start(root: Path, name: str) -> tuple[list[str], dict[str, str]]:
    """The installed unit's ExecStart argv and Environment= values."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for line in (root / "lib/systemd/system" / name).read_text().splitlines():
        if line.startswith("ExecStart="):
            argv = shlex.split(line.split("=", 1)[1])
        elif line.startswith("Environment="):
            key, value = line.split("=", 1)[1].split("=", 1)
            env[key] = value
    return argv, env


class DaemonInRoot:
    """The daemon started exactly as the unit says: its ExecStart, its Environment=, as
    the service user, with the runtime dir systemd's RuntimeDirectory= would make."""

    def __init__(self, root: CleanRoot, log: Path, unit: str = "evidence-station.service",
                 port: int | None = None) -> None:
        argv, env = exec_start(root.path, unit)
        if port is not None:  # the web unit's own port may be taken on a shared test host
            argv[argv.index("--port") + 1] = str(port)
        runtime = root.path / "run/evidence-station"
        runtime.mkdir(mode=0o750, exist_ok=True)
        ids = root("id", "-u", USER).stdout.strip(), root("id", "-g", USER).stdout.strip()
        os.chown(runtime, int(ids[0]), int(ids[1]))
        os.chmod(runtime, 0o750)
        self.root = root
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            ["chroot", f"--userspec={USER}:{USER}", str(root.path), "/usr/bin/env", "-i",
             *(f"{k}={v}" for k, v in {**CHROOT_ENV, **env, "HOME": "/var/lib/evidence-station"
                                       }.items()), *argv],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.log_path = log

    def wait_until(self, argv: list[str], condition: Any, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited {self.process.returncode}: {self.output()}")
            result = self.root(*argv, check=False)
            last = result.stdout + result.stderr
            if result.returncode == 0 and condition(result.stdout):
                return result.stdout
            time.sleep(1)
        raise AssertionError(f"timed out: {last}\n{self.output()}")

    def wait_listening(self, timeout: float = 180) -> None:
        """Until the daemon accepts on its control socket: it has opened the station,
        noted an upgrade and installed its signal handlers by then. ``clips`` alone cannot
        say so: it reads the catalog, which answers before the daemon has even started."""
        path = self.root.path / "run/evidence-station/control.sock"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited {self.process.returncode}: {self.output()}")
            with socket.socket(socket.AF_UNIX) as probe, contextlib.suppress(OSError):
                probe.connect(str(path))
                return
            time.sleep(0.5)
        raise AssertionError(f"the daemon never listened on {path}\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        return self.process.returncode


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clips(stdout: str) -> list[dict[str, Any]]:
    return json.loads(stdout) if stdout.strip().startswith("[") else []  # type: ignore[no-any-return]


@contextlib.contextmanager
def clean_root(tmp_path: Path) -> Iterator[CleanRoot]:
    root = CleanRoot(tmp_path / "root")
    run(["cp", "-a", "--reflink=auto", str(base_root()), str(root.path)])
    try:
        root.open()
        yield root
    finally:
        root.close()


@pytest.mark.slow
@pytest.mark.root
def test_package_installs_upgrades_and_purges_in_a_clean_root(tmp_path: Path) -> None:
    for tool in ("dpkg-buildpackage", "dh_virtualenv", "lintian", "debootstrap", "systemd-analyze"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: `make test` installs it (Makefile APT_PACKAGES)")
    if os.geteuid() != 0:
        pytest.skip("chroot and mounts need root")
    from evidence_station.demo import make_demo_camera

    timings: dict[str, float] = {}
    started = time.monotonic()
    finished(build(None, "build/deb"), "make deb")
    timings["build"] = time.monotonic() - started
    first = sorted((ROOT / "dist").glob("evidence-station_0.1.0_amd64.deb"))[-1]
    # lintian and the higher version run while the clean root installs the first one.
    lintian = subprocess.Popen(["lintian", "--fail-on", "error,warning", str(first)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    upgrade_version = "0.1.0+upgradetest1"
    second_build = build(upgrade_version, "build/deb-upgrade")
    camera = make_demo_camera(tmp_path / "cam", count=1, seconds=0.5)
    report: dict[str, Any] = {"package": first.name, "size_bytes": first.stat().st_size}
    daemon: DaemonInRoot | None = None
    try:
        with clean_root(tmp_path) as root:
            shutil.copy2(first, root.path / "tmp" / first.name)
            root("apt-get", "update", "-qq")
            t0 = time.monotonic()
            root("apt-get", "install", "-y", "-qq", "--no-install-recommends", f"/tmp/{first.name}")
            timings["install"] = time.monotonic() - t0
            depends = root("dpkg-query", "-W", "-f=${Depends}", "evidence-station").stdout
            report["depends"] = depends

            # -- what it installs: files, owners, modes -------------------------------------
            p = root.path
            assert (p / "opt/evidence-station/bin/python3").exists()
            for tool in ("evidence-station", "evidence-station-verify"):
                assert os.readlink(p / "usr/bin" / tool) == f"/opt/evidence-station/bin/{tool}"
            passwd = root("getent", "passwd", USER).stdout.split(":")
            assert int(passwd[2]) < 1000 and passwd[6].strip() == "/usr/sbin/nologin"
            assert root("getent", "group", USER).returncode == 0
            data = p / "var/lib/evidence-station"
            assert data.stat().st_mode & 0o7777 == 0o700 and data.stat().st_uid == int(passwd[2])
            conffiles = root("dpkg-query", "-W", "-f=${Conffiles}", "evidence-station").stdout
            assert "/etc/evidence-station/config.toml" in conffiles
            for path in ("lib/systemd/system/evidence-station.service",
                         "lib/systemd/system/evidence-station-web.service",
                         "lib/udev/rules.d/70-evidence-station.rules",
                         "usr/share/man/man1/evidence-station.1.gz",
                         "usr/share/man/zh_CN/man1/evidence-station.1.gz",
                         "usr/share/man/man1/evidence-station-verify.1.gz"):
                assert (p / path).is_file(), path
            assert "执法记录仪" in root("evidence-station", "--help").stdout
            assert root("evidence-station-verify", "--help", check=False).returncode == 0
            # systemd-analyze from the root itself (systemd and man-db are not dependencies: a
            # station has them; minbase does not), so paths, users and man pages resolve there.
            root("apt-get", "install", "-y", "-qq", "--no-install-recommends", "systemd", "man-db")
            verify = root("systemd-analyze", "verify",
                          "/lib/systemd/system/evidence-station.service",
                          "/lib/systemd/system/evidence-station-web.service", check=False)
            assert verify.returncode == 0, verify.stdout + verify.stderr

            # -- first start: the daemon refuses before init, exit 2, says what to do -------
            argv, env = exec_start(p, "evidence-station.service")
            refused = root("/usr/bin/env", *(f"{k}={v}" for k, v in env.items()), *argv,
                           user=USER, check=False)
            assert refused.returncode == EXIT_USAGE, refused.stdout + refused.stderr
            assert "evidence-station init --station" in refused.stderr
            assert not (data / "station.json").exists()
            root("evidence-station", "init", "--station", "pkg-test-01")
            strangers = root("find", "/var/lib/evidence-station", "!", "-user", USER, "-o", "!",
                             "-group", USER).stdout.strip()
            assert strangers == "", strangers

            # -- a folder camera docked by the daemon; clients in and outside the group -----
            inbox = p / "srv/inbox"
            shutil.copytree(camera, inbox / "cam-1")
            for entry in [inbox, *inbox.rglob("*")]:
                entry.chmod(0o755 if entry.is_dir() else 0o644)
            config = p / "etc/evidence-station/config.toml"
            config.write_text(config.read_text().replace(
                "# inbox_dirs = []", 'inbox_dirs = ["/srv/inbox"]').replace(
                "# usb = true", "usb = false  # the test root shares the host's block devices"))
            daemon = DaemonInRoot(root, tmp_path / "daemon.log")
            listed = clips(daemon.wait_until(["evidence-station", "clips", "--json"],
                                             lambda out: len(clips(out)) >= 1))
            sha256 = listed[0]["sha256"]
            root("useradd", "-m", "-G", USER, "officer1")
            root("useradd", "-m", "outsider")
            root("evidence-station", "user", "add", "clerk1", "--role", "clerk", "--os-user",
                 "officer1", "--password-stdin", input="a long enough password 123\n")
            inside = root("evidence-station", "clips", "--json", user="officer1", check=False)
            assert inside.returncode == 0, inside.stderr
            assert [c["sha256"] for c in clips(inside.stdout)] == [sha256]
            outside = root("evidence-station", "clips", "--json", user="outsider", check=False)
            assert outside.returncode != 0 and sha256 not in outside.stdout
            # -- the web unit, started as it says: the station's screen shows the dock ------
            web_port = free_port()
            web = DaemonInRoot(root, tmp_path / "web.log", "evidence-station-web.service", web_port)
            try:
                fetch = ("import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("
                         f"'http://127.0.0.1:{web_port}' + sys.argv[1], timeout=5).read().decode())")
                screen = web.wait_until(["/opt/evidence-station/bin/python3", "-c", fetch, "/dock"],
                                        lambda out: "可以拔出" in out, timeout=60)
                assert "inbox:cam-1" in screen
                login_page = root("/opt/evidence-station/bin/python3", "-c", fetch, "/login").stdout
                assert 'name="csrf_token"' in login_page
                report["web_unit"] = f"/dock and /login answered on 127.0.0.1:{web_port}"
            finally:
                # uvicorn shuts down cleanly on SIGTERM, then dies of the signal it re-raises;
                # systemd counts that as a clean stop (SuccessExitStatus includes SIGTERM)
                stopped = web.stop()
                assert stopped in (0, -signal.SIGTERM), web.log_path.read_text(errors="replace")
            assert daemon.stop() == 0, daemon.output()
            daemon = None

            # -- upgrade: a rebuilt higher version over it -----------------------------------
            finished(second_build, "make deb DEB_VERSION=…")
            second = ROOT / "dist" / f"evidence-station_{upgrade_version}_amd64.deb"
            shutil.copy2(second, p / "tmp" / second.name)
            t0 = time.monotonic()
            upgraded = root("apt-get", "install", "-y", "-qq", "--no-install-recommends",
                            f"/tmp/{second.name}")
            timings["upgrade"] = time.monotonic() - t0
            assert "upgraded from 0.1.0" in upgraded.stdout
            assert 'inbox_dirs = ["/srv/inbox"]' in config.read_text()  # the admin's change kept
            daemon = DaemonInRoot(root, tmp_path / "daemon.log")
            daemon.wait_listening()
            listed = clips(daemon.wait_until(["evidence-station", "clips", "--json"],
                                             lambda out: len(clips(out)) >= 1))
            assert [c["sha256"] for c in listed] == [sha256]
            assert root("evidence-station", "check").returncode == 0
            root("evidence-station", "ledger", "export", "--out", "/tmp/bundle")
            events = [json.loads(line) for line in
                      (p / "tmp/bundle/events.jsonl").read_text().splitlines()]
            upgrades = [e for e in events if e["type"] == "station.upgrade"]
            assert [(e["from"], e["to"], e["actor"]) for e in upgrades] == [
                ("0.1.0", upgrade_version, "station")]
            assert root("evidence-station-verify", "/tmp/bundle").returncode == 0
            assert daemon.stop() == 0, daemon.output()
            daemon = None

            lint_output = lintian.communicate(timeout=900)[0].decode(errors="replace")
            assert lintian.returncode == 0, lint_output[-3000:]
            tags = [line for line in lint_output.splitlines() if re.match(r"^[EWIPXO]: ", line)]
            report["lintian"] = tags or "clean (overrides in debian/*.lintian-overrides)"

            # -- remove and purge never delete evidence --------------------------------------
            removed = root("apt-get", "remove", "-y", "-qq", "evidence-station")
            assert "/var/lib/evidence-station is kept" in removed.stdout
            purged = root("apt-get", "purge", "-y", "-qq", "evidence-station")
            assert "/var/lib/evidence-station is kept" in purged.stdout
            assert not (p / "opt/evidence-station/bin").exists()
            assert not (p / "etc/evidence-station/config.toml").exists()
            assert (data / "station.json").is_file()
            stored = [f for f in (data / "store").rglob("*") if f.is_file() and sha256 in f.name]
            assert stored, f"clip {sha256} not in the store after purge"
            assert data.stat().st_mode & 0o7777 == 0o700
    finally:
        if daemon is not None:
            daemon.stop()
        if lintian.poll() is None:
            lintian.kill()
            lintian.communicate()
        stop_build(second_build)
    timings["total"] = time.monotonic() - started
    report["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    sys.stderr.write("package report: " + json.dumps(report) + "\n")
    (CACHE / "package-report.json").write_text(json.dumps(report, indent=1))
