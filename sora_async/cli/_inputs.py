"""Prompt files, read lazily: ``.txt`` (a prompt a line), ``.csv`` and ``.jsonl``.

Standard input is first copied to a temporary file, so every source can be checked whole
before anything is spent (a bad line 900 must not stop a batch after 899 submits) and then
streamed again for the run; no source is ever held in memory.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from .._errors import InvalidRequestError
from .._models import GenerationRequest
from .._requests import make_request
from ._common import UsageError, reading

__all__ = [
    "CheckedPrompts",
    "Entry",
    "InputFormat",
    "PromptFile",
    "detect_format",
    "open_prompts",
    "read_prompt_file",
]

InputFormat = Literal["txt", "csv", "jsonl"]
Validate = Callable[[GenerationRequest], None]

_SUFFIXES: dict[str, InputFormat] = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_COLUMNS = tuple(GenerationRequest.model_fields)  # prompt and every parameter
_ERRORS_SHOWN = 10


@dataclass(frozen=True)
class Entry:
    """One prompt of a file: its line, and either the request or what is wrong with it."""

    line: int
    request: GenerationRequest | None = None
    problem: str | None = None


class PromptFile:
    """The prompts of one file, each merged with the command line's parameters and checked.

    A column or key of the file wins over the flag for its row; the flags fill what a row
    leaves out. ``validate`` is the provider's check, so a prompt it would refuse is found
    before the run.
    """

    def __init__(
        self,
        path: Path,
        fmt: InputFormat,
        *,
        name: str,
        params: Mapping[str, Any],
        validate: Validate,
    ) -> None:
        self.path = path
        self.format = fmt
        self.name = name
        self._params = dict(params)
        self._validate = validate

    def entries(self) -> Iterator[Entry]:
        """Every prompt of the file, in order, read as it is consumed."""
        readers = {"txt": self._txt, "csv": self._csv, "jsonl": self._jsonl}
        with (
            reading(self.name, kind="prompt file"),
            self.path.open(encoding="utf-8-sig", newline="") as file,
        ):
            yield from readers[self.format](file)

    def requests(self) -> Iterator[GenerationRequest]:
        """The valid prompts, lazily (what the batch reads)."""
        for entry in self.entries():
            if entry.request is not None:
                yield entry.request

    def check(self, *, skip_invalid: bool, warn: Callable[[str], None]) -> int:
        """Read the whole file once; returns how many prompts will run.

        An invalid prompt is a :class:`UsageError` naming its line, unless ``skip_invalid``:
        then each one is reported through ``warn`` and left out.
        """
        count = 0
        problems = 0
        for entry in self.entries():
            if entry.request is not None:
                count += 1
                continue
            problems += 1
            text = f"{self.name}: line {entry.line}: {entry.problem}"
            if not skip_invalid:
                raise UsageError(f"{text}\n(--skip-invalid runs the other prompts without it)")
            if problems <= _ERRORS_SHOWN:
                warn(f"{text}: skipped")
        if problems > _ERRORS_SHOWN:
            warn(f"{self.name}: {problems - _ERRORS_SHOWN} more invalid lines skipped")
        if count == 0:
            raise UsageError(f"{self.name}: holds no prompts")
        return count

    # -- the formats ------------------------------------------------------------------------------

    def _txt(self, file: IO[str]) -> Iterator[Entry]:
        for number, line in enumerate(file, start=1):
            text = line.strip()
            if text and not text.startswith("#"):
                yield self._entry(number, {"prompt": text})

    def _csv(self, file: IO[str]) -> Iterator[Entry]:
        reader = csv.DictReader(file)
        try:
            header = reader.fieldnames
            if not header:
                raise UsageError(f"{self.name}: is empty (expected a header with 'prompt')")
            reader.fieldnames = columns = [name.strip().lower() for name in header]
            if "prompt" not in columns:
                raise UsageError(
                    f"{self.name}: no 'prompt' column (the header is: {', '.join(columns)})"
                )
            unknown = [name for name in columns if name not in _COLUMNS]
            if unknown:
                raise UsageError(
                    f"{self.name}: unknown column {', '.join(map(repr, unknown))} "
                    f"(known: {', '.join(_COLUMNS)})"
                )
            for row in reader:
                if None in row:
                    yield Entry(reader.line_num, problem="more cells than the header has columns")
                    continue
                values = {key: value.strip() for key, value in row.items() if value}
                yield self._entry(reader.line_num, {k: v for k, v in values.items() if v})
        except csv.Error as exc:
            raise UsageError(f"{self.name}: line {reader.line_num}: {exc}") from None

    def _jsonl(self, file: IO[str]) -> Iterator[Entry]:
        for number, line in enumerate(file, start=1):
            text = line.strip()
            if not text:
                continue
            try:
                values = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Entry(number, problem=f"not valid JSON ({exc.msg}, column {exc.colno})")
                continue
            if not isinstance(values, dict):
                yield Entry(number, problem=f"must be a JSON object, not {type(values).__name__}")
                continue
            yield self._entry(number, {k: v for k, v in values.items() if v is not None})

    def _entry(self, line: int, values: dict[str, Any]) -> Entry:
        merged = {**self._params, **values}
        prompt = merged.pop("prompt", None)
        if prompt is None:
            return Entry(line, problem="has no prompt")
        try:
            request = make_request(prompt, merged)
            self._validate(request)
        except InvalidRequestError as exc:
            return Entry(line, problem=str(exc))
        return Entry(line, request=request)


def open_prompts(source: str, stack: ExitStack) -> tuple[Path, str]:
    """The file to read ``source`` from (``-`` is standard input), and its display name.

    Standard input is copied to a temporary file that ``stack`` removes.
    """
    if source != "-":
        return Path(source), source
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sora-async-")))
    spool = folder / "stdin"
    with spool.open("w", encoding="utf-8") as file:
        shutil.copyfileobj(sys.stdin, file)
    return spool, "standard input"


def detect_format(source: str, fmt: InputFormat | None) -> InputFormat:
    """The format asked for, else the one the file name says (plain text by default)."""
    if fmt is not None:
        return fmt
    return _SUFFIXES.get(Path(source).suffix.lower(), "txt")


@dataclass(frozen=True)
class CheckedPrompts:
    """A prompt file checked whole: ``len()`` is how many prompts run; iterating reads the
    file again, lazily, for their requests (a large file is never held in memory)."""

    source: PromptFile
    total: int

    def __len__(self) -> int:
        return self.total

    def __iter__(self) -> Iterator[GenerationRequest]:
        return self.source.requests()


def read_prompt_file(
    path: str | os.PathLike[str],
    *,
    provider: str = "codefast",
    params: Mapping[str, Any] | None = None,
    skip_invalid: bool = False,
    warn: Callable[[str], None] = lambda text: None,
) -> CheckedPrompts:
    """The prompts of a ``.txt``, ``.csv`` or ``.jsonl`` file, read as ``sora-async batch``
    reads them, and checked whole by ``provider`` before anything is sent.

    Comments and blank lines are skipped; a CSV's columns and a JSONL's keys are parameters
    and win over ``params``. A bad line is an :class:`InvalidRequestError` naming it, unless
    ``skip_invalid`` (each is then told to ``warn`` and left out).

    >>> prompts = read_prompt_file("examples/prompts.txt")  # doctest: +SKIP
    >>> len(prompts), next(iter(prompts)).prompt  # doctest: +SKIP
    (8, 'A paper boat sailing down a rainy street at dusk, cinematic')
    """
    from ..providers import get_provider

    name = os.fspath(path)
    try:
        source = PromptFile(
            Path(name),
            detect_format(name, None),
            name=name,
            params=params or {},
            validate=get_provider(provider).validate,
        )
        total = source.check(skip_invalid=skip_invalid, warn=warn)
    except UsageError as exc:
        message = str(exc).partition("\n(--skip-invalid")[0]
        raise InvalidRequestError(message, field="prompts") from None
    return CheckedPrompts(source, total)
