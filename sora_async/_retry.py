"""Which failures are retried, and how long to wait before the next try.

Delays come from ``backoff``'s wait generators (``backoff.expo`` with
``backoff.full_jitter``) and are slept with ``anyio.sleep``: backoff's own decorators sleep
with asyncio only, and this SDK also runs under trio.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import backoff

from ._errors import (
    APIConnectionError,
    APIError,
    DailyLimitError,
    InsufficientCreditsError,
    RateLimitError,
    ResponseParseError,
    ResponseTooLargeError,
    ServerError,
    SoraError,
)

__all__ = ["RetryPolicy"]

logger = logging.getLogger("sora_async")

T = TypeVar("T")

_TRANSIENT_STATUS = {408, 425}


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How a request is retried.

    ``max_retries`` bounds the number of extra tries and ``max_total`` the seconds spent
    waiting between them; a server's ``Retry-After`` is honoured up to ``max_retry_after``.

    >>> RetryPolicy(max_retries=2).retryable(ServerError("x", status_code=502), submit=False)
    True
    """

    max_retries: int = 4
    max_total: float = 120.0
    max_retry_after: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 16.0
    # Told of every retry (the client's metrics), as well as a call's own ``on_retry``.
    observer: Callable[[SoraError, float], None] | None = field(default=None, compare=False)

    def retryable(self, error: SoraError, *, submit: bool) -> bool:
        """Whether another try may help, and (for a submit) cannot spend the quota twice."""
        if isinstance(error, DailyLimitError | InsufficientCreditsError):
            return False
        if submit:
            return self._submit_retryable(error)
        if isinstance(error, APIConnectionError | ServerError | RateLimitError):
            return True
        if isinstance(error, APIError):
            return error.status_code in _TRANSIENT_STATUS
        # An HTML page or a cut-off body from a proxy is a passing fault for a read; an
        # answer over the byte cap would only come again.
        return isinstance(error, ResponseParseError) and not isinstance(
            error, ResponseTooLargeError
        )

    @staticmethod
    def _submit_retryable(error: SoraError) -> bool:
        # Only what provably never created a job: a connection that never carried the
        # request, a rate or concurrency refusal, or a 503 that says when to come back.
        if isinstance(error, APIConnectionError):
            return not error.maybe_submitted
        if isinstance(error, RateLimitError):
            return True
        return (
            isinstance(error, ServerError)
            and error.status_code == 503
            and bool(getattr(error, "retry_after", None))
        )

    def delays(self) -> Iterator[float]:
        """Backoff delays: exponential growth with full jitter."""
        waits = backoff.expo(base=2, factor=self.base_delay, max_value=self.max_delay)
        next(waits)  # backoff's generators are primed with one empty step
        for value in waits:
            yield backoff.full_jitter(value)

    def delay_for(self, error: SoraError, jittered: float) -> float:
        """The server's hint when it gave one (capped), else the backoff delay."""
        hint = error.retry_after if isinstance(error, APIError) else None
        if hint is None or not hint > 0:
            return jittered
        if hint > self.max_retry_after:
            # A 429's hint pauses the whole budget, which logs it; others are logged here.
            if not isinstance(error, RateLimitError):
                logger.warning(
                    "the server asked to wait %.0f s before trying again; waiting %.3g s "
                    "instead, the cap",
                    hint,
                    self.max_retry_after,
                )
            return self.max_retry_after
        return hint

    async def call(
        self,
        attempt: Callable[[], Awaitable[T]],
        *,
        submit: bool = False,
        on_retry: Callable[[SoraError, float], None] | None = None,
    ) -> T:
        """Run ``attempt`` until it succeeds or its failure is final."""
        delays = self.delays()
        deadline = time.monotonic() + self.max_total
        retries = 0
        while True:
            try:
                return await attempt()
            except SoraError as error:
                if retries >= self.max_retries or not self.retryable(error, submit=submit):
                    raise
                delay = self.delay_for(error, next(delays))
                if time.monotonic() + delay > deadline:
                    raise
                retries += 1
                for told in (self.observer, on_retry):
                    if told is not None:
                        told(error, delay)
                await anyio.sleep(delay)
