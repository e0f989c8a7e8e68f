"""Errors that carry their message (zh and en) and their exit code (borg's habit).

Exit codes are part of the command-line contract: 1 a finding (integrity failure,
flagged input), 2 a usage or environment error.
"""

from __future__ import annotations

from evidence_station.i18n import Lang

EXIT_FINDING = 1
EXIT_USAGE = 2


class EvidenceStationError(Exception):
    """Base class. Subclasses set ``zh``/``en`` templates formatted with the kwargs."""

    exit_code = EXIT_USAGE
    zh = "{detail}"
    en = "{detail}"

    def __init__(self, **values: object) -> None:
        self.values = values
        super().__init__(self.render("en"))

    def render(self, lang: Lang) -> str:
        template = self.zh if lang == "zh" else self.en
        return template.format(**self.values)


class ConfigError(EvidenceStationError):
    zh = "配置文件 {path} 有误：{detail}"
    en = "configuration file {path} is invalid: {detail}"


class NotInitialisedError(EvidenceStationError):
    zh = "{data_dir} 不是已初始化的数据目录；请先运行 `evidence-station init --station 名称`"
    en = "{data_dir} is not an initialised data directory; run `evidence-station init --station NAME` first"


class DaemonNotInitialisedError(EvidenceStationError):
    """An installed station's daemon never invents a station name (exit 2, which the unit's
    RestartPreventExitStatus= does not restart)."""

    zh = ("{data_dir} 尚未初始化，守护进程不启动。请以 root 身份运行 "
          "`evidence-station init --station 名称`，再运行 `systemctl start evidence-station`")
    en = ("{data_dir} is not initialised, so the daemon does not start. As root, run "
          "`evidence-station init --station NAME`, then `systemctl start evidence-station`")


class AlreadyInitialisedError(EvidenceStationError):
    zh = "{data_dir} 已经初始化（站点 {station}），不会覆盖"
    en = "{data_dir} is already initialised (station {station}); refusing to overwrite it"


class SourceNotFoundError(EvidenceStationError):
    zh = "找不到来源 {path}：请检查路径或记录仪是否已挂载"
    en = "source {path} not found: check the path, or that the camera is mounted"


class ClipNotFoundError(EvidenceStationError):
    zh = "没有编号为 {clip} 的片段（可用 `clips` 查看）"
    en = "no clip {clip} (see `clips`)"


class AmbiguousClipError(EvidenceStationError):
    zh = "编号前缀 {clip} 对应多个片段：{matches}；请输入更长的编号"
    en = "clip prefix {clip} matches several clips: {matches}; give more characters"


class StoreFullError(EvidenceStationError):
    zh = ("存储空间不足：{file} 需要 {needed}，{store} 只剩 {free}。已停止入库，未写入半截文件，"
          "记录仪上的数据未动；请扩充存储后重新接入。")
    en = ("the store is full: {file} needs {needed} but {store} has {free} free. Ingest stopped, "
          "nothing half-written was kept and the camera is untouched; add storage and dock again.")


class StoreIOError(EvidenceStationError):
    zh = "写入存储 {store} 失败（{detail}），处理 {file} 时；已停止入库，记录仪未动。请检查存储磁盘。"
    en = "writing to the store {store} failed ({detail}) while storing {file}; ingest stopped, the camera is untouched. Check the store disk."


class IntegrityAlarm(EvidenceStationError):
    exit_code = EXIT_FINDING
    zh = "完整性告警：{detail}"
    en = "integrity alarm: {detail}"


class LedgerProblem(EvidenceStationError):
    zh = "账本问题：{detail}"
    en = "ledger problem: {detail}"


class RefusedError(EvidenceStationError):
    """A request that breaks a rule; the message says which rule and what to do.

    Raised by validation before anything is recorded or written (DESIGN.md, one door)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail)

    zh = "已拒绝：{detail}"
    en = "refused: {detail}"


class NotAuthorisedError(EvidenceStationError):
    """Who is asking could not be mapped to an account allowed to do this."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail)

    zh = "无权操作：{detail}"
    en = "not authorised: {detail}"


class ServiceNotRunningError(EvidenceStationError):
    """No daemon answers, and the caller may not open the data dir in-process."""

    zh = ("工作站服务未运行（{data_dir} 没有守护进程应答）；没有服务时只有 root 或服务用户能执行命令。"
          "请管理员启动服务：systemctl start evidence-station")
    en = ("the station's service is not running (no daemon answers for {data_dir}); without it "
          "only root or the service user can run commands. Ask an admin to start it: "
          "systemctl start evidence-station")


class ControlError(EvidenceStationError):
    """The daemon could not be reached, or the control socket broke mid-request."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail=detail)

    zh = "与工作站服务通信失败：{detail}"
    en = "talking to the station service failed: {detail}"


class CatalogWriteError(EvidenceStationError):
    """The catalog (a projection of the ledger) could not be written: a full or failing
    disk under it. What the ledger holds is not affected; the catalog catches up from
    the ledger on the next change or start, so nothing needs repair once the disk does."""

    zh = ("写入目录数据库 {catalog} 失败（{detail}）。{recorded_zh}请释放空间或检查磁盘（dmesg）；"
          "恢复后下一次操作或重启时目录会自动从账本补齐，无需手工修复。")
    en = ("writing the catalog {catalog} failed ({detail}). {recorded}Free space or check the "
          "disk (dmesg); once it is fixed the catalog catches up from the ledger by itself at "
          "the next change or start, no manual repair needed.")
