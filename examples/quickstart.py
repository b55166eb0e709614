"""Three videos on the embedded simulator (no key, no network): python examples/quickstart.py"""

import anyio

from sora_async import AsyncSoraClient

PROMPTS = ["a paper boat on a rainy street", "a red fox in fresh snow", "clouds over a ridge"]


async def main() -> None:
    async with AsyncSoraClient.simulated() as client:
        result = await client.generate_batch(PROMPTS)
    for index, url in sorted(result.urls.items()):
        print(index, url)
    print(result.summary())


anyio.run(main)
