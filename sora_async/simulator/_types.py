"""Names shared by the simulator's modules: providers, route names, job phases."""

from __future__ import annotations

from typing import Literal, get_args

Provider = Literal["codefast", "soravideo", "openai"]
"""The three wire protocols the simulator speaks (see API.md)."""

RouteName = Literal[
    "check_key",
    "submit",
    "status",
    "list",
    "upload",
    "credits",
    "delete",
    "content",
    "remix",
    "edit",
    "extend",
    "create_character",
    "character",
    "file",
]
"""The route names used by counters and fault filters."""

ROUTE_NAMES: frozenset[str] = frozenset(get_args(RouteName))

CREATE_ROUTES: frozenset[str] = frozenset({"submit", "remix", "edit", "extend"})
"""Routes whose success creates a job (and spends quota)."""

POLL_ROUTES: frozenset[str] = frozenset({"status", "list"})
"""Routes counted by ``poll_in_flight``."""

Phase = Literal["queued", "processing", "completed", "failed"]
"""A job's state in the simulator's own (normalized) words."""
