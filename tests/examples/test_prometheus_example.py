"""examples/prometheus_metrics.py serves /metrics on the simulator: the numbers add up, and
no key, prompt or job id is in the page."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytest.importorskip("prometheus_client", reason="the dev extra installs prometheus-client")

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
PROMPT = "a secret prompt about a red fox"


def _example() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "prometheus_metrics", ROOT / "examples" / "prometheus_metrics.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metrics_page_after_one_video() -> None:
    app = _example().create_app(simulate=True)
    with TestClient(app) as http:
        job = http.post("/videos", json={"prompt": PROMPT}).json()
        with http.stream("GET", f"/videos/{job['id']}/events") as events:
            for _ in events.iter_lines():
                pass  # the stream ends when the job does
        page = http.get("/metrics")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, sample.labels.get("kind")): sample.value
        for family in text_string_to_metric_families(page.text)
        for sample in family.samples
    }
    assert samples[("sora_requests_total", "submit")] == 1
    assert samples[("sora_jobs_submitted_total", None)] == 1
    assert samples[("sora_jobs_finished_total", None)] == 1
    assert samples[("sora_jobs_tracked", None)] == 0
    assert samples[("sora_quota_daily_remaining", None)] == 19
    assert samples[("sora_submit_latency_seconds_count", None)] == 1
    assert samples[("sora_detection_delay_seconds_count", None)] == 1
    assert samples[("sora_requests_sent_total", None)] >= 2
    for secret in (PROMPT, "red fox", "sk-simulated", job["id"]):
        assert secret not in page.text


def test_the_metrics_page_python_block_runs() -> None:
    page = (ROOT / "docs" / "metrics.md").read_text("utf-8")
    [block] = re.findall(r"^```python\n(.*?)^```", page, re.MULTILINE | re.DOTALL)
    done = subprocess.run(
        [sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    first, second = done.stdout.splitlines()
    assert first == "2 2 18"
    assert second.startswith("submit p50 ")
