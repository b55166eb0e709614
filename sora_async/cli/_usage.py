"""Usage errors as one line, like every other error of the command line.

Click (vendored by typer) shows a bad option as the usage line, a hint and the error on
three lines (in a boxed panel with rich): the group below turns each into
``error: <what>; see 'sora-async batch --help'`` and exit status 2.
"""

from __future__ import annotations

from typing import IO, Any

import typer
from typer.core import TyperCommand, TyperGroup

try:  # typer >= 0.20 vendors click
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - an older typer on click itself
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[assignment]

__all__ = ["OneLineUsageGroup", "PlainUsageCommand"]


class _OneLineUsageError(UsageError):
    def show(self, file: IO[Any] | None = None) -> None:
        typer.echo(f"error: {self.message}", err=True)


def _one_line(error: UsageError) -> UsageError:
    if isinstance(error, _OneLineUsageError | NoArgsIsHelpError):
        return error  # NoArgsIsHelpError shows the help, as asked for
    text = error.format_message().rstrip(".")
    if error.ctx is not None:
        text += f"; see '{error.ctx.command_path} --help'"
    return _OneLineUsageError(text, ctx=error.ctx)


class PlainUsageCommand(TyperCommand):
    """A command whose usage line names its arguments as they are documented: ``PROMPT_FILE``
    (typer writes a required one as ``{PROMPT_FILE}``, which reads as a literal brace)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces: list[str] = super().collect_usage_pieces(ctx)
        return [
            piece[1:-1] if piece.startswith("{") and piece.endswith("}") else piece
            for piece in pieces
        ]


class OneLineUsageGroup(TyperGroup):
    """The ``sora-async`` group: a usage error of any command is one line on stderr."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except UsageError as exc:
            raise _one_line(exc) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            raise _one_line(exc) from None
