"""OpenTelemetry metrics and spans for every client (the ``otel`` extra: ``opentelemetry-api``).

Nothing to call: where ``opentelemetry-api`` is installed, every client records into the
global meter and tracer providers (set them up with the SDK as usual; until then the API
does nothing). :func:`instrument` points one client at other providers (a test's
in-memory readers, say).

Instruments (attribute ``sora.provider`` on all; ``sora.request.kind`` is ``submit``,
``read``, ``write`` or ``download``):

============================================  ===============  ==============================
``sora.client.requests``                      counter          calls, with
                                                               ``http.response.status_code``
                                                               or ``error.type``
``sora.client.request.duration``              histogram, s     per call (``submit``: the
                                                               submit latency)
``sora.client.rate_limited``                  counter          429s met
``sora.client.retries``                       counter          tries made again
``sora.client.job.detection_delay``           histogram, s     a job's end to its noticing
``sora.client.jobs.tracked``                  gauge            jobs the scheduler follows
``sora.client.quota.daily_remaining``         gauge            where the provider says
``sora.client.quota.credits``                 gauge            where the provider says
``sora.client.quota.rate_remaining``          gauge            where the provider says
============================================  ===============  ==============================

A span per call, ``sora.<kind>`` (``SpanKind.CLIENT``), with the provider, the kind, the
method, ``server.address``, the status code and ``error.type``. No attribute ever holds the
API key, a prompt, a URL path or a job id.

>>> from opentelemetry.sdk.metrics import MeterProvider  # doctest: +SKIP
>>> instrument(client, meter_provider=MeterProvider(metric_readers=[reader]))  # doctest: +SKIP
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, trace

from .._metrics import Recorder, RequestKind

if TYPE_CHECKING:
    from .._client import AsyncSoraClient

__all__ = ["OpenTelemetrySink", "default_sink", "instrument"]

_SCOPE = "sora_async"
_QUOTA_GAUGES = ("daily_remaining", "credits", "rate_remaining")


class OpenTelemetrySink:
    """Sends recorders' events to one meter provider and one tracer provider."""

    def __init__(
        self,
        *,
        meter_provider: metrics.MeterProvider | None = None,
        tracer_provider: trace.TracerProvider | None = None,
    ) -> None:
        from .. import __version__

        meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
        self._tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
        self._own_tracer = tracer_provider is not None
        self._recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()
        self._requests = meter.create_counter(
            "sora.client.requests", unit="{request}", description="Calls sent, by kind"
        )
        self._duration = meter.create_histogram(
            "sora.client.request.duration", unit="s", description="Call durations, by kind"
        )
        self._counters = {
            "rate_limited": meter.create_counter(
                "sora.client.rate_limited", unit="{response}", description="Rate refusals met"
            ),
            "retries": meter.create_counter(
                "sora.client.retries", unit="{retry}", description="Calls tried again"
            ),
        }
        self._histograms = {
            "detection_delay": meter.create_histogram(
                "sora.client.job.detection_delay",
                unit="s",
                description="From a job's end to the client noticing it",
            )
        }
        meter.create_observable_gauge(
            "sora.client.jobs.tracked",
            callbacks=[self._observe_tracked],
            unit="{job}",
            description="Jobs the poll scheduler follows",
        )
        for name in _QUOTA_GAUGES:
            meter.create_observable_gauge(
                f"sora.client.quota.{name}",
                callbacks=[self._quota_observer(name)],
                description=f"The provider's last reported quota: {name.replace('_', ' ')}",
            )

    # -- the Sink protocol -----------------------------------------------------------------

    def attach(self, recorder: Recorder) -> None:
        self._recorders.add(recorder)

    def detach(self, recorder: Recorder) -> None:
        self._recorders.discard(recorder)

    def request_span(self, recorder: Recorder, kind: RequestKind, method: str) -> Any:
        if not self._tracing():
            return None
        return self._tracer.start_as_current_span(
            f"sora.{kind}",
            kind=trace.SpanKind.CLIENT,
            attributes={
                **_base(recorder),
                "sora.request.kind": kind,
                "http.request.method": method,
                "server.address": recorder.server,
            },
            # An exception's text may quote what a server sent (a prompt, even): neither
            # it nor a status description goes into the span; requested() sets the status.
            record_exception=False,
            set_status_on_exception=False,
        )

    def requested(self, recorder: Recorder, kind: RequestKind, outcome: dict[str, Any]) -> None:
        base = {**_base(recorder), "sora.request.kind": kind}
        result: dict[str, str | int] = {}
        if "status_code" in outcome:
            result["http.response.status_code"] = outcome["status_code"]
        if "error_type" in outcome:
            result["error.type"] = outcome["error_type"]
        self._requests.add(1, {**base, **result})
        self._duration.record(outcome["seconds"], base)
        if outcome["rate_limited"]:
            self.counted(recorder, "rate_limited")
        span = outcome.get("span")
        if span is not None and span.is_recording():
            span.set_attributes(result)
            if "error_type" in outcome:
                span.set_status(trace.StatusCode.ERROR)

    def counted(self, recorder: Recorder, name: str) -> None:
        self._counters[name].add(1, _base(recorder))

    def timed(self, recorder: Recorder, name: str, seconds: float) -> None:
        self._histograms[name].record(seconds, _base(recorder))

    def _tracing(self) -> bool:
        """Whether a span would go anywhere: not until the app sets a tracer provider up.

        Until then the global one is the API's proxy, whose spans are dropped; making and
        entering one anyway cost a few per cent of a status poll's CPU. Asked on every call,
        so that a provider set up later is used from then on.
        """
        return self._own_tracer or not isinstance(
            trace.get_tracer_provider(), trace.ProxyTracerProvider
        )

    # -- gauges ----------------------------------------------------------------------------

    def _observe_tracked(self, options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        for recorder in list(self._recorders):
            current = recorder.current()
            if current is not None:
                yield metrics.Observation(current.jobs_tracked, _gauge(recorder))

    def _quota_observer(self, name: str) -> Any:
        def observe(options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
            for recorder in list(self._recorders):
                current = recorder.current()
                value = getattr(current.quota, name) if current is not None else None
                if value is not None:
                    yield metrics.Observation(value, _gauge(recorder))

        return observe


def _base(recorder: Recorder) -> dict[str, str]:
    return {"sora.provider": recorder.provider}


def _gauge(recorder: Recorder) -> dict[str, str | int]:
    # Two clients of one provider are two series, told apart by a serial number.
    return {**_base(recorder), "sora.client": recorder.serial}


_default: OpenTelemetrySink | None = None


def default_sink() -> OpenTelemetrySink:
    """The sink every new client uses: OpenTelemetry's global providers."""
    global _default
    if _default is None:
        _default = OpenTelemetrySink()
    return _default


def instrument(
    client: AsyncSoraClient,
    *,
    meter_provider: metrics.MeterProvider | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> OpenTelemetrySink:
    """Send ``client``'s metrics and spans to these providers instead of the global ones.

    >>> reader = InMemoryMetricReader()  # doctest: +SKIP
    >>> instrument(client, meter_provider=MeterProvider(metric_readers=[reader]))  # doctest: +SKIP
    """
    recorder = client._recorder
    if recorder.sink is not None and isinstance(recorder.sink, OpenTelemetrySink):
        recorder.sink.detach(recorder)
    sink = OpenTelemetrySink(meter_provider=meter_provider, tracer_provider=tracer_provider)
    recorder.use(sink)
    return sink
