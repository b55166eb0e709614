"""FastAPI integration: one shared client per app, a router with live status, error mapping.

Install the ``fastapi`` extra (``pip install 'sora-async[fastapi]'``)::

    from fastapi import FastAPI
    from sora_async.contrib.fastapi import (
        SoraClient, create_router, install_error_handlers, sora_lifespan,
    )

    app = FastAPI(lifespan=sora_lifespan(provider="codefast"))  # SORA_API_KEY from the env
    app.include_router(create_router())
    install_error_handlers(app)

    @app.get("/quota")
    async def quota(client: SoraClient) -> dict[str, object]:
        return client.quota.model_dump(mode="json")

The lifespan opens one :class:`~sora_async.AsyncSoraClient` at startup, so every request
shares one connection pool, request budget and poll scheduler; the service follows each job
it submitted until the job ends, so status reads and event streams cost no extra polls.
At shutdown it ends the event streams, cancels the background work and closes the client.
"""

import logging
import math
import secrets
from collections import Counter, OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, overload

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from .._batch import BatchProgress
from .._client import AsyncSoraClient
from .._errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    DailyLimitError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    RateLimitError,
    SoraError,
    WaitTimeoutError,
)
from .._models import BatchItem, Job
from .._requests import make_request

if TYPE_CHECKING:
    import socket

    import uvicorn

__all__ = [
    "BatchAccepted",
    "BatchRequest",
    "BatchView",
    "SoraClient",
    "VideoRequest",
    "create_router",
    "error_response",
    "get_sora_client",
    "install_error_handlers",
    "sora_lifespan",
    "uvicorn_server",
]

logger = logging.getLogger("sora_async.fastapi")

AppT = TypeVar("AppT", bound=Starlette)

_KEEP_FINISHED_JOBS = 1024  # finished jobs answered from memory (a finished job never changes)
_KEEP_BATCHES = 100  # batches kept for GET /batches/{id}; the oldest finished go first


# -- the lifespan and the dependency --------------------------------------------------------------


@overload
def sora_lifespan(
    lifespan: None = None,
    /,
    *,
    client: Callable[[], AsyncSoraClient] | None = None,
    simulate: bool = False,
    **client_kwargs: Any,
) -> Callable[[Starlette], AbstractAsyncContextManager[Any]]: ...


@overload
def sora_lifespan(
    lifespan: Callable[[AppT], AbstractAsyncContextManager[Any]],
    /,
    *,
    client: Callable[[], AsyncSoraClient] | None = None,
    simulate: bool = False,
    **client_kwargs: Any,
) -> Callable[[AppT], AbstractAsyncContextManager[Any]]: ...


def sora_lifespan(
    lifespan: Callable[[AppT], AbstractAsyncContextManager[Any]] | None = None,
    /,
    *,
    client: Callable[[], AsyncSoraClient] | None = None,
    simulate: bool = False,
    **client_kwargs: Any,
) -> Callable[[AppT], AbstractAsyncContextManager[Any]]:
    """A lifespan for ``FastAPI(lifespan=...)`` that runs one shared client.

    At startup it opens ``AsyncSoraClient(**client_kwargs)`` (or ``client()``, or with
    ``simulate=True`` ``AsyncSoraClient.simulated(**client_kwargs)``) and keeps it in
    ``app.state.sora_client``; at shutdown it ends the event streams, cancels the polls and
    background batches, and closes the client. An app's own ``lifespan`` runs inside, with
    the client open (``app.state.sora_client``), and the state it yields is passed on.

    >>> from fastapi import FastAPI
    >>> app = FastAPI(lifespan=sora_lifespan(simulate=True, provider="openai"))
    >>> app = FastAPI(lifespan=sora_lifespan(client=lambda: AsyncSoraClient.simulated()))
    """
    if client is not None and (simulate or client_kwargs):
        raise TypeError("pass either client= or the client's settings, not both")
    if client is not None:
        make_client = client
    elif simulate:
        make_client = lambda: AsyncSoraClient.simulated(**client_kwargs)  # noqa: E731
    else:
        make_client = lambda: AsyncSoraClient(**client_kwargs)  # noqa: E731

    @asynccontextmanager
    async def run(app: AppT) -> AsyncIterator[Any]:
        async with make_client() as sora_client, _SoraService.running(sora_client) as service:
            app.state.sora_client, app.state.sora_service = sora_client, service
            try:
                if lifespan is None:
                    yield None
                else:
                    async with lifespan(app) as state:
                        yield state
            finally:
                del app.state.sora_client, app.state.sora_service

    return run


def get_sora_client(connection: HTTPConnection) -> AsyncSoraClient:
    """The app's shared client, as a FastAPI dependency (see :data:`SoraClient`).

    >>> @app.post("/trailers")  # doctest: +SKIP
    ... async def trailer(title: str, client: AsyncSoraClient = Depends(get_sora_client)):
    ...     return await client.submit(f"A cinematic trailer for {title}")
    """
    return _service_of(connection.app).client


#: ``client: SoraClient`` in an endpoint's signature injects the shared client.
SoraClient = Annotated[AsyncSoraClient, Depends(get_sora_client)]


def _service_of(app: Starlette) -> "_SoraService":
    service = getattr(app.state, "sora_service", None)
    if not isinstance(service, _SoraService):
        raise RuntimeError(
            "no Sora client is running: create the app with FastAPI(lifespan=sora_lifespan(...))"
        )
    return service


def _get_service(connection: HTTPConnection) -> "_SoraService":
    return _service_of(connection.app)


# -- following jobs: one poll stream per job, any number of listeners ------------------------------

_Update = Job | SoraError


def _shown(job: Job) -> dict[str, Any]:
    # The quota rides on every answer; a listener is told about changes to the job itself.
    return job.model_dump(exclude={"quota"})


@dataclass(eq=False)
class _Watch:
    """One followed job and its listeners (each an event stream)."""

    job: Job
    pinned: bool  # submitted by this service: followed to the end even with no listener
    listeners: set[MemoryObjectSendStream[_Update]] = field(default_factory=set)
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)

    def publish(self, update: _Update) -> None:
        if isinstance(update, Job):
            if _shown(update) == _shown(self.job):
                return
            self.job = update
        for send in list(self.listeners):
            send.send_nowait(update)  # unbounded buffer, and a leaving listener unsubscribes

    def subscribe(self) -> tuple[MemoryObjectReceiveStream[_Update], Callable[[], None]]:
        send, receive = anyio.create_memory_object_stream[_Update](math.inf)
        self.listeners.add(send)

        def unsubscribe() -> None:
            self.listeners.discard(send)
            send.close()
            if not self.listeners and not self.pinned:
                self.scope.cancel()  # nobody is listening to a job we did not submit

        return receive, unsubscribe

    def close(self) -> None:
        for send in self.listeners:
            send.close()
        self.listeners.clear()


@dataclass(eq=False)
class _Fetch:
    """One status request that concurrent callers for the same job share."""

    done: anyio.Event = field(default_factory=anyio.Event)
    job: Job | None = None
    error: SoraError | None = None


BatchState = Literal["running", "finished", "cancelled", "error"]


@dataclass(eq=False)
class _Batch:
    id: str
    total: int
    state: BatchState = "running"
    items: list[BatchItem] = field(default_factory=list)
    progress: BatchProgress | None = None
    error: str | None = None

    def set_progress(self, progress: BatchProgress) -> None:
        self.progress = progress

    def view(self) -> "BatchView":
        items = sorted(self.items, key=lambda i: i.index)
        records = [item.to_record() for item in items]
        live = self.progress
        if self.state != "running":
            counts = Counter(item.status for item in items)
            ended = (counts["completed"], counts["failed"], counts["skipped"], counts["error"])
            waiting = (0, 0, 0)
        elif live is None:  # nothing has happened yet
            ended, waiting = (0, 0, 0, 0), (self.total, 0, 0)
        else:
            # One snapshot gives every count, so they add up to the total. Its own
            # ``submitting`` may still hold a submit whose job is already counted as queued,
            # so it is what is left: prompts the server has not taken yet.
            ended = (live.completed, live.failed, live.skipped, live.errors)
            in_flight = live.queued + live.processing
            waiting = (max(0, self.total - in_flight - sum(ended)), live.queued, live.processing)
        submitting, queued, processing = waiting
        completed, failed, skipped, errors = ended
        return BatchView(
            batch_id=self.id,
            state=self.state,
            total=self.total,
            submitting=submitting,
            queued=queued,
            processing=processing,
            completed=completed,
            failed=failed,
            skipped=skipped,
            errors=errors,
            error=self.error,
            items=records,
        )


class _SoraService:
    """What the lifespan keeps in ``app.state.sora_service``: followed jobs and batches."""

    def __init__(self, client: AsyncSoraClient, group: anyio.abc.TaskGroup) -> None:
        self.client = client
        self._group = group
        self._watches: dict[str, _Watch] = {}
        self._fetches: dict[str, _Fetch] = {}
        self._finished: OrderedDict[str, Job] = OrderedDict()
        self._batches: OrderedDict[str, _Batch] = OrderedDict()
        self._closing = False

    @classmethod
    @asynccontextmanager
    async def running(cls, client: AsyncSoraClient) -> AsyncIterator["_SoraService"]:
        # Background work (followed jobs, batches) lives in this group, which the lifespan
        # owns: shutdown cancels it before the client closes, so nothing outlives the app.
        async with anyio.create_task_group() as group:
            service = cls(client, group)
            try:
                yield service
            finally:
                service.close_streams()
                group.cancel_scope.cancel()

    def close_streams(self) -> None:
        """End every event stream now (the server is shutting down)."""
        self._closing = True
        for watch in self._watches.values():
            watch.close()

    # -- jobs ----------------------------------------------------------------------------------

    def known(self, job_id: str) -> Job | None:
        """The latest state of a job this process follows or saw end, with no request."""
        watch = self._watches.get(job_id)
        return (
            self.client.tracked_job(job_id)
            or (watch.job if watch is not None else None)
            or self._finished.get(job_id)
        )

    async def job(self, job_id: str) -> Job:
        return self.known(job_id) or await self._fetch(job_id)

    def follow(self, job: Job, *, pinned: bool = True) -> _Watch | None:
        """Follow ``job`` in the background until it ends; ``None`` if it has ended."""
        if job.is_terminal:
            self._remember(job)
            return None
        watch = self._watches.get(job.id)
        if watch is None or watch.scope.cancel_called:
            watch = self._watches[job.id] = _Watch(job=job, pinned=pinned)
            self._group.start_soon(self._run_watch, watch)
        watch.pinned = watch.pinned or pinned
        return watch

    async def listen(
        self, job_id: str
    ) -> tuple[Job, tuple[MemoryObjectReceiveStream[_Update], Callable[[], None]] | None]:
        """The job's current state and a subscription to its changes (``None`` if it ended).

        Raises the lookup's error (e.g. :class:`NotFoundError`) before any stream starts.
        """
        watch = self._watches.get(job_id)
        if watch is None or watch.scope.cancel_called:
            job = self.known(job_id) or await self._fetch(job_id)
            # A listener on a job we did not submit starts following it, until nobody listens.
            watch = None if self._closing else self.follow(job, pinned=False)
            if watch is None:
                return job, None
        if self._closing:  # the server is stopping: the current state, and no stream
            return watch.job, None
        return watch.job, watch.subscribe()

    async def _run_watch(self, watch: _Watch) -> None:
        async def publish(job: Job) -> None:
            if job.is_terminal and job.completed_at is None:
                job = await self._whole(job)
            watch.publish(job)

        try:
            with watch.scope:
                # wait() shares the client's scheduler: every followed job is one poll stream,
                # however many listeners it has.
                await self.client.wait(watch.job, on_update=publish)
        except JobFailedError:
            pass  # on_update has already published the failed state
        except SoraError as error:  # tracking stopped without an end: not found, key refused...
            watch.publish(error)
        except Exception:  # a bug here must not take the app's task group down
            logger.exception("following job %s failed", watch.job.id)
        finally:
            if self._watches.get(watch.job.id) is watch:
                del self._watches[watch.job.id]
            self._remember(watch.job)
            watch.close()

    async def _whole(self, job: Job) -> Job:
        """A finished job with the fields its last answer left out, from one status request.

        A list sweep may be what saw the job end, and codefast's list names a finished
        video without its end time: the job's last event and every later GET would lack
        it for good.
        """
        try:
            answer = await self.client.get_job(job.id)
        except SoraError:
            return job  # what is known is still the truth; the fields stay unknown
        return job.updated(answer) if answer.status is job.status else job

    async def _fetch(self, job_id: str) -> Job:
        """One status request, shared by every caller asking for ``job_id`` meanwhile."""
        while True:
            fetch = self._fetches.get(job_id)
            if fetch is None:
                fetch = self._fetches[job_id] = _Fetch()
                try:
                    fetch.job = await self.client.get_job(job_id)
                except SoraError as error:
                    fetch.error = error
                finally:
                    del self._fetches[job_id]
                    fetch.done.set()
            else:
                await fetch.done.wait()
            if fetch.error is not None:
                raise fetch.error
            if fetch.job is not None:
                self._remember(fetch.job)
                return fetch.job
            # The caller that sent the request was cancelled (its client left): ask again.

    def _remember(self, job: Job) -> None:
        if not job.is_terminal:
            return
        self._finished[job.id] = job
        self._finished.move_to_end(job.id)
        while len(self._finished) > _KEEP_FINISHED_JOBS:
            self._finished.popitem(last=False)

    # -- batches -------------------------------------------------------------------------------

    def start_batch(self, prompts: list[str], params: dict[str, Any]) -> _Batch:
        # Everything is checked now, so that bad input is a 422 and nothing is spent: the
        # shared parameters once, then each prompt with them (blank, too long...).
        validate = self.client.provider.validate
        validate(make_request("parameter check", params))
        for index, prompt in enumerate(prompts):
            try:
                validate(make_request(prompt, params))
            except InvalidRequestError as error:
                reason = error.message.removeprefix(f"{error.field}: ")
                raise InvalidRequestError(reason, field=f"prompts[{index}]") from error
        batch = _Batch(id=secrets.token_hex(8), total=len(prompts))
        self._batches[batch.id] = batch
        finished = [b.id for b in self._batches.values() if b.state != "running"]
        for old in finished[: max(0, len(self._batches) - _KEEP_BATCHES)]:
            del self._batches[old]
        self._group.start_soon(self._run_batch, batch, prompts, params)
        return batch

    def batch(self, batch_id: str) -> _Batch | None:
        return self._batches.get(batch_id)

    async def _run_batch(self, batch: _Batch, prompts: list[str], params: dict[str, Any]) -> None:
        try:
            items = self.client.generate_many(prompts, on_progress=batch.set_progress, **params)
            async for item in items:
                batch.items.append(item)
                if item.job is not None:
                    self._remember(item.job)
            batch.state = "finished"
        except Exception as exc:  # a batch never raises for an item; this is a bug or misuse
            batch.state, batch.error = "error", f"{type(exc).__name__}: {exc}"
            logger.exception("batch %s stopped", batch.id)
        finally:
            if batch.state == "running":
                batch.state = "cancelled"  # the app is shutting down


# -- HTTP bodies ----------------------------------------------------------------------------------


class _Params(BaseModel):
    """The submit parameters an HTTP client may set (an image only as an http(s) URL)."""

    model_config = ConfigDict(extra="forbid")

    image: str | None = Field(default=None, description="an http(s) URL of the first frame")
    aspect_ratio: str | None = None
    model: str | None = None
    duration: int | None = None
    quality: str | None = None
    negative_prompt: str | None = None
    pro: bool = False
    size: str | None = None
    seconds: int | None = None

    @field_validator("image")
    @classmethod
    def _url_only(cls, value: str | None) -> str | None:
        # Anything else would be read as a path on this server's disk.
        if value is not None and not value.lower().startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL")
        return value

    def params(self) -> dict[str, Any]:
        """The parameters that were given, for ``client.submit(prompt, **params)``."""
        return self.model_dump(exclude_unset=True, exclude={"prompt", "prompts"})


class VideoRequest(_Params):
    """``POST /videos``: a prompt and the submit parameters.

    >>> VideoRequest(prompt="a red fox", aspect_ratio="9:16").params()
    {'aspect_ratio': '9:16'}
    """

    prompt: str


class BatchRequest(_Params):
    """``POST /batches``: prompts and the parameters they share.

    >>> BatchRequest(prompts=["a fox", "a crow"], duration=10).params()
    {'duration': 10}
    """

    prompts: list[str] = Field(min_length=1)


class BatchAccepted(BaseModel):
    """``POST /batches``' answer: the id to ask ``GET /batches/{batch_id}`` about."""

    batch_id: str


class BatchView(BaseModel):
    """``GET /batches/{batch_id}``: progress counts and the items finished so far.

    While the batch runs, every prompt is counted once: ``submitting`` (not yet taken by
    the provider) + ``queued`` + ``processing`` + ``completed`` + ``failed`` + ``skipped`` +
    ``errors`` is ``total``.
    """

    batch_id: str
    state: BatchState
    total: int
    submitting: int
    queued: int
    processing: int
    completed: int
    failed: int
    skipped: int
    errors: int
    error: str | None = None
    items: list[dict[str, Any]]


# -- errors ---------------------------------------------------------------------------------------

# (class, HTTP status, type, fixed message or None for the error's own). First match wins, so
# subclasses come first. Upstream failures get fixed messages: their bodies may be HTML pages
# and never concern this service's users.
_ERROR_MAP: tuple[tuple[type[SoraError], int, str, str | None], ...] = (
    (InvalidRequestError, 422, "invalid_request", None),
    (BadRequestError, 422, "invalid_request", None),
    (NotFoundError, 404, "not_found", None),
    (AuthenticationError, 502, "upstream_auth", "the video service refused this server's API key"),
    (DailyLimitError, 429, "daily_limit", "the daily video quota is spent"),
    (RateLimitError, 503, "upstream_busy", "the video service is busy; try again shortly"),
    (InsufficientCreditsError, 503, "upstream_credits", "the video service is out of credits"),
    (APITimeoutError, 504, "upstream_timeout", "the video service did not answer in time"),
    (APIConnectionError, 502, "upstream_unavailable", "the video service could not be reached"),
    (JobFailedError, 502, "job_failed", None),
    (WaitTimeoutError, 504, "wait_timeout", None),
    (SoraError, 502, "upstream_error", "the video service answered with an error"),
)


def error_response(error: SoraError) -> JSONResponse:
    """The HTTP answer for an SDK error: a status and ``{"error": {"type", "message", ...}}``.

    >>> error_response(InvalidRequestError("must be 16:9", field="aspect_ratio")).status_code
    422
    """
    status, kind, fixed = next((s, k, m) for cls, s, k, m in _ERROR_MAP if isinstance(error, cls))
    body: dict[str, Any] = {"type": kind, "message": fixed or error.message}
    headers: dict[str, str] = {}
    if isinstance(error, InvalidRequestError) and error.field:
        body["field"] = error.field
    if isinstance(error, DailyLimitError):
        body["reset_at"] = error.reset_at.isoformat() if error.reset_at else None
        if error.reset_at is not None:
            wait = (error.reset_at - datetime.now(UTC)).total_seconds()
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
    elif isinstance(error, RateLimitError) and error.retry_after:
        headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
    if isinstance(error, APIConnectionError):
        body["maybe_submitted"] = error.maybe_submitted
    if isinstance(error, JobFailedError | WaitTimeoutError):
        body["job_id"] = error.job.id
    if status >= 500:
        # The operator must hear of these; the user gets the fixed message above.
        level = logging.ERROR if isinstance(error, AuthenticationError) else logging.WARNING
        logger.log(level, "answering %s: %s", status, type(error).__name__)
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SoraError)
    return error_response(exc)


def install_error_handlers(app: Starlette) -> None:
    """Answer every :class:`~sora_async.SoraError` an endpoint raises with :func:`error_response`.

    ``InvalidRequestError`` → 422, ``DailyLimitError`` → 429 (with ``reset_at`` and
    ``Retry-After``), ``AuthenticationError`` → 502, ``NotFoundError`` → 404, other upstream
    trouble → 502/503/504. The routes of :func:`create_router` answer this way on their own.

    >>> install_error_handlers(app)  # doctest: +SKIP
    """
    app.add_exception_handler(SoraError, _handle)


class _SoraRoute(APIRoute):
    """A route that answers SDK errors itself, so the router works without the handlers."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def mapped(request: Request) -> Response:
            try:
                return await handler(request)
            except SoraError as error:
                return error_response(error)

        return mapped


# -- Server-Sent Events ---------------------------------------------------------------------------


def _event(name: str, data: str) -> str:
    return f"event: {name}\ndata: {data}\n\n"


async def _events(
    job: Job,
    subscription: tuple[MemoryObjectReceiveStream[_Update], Callable[[], None]] | None,
    ping_interval: float,
) -> AsyncGenerator[str, None]:
    """``status`` events: the current state, then one per change until the job ends."""
    if subscription is None:
        yield _event("status", job.model_dump_json())
        return
    updates, unsubscribe = subscription
    try:
        yield _event("status", job.model_dump_json())
        while True:
            update: _Update | None = None
            with anyio.move_on_after(ping_interval):
                update = await updates.receive()
            if update is None:
                yield ": keep-alive\n\n"  # a comment line: keeps idle proxies from hanging up
            elif isinstance(update, SoraError):
                yield _event("error", bytes(error_response(update).body).decode())
                return
            else:
                yield _event("status", update.model_dump_json())
                if update.is_terminal:
                    return
    except anyio.EndOfStream:
        return  # the service is shutting down
    finally:
        unsubscribe()
        updates.close()


class _EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"

    def __init__(self, events: AsyncGenerator[str, None]) -> None:
        super().__init__(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._events = events

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # Starlette leaves a stream cut off by a disconnect to the garbage collector;
            # closing it here drops its listener at once.
            with anyio.CancelScope(shield=True):
                await self._events.aclose()


# -- the router -----------------------------------------------------------------------------------

_EVENTS_DESCRIPTION = (
    "Server-Sent Events: `event: status` with the job as JSON (`data:`), now and on every "
    'change until it ends; `event: error` with `{"error": {...}}` if following it fails; '
    "`: keep-alive` comments while nothing changes."
)

_Service = Annotated[_SoraService, Depends(_get_service)]
_JobId = Annotated[str, PathParam(min_length=1, max_length=256)]


def create_router(
    *,
    prefix: str = "",
    tags: Sequence[str] = ("videos",),
    max_batch_size: int = 100,
    ping_interval: float = 15.0,
) -> APIRouter:
    """An ``APIRouter`` serving videos and batches from the app's shared client.

    - ``POST /videos`` (:class:`VideoRequest`) → the :class:`~sora_async.Job`, 202
    - ``GET /videos/{job_id}`` → the job; from memory while it is followed, no request
    - ``GET /videos/{job_id}/events`` → Server-Sent Events: ``event: status`` with the job as
      JSON, now and on every change, until it ends (``event: error`` if tracking fails)
    - ``POST /batches`` (:class:`BatchRequest`) → ``{"batch_id"}``, 202; it runs in the
      background, in a task group the lifespan owns
    - ``GET /batches/{batch_id}`` → :class:`BatchView`

    Needs the app's lifespan to be :func:`sora_lifespan`. ``ping_interval`` is the gap between
    keep-alive comments on a quiet event stream.

    >>> from fastapi import FastAPI
    >>> app = FastAPI(lifespan=sora_lifespan(simulate=True))
    >>> app.include_router(create_router(prefix="/api"))
    """
    route_tags: list[str | Enum] = [*tags]
    router = APIRouter(prefix=prefix, tags=route_tags, route_class=_SoraRoute)

    @router.post("/videos", status_code=202)
    async def submit_video(body: VideoRequest, service: _Service) -> Job:
        job = await service.client.submit(body.prompt, **body.params())
        service.follow(job)
        return job

    @router.get("/videos/{job_id}")
    async def get_video(job_id: _JobId, service: _Service) -> Job:
        return await service.job(job_id)

    @router.get(
        "/videos/{job_id}/events",
        # An explicit status: FastAPI's schema otherwise reads it from the response class's
        # __init__, which has none here (GET /openapi.json would answer 500).
        status_code=200,
        response_class=_EventStreamResponse,
        response_description=_EVENTS_DESCRIPTION,
    )
    async def video_events(job_id: _JobId, service: _Service) -> _EventStreamResponse:
        job, subscription = await service.listen(job_id)
        return _EventStreamResponse(_events(job, subscription, ping_interval))

    @router.post("/batches", status_code=202)
    async def start_batch(body: BatchRequest, service: _Service) -> BatchAccepted:
        if len(body.prompts) > max_batch_size:
            raise InvalidRequestError(f"at most {max_batch_size} prompts a batch", field="prompts")
        return BatchAccepted(batch_id=service.start_batch(body.prompts, body.params()).id)

    @router.get("/batches/{batch_id}")
    async def get_batch(batch_id: str, service: _Service) -> BatchView:
        batch = service.batch(batch_id)
        if batch is None:
            raise NotFoundError(f"no batch {batch_id!r}", status_code=404)
        return batch.view()

    return router


# -- serving --------------------------------------------------------------------------------------


def uvicorn_server(app: Starlette, **config: Any) -> "uvicorn.Server":
    """A uvicorn server for ``app`` that ends the event streams when it begins to shut down.

    Plain uvicorn waits for open responses before it runs the lifespan's shutdown, so an
    open event stream would hold it until its job ends. ``config`` is ``uvicorn.Config``'s.

    >>> uvicorn_server(app, host="127.0.0.1", port=8000).run()  # doctest: +SKIP
    """
    import uvicorn

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: "list[socket.socket] | None" = None) -> None:
            service = getattr(app.state, "sora_service", None)
            if isinstance(service, _SoraService):
                service.close_streams()
            await super().shutdown(sockets)

    return Server(uvicorn.Config(app, **config))
