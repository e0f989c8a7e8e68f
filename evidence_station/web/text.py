"""Page text, zh-CN first with English available (one table, as ``i18n``)."""

from __future__ import annotations

from evidence_station.i18n import MESSAGES

WEB_TEXT: dict[str, tuple[str, str]] = {
    "title": ("执法记录仪接入工作站", "Evidence station"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "username": ("用户名", "User name"),
    "password": ("密码", "Password"),
    "login.failed": ("用户名或密码错误", "Wrong user name or password"),
    "login.throttled": ("登录尝试过多，请一分钟后再试", "Too many login attempts; wait a minute"),
    "nav.clips": ("片段", "Clips"),
    "nav.review": ("待复核", "Review"),
    "nav.ledger": ("账本", "Ledger"),
    "nav.admin": ("管理", "Admin"),
    "clips.unlabelled": ("未标注片段", "Unlabelled clips"),
    "clips.all": ("全部片段", "All clips"),
    "clips.search": ("搜索（案号、当事人、承办人、产品序号、警号）",
                     "Search (case, party, handler, device, officer)"),
    "clips.last_docking": ("最近一次接入", "Last docking"),
    "clips.none": ("没有片段", "No clips"),
    "col.id": ("编号", "ID"), "col.device": ("产品序号", "Device"), "col.officer": ("警号", "Officer"),
    "col.recorded": ("录制时间", "Recorded"), "col.duration": ("时长", "Duration"),
    "col.case": ("案号", "Case number"), "col.party": ("当事人", "Party"), "col.handler": ("承办人", "Handler"),
    "col.flags": ("标记", "Flags"), "col.source": ("原路径", "Source path"),
    "label.title": ("标注", "Label"), "label.bulk": ("标注所选片段", "Label the selected clips"),
    "label.reporter": ("举报人", "Reporter"), "label.complainant": ("投诉人", "Complainant"),
    "label.history": ("标注历史", "Label history"), "save": ("保存", "Save"),
    "label.keep": ("留空则保留原值", "left empty, the current value is kept"),
    "label.clear": ("清除", "clear"),
    "page.prev": ("上一页", "Previous page"), "page.next": ("下一页", "Next page"),
    "page.number": ("第 {number} 页", "Page {number}"),
    "ledger.older": ("较早", "Older"), "ledger.newer": ("较新", "Newer"),
    "evidence.title": ("指定为证据", "Designate as evidence"),
    "evidence.collector": ("取证人员", "Collector"),
    "evidence.collected_at": ("取证时间", "Collected at"),
    "evidence.location": ("取证地点", "Location"), "evidence.fact": ("证明对象", "Fact to prove"),
    "evidence.transcript": ("文字记录（录音证据必填）", "Transcript (required for audio-only)"),
    "access.title": ("调阅登记", "Register a viewing"), "access.approver": ("审批人", "Approver"),
    "access.reason": ("事由", "Reason"), "access.outside": ("向单位外提供", "Release outside the unit"),
    "access.log": ("调阅与复制记录", "Viewing and copying register"),
    "access.play": ("登记后播放（只读）", "Register, then play (read-only)"),
    "review.title": ("待复核队列", "Review queue"), "review.resolve": ("处理", "Resolve"),
    "review.resolution": ("处理结果", "Resolution"), "review.empty": ("没有待复核事项", "Nothing to review"),
    "ledger.title": ("账本", "Ledger"), "ledger.checkpoints": ("最新签名检查点", "Latest signed checkpoints"),
    "ledger.verify": ("立即核验", "Verify now"), "ledger.export": ("导出审计包", "Export bundle"),
    "ledger.ok": ("核验通过：账本、存储与目录一致", "Verified: ledger, store and catalog agree"),
    "ledger.findings": ("核验发现问题", "Verification found problems"),
    "admin.title": ("管理", "Admin"), "admin.users": ("用户", "Users"), "admin.add": ("添加用户", "Add user"),
    "admin.role": ("角色", "Role"), "admin.docks": ("接入口状态", "Docks"),
    "admin.settings": ("保存期限与时限设置", "Retention and deadline settings"),
    # fleet replication lag (issue 17)
    "admin.fleet": ("中心同步", "Fleet replication"), "admin.fleet.events": ("落后事件", "Events behind"),
    "admin.fleet.files": ("落后文件", "Files behind"), "admin.fleet.bytes": ("落后字节", "Bytes behind"),
    "admin.fleet.success": ("上次成功", "Last success"), "admin.fleet.error": ("上次错误", "Last error"),
    "admin.fleet.alarm": ("告警", "Alarm"),
    "forbidden": ("无权访问", "Not allowed"),
    "col.actor": ("操作人", "Actor"), "col.time": ("时间", "Time"), "col.kind": ("类别", "Kind"),
    "col.person": ("调阅/复制人", "Viewer / copier"), "col.figures": ("数据", "Figures"),
    "col.rule": ("依据", "Rule"), "col.updated": ("更新", "Updated"), "col.state": ("状态", "State"),
    "col.files": ("文件", "Files"), "col.port": ("接口", "Port"), "col.name": ("姓名", "Name"),
    "col.fields": ("内容", "Fields"), "col.transcript": ("语音转写", "Transcript"),
    "done": ("已记录（账本 #{seq}）", "Recorded (ledger #{seq})"),
    # chain of custody and R14 case files (custody branch)
    "nav.cases": ("案卷", "Cases"),
    "custody.button": ("证据保管链报告", "Chain of custody"),
    "custody.back": ("返回", "Back"),
    "custody.download_pdf": ("下载 PDF", "Download PDF"),
    "custody.download_csv": ("下载 CSV", "Download CSV"),
    "custody.recorded_note": ("每次生成都会记入账本（谁在何时查阅了哪些片段的保管链）",
                              "Each report made is recorded in the ledger (who read which clips' custody, when)"),
    "case.day_of": ("执法终结后第 {day} 日，剩余 {left} 日", "day {day} after the end, {left} days left"),
    "case.end_form": ("登记执法终结日", "Record the end of enforcement"),
    "case.close_form": ("登记案卷已形成", "Record the case file as formed"),
    "case.on": ("日期", "Date"), "case.deleted": ("已删除", "deleted"),
}


def text(key: str, lang: str, **values: object) -> str:
    """Page text; keys not here fall back to the CLI's table (flag names, states)."""
    fallback = key.split(".", 1)[-1]  # an untranslated flag kind shows as itself
    zh, en = WEB_TEXT.get(key) or MESSAGES.get(key) or (fallback, fallback)
    return (en if lang == "en" else zh).format(**values)
