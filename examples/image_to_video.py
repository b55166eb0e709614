"""Bring a still image to life: image-to-video, with the image inline or uploaded first.

    python examples/image_to_video.py --simulate        # every way, on the embedded simulator
    python examples/image_to_video.py --simulate --provider soravideo   # one provider
    SORA_API_KEY=... python examples/image_to_video.py photo.png --provider soravideo

codefast takes the image inline (a base64 data URL inside the request); soravideo takes an
https URL, so the client uploads the image first; openai takes the file itself, as a part of
the create request. Given a path or bytes, the client picks the way the provider needs.
Without an image argument this draws a small PNG (a colour gradient) in a temporary directory.
"""

from __future__ import annotations

import argparse
import struct
import tempfile
import zlib
from pathlib import Path

import anyio
from _shared import PROVIDERS, add_client_options, make_client

from sora_async import AsyncSoraClient

PROMPT = "Make this image come to life: slow camera push-in, soft light"


def png(width: int = 64, height: int = 36) -> bytes:
    """A valid RGB PNG of a colour gradient, built with zlib and struct only."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"  # filter type 0 (None) before every scanline
        + b"".join(bytes((x * 255 // width, y * 255 // height, 160)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Generate a video from an image.")
    parser.add_argument("image", nargs="?", type=Path, help="a JPEG, PNG or WebP file")
    return add_client_options(parser).parse_args()


async def from_image(client: AsyncSoraClient, image: Path) -> str | None:
    """One video from ``image``, whichever way the provider takes images."""
    name = client.provider.name
    if client.provider.image_transport == "url":
        # soravideo: the client uploads the file (POST /upload), then generates from the
        # URL the upload answered with. (await client.upload_image(image) does that step alone.)
        print(f"[{name}] uploading {image.name}, then generating from its URL")
    elif client.provider.image_transport == "file":
        # openai: the create request is a multipart form with the file as input_reference.
        print(f"[{name}] sending {image.name} as a file with the request")
    else:
        # codefast: the image travels inside the request, as a base64 data URL.
        print(f"[{name}] sending {image.name} inline")
    job = await client.generate(PROMPT, image=image)
    if client.simulator is not None:
        uploads = client.simulator.counters.requests.get("upload", 0)
        print(f"[{name}] the simulator saw {uploads} upload(s)")
    print(f"[{name}] {job.status}: {job.video_url}")
    return job.video_url


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        image = args.image
        if image is None:
            image = Path(tmp) / "gradient.png"
            image.write_bytes(png())
        # The provider asked for; on the simulator with none asked for, every way images
        # travel; on a real service, codefast by default.
        if args.provider is not None:
            providers: tuple[str, ...] = (args.provider,)
        else:
            providers = PROVIDERS if args.simulate else ("codefast",)
        for provider in providers:
            async with make_client(args, provider) as client:
                await from_image(client, image)


if __name__ == "__main__":
    anyio.run(main, parse_args())
