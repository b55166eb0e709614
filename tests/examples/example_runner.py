"""Run example scripts as ``python examples/<script> ARGS`` runs them, each in its own process,
all forked from one interpreter that has imported ``sora_async`` once (the second or so each
script would otherwise spend starting up).

    python tests/examples/example_runner.py RUNS.json OUT_DIR

``RUNS.json`` maps a name to ``{"argv": [script, *args], "env": {extra variables}}``. Every
run starts at once; each child is the script's own process: ``__name__ == "__main__"``, its
folder first on ``sys.path``, its ``sys.argv`` and environment, its standard output and error
in ``OUT_DIR/<name>.out`` and ``.err``, and its exit status as Python's own (a ``SystemExit``
message or a traceback on standard error). Prints ``{name: exit status}`` once all have ended.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

import sora_async  # noqa: F401  (what every example imports: paid once, before the forks)


def _become(run: dict[str, Any], out: Path, name: str) -> None:
    """In the child: turn into ``python script args`` and run the script."""
    argv = [str(arg) for arg in run["argv"]]
    os.environ.update({str(k): str(v) for k, v in run["env"].items()})
    for fd, suffix in ((1, ".out"), (2, ".err")):
        file = os.open(out / f"{name}{suffix}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(file, fd)
        os.close(file)
    sys.argv = argv
    sys.path[0] = str(Path(argv[0]).resolve().parent)  # as for a script: its own folder
    runpy.run_path(argv[0], run_name="__main__")


def main() -> None:
    runs: dict[str, dict[str, Any]] = json.loads(Path(sys.argv[1]).read_text("utf-8"))
    out = Path(sys.argv[2])
    children: dict[int, str] = {}
    sys.stdout.flush()
    sys.stderr.flush()
    for name, run in runs.items():
        pid = os.fork()
        if pid == 0:
            # The script's end is this process's end: an exception, SystemExit included,
            # leaves from here and Python reports it as it would for the script.
            _become(run, out, name)
            return
        children[pid] = name
    codes = {}
    while children:
        pid, status = os.wait()
        codes[children.pop(pid)] = os.waitstatus_to_exitcode(status)
    print(json.dumps(codes))


if __name__ == "__main__":
    main()
