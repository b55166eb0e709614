"""The ``sora-async`` commands (typer). Parsing and exit codes here; the work elsewhere."""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import anyio
import typer
from rich.console import Console

from .._client import AsyncSoraClient
from .._download import existing, plan_target
from .._errors import AuthenticationError, InvalidRequestError, JobFailedError, SoraError
from .._journal import JournalError, journal_location
from .._limits import Limits
from .._models import Job, JobStatus
from ..state import check_shared_state
from ._common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    cli_words,
    counted,
)
from ._connect import Connection
from ._display import Display, LiveDisplay, PlainDisplay, quota_text
from ._paths import check_download
from ._run import BatchOptions, Interrupted, run_batch
from ._usage import OneLineUsageGroup, PlainUsageCommand

__all__ = ["app"]

app = typer.Typer(
    name="sora-async",
    help="Generate Sora-2 videos in bulk: live progress, resumable runs, streamed downloads.",
    no_args_is_help=True,
    add_completion=False,
    # A traceback with locals could show the API key: never print one.
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    # Plain help (no <bool> on flags, no choices broken mid-word at 80 columns), and
    # usage errors on one line like every other error.
    rich_markup_mode=None,
    cls=OneLineUsageGroup,
)


command = functools.partial(app.command, cls=PlainUsageCommand)


class ProviderName(StrEnum):
    codefast = "codefast"
    soravideo = "soravideo"
    openai = "openai"


class Format(StrEnum):
    txt = "txt"
    csv = "csv"
    jsonl = "jsonl"


class Variant(StrEnum):
    video = "video"
    thumbnail = "thumbnail"
    spritesheet = "spritesheet"


# -- the options every command shares ------------------------------------------------------------

_SERVICE = "Service"
ProviderOpt = Annotated[
    ProviderName, typer.Option(help="The provider's protocol.", rich_help_panel=_SERVICE)
]
BaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        help="The service's base URL (default: the provider's).", rich_help_panel=_SERVICE
    ),
]
ApiKeyOpt = Annotated[
    str | None,
    typer.Option(
        envvar="SORA_API_KEY",
        show_default=False,
        help="The API key (better: set SORA_API_KEY). Never shown or written anywhere.",
        rich_help_panel=_SERVICE,
    ),
]
SimulateOpt = Annotated[
    bool,
    typer.Option(
        "--simulate",
        help="Run against the embedded simulator: no key, no cost.",
        rich_help_panel=_SERVICE,
    ),
]
TimeScaleOpt = Annotated[
    float,
    typer.Option(
        help="With --simulate: real seconds per simulated second.", rich_help_panel=_SERVICE
    ),
]
PollOpt = Annotated[
    float | None,
    typer.Option(
        help="Shortest gap between two polls of one job, seconds.", rich_help_panel=_SERVICE
    ),
]
MaxPollOpt = Annotated[
    float | None,
    typer.Option(
        help="Longest gap between two polls of one job, seconds.", rich_help_panel=_SERVICE
    ),
]
SimSettingOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--sim-setting",
        metavar="NAME=VALUE",
        show_default=False,
        help="With --simulate: change a simulator setting, e.g. daily-limit=30 or "
        "failure-rate=0.1 (repeatable; docs/cli.md lists them).",
        rich_help_panel=_SERVICE,
    ),
]
InsecureOpt = Annotated[
    bool,
    typer.Option(
        "--allow-insecure",
        help="Allow a plain http:// base URL to another machine (the key travels in clear).",
        rich_help_panel=_SERVICE,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
OverwriteOpt = Annotated[
    bool, typer.Option("--overwrite", help="Replace a file that is already there.")
]

_PARAMS = "Generation parameters"
AspectOpt = Annotated[str | None, typer.Option(help="e.g. 16:9 or 9:16.", rich_help_panel=_PARAMS)]
ModelOpt = Annotated[str | None, typer.Option(help="The model name.", rich_help_panel=_PARAMS)]
DurationOpt = Annotated[
    int | None, typer.Option(help="Seconds (soravideo, openai).", rich_help_panel=_PARAMS)
]
QualityOpt = Annotated[
    str | None, typer.Option(help="standard or high (soravideo pro).", rich_help_panel=_PARAMS)
]


_LIMITS = "Your own limits (kept on top of the provider's)"
RateLimitOpt = Annotated[
    int | None,
    typer.Option(
        help="Requests per --rate-window, submits and polls alike.",
        rich_help_panel=_LIMITS,
        show_default=False,
    ),
]
RateWindowOpt = Annotated[
    float | None,
    typer.Option(
        help="The --rate-limit's rolling window, seconds (default: the provider's).",
        rich_help_panel=_LIMITS,
        show_default=False,
    ),
]
MaxTasksOpt = Annotated[
    int | None,
    typer.Option(help="Unfinished jobs at once.", rich_help_panel=_LIMITS, show_default=False),
]
DailyLimitOpt = Annotated[
    int | None,
    typer.Option(
        help="Submissions a day (UTC); the prompts past it are skipped.",
        rich_help_panel=_LIMITS,
        show_default=False,
    ),
]


SharedStateOpt = Annotated[
    str | None,
    typer.Option(
        envvar="SORA_SHARED_STATE",
        help="Share the limits of one key with every process using it: a redis://, "
        "rediss:// or unix:// URL (extra [redis]). See docs/scaling.md.",
        rich_help_panel=_LIMITS,
        show_default=False,
    ),
]


def _with_limits(
    conn: Connection,
    *,
    rate_limit: int | None,
    rate_window: float | None,
    max_tasks: int | None,
    daily_limit: int | None,
    shared_state: str | None = None,
) -> Connection:
    """``conn`` with the user's own limits and shared state; a bad one is a usage error
    naming its flag."""
    flags = {"rate_limit": "--rate-limit", "rate_window": "--rate-window"}
    flags |= {"concurrent_tasks": "--max-tasks", "daily_limit": "--daily-limit"}
    try:
        limits = Limits(
            rate_limit=rate_limit,
            rate_window=rate_window,
            concurrent_tasks=max_tasks,
            daily_limit=daily_limit,
        )
    except InvalidRequestError as exc:
        flag = flags.get(exc.field or "", "limits")
        raise UsageError(f"{flag}{str(exc).removeprefix(exc.field or '')}") from None
    try:
        check_shared_state(shared_state)
    except InvalidRequestError as exc:
        raise UsageError(f"--shared-state{str(exc).removeprefix('shared_state')}") from None
    return replace(conn, limits=limits, shared_state=shared_state)


def _service_options(
    provider: ProviderOpt = ProviderName.codefast,
    base_url: BaseUrlOpt = None,
    api_key: ApiKeyOpt = None,
    simulate: SimulateOpt = False,
    time_scale: TimeScaleOpt = 0.01,
    poll_interval: PollOpt = None,
    max_poll_interval: MaxPollOpt = None,
    allow_insecure: InsecureOpt = False,
    sim_setting: SimSettingOpt = None,
) -> Connection:
    """The service options every command but ``simulate`` takes."""
    return Connection(
        provider=provider.value,
        base_url=base_url,
        api_key=api_key,
        simulate=simulate,
        time_scale=time_scale,
        poll_interval=poll_interval,
        max_poll_interval=max_poll_interval,
        allow_insecure=allow_insecure,
        sim_settings=tuple(sim_setting or ()),
    )


def _with_service_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command(conn, ...)`` as a typer command that also takes the service options.

    Typer reads a command's options from its signature: the wrapper's signature is the
    command's own arguments, then the shared options, then the command's own options.
    """
    shared_hints = get_type_hints(_service_options, include_extras=True)
    own_hints = get_type_hints(command, include_extras=True)
    shared = [
        parameter.replace(annotation=shared_hints[name])
        for name, parameter in inspect.signature(_service_options).parameters.items()
    ]
    own = [
        parameter.replace(annotation=own_hints[name])
        for name, parameter in inspect.signature(command).parameters.items()
        if name != "conn"
    ]
    arguments = [p for p in own if p.default is inspect.Parameter.empty]
    options = [p for p in own if p.default is not inspect.Parameter.empty]

    @functools.wraps(command)
    def wrapper(**values: Any) -> None:
        service = {parameter.name: values.pop(parameter.name) for parameter in shared}
        command(_service_options(**service), **values)

    wrapper.__signature__ = inspect.Signature([*arguments, *shared, *options])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in (*arguments, *shared, *options)}
    return wrapper


def _params(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


# -- running a command ---------------------------------------------------------------------------


def _run(work: Callable[[], int]) -> None:
    """Run a command's work; map the errors it may meet onto messages and exit codes."""
    try:
        code = work()
    except BaseException as exc:  # an ExceptionGroup from anyio holds the real error
        error = _unwrap(exc)
        mapped = _exit_code(error)
        if mapped is None:
            raise
        code = mapped
        if isinstance(error, KeyboardInterrupt | Interrupted):
            typer.echo("interrupted: run the same command again to go on", err=True)
        else:
            typer.echo(f"error: {_message(error)}", err=True)
    raise typer.Exit(code)


def _unwrap(error: BaseException) -> BaseException:
    # Several tasks may meet one failure at once (the journal's server gone): one message.
    while isinstance(error, BaseExceptionGroup) and len({type(e) for e in error.exceptions}) == 1:
        error = error.exceptions[0]
    return error


def _exit_code(error: BaseException) -> int | None:
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, Interrupted):
        return error.exit_code
    if isinstance(error, UsageError | JournalError | InvalidRequestError | AuthenticationError):
        return EXIT_USAGE
    if isinstance(error, SoraError | OSError):  # OSError: a file the run could not write
        return EXIT_FAILED
    return None


def _message(error: BaseException) -> str:
    if isinstance(error, InvalidRequestError):
        return cli_words(error)
    if isinstance(error, AuthenticationError):
        return f"the API key was refused: {error}"
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return str(error)


def _echo(text: str) -> None:
    typer.echo(text)


def _warn(text: str) -> None:
    typer.echo(f"warning: {text}", err=True)


# -- batch ---------------------------------------------------------------------------------------


@command()
@_with_service_options
def batch(
    conn: Connection,
    prompts: Annotated[
        str,
        typer.Argument(
            metavar="PROMPT_FILE",
            help="A .txt (a prompt a line, # comments), .csv (a prompt column) or .jsonl "
            "file; - reads standard input.",
            show_default=False,
        ),
    ],
    out: Annotated[Path | None, typer.Option(help="Write one JSON line per prompt here.")] = None,
    csv: Annotated[Path | None, typer.Option(help="Write one CSV row per prompt here.")] = None,
    download: Annotated[
        Path | None, typer.Option(help="Save the videos into this folder.", show_default=False)
    ] = None,
    journal: Annotated[
        str | None,
        typer.Option(
            help="The SQLite journal that makes the run resumable (default: next to --out, "
            "else next to the prompt file; with --simulate, next to --out only), or a "
            "postgresql:// URL that several workers share (the postgres extra).",
            show_default=False,
        ),
    ] = None,
    no_journal: Annotated[
        bool,
        typer.Option(
            "--no-journal",
            help="Keep no journal (in memory only): running again submits everything again.",
        ),
    ] = False,
    resubmit_unknown: Annotated[
        bool,
        typer.Option(
            "--resubmit-unknown",
            help="Send again the submits whose outcome is unknown (may spend quota twice).",
        ),
    ] = False,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Run the valid prompts, skip invalid lines.")
    ] = False,
    input_format: Annotated[
        Format | None,
        typer.Option("--format", help="The prompt file's format (default: from its name)."),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Also write the run's HTML gallery here (as sora-async report does).",
            show_default=False,
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, metavar="N", help="Submissions in flight at once.")
    ] = 8,
    downloads: Annotated[int, typer.Option(min=1, metavar="N", help="Downloads at once.")] = 4,
    aspect_ratio: AspectOpt = None,
    model: ModelOpt = None,
    duration: DurationOpt = None,
    quality: QualityOpt = None,
    rate_limit: RateLimitOpt = None,
    rate_window: RateWindowOpt = None,
    max_tasks: MaxTasksOpt = None,
    daily_limit: DailyLimitOpt = None,
    shared_state: SharedStateOpt = None,
) -> None:
    """Generate a video for every prompt of a file; re-run the same command to resume."""
    options = BatchOptions(
        prompts=prompts,
        input_format=input_format.value if input_format else None,
        params=_params(aspect_ratio=aspect_ratio, model=model, duration=duration, quality=quality),
        out=out,
        csv=csv,
        download=download,
        journal=journal_location(journal) if journal is not None else None,
        no_journal=no_journal,
        resubmit_unknown=resubmit_unknown,
        skip_invalid=skip_invalid,
        concurrency=concurrency,
        downloads=downloads,
    )

    def work() -> int:
        limited = _with_limits(
            conn,
            rate_limit=rate_limit,
            rate_window=rate_window,
            max_tasks=max_tasks,
            daily_limit=daily_limit,
            shared_state=shared_state,
        )
        make_display = _display
        if report is not None:
            from ._report import ReportingDisplay, check_report

            check_report(report)

            def make_display(total: int) -> Display:
                return ReportingDisplay(_display(total), report, echo=_echo)

        return run_batch(limited, options, make_display=make_display, warn=_warn).exit_code

    _run(work)


def _display(total: int) -> Display:
    if sys.stdout.isatty():
        return LiveDisplay(Console(), total=total)
    return PlainDisplay(out=_echo, total=total)


# -- one job at a time ---------------------------------------------------------------------------


@command()
@_with_service_options
def generate(
    conn: Connection,
    prompt: Annotated[
        str, typer.Argument(metavar="PROMPT", help="What to generate.", show_default=False)
    ],
    download: Annotated[
        str | None,
        typer.Option(
            help="Save the video into this folder, or as this file (e.g. clip.mp4).",
            show_default=False,
        ),
    ] = None,
    overwrite: OverwriteOpt = False,
    aspect_ratio: AspectOpt = None,
    model: ModelOpt = None,
    duration: DurationOpt = None,
    quality: QualityOpt = None,
) -> None:
    """Generate one video and print its URL."""
    params = _params(aspect_ratio=aspect_ratio, model=model, duration=duration, quality=quality)

    async def go(client: AsyncSoraClient) -> int:
        async with conn.first_contact():
            job = await client.submit(prompt, **params)
        typer.echo(f"submitted job {job.id}: {_job_state(job)}")
        seen = [_job_state(job)]

        def on_update(state: Job) -> None:
            if _job_state(state) != seen[-1]:
                seen.append(_job_state(state))
                typer.echo(f"job {state.id}: {seen[-1]}")

        try:
            job = await client.wait(job, on_update=on_update)
        except JobFailedError as exc:
            typer.echo(f"job {exc.job.id} failed: {exc.job.error or 'no reason given'}")
            return EXIT_FAILED
        typer.echo(f"completed: {job.video_url}")
        if download is not None:
            done = await client._download(job, Path(download), variant="video", overwrite=overwrite)
            typer.echo(f"{done.outcome}: {done.path}")
        return EXIT_OK

    def check() -> None:
        if download is not None:
            check_download(download, option="--download", overwrite=overwrite)

    _run(lambda: _with_client(conn, go, check=check))


def _job_state(job: Job) -> str:
    """A job's status in words (codefast's short final answer keeps the last queue place)."""
    if job.status is JobStatus.QUEUED and job.queue_position:
        total = f"/{job.queue_size}" if job.queue_size else ""
        return f"{job.status.value}, queue place {job.queue_position}{total}"
    if job.progress is not None and not job.is_terminal:
        return f"{job.status.value}, {job.progress:g}%"
    return job.status.value


def _with_client(
    conn: Connection,
    go: Callable[[AsyncSoraClient], Awaitable[int]],
    *,
    check: Callable[[], None] | None = None,
) -> int:
    """Check the options (and ``check``: where files go), then run ``go`` with an open client.

    Returns ``go``'s exit code. ``go`` wraps its first request in ``conn.first_contact()``.
    """
    conn.check()
    if check is not None:
        check()
    if conn.simulate:
        typer.echo(conn.banner, err=True)

    async def run() -> int:
        async with conn.client() as client:
            return await go(client)

    return anyio.run(run)


@command()
@_with_service_options
def status(
    conn: Connection,
    job_id: Annotated[
        str, typer.Argument(metavar="JOB_ID", help="The job's id.", show_default=False)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Show one job's status."""

    async def go(client: AsyncSoraClient) -> int:
        async with conn.first_contact():
            job = await client.get_job(job_id)
        if as_json:
            typer.echo(job.model_dump_json(indent=2, exclude_none=True))
        else:
            for name, value in job.model_dump(exclude_none=True, exclude={"quota"}).items():
                typer.echo(f"{name}: {value}")
        return EXIT_OK

    _run(lambda: _with_client(conn, go))


@command("list")
@_with_service_options
def list_(
    conn: Connection,
    limit: Annotated[int, typer.Option(min=1, metavar="N", help="At most this many videos.")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """List the videos this key made, newest first."""

    async def go(client: AsyncSoraClient) -> int:
        async with conn.first_contact():
            videos = await client.list_videos(limit=limit)
        if as_json:
            typer.echo(json.dumps([video.model_dump(mode="json") for video in videos], indent=2))
            return EXIT_OK
        if not videos:
            typer.echo("no videos")
        for video in videos:
            created = video.created_at.isoformat() if video.created_at else "-"
            state = video.status.value if video.status else "-"
            typer.echo(f"{video.id}  {created}  {state}  {video.video_url or '-'}")
        return EXIT_OK

    _run(lambda: _with_client(conn, go))


@command()
@_with_service_options
def quota(
    conn: Connection,
    as_json: JsonOpt = False,
) -> None:
    """Show what is left of this key's quota."""

    async def go(client: AsyncSoraClient) -> int:
        async with conn.first_contact():
            if client.provider.quota_request() is not None:
                known = await client.get_quota()
            else:
                # No quota call (openai): the quota rides on the list answer's headers.
                await client.list_videos(limit=1)
                known = client.quota
        if as_json:
            typer.echo(known.model_dump_json(indent=2, exclude_none=True))
        else:
            typer.echo(quota_text(known) or "the provider reports no quota")
            if known.daily_reset is not None:
                typer.echo(f"resets {known.daily_reset.isoformat()}")
        return EXIT_OK

    _run(lambda: _with_client(conn, go))


@command("download")
@_with_service_options
def download_(
    conn: Connection,
    job_id: Annotated[
        str, typer.Argument(metavar="JOB_ID", help="The finished job's id.", show_default=False)
    ],
    dest: Annotated[str, typer.Option(help="A folder, or a file path (e.g. clip.mp4).")] = ".",
    variant: Annotated[Variant, typer.Option(help="Which file.")] = Variant.video,
    overwrite: OverwriteOpt = False,
) -> None:
    """Save a finished job's video (streamed; replaces a file only with --overwrite)."""

    async def go(client: AsyncSoraClient) -> int:
        # An earlier download of this job is kept with no request at all (not even its status).
        done = existing(plan_target(dest, job_id, variant.value), overwrite=overwrite)
        if done is None:
            async with conn.first_contact():
                job = await client.get_job(job_id)
            with _activity(f"downloading {job_id}"):
                done = await client._download(
                    job, Path(dest), variant=variant.value, overwrite=overwrite
                )
        typer.echo(f"{done.outcome}: {done.path} ({done.path.stat().st_size} bytes)")
        return EXIT_OK

    def check() -> None:
        check_download(dest, option="--dest", overwrite=overwrite)

    _run(lambda: _with_client(conn, go, check=check))


def _activity(text: str) -> AbstractContextManager[Any]:
    """A spinner on a terminal; nothing elsewhere."""
    return Console().status(text) if sys.stdout.isatty() else nullcontext()


# -- the results gallery -------------------------------------------------------------------------


@command()
def report(
    results: Annotated[
        Path,
        typer.Argument(
            metavar="RESULTS_FILE",
            help="A results file written by batch --out.",
            show_default=False,
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="The HTML page to write (default: the results file's name, .html).",
            show_default=False,
        ),
    ] = None,
    title: Annotated[str, typer.Option(help="The page's title.")] = "Videos",
    overwrite: OverwriteOpt = False,
) -> None:
    """Make one self-contained HTML page of a run: a card per prompt, its video, the totals."""
    from ._report import read_results, write_report

    def work() -> int:
        cards, totals = read_results(results)
        page = out if out is not None else results.with_suffix(".html")
        written = write_report(page, cards, totals, title=title, overwrite=overwrite)
        typer.echo(f"report: {written} ({counted(len(cards), 'prompt')})")
        return EXIT_OK

    _run(work)


# -- the simulator -------------------------------------------------------------------------------


@command(
    "simulate",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def simulate_(ctx: typer.Context) -> None:
    """Serve the simulator on 127.0.0.1 for other programs (see simulate --help)."""
    from ..simulator.__main__ import main as serve

    serve(ctx.args, prog="sora-async simulate")
