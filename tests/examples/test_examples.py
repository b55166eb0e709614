"""Every example runs on the simulator (``--simulate`` or ``SORA_SIMULATE=1``), time-bounded,
and the Python blocks of docs/fastapi.md and docs/testing.md pass as test modules."""

from __future__ import annotations

import ast
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC_PAGES = ("fastapi.md", "testing.md")
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def environment(**extra: str) -> dict[str, str]:
    """This environment without a real key or a simulate switch, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in ("SORA_API_KEY", "SORA_SIMULATE")}
    return {**env, **extra}


def start(*args: str, **env: str) -> subprocess.Popen[str]:
    """``python *args`` in the repository, its output captured."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a process group: stopped whole, forked children too
    )


SCRIPTS = ["basic.py", "bulk.py", "image_to_video.py", "fastapi_app.py", "prometheus_metrics.py"]
# The pytest runs need none of hypothesis (its plugin alone takes seconds to import).
PYTEST = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest"]


@dataclass(frozen=True)
class Runs:
    """The example runs of this module, and where the bulk run writes its results.

    The scripts run as ``python examples/<script> ...`` would, each in its own process,
    forked by ``example_runner.py`` (one interpreter start for all); the pytest runs are
    processes of their own.
    """

    scripts: subprocess.Popen[str]
    output: Path
    processes: dict[str, subprocess.Popen[str]]
    bulk_results: Path

    def finish(self, name: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        if name in self.processes:
            process = self.processes[name]
            out, err = process.communicate(timeout=timeout)
            return subprocess.CompletedProcess(process.args, process.returncode, out, err)
        codes_json, runner_err = self.scripts.communicate(timeout=timeout)
        assert self.scripts.returncode == 0, runner_err
        code = json.loads(codes_json)[name]
        out, err = ((self.output / f"{name}{end}").read_text("utf-8") for end in (".out", ".err"))
        return subprocess.CompletedProcess(name, code, out, err)

    def stop(self) -> None:
        for process in [*self.processes.values(), self.scripts]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)  # the runner's children too
            process.communicate()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    """Every example run, started at once (they are independent); a test waits for its own."""
    tmp = tmp_path_factory.mktemp("bulk")
    prompts, results = tmp / "prompts.txt", tmp / "results.jsonl"
    # As `sora-async batch` reads it: two prompts, a blank line and comments skipped.
    prompts.write_text("# scenes\na red fox\n\n# a comment, not a prompt\na paper boat\n")
    docs = tmp_path_factory.mktemp("docs")
    for page in DOC_PAGES:
        # Each page's blocks, in order, make one module: a failure names its page.
        module = docs / f"test_doc_{page.removesuffix('.md')}.py"
        module.write_text("\n\n".join(doc_blocks(page)), encoding="utf-8")
    scripts = {
        "basic": ["examples/basic.py", "--simulate"],
        "bulk": ["examples/bulk.py"],  # with SORA_SIMULATE=1
        "bulk-file": ["examples/bulk.py", str(prompts), "--out", str(results), "--simulate"],
        "image": ["examples/image_to_video.py", "--simulate"],
        "image-openai": ["examples/image_to_video.py", "--simulate", "--provider", "openai"],
        "quickstart": ["examples/quickstart.py"],
        **{f"no-key {script}": [f"examples/{script}"] for script in SCRIPTS},
    }
    output = tmp_path_factory.mktemp("scripts")
    spec = output / "runs.json"
    spec.write_text(
        json.dumps(
            {
                name: {"argv": argv, "env": {"SORA_SIMULATE": "1"} if name == "bulk" else {}}
                for name, argv in scripts.items()
            }
        ),
        encoding="utf-8",
    )
    processes = {
        "my-tests": start(*PYTEST, "examples/test_my_app.py"),
        "docs": start(*PYTEST, "--rootdir", str(docs), str(docs)),
    }
    runner = start(str(Path(__file__).with_name("example_runner.py")), str(spec), str(output))
    run = Runs(runner, output, processes, results)
    yield run
    run.stop()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("basic", ["queued: position 1 of 1", "completed", ".mp4"]),
        ("bulk", ["8 prompts: 8 completed", "videos"]),
        (
            "image",
            [
                "[codefast] sending gradient.png inline",
                "[soravideo] the simulator saw 1 upload",
                "[openai] sending gradient.png as a file",
            ],
        ),
        ("image-openai", ["[openai] sending gradient.png as a file", "[openai] completed"]),
        ("quickstart", ["3 prompts: 3 completed", ".mp4"]),
    ],
)
def test_an_example_runs_on_the_simulator(runs: Runs, name: str, expected: list[str]) -> None:
    done = runs.finish(name)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for text in expected:
        assert text in done.stdout, done.stdout


def test_the_image_example_runs_only_the_provider_asked_for(runs: Runs) -> None:
    done = runs.finish("image-openai")
    assert done.returncode == 0, done.stderr
    assert {line.split("]")[0] + "]" for line in done.stdout.splitlines()} == {"[openai]"}


NUMBERS = {"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13}


def test_the_readme_says_what_the_quickstart_example_is() -> None:
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    claim = re.search(r"`python examples/quickstart\.py`([^.]*?) in (\w+) lines of code", readme)
    assert claim is not None
    source = (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8")
    docstring = ast.get_docstring(ast.parse(source), clean=False)
    assert docstring is not None
    body = source.split('"""', 2)[2]  # after the docstring
    code = [line for line in body.splitlines() if line.strip() and not line.startswith("#")]
    assert NUMBERS[claim.group(2)] == len(code)
    prompts = ast.literal_eval(source.split("PROMPTS = ", 1)[1].splitlines()[0])
    assert "three videos" in claim.group(1) and len(prompts) == 3
    assert "generate_batch" in claim.group(1) and "generate_batch" in source


def test_bulk_reads_a_prompt_file_and_writes_results(runs: Runs) -> None:
    done = runs.finish("bulk-file")
    assert done.returncode == 0, done.stderr
    lines = runs.bulk_results.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["prompt"], r["status"]) for r in records] == [
        ("a red fox", "completed"),
        ("a paper boat", "completed"),
    ]


@pytest.mark.parametrize("script", SCRIPTS)
def test_without_a_key_or_the_simulator_an_example_says_what_to_do(runs: Runs, script: str) -> None:
    done = runs.finish(f"no-key {script}")
    assert done.returncode != 0
    assert "set SORA_API_KEY, or run with --simulate" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_users_own_tests_pass(runs: Runs) -> None:
    done = runs.finish("my-tests")
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
    assert "failed" not in done.stdout


def doc_blocks(page: str) -> list[str]:
    return PYTHON_BLOCK.findall((ROOT / "docs" / page).read_text(encoding="utf-8"))


def test_the_docs_code_blocks_pass_as_test_modules(runs: Runs) -> None:
    assert all(len(doc_blocks(page)) >= 3 for page in DOC_PAGES)
    done = runs.finish("docs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert " passed" in done.stdout
    assert "warning" not in done.stdout.lower(), done.stdout


def test_every_doc_block_is_python_or_plain_text() -> None:
    # Only the Python blocks are run: anything else must be output or a shell line, not code.
    for page in DOC_PAGES:
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        fences = re.findall(r"^```(\w*)$", text, re.MULTILINE)
        languages = set(fences[0::2])  # every other fence opens a block
        assert languages <= {"python", "text", ""}, (page, languages)


# uvicorn's startup line: with --port 0 it names the port the OS chose, so no other process
# can take the port between choosing it and binding it.
RUNNING_ON = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


def lines_of(stream: IO[str]) -> queue.Queue[str | None]:
    """The lines of ``stream`` as a reader thread gets them; ``None`` at the end."""
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        with stream:
            for line in stream:
                lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return lines


def port_of(lines: queue.Queue[str | None], seen: list[str]) -> int:
    """The port of a starting uvicorn server, from its log; its lines so far go to ``seen``."""
    while (line := lines.get(timeout=30)) is not None:
        seen.append(line)
        if match := RUNNING_ON.search(line):
            return int(match.group(1))
    raise AssertionError("the app did not start:\n" + "".join(seen))


def test_the_fastapi_example_serves_and_stops_cleanly_on_ctrl_c() -> None:
    server = start("examples/fastapi_app.py", "--simulate", "--port", "0")
    assert server.stderr is not None
    log = lines_of(server.stderr)
    seen: list[str] = []
    try:
        port = port_of(log, seen)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            assert http.get("/quota").json()["provider"] == "codefast"
            job = http.post("/videos", json={"prompt": "a red fox"}).json()
            with http.stream("GET", f"/videos/{job['id']}/events") as events:
                data = [line for line in events.iter_lines() if line.startswith("data: ")]
            assert json.loads(data[-1].removeprefix("data: "))["status"] == "completed"
            trailer = http.post("/trailers", params={"title": "Dune"})
            assert trailer.status_code == 202
            # A listener is still connected when Ctrl+C arrives: it must not hold the server.
            with http.stream("GET", f"/videos/{trailer.json()['id']}/events") as events:
                lines = events.iter_lines()
                assert next(lines).startswith("event: status")
                server.send_signal(signal.SIGINT)
                rest = list(lines)  # ends when the server closes the stream
            assert all(not line.startswith("event: error") for line in rest)
        server.wait(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        assert server.stdout is not None
        server.stdout.close()  # stderr is the reader thread's
    while (line := log.get(timeout=15)) is not None:
        seen.append(line)
    err = "".join(seen)
    assert server.returncode == 0, err
    assert "Traceback" not in err
    assert "ERROR" not in err
    assert "Application shutdown complete" in err


def test_the_prometheus_example_serves_metrics_over_a_socket() -> None:
    server = start("examples/prometheus_metrics.py", "--simulate", "--port", "0")
    assert server.stderr is not None
    log = lines_of(server.stderr)
    seen: list[str] = []
    try:
        port = port_of(log, seen)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            job = http.post("/videos", json={"prompt": "a red fox"}).json()
            with http.stream("GET", f"/videos/{job['id']}/events") as events:
                list(events.iter_lines())  # ends with the job
            page = http.get("/metrics")
        assert page.status_code == 200
        assert 'sora_requests_total{kind="submit",provider="codefast"} 1.0' in page.text
        assert 'sora_jobs_finished_total{provider="codefast"} 1.0' in page.text
        server.send_signal(signal.SIGINT)
        server.wait(timeout=15)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        assert server.stdout is not None
        server.stdout.close()
    assert server.returncode == 0, "".join(seen)
