"""Where the API key may go, and what must never show it.

* :class:`Secret` holds the key: no repr, log line or traceback local shows it.
* :func:`check_api_key` refuses a key that cannot travel in an HTTP header (a control,
  space or non-ASCII character would end up in an h11 error text, and from there in
  messages, results and journals).
* :func:`check_base_url` refuses a base URL the key must not be sent to: not http(s), no
  host, a user name or password in it, or plain http to another machine without an opt-in.
* :func:`redact` is the one function that takes the key out of a text (or bytes), in every
  spelling a server might echo it in. The transport applies it to every answer as it comes
  in, so nothing built from an answer (a message, a body, a job, a log line) can hold it;
  :func:`guard_logs` applies it to the log records of httpx and httpcore, which see the
  raw answer first.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import weakref
from typing import AnyStr
from urllib.parse import SplitResult, quote, urlsplit

from ._errors import InvalidRequestError

__all__ = [
    "MASK",
    "Secret",
    "check_api_key",
    "check_base_url",
    "guard_logs",
    "redact",
    "shown_url",
]

#: What stands where the key was.
MASK = "***"
_MASK_BYTES = MASK.encode()

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class Secret:
    """Holds the API key so that no repr, log line or traceback local shows it."""

    __slots__ = ("__weakref__", "_value", "byte_spellings", "spellings")

    def __init__(self, value: str) -> None:
        self._value = value
        # The key as it may come back: as is (also inside "Bearer ..."), percent-encoded,
        # or JSON-escaped (a '/' may be written '\/'). Longest first, so that no shorter
        # spelling leaves part of a longer one behind.
        forms = {value, quote(value, safe=""), json.dumps(value)[1:-1]}
        forms |= {form.replace("/", "\\/") for form in forms}
        self.spellings = tuple(sorted(forms, key=len, reverse=True))
        # The same, encoded once: every answer's bytes are searched for them.
        self.byte_spellings = tuple(spelling.encode() for spelling in self.spellings)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"


def check_api_key(value: object) -> Secret:
    """The key, without surrounding whitespace, if it can travel in an HTTP header.

    The error never contains the key, only where the first bad character is.

    >>> check_api_key("sk-abc\\n")
    '***'
    >>> check_api_key("sk-a\\nb")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sora_async._errors.InvalidRequestError: api_key: has a control, ... (character 5); ...
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidRequestError("no API key: pass api_key= or set SORA_API_KEY", field="api_key")
    if not isinstance(value, str):
        raise InvalidRequestError(f"must be a string, not {type(value).__name__}", field="api_key")
    key = value.strip()
    for position, char in enumerate(key, start=1):
        if not "!" <= char <= "~":
            raise InvalidRequestError(
                f"has a control, space or non-ASCII character (character {position}); "
                "check how the key was copied",
                field="api_key",
            )
    return Secret(key)


def redact(data: AnyStr, secret: Secret) -> AnyStr:
    """``data`` with every spelling of the key replaced by :data:`MASK`.

    >>> redact("bad key 'Bearer sk-123' (sk-123)", Secret("sk-123"))
    "bad key 'Bearer ***' (***)"
    """
    if isinstance(data, str):
        for spelling in secret.spellings:
            data = data.replace(spelling, MASK)
    else:
        for encoded in secret.byte_spellings:
            data = data.replace(encoded, _MASK_BYTES)
    return data


#: The keys of the clients alive now, for :class:`_LogGuard` (which may run in any thread).
_LIVE: weakref.WeakSet[Secret] = weakref.WeakSet()
_LIVE_LOCK = threading.Lock()
#: The loggers that see an answer before the SDK does: httpx logs the status line (a
#: reason phrase can echo the key), httpcore at DEBUG every response header.
_GUARDED = ("httpx", "httpcore.http11", "httpcore.http2", "httpcore.connection", "sora_async")


class _LogGuard(logging.Filter):
    """Takes the key of every live client out of a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        with _LIVE_LOCK:
            secrets = list(_LIVE)
        if secrets:
            message = record.getMessage()
            cleaned = message
            for secret in secrets:
                cleaned = redact(cleaned, secret)
            if cleaned != message:
                record.msg, record.args = cleaned, None
        return True


_GUARD = _LogGuard()


def guard_logs(secret: Secret) -> None:
    """Keep ``secret`` out of the records of the loggers that see raw answers."""
    with _LIVE_LOCK:
        _LIVE.add(secret)
    for name in _GUARDED:
        logger = logging.getLogger(name)
        if _GUARD not in logger.filters:
            logger.addFilter(_GUARD)


def check_base_url(
    url: object,
    *,
    allow_insecure_http: bool,
    field: str = "base_url",
    opt_in: str = "allow_insecure_http=True",
) -> None:
    """Refuse a base URL the key must not be sent to (an :class:`InvalidRequestError`).

    ``field`` and ``opt_in`` name the setting and its opt-in in the message (the CLI says
    ``--base-url`` and ``--allow-insecure``).

    >>> check_base_url("http://10.0.0.7:8000", allow_insecure_http=False)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    sora_async._errors.InvalidRequestError: base_url: http://10.0.0.7:8000 is plain http ...
    """
    if not isinstance(url, str):
        raise InvalidRequestError(f"must be a string, not {type(url).__name__}", field=field)
    if any(char.isspace() or not char.isprintable() for char in url):
        raise InvalidRequestError(
            "is not a valid URL (it has spaces or control characters)", field=field
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it checks the port (a ValueError when invalid)
    except ValueError as exc:
        # urllib's reason ("Port out of range 0-65535", "Invalid IPv6 URL") names no secret.
        raise InvalidRequestError(f"is not a valid URL: {exc}", field=field) from None
    if parts.username is not None or parts.password is not None:
        raise InvalidRequestError(
            "must not carry a user name or password (they would be sent in place of the "
            "API key, and shown); pass the key as the API key",
            field=field,
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequestError(
            f"must be an http(s) URL with a host, not {shown_url(url)!r}", field=field
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise InvalidRequestError(
            f"{shown_url(url)} is plain http to another machine: the API key would travel in "
            f"clear text. Use https, or pass {opt_in} if you really mean it.",
            field=field,
        )


def shown_url(url: str) -> str:
    """``url`` fit for a message: no user name, password, query or fragment.

    >>> shown_url("https://user:pw@cdn.example.com:8443/v/1.mp4?sig=abc#t")
    'https://cdn.example.com:8443/v/1.mp4'
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return SplitResult(parts.scheme, netloc, parts.path, "", "").geturl()


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
