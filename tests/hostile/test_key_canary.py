"""The key canary: a server that echoes the key back, in every spelling and every place it
can, and the key found nowhere the SDK keeps or shows anything: exceptions (str, repr,
traceback with chained causes, body), DEBUG logs of sora_async, httpx and httpcore, batch
results and the SQLite journal."""

from __future__ import annotations

import itertools
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hostile_server import Reply, serve
from hostile_support import KEY, PROVIDERS, bounded, client_for

from sora_async import SoraError
from sora_async._journal import Journal

pytestmark = pytest.mark.anyio

LOGGERS = ("sora_async", "httpx", "httpcore")


def escaped(text: str) -> str:
    """``text`` with every character written as a JSON \\u escape."""
    return "".join(f"\\u{ord(char):04x}" for char in text)


def error_texts(error: BaseException) -> Iterator[str]:
    """Everything a person or a program can read off an exception, its chain included."""
    yield str(error)
    yield repr(error)
    yield "".join(traceback.format_exception(error))
    yield repr(vars(error))
    for linked in (error.__cause__, error.__context__):
        if linked is not None:
            yield from error_texts(linked)
            request = getattr(linked, "request", None)
            yield repr(getattr(request, "headers", None))


def logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def json_body(status: int, text: str, **headers: str) -> Callable[[Reply], None]:
    """Answer with ``{"detail": ..., "error": {"message": ...}, "msg": ...}``; ``text`` may
    hold ``{key}``, replaced by the key the request carried."""

    def handler(reply: Reply) -> None:
        echoed = text.replace("{key}", sent_key(reply))
        body = f'{{"detail": "{echoed}", "error": {{"message": "{echoed}"}}, "msg": "{echoed}"}}'
        pairs = [("Content-Type", "application/json"), *headers.items()]
        reply.body(status, body.encode(), [(k, v.replace("{key}", KEY)) for k, v in pairs])

    return handler


def sent_key(reply: Reply) -> str:
    headers = reply.request.headers
    return headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")


ECHOES: dict[str, Callable[[Reply], None]] = {
    "raw": json_body(401, "invalid key {key}"),
    "bearer": json_body(403, "Authorization: Bearer {key} refused"),
    "json-escaped": lambda reply: json_body(400, escaped(sent_key(reply)))(reply),
    "percent-encoded": lambda reply: json_body(400, "key=" + quote(sent_key(reply), safe=""))(
        reply
    ),
    "in a header": json_body(500, "oops", **{"X-Echo": "{key}", "Retry-After": "0"}),
    "in the reason phrase": lambda reply: reply.json(
        502, {"detail": "bad gateway"}, reason=f"Bad {sent_key(reply)}"
    ),
    "in an html page": lambda reply: reply.body(
        500, f"<html><body><pre>X-API-Key: {sent_key(reply)}</pre></body></html>".encode()
    ),
    # The key across the message's cut (2000 characters), in a body more than ten times longer than
    # the most of one an error keeps (16 KiB).
    "at a cut": lambda reply: json_body(400, "x" * 1990 + "{key}" + "y" * 200_000)(reply),
    "in a redirect": lambda reply: reply.head(
        302, [("Location", f"/login/{sent_key(reply)}"), ("Content-Length", "0")]
    ),
    "in a broken header": lambda reply: reply.send(
        f"HTTP/1.1 200 OK\r\nX-Bad\x00{sent_key(reply)}: 1\r\n\r\n".encode()
    ),
    "in a success": lambda reply: reply.json(
        200, {"job_id": sent_key(reply), "status": f"weird {sent_key(reply)}"}
    ),
}


@pytest.mark.parametrize("echo", ECHOES, ids=list(ECHOES))
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_an_echoed_key_is_nowhere(
    provider: str, echo: str, debug_logs: pytest.LogCaptureFixture
) -> None:
    with serve(ECHOES[echo]) as server:
        async with client_for(server.origin, provider) as client:
            with bounded():
                try:
                    outcome: object = await client.get_job("j1")
                except SoraError as error:
                    outcome = error
    assert len(server.received) == 1
    assert sent_key_of(server) == KEY  # the server did get the key to echo
    texts = list(error_texts(outcome)) if isinstance(outcome, BaseException) else [repr(outcome)]
    texts += logged(debug_logs)
    assert [t for t in texts if KEY in t] == []
    if isinstance(outcome, SoraError):
        assert len(str(outcome)) < 3000
        body = getattr(outcome, "body", None)
        assert len(json.dumps(body, default=str)) < 20_000


def sent_key_of(server: object) -> str:
    request = server.received[0]  # type: ignore[attr-defined]
    value = request.headers.get("x-api-key") or request.headers.get("authorization", "")
    return str(value).removeprefix("Bearer ")


async def test_a_connection_error_chains_no_request_with_the_key() -> None:
    def hang_up(reply: Reply) -> None:
        reply.head(200, [("Content-Length", "1000")])
        reply.send(b"{")

    with serve(hang_up) as server:
        async with client_for(server.origin) as client:
            with bounded(), pytest.raises(SoraError) as caught:
                await client.get_job("j1")
    error = caught.value
    assert error.__cause__ is None and error.__context__ is None
    assert "X-API-Key" not in "".join(error_texts(error)).replace("X-API-Key: ***", "")


def fake_codefast() -> Callable[[Reply], None]:
    """A codefast that takes submits and fails every job with the key in its reason; a
    prompt with "refuse" in it is refused, echoing the key."""
    ids = itertools.count()

    def handler(reply: Reply) -> None:
        request, key = reply.request, sent_key(reply)
        if request.method == "POST":
            prompt = json.loads(request.body).get("prompt", "")
            if "refuse" in prompt:
                reply.json(400, {"detail": f"refused for {key}"})
            else:
                reply.json(200, {"job_id": f"job-{next(ids)}", "status": "queued"})
        elif request.path.startswith("/status/"):
            job_id = request.path.rsplit("/", 1)[1]
            reply.json(200, {"job_id": job_id, "status": "failed", "error": f"{key} is banned"})
        else:
            reply.json(200, {"count": 0, "videos": []})

    return handler


async def test_results_and_the_journal_never_hold_the_key(
    tmp_path: Path, debug_logs: pytest.LogCaptureFixture
) -> None:
    results = tmp_path / "results.jsonl"
    with serve(fake_codefast()) as server:
        options = {"poll_interval": 0.01, "max_poll_interval": 0.05}
        async with client_for(server.origin, "codefast", **options) as client:
            with bounded(10), Journal(tmp_path / "run.db", target="hostile") as journal:
                result = await client.generate_batch(
                    ["a fox", "refuse this one", "a crow"], journal=journal
                )
    result.to_jsonl(results)
    assert [item.status for item in result.items] == ["failed", "error", "failed"]
    assert all(item.error for item in result.items)  # the reasons are kept, without the key
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert KEY.encode() not in stored
    assert b"***" in results.read_bytes()
    texts = [repr(result), *logged(debug_logs)]
    assert [t for t in texts if KEY in t] == []
