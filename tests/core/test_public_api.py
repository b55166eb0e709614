"""The public surface: the names DESIGN.md promises, exported in a sorted, complete __all__."""

from __future__ import annotations

import inspect

import sora_async

CONTRACT = {
    "AsyncSoraClient",
    "JobStatus",
    "Job",
    "Limits",
    "Quota",
    "Video",
    "GenerationRequest",
    "BatchItem",
    "BatchResult",
    "SoraError",
    "InvalidRequestError",
    "APIError",
    "AuthenticationError",
    "NotFoundError",
    "BadRequestError",
    "RateLimitError",
    "ConcurrencyLimitError",
    "DailyLimitError",
    "InsufficientCreditsError",
    "ServerError",
    "APIConnectionError",
    "APITimeoutError",
    "ResponseParseError",
    "ResponseTooLargeError",
    "JobFailedError",
    "WaitTimeoutError",
    "SharedStateError",
}


def test_all_is_sorted() -> None:
    assert list(sora_async.__all__) == sorted(sora_async.__all__)


def test_all_is_complete_and_real() -> None:
    public = {
        name
        for name, value in vars(sora_async).items()
        if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
    }
    assert public == set(sora_async.__all__)
    assert all(hasattr(sora_async, name) for name in sora_async.__all__)


def test_contract_names_are_exported() -> None:
    assert set(sora_async.__all__) >= CONTRACT


def test_error_tree() -> None:
    e = sora_async
    assert issubclass(e.ConcurrencyLimitError, e.RateLimitError)
    assert issubclass(e.DailyLimitError, e.RateLimitError)
    assert issubclass(e.RateLimitError, e.APIError)
    assert issubclass(e.APITimeoutError, e.APIConnectionError)
    for name in CONTRACT - {"AsyncSoraClient", "JobStatus", "Job", "Quota", "Video"}:
        cls = getattr(e, name)
        if name.endswith("Error"):
            assert issubclass(cls, e.SoraError), name


def test_the_openai_calls_take_their_options_by_keyword() -> None:
    # The job (or id) comes first; everything else is named, as everywhere in the client.
    assert "Character" in sora_async.__all__
    client = sora_async.AsyncSoraClient
    expected = {
        client.edit: ["prompt"],
        client.extend: ["prompt", "seconds"],
        client.create_character: ["name", "video"],
    }
    for method, names in expected.items():
        params = inspect.signature(method).parameters.values()
        keyword = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
        assert keyword == names, method.__name__
        assert method.__doc__ is not None and ">>>" in method.__doc__


def test_job_status_values() -> None:
    assert [s.value for s in sora_async.JobStatus] == [
        "queued",
        "processing",
        "completed",
        "failed",
    ]
    assert sora_async.JobStatus.COMPLETED == "completed"
