"""Which service a command talks to: bad and unreachable base URLs are configuration errors."""

from __future__ import annotations

import socket

import pytest
from cli_helpers import KEY, Invoke, one_line_error

from sora_async._errors import APIConnectionError
from sora_async.cli._common import UsageError
from sora_async.cli._connect import Connection

# Every command but simulate, each with what it needs to reach its first request.
COMMANDS = [
    ["batch", "-"],
    ["generate", "a fox"],
    ["status", "some-job"],
    ["list"],
    ["quota"],
    ["download", "some-job", "--dest", "videos"],
]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, read, closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[0])
def test_an_unreachable_service_is_a_configuration_error(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    url = f"http://127.0.0.1:{closed_port()}"

    result = invoke(*command, "--base-url", url, "--api-key", KEY, input="a fox\n")

    assert result.exit_code == 2, result.output
    assert one_line_error(result.stderr) == (
        f"error: could not reach the service at {url}: Connection refused"
    )


def test_a_malformed_base_url_is_one_line(invoke: Invoke) -> None:
    result = invoke("quota", "--base-url", "http://[::1", "--api-key", KEY)
    assert result.exit_code == 2, result.output
    one_line_error(result.stderr)


@pytest.mark.parametrize("scale", ["0", "-1", "nan", "inf"])
def test_a_bad_time_scale_is_one_line(invoke: Invoke, scale: str) -> None:
    result = invoke("generate", "a fox", "--simulate", "--time-scale", scale)
    assert result.exit_code == 2, result.output
    assert one_line_error(result.stderr) == "error: --time-scale must be a number greater than 0"


@pytest.mark.anyio
@pytest.mark.parametrize("maybe_submitted", [False, True])
async def test_first_contact_tells_a_request_that_never_got_through(maybe_submitted: bool) -> None:
    conn = Connection(simulate=True)  # no probe: only the first request's error is mapped
    error = APIConnectionError("POST /generate failed: boom", maybe_submitted=maybe_submitted)

    with pytest.raises(UsageError if not maybe_submitted else APIConnectionError) as raised:
        async with conn.first_contact():
            raise error

    if maybe_submitted:  # the submit may have spent quota: not a configuration error
        assert raised.value is error
    else:
        assert str(raised.value) == (
            "could not reach the service at the embedded codefast simulator: "
            "POST /generate failed: boom"
        )


@pytest.mark.parametrize(
    ("port", "reason"),
    [("99999", "Port out of range 0-65535"), ("abc", "Port could not be cast to integer")],
)
def test_a_base_url_with_a_bad_port_is_one_line(invoke: Invoke, port: str, reason: str) -> None:
    url = f"http://127.0.0.1:{port}"
    result = invoke("quota", "--base-url", url, "--api-key", KEY)
    assert result.exit_code == 2, result.output
    assert one_line_error(result.stderr).startswith(
        f"error: --base-url: is not a valid URL: {reason}"
    )
