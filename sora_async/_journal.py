"""A durable SQLite journal of a batch, so that a re-run resumes instead of resubmitting.

It implements :class:`~sora_async._batch.BatchJournal`. A row is one prompt, keyed by its
index in the prompt source *and* a hash of the request (prompt and parameters), so an
edited file never hands one prompt's job to another. The intent to submit is committed at
the last moment before the submit's bytes may leave (with the daily quota seen before it)
and the job id the moment its answer is parsed (with the quota in it), both with
``synchronous=FULL`` in WAL mode: kill the process at any moment and the next run knows,
for every prompt, whether it ended, which job to follow, or that a submit is in doubt,
which :mod:`sora_async._doubt` then settles from the provider's records where it can.

Nothing secret is stored: no API key, no headers; only prompts, parameters' hash, job
states, URLs and download paths.

>>> journal = Journal(":memory:")
>>> journal.recall(0, GenerationRequest(prompt="a fox")) is None
True
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from ._batch import BatchJournal, Recall
from ._doubt import DoubtJournal
from ._models import BatchItem, BatchStatus, GenerationRequest, Job

__all__ = [
    "CRASHED",
    "Doubt",
    "Journal",
    "JournalError",
    "JournalRows",
    "JournalStore",
    "Outcome",
    "Remembered",
    "earlier_outcome",
    "ended_item",
    "journal_location",
    "open_journal",
    "request_hash",
    "shown_location",
]

_SCHEMA_VERSION = 2
# Columns added since schema 1: when a submit went out, and the daily quota around it.
_ADDED = {"sent_at": "TEXT", "remaining_before": "INTEGER", "remaining_after": "INTEGER"}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS prompts (
    idx INTEGER NOT NULL,
    request_hash TEXT NOT NULL,
    prompt TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN (
        'intent', 'submitted', 'unknown', 'completed', 'failed', 'error', 'skipped')),
    job_id TEXT,
    job TEXT,
    video_url TEXT,
    error TEXT,
    reset_at TEXT,
    path TEXT,
    size INTEGER,
    run INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    sent_at TEXT,
    remaining_before INTEGER,
    remaining_after INTEGER,
    PRIMARY KEY (idx, request_hash)
);
CREATE INDEX IF NOT EXISTS prompts_by_hash ON prompts (request_hash);
"""
_ENDED = ("completed", "failed")
_ENDED_AS: dict[str, BatchStatus] = {
    "completed": "completed",
    "failed": "failed",
    "skipped": "skipped",
}
# Rows with something at stake: a job id, or a submit that may have reached the server.
_AT_STAKE = "(job_id IS NOT NULL OR state IN ('intent', 'unknown'))"


class JournalError(Exception):
    """The journal file cannot be used (not a journal, or written for another service)."""


@dataclass(frozen=True)
class Doubt:
    """A submit whose outcome is unknown: when it went out, and the daily quota before it."""

    index: int
    digest: str
    prompt: str
    sent_at: datetime | None
    remaining_before: int | None
    reason: str | None


@dataclass(frozen=True)
class Remembered:
    """One prompt as the journal remembers it, for a report."""

    index: int
    prompt: str
    job_id: str | None
    reason: str | None


class JournalRows:
    """What every journal does alike over its own rows: a journal implements ``_row``,
    ``_write`` and ``close``, and keeps ``_open`` (index -> request hash, last status)."""

    _open: dict[int, tuple[str, str | None]]

    def _row(self, index: int, digest: str) -> Any:
        raise NotImplementedError

    def _write(self, index: int, digest: str, **fields: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def submitted(self, index: int, job: Job) -> None:
        digest = self._digest(index)
        self._open[index] = (digest, job.status.value)
        after = job.quota.daily_remaining if job.quota else None
        self._write(
            index,
            digest,
            state="submitted",
            job_id=job.id,
            job=job.model_dump_json(),
            remaining_after=after,
        )

    def unknown(self, index: int, reason: str) -> None:
        self._write(index, self._digest(index), state="unknown", error=reason)

    def updated(self, index: int, job: Job) -> None:
        digest, last = self._open.get(index, (None, None))
        # Only a new status is worth a durable write: queue positions change all the time.
        if digest is None or last == job.status.value:
            return
        self._open[index] = (digest, job.status.value)
        self._write(index, digest, job=job.model_dump_json())

    def adopt(self, doubt: Doubt, job: Job) -> None:
        """A submit in doubt found on the server's own list: its job, from now on."""
        fields = {"job_id": job.id, "job": job.model_dump_json(), "error": None}
        self._write(doubt.index, doubt.digest, state="submitted", **fields)

    def still_in_doubt(self, doubt: Doubt, reason: str) -> None:
        """What the server's records could not settle, in words (shown with the prompt)."""
        self._write(doubt.index, doubt.digest, state="unknown", error=reason)

    def downloaded(self, index: int, request: GenerationRequest, path: Path) -> None:
        """Record where a prompt's video was saved (and its size, to trust it next time)."""
        size = path.stat().st_size
        self._write(index, request_hash(request), path=str(path), size=size)

    def download_path(self, index: int, request: GenerationRequest) -> Path | None:
        """The recorded download of this prompt, if the file is still there, whole."""
        row = self._row(index, request_hash(request))
        if row is None or row["path"] is None:
            return None
        path = Path(row["path"])
        try:
            return path if path.stat().st_size == row["size"] else None
        except OSError:
            return None

    def _digest(self, index: int) -> str:
        try:
            return self._open[index][0]
        except KeyError:
            raise RuntimeError(f"the journal was not told about prompt {index} first") from None


class Journal(JournalRows):
    """The SQLite journal of one batch's prompts (a file, or ``":memory:"``).

    ``target`` names the service the job ids belong to (provider and base URL, never the
    key); a journal written for another target is refused. ``moved`` counts the prompts of
    this run found at another index of an earlier run (a line was added or removed above).

    >>> with Journal(":memory:", target="codefast https://sora-api.codefast.app") as journal:
    ...     journal.intent(0, GenerationRequest(prompt="a fox"))
    ...     journal.recall(0, GenerationRequest(prompt="a fox")).unknown is not None
    True
    """

    def __init__(
        self,
        path: str | Path,
        *,
        target: str | None = None,
    ) -> None:
        self.path = path if path == ":memory:" else Path(path)
        self.moved = 0
        # Rows this run is working on: index -> (request hash, last status written).
        self._open: dict[int, tuple[str, str | None]] = {}
        try:
            if isinstance(self.path, Path):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: every statement below is its own transaction, durable on return.
            self._db = sqlite3.connect(str(self.path), isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise JournalError(f"cannot open the journal {self.path}: {exc}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self.run = self._setup(target)
        except sqlite3.Error as exc:
            self._db.close()
            raise JournalError(f"{self.path} is not a usable journal: {exc}") from None
        except JournalError:
            self._db.close()
            raise

    def _setup(self, target: str | None) -> int:
        db = self._db
        db.execute("PRAGMA journal_mode=WAL")
        # FULL: the intent and the job id survive a power cut too, not only a killed process.
        db.execute("PRAGMA synchronous=FULL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise JournalError(f"{self.path} was written by a newer sora-async (schema {version})")
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(prompts)")}
        for name, kind in _ADDED.items():
            if name not in columns:  # a journal of an earlier sora-async
                db.execute(f"ALTER TABLE prompts ADD COLUMN {name} {kind}")
        db.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")
        stored = self._meta("target")
        if target is not None and stored is not None and stored != target:
            raise JournalError(
                f"{self.path} belongs to another service ({stored}), not {target}: "
                "its job ids mean nothing there; use another --journal"
            )
        if target is not None and stored is None:
            self._set_meta("target", target)
        run = int(self._meta("run") or 0) + 1
        self._set_meta("run", str(run))
        return run

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    # -- BatchJournal -----------------------------------------------------------------------------

    def recall(self, index: int, request: GenerationRequest) -> Recall | None:
        """What an earlier run left for this prompt; claims the row for this run."""
        digest = request_hash(request)
        row = self._row(index, digest) or self._moved(index, digest)
        self._open[index] = (digest, None)
        if row is None:
            return None
        self._write(index, digest, run=self.run)
        outcome = earlier_outcome(row, index, request)
        if outcome.ended:
            del self._open[index]
        elif outcome.follows is not None:
            self._open[index] = (digest, outcome.follows)
        if outcome.mark_unknown is not None:
            self._write(index, digest, state="unknown", error=outcome.mark_unknown)
        return outcome.recall

    def intent(
        self, index: int, request: GenerationRequest, *, remaining: int | None = None
    ) -> None:
        """The submit's bytes may leave now (``remaining``: the daily quota last seen)."""
        digest = request_hash(request)
        self._open[index] = (digest, None)
        now = _now()
        self._db.execute(
            "INSERT INTO prompts (idx, request_hash, prompt, state, run, updated_at, sent_at, "
            "remaining_before) VALUES (?, ?, ?, 'intent', ?, ?, ?, ?) "
            "ON CONFLICT (idx, request_hash) DO UPDATE SET "
            "state = 'intent', job_id = NULL, job = NULL, error = NULL, run = excluded.run, "
            "updated_at = excluded.updated_at, sent_at = excluded.sent_at, "
            "remaining_before = excluded.remaining_before",
            (index, digest, request.prompt, self.run, now, now, remaining),
        )

    def ended(self, item: BatchItem) -> None:
        self._open.pop(item.index, None)
        digest = request_hash(item.request)
        row = self._row(item.index, digest)
        job = item.job.model_dump_json() if item.job else None
        fields: dict[str, Any] = {
            "error": item.error,
            "video_url": item.video_url,
            "reset_at": item.reset_at.isoformat() if item.reset_at else None,
        }
        if item.status == "error" and job is None and row is not None and row["state"] == "unknown":
            return  # keep it unknown: only --resubmit-unknown sends it again
        if job is not None:
            fields.update(job_id=item.job_id, job=job)
        if row is None:
            self._db.execute(
                "INSERT INTO prompts (idx, request_hash, prompt, state, run, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (item.index, digest, item.request.prompt, item.status, self.run, _now()),
            )
        self._write(item.index, digest, state=item.status, **fields)

    # -- submits in doubt (see sora_async._doubt) -------------------------------------------------

    def in_doubt(self) -> list[Doubt]:
        """Every submit whose outcome is unknown (a crash, or an ambiguous failure)."""
        rows = self._db.execute(
            "SELECT idx, request_hash, prompt, sent_at, remaining_before, error FROM prompts "
            "WHERE (state = 'unknown' OR (state = 'intent' AND run != ?)) AND job_id IS NULL "
            "ORDER BY idx",
            (self.run,),  # an intent of this run is a submit on its way now
        )
        return [
            Doubt(
                index=row[0],
                digest=row[1],
                prompt=row[2],
                sent_at=_parse_time(row[3]),
                remaining_before=row[4],
                reason=row[5],
            )
            for row in rows
        ]

    def job_ids(self) -> set[str]:
        """Every job id this journal knows."""
        rows = self._db.execute("SELECT job_id FROM prompts WHERE job_id IS NOT NULL")
        return {str(row[0]) for row in rows}

    def quotas_seen(self) -> list[tuple[datetime | None, int | None, int | None]]:
        """``(sent_at, remaining before, remaining after)`` of every submit sent."""
        rows = self._db.execute(
            "SELECT sent_at, remaining_before, remaining_after FROM prompts "
            "WHERE sent_at IS NOT NULL AND (job_id IS NOT NULL OR state IN ('intent', 'unknown'))"
        )
        return [(_parse_time(row[0]), row[1], row[2]) for row in rows]

    def not_sent(self, doubt: Doubt) -> None:
        """The server's records show this submit never arrived: it is pending again."""
        self._db.execute(
            "DELETE FROM prompts WHERE idx = ? AND request_hash = ?", (doubt.index, doubt.digest)
        )

    # -- what the command line asks ---------------------------------------------------------------

    def unknown_submits(self) -> list[Remembered]:
        """This run's prompts whose submit outcome is unknown (they were not resent)."""
        return self._remembered("state = 'unknown' AND run = ?")

    def unmatched(self) -> list[Remembered]:
        """Prompts of earlier runs with a job at stake that no prompt of this run matched.

        They were edited or removed from the file: their jobs are not followed any more.
        """
        return self._remembered(f"run != ? AND {_AT_STAKE}")

    def _remembered(self, where: str) -> list[Remembered]:
        rows = self._db.execute(
            f"SELECT idx, prompt, job_id, error FROM prompts WHERE {where} ORDER BY idx",
            (self.run,),
        )
        return [Remembered(*row) for row in rows]

    def counts(self) -> dict[str, int]:
        """Rows per state, over the whole journal."""
        rows = self._db.execute("SELECT state, count(*) FROM prompts GROUP BY state")
        return {str(row[0]): int(row[1]) for row in rows}

    # -- internals --------------------------------------------------------------------------------

    def _row(self, index: int, digest: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM prompts WHERE idx = ? AND request_hash = ?", (index, digest)
        ).fetchone()
        return row

    def _moved(self, index: int, digest: str) -> sqlite3.Row | None:
        """The same request at another index (a line was added or removed above it).

        Only rows no other prompt of this run has claimed, the nearest first, so that two
        identical prompts each keep their own job.
        """
        row: sqlite3.Row | None = self._db.execute(
            f"SELECT * FROM prompts WHERE request_hash = ? AND run != ? AND {_AT_STAKE} "
            "ORDER BY abs(idx - ?) LIMIT 1",
            (digest, self.run, index),
        ).fetchone()
        if row is not None:
            self._db.execute(
                "UPDATE prompts SET idx = ? WHERE idx = ? AND request_hash = ?",
                (index, row["idx"], digest),
            )
            self.moved += 1
        return row

    def _write(self, index: int, digest: str, **fields: Any) -> None:
        fields["updated_at"] = _now()
        columns = ", ".join(f"{name} = ?" for name in fields)
        self._db.execute(
            f"UPDATE prompts SET {columns} WHERE idx = ? AND request_hash = ?",
            (*fields.values(), index, digest),
        )

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row, in index order (for inspection and tests)."""
        for row in self._db.execute("SELECT * FROM prompts ORDER BY idx, request_hash"):
            yield dict(row)


class _Row(Protocol):
    """A row by column name (``sqlite3.Row``, a psycopg ``dict_row``)."""

    def __getitem__(self, key: str, /) -> Any: ...


@dataclass(frozen=True)
class Outcome:
    """What an earlier run's row of a prompt means for this run: the rules every journal
    shares (SQLite, PostgreSQL), so that a resumed or taken-over prompt is never resent
    when its submit may have gone out."""

    recall: Recall | None
    ended: bool = False  # handed out again as it ended
    follows: str | None = None  # a job to follow again: its last status
    mark_unknown: str | None = None  # an intent whose answer never came: now in doubt, why


#: Why an intent with no answer is in doubt.
CRASHED = "the run stopped between sending the submit and reading its answer"


def earlier_outcome(row: _Row, index: int, request: GenerationRequest) -> Outcome:
    """Decide what to do with a prompt from what an earlier run (or a worker that died)
    left in its row (``state``, ``job``, ``video_url``, ``error``)."""
    state = row["state"]
    job = Job.model_validate_json(row["job"]) if row["job"] else None
    if state in _ENDED and job is not None:
        return Outcome(Recall(item=ended_item(row, index, request)), ended=True)
    if job is not None:  # submitted, or tracking stopped on an error: follow it again
        return Outcome(Recall(job=job), follows=job.status.value)
    if state == "intent":
        # The process that wrote this intent died before the answer came: from now on
        # that outcome is unknown, whatever this run does with the item.
        return Outcome(Recall(unknown=CRASHED), mark_unknown=CRASHED)
    if state == "unknown":
        # The batch adds its own "outcome unknown: not resent" mark to what we recall.
        reason = (row["error"] or "").removesuffix(" [submission outcome unknown]")
        return Outcome(Recall(unknown=reason or "the submit's outcome is unknown"))
    return Outcome(None)  # skipped, or an error before anything was sent: submit it again


def ended_item(row: _Row, index: int, request: GenerationRequest) -> BatchItem:
    """The item a row that ended stands for (``unknown``: an error, outcome unknown)."""
    status = _ENDED_AS.get(row["state"], "error")
    reset_at = row["reset_at"]
    return BatchItem(
        index=index,
        request=request,
        status=status,
        job=Job.model_validate_json(row["job"]) if row["job"] else None,
        video_url=row["video_url"],
        error=row["error"],
        reset_at=datetime.fromisoformat(reset_at) if reset_at else None,
    )


class JournalStore(BatchJournal, DoubtJournal, Protocol):
    """The journal seam: what a batch run asks of its journal, wherever it is kept (a SQLite
    file, :class:`Journal`, or a PostgreSQL database shared by several workers,
    :class:`~sora_async.state._postgres.PostgresJournal`). Callers cannot tell which."""

    moved: int

    def downloaded(self, index: int, request: GenerationRequest, path: Path) -> None: ...

    def download_path(self, index: int, request: GenerationRequest) -> Path | None: ...

    def unknown_submits(self) -> list[Remembered]: ...

    def unmatched(self) -> list[Remembered]: ...

    def counts(self) -> dict[str, int]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


_URL_SCHEMES = ("postgresql://", "postgres://")


def journal_location(text: str | Path) -> str | Path:
    """``--journal``'s value: a PostgreSQL URL as it is, anything else a SQLite path.

    >>> journal_location("postgresql://db/runs"), journal_location("runs.sqlite")
    ('postgresql://db/runs', PosixPath('runs.sqlite'))
    """
    if isinstance(text, str) and text.startswith(_URL_SCHEMES):
        return text
    return Path(text)


def shown_location(location: str | Path) -> str:
    """A journal's location fit for a message: a URL loses its password.

    >>> shown_location("postgresql://me:secret@db/runs?password=secret&sslmode=require")
    'postgresql://me@db/runs?sslmode=require'
    """
    if isinstance(location, Path) or not location.startswith(_URL_SCHEMES):
        return str(location)
    scheme, _, rest = location.partition("://")
    userinfo, at, host = rest.rpartition("@")
    shown = f"{scheme}://{userinfo.partition(':')[0]}{at}{host}" if at else location
    base, _, query = shown.partition("?")
    kept = [part for part in query.split("&") if part and not part.startswith("password=")]
    return f"{base}?{'&'.join(kept)}" if kept else base


def open_journal(location: str | Path, *, target: str | None = None) -> JournalStore:
    """The journal at ``location``: a SQLite file (or ``":memory:"``), or a PostgreSQL URL
    whose database several workers share (the postgres extra).

    >>> with open_journal(":memory:") as journal:
    ...     journal.counts()
    {}
    """
    if isinstance(location, str) and location.startswith(_URL_SCHEMES):
        from .state._postgres import PostgresJournal

        return PostgresJournal(location, target=target)
    return Journal(location, target=target)


def request_hash(request: GenerationRequest) -> str:
    """A stable digest of what a request asks for (the prompt and every parameter given).

    >>> request_hash(GenerationRequest(prompt="a fox")) == request_hash(
    ...     GenerationRequest(prompt="a fox", pro=False))
    True
    """
    fields: dict[str, Any] = {"prompt": request.prompt}
    for name in sorted(request.set_fields()):
        value = getattr(request, name)
        if isinstance(value, bytes):
            value = "sha256:" + hashlib.sha256(value).hexdigest()
        fields[name] = str(value) if isinstance(value, Path) else value
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
