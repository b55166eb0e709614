"""One TLS context for the plain-HTTP clients the tests build, not one each.

httpx builds an ``ssl.SSLContext`` for every ``AsyncClient`` it makes with its own
transport, loading a CA bundle: about 70 ms, even for a client that only ever speaks plain
HTTP to 127.0.0.1 (as every client in these tests does). Each test that opened a client
paid it again. :func:`share_tls_context` makes httpx's default case (``verify=True``, no
client certificate) hand out one context per set of inputs httpx builds it from
(``trust_env`` and the ``SSL_CERT_FILE``/``SSL_CERT_DIR`` variables), built by httpx
itself, for the tests it is used in; every other case still builds its own. Nothing here
ever opens a TLS connection, and a context is meant to be shared by many connections.
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
def _shared(trust_env: bool, cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    # httpx reads the two variables itself; they are the cache key, so a test that sets
    # them gets a context built from them.
    return _build(verify=True, cert=None, trust_env=trust_env)


def _create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
    if verify is True and cert is None:
        environ = os.environ
        return _shared(trust_env, environ.get("SSL_CERT_FILE"), environ.get("SSL_CERT_DIR"))
    return _build(verify=verify, cert=cert, trust_env=trust_env)


def share_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpx_default, "create_ssl_context", _create_ssl_context)
