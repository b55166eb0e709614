"""The engine's state in a file, so that a simulated run killed and run again resumes.

``sora-async batch --simulate --journal j.sqlite`` keeps the embedded simulator's jobs, daily
quota, credits and random stream in ``j.sqlite.simulator.json``: the rerun finds the jobs the
journal remembers, as a real provider would. The file is rewritten (atomically) after every
submit and delete, before the answer goes back: a job the client may have heard of is never
missing from it. Times are stored as unix times (the monotonic clock does not outlive a
process), and keys only as hashes: the API key is never written.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["StateFile"]

_VERSION = 1


class StateFile:
    """Where one simulator keeps its state between processes.

    >>> StateFile("run.sqlite.simulator.json").path.name
    'run.sqlite.simulator.json'
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def load(self, engine: Engine) -> None:
        """Put what the file holds into a new ``engine`` (nothing if there is no file)."""
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise ValueError(f"{self.path} is not a simulator state file: {exc}") from None
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            raise ValueError(f"{self.path} is not a simulator state file (version)")
        engine.restore(data)

    def save(self, engine: Engine) -> None:
        data = {"version": _VERSION, **engine.snapshot()}
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(data, default=str), "utf-8")
        os.replace(temporary, self.path)

    @staticmethod
    def next_to(journal: str | os.PathLike[str]) -> Path:
        """The state file kept next to a journal."""
        path = Path(journal)
        return path.with_name(path.name + ".simulator.json")

    def __repr__(self) -> str:
        return f"StateFile({str(self.path)!r})"
