"""A FastAPI video service with a Prometheus ``/metrics`` endpoint (pip install prometheus-client).

    python examples/prometheus_metrics.py --simulate --port 8000
    curl -X POST localhost:8000/videos -H 'content-type: application/json' \\
         -d '{"prompt": "a red fox in fresh snow"}'
    curl localhost:8000/metrics

Each scrape reads ``client.metrics()``, a snapshot that costs no request, and shows it in
Prometheus' text format: requests by kind, 429s, retries, quota left, jobs tracked, the
submit latency and the detection delay. No key, prompt or job id is in any label.
(With ``opentelemetry-api`` installed the client also records into OpenTelemetry, whose
Prometheus exporter is another way to the same numbers.)
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from sora_async import AsyncSoraClient, DurationStats
from sora_async.contrib.fastapi import SoraClient, create_router, sora_lifespan, uvicorn_server


class SoraCollector(Collector):
    """One client's :meth:`~sora_async.AsyncSoraClient.metrics` as Prometheus metrics."""

    def __init__(self, client: AsyncSoraClient) -> None:
        self._client = client

    def collect(self) -> Iterator[Metric]:
        m = self._client.metrics()
        labels = {"provider": m.provider}

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(f"sora_{name}", doc, labels=list(labels))
            family.add_metric(list(labels.values()), value)
            return family

        yield counter("requests_sent", "HTTP requests sent (retries included)", m.requests_sent)
        by_kind = CounterMetricFamily("sora_requests", "Calls by kind", labels=["provider", "kind"])
        for kind, count in m.requests.items():
            by_kind.add_metric([m.provider, kind], count)
        yield by_kind
        yield counter("rate_limited", "Rate refusals (429) met", m.rate_limited)
        yield counter("retries", "Calls tried again", m.retries)
        yield counter("connection_errors", "Calls that got no answer", m.connection_errors)
        yield counter("jobs_submitted", "Submissions the service took", m.jobs_submitted)
        yield counter("jobs_finished", "Tracked jobs seen ending", m.jobs_finished)

        tracked = GaugeMetricFamily("sora_jobs_tracked", "Jobs being polled", labels=list(labels))
        tracked.add_metric(list(labels.values()), m.jobs_tracked)
        yield tracked
        for field in ("daily_remaining", "credits", "rate_remaining"):
            value = getattr(m.quota, field)
            if value is not None:  # only what the provider reports
                gauge = GaugeMetricFamily(
                    f"sora_quota_{field}", f"Quota: {field.replace('_', ' ')}", labels=list(labels)
                )
                gauge.add_metric(list(labels.values()), value)
                yield gauge

        def summary(name: str, doc: str, stats: DurationStats) -> SummaryMetricFamily:
            family = SummaryMetricFamily(f"sora_{name}_seconds", doc, labels=list(labels))
            family.add_metric(list(labels.values()), count_value=stats.count, sum_value=stats.total)
            return family

        yield summary("submit_latency", "From sending a submission to its answer", m.submit_latency)
        yield summary("detection_delay", "From a job's end to noticing it", m.detection_delay)


def create_app(*, simulate: bool) -> FastAPI:
    lifespan = (
        sora_lifespan(simulate=True, time_scale=0.005)
        if simulate
        else sora_lifespan(provider=os.environ.get("SORA_PROVIDER", "codefast"))
    )
    app = FastAPI(title="Videos, with metrics", lifespan=lifespan)
    app.include_router(create_router())

    @app.get("/metrics", include_in_schema=False)
    def metrics(client: SoraClient) -> Response:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(SoraCollector(client))
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the video API with /metrics.")
    parser.add_argument("--simulate", action="store_true")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if not args.simulate and not os.environ.get("SORA_API_KEY"):
        raise SystemExit("set SORA_API_KEY, or run with --simulate")
    server = uvicorn_server(create_app(simulate=args.simulate), host="127.0.0.1", port=args.port)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()


if __name__ == "__main__":
    main()
