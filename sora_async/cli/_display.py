"""How a batch shows itself: a live rich display on a terminal, plain lines elsewhere.

Both take the same calls: ``start``, ``progress`` (the batch's ``on_progress``), ``result``
(a prompt ended, after its download), ``download_started``/``download_done``, ``stop``
and ``summary``. Plain lines are written for logs and CI: one per event, none that redraw.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from .._batch import BatchProgress
from .._journal import Remembered
from .._models import Quota
from ._common import EXIT_DAILY_LIMIT, EXIT_FAILED, EXIT_OK, counted

__all__ = ["Display", "LiveDisplay", "PlainDisplay", "Summary", "quota_text"]

Echo = Callable[[str], None]
_STYLE = {"completed": "green", "failed": "red", "error": "red", "skipped": "yellow"}
_RESULT_KEYS = {"job_id": "job", "video_url": "url", "path": "path", "error": "error"}


@dataclass
class Summary:
    """The outcome of a batch run, for the last lines and the exit code."""

    total: int
    counts: Counter[str] = field(default_factory=Counter)
    unknown: list[Remembered] = field(default_factory=list)
    unmatched: list[Remembered] = field(default_factory=list)
    moved: int = 0
    downloaded: int = 0
    download_failed: int = 0
    requests_sent: int = 0
    quota: Quota = field(default_factory=Quota)
    reset_at: datetime | None = None
    outputs: list[str] = field(default_factory=list)
    journal: str | None = None
    simulated: bool = False

    @property
    def exit_code(self) -> int:
        if self.counts["skipped"]:
            return EXIT_DAILY_LIMIT
        if self.counts["failed"] or self.counts["error"] or self.download_failed:
            return EXIT_FAILED
        return EXIT_OK

    @property
    def headline(self) -> str:
        counts = self.counts
        return (
            f"{counted(self.total, 'prompt')}: {counts['completed']} completed, "
            f"{counts['failed']} failed, {counts['skipped']} skipped, {counts['error']} errors"
        )

    def details(self) -> list[tuple[str, str]]:
        rows = [("requests sent", str(self.requests_sent))]
        quota = quota_text(self.quota)
        if quota:
            rows.append(("quota", quota))
        if self.downloaded or self.download_failed:
            failed = f", {self.download_failed} failed" if self.download_failed else ""
            rows.append(("downloads", f"{self.downloaded} saved{failed}"))
        rows.extend(("results", path) for path in self.outputs)
        rows.append(("journal", self.journal or "in memory (not kept)"))
        return rows

    def hints(self) -> list[str]:
        lines = []
        skipped = self.counts["skipped"]
        if skipped:
            when = self.reset_at.isoformat() if self.reset_at else "at the provider's next day"
            lines.append(
                f"{counted(skipped, 'prompt')} {_was(skipped)} skipped: the daily limit is spent; "
                f"it resets {when}. Run the same command again then: only the skipped prompts "
                "are submitted."
            )
        if self.unknown:
            unknown = len(self.unknown)
            shown = ", ".join(str(entry.index) for entry in self.unknown[:10])
            more = "…" if unknown > 10 else ""
            # The reasons the provider's records gave (sora_async._doubt), once each.
            settled = sorted({e.reason for e in self.unknown if e.reason and "--resub" in e.reason})
            why = " ".join(settled) or (
                "run the same command again: the provider's records are checked first; "
                "--resubmit-unknown sends them again (that may spend quota twice)"
            )
            lines.append(
                f"{counted(unknown, 'submit')} {'has' if unknown == 1 else 'have'} an unknown "
                f"outcome and {_was(unknown)} not resent (prompts {shown}{more}): {why}."
            )
        if self.moved:
            lines.append(
                f"{counted(self.moved, 'prompt')} had moved in the file since an earlier run: "
                "found by their text and parameters, not submitted again."
            )
        if self.unmatched:
            first, unmatched = self.unmatched[0], len(self.unmatched)
            lines.append(
                f"{counted(unmatched, 'prompt')} of an earlier run "
                f"{'matches' if unmatched == 1 else 'match'} no prompt now (edited or "
                f"removed), e.g. prompt {first.index} {first.prompt!r} (job {first.job_id}): "
                "their jobs are not followed any more."
            )
        if self.simulated:
            lines.append("This was a SIMULATION: no request left this machine.")
        return lines


def _was(count: int) -> str:
    return "was" if count == 1 else "were"


class Display(Protocol):
    """What the batch run tells its display."""

    def start(self, banner: str) -> None: ...

    def progress(self, snapshot: BatchProgress) -> None: ...

    def result(self, record: dict[str, Any]) -> None: ...

    def download_started(self) -> None: ...

    def download_done(self) -> None: ...

    def stop(self) -> None: ...

    def summary(self, summary: Summary) -> None: ...


def quota_text(quota: Quota) -> str | None:
    """What is left of a quota, in words; ``None`` when the provider said nothing."""
    parts = []
    if quota.daily_remaining is not None:
        limit = f"/{quota.daily_limit}" if quota.daily_limit is not None else ""
        parts.append(f"{quota.daily_remaining}{limit} left today")
    if quota.credits is not None:
        parts.append(f"{quota.credits} credits")
    if quota.rate_remaining is not None:
        limit = f"/{quota.rate_limit}" if quota.rate_limit is not None else ""
        parts.append(f"{quota.rate_remaining}{limit} requests left in this window")
    if quota.concurrent_limit is not None:
        parts.append(f"{quota.concurrent_active or 0}/{quota.concurrent_limit} tasks running")
    return ", ".join(parts) or None


def status_text(snapshot: BatchProgress) -> tuple[str, str]:
    """The batch's state: the counts per status, then queue places, requests and quota."""
    counts = (
        f"submitting {snapshot.submitting} · queued {snapshot.queued} · "
        f"processing {snapshot.processing} · completed {snapshot.completed} · "
        f"failed {snapshot.failed} · skipped {snapshot.skipped} · errors {snapshot.errors}"
    )
    resources = [f"{snapshot.requests_sent} requests sent"]
    if snapshot.queue_positions:
        resources.insert(0, f"queue places {', '.join(map(str, snapshot.queue_positions))}")
    quota = quota_text(snapshot.quota)
    if quota:
        resources.append(f"quota {quota}")
    return counts, " · ".join(resources)


def result_text(record: dict[str, Any], *, done: int, total: int) -> str:
    """One finished prompt in one line."""
    parts = [f"[{done}/{total}] prompt {record['index']}: {record['status']}"]
    parts.extend(f"{name}={record[key]}" for key, name in _RESULT_KEYS.items() if record.get(key))
    return " ".join(parts)


class PlainDisplay:
    """One plain line per event, for logs and CI; a status line at most every ``heartbeat``."""

    def __init__(self, *, out: Echo, total: int, heartbeat: float = 10.0) -> None:
        self._out = out
        self._total = total
        self._heartbeat = heartbeat
        self._started = self._last_status = time.monotonic()
        self._done = 0

    def start(self, banner: str) -> None:
        self._out(banner)
        self._out(f"batch: {counted(self._total, 'prompt')}")

    def progress(self, snapshot: BatchProgress) -> None:
        now = time.monotonic()
        if now - self._last_status >= self._heartbeat:
            self._last_status = now
            line = " · ".join(status_text(snapshot))
            if snapshot.finished:
                left = (now - self._started) / snapshot.finished * (self._total - snapshot.finished)
                line += f" · ETA {round(left)} s"
            self._out(f"status: [{snapshot.finished}/{self._total}] {line}")

    def result(self, record: dict[str, Any]) -> None:
        self._done += 1
        self._out(result_text(record, done=self._done, total=self._total))

    def download_started(self) -> None:
        pass  # the result line tells where the file went

    def download_done(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def summary(self, summary: Summary) -> None:
        self._out(f"summary: {summary.headline}")
        for name, value in summary.details():
            self._out(f"  {name}: {value}")
        for line in summary.hints():
            self._out(line)


class LiveDisplay:
    """A rich progress bar, counts per status, queue places, quota and requests, with ETA."""

    def __init__(self, console: Console, *, total: int) -> None:
        self._console = console
        self._total = total
        self._done = 0
        self._status = Text("starting…", style="dim")
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._prompts = self._progress.add_task("prompts", total=total)
        self._downloads: TaskID | None = None
        self._live = Live(
            Group(self._progress, self._status), console=console, refresh_per_second=8
        )

    def start(self, banner: str) -> None:
        style = "bold yellow" if banner.startswith("SIMULATION") else "bold"
        self._console.print(Text(banner, style=style))
        self._live.start()

    def progress(self, snapshot: BatchProgress) -> None:
        self._progress.update(self._prompts, completed=snapshot.finished)
        self._status.plain = "\n".join(status_text(snapshot))
        self._status.style = ""

    def result(self, record: dict[str, Any]) -> None:
        self._done += 1
        # A terminal line is short: the saved file, else the URL (the job id is in the results).
        hidden = {"job_id", "video_url"} if record.get("path") else {"job_id"}
        shown = {key: value for key, value in record.items() if key not in hidden}
        line = Text(result_text(shown, done=self._done, total=self._total))
        line.stylize(_STYLE.get(record["status"], ""), 0, len(line.plain.split(":")[0]) + 1)
        self._console.print(line, no_wrap=True, overflow="ellipsis")

    def download_started(self) -> None:
        if self._downloads is None:
            self._downloads = self._progress.add_task("downloads", total=0)
        task = self._progress.tasks[self._downloads]
        self._progress.update(self._downloads, total=(task.total or 0) + 1)

    def download_done(self) -> None:
        if self._downloads is not None:
            self._progress.advance(self._downloads)

    def stop(self) -> None:
        self._live.stop()

    def summary(self, summary: Summary) -> None:
        table = Table(title="Summary", show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for status in ("completed", "failed", "skipped", "error"):
            style = _STYLE[status] if summary.counts[status] else ""
            table.add_row(status, Text(str(summary.counts[status]), style=style))
        for name, value in summary.details():
            table.add_row(name, value)
        self._console.print(table)
        for line in summary.hints():
            self._console.print(Text(line, style="yellow"))
