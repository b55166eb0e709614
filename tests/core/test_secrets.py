"""The API key never shows: not in a repr, an error, or a log line at DEBUG."""

from __future__ import annotations

import logging

import pytest
from core_support import simulated_with_key

from sora_async import AsyncSoraClient, AuthenticationError, SoraError

pytestmark = pytest.mark.anyio

KEY = "sk-canary-7f3a9c1e"


async def test_key_absent_from_repr_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = AsyncSoraClient.simulated(provider="soravideo", time_scale=0.002, api_key=KEY)
    texts = [repr(client), str(vars(client))]
    async with client:
        job = await client.generate("a quiet harbour")
        texts += [repr(job), job.model_dump_json()]
        assert client.simulator is not None
        client.simulator.inject("5xx", route="status", times=10)
        with pytest.raises(SoraError) as caught:
            await client.get_job(job.id)
        texts += [str(caught.value), repr(caught.value), repr(vars(caught.value))]
    texts += [record.getMessage() for record in caught_records(caplog)]
    assert len(texts) > 6
    assert not [text for text in texts if KEY in text]


def caught_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    records = caplog.records
    assert any(record.levelno == logging.DEBUG for record in records)
    return records


async def test_key_absent_from_a_refused_key_error() -> None:
    async with simulated_with_key("codefast", accepted="sk-the-right-one", sent=KEY) as client:
        with pytest.raises(AuthenticationError) as caught:
            await client.submit("a harbour")
    error = caught.value
    assert error.status_code == 401
    assert KEY not in f"{error} {error!r} {error.body!r}"


def test_every_spelling_of_the_key_is_redacted() -> None:
    from sora_async._secrets import Secret, redact

    key = 'sk-a/b+c"d'
    secret = Secret(key)
    text = f'{key} Bearer {key} sk-a%2Fb%2Bc%22d "sk-a\\/b+c\\"d" sk-a/b+c\\"d'
    assert redact(text, secret) == '*** Bearer *** *** "***" ***'
    assert redact(text.encode(), secret) == b'*** Bearer *** *** "***" ***'


def test_a_huge_message_or_body_is_cut_but_keeps_what_matters() -> None:
    from sora_async import APIConnectionError, ServerError

    error = APIConnectionError("x" * 10_000_000, maybe_submitted=True)
    assert len(str(error)) < 2100 and str(error).endswith("it was not resent)")
    server = ServerError("y" * 10_000_000, status_code=500, body={"detail": "z" * 10_000_000})
    assert len(str(server)) < 2100 and str(server).endswith("(HTTP 500)")
    assert isinstance(server.body, str) and len(server.body) < 20_000
