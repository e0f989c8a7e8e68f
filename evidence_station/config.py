"""Configuration: a TOML file validated by strict pydantic models (frigate's habit).

A misspelled key fails at start with the file and the key named. Every field has a
description so the web UI can use it as a label. ``version`` allows pure migrations.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError, core_schema

from evidence_station.errors import ConfigError

CONFIG_VERSION = 1
SYSTEM_CONFIG = Path("/etc/evidence-station/config.toml")  # the Debian package's conffile
DEFAULT_DATA_DIR = Path(
    os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")
) / "evidence-station"


class _AnyNetwork:
    """pydantic's ``IPvAnyNetwork``, the same validation, error and JSON form, without
    importing ``pydantic.networks`` (its URL and e-mail types cost every command ~20 ms of
    start, issue 16): an IPv4 network, else an IPv6 network, else
    "value is not a valid IPv4 or IPv6 network"."""

    @staticmethod
    def _validate(value: Any) -> IPv4Network | IPv6Network:
        try:
            return IPv4Network(value)
        except ValueError:
            pass
        try:
            return IPv6Network(value)
        except ValueError:
            raise PydanticCustomError(
                "ip_any_network", "value is not a valid IPv4 or IPv6 network") from None

    def __get_pydantic_core_schema__(self, source: Any,
                                     handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self._validate, serialization=core_schema.to_string_ser_schema())

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> dict[str, Any]:
        return {"type": "string", "format": "ipvanynetwork"}


AnyNetwork = Annotated[IPv4Network | IPv6Network, _AnyNetwork()]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationConfig(Strict):
    data_dir: Path | None = Field(
        None, title="数据目录 Data directory",
        description="Holds store, catalog, ledger and keys. "
        "`--data-dir` and EVIDENCE_STATION_DATA_DIR override it.",
    )
    timezone: str = Field(
        "Asia/Shanghai", title="时区 Time zone",
        description="Zone of camera clocks; camera file names carry local time without a zone.",
    )


class IngestConfig(Strict):
    recording_extensions: list[str] = Field(
        default_factory=lambda: [
            "mp4", "mov", "avi", "mkv", "ts", "3gp",
            "wav", "mp3", "aac", "m4a", "amr", "jpg", "jpeg", "png",
        ],
        title="录像文件扩展名 Recording extensions",
        description="Files with these extensions are ingested; others are listed as skipped.",
    )
    reserve_mib: int = Field(
        256, ge=0, le=1_048_576, title="保留空间 Reserved space (MiB)",
        description="Ingest stops before a file would leave less than this free on the store.",
    )
    earliest_plausible_year: int = Field(
        2010, ge=1980, le=2100, title="最早可信年份 Earliest plausible year",
        description="File or name times before this year are flagged (a camera clock reset to 1970).",
    )
    future_tolerance_s: int = Field(
        300, ge=0, le=86_400, title="未来时间容差 Future tolerance (s)",
        description="File or name times later than the station clock plus this are flagged.",
    )


class DaemonConfig(Strict):
    inbox_dirs: list[Path] = Field(
        default_factory=list, title="收件目录 Inbox folders",
        description="Folders (card readers, copied camera folders) watched for cameras: each "
        "subfolder is one camera.",
    )
    demo_camera: bool = Field(
        True, title="演示记录仪 Demo camera",
        description="With no camera plugged in and no inbox configured, dock a generated demo camera.",
    )
    poll_seconds: float = Field(2.0, gt=0, le=3600, title="轮询间隔 Poll interval (s)",
                                description="How often docks waiting for acceptance are looked at again.")
    settle_seconds: float = Field(
        2.0, ge=0, le=600, title="静置时间 Settle time (s)",
        description="An inbox folder is docked once nothing in it changed for this long.")
    usb: bool = Field(True, title="USB 接入 USB docks",
                      description="Watch block devices (USB cameras, card readers, loop images).")
    uevent_source: Literal["auto", "udev", "kernel"] = Field(
        "auto", title="设备事件来源 Uevent source",
        description="udev when udevd runs (richer events), kernel uevents otherwise.")
    # Issue 16 (benchmarks/bench_docks.py, README "Speed at scale"): 24 cameras on 2 cores,
    # 4 × 64 MiB each, the cameras' buses simulated exactly: 12 copied 336 MB/s with every
    # port within 3.3 % of its fair share; 24 copied 345 MB/s but the ports with the faster
    # buses took up to 54 % more than theirs (with a slot each, nobody waits, so nothing
    # arbitrates: copies are CPU-bound and the lowest-latency camera wins); 8, 246 MB/s.
    # Raise it on a station with more cores and a faster store (each USB 2.0 slot carries
    # ~30 MB/s); lower it for spinning disks. Memory is bounded by the buffer pools.
    max_parallel_copies: int = Field(
        12, ge=1, le=24, title="同时复制数 Parallel copies",
        description="How many files copy at once across all docks. Slots are shared in "
        "turns of 8 MiB, least-served port first, so every docked camera keeps moving.")
    wipe_after_commit: bool = Field(
        False, title="入库后清除记录仪 Wipe cameras after commit",
        description="After a docking in which every file was verified and committed, remove those "
        "files from the camera (each re-hashed first; changed files stay). Off by default.")
    set_camera_clock: bool = Field(
        False, title="校时 Set camera clocks",
        description="After every file is committed and the clock reading is ledgered, write the "
        "time file a camera's profile declares (the only write to a camera). Off by default.")
    profile_dirs: list[Path] = Field(
        default_factory=list, title="厂商配置目录 Vendor profile folders",
        description="Extra folders of vendor profiles (*.toml); a profile with the same name "
        "replaces the shipped one.")
    runtime_dir: Path | None = Field(
        None, title="运行目录 Runtime folder",
        description="Where the control socket lives, outside the data dir (0700) so that other "
        "OS users in the socket group can reach it: /run/evidence-station under systemd. "
        "Unset: DATA_DIR/run (a checkout; only the data dir's owner and root can connect).")
    socket_group: str | None = Field(
        None, title="套接字用户组 Socket group",
        description="OS group whose members may connect to the control socket (socket 0660); "
        "each still acts only as the account its OS user is mapped to. Unset: socket 0600.")


DEADLINE_PATTERN = r"^\s*\d+\s*(wd|h)\s*$"  # what retention.workdays.DeadlineRule.parse reads


class AnalysisConfig(Strict):
    enabled: bool = Field(True, title="自动分析 Analyse after commit",
                          description="The daemon analyses each committed clip in the background.")
    speech_model_dir: Path | None = Field(
        None, title="语音模型目录 Speech model folder",
        description="A faster-whisper (CTranslate2) Whisper model folder for the spoken statement "
        "(e.g. Whisper small or medium for better Chinese). Needs speech_model_sha256. Unset: the "
        "multilingual base model of the speech-zh extra, when installed.")
    speech_model_sha256: str | None = Field(
        None, pattern=r"^[0-9a-fA-F]{64}$", title="语音模型哈希 Speech model SHA-256",
        description="`cd DIR && LC_ALL=C sha256sum * | sha256sum` (`evidence-station models hash "
        "DIR`); a model that no longer hashes to this is never loaded.")
    speech_auto: bool = Field(
        True, title="默认语音模型 Default speech model",
        description="Without speech_model_dir, use the multilingual Whisper base model (assembled "
        "into the data dir from the speech-zh packages). Off: no statement check without a folder.")
    speech_language: str | None = Field(
        "zh", title="语音语言 Statement language",
        description="Language of the statements (zh, en …); empty lets the model detect it.")
    speech_prompt: str | None = Field(
        None, title="语音提示 Initial prompt",
        description="Text that sets the register of a start statement for the model; default none "
        "(measured: it lowered recovery). Never put a date or time in it: the model copies them.")
    min_statement_confidence: float = Field(
        0.8, ge=0, le=1, title="语音说明置信度 Statement confidence",
        description="A stated time read with less confidence is flagged 'unsure' for review "
        "instead of being compared with the camera clock.")
    statement_seconds: int = Field(30, ge=5, le=300, title="语音说明时长 Statement window (s)",
                                   description="How much of each clip's start is transcribed.")
    drift_threshold_s: int = Field(
        120, ge=0, le=86_400, title="时钟偏差阈值 Drift threshold (s)",
        description="Camera time vs spoken time beyond this is flagged (R1, R13).")
    restart_window_s: int = Field(
        120, ge=0, le=86_400, title="中止判定 Restart window (s)",
        description="A clip starting this soon after the previous one ended is a restart and must "
        "state why (R3).")
    overlap_tolerance_s: int = Field(2, ge=0, le=3600, title="重叠容差 Overlap tolerance (s)",
                                     description="Clips overlapping more than this are flagged.")
    storage_deadline: str = Field(
        "2wd", pattern=DEADLINE_PATTERN, title="存储时限 Storage deadline",
        description="R4: '2wd' = 2 working days (000, 001, 004), '1wd', '24h' (002).")
    remote_storage_deadline: str = Field(
        "1wd", pattern=DEADLINE_PATTERN, title="外勤返回后存储时限 Deadline after remote work",
        description="R4: after returning from remote or continuous work, counted from the return "
        "('1wd' in 004, '2wd' in 001, '24h' in 002).")
    calendar_dirs: list[Path] = Field(
        default_factory=list, title="工作日历目录 Calendar folders",
        description="Extra working-day data files (*.toml) for years chinese-calendar lacks.")

    @model_validator(mode="after")
    def _pinned(self) -> AnalysisConfig:
        if self.speech_model_dir is not None and self.speech_model_sha256 is None:
            raise ValueError("analysis.speech_model_dir needs analysis.speech_model_sha256 "
                             f"(print it with: evidence-station models hash {self.speech_model_dir})")
        return self


class RetentionConfig(Strict):
    general_months: int = Field(
        3, ge=3, le=1200, title="一般保存期（月） General retention (months)",
        description="R6: at least 3 months (000:27, 004:26); 6 in some units (003:14).")
    litigation_months: int = Field(
        6, ge=0, le=1200, title="诉讼期（月） Litigation period (months)",
        description="R6 (003:14): penalty/coercion case footage that is not evidence is kept at "
        "least this long after it was labelled with the case.")
    long_term_categories: list[str] = Field(
        default_factory=lambda: ["dispute", "complaint", "obstruction", "assault", "mass_incident",
                                 "emergency"],
        title="长期保存类别 Long-term categories", description="R9 (003:15): never expire here.")
    sweep_hour: int = Field(2, ge=0, le=23, title="清理时间 Sweep hour",
                            description="The daemon lists expired footage daily at this hour.")


class WebConfig(Strict):
    idle_minutes: int = Field(
        30, ge=1, le=24 * 60, title="空闲超时（分钟） Idle timeout (minutes)",
        description="A web session unused this long ends; the user logs in again.")
    lifetime_hours: float = Field(
        12, gt=0, le=7 * 24, title="会话最长时长（小时） Session lifetime (hours)",
        description="A web session ends this long after login, however busy it is.")
    trusted_proxies: list[AnyNetwork] = Field(
        default_factory=list, title="可信代理 Trusted proxies",
        description="Addresses (or networks) of reverse proxies in front of the web UI. Only when "
        "the direct peer is one of them is X-Forwarded-For believed; otherwise anyone could "
        "claim any address and dodge the login throttle.")
    login_failures_per_minute: int = Field(
        5, ge=1, le=1000, title="登录失败上限（每分钟） Login failures per minute",
        description="Failed logins allowed per client address and, separately, per account name "
        "within a minute; more are refused until the minute has passed.")
    page_size: int = Field(50, ge=1, le=1000, title="每页条数 Rows per page",
                           description="Clips (and ledger events) listed per page.")


class WitnessConfig(Strict):
    """The witnesses this station asks to cosign its checkpoints (DESIGN.md, "Witnesses")."""

    urls: list[str] = Field(
        default_factory=list, title="证人地址 Witness URLs",
        description="Each witness's submission prefix (http://host:port); POST "
        "<url>/add-checkpoint is asked after every checkpoint and on a schedule.")
    keys: list[str] = Field(
        default_factory=list, title="证人公钥 Witness keys",
        description="The verifier key line of each witness (`evidence-station witness key` "
        "on it prints one), in the order of `urls`: keys[i] is the witness at urls[i].")
    timeout_s: float = Field(
        5.0, gt=0, le=120, title="请求超时 Request timeout (s)",
        description="How long one request to a witness may take.")
    retry_every_s: int = Field(
        300, ge=1, le=86_400, title="重试间隔 Retry interval (s)",
        description="An unreachable witness is asked again on this schedule (the daemon); "
        "in between, checkpoints are issued without waiting for it.")
    alarm_after_s: int = Field(
        3600, ge=0, le=30 * 86_400, title="失联告警 Unreachable alarm after (s)",
        description="A witness unreachable for longer than this raises an alarm (ledger "
        "event, review flag, journald crit). A refusal is an alarm at once.")

    @model_validator(mode="after")
    def _paired(self) -> WitnessConfig:
        if len(self.urls) != len(self.keys):
            raise ValueError(f"[witness] has {len(self.urls)} urls and {len(self.keys)} keys: "
                             "give one key per url, in the same order")
        for url in self.urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"[witness] url {url!r} must start with http:// or https://")
        return self


class WitnessServerConfig(Strict):
    """What `witness serve` follows when this station is a witness for others."""

    logs: list[str] = Field(
        default_factory=list, title="跟随的站点 Followed logs",
        description="The verifier key line of each station this witness follows (its "
        "`station.vkey`); the key's name is the log's origin.")
    name: str | None = Field(
        None, title="证人名称 Witness name",
        description="Name of the witness key when it is first made; default "
        "<this station's origin>/witness.")
    host: str = Field("127.0.0.1", title="监听地址 Listen address",
                      description="Address `witness serve` listens on; --host overrides it.")
    port: int = Field(7380, ge=0, le=65535, title="端口 Port",
                      description="Port `witness serve` listens on; --port overrides it.")


class ScrubConfig(Strict):
    """The scheduled scrub (F34): the daemon re-hashes the store and re-verifies the ledger."""

    every: str = Field(
        "7d", min_length=2, max_length=32, title="巡检间隔 Scrub interval",
        description="A whole pass starts this long after the last completed one: \"7d\", "
        "\"12h\", \"30m\" (or combined, \"1d12h\"); an interrupted pass is due at once.")
    max_read_mb_s: float = Field(
        50.0, gt=0, le=100_000, title="巡检读取上限 Scrub read limit (MB/s)",
        description="The scrub reads at most this many megabytes (10^6 bytes) a second, at "
        "idle I/O priority, so docks keep their copy speed.")

    @model_validator(mode="after")
    def _positive(self) -> ScrubConfig:
        from evidence_station.durations import parse_duration

        parse_duration(self.every)  # "7d", "12h", "30m"; ValueError names the forms
        return self

class FleetConfig(Strict):
    """Replication to the unit's central engines (DESIGN.md, "Beyond one station"):
    PostgreSQL for the ledger mirror and fleet catalog, S3 Object Lock for footage.
    Credentials for S3 come from the usual AWS variables or files, never from here."""

    database_url: str | None = Field(
        None, title="中心数据库 Central database (libpq URL)",
        description="postgresql://user@host/db (a password belongs in ~/.pgpass or "
        "PGPASSWORD); unset: no replication.")
    s3_endpoint_url: str | None = Field(
        None, title="对象存储地址 S3 endpoint URL",
        description="MinIO / Ceph RGW endpoint; unset: AWS S3 of s3_region.")
    s3_bucket: str | None = Field(
        None, title="存储桶 S3 bucket",
        description="A bucket with Object Lock (and so versioning) enabled; unset: no replication.")
    s3_region: str = Field("us-east-1", title="区域 S3 region", description="The bucket's region.")
    every_s: int = Field(
        60, ge=1, le=86_400, title="同步间隔 Replication interval (s)",
        description="The daemon runs a catch-up pass this often (and once at start).")
    alarm_after_s: int = Field(
        86_400, ge=0, le=90 * 86_400, title="滞后告警 Behind alarm after (s)",
        description="Behind the mirror for longer than this → alarm (ledger event, review flag, "
        "journald crit).")
    batch_events: int = Field(
        1000, ge=1, le=100_000, title="批量事件数 Events per batch",
        description="Ledger events sent per PostgreSQL transaction (bounds memory).")
    multipart_threshold_mib: int = Field(
        5120, ge=5, le=5_000_000, title="分片阈值 Multipart threshold (MiB)",
        description="Files larger than this go multipart (per-part SHA-256, resumable); "
        "smaller ones are one PUT with x-amz-checksum-sha256.")
    part_size_mib: int = Field(
        64, ge=5, le=5120, title="分片大小 Part size (MiB)",
        description="Size of each multipart part (S3 minimum 5 MiB).")
    timeout_s: float = Field(
        10.0, gt=0, le=600, title="连接超时 Connect timeout (s)",
        description="Connecting to PostgreSQL or S3 gives up after this; the station goes on.")

    @property
    def enabled(self) -> bool:
        return bool(self.database_url and self.s3_bucket)


class Config(Strict):
    version: int = Field(CONFIG_VERSION, ge=1, le=CONFIG_VERSION,
                         description="Configuration format version.")
    station: StationConfig = Field(default_factory=StationConfig)  # type: ignore[arg-type]
    ingest: IngestConfig = Field(default_factory=IngestConfig)  # type: ignore[arg-type]
    daemon: DaemonConfig = Field(default_factory=DaemonConfig)  # type: ignore[arg-type]
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)  # type: ignore[arg-type]
    retention: RetentionConfig = Field(default_factory=RetentionConfig)  # type: ignore[arg-type]
    web: WebConfig = Field(default_factory=WebConfig)  # type: ignore[arg-type]
    witness: WitnessConfig = Field(default_factory=WitnessConfig)  # type: ignore[arg-type]
    witness_server: WitnessServerConfig = Field(default_factory=WitnessServerConfig)  # type: ignore[arg-type]
    scrub: ScrubConfig = Field(default_factory=ScrubConfig)  # type: ignore[arg-type]

    fleet: FleetConfig = Field(default_factory=FleetConfig)  # type: ignore[arg-type]


MIGRATIONS: dict[int, Any] = {}
"""``version -> function(dict) -> dict`` upgrading a raw config by one version."""


def _error_location(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(top level)"


def find_config(option: Path | None) -> Path | None:
    """Which file configures this run (DESIGN.md, "Settled between issues"): ``--config``,
    else ``$EVIDENCE_STATION_CONFIG``, else the installed station's conffile if it exists,
    else ``None`` — the embedded defaults of a checkout (demo camera, auto-init).

    The lookup is what lets an admin type ``evidence-station init`` on an installed
    station and reach the same data dir and socket as the service unit."""
    if option is not None:
        return option
    env = os.environ.get("EVIDENCE_STATION_CONFIG")
    if env:
        return Path(env)
    return SYSTEM_CONFIG if SYSTEM_CONFIG.is_file() else None


def load_config(path: Path | None) -> Config:
    """Load ``path`` (or the embedded defaults when ``None``)."""
    if path is None:
        return Config.model_validate({})
    import tomllib  # only with a file: the embedded defaults need no parser (issue 16)

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(path=path, detail="file not found / 文件不存在") from err
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(path=path, detail=f"not valid TOML: {err}") from err
    version = raw.get("version", CONFIG_VERSION)
    while isinstance(version, int) and version in MIGRATIONS:
        raw = MIGRATIONS[version](raw)
        version = raw.get("version")
    try:
        return Config.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"key `{_error_location(item)}`: {item['msg']}" for item in err.errors()
        )
        raise ConfigError(path=path, detail=problems) from err


def resolve_data_dir(option: Path | None, config: Config) -> Path:
    """``--data-dir``, else EVIDENCE_STATION_DATA_DIR, else config, else the default."""
    if option is not None:
        return option
    env = os.environ.get("EVIDENCE_STATION_DATA_DIR")
    if env:
        return Path(env)
    if config.station.data_dir is not None:
        return config.station.data_dir
    return DEFAULT_DATA_DIR
