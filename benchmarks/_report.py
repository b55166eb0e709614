"""Tables and targets: the plain-text report and ``RESULTS.md``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from _analysis import RunMetrics

__all__ = [
    "Check",
    "TargetResult",
    "evaluate",
    "markdown_table",
    "results_rows",
    "route_rows",
    "text_table",
]

RESULT_HEADERS = [
    "profile",
    "client",
    "N",
    "done",
    "req/video",
    "429s",
    "p50 delay ms",
    "p95 delay ms",
    "p95 / poll",
    "makespan s",
    "x server",
    "x min",
    "CPU s",
    "peak RSS MB",
    "conns opened",
    "peak conns",
    "PoolTimeouts",
]


def _num(value: float, digits: int = 2) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "inf"
    return f"{value:,.{digits}f}"


def results_rows(runs: Sequence[RunMetrics]) -> list[list[str]]:
    """One row per run, in the order of :data:`RESULT_HEADERS`."""
    rows = []
    for run in runs:
        done = f"{run.completed:,}" + (" (deadline)" if run.timed_out else "")
        rows.append(
            [
                run.profile,
                run.client,
                f"{run.n:,}",
                done,
                _num(run.requests_per_video),
                f"{run.responses_429:,}",
                _num(run.delay_p50 * 1000, 0),
                _num(run.delay_p95 * 1000, 0),
                _num(run.delay_p95 / run.poll_interval),
                _num(run.makespan, 1),
                _num(run.makespan / run.server_makespan),
                _num(run.makespan / run.server_minimum),
                _num(run.cpu_seconds),
                _num(run.peak_rss_mb, 0),
                f"{run.connections_opened:,}",
                f"{run.peak_open_connections}",
                f"{run.pool_timeouts:,}",
            ]
        )
    return rows


ROUTE_HEADERS = [
    "profile",
    "client",
    "requests",
    "by route",
    "server makespan s",
    "server min s",
    "poll interval ms",
    "tracked at once",
    "sampled sockets / peak",
    "errors",
]


def route_rows(runs: Sequence[RunMetrics]) -> list[list[str]]:
    """The detail behind each row: where the requests went, what went wrong."""
    rows = []
    for run in runs:
        routes = ", ".join(
            f"{name} {count:,}" for name, count in sorted(run.requests_by_route.items())
        )
        errors = ", ".join(f"{kind} {count:,}" for kind, count in sorted(run.errors.items()))
        rows.append(
            [
                run.profile,
                run.client,
                f"{run.requests:,}",
                routes,
                _num(run.server_makespan, 1),
                _num(run.server_minimum, 1),
                _num(run.poll_interval * 1000, 0),
                f"{run.max_tracked:,}",
                f"{run.sampled_sockets:,} / {run.sampled_peak_sockets}",
                errors or "none",
            ]
        )
    return rows


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell (numbers right-aligned)."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for cell, width in zip(cells, widths, strict=True):
            numeric = cell[:1].isdigit() or cell in ("-", "inf")
            parts.append(cell.rjust(width) if numeric else cell.ljust(width))
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# -- targets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """Which of the issue's targets a profile stands for."""

    max_requests_per_video: float = 0.0  # codefast N=1,000: at most 1.3 (0: not checked)
    delay_within_poll: bool = False  # codefast N=1,000: p95 detection delay <= poll_interval
    limits: bool = False  # soravideo at its published limits: no 429, makespan
    scale: bool = False  # N=10,000 tracked at once: RSS, sockets, PoolTimeout, CPU
    baseline_ratio: float = 0.0  # at least this many times fewer requests per video
    delay_polls: float = 0.0  # p95 detection delay at most this many poll intervals
    max_requests: int = 0  # at most this many requests in all (0: not checked)


@dataclass(frozen=True)
class TargetResult:
    profile: str
    target: str
    measured: str
    met: bool | None  # None: cannot be judged (the baseline finished too little)
    margin: str


#: Below this share of finished videos a baseline has no meaningful "per video" numbers.
_MIN_BASELINE_SHARE = 0.5


def _ratio_margin(measured: float, limit: float, *, at_most: bool) -> str:
    """How far ``measured`` is inside (or outside) ``limit``, in percent of the limit."""
    if limit == 0:
        return "exact" if measured == 0 else f"{measured:g} over"
    slack = (limit - measured) / limit if at_most else (measured - limit) / limit
    word = "inside" if slack >= 0 else "outside"
    return f"{abs(slack):.0%} {word}"


def _target(
    profile: str, target: str, measured: float, limit: float, *, at_most: bool, shown: str
) -> TargetResult:
    met = measured <= limit if at_most else measured >= limit
    margin = _ratio_margin(measured, limit, at_most=at_most)
    return TargetResult(profile, target, shown, met, margin)


Baselines = dict[str, RunMetrics]


def evaluate(
    runs: dict[tuple[str, str], RunMetrics], checks: dict[str, Check]
) -> list[TargetResult]:
    """Every target the profiles that ran stand for, met or missed, and by how much."""
    results: list[TargetResult] = []
    for profile, check in checks.items():
        sdk = runs.get((profile, "sdk"))
        if sdk is None:
            continue
        baselines = {
            client: run
            for (name, client), run in runs.items()
            if name == profile and client.startswith("baseline")
        }
        for rule in _RULES:
            results.extend(rule(profile, check, sdk, baselines))
    return results


def _requests_rules(
    profile: str, check: Check, sdk: RunMetrics, baselines: Baselines
) -> list[TargetResult]:
    results = []
    if check.max_requests_per_video:
        limit = check.max_requests_per_video
        results.append(
            _target(
                profile,
                f"<= {limit:g} HTTP requests per finished video",
                sdk.requests_per_video,
                limit,
                at_most=True,
                shown=f"{sdk.requests_per_video:.2f}",
            )
        )
    if check.max_requests:
        results.append(
            _target(
                profile,
                f"<= {check.max_requests} requests in all",
                sdk.requests,
                check.max_requests,
                at_most=True,
                shown=f"{sdk.requests}",
            )
        )
    if check.delay_polls:
        polls = sdk.delay_p95 / sdk.poll_interval
        results.append(
            _target(
                profile,
                f"p95 detection delay <= {check.delay_polls:g} poll intervals",
                polls,
                check.delay_polls,
                at_most=True,
                shown=f"{polls:.2f} ({sdk.delay_p95 * 1000:.0f} ms)",
            )
        )
    if check.delay_within_poll:
        results.append(
            _target(
                profile,
                f"p95 detection delay <= poll_interval ({sdk.poll_interval * 1000:.0f} ms)",
                sdk.delay_p95,
                sdk.poll_interval,
                at_most=True,
                shown=f"{sdk.delay_p95 * 1000:.0f} ms",
            )
        )
    return results


def _limits_rules(
    profile: str, check: Check, sdk: RunMetrics, baselines: Baselines
) -> list[TargetResult]:
    if not check.limits:
        return []
    ratio = sdk.makespan / sdk.server_minimum
    return [
        _target(
            profile,
            "zero 429 responses",
            sdk.responses_429,
            0,
            at_most=True,
            shown=str(sdk.responses_429),
        ),
        _target(
            profile,
            "makespan <= 1.1 x server minimum",
            ratio,
            1.1,
            at_most=True,
            shown=f"{ratio:.3f} x ({sdk.makespan:.1f} s / {sdk.server_minimum:.1f} s)",
        ),
    ]


def _scale_rules(
    profile: str, check: Check, sdk: RunMetrics, baselines: Baselines
) -> list[TargetResult]:
    if not check.scale:
        return []
    sockets = max(sdk.peak_open_connections, sdk.sampled_peak_sockets)
    limit = sdk.max_connections or 0
    results = [
        _target(
            profile,
            f"peak RSS <= 200 MB ({sdk.max_tracked:,} jobs tracked at once)",
            sdk.peak_rss_mb,
            200,
            at_most=True,
            shown=f"{sdk.peak_rss_mb:.0f} MB",
        ),
        _target(
            profile,
            f"sockets <= max_connections ({limit})",
            sockets,
            limit,
            at_most=True,
            shown=f"{sockets} at once, {sdk.connections_opened} opened",
        ),
        _target(
            profile,
            "zero PoolTimeout",
            sdk.pool_timeouts,
            0,
            at_most=True,
            shown=str(sdk.pool_timeouts),
        ),
    ]
    for name, base in baselines.items():
        share = sdk.cpu_seconds / base.cpu_seconds
        shown = f"{share:.0%} ({sdk.cpu_seconds:.1f} s vs {base.cpu_seconds:.1f} s)"
        target = f"client CPU <= 25% of the {name}'s"
        results.append(_target(profile, target, share, 0.25, at_most=True, shown=shown))
    return results


def _baseline_rules(
    profile: str, check: Check, sdk: RunMetrics, baselines: Baselines
) -> list[TargetResult]:
    if not check.baseline_ratio:
        return []
    results = []
    for name, base in baselines.items():
        fewer_target = f">= {check.baseline_ratio:g}x fewer requests per video than the {name}"
        delay_target = f"p95 detection delay no worse than the {name}'s"
        if base.completed < _MIN_BASELINE_SHARE * base.n:
            shown = f"{name} finished {base.completed:,} of {base.n:,} videos"
            results.append(TargetResult(profile, fewer_target, shown, None, "n/a"))
            results.append(TargetResult(profile, delay_target, shown, None, "n/a"))
            continue
        fewer = base.requests_per_video / sdk.requests_per_video
        per_video = f"{sdk.requests_per_video:.2f} vs {base.requests_per_video:.2f}"
        results.append(
            _target(
                profile,
                fewer_target,
                fewer,
                check.baseline_ratio,
                at_most=False,
                shown=f"{fewer:.1f}x ({per_video})",
            )
        )
        results.append(
            _target(
                profile,
                delay_target,
                sdk.delay_p95,
                base.delay_p95,
                at_most=True,
                shown=f"{sdk.delay_p95 * 1000:.0f} ms vs {base.delay_p95 * 1000:.0f} ms",
            )
        )
    return results


_Rule = Callable[[str, Check, RunMetrics, Baselines], list[TargetResult]]
_RULES: tuple[_Rule, ...] = (_requests_rules, _limits_rules, _scale_rules, _baseline_rules)


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else "met" if met else "MISSED"


def target_rows(results: Sequence[TargetResult]) -> list[list[str]]:
    return [[r.profile, r.target, r.measured, _verdict(r.met), r.margin] for r in results]


TARGET_HEADERS = ["profile", "target", "measured", "result", "margin"]
