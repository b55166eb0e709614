"""The displays: a live one for terminals, plain lines for logs, and the exit codes."""

from __future__ import annotations

import io
from collections import Counter

from rich.console import Console

from sora_async import BatchProgress, Quota
from sora_async.cli._display import LiveDisplay, PlainDisplay, Summary

SNAPSHOT = BatchProgress(
    read=8,
    submitting=0,
    queued=2,
    processing=1,
    completed=4,
    failed=1,
    skipped=0,
    errors=0,
    source_done=True,
    requests_sent=37,
    quota=Quota(daily_limit=20, daily_remaining=12),
    queue_positions=(1, 2),
)
RECORD = {
    "index": 3,
    "prompt": "a fox",
    "status": "completed",
    "job_id": "job-3",
    "video_url": "https://x/v.mp4",
    "error": None,
    "reset_at": None,
    "path": None,
}


def test_plain_lines_one_per_event() -> None:
    lines: list[str] = []
    display = PlainDisplay(out=lines.append, total=8, heartbeat=0)
    display.start("codefast at https://sora-api.codefast.app")
    display.progress(SNAPSHOT)
    display.result(RECORD)
    assert lines[:2] == ["codefast at https://sora-api.codefast.app", "batch: 8 prompts"]
    status = lines[2]
    assert status.startswith("status: [5/8] submitting 0 · queued 2 · processing 1")
    assert "queue places 1, 2 · 37 requests sent · quota 12/20 left today · ETA" in status
    assert lines[3:] == ["[1/8] prompt 3: completed job=job-3 url=https://x/v.mp4"]


def test_the_live_display_shows_bar_counts_queue_quota_requests_and_eta() -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=140, color_system=None)
    display = LiveDisplay(console, total=8)
    display.start("SIMULATION: embedded codefast simulator")
    display.progress(SNAPSHOT)
    display.download_started()
    display.result(RECORD)
    display.download_done()
    display.stop()
    display.summary(Summary(total=8, counts=Counter(completed=7, failed=1), requests_sent=40))
    text = screen.getvalue()
    for part in (
        "SIMULATION",
        "prompts",
        "5/8",
        "ETA",
        "downloads",
        "1/1",
        "queued 2",
        "queue places 1, 2",
        "37 requests sent",
        "quota 12/20 left today",
        "[1/8] prompt 3: completed",
        "Summary",
        "requests sent",
    ):
        assert part in text, part


def test_exit_codes() -> None:
    assert Summary(total=1, counts=Counter(completed=1)).exit_code == 0
    assert Summary(total=2, counts=Counter(completed=1, failed=1)).exit_code == 1
    assert Summary(total=2, counts=Counter(completed=1, error=1)).exit_code == 1
    assert Summary(total=1, counts=Counter(completed=1), download_failed=1).exit_code == 1
    assert Summary(total=2, counts=Counter(failed=1, skipped=1)).exit_code == 3
