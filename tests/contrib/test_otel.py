"""OpenTelemetry metrics and spans (the otel extra), read with the SDK's in-memory readers."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk", reason="the dev extra installs opentelemetry-sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from sora_async import AsyncSoraClient
from sora_async.contrib.otel import instrument
from sora_async.testing import simulator_of

pytestmark = pytest.mark.anyio

KEY = "sk-otel-secret-key-0123456789"
PROMPTS = ["a lighthouse keeper's secret diary", "a paper boat in the rain", "FAIL this one"]


def _points(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            assert scope.scope.name == "sora_async"
            for metric in scope.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


def _total(points: list[Any], **attributes: Any) -> float:
    return sum(
        point.value
        for point in points
        if all(point.attributes.get(k) == v for k, v in attributes.items())
    )


async def test_a_batch_as_metrics_and_spans() -> None:
    reader = InMemoryMetricReader()
    exporter = InMemorySpanExporter()
    tracing = TracerProvider()
    tracing.add_span_processor(SimpleSpanProcessor(exporter))
    client = AsyncSoraClient.simulated(
        provider="soravideo", time_scale=0.002, api_key=KEY, fail_prompts_containing="FAIL"
    )
    instrument(
        client, meter_provider=MeterProvider(metric_readers=[reader]), tracer_provider=tracing
    )
    async with client:
        simulator_of(client).inject("429", route="submit", retry_after=0.001)
        simulator_of(client).inject("timeout", route="status")  # an exception in a span
        result = await client.generate_batch(PROMPTS)
        assert len(result.completed) == 2 and len(result.failed) == 1
        snapshot = client.metrics()
        points = _points(reader)

    requests = points["sora.client.requests"]
    assert _total(requests, **{"sora.request.kind": "submit"}) == snapshot.requests["submit"] == 4
    assert _total(requests, **{"http.response.status_code": 429}) == 1
    assert _total(points["sora.client.rate_limited"]) == snapshot.rate_limited == 1
    assert _total(points["sora.client.retries"]) == snapshot.retries == 2
    [delays] = points["sora.client.job.detection_delay"]
    assert delays.count == snapshot.detection_delay.count == 3
    submits = [
        p for p in points["sora.client.request.duration"]
        if p.attributes["sora.request.kind"] == "submit"
    ]  # fmt: skip
    assert submits[0].count == 4
    [tracked] = points["sora.client.jobs.tracked"]
    assert tracked.value == 0
    [remaining] = points["sora.client.quota.rate_remaining"]
    assert remaining.value == snapshot.quota.rate_remaining is not None

    spans = exporter.get_finished_spans()
    assert len(spans) == snapshot.requests_sent
    assert {span.name for span in spans} >= {"sora.submit", "sora.read"}
    refused = [s for s in spans if s.attributes.get("http.response.status_code") == 429]
    assert len(refused) == 1 and refused[0].attributes["error.type"] == "RateLimitError"
    assert refused[0].attributes["server.address"] == "soravideo.sim"
    [timed_out] = [s for s in spans if s.attributes.get("error.type") == "APITimeoutError"]
    assert timed_out.status.status_code is StatusCode.ERROR
    # No exception text (it may quote a server's words) in any span.
    assert all(not span.events and span.status.description is None for span in spans)

    # No key, no prompt, no job id in any attribute of any metric or span.
    shown = json.dumps(
        [dict(point.attributes) for series in points.values() for point in series]
        + [dict(span.attributes or {}) for span in spans]
        + [span.name for span in spans],
        default=str,
    )
    secrets = [KEY, *PROMPTS, *(item.job.id for item in result.items if item.job)]
    for secret in secrets:
        assert secret not in shown
    for word in ("lighthouse", "paper boat", "FAIL", "sk-otel"):
        assert word not in shown


async def test_without_providers_the_api_does_nothing() -> None:
    # The global providers are the API's no-op ones until an application sets them up.
    async with AsyncSoraClient.simulated(time_scale=0.002) as client:
        await client.generate("a fox")
        assert client.metrics().jobs_submitted == 1


def test_spans_wait_for_a_global_tracer_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    from opentelemetry import trace

    from sora_async._metrics import Recorder
    from sora_async.contrib.otel import OpenTelemetrySink

    sink = OpenTelemetrySink()  # the global providers, as every client's default sink
    recorder = Recorder("codefast", "api.example")
    assert sink.request_span(recorder, "read", "GET") is None  # nowhere to go: not made
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # An application sets its provider up after the client was made.
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    with sink.request_span(recorder, "read", "GET") as span:
        assert span.is_recording()
    assert [span.name for span in exporter.get_finished_spans()] == ["sora.read"]
