"""Rich rendering of an ingest session: live progress, then a summary table."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from evidence_station.i18n import Lang, human_bytes, t
from evidence_station.ingest.model import Outcome, Plan, PlannedFile, SessionResult


class RichReporter:
    """Per-file and total bars with bytes, speed and ETA."""

    def __init__(self, console: Console, lang: Lang) -> None:
        self.lang = lang
        self.progress = Progress(
            TextColumn("{task.description}", style="bold"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=console, transient=True,
        )
        self.total: TaskID | None = None
        # One bar per file in flight: the next file is copied while the last is verified.
        self.files: dict[int, TaskID] = {}
        self.current: TaskID | None = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def planned(self, plan: Plan) -> None:
        self.total = self.progress.add_task(t("total", self.lang), total=plan.bytes_to_copy or 1)

    def file_started(self, item: PlannedFile) -> None:
        name = item.display if len(item.display) <= 40 else "…" + item.display[-39:]
        self.current = self.files[id(item)] = self.progress.add_task(
            escape(name), total=item.file.size or 1)

    def advanced(self, count: int) -> None:
        if self.current is not None:
            self.progress.advance(self.current, count)
        if self.total is not None:
            self.progress.advance(self.total, count)

    def verifying(self, item: PlannedFile) -> None:
        task = self.files.get(id(item))
        if task is not None:
            self.progress.update(task, description=escape(t("state.verifying", self.lang)))

    def file_finished(self, outcome: Outcome) -> None:
        task = self.files.pop(id(outcome.item), None)
        if task is not None:
            self.progress.remove_task(task)
        if task == self.current:
            self.current = None


STATUS_STYLE = {"committed": "green", "duplicate": "cyan", "already": "dim", "failed": "red"}


def summary_table(result: SessionResult, lang: Lang) -> Table:
    table = Table(title=t("summary.title", lang, source=result.source), show_lines=False)
    table.add_column(t("col.file", lang), overflow="fold")
    table.add_column(t("col.size", lang), justify="right")
    table.add_column(t("col.sha256", lang))
    table.add_column(t("col.result", lang), overflow="fold")
    for outcome in result.outcomes:
        status = t(f"status.{outcome.status}", lang)
        detail = ""
        if outcome.problem is not None:
            detail = f": {escape(outcome.problem.detail)}"
        elif outcome.flags:
            detail = " ⚑ " + ", ".join(flag.kind for flag in outcome.flags)
        style = STATUS_STYLE.get(outcome.status, "")
        table.add_row(escape(outcome.item.display), human_bytes(outcome.item.file.size),
                      (outcome.sha256 or "")[:16], f"[{style}]{status}[/{style}]{detail}")
    for problem in result.skipped:
        table.add_row(escape(problem.path), "", "", f"[yellow]{t('status.skipped', lang)}[/yellow]"
                      f": {escape(problem.detail)}")
    return table


def print_summary(console: Console, result: SessionResult, lang: Lang) -> None:
    console.print(summary_table(result, lang))
    counts = result.counts()
    console.print(t("summary.counts", lang, files=counts["seen"], committed=counts["committed"],
                    duplicate=counts["duplicate"], already=counts["already"],
                    skipped=counts["skipped"], failed=counts["failed"],
                    bytes=human_bytes(counts["bytes"])), highlight=False, soft_wrap=True)
    if result.reason:
        console.print(f"[red]{t('session.interrupted', lang)}: {escape(result.reason)}[/red]",
                      highlight=False)
    console.print(t("summary.checkpoint", lang, size=result.checkpoint_size,
                    root=result.checkpoint_root), highlight=False, soft_wrap=True)
    if result.safe_to_unplug:
        console.print(f"[bold green]✔ {t('summary.safe', lang)}[/bold green]")
    else:
        console.print(f"[bold yellow]✘ {t('summary.unsafe', lang)}[/bold yellow]")
