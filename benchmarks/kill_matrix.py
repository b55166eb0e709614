"""The kill matrix: kill ``sora-async batch`` at seeded random points, run it again, check.

For each provider, a 30-prompt batch against a real simulator server in its own process
(uvicorn on 127.0.0.1) is killed with SIGKILL at 10 seeded random points and with SIGTERM at
3, then the same command is run again until it ends. Each case must end with:

* every prompt completed, or honestly reported (a submit in doubt that nothing could settle);
* the server's submit count == prompts + the in-doubt submits explicitly resent
  (``--resubmit-unknown``, used only when a rerun reports some) that had reached it: a
  resent submit that never arrived the first time adds nothing;
* zero duplicate job ids in the results, and every job id the server issued in the results
  (a resent submit whose first copy the server had took is counted as "lost").

A kill point is "once the server has seen k submits" (k seeded, 0..prompts) plus a seeded
jitter, so kills land before, during and after the submits, while jobs are followed.

    .venv/bin/python benchmarks/kill_matrix.py                  # the full matrix, ~5 min
    .venv/bin/python benchmarks/kill_matrix.py --providers openai --kills 2 --terms 1
    .venv/bin/python benchmarks/kill_matrix.py --results benchmarks/RESULTS.md  # append the table

``--serve`` is this script's own server mode (the matrix starts it): the simulator with the
provider's published limits but a rate window and daily limit that fit a fast run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

KEY = "sk-kill-matrix"
PROVIDERS = ("codefast", "soravideo", "openai")
_READY = "ready at "


# -- the server, in its own process ---------------------------------------------------------------


def serve(provider: str, seed: int, time_scale: float) -> None:
    """Serve a simulator on a free port; print its ready line (``--serve`` mode)."""
    from urllib.parse import urlsplit

    from sora_async.simulator import Simulator
    from sora_async.simulator._server import run_cli

    # The published limits, except what would make a 30-prompt run take minutes: the
    # client keeps soravideo's 20-a-minute window in real minutes, and codefast's 20 a day.
    extra: dict[str, Any] = {"codefast": {"daily_limit": 1000}, "soravideo": {"rate_limit": 10**6}}
    sim = Simulator(
        provider=provider, time_scale=time_scale, seed=seed, api_key=KEY, **extra.get(provider, {})
    )
    run_cli(sim.app, port=0, base_path=urlsplit(sim.base_url).path, name=provider)


class Server:
    """``kill_matrix.py --serve`` in a subprocess."""

    def __init__(self, provider: str, seed: int, time_scale: float) -> None:
        command = [sys.executable, __file__, "--serve", provider, "--seed", str(seed)]
        command += ["--time-scale", str(time_scale)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if _READY not in line:
            self.process.kill()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.url = line.split(_READY, 1)[1].strip()
        origin = self.url.split("/", 3)
        self.origin = "/".join(origin[:3])

    def counters(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.origin}/_sim/counters", timeout=10).json()
        return answer

    def jobs(self) -> list[dict[str, Any]]:
        answer: list[dict[str, Any]] = httpx.get(f"{self.origin}/_sim/jobs", timeout=10).json()
        return answer

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- one case -------------------------------------------------------------------------------------


@dataclass
class Case:
    provider: str
    kill: str  # "SIGKILL" or "SIGTERM"
    after_submits: int
    jitter: float
    seed: int
    exit_code: int | None = None
    in_doubt: int = 0  # journal rows in doubt right after the kill
    in_doubt_not_sent: int = 0  # of those, how many the server never saw
    reruns: int = 0
    reported: int = 0  # submits in doubt a rerun reported (nothing could settle them)
    resent: int = 0  # explicitly resent with --resubmit-unknown
    completed: int = 0
    server_submits: int = 0
    duplicates: int = 0
    lost: int = 0  # server job ids missing from the results
    ok: bool = False
    notes: list[str] = field(default_factory=list)


def run_case(case: Case, *, prompts: int, time_scale: float, workdir: Path) -> Case:
    server = Server(case.provider, case.seed, time_scale)
    try:
        folder = workdir / f"{case.provider}-{case.kill}-{case.seed}"
        folder.mkdir(parents=True)
        source = folder / "prompts.txt"
        source.write_text("".join(f"kill matrix prompt {i}\n" for i in range(prompts)), "utf-8")
        out = folder / "results.jsonl"
        command = [
            sys.executable, "-m", "sora_async.cli", "batch", str(source),
            "--provider", case.provider, "--base-url", server.url, "--api-key", KEY,
            "--out", str(out), "--poll-interval", "0.02", "--max-poll-interval", "0.3",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "SORA_API_KEY"}
        first = subprocess.Popen(
            command, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 60
        while server.counters()["submits"] < case.after_submits and first.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.002)
        time.sleep(case.jitter)
        first.send_signal(signal.SIGKILL if case.kill == "SIGKILL" else signal.SIGTERM)
        _, stderr = first.communicate(timeout=30)
        case.exit_code = first.returncode
        if case.kill == "SIGTERM" and first.returncode not in (143, 0):
            case.notes.append(f"SIGTERM exit {first.returncode}: {stderr.decode()[-300:]}")
        journal = folder / "results.journal.sqlite"
        doubts = _in_doubt(journal)
        case.in_doubt = len(doubts)
        seen = {job["prompt"] for job in server.jobs()}
        case.in_doubt_not_sent = sum(prompt not in seen for prompt in doubts)

        extra: list[str] = []
        for attempt in range(4):
            case.reruns += 1
            again = subprocess.run(
                command + extra, cwd=folder, env=env, capture_output=True, text=True, timeout=180
            )
            unknown = _unknown_count(again.stdout)
            if again.returncode == 0 or unknown == 0:
                break
            case.reported = max(case.reported, unknown)
            if attempt == 0:
                time.sleep(2.0)  # codefast lists a job once it is finished: run again later
            elif not extra:
                extra = ["--resubmit-unknown"]
                case.resent += unknown
        records = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
        final = {record["index"]: record for record in records}  # the last line of each wins
        case.completed = sum(record["status"] == "completed" for record in final.values())
        ids = [record["job_id"] for record in final.values() if record.get("job_id")]
        case.duplicates = len(ids) - len(set(ids))
        server_jobs = server.jobs()
        case.server_submits = server.counters()["submits"]
        case.lost = len({job["id"] for job in server_jobs} - set(ids))
        extra = case.server_submits - prompts
        case.ok = (
            case.completed == prompts
            # Nothing sent twice but what was explicitly resent (a resent submit that had
            # never reached the server adds nothing), and each extra one is a lost first copy.
            and 0 <= extra <= case.resent
            and case.lost == extra
            and case.duplicates == 0
            and (case.lost == 0 or case.provider == "soravideo")
        )
        if not case.ok and again.returncode != 0:
            case.notes.append(again.stdout[-500:] + again.stderr[-500:])
        return case
    finally:
        server.stop()


def _in_doubt(journal: Path) -> list[str]:
    if not journal.exists():
        return []
    with sqlite3.connect(journal) as db:
        rows = db.execute(
            "SELECT prompt FROM prompts WHERE state IN ('intent', 'unknown') AND job_id IS NULL"
        ).fetchall()
    return [str(row[0]) for row in rows]


def _unknown_count(stdout: str) -> int:
    marker = " submits have an unknown outcome"
    for line in stdout.splitlines():
        if marker in line:
            return int(line.split(marker, 1)[0].rsplit(" ", 1)[-1])
    return 0


# -- the matrix -----------------------------------------------------------------------------------


def matrix(
    providers: list[str], *, kills: int, terms: int, prompts: int, seed: int
) -> list[tuple[str, str, int, float, int]]:
    """Seeded kill points: (provider, signal, after how many submits, jitter, case seed)."""
    rng = random.Random(seed)
    cases = []
    for provider in providers:
        for kind, count in (("SIGKILL", kills), ("SIGTERM", terms)):
            for _ in range(count):
                after = rng.randint(0, prompts)
                jitter = rng.choice([0.0, rng.uniform(0, 0.02), rng.uniform(0, 0.5)])
                cases.append((provider, kind, after, round(jitter, 4), rng.randrange(10**6)))
    return cases


def table(cases: list[Case], *, prompts: int) -> str:
    lines = [
        "| provider | signal | kills | in doubt per kill (count: kills) | largest | in doubt "
        "but never sent | reported by a rerun | resent | all completed | server submits "
        "beyond the prompts | duplicate ids | lost ids |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[Case]] = {}
    for case in cases:
        groups.setdefault((case.provider, case.kill), []).append(case)
    for (provider, kill), group in groups.items():
        spread = Counter(case.in_doubt for case in group)
        shown = ", ".join(f"{n}: {spread[n]}" for n in sorted(spread))
        lines.append(
            f"| {provider} | {kill} | {len(group)} | {shown} | "
            f"{max(case.in_doubt for case in group)} | "
            f"{sum(case.in_doubt_not_sent for case in group)} | "
            f"{sum(case.reported for case in group)} | {sum(case.resent for case in group)} | "
            f"{sum(case.completed == prompts for case in group)}/{len(group)} | "
            f"{sum(case.server_submits - prompts for case in group)} | "
            f"{sum(case.duplicates for case in group)} | {sum(case.lost for case in group)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--serve", choices=PROVIDERS, help=argparse.SUPPRESS)
    parser.add_argument("--providers", nargs="+", choices=PROVIDERS, default=list(PROVIDERS))
    parser.add_argument("--kills", type=int, default=10, help="SIGKILL points per provider")
    parser.add_argument("--terms", type=int, default=3, help="SIGTERM points per provider")
    parser.add_argument("--prompts", type=int, default=30)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--time-scale", type=float, default=0.01)
    parser.add_argument("--json", type=Path, help="write every case as JSON here")
    parser.add_argument("--results", type=Path, help="append the table to this Markdown file")
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.seed, args.time_scale)
        return 0
    points = matrix(
        args.providers, kills=args.kills, terms=args.terms, prompts=args.prompts, seed=args.seed
    )
    cases = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kill-matrix-") as workdir:
        for provider, kind, after, jitter, seed in points:
            case = Case(provider, kind, after, jitter, seed)
            run_case(case, prompts=args.prompts, time_scale=args.time_scale, workdir=Path(workdir))
            cases.append(case)
            print(
                f"{provider:9} {kind:7} after {after:2} submits +{jitter:.3f}s: exit "
                f"{case.exit_code}, in doubt {case.in_doubt} (never sent {case.in_doubt_not_sent})"
                f", reported {case.reported}, resent {case.resent}, completed {case.completed}"
                f", server submits {case.server_submits}, dup {case.duplicates}, lost "
                f"{case.lost}: {'ok' if case.ok else 'FAILED'}",
                flush=True,
            )
            for note in case.notes:
                print("   ", note.replace("\n", "\n    "))
    elapsed = time.monotonic() - started
    text = table(cases, prompts=args.prompts)
    largest = max((case.in_doubt for case in cases), default=0)
    print()
    print(text)
    print(f"\nlargest in doubt after one kill: {largest}; {len(cases)} cases in {elapsed:.0f} s")
    if args.json:
        args.json.write_text(json.dumps([case.__dict__ for case in cases], indent=2), "utf-8")
    if args.results:
        with args.results.open("a", encoding="utf-8") as results:
            results.write(f"\n{text}\n\nLargest in doubt after one kill: {largest}.\n")
    return 0 if all(case.ok for case in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
