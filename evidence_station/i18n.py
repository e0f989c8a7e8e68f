"""User-facing text: zh-CN first, English available (DESIGN.md, "Domain words").

Messages live in one table so a translator sees them all; code refers to them by key.
The language comes from ``--lang``, else ``LANG`` (``en*`` → English), else Chinese.
"""

from __future__ import annotations

import os
from typing import Literal

Lang = Literal["zh", "en"]

MESSAGES: dict[str, tuple[str, str]] = {
    # ingest progress and summary
    "scan": ("扫描 {source}", "Scanning {source}"),
    "total": ("总计", "Total"),
    "summary.title": ("入库汇总 · {source}", "Ingest summary · {source}"),
    "col.file": ("文件", "File"),
    "col.size": ("大小", "Size"),
    "col.sha256": ("SHA-256", "SHA-256"),
    "col.result": ("结果", "Result"),
    "col.id": ("编号", "ID"),
    "col.station_flag": ("整站（证人）", "whole station (witness)"),
    "col.device": ("产品序号", "Device"),
    "col.officer": ("警号", "Officer"),
    "col.recorded": ("录制时间", "Recorded"),
    "col.ingested": ("入库时间", "Ingested"),
    "col.flags": ("标记", "Flags"),
    "col.source": ("原路径", "Source path"),
    "status.committed": ("已入库", "committed"),
    "status.duplicate": ("内容重复（已记录来源）", "duplicate content (source recorded)"),
    "status.already": ("此前已入库", "already ingested"),
    "status.skipped": ("跳过", "skipped"),
    "status.failed": ("失败", "failed"),
    "session.completed": ("会话完成", "session completed"),
    "session.interrupted": ("会话中断", "session interrupted"),
    "summary.counts": (
        "共 {files} 个文件：入库 {committed}，重复 {duplicate}，此前已入库 {already}，"
        "跳过 {skipped}，失败 {failed}；写入 {bytes}",
        "{files} files: {committed} committed, {duplicate} duplicate, {already} already "
        "ingested, {skipped} skipped, {failed} failed; {bytes} stored",
    ),
    "summary.checkpoint": ("签名检查点：树大小 {size}，根 {root}", "Signed checkpoint: tree size {size}, root {root}"),
    "summary.safe": ("所有文件已核验入库，可以拔出记录仪。", "Every file is verified and committed: safe to unplug."),
    "summary.unsafe": (
        "有文件未入库（见上表），请勿清除记录仪中的数据。",
        "Some files were not committed (see above): do not wipe the camera.",
    ),
    # check
    "check.ok": ("检查通过：{what}", "Check passed: {what}"),
    "check.failed": ("检查发现 {count} 个问题", "Check found {count} problem(s)"),
    "check.proves": (
        "账本 {events} 条事件哈希链完整、Merkle 根与签名检查点一致；存储 {objects} 个文件齐全{data}；"
        "目录与账本一致",
        "ledger chain of {events} events intact, Merkle root matches the signed checkpoint; "
        "{objects} stored files present{data}; catalog matches the ledger",
    ),
    "check.data": ("且内容哈希全部正确", " and every file re-hashed correctly"),
    "check.nodata": ("（未重新计算内容哈希，用 --verify-data）", " (contents not re-hashed; use --verify-data)"),
    # init
    "init.done": (
        "已初始化站点 {station}：{data_dir}\n验证公钥：{vkey}",
        "Initialised station {station} in {data_dir}\nVerifier key: {vkey}",
    ),
    "rebuild.done": ("目录已从账本重建：{clips} 个片段，{sources} 个来源", "Catalog rebuilt from the ledger: {clips} clips, {sources} sources"),
    "export.done": ("导出包已写入 {out}：{events} 条事件，{proofs} 个证明，{files} 个文件", "Bundle written to {out}: {events} events, {proofs} proofs, {files} files"),
    "checkpoint.done": ("检查点已签发：树大小 {size}，根 {root}", "Checkpoint issued: tree size {size}, root {root}"),
    "witness.none": ("未配置证人（[witness] urls）。", "No witnesses configured ([witness] urls)."),
    "witness.cosigned": ("证人 {witness} 已联署检查点（树大小 {size}）", "Witness {witness} cosigned the checkpoint at tree size {size}"),
    "witness.refused": ("证人 {witness} 拒绝联署（树大小 {size}）：{detail}", "Witness {witness} refused the checkpoint at tree size {size}: {detail}"),
    "witness.unreachable": ("证人 {witness}（{url}）无法连接：{detail}", "Witness {witness} ({url}) is unreachable: {detail}"),
    "witness.skipped": ("证人 {witness} 暂未请求：{detail}", "Witness {witness} not asked now: {detail}"),
    "recover.none": ("账本完整，无需恢复。", "The ledger is intact; nothing to recover."),
    "recover.done": (
        "已恢复：保留 {kept} 条完整事件，残缺字节已移至 {quarantine}",
        "Recovered: kept {kept} complete events, moved the broken bytes to {quarantine}",
    ),
    # docks and the daemon
    "state.detected": ("已检测到", "detected"),
    "state.mounting": ("挂载中（只读）", "mounting (read-only)"),
    "state.copying": ("复制中", "copying"),
    "state.verifying": ("校验中", "verifying"),
    "state.committed": ("已入库", "committed"),
    "state.safe_to_unplug": ("可以拔出", "safe to unplug"),
    "state.waiting": ("等待登记", "waiting for acceptance"),
    "state.error": ("错误", "error"),
    "dock.title": ("接入口状态", "Docks"),
    "dock.port": ("接口", "Port"),
    "dock.files": ("文件", "Files"),
    "dock.bytes": ("数据量", "Bytes"),
    "dock.speed": ("速度", "Speed"),
    "dock.state": ("状态", "State"),
    "dock.none": ("暂无记录仪接入", "No camera docked"),
    "dock.unknown_storage": (
        "未识别的USB存储（不匹配任何厂商配置，也未登记），未入库。如确为执法记录仪，请书记员或管理员登记："
        "evidence-station device register {device_id} --officer-id 警号",
        "USB storage that matches no vendor profile and no registered device was not ingested. If it "
        "is a camera, a clerk or admin accepts it with: evidence-station device register {device_id} "
        "--officer-id ID"),
    "dock.unplugged": ("记录仪在复制过程中被拔出；已入库的文件已记录，重新接入即可继续",
                       "camera unplugged during the copy; committed files are recorded, dock it again to resume"),
    "dock.stopping": ("工作站正在停止；重新启动后接入即可继续", "station stopping; dock again after restart to resume"),
    "dock.receipt": ("交接回执：{path}", "Docking receipt: {path}"),
    "receipt.title": ("执法记录仪数据交接回执", "Body-worn camera docking receipt"),
    # analysis and the review queue
    "statement.none": ("未能从文本中识别出时间。", "The text states no time of day."),
    "analysis.done": ("已分析 {count} 个片段；待复核 {flags} 项。", "Analysed {count} clip(s); {flags} flag(s) open for review."),
    "review.empty": ("待复核队列为空。", "The review queue is empty."),
    "review.title": ("待复核队列", "Review queue"),
    "review.flag": ("标记编号", "Flag"),
    "review.kind": ("问题", "Kind"),
    "review.figures": ("数据", "Figures"),
    "review.article": ("依据", "Rule"),
    "review.state": ("状态", "State"),
    "flag.witness_refused": ("证人拒绝联署检查点（账本可能被改写或分叉）", "a witness refused the checkpoint (history rewritten or forked?)"),
    "flag.witness_unreachable": ("证人长时间无法连接，检查点未获联署", "a witness unreachable too long: checkpoints not cosigned"),
    "flag.clock_drift": ("记录仪时间与语音说明不符", "camera clock vs spoken time"),
    "flag.clock_ahead": ("记录仪时钟超前", "camera clock ahead of the station"),
    "flag.statement_needed": ("需补录语音说明时间", "statement time needed"),
    "flag.statement_unreadable": ("语音说明中未识别出时间", "no time found in the statement"),
    "flag.statement_unsure": ("语音说明时间识别不确定，请人工核对", "stated time unsure: check by listening"),
    "flag.interruption_unexplained": ("中止后重新录制未说明原因", "restart without a stated reason"),
    "flag.overlap": ("录像时间重叠", "recordings overlap"),
    "flag.missing_files": ("文件编号缺失（可能有文件未上传）", "file numbers missing (files left behind?)"),
    "flag.late_storage": ("超过存储时限", "stored after the deadline"),
    "flag.media_damaged": ("媒体文件损坏或不完整", "media damaged or incomplete"),
    # casework
    "casework.labelled": ("已标注 {count} 个片段（账本 #{seq}）", "Labelled {count} clip(s) (ledger #{seq})"),
    "casework.designated": ("已将 {clip} 指定为证据（账本 #{seq}）", "Designated {clip} as evidence (ledger #{seq})"),
    "casework.release_requested": ("已提交对外提供申请 #{request}（片段 {clip}）；须由另一名管理员执行 `access approve {request}` 审批", "Release request #{request} filed for {clip}; another admin approves it with `access approve {request}`"),
    "writer.waiting": ("另一个命令正在写入账本，等待其完成……", "another command is writing the ledger; waiting for it to finish…"),
    "casework.access": ("已登记 {kind}：{clip}（账本 #{seq}）", "Registered {kind} of {clip} (ledger #{seq})"),
    "retention.expired": ("已过保存期：{count} 个片段", "Past retention: {count} clip(s)"),
    "daemon.demo": ("未检测到记录仪，使用演示记录仪：{path}", "No camera plugged in; using the demo camera at {path}"),
    "daemon.watching": ("监视收件目录：{dirs}（Ctrl-C 退出）", "Watching inbox folders: {dirs} (Ctrl-C to stop)"),
    "no.clips": ("没有片段。", "No clips."),
    # the scheduled scrub (F34)
    "scrub.clean": ("巡检完成，未发现不一致。", "Scrub pass clean."),
    "scrub.alarm": ("完整性告警：发现 {count} 处不一致", "Integrity alarm: {count} mismatch(es)"),
    "scrub.summary": ("重新计算哈希 {objects}/{expected} 个文件，{bytes}，覆盖率 {coverage}%；校验账本事件 {events} 条",
                      "re-hashed {objects}/{expected} files, {bytes}, coverage {coverage}%; {events} ledger events verified"),
    "scrub.never_repaired": ("未做任何修复：请核查上述文件及账本（已登记告警并加入待复核队列）。",
                             "Nothing was repaired: look into the files and ledger above (alarms recorded and queued for review)."),
    "scrub.found": ("发现", "Found"),
    "scrub.interrupted": ("巡检因工作站停止而中断，未记录本次巡检；请重新运行 `scrub run`",
                          "the pass was interrupted by the station stopping and not recorded; run `scrub run` again"),
    "scrub.title": ("完整性巡检", "Integrity scrub"),
    "scrub.col.start": ("开始", "Started"), "scrub.col.end": ("结束", "Ended"),
    "scrub.col.objects": ("文件", "Files"), "scrub.col.bytes": ("字节", "Bytes"),
    "scrub.col.coverage": ("覆盖率 %", "Coverage %"), "scrub.col.next": ("下次", "Next due"),
    "scrub.detail": ("说明", "Detail"),
    "scrub.never": ("尚未完成过完整巡检。", "No complete scrub pass yet."),
    "scrub.last": ("最近一次完整巡检：{start} 至 {end}（{actor}，账本 #{seq}）",
                   "Last complete pass: {start} to {end} ({actor}, ledger #{seq})"),
    "scrub.next": ("下次巡检：{when}", "Next pass due: {when}"),
    "scrub.next_start": ("守护进程启动后立即进行", "as soon as the daemon runs"),
    "scrub.open_alarms": ("待复核的完整性告警：{count} 项（`review`）", "Open integrity alarms: {count} (`review`)"),
    "flag.integrity_changed": ("原始文件内容被改动或损坏", "original's bytes changed or damaged"),
    "flag.integrity_missing": ("原始文件缺失", "original missing from the store"),
    "flag.integrity_mode": ("原始文件权限异常（应为只读）", "original's mode is not read-only"),
    "flag.integrity_unreadable": ("原始文件无法读取", "original unreadable"),
    "flag.integrity_extra": ("存储中有账本未记录的文件", "a file in the store the ledger does not record"),
    "flag.integrity_ledger": ("账本哈希链或默克尔树不一致", "ledger chain or Merkle tree inconsistent"),
    "flag.integrity_checkpoint": ("签名检查点与账本不符", "signed checkpoint does not match the ledger"),
    # R14 case files and fitted tables (custody branch)
    "ingest.analyse_later": ("未分析：稍后运行 `evidence-station analyze`，待复核队列才会列出问题。",
                             "Not analysed: run `evidence-station analyze` to fill the review queue."),
    "col.case": ("案号", "Case"), "col.kind": ("类别", "Kind"), "col.figures": ("数据", "Figures"),
    "col.rule": ("依据", "Rule"), "col.state": ("状态", "State"),
    "flag.case_file_due": ("案卷形成期限将至（执法终结后第 20 日起提醒）",
                           "case file due soon (reminder from day 20 after the end)"),
    "flag.case_file_late": ("逾期未形成案卷（执法终结后 30 日）",
                            "case file not formed within 30 days of the end"),
    "case.state.open": ("期限内", "within the period"), "case.state.due_soon": ("即将到期", "due soon"),
    "case.state.late": ("逾期未形成", "late: not formed"), "case.state.formed": ("已形成", "formed"),
    "case.state.formed_late": ("已形成（逾期）", "formed late"),
    "case.state.no_end": ("无法确定终结日", "no end date"),
    "case.col.case": ("案号", "Case number"), "case.col.state": ("状态", "State"),
    "case.col.ended": ("执法终结", "Ended"), "case.col.deadline": ("最后期限", "Last day"),
    "case.col.day": ("第几日", "Day"), "case.col.formed": ("案卷形成", "Formed"),
    "case.title": ("案卷（R14：执法终结之日起 30 日内形成）",
                   "Case files (R14: formed within 30 days after the enforcement ends)"),
    "case.none": ("没有已标注案号的录像。", "No recording is labelled with a case number."),
    "case.ended": ("已记录 {case} 执法终结于 {on}（账本 #{seq}）；最后期限 {deadline}",
                   "Recorded the end of {case} on {on} (ledger #{seq}); last day {deadline}"),
    "case.closed": ("已记录 {case} 案卷于 {on} 形成（账本 #{seq}）{late}",
                    "Recorded the case file of {case} as formed on {on} (ledger #{seq}){late}"),
    "case.closed_late": ("——登记于 {today}，已超过最后期限 {deadline}（以登记日为准）",
                         " — recorded on {today}, after the last day {deadline} (the station's "
                         "date of the record decides)"),
    "case.end_source.recorded": ("登记", "recorded"),
    "case.end_source.last_recording": ("最后录像", "last recording"),
}


# Issue 19 (language): the docking receipt's labels, one language at a time.
MESSAGES.update({
    "receipt.station": ("工作站", "Station"),
    "receipt.session": ("会话", "Session"),
    "receipt.port": ("接口", "Port"),
    "receipt.device": ("产品序号", "Device"),
    "receipt.officer": ("警号", "Officer"),
    "receipt.issued": ("出具时间", "Issued"),
    "receipt.checkpoint": ("签名检查点", "Signed checkpoint"),
    "receipt.verifier_key": ("验证公钥", "Verifier key"),
    "receipt.handed_by": ("交出人（警号）", "Handed over by (officer)"),
    "receipt.received_by": ("接收人", "Received by (clerk)"),
    "receipt.already": ("（已在存储中：见此前的回执）", "(already in the store: see the earlier receipt)"),
    "receipt.not_taken": ("未入库", "NOT TAKEN"),
})


def detect_lang(option: str | None, environ: dict[str, str] | None = None) -> Lang:
    env = os.environ if environ is None else environ
    if option in ("zh", "en"):
        return option  # type: ignore[return-value]
    lang = env.get("LANG", "") or env.get("LC_ALL", "")
    return "en" if lang.lower().startswith("en") else "zh"


def t(key: str, lang: Lang, **values: object) -> str:
    zh, en = MESSAGES[key]
    return (zh if lang == "zh" else en).format(**values)


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
