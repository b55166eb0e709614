"""One process of the two-process test: a batch of prompts on a shared key; prints a JSON
line with its counts. Usage: batch_worker.py SIM_URL REDIS_URL NAME COUNT"""

from __future__ import annotations

import json
import sys

import anyio

from sora_async import AsyncSoraClient

#: The simulator's time scale (the test starts it so): jobs of 0.15 to 0.45 s.
SCALE = 0.005


async def main(sim_url: str, shared_state: str, name: str, count: int) -> None:
    client = AsyncSoraClient(
        provider="codefast",
        base_url=sim_url,
        api_key="sk-one-shared-key",
        shared_state=shared_state,
        poll_interval=3.0 * SCALE,
        max_poll_interval=30.0 * SCALE,
    )
    client.scale_time(SCALE)
    async with client:
        result = await client.generate_batch([f"{name} prompt {i}" for i in range(count)])
    line = {"completed": len(result.completed), "skipped": len(result.skipped)}
    line |= {"failed": len(result.failed), "errors": len(result.errors)}
    print(json.dumps(line), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
