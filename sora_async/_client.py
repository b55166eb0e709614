"""AsyncSoraClient: one httpx pool, one request budget, one poll scheduler."""

from __future__ import annotations

import enum
import inspect
import logging
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.abc
import httpx

from ._batch import BatchJournal, BatchRunner, ProgressCallback, PromptSource
from ._checks import (
    require_callback,
    require_client_settings,
    require_id,
    require_number,
    require_timeout,
)
from ._doubt import listed_job
from ._download import Downloaded, Target, check_download, existing, fetch, plan_target
from ._errors import (
    AuthenticationError,
    DailyLimitError,
    InvalidRequestError,
    JobFailedError,
    RateLimitError,
    SoraError,
    WaitTimeoutError,
)
from ._estimates import Estimates
from ._images import prepare_image, prepare_video
from ._limits import Limits, check_limits
from ._metrics import ClientMetrics, Recorder
from ._models import BatchItem, BatchResult, Character, GenerationRequest, Job, Quota, Video
from ._requests import make_request
from ._retry import RetryPolicy
from ._scheduler import PollScheduler
from ._secrets import check_api_key, check_base_url, shown_url
from ._submits import Submits, SubmitWatch
from ._transport import (
    DEFAULT_DOWNLOAD_TIMEOUT,
    DEFAULT_MAX_DOWNLOAD_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES,
    Answer,
    Caps,
    Transport,
)
from .providers import Provider, get_provider
from .providers.base import ContentVariant, ImageData, ProviderLimits, VideoFile, VideoPage
from .state import Budget, check_shared_state, make_budget

if TYPE_CHECKING:
    from .simulator import Simulator

__all__ = ["AsyncSoraClient"]

logger = logging.getLogger("sora_async")

UpdateCallback = Callable[[Job], Awaitable[None] | None]


class _State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class AsyncSoraClient:
    """Generate Sora-2 videos through one connection pool, request budget and poll scheduler.

    >>> async def main() -> None:  # doctest: +SKIP
    ...     async with AsyncSoraClient.simulated() as client:
    ...         job = await client.generate("a paper boat on a rainy street")
    ...         print(job.video_url)
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        provider: str | Provider = "codefast",
        base_url: str | None = None,
        timeout: float = 30.0,
        max_connections: int = 32,
        max_retries: int = 4,
        poll_interval: float = 3.0,
        max_poll_interval: float = 30.0,
        poll_concurrency: int = 8,
        http_client: httpx.AsyncClient | None = None,
        allow_insecure_http: bool = False,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
        download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        limits: Limits | None = None,
        shared_state: str | None = None,
    ) -> None:
        require_client_settings(
            seconds={
                "timeout": timeout,
                "poll_interval": poll_interval,
                "max_poll_interval": max_poll_interval,
                "download_timeout": download_timeout,
            },
            counts={
                "max_connections": max_connections,
                "max_retries": max_retries,
                "poll_concurrency": poll_concurrency,
                "max_response_bytes": max_response_bytes,
                "max_download_bytes": max_download_bytes,
            },
            flags={"allow_insecure_http": allow_insecure_http},
        )
        if http_client is not None and not isinstance(http_client, httpx.AsyncClient):
            raise InvalidRequestError(
                f"must be an httpx.AsyncClient, not {type(http_client).__name__}",
                field="http_client",
            )
        self._limits = check_limits(limits)
        self._shared_state = check_shared_state(shared_state)
        self._api_key = check_api_key(api_key or os.environ.get("SORA_API_KEY"))
        self._provider = get_provider(provider, base_url=base_url)
        # The URL as given (an empty one must not silently become the production host),
        # or the provider's own when none was given.
        check_base_url(
            self._provider.base_url if base_url is None else base_url,
            allow_insecure_http=allow_insecure_http,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            follow_redirects=False,
        )
        self._recorder = Recorder(
            self._provider.name, _host(self._provider.base_url), current=self.metrics
        )
        self._transport = Transport(
            http=self._http,
            provider=self._provider,
            api_key=self._api_key,
            max_connections=max_connections,
            recorder=self._recorder,
            caps=Caps(
                timeout=timeout,
                max_response_bytes=max_response_bytes,
                max_download_bytes=max_download_bytes,
                download_timeout=download_timeout,
            ),
        )
        self._retry = RetryPolicy(max_retries=max_retries, observer=self._recorder.retried)
        self._budget = self._new_budget(self._provider.limits, self._limits, 1.0)
        self._poll_interval = poll_interval
        self._max_poll_interval = max_poll_interval
        self._poll_concurrency = min(poll_concurrency, max_connections)
        self._quota = Quota()
        self._quota_seen: Quota | None = None
        # What the service's pace has shown: kept across batches and schedulers.
        self._estimates = Estimates()
        self._state = _State.UNOPENED
        self._task_group: anyio.abc.TaskGroup | None = None
        self._scheduler = self._new_scheduler()
        self._submits = Submits(self)
        self.simulator: Simulator | None = None

    def __repr__(self) -> str:
        return (
            f"AsyncSoraClient(provider={self._provider.name!r}, "
            f"base_url={self._provider.base_url!r}, state={self._state.value!r})"
        )

    # -- lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._state is not _State.UNOPENED:
            raise RuntimeError(f"cannot open a client that is {self._state.value}")
        self._state = _State.OPEN
        if self._owns_http:
            await self._http.__aenter__()
        try:
            await self._budget.open()
        except BaseException:
            await self.aclose()
            raise
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._scheduler.run)
        self._task_group.start_soon(self._budget.run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        group, self._task_group = self._task_group, None
        try:
            if group is not None:
                group.cancel_scope.cancel()
                # Only a cancellation belongs to the task group; any other error from the
                # block propagates as itself, not wrapped in an ExceptionGroup.
                if isinstance(exc, anyio.get_cancelled_exc_class()):
                    await group.__aexit__(exc_type, exc, tb)
                else:
                    await group.__aexit__(None, None, None)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close the pool (if this client made it). A closed client cannot be reused."""
        if self._state is _State.CLOSED:
            return
        self._state = _State.CLOSED
        try:
            if self._owns_http:
                await self._http.aclose()
        finally:
            await self._budget.aclose()

    def _check_open(self) -> None:
        if self._state is _State.CLOSED:
            raise RuntimeError("the client has been closed and cannot send requests")

    # -- what the client knows --------------------------------------------------------------------

    @property
    def provider(self) -> Provider:
        return self._provider

    @property
    def quota(self) -> Quota:
        """The quota the provider last reported (no request is made)."""
        return self._quota

    @property
    def poll_interval(self) -> float:
        return self._poll_interval

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests this client has sent (retries and downloads included)."""
        return self._transport.requests_sent

    def metrics(self) -> ClientMetrics:
        """What this client has done: requests, 429s, retries, quota, jobs, latencies.

        A frozen snapshot; see :class:`ClientMetrics` (and :mod:`sora_async.contrib.otel`
        for the same as OpenTelemetry metrics and spans).

        >>> client.metrics().rate_limited  # doctest: +SKIP
        0
        """
        return self._recorder.snapshot(
            requests_sent=self._transport.requests_sent,
            jobs_tracked=self._scheduler.tracked,
            quota=self._quota,
        )

    def tracked_job(self, job_id: str) -> Job | None:
        """The latest state of a job the scheduler is following, with no request."""
        return self._scheduler.get(job_id)

    def submitted_jobs(self) -> list[tuple[int | None, Job]]:
        """Every job this client submitted, as ``(prompt index, job)`` in submit order.

        The index is the prompt's place in a batch (``None`` for :meth:`submit`); the job is
        its latest state known without a request. Nothing the server took is lost when a
        batch is left early (a ``break``, a cancellation, a timeout, an error in the loop):
        such jobs are still followed until the client closes, each named once in a WARNING
        on the ``sora_async`` logger (at INFO when the batch has a ``journal``: they are on
        record there), and listed here. For a record that outlives the process, give the
        batch a ``journal``.

        >>> for index, job in client.submitted_jobs():  # doctest: +SKIP
        ...     print(index, job.id, job.status)
        """
        return [(index, self._scheduler.get(job.id) or job) for index, job in self._submits.jobs()]

    def _keep_following(self, job: Job) -> None:
        """Follow a job nobody waits for any more until the client closes (a batch left
        early): its latest state shows in :meth:`submitted_jobs`."""
        if self._follows_jobs and not job.is_terminal:
            self._scheduler.track(job, self._submits.updated)

    # -- the public calls -------------------------------------------------------------------------

    async def submit(self, prompt: str | GenerationRequest, /, **params: Any) -> Job:
        """Submit one generation; returns as soon as the server took it.

        Spends one unit of daily quota or credits. Never resent after an ambiguous failure:
        that raises :class:`APIConnectionError` with ``maybe_submitted=True``.

        >>> job = await client.submit("a lighthouse at dusk", aspect_ratio="9:16")  # doctest: +SKIP
        """
        return await self._submit(make_request(prompt, params))

    async def _submit(
        self,
        request: GenerationRequest,
        *,
        index: int | None = None,
        watch: SubmitWatch | None = None,
    ) -> Job:
        """:meth:`submit` for a batch: ``watch`` is told when it is on the wire and answered."""
        self._provider.validate(request)
        image = await self._image_for(request)
        job = await self._submits.send(
            lambda: self._provider.submit_request(request, image), watch=watch, index=index
        )
        self._follow_for_task_slot(job)
        return job

    async def get_job(self, job_id: str) -> Job:
        """One status request for ``job_id``."""
        job, _ = await self._poll_status(require_id(job_id))
        return job

    async def wait(
        self,
        job: Job | str,
        *,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
    ) -> Job:
        """Wait until ``job`` ends; returns it completed.

        Raises :class:`JobFailedError` if it failed and :class:`WaitTimeoutError` after
        ``timeout`` seconds. ``on_update`` (sync or async) is called on every change.
        """
        require_timeout(timeout)
        require_callback("on_update", on_update)
        current = job if isinstance(job, Job) else await self.get_job(job)
        if current.is_terminal:
            return _completed_or_raise(current)
        send, receive = anyio.create_memory_object_stream[tuple[Job, SoraError | None]](math.inf)

        def listener(state: Job, error: SoraError | None) -> None:
            send.send_nowait((state, error))

        async with self._running_scheduler() as scheduler, send, receive:
            untrack = scheduler.track(current, listener)
            try:
                with anyio.move_on_after(math.inf if timeout is None else timeout):
                    async for current, error in receive:
                        if on_update is not None:
                            await _maybe_await(on_update(current))
                        if error is not None:
                            raise error
                        if current.is_terminal:
                            return _completed_or_raise(current)
            finally:
                untrack()
        raise WaitTimeoutError(f"job {current.id} did not finish within {timeout} s", job=current)

    async def generate(
        self,
        prompt: str | GenerationRequest,
        /,
        *,
        timeout: float | None = None,
        on_update: UpdateCallback | None = None,
        **params: Any,
    ) -> Job:
        """Submit and wait: the finished job, with its ``video_url``."""
        # Checked before the submit: a bad wait must not cost a generation and lose its id.
        require_timeout(timeout)
        require_callback("on_update", on_update)
        job = await self.submit(prompt, **params)
        return await self.wait(job, timeout=timeout, on_update=on_update)

    async def generate_many(
        self,
        prompts: PromptSource,
        /,
        *,
        max_submitting: int = 8,
        on_progress: ProgressCallback | None = None,
        journal: BatchJournal | None = None,
        resubmit_unknown: bool = False,
        **params: Any,
    ) -> AsyncIterator[BatchItem]:
        """Yield a :class:`BatchItem` for each prompt as it finishes (in any order).

        ``prompts`` may be a sync or async iterable of strings or requests; it is read lazily.
        A bad item never raises: failures, errors and quota skips are items too. The work runs
        in the client's task group, so use it inside ``async with AsyncSoraClient(...)``;
        leaving the loop early cancels the rest of the batch, and the jobs the server took
        stay reachable (see :meth:`submitted_jobs`).

        >>> async for item in client.generate_many(["a fox", "a crow"]):  # doctest: +SKIP
        ...     print(item.index, item.status, item.video_url)
        """
        if self._task_group is None:
            raise RuntimeError(
                "generate_many runs in the client's task group: use it inside "
                "'async with AsyncSoraClient(...) as client' (or call generate_batch)"
            )
        self._check_batch_params(params)
        runner = self._batch_runner(
            self._scheduler,
            params,
            max_submitting=max_submitting,
            on_progress=on_progress,
            journal=journal,
            resubmit_unknown=resubmit_unknown,
        )
        with runner.start(self._task_group, prompts, params) as items:
            try:
                async for item in items:
                    runner.claim(item)
                    yield item
            finally:
                runner.release()

    async def generate_batch(
        self,
        prompts: PromptSource,
        /,
        *,
        max_submitting: int = 8,
        on_progress: ProgressCallback | None = None,
        journal: BatchJournal | None = None,
        resubmit_unknown: bool = False,
        **params: Any,
    ) -> BatchResult:
        """Run every prompt to the end; returns a :class:`BatchResult` in prompt order.

        >>> result = await client.generate_batch(["a fox", "a crow"])  # doctest: +SKIP
        >>> print(result.summary())  # doctest: +SKIP
        2 prompts: 2 completed, 0 failed, 0 skipped, 0 errors
        """
        self._check_batch_params(params)
        async with self._running_scheduler() as scheduler, anyio.create_task_group() as group:
            runner = self._batch_runner(
                scheduler,
                params,
                max_submitting=max_submitting,
                on_progress=on_progress,
                journal=journal,
                resubmit_unknown=resubmit_unknown,
            )
            try:
                with runner.start(group, prompts, params) as items:
                    collected = [item async for item in items]
                for item in collected:
                    runner.claim(item)
            finally:
                runner.release()  # cancelled or timed out: every job is still reachable
        return BatchResult(items=collected)

    async def list_videos(self, *, limit: int | None = None) -> list[Video]:
        """The videos this key made, newest first (every page, up to ``limit``)."""
        if limit is not None:
            require_number("limit", limit, least=0, whole=True)
        videos: list[Video] = []
        cursor: str | None = None
        while limit is None or len(videos) < limit:
            page_size = None if limit is None else min(100, limit - len(videos))
            page, _ = await self._list_page(cursor, page_size)
            videos.extend(page.videos)
            cursor = page.next_cursor
            if cursor is None:
                break
        return videos if limit is None else videos[:limit]

    async def get_quota(self) -> Quota:
        """Ask the provider for this key's quota; returns everything known so far."""
        if self._provider.quota_request() is None:
            raise self._provider.unsupported("get_quota (see client.quota for what it reported)")
        payload, _ = await self._call(self._quota_request)
        await self._learn_quota(self._provider.parse_quota(payload), seq=None)
        return self._quota

    def _quota_request(self) -> httpx.Request:
        request = self._provider.quota_request()
        assert request is not None  # checked by get_quota
        return request

    async def check_key(self) -> bool:
        """Whether the provider accepts the key (``False`` on an authentication error)."""
        try:
            payload, _ = await self._call(self._provider.check_key_request)
        except AuthenticationError:
            return False
        return self._provider.parse_check_key(payload)

    async def upload_image(self, image: str | Path | bytes) -> str:
        """Upload an image (soravideo) and return the URL to generate from."""
        data = await prepare_image(image, max_bytes=self._provider.max_image_bytes)
        if data.url is not None:
            raise InvalidRequestError("is already a URL; nothing to upload", field="image")
        payload, _ = await self._call(lambda: self._provider.upload_request(data))
        return self._provider.parse_upload(payload)

    async def download(
        self,
        job: Job | str,
        dest: str | os.PathLike[str] = ".",
        *,
        variant: ContentVariant = "video",
        overwrite: bool = False,
    ) -> Path:
        """Stream a finished job's file to ``dest``: a folder (named from the job id) or a
        file path. Returns where it is.

        It is written to a temporary file and moved into place when whole. A file is never
        replaced without ``overwrite=True``: a file path that exists is refused before any
        request; a file named from the job id that exists is an earlier download, kept.
        ``"run.v2/"`` (a trailing separator), an existing folder, or a path with no suffix
        is a folder.

        >>> path = await client.download(job, "videos/")  # doctest: +SKIP
        """
        return (await self._download(job, dest, variant=variant, overwrite=overwrite)).path

    async def _download(
        self,
        job: Job | str,
        dest: str | os.PathLike[str],
        *,
        variant: ContentVariant,
        overwrite: bool,
    ) -> Downloaded:
        """:meth:`download`, saying whether the file was ``saved`` or ``kept``."""
        check_download(self._provider, job, dest, variant, overwrite)
        target = plan_target(dest, job.id if isinstance(job, Job) else job, variant)
        kept = existing(target, overwrite=overwrite)
        if kept is not None:
            return kept
        if not isinstance(job, Job):
            job = await self.get_job(job)
        try:
            request = self._provider.content_request(job, variant)
        except httpx.InvalidURL:
            raise InvalidRequestError("is not a valid URL", field="video_url") from None
        if request.url.scheme not in ("http", "https") or not request.url.host:
            raise InvalidRequestError(
                f"{shown_url(str(request.url))!r} is not an http(s) URL with a host",
                field="video_url",
            )
        return await self._retry.call(lambda: self._download_once(request, target, overwrite))

    async def delete_video(self, job_id: str) -> None:
        """Delete a video (openai)."""
        await self._call(lambda: self._provider.delete_request(require_id(job_id)))

    async def remix(self, job_id: str, prompt: str) -> Job:
        """Start a new video from a finished one with a new prompt (openai)."""
        make_request(prompt, {})
        return await self._derive(lambda: self._provider.remix_request(require_id(job_id), prompt))

    async def edit(self, job: Job | str, /, *, prompt: str) -> Job:
        """Start a new video that edits a finished one as ``prompt`` says (openai).

        It spends a generation, like :meth:`submit`, and returns the new job: follow it
        with :meth:`wait`.

        >>> night = await client.edit(job, prompt="now at night")  # doctest: +SKIP
        >>> night = await client.wait(night)  # doctest: +SKIP
        """
        video_id = _video_id(job)
        make_request(prompt, {})
        return await self._derive(lambda: self._provider.edit_request(video_id, prompt))

    async def extend(self, job: Job | str, /, *, prompt: str, seconds: int) -> Job:
        """Start a new video that continues a finished one for ``seconds`` more (openai:
        4, 8, 12, 16 or 20); the new job's video is the whole, longer clip.

        >>> longer = await client.extend(job, prompt="the fox runs on", seconds=8)  # doctest: +SKIP
        """
        video_id = _video_id(job)
        make_request(prompt, {})
        require_number("seconds", seconds, least=1, whole=True)
        return await self._derive(lambda: self._provider.extend_request(video_id, prompt, seconds))

    async def create_character(self, *, name: str, video: str | Path | bytes) -> Character:
        """Make a named character from a short video (a path or bytes: MP4, QuickTime or
        WebM), for later videos (openai).

        >>> mossy = await client.create_character(name="Mossy", video="mossy.mp4")  # doctest: +SKIP
        >>> mossy.id  # doctest: +SKIP
        'char_...'
        """
        if not isinstance(name, str):
            raise InvalidRequestError(f"must be a string, not {type(name).__name__}", field="name")
        # Refused before the file is read when the provider has no characters, or bad name.
        self._provider.create_character_request(name, _STAND_IN_VIDEO)
        data = await prepare_video(video, max_bytes=self._provider.max_video_bytes)
        payload, _ = await self._call(
            lambda: self._provider.create_character_request(name, data), submit=True
        )
        return self._provider.parse_character(payload)

    async def get_character(self, character_id: str, /) -> Character:
        """One character, by the id :meth:`create_character` gave (openai).

        >>> await client.get_character("char_123")  # doctest: +SKIP
        """
        character_id = require_id(character_id, field="character_id")
        payload, _ = await self._call(lambda: self._provider.character_request(character_id))
        return self._provider.parse_character(payload)

    async def _derive(self, build: Callable[[], httpx.Request]) -> Job:
        """Send a call that starts a new job from another (remix, edit, extend).

        Bad input, or a call the provider lacks, is refused before the budget is asked; the
        call then spends a generation like a submit and is never resent after an ambiguous
        failure.
        """
        build()
        job = await self._submits.send(build)
        self._follow_for_task_slot(job)
        return job

    @classmethod
    def simulated(
        cls,
        *,
        provider: str = "codefast",
        time_scale: float = 0.01,
        api_key: str | None = None,
        poll_interval: float | None = None,
        max_poll_interval: float | None = None,
        poll_concurrency: int = 8,
        max_connections: int = 32,
        max_retries: int = 4,
        timeout: float = 30.0,
        limits: Limits | None = None,
        shared_state: str | None = None,
        **simulator_settings: Any,
    ) -> AsyncSoraClient:
        """A client wired to an in-process simulator of ``provider``; no key or network needed.

        Poll intervals, retry delays and published rate windows are scaled by ``time_scale``
        like the simulator's own durations. The simulator is at ``client.simulator``.

        >>> client = AsyncSoraClient.simulated(provider="soravideo", seed=7)
        >>> client.simulator.settings.provider
        'soravideo'
        """
        from .simulator import Simulator

        simulator = Simulator(
            provider=provider, time_scale=time_scale, api_key=api_key, **simulator_settings
        )
        http = httpx.AsyncClient(transport=simulator.transport(), timeout=timeout)
        client = cls(
            api_key=api_key or "sk-simulated",
            provider=provider,
            base_url=simulator.base_url,
            timeout=timeout,
            max_connections=max_connections,
            max_retries=max_retries,
            poll_interval=3.0 * time_scale if poll_interval is None else poll_interval,
            max_poll_interval=30.0 * time_scale if max_poll_interval is None else max_poll_interval,
            poll_concurrency=poll_concurrency,
            http_client=http,
            allow_insecure_http=True,  # the made-up host never leaves the process
            limits=limits,
            shared_state=shared_state,
        )
        client._owns_http = True
        client.simulator = simulator
        client.scale_time(time_scale)
        return client

    def scale_time(self, factor: float) -> None:
        """Scale published rate windows, retry delays and the cap on the server's pauses
        (for a simulator's time scale)."""
        require_number("factor", factor, least=0.0, inclusive=False)
        limits: ProviderLimits = self._provider.limits
        self._retry = replace(
            self._retry,
            base_delay=self._retry.base_delay * factor,
            max_delay=self._retry.max_delay * factor,
            max_total=self._retry.max_total * max(factor, 0.1),
            max_retry_after=self._retry.max_retry_after * factor,
        )
        own = self._limits
        if own.rate_window is not None:
            own = replace(own, rate_window=own.rate_window * factor)
        self._budget = self._new_budget(
            replace(limits, rate_window=limits.rate_window * factor), own, factor
        )

    def _new_budget(self, limits: ProviderLimits, own: Limits, time_scale: float) -> Budget:
        return make_budget(
            self._shared_state,
            provider=self._provider,
            api_key=self._api_key.reveal(),
            limits=limits,
            own=own,
            max_pause=self._retry.max_retry_after,
            time_scale=time_scale,
        )

    # -- sending ----------------------------------------------------------------------------------

    async def _call(
        self, build: Callable[[], httpx.Request], *, submit: bool = False
    ) -> tuple[Any, httpx.Response]:
        """Build and send a request under the retry policy; returns (payload, response)."""
        return await self._retry.call(lambda: self._send(build(), submit=submit), submit=submit)

    async def _send(self, request: httpx.Request, *, submit: bool) -> tuple[Any, httpx.Response]:
        self._check_open()
        seq = await self._budget.admit()
        answer = await self._transport.send(request, submit=submit)
        await self._learn(answer, seq)
        if answer.error is not None:
            raise answer.error
        return answer.payload, answer.response

    async def _learn(self, answer: Answer, seq: int) -> None:
        """What one answer tells about the quota and the pauses the server asks for."""
        # Quota fields are a bonus: providers leave out a malformed one, never raise.
        quota = self._provider.quota_from(answer.response, answer.body)
        answer.response.extensions[_QUOTA] = quota  # read once: _job_from needs it too
        await self._learn_quota(quota, seq)
        error = answer.error
        if isinstance(error, DailyLimitError):
            await self._budget.daily_exhausted(error.reset_at)
        elif isinstance(error, RateLimitError) and error.retry_after:
            await self._budget.back_off(error.retry_after)

    async def _learn_quota(self, quota: Quota | None, seq: int | None) -> None:
        if quota is not None and quota.is_empty:
            quota = None
        # Most answers repeat the last one: nothing to merge.
        if quota is not None and not _same_quota(quota, self._quota_seen):
            self._quota_seen = quota
            self._quota = self._quota.merged(quota)
        # Told even without quota fields: the budget counts the requests not yet answered.
        await self._budget.observe(quota, seq=seq if seq is not None else -1)

    def _job_from(self, payload: Any, response: httpx.Response) -> Job:
        job = self._provider.parse_job(payload)
        self._recorder.job_seen(job)
        if _QUOTA in response.extensions:
            quota = response.extensions[_QUOTA]
        else:
            quota = self._provider.quota_from(response, payload)
        if quota is not None and not _same_quota(quota, job.quota) and not quota.is_empty:
            job = job.model_copy(update={"quota": quota})
        if job.is_terminal:
            self._budget.job_finished(job.id)
        return job

    async def _download_once(
        self, request: httpx.Request, target: Target, overwrite: bool
    ) -> Downloaded:
        self._check_open()
        await self._budget.admit()
        return await fetch(self._transport, request, target, overwrite)

    @property
    def _follows_jobs(self) -> bool:
        return self._task_group is not None

    def _follow_for_task_slot(self, job: Job) -> None:
        # Under a concurrent-task limit a slot frees only when its job is seen finished, so
        # the shared scheduler follows every job, even one nobody waits for (yet).
        if self._follows_jobs and self._budget.limits_tasks and not job.is_terminal:
            self._scheduler.track(job, _ignore_updates)

    # -- polling ----------------------------------------------------------------------------------

    def _new_scheduler(self) -> PollScheduler:
        return PollScheduler(
            poll_status=self._poll_status,
            list_jobs=self._list_jobs if self._provider.can_list else None,
            poll_concurrency=self._poll_concurrency,
            poll_interval=self._poll_interval,
            max_poll_interval=self._max_poll_interval,
            on_end=self._job_ended,
            estimates=self._estimates,
        )

    def _job_ended(self, job: Job) -> None:
        self._budget.job_finished(job.id)
        self._recorder.job_ended(job)

    async def _poll_status(self, job_id: str) -> tuple[Job, float | None]:
        # With shared state, a look another process made within a poll interval is reused.
        job, hint = await self._budget.look(
            job_id, lambda: self._poll_status_now(job_id), fresh_for=self._poll_interval
        )
        if job.is_terminal:
            self._budget.job_finished(job.id)
        return job, hint

    async def _poll_status_now(self, job_id: str) -> tuple[Job, float | None]:
        payload, response = await self._call(lambda: self._provider.status_request(job_id))
        self._estimates.costs.status_answer(len(response.content))
        return self._job_from(payload, response), self._provider.poll_hint(response)

    async def _list_page(
        self, cursor: str | None, limit: int | None, only: Collection[str] | None = None
    ) -> tuple[VideoPage, int]:
        payload, response = await self._call(
            lambda: self._provider.list_request(cursor=cursor, limit=limit)
        )
        return self._provider.parse_list(payload, only=only), len(response.content)

    async def _list_jobs(self, tracked: Collection[str]) -> list[Job]:
        """The tracked jobs the newest pages of the listing show, for a scheduler sweep."""
        jobs: list[Job] = []
        cursor: str | None = None
        pages = sizes = 0
        for _ in range(min(10, 1 + len(tracked) // 100)):
            page, size = await self._list_page(cursor, 100, tracked)
            pages, sizes = pages + 1, sizes + size
            jobs.extend(listed_job(video) for video in page.videos if video.status)
            cursor = page.next_cursor
            if cursor is None:
                break
        # What a sweep costs, for the scheduler's choice between a sweep and single polls.
        self._estimates.costs.list_answer(pages, sizes)
        return jobs

    @asynccontextmanager
    async def _running_scheduler(self) -> AsyncIterator[PollScheduler]:
        """The shared scheduler; outside ``async with`` a private one runs for this call."""
        self._check_open()
        if self._task_group is not None:
            yield self._scheduler
            return
        scheduler = self._new_scheduler()
        async with anyio.create_task_group() as group:
            group.start_soon(scheduler.run)
            try:
                yield scheduler
            finally:
                group.cancel_scope.cancel()

    def _batch_runner(
        self, scheduler: PollScheduler, params: dict[str, Any], **options: Any
    ) -> BatchRunner:
        return BatchRunner(client=self, scheduler=scheduler, **options)

    def _check_batch_params(self, params: dict[str, Any]) -> None:
        # Shared parameters are checked once, before any prompt is read or sent.
        self._provider.validate(make_request("parameter check", params))

    # -- input ------------------------------------------------------------------------------------

    async def _image_for(self, request: GenerationRequest) -> ImageData | None:
        if request.image is None:
            return None
        image = await prepare_image(request.image, max_bytes=self._provider.max_image_bytes)
        if self._provider.image_transport == "url" and image.url is None:
            image = ImageData(url=await self.upload_image(request.image))
        return image


def _host(base_url: str) -> str:
    """The base URL's host, for the metrics (no path, no query, never a credential)."""
    try:
        return httpx.URL(base_url).host
    except httpx.InvalidURL:
        return ""


#: Where an answer's quota, once read, is kept on its response.
_QUOTA = "sora_async.quota"


def _ignore_updates(job: Job, error: SoraError | None) -> None:
    return None


def _same_quota(quota: Quota, other: Quota | None) -> bool:
    # Providers hand the same (frozen) Quota to answers that repeat the last one: the
    # identity check spares a field-by-field comparison on most answers.
    return quota is other or quota == other


def _video_id(job: Job | str) -> str:
    return job.id if isinstance(job, Job) else require_id(job, field="job")


# Asks a provider whether it makes characters at all, before a file is read.
_STAND_IN_VIDEO = VideoFile(data=b"", mime_type="video/mp4", filename="video.mp4")


def _completed_or_raise(job: Job) -> Job:
    if job.status.value == "failed":
        raise JobFailedError(f"job {job.id} failed: {job.error or 'no reason given'}", job=job)
    return job


async def _maybe_await(result: Awaitable[None] | None) -> None:
    if inspect.isawaitable(result):
        await result
