"""sora_async: an asyncio SDK for Sora-2 video generation services.

>>> from sora_async import AsyncSoraClient
>>> async def main() -> None:  # doctest: +SKIP
...     async with AsyncSoraClient.simulated() as client:
...         job = await client.generate("a paper boat on a rainy street")
...         print(job.video_url)
"""

from ._batch import BatchProgress
from ._client import AsyncSoraClient
from ._errors import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConcurrencyLimitError,
    DailyLimitError,
    InsufficientCreditsError,
    InvalidRequestError,
    JobFailedError,
    NotFoundError,
    RateLimitError,
    ResponseParseError,
    ResponseTooLargeError,
    ServerError,
    SoraError,
    WaitTimeoutError,
)
from ._limits import Limits
from ._metrics import ClientMetrics, DurationStats
from ._models import (
    BatchItem,
    BatchResult,
    Character,
    GenerationRequest,
    Job,
    JobStatus,
    Quota,
    Video,
)
from .state import SharedStateError

__version__ = "0.1.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APITimeoutError",
    "AsyncSoraClient",
    "AuthenticationError",
    "BadRequestError",
    "BatchItem",
    "BatchProgress",
    "BatchResult",
    "Character",
    "ClientMetrics",
    "ConcurrencyLimitError",
    "DailyLimitError",
    "DurationStats",
    "GenerationRequest",
    "InsufficientCreditsError",
    "InvalidRequestError",
    "Job",
    "JobFailedError",
    "JobStatus",
    "Limits",
    "NotFoundError",
    "Quota",
    "RateLimitError",
    "ResponseParseError",
    "ResponseTooLargeError",
    "ServerError",
    "SharedStateError",
    "SoraError",
    "Video",
    "WaitTimeoutError",
]
