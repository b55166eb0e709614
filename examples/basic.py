"""Generate one video, printing its place in the queue as it moves, then its URL.

python examples/basic.py --simulate                # the embedded simulator: no key, no network
SORA_SIMULATE=1 python examples/basic.py           # the same
SORA_API_KEY=... python examples/basic.py "a red fox in fresh snow" --provider codefast
"""

from __future__ import annotations

import argparse

import anyio
from _shared import add_client_options, make_client

from sora_async import Job, JobFailedError


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Generate one video.")
    parser.add_argument("prompt", nargs="?", default="A paper boat sailing down a rainy street")
    return add_client_options(parser).parse_args()


def show(job: Job) -> None:
    """Called with the submitted job and on every change the scheduler sees."""
    if job.queue_position:
        print(f"{job.status}: position {job.queue_position} of {job.queue_size or '?'} in queue")
    elif job.progress is not None and not job.is_terminal:
        print(f"{job.status}: {job.progress:.0f}%")
    else:
        print(job.status)


async def main(args: argparse.Namespace) -> int:
    async with make_client(args) as client:
        job = await client.submit(args.prompt)
        show(job)
        try:
            job = await client.wait(job, timeout=900, on_update=show)
        except JobFailedError as exc:
            print(f"failed: {exc.job.error}")
            return 1
    print(job.video_url)
    return 0


if __name__ == "__main__":
    raise SystemExit(anyio.run(main, parse_args()))
