"""One ``sora-async batch`` run: the client, the journal, downloads, results and display."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from .._client import AsyncSoraClient
from .._download import batch_target
from .._errors import InvalidRequestError, SoraError
from .._journal import JournalStore, open_journal, shown_location
from .._models import BatchItem, GenerationRequest
from .._requests import make_request
from ..providers import get_provider
from ._common import UsageError, cli_words
from ._connect import Connection
from ._display import Display, Summary
from ._inputs import InputFormat, PromptFile, detect_format, open_prompts
from ._outputs import ResultWriter, result_record
from ._paths import check_folder

__all__ = ["STOP_GRACE", "BatchOptions", "BatchRun", "Interrupted", "run_batch"]


@dataclass(frozen=True)
class BatchOptions:
    """What ``sora-async batch`` was asked to do (the command line's options)."""

    prompts: str
    input_format: InputFormat | None = None
    params: dict[str, Any] = field(default_factory=dict)
    out: Path | None = None
    csv: Path | None = None
    download: Path | None = None
    journal: Path | str | None = None  # a SQLite file, or a PostgreSQL URL
    no_journal: bool = False
    resubmit_unknown: bool = False
    skip_invalid: bool = False
    concurrency: int = 8
    downloads: int = 4

    def journal_path(self, *, simulate: bool) -> Path | str | None:
        """--journal (a path, or a PostgreSQL URL), else next to --out, else next to the
        prompt file; ``None`` keeps it in memory.

        A simulation keeps one next to --out (its own name, so that a real run of the same
        command never meets the simulated job ids), its simulator's state beside it; with no
        --out, only when asked for. ``--no-journal`` keeps it in memory.
        """
        if self.journal is not None:
            return self.journal
        if self.no_journal:
            return None
        if simulate:
            return None if self.out is None else self.out.with_suffix(".simulated.journal.sqlite")
        if self.out is not None:
            return self.out.with_suffix(".journal.sqlite")
        if self.prompts == "-":
            return Path("stdin.journal.sqlite")
        return Path(self.prompts).with_suffix(".journal.sqlite")


def run_batch(
    conn: Connection,
    options: BatchOptions,
    *,
    make_display: Callable[[int], Display],
    warn: Callable[[str], None],
) -> Summary:
    """Check everything, run the batch, show its summary and return it.

    Every check that can fail (options, the prompt file whole, the journal, the results
    files) is done before the first request, so bad input spends nothing.
    """
    conn.check()
    if options.journal is not None and options.no_journal:
        raise UsageError("give --journal or --no-journal, not both")
    with ExitStack() as stack:
        path, name = open_prompts(options.prompts, stack)
        validate = get_provider(conn.provider).validate  # sans-I/O: no client needed yet
        try:
            validate(make_request("parameter check", options.params))
        except InvalidRequestError as exc:
            raise UsageError(f"bad option: {cli_words(exc)}") from None
        source = PromptFile(
            path,
            detect_format(options.prompts, options.input_format),
            name=name,
            params=options.params,
            validate=validate,
        )
        total = source.check(skip_invalid=options.skip_invalid, warn=warn)
        display = make_display(total)
        writer = stack.enter_context(ResultWriter(options.out, options.csv))
        if options.download is not None:
            check_folder(options.download, option="--download")
        journal_path = options.journal_path(simulate=conn.simulate)
        journal = stack.enter_context(open_journal(journal_path or ":memory:", target=conn.target))
        simulator_state: Path | None = None
        if isinstance(journal_path, Path) and conn.simulate:
            # Only a simulated run needs the simulator (a real run does not import it).
            from ..simulator._state import StateFile

            simulator_state = StateFile.next_to(journal_path)
        run = BatchRun(
            client=conn.client(simulator_state=simulator_state),
            journal=journal,
            writer=writer,
            display=display,
            summary=Summary(
                total=total,
                outputs=[str(p) for p in (options.out, options.csv) if p is not None],
                journal=shown_location(journal_path) if journal_path else None,
                simulated=conn.simulate,
            ),
            concurrency=options.concurrency,
            resubmit_unknown=options.resubmit_unknown,
            download_dir=options.download,
            downloads_at_once=options.downloads,
        )
        summary = anyio.run(run.run, source.requests(), conn)
    display.summary(summary)  # once the results and the journal are closed
    return summary


#: Seconds a stopped run (SIGINT, SIGTERM) waits for the submits already on the wire.
STOP_GRACE = 5.0


class Interrupted(Exception):
    """The run was stopped by a signal, cleanly: run the same command again to go on."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # as shells report it: 130 for SIGINT, 143 for SIGTERM


@dataclass
class _Stop:
    signum: int | None = None


@dataclass
class BatchRun:
    """Everything one batch needs; :meth:`run` drives it and returns the summary."""

    client: AsyncSoraClient
    journal: JournalStore
    writer: ResultWriter
    display: Display
    summary: Summary
    concurrency: int = 8
    resubmit_unknown: bool = False
    download_dir: Path | None = None
    downloads_at_once: int = 4

    async def run(self, prompts: Iterable[GenerationRequest], conn: Connection) -> Summary:
        self.display.start(conn.banner)
        stop = _Stop()
        try:
            async with self.client:
                async with conn.first_contact():
                    key_accepted = await self.client.check_key()
                if not key_accepted:
                    raise UsageError("the API key was refused by the provider")
                async with anyio.create_task_group() as group:
                    group.start_soon(self._stop_on_signal, stop, group.cancel_scope)
                    await self._batch(prompts)
                    group.cancel_scope.cancel()  # done: stop listening for signals
                self.summary.requests_sent = self.client.requests_sent
                self.summary.quota = self.client.quota
            # Closed: the submits that were on the wire have been answered, and recorded.
        finally:
            self.display.stop()
        if stop.signum is not None:
            raise Interrupted(stop.signum)
        self.summary.unknown = self.journal.unknown_submits()
        self.summary.unmatched = self.journal.unmatched()
        self.summary.moved = self.journal.moved
        return self.summary

    async def _stop_on_signal(self, stop: _Stop, batch: anyio.CancelScope) -> None:
        """SIGINT or SIGTERM: no new submit, the ones on the wire get :data:`STOP_GRACE`
        seconds to be answered (their job ids are recorded), then the run ends."""
        try:
            receiver = anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM)
            signals = receiver.__enter__()
        except NotImplementedError:  # no signal handlers (Windows): Ctrl-C interrupts at once
            return
        try:
            async for signum in signals:
                stop.signum = signum
                self.client._submits.stop(grace=STOP_GRACE)
                batch.cancel()
                return  # a second Ctrl-C now interrupts at once
        finally:
            receiver.__exit__(None, None, None)

    async def _batch(self, prompts: Iterable[GenerationRequest]) -> None:
        limiter = anyio.CapacityLimiter(max(1, self.downloads_at_once))
        async with anyio.create_task_group() as group:
            async for item in self.client.generate_many(
                prompts,
                max_submitting=self.concurrency,
                on_progress=self.display.progress,
                journal=self.journal,
                resubmit_unknown=self.resubmit_unknown,
            ):
                self.summary.counts[item.status] += 1
                if item.reset_at and (
                    self.summary.reset_at is None or item.reset_at < self.summary.reset_at
                ):
                    self.summary.reset_at = item.reset_at
                if item.status == "completed" and self.download_dir is not None:
                    self.display.download_started()
                    group.start_soon(self._download, item, self.download_dir, limiter)
                else:
                    self._finish(item)

    async def _download(
        self, item: BatchItem, folder: Path, limiter: anyio.CapacityLimiter
    ) -> None:
        """Save one finished video (streamed, whole or not at all) and record where."""
        path = self.journal.download_path(item.index, item.request)
        error = None
        if path is None and item.job is not None:
            target = batch_target(folder, item.request, item.job.id)
            async with limiter:
                try:
                    # The client retries what may pass (connection, 5xx) before giving up.
                    path = await self.client.download(item.job, target)
                except (SoraError, OSError) as exc:
                    error = f"download failed: {exc}"
            if path is not None:
                self.journal.downloaded(item.index, item.request, path)
        if path is not None:
            self.summary.downloaded += 1
        else:
            self.summary.download_failed += 1
        self.display.download_done()
        self._finish(item, path=path, download_error=error)

    def _finish(
        self, item: BatchItem, *, path: Path | None = None, download_error: str | None = None
    ) -> None:
        record = result_record(item, path=path, download_error=download_error)
        self.writer.write(record)
        self.display.result(record)
