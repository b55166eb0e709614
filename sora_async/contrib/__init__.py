"""Integrations with other frameworks, each behind its own extra.

``sora_async.contrib.fastapi`` (``pip install 'sora-async[fastapi]'``): one shared client per
FastAPI app, a ready router with Server-Sent Events, and error handlers.
"""
