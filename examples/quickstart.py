"""Generate three videos on the embedded simulator and print their URLs.

Run: python examples/quickstart.py   (no API key or network needed)
"""

import anyio

from sora_async import AsyncSoraClient

PROMPTS = [
    "A paper boat sailing down a rainy street, cinematic",
    "A red fox walking through fresh snow at dawn",
    "Time-lapse of clouds rolling over a mountain ridge",
]


async def main() -> None:
    async with AsyncSoraClient.simulated(provider="codefast", time_scale=0.01) as client:
        result = await client.generate_batch(PROMPTS)
        for index, url in sorted(result.urls.items()):
            print(f"{index}: {url}")
        print(result.summary())


if __name__ == "__main__":
    anyio.run(main)
