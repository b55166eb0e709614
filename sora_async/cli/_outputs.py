"""The results files: one JSON line (and one CSV row) per prompt, written as each ends."""

from __future__ import annotations

import csv
import json
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

from .._models import BatchItem
from ._paths import check_file

__all__ = ["FIELDS", "ResultWriter", "result_record"]

FIELDS = (
    "index",
    "prompt",
    "status",
    "job_id",
    "video_url",
    "error",
    "reset_at",
    "path",
    # What the provider said of the job, where known (the report shows them).
    "thumbnail_url",
    "model",
    "created_at",
    "started_at",
    "completed_at",
)


def result_record(
    item: BatchItem, *, path: Path | None = None, download_error: str | None = None
) -> dict[str, Any]:
    """The flat record of one prompt; a failed download is told in ``error``, URL kept."""
    record = item.to_record()
    record["path"] = str(path) if path is not None else None
    job = item.job
    record["thumbnail_url"] = job.thumbnail_url if job else None
    record["model"] = job.model if job else None
    for moment in ("created_at", "started_at", "completed_at"):
        value = getattr(job, moment) if job else None
        record[moment] = value.isoformat() if value else None
    if download_error is not None:
        record["error"] = "; ".join(filter(None, (record["error"], download_error)))
    return record


class ResultWriter:
    """Writes records to a ``.jsonl`` and/or a ``.csv`` file, flushed line by line.

    Lines are in the order prompts end (``index`` is the prompt's place in the file), so
    ``tail -f`` follows a long run. The files are checked at once but rewritten only from
    the first record on: a run refused at the start leaves the last run's results alone.
    """

    def __init__(self, jsonl: Path | None = None, csv_path: Path | None = None) -> None:
        self._paths = (jsonl, csv_path)
        for path in self._paths:
            if path is not None:
                check_file(path)
        self._stack = ExitStack()
        self._jsonl: IO[str] | None = None
        self._csv: csv.DictWriter[str] | None = None
        self._files: list[IO[str]] = []
        self._opened = False

    def write(self, record: dict[str, Any]) -> None:
        if not self._opened:
            self._opened = True
            self._open()
        if self._jsonl is not None:
            self._jsonl.write(json.dumps(record, ensure_ascii=False) + "\n")
        if self._csv is not None:
            self._csv.writerow(record)
        for file in self._files:
            file.flush()

    def _open(self) -> None:
        jsonl, csv_path = self._paths
        if jsonl is not None:
            self._jsonl = self._truncate(jsonl)
        if csv_path is not None:
            self._csv = csv.DictWriter(self._truncate(csv_path), fieldnames=FIELDS)
            self._csv.writeheader()

    def _truncate(self, path: Path) -> IO[str]:
        file = self._stack.enter_context(path.open("w", encoding="utf-8", newline=""))
        self._files.append(file)
        return file

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
