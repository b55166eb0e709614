"""The ``sora-async`` command line (the ``cli`` extra: typer and rich).

``main`` imports typer and rich only when it runs, so that a plain ``sora-async`` without
the extra can say which extra to install instead of failing with a traceback.
:func:`read_prompt_file` is the command's own prompt reader, for scripts (no extra needed).
"""

from __future__ import annotations

import sys

from ._inputs import CheckedPrompts, read_prompt_file

__all__ = ["CheckedPrompts", "main", "read_prompt_file"]

_EXTRA_MODULES = {"typer", "click", "rich"}


def main() -> None:
    """Run the command line (the ``sora-async`` entry point)."""
    try:
        from ._app import app
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in _EXTRA_MODULES:
            raise
        print(
            'sora-async: the command line needs the "cli" extra: pip install "sora-async[cli]"',
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    app(prog_name="sora-async")
