"""The PostgreSQL journal: one bulk run shared by several workers (``--journal postgresql://...``).

It is the SQLite journal's seam (:class:`~sora_async._journal.JournalStore`) with the same
rows, the same batch identity (:func:`~sora_async._journal.request_hash`, moved and edited
prompts, next-day reruns) and the same in-doubt rules
(:func:`~sora_async._journal.earlier_outcome`), plus claims:

* every worker is a row of ``sora_workers`` with a lease that a thread of its own renews
  (every third of :data:`DEFAULT_LEASE`, or ``SORA_JOURNAL_LEASE`` seconds); a worker that
  stops renewing (killed, frozen, its machine gone) is dead once its lease lapses, by the
  database's clock (no two machines' clocks are compared);
* a prompt's row names the worker that claimed it (``owner``). :meth:`PostgresJournal.recall`
  claims a free prompt in one transaction (the row locked ``FOR UPDATE``; a moved row is
  looked for ``FOR UPDATE SKIP LOCKED``); a prompt another live worker holds is answered
  ``Recall(elsewhere=...)``: wait for its line. A dead worker's prompt is taken over with the
  rules of a resumed run: a job is followed, an intent with no job id is in doubt (settled
  from the provider's records, else reported, never resent unless asked);
* workers that open while others of the batch live join their run; the first after them
  starts the next run (the SQLite journal's "re-run").

psycopg 3's synchronous API, called inline like :mod:`sqlite3`: each statement is a
millisecond on a nearby server, it works on asyncio and on trio alike, and the seam stays
synchronous. Nothing secret is stored: no API key, no headers.

>>> lease_from_env({"SORA_JOURNAL_LEASE": "2.5"})
2.5
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import anyio

from .._batch import Recall
from .._errors import InvalidRequestError
from .._journal import (
    Doubt,
    JournalError,
    JournalRows,
    Remembered,
    earlier_outcome,
    ended_item,
    request_hash,
    shown_location,
)
from .._models import BatchItem, GenerationRequest, Job

__all__ = ["DEFAULT_LEASE", "PostgresJournal", "lease_from_env", "psycopg_module"]

#: Seconds a worker's claims outlive its last heartbeat.
DEFAULT_LEASE = 30.0
#: Prompts waited for at once before the looks at each one slow down (the database's load).
_WAITS = 500
#: The lease of a prompt's owner, as a column of a statement on ``sora_prompts``.
_OWNERS_LEASE = "(SELECT w.lease FROM sora_workers w WHERE w.id = owner)"
_SCHEMA_VERSION = "1"
# One lock for creating the tables and joining a run (several workers open at once).
_SETUP_LOCK = 0x50A_A5C
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sora_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sora_workers (
    id BIGSERIAL PRIMARY KEY,
    run INTEGER NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    lease DOUBLE PRECISION NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS sora_prompts (
    idx INTEGER NOT NULL,
    request_hash TEXT NOT NULL,
    prompt TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('claimed',
        'intent', 'submitted', 'unknown', 'completed', 'failed', 'error', 'skipped')),
    job_id TEXT,
    job TEXT,
    video_url TEXT,
    error TEXT,
    reset_at TEXT,
    path TEXT,
    size BIGINT,
    run INTEGER NOT NULL,
    owner BIGINT,
    done BOOLEAN NOT NULL DEFAULT false,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at TIMESTAMPTZ,
    remaining_before INTEGER,
    remaining_after INTEGER,
    PRIMARY KEY (idx, request_hash)
);
CREATE INDEX IF NOT EXISTS sora_prompts_by_hash ON sora_prompts (request_hash);
"""


def _alive(column: str) -> str:
    return (
        f"EXISTS (SELECT 1 FROM sora_workers w WHERE w.id = {column} "
        "AND w.heartbeat_at > now() - w.lease * interval '1 second')"
    )


_AT_STAKE = "(job_id IS NOT NULL OR state IN ('intent', 'unknown'))"
# Doubts this worker may settle: its own, and an earlier run's no live worker is settling.
_MY_DOUBTS = (
    "job_id IS NULL AND NOT (done AND run = %(run)s) AND ("
    "(state = 'unknown' AND owner = %(me)s) OR (state IN ('intent', 'unknown') "
    f"AND run != %(run)s AND (owner = %(me)s OR NOT {_alive('owner')})))"
)


def psycopg_module() -> Any:
    """``psycopg``, or a one-line error naming the extra to install."""
    try:
        import psycopg
    except ImportError:
        raise InvalidRequestError(
            "a PostgreSQL journal needs the postgres extra: pip install 'sora-async[postgres]'",
            field="journal",
        ) from None
    return psycopg


def lease_from_env(environ: Mapping[str, str] | None = None) -> float:
    """``SORA_JOURNAL_LEASE`` (seconds, > 0), else :data:`DEFAULT_LEASE`."""
    text = (os.environ if environ is None else environ).get("SORA_JOURNAL_LEASE")
    if not text:
        return DEFAULT_LEASE
    try:
        lease = float(text)
    except ValueError:
        lease = 0.0
    if not lease > 0:
        raise JournalError(f"SORA_JOURNAL_LEASE must be a number of seconds > 0, not {text!r}")
    return lease


class PostgresJournal(JournalRows):
    """The journal of one bulk run in a PostgreSQL database, shared by its workers.

    One batch per database (or per schema: ``?options=-csearch_path%3Dmy_batch``).
    ``target`` names the service the job ids belong to; a journal written for another
    target is refused. ``lease``: seconds a worker's claims outlive it.

    >>> try:
    ...     PostgresJournal("postgresql://user:secret@127.0.0.1:1/none")
    ... except JournalError as error:
    ...     print(str(error).partition(": ")[0])
    cannot reach the PostgreSQL journal postgresql://user@127.0.0.1:1/none
    """

    def __init__(self, url: str, *, target: str | None = None, lease: float | None = None) -> None:
        psycopg = psycopg_module()
        from psycopg.rows import dict_row

        self.url = url
        self.where = shown_location(url)
        self.lease = lease if lease is not None else lease_from_env()
        self.moved = 0
        self._open: dict[int, tuple[str, str | None]] = {}
        self._waiting = 0  # prompts this worker waits for another worker's line of
        try:
            self._db = psycopg.connect(
                url, autocommit=True, row_factory=dict_row, connect_timeout=10
            )
        except psycopg.Error as exc:
            raise JournalError(
                f"cannot reach the PostgreSQL journal {self.where}: {_first_line(exc)}"
            ) from None
        try:
            self.run, self.worker = self._setup(target)
        except psycopg.Error as exc:
            self._db.close()
            raise self._failed(exc) from None
        except JournalError:
            self._db.close()
            raise
        self._heartbeat = _Heartbeat(url, self.worker, self.lease)
        self._heartbeat.start()

    def _setup(self, target: str | None) -> tuple[int, int]:
        db = self._db
        with db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
            db.execute(_SCHEMA)
            meta = {row["key"]: row["value"] for row in db.execute("SELECT * FROM sora_meta")}
            if int(meta.get("schema", _SCHEMA_VERSION)) > int(_SCHEMA_VERSION):
                raise JournalError(
                    f"{self.where} was written by a newer sora-async (schema {meta['schema']})"
                )
            stored = meta.get("target")
            if target is not None and stored is not None and stored != target:
                raise JournalError(
                    f"{self.where} belongs to another service ({stored}), not {target}: "
                    "its job ids mean nothing there; use another --journal"
                )
            run = int(meta.get("run", 0))
            live = db.execute(
                "SELECT count(*) AS n FROM sora_workers w WHERE run = %s AND " + _alive("w.id"),
                (run,),
            ).fetchone()
            if not live or not live["n"]:
                run += 1  # nobody is running this batch: a new run of it
            for key, value in (("schema", _SCHEMA_VERSION), ("target", target), ("run", run)):
                if value is not None:
                    db.execute(
                        "INSERT INTO sora_meta (key, value) VALUES (%s, %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, str(value)),
                    )
            row = db.execute(
                "INSERT INTO sora_workers (run, host, pid, lease) VALUES (%s, %s, %s, %s) "
                "RETURNING id",
                (run, socket.gethostname(), os.getpid(), self.lease),
            ).fetchone()
            assert row is not None
        return run, int(row["id"])

    def _failed(self, exc: Exception) -> JournalError:
        return JournalError(
            f"the PostgreSQL journal {self.where} failed: {_first_line(exc)}; nothing more is "
            "sent (run the same command again to go on)"
        )

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop renewing the lease and leave: what this worker held is free at once."""
        self._heartbeat.stop()
        with contextlib.suppress(Exception):  # the server may be gone: nothing to tell it
            self._db.execute("DELETE FROM sora_workers WHERE id = %s", (self.worker,))
        self._db.close()

    # -- BatchJournal -----------------------------------------------------------------------------

    def recall(self, index: int, request: GenerationRequest) -> Recall | None:
        """Claim this prompt for this worker, or say who has it (see the module's text)."""
        digest = request_hash(request)
        for _ in range(5):
            try:
                with self._transaction():
                    return self._claim(index, request, digest)
            except _Again:
                continue  # another worker inserted or moved a row of it meanwhile: look again
        raise JournalError(f"prompt {index}: could not claim it in {self.where}")

    def _claim(self, index: int, request: GenerationRequest, digest: str) -> Recall | None:
        self._open[index] = (digest, None)
        row = self._fetch(
            f"SELECT *, {_alive('owner')} AS alive, {_OWNERS_LEASE} AS owners_lease "
            "FROM sora_prompts "
            "WHERE idx = %s AND request_hash = %s FOR UPDATE",
            (index, digest),
        ) or self._moved(index, digest)
        if row is None:
            self._sql(
                "INSERT INTO sora_prompts (idx, request_hash, prompt, state, run, owner) "
                "VALUES (%s, %s, %s, 'claimed', %s, %s)",
                (index, digest, request.prompt, self.run, self.worker),
            )
            return None
        if row["run"] == self.run and row["done"]:
            del self._open[index]  # its line is written: the same line here
            return Recall(item=ended_item(row, index, request))
        if row["owner"] not in (None, self.worker) and row["alive"]:
            owners = row["owners_lease"]
            return Recall(elsewhere=functools.partial(self._wait, index, request, owners))
        # Free, an earlier run's, or its worker died: ours now, by the rules of a resume.
        outcome = earlier_outcome(row, index, request)
        fields: dict[str, Any] = {"run": self.run, "owner": self.worker, "done": outcome.ended}
        if outcome.mark_unknown is not None:
            fields.update(state="unknown", error=outcome.mark_unknown)
        self._write(index, digest, **fields)
        if outcome.ended:
            del self._open[index]
        elif outcome.follows is not None:
            self._open[index] = (digest, outcome.follows)
        return outcome.recall

    def _moved(self, index: int, digest: str) -> dict[str, Any] | None:
        """The same request at another index of an earlier run, the nearest first; rows
        another worker is moving are skipped (``SKIP LOCKED``), so each is moved once."""
        row = self._fetch(
            f"SELECT *, false AS alive FROM sora_prompts WHERE request_hash = %s AND run != %s "
            f"AND {_AT_STAKE} AND (owner IS NULL OR owner = %s OR NOT {_alive('owner')}) "
            "ORDER BY abs(idx - %s) LIMIT 1 FOR UPDATE SKIP LOCKED",
            (digest, self.run, self.worker, index),
        )
        if row is not None:
            self._sql(
                "UPDATE sora_prompts SET idx = %s WHERE idx = %s AND request_hash = %s",
                (index, row["idx"], digest),
            )
            self.moved += 1
        return row

    async def _wait(
        self, index: int, request: GenerationRequest, owners: float | None = None
    ) -> Recall | None:
        """Until the worker that has this prompt wrote its line, or died.

        One light look per prompt every few seconds (a sixth of the shorter of this worker's
        lease and its owner's, at most 2 s: a worker with a short lease is found dead soon
        after it lapses), slower while many prompts are waited for, so that the database is
        never flooded; the claim is taken again only once the look says it is worth it.
        """
        digest = request_hash(request)
        self._waiting += 1
        try:
            while True:
                lease = self.lease if owners is None else min(self.lease, owners)
                gap = min(2.0, max(0.05, lease / 6)) * max(1.0, self._waiting / _WAITS)
                await anyio.sleep(gap)
                ready, looked = self._ready(index, digest)
                owners = owners if looked is None else looked
                if not ready:
                    continue
                recall = self.recall(index, request)
                if recall is None or recall.elsewhere is None:
                    return recall
        finally:
            self._waiting -= 1

    def _ready(self, index: int, digest: str) -> tuple[bool, float | None]:
        """Whether a prompt waited for has its line, or its worker died; and that worker's
        lease (one statement)."""
        row = self._fetch(
            f"SELECT (run = %s AND done) OR NOT {_alive('owner')} AS ready, "
            f"{_OWNERS_LEASE} AS lease FROM sora_prompts WHERE idx = %s AND request_hash = %s",
            (self.run, index, digest),
        )
        if row is None:
            return True, None
        return bool(row["ready"]), row["lease"]

    def intent(
        self, index: int, request: GenerationRequest, *, remaining: int | None = None
    ) -> None:
        """The submit's bytes may leave now: only while this worker still holds the prompt."""
        digest = request_hash(request)
        self._open[index] = (digest, None)
        claimed = self._sql(
            "UPDATE sora_prompts SET state = 'intent', job_id = NULL, job = NULL, error = NULL, "
            "run = %s, done = false, updated_at = now(), sent_at = %s, remaining_before = %s "
            "WHERE idx = %s AND request_hash = %s AND owner = %s",
            (self.run, datetime.now(UTC), remaining, index, digest, self.worker),
        ).rowcount
        if not claimed:
            # Our lease lapsed (a frozen process) and another worker took the prompt over.
            raise JournalError(
                f"prompt {index} was taken over by another worker of {self.where}: not sent"
            )

    def submitted(self, index: int, job: Job) -> None:
        try:
            super().submitted(index, job)
        except JournalError as error:  # the job id must not be lost with the connection
            raise JournalError(
                f"{error}; prompt {index} is job {job.id} on the server, not recorded"
            ) from None

    def ended(self, item: BatchItem) -> None:
        """This prompt's line: every worker of the run writes it too."""
        self._open.pop(item.index, None)
        digest = request_hash(item.request)
        row = self._fetch(
            "SELECT state FROM sora_prompts WHERE idx = %s AND request_hash = %s",
            (item.index, digest),
        )
        if item.status == "error" and item.job is None and row and row["state"] == "unknown":
            self._write(item.index, digest, done=True)  # kept unknown: never resent unasked
            return
        fields: dict[str, Any] = {
            "state": item.status,
            "error": item.error,
            "video_url": item.video_url,
            "reset_at": item.reset_at.isoformat() if item.reset_at else None,
            "done": True,
        }
        if item.job is not None:
            fields.update(job_id=item.job_id, job=item.job.model_dump_json())
        self._sql(
            "INSERT INTO sora_prompts (idx, request_hash, prompt, state, run, owner) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (idx, request_hash) DO NOTHING",
            (item.index, digest, item.request.prompt, item.status, self.run, self.worker),
        )
        self._write(item.index, digest, **fields)

    # -- submits in doubt (see sora_async._doubt) -------------------------------------------------

    def in_doubt(self) -> list[Doubt]:
        """This worker's submits in doubt, and an earlier run's that no live worker is
        settling (claimed now, so that one worker settles each)."""
        rows = self._sql(
            f"UPDATE sora_prompts SET owner = %(me)s WHERE {_MY_DOUBTS} "
            "RETURNING idx, request_hash, prompt, sent_at, remaining_before, error",
            {"me": self.worker, "run": self.run},
        ).fetchall()
        return sorted(
            (
                Doubt(
                    index=row["idx"],
                    digest=row["request_hash"],
                    prompt=row["prompt"],
                    sent_at=row["sent_at"],
                    remaining_before=row["remaining_before"],
                    reason=row["error"],
                )
                for row in rows
            ),
            key=lambda doubt: doubt.index,
        )

    def job_ids(self) -> set[str]:
        """Every job id this journal knows (every worker's)."""
        rows = self._sql("SELECT job_id FROM sora_prompts WHERE job_id IS NOT NULL")
        return {str(row["job_id"]) for row in rows}

    def quotas_seen(self) -> list[tuple[datetime | None, int | None, int | None]]:
        """``(sent_at, remaining before, remaining after)`` of every submit sent."""
        rows = self._sql(
            "SELECT sent_at, remaining_before, remaining_after FROM sora_prompts "
            f"WHERE sent_at IS NOT NULL AND {_AT_STAKE}"
        )
        return [(row["sent_at"], row["remaining_before"], row["remaining_after"]) for row in rows]

    def not_sent(self, doubt: Doubt) -> None:
        """The server's records show this submit never arrived: pending again (still ours)."""
        self._write(doubt.index, doubt.digest, state="claimed", error=None, sent_at=None)

    # -- what the command line asks ---------------------------------------------------------------

    def unknown_submits(self) -> list[Remembered]:
        """This run's prompts whose submit outcome is unknown (every worker's)."""
        return self._remembered("state = 'unknown' AND run = %s")

    def unmatched(self) -> list[Remembered]:
        """Prompts of earlier runs with a job at stake that no prompt of this run matched."""
        return self._remembered(f"run != %s AND {_AT_STAKE}")

    def _remembered(self, where: str) -> list[Remembered]:
        rows = self._sql(
            f"SELECT idx, prompt, job_id, error FROM sora_prompts WHERE {where} ORDER BY idx",
            (self.run,),
        )
        return [Remembered(row["idx"], row["prompt"], row["job_id"], row["error"]) for row in rows]

    def counts(self) -> dict[str, int]:
        """Rows per state, over the whole journal."""
        rows = self._sql("SELECT state, count(*) AS n FROM sora_prompts GROUP BY state")
        return {str(row["state"]): int(row["n"]) for row in rows}

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row, in index order (for inspection and tests)."""
        yield from self._sql("SELECT * FROM sora_prompts ORDER BY idx, request_hash")

    # -- internals --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction; a failed one is rolled back quietly (the server may be gone, and
        the error that matters is the first)."""
        self._sql("BEGIN")
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                self._db.execute("ROLLBACK")
            raise
        self._sql("COMMIT")

    def _sql(self, query: str, params: Any = None) -> Any:
        """One statement; a database failure is a :class:`JournalError` naming the journal."""
        psycopg = psycopg_module()
        try:
            return self._db.execute(query, params)
        except psycopg.errors.UniqueViolation:
            raise _Again from None
        except psycopg.Error as exc:
            raise self._failed(exc) from None

    def _fetch(self, query: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        row: dict[str, Any] | None = self._sql(query, params).fetchone()
        return row

    def _row(self, index: int, digest: str) -> dict[str, Any] | None:
        return self._fetch(
            "SELECT * FROM sora_prompts WHERE idx = %s AND request_hash = %s", (index, digest)
        )

    def _write(self, index: int, digest: str, **fields: Any) -> None:
        columns = ", ".join(f"{name} = %s" for name in fields)
        self._sql(
            f"UPDATE sora_prompts SET {columns}, updated_at = now() "
            "WHERE idx = %s AND request_hash = %s",
            (*fields.values(), index, digest),
        )


class _Again(Exception):
    """A row of this prompt appeared meanwhile (another worker's): claim it again."""


class _Heartbeat:
    """Renews one worker's lease from a thread of its own, on a connection of its own: a
    busy event loop never lets a live worker's claims lapse."""

    def __init__(self, url: str, worker: int, lease: float) -> None:
        self._url = url
        self._worker = worker
        self._every = lease / 3
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="sora-journal-lease", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=10)

    def _beat(self) -> None:
        psycopg = psycopg_module()
        db = None
        while not self._stopped.wait(self._every):
            try:
                if db is None or db.closed:
                    db = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
                db.execute(
                    "UPDATE sora_workers SET heartbeat_at = now() WHERE id = %s", (self._worker,)
                )
            except psycopg.Error:
                # The server is gone: the run's own statements say so; try again next beat.
                if db is not None:
                    db.close()
                db = None
        if db is not None:
            db.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
