"""The scheduler against the benchmarks' independent fake, on virtual time (issue 11.1).

``benchmarks/replay.py --check`` runs every small-N case of issue 11 through the real
client and scheduler on trio's ``MockClock`` (no sockets, nothing waits for real time; the
same run every time) and fails where requests per video or the p95 detection delay exceed
its ``CEILINGS``, or soravideo-30's makespan exceeds 1.1x the server's minimum. In a process
of its own: it replaces the clocks of the process it runs in.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_scheduler_spends_no_more_than_its_ceilings_on_every_small_case() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "replay.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT / "benchmarks",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Every case ran and printed its line.
    assert all(f"{name} " in done.stdout for name in ("codefast-200", "soravideo-30", "openai-20"))
