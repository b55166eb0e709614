"""``python -m sora_async.cli``: the same as ``sora-async``."""

from . import main

main()
