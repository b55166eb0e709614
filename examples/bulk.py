"""Generate a video for every prompt of a list, with a live progress bar (rich).

    python examples/bulk.py --simulate                          # built-in prompts, simulator
    SORA_SIMULATE=1 python examples/bulk.py prompts.txt --out results.jsonl
    SORA_API_KEY=... python examples/bulk.py examples/prompts.txt  # read as the CLI reads it

A prompt that fails, or that the day's quota cannot cover, is reported, never raised.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from pathlib import Path

import anyio
from _shared import add_client_options, make_client, provider_of
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sora_async import BatchProgress, GenerationRequest, InvalidRequestError
from sora_async.cli import read_prompt_file

Prompt = str | GenerationRequest

PROMPTS = [
    "A paper boat sailing down a rainy street, cinematic",
    "A red fox walking through fresh snow at dawn",
    "Time-lapse of clouds rolling over a mountain ridge",
    "A lighthouse beam sweeping across a stormy sea",
    "Close-up of coffee being poured in slow motion",
    "A hummingbird hovering over a red flower",
    "Neon signs reflected in puddles at night",
    "A sailboat gliding past a glacier",
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Generate many videos.")
    parser.add_argument(
        "prompts",
        nargs="?",
        type=Path,
        help="a .txt (a prompt a line, # comments), .csv (a prompt column) or .jsonl file",
    )
    parser.add_argument("--out", type=Path, help="write one JSON line per prompt here")
    return add_client_options(parser).parse_args()


def read_prompts(path: Path | None, provider: str) -> tuple[Iterable[Prompt], int]:
    """The prompts of ``path`` exactly as ``sora-async batch`` reads them (or the list
    above), and how many there are.

    It is the command line's own reader: comments and blank lines are skipped, a CSV's
    columns and a JSONL's keys become parameters, and the whole file is checked by the
    provider before anything is sent. Then it is read again, lazily, for the run.
    """
    if path is None:
        return PROMPTS, len(PROMPTS)
    try:
        prompts = read_prompt_file(path, provider=provider)
    except InvalidRequestError as exc:
        raise SystemExit(f"error: {exc}") from None
    return prompts, len(prompts)


async def main(args: argparse.Namespace) -> None:
    console = Console()
    prompts, total = read_prompts(args.prompts, provider_of(args))
    with Progress(
        TextColumn("[bold]videos"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("starting", total=total)

        def on_progress(progress: BatchProgress) -> None:
            # Called on every change, from the client's own task: it must not block.
            positions = progress.queue_positions
            waiting = f" (next at {positions[0]})" if positions else ""
            bar.update(
                task,
                completed=progress.finished,
                total=total,
                description=(
                    f"{progress.queued} queued{waiting}, {progress.processing} running, "
                    f"{progress.failed + progress.errors} failed, {progress.skipped} skipped"
                ),
            )

        async with make_client(args) as client:
            result = await client.generate_batch(prompts, on_progress=on_progress)
    for item in result.items:
        console.print(f"{item.index:>3} {item.status:<9} {item.video_url or item.error}")
    console.print(result.summary())
    if args.out:
        console.print(f"wrote {result.to_jsonl(args.out)}")


if __name__ == "__main__":
    anyio.run(main, parse_args())
