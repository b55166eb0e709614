"""Generate a video for every prompt of a list, with a live progress bar (rich).

    python examples/bulk.py --simulate                          # built-in prompts, simulator
    SORA_SIMULATE=1 python examples/bulk.py prompts.txt --out results.jsonl
    SORA_API_KEY=... python examples/bulk.py prompts.txt        # one prompt a line

A prompt that fails, or that the day's quota cannot cover, is reported, never raised.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import anyio
from _shared import add_client_options, make_client
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sora_async import BatchProgress

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
    parser.add_argument("prompts", nargs="?", type=Path, help="a text file, one prompt a line")
    parser.add_argument("--out", type=Path, help="write one JSON line per prompt here")
    return add_client_options(parser).parse_args()


def read_prompts(path: Path | None) -> Iterator[str]:
    """The prompts, read lazily (a long file is never held in memory)."""
    if path is None:
        yield from PROMPTS
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield line.strip()


async def main(args: argparse.Namespace) -> None:
    console = Console()
    total = None if args.prompts else len(PROMPTS)
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
                total=progress.read if progress.source_done else total,
                description=(
                    f"{progress.queued} queued{waiting}, {progress.processing} running, "
                    f"{progress.failed + progress.errors} failed, {progress.skipped} skipped"
                ),
            )

        async with make_client(args) as client:
            result = await client.generate_batch(
                read_prompts(args.prompts), on_progress=on_progress
            )
    for item in result.items:
        console.print(f"{item.index:>3} {item.status:<9} {item.video_url or item.error}")
    console.print(result.summary())
    if args.out:
        console.print(f"wrote {result.to_jsonl(args.out)}")


if __name__ == "__main__":
    anyio.run(main, parse_args())
