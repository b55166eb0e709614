"""One TLS context for the plain-HTTP clients the tests build, not one each.

httpx builds an ``ssl.SSLContext`` for every ``AsyncClient`` it makes with its own
transport, loading certifi's CA bundle: about 50 ms, even for a client that only ever
speaks plain HTTP to 127.0.0.1 (as every client in these tests does). Each test that opens
a client paid it again. :func:`share_tls_context` makes httpx's default case (``verify=True``,
no client certificate, no ``SSL_CERT_*`` variables) hand out one context built the same way,
for the test it is used in; every other case still builds its own. Nothing here ever opens
a TLS connection, and a context is meant to be shared by many connections anyway.
"""

from __future__ import annotations

import functools
import os
import ssl
from typing import Any

import httpx._transports.default as httpx_default
import pytest

_build = httpx_default.create_ssl_context


@functools.cache
def _shared() -> ssl.SSLContext:
    return _build()


def _create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
    plain = verify is True and cert is None
    if plain and not (trust_env and {"SSL_CERT_FILE", "SSL_CERT_DIR"} & os.environ.keys()):
        return _shared()
    return _build(verify=verify, cert=cert, trust_env=trust_env)


def share_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx_default, "create_ssl_context", _create_ssl_context)
