"""The results gallery: one self-contained HTML page with a card per prompt of a run.

The page needs nothing but itself: the CSS is inline, there is no script, no font or CDN,
and a Content-Security-Policy forbids scripts outright. Every value is the user's or a
server's text, so everything is escaped; only ``http(s)`` URLs and files next to the page
ever become a ``src`` or ``href``. A video is the downloaded file where there is one
(linked relative to the page, so the folder can be moved or shared whole), else its URL.

From the command line, ``sora-async report results.jsonl -o report.html`` reads a
results file. Its lines are the batch's records; a line may also carry the optional
fields ``thumbnail_url``, ``model``, ``created_at``, ``started_at`` and ``completed_at``,
and one optional line ``{"summary": {...}}`` the run's totals (:meth:`RunTotals.record`).
A batch that has its items and summary at hand calls :func:`write_report` itself.
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .._batch import BatchProgress
from .._models import BatchItem
from ._common import UsageError, counted, reading
from ._display import Display, Summary, quota_text
from ._paths import check_folder

__all__ = [
    "Card",
    "ReportingDisplay",
    "RunTotals",
    "check_report",
    "read_results",
    "render_report",
    "write_report",
]

#: Marks a page this command wrote: it may be replaced without ``--overwrite``.
GENERATOR = "sora-async report"
_STATUSES = ("completed", "failed", "skipped", "error")


@dataclass(frozen=True)
class Card:
    """One prompt of a run, as the page shows it."""

    index: int | None
    prompt: str
    status: str
    job_id: str | None = None
    video_url: str | None = None
    path: Path | None = None
    thumbnail_url: str | None = None
    model: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None

    @classmethod
    def from_item(cls, item: BatchItem, *, path: Path | None = None) -> Card:
        """A batch's item (with the file ``path`` it was downloaded to, if any)."""
        job = item.job
        return cls(
            index=item.index,
            prompt=item.request.prompt,
            status=item.status,
            job_id=item.job_id,
            video_url=item.video_url,
            path=path,
            thumbnail_url=job.thumbnail_url if job else None,
            model=job.model if job else None,
            error=item.error,
            created_at=job.created_at if job else None,
            started_at=job.started_at if job else None,
            completed_at=job.completed_at if job else None,
        )

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Card:
        """A line of ``results.jsonl``; a missing or malformed field is left out."""
        path = _text(record.get("path"))
        return cls(
            index=_whole(record.get("index")),
            prompt=_text(record.get("prompt")) or "",
            status=_text(record.get("status")) or "unknown",
            job_id=_text(record.get("job_id")),
            video_url=_text(record.get("video_url")),
            path=Path(path) if path else None,
            thumbnail_url=_text(record.get("thumbnail_url")),
            model=_text(record.get("model")),
            error=_text(record.get("error")),
            created_at=_moment(record.get("created_at")),
            started_at=_moment(record.get("started_at")),
            completed_at=_moment(record.get("completed_at")),
        )


@dataclass(frozen=True)
class RunTotals:
    """The run's totals; ``requests_sent`` and ``quota`` are ``None`` when not recorded."""

    completed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0
    requests_sent: int | None = None
    quota: str | None = None
    downloaded: int | None = None

    @classmethod
    def from_summary(cls, summary: Summary) -> RunTotals:
        """What ``sora-async batch`` knows at its end."""
        counts = summary.counts
        return cls(
            completed=counts["completed"],
            failed=counts["failed"],
            skipped=counts["skipped"],
            errors=counts["error"],
            requests_sent=summary.requests_sent,
            quota=quota_text(summary.quota),
            downloaded=summary.downloaded,
        )

    @classmethod
    def counted(cls, cards: Iterable[Card]) -> RunTotals:
        """The counts the cards show, for a results file with no summary line."""
        counts = Counter(card.status for card in cards)
        return cls(
            completed=counts["completed"],
            failed=counts["failed"],
            skipped=counts["skipped"],
            errors=counts["error"],
        )

    def record(self) -> dict[str, Any]:
        """The optional summary line of ``results.jsonl`` (``{"summary": {...}}``)."""
        return {"summary": asdict(self)}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> RunTotals:
        known = {field.name for field in fields(cls)}
        values = {k: v for k, v in record.items() if k in known}
        return cls(
            **{k: _whole(v) or 0 for k, v in values.items() if k in _COUNTS},
            requests_sent=_whole(values.get("requests_sent")),
            quota=_text(values.get("quota")),
            downloaded=_whole(values.get("downloaded")),
        )


_COUNTS = ("completed", "failed", "skipped", "errors")


# -- reading a results file ---------------------------------------------------------------------


def read_results(path: Path) -> tuple[list[Card], RunTotals | None]:
    """The cards of a ``results.jsonl`` in prompt order, and its summary line, if any."""
    cards: list[Card] = []
    totals: RunTotals | None = None
    with reading(str(path), kind="results file"), path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            record = _record(path, number, line)
            if record is None:
                continue
            summary = record.get("summary")
            if isinstance(summary, dict):
                totals = RunTotals.from_record(summary)
            else:
                cards.append(_found(Card.from_record(record), path.parent))
    if not cards:
        raise UsageError(f"{path}: holds no results")
    cards.sort(key=lambda card: (card.index is None, card.index or 0))
    return cards, totals


def _found(card: Card, folder: Path) -> Card:
    """A relative ``path`` is the batch's, from where it ran: here, or next to the results."""
    path = card.path
    if path is None or path.is_absolute() or path.exists() or not (folder / path).exists():
        return card
    return replace(card, path=folder / path)


def _record(path: Path, number: int, line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text:
        return None
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: line {number}: not valid JSON ({exc.msg})") from None
    if not isinstance(record, dict):
        raise UsageError(f"{path}: line {number}: must be a JSON object")
    return record


# -- writing the page ---------------------------------------------------------------------------


def write_report(
    out: Path,
    cards: Iterable[Card],
    totals: RunTotals | None = None,
    *,
    title: str = "Videos",
    overwrite: bool = False,
) -> Path:
    """Write the page to ``out`` whole (a temporary file renamed into place); returns it.

    ``totals`` default to the cards' own counts. A file already at ``out`` is replaced only
    when this function wrote it (an earlier report) or with ``overwrite=True``.

    >>> write_report(Path("report.html"), [Card(0, "a fox", "completed")])  # doctest: +SKIP
    PosixPath('report.html')
    """
    shown = list(cards)
    if out.exists() and not overwrite and not _is_report(out):
        raise UsageError(f"{out}: a file is already there (--overwrite replaces it)")
    page = render_report(
        shown, totals or RunTotals.counted(shown), base=out.resolve().parent, title=title
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=out.parent, prefix=f".{out.name}.", delete=False
    ) as file:
        file.write(page)
    Path(file.name).replace(out)
    return out


def check_report(out: Path) -> None:
    """Refuse, before a run, a ``--report`` page that could not be written at its end.

    An earlier report is replaced; any other file is the user's and stays.
    """
    if out.is_dir():
        raise UsageError(f"--report {out}: is a folder, not a file")
    if out.exists() and not _is_report(out):
        raise UsageError(
            f"--report {out}: a file that is not a report is already there; "
            "choose another path or move it"
        )
    check_folder(out.parent, option="--report", given=str(out))


class ReportingDisplay:
    """A batch's display that also keeps a card per result, and writes the page at the end.

    It wraps the display the run would have had: ``sora-async batch --report PAGE``.
    """

    def __init__(
        self,
        inner: Display,
        out: Path,
        *,
        echo: Callable[[str], None],
        title: str = "Videos",
        overwrite: bool = False,
    ) -> None:
        self._inner = inner
        self._out = out
        self._echo = echo
        self._title = title
        self._overwrite = overwrite
        self._cards: list[Card] = []

    def start(self, banner: str) -> None:
        self._inner.start(banner)

    def progress(self, snapshot: BatchProgress) -> None:
        self._inner.progress(snapshot)

    def result(self, record: dict[str, Any]) -> None:
        self._cards.append(Card.from_record(record))
        self._inner.result(record)

    def download_started(self) -> None:
        self._inner.download_started()

    def download_done(self) -> None:
        self._inner.download_done()

    def stop(self) -> None:
        self._inner.stop()

    def summary(self, summary: Summary) -> None:
        self._inner.summary(summary)
        cards = sorted(self._cards, key=lambda card: (card.index is None, card.index or 0))
        written = write_report(
            self._out,
            cards,
            RunTotals.from_summary(summary),
            title=self._title,
            overwrite=self._overwrite,
        )
        self._echo(f"report: {written} ({counted(len(cards), 'prompt')})")


def _is_report(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as file:
            head = file.read(2048)
    except OSError:
        return False
    return f'<meta name="generator" content="{GENERATOR}">' in head


def render_report(
    cards: list[Card], totals: RunTotals, *, base: Path, title: str = "Videos"
) -> str:
    """The page. Files are linked relative to ``base``, the folder the page is in."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = [
        f"<header><h1>{_e(title)}</h1>"
        f"<p class=made>{counted(len(cards), 'prompt')} · made {made}</p>",
        _totals(totals),
        "</header>",
        _errors(cards),
        '<main class="cards">',
        *(_card(card, base) for card in cards),
        "</main>",
    ]
    return _PAGE.format(title=_e(title), generator=GENERATOR, style=_STYLE, body="\n".join(body))


def _totals(totals: RunTotals) -> str:
    rows = [
        ("completed", str(totals.completed)),
        ("failed", str(totals.failed)),
        ("skipped", str(totals.skipped)),
        ("errors", str(totals.errors)),
        ("requests", _or_unknown(totals.requests_sent)),
        ("quota", totals.quota or _UNKNOWN),
    ]
    if totals.downloaded is not None:
        rows.append(("downloaded", str(totals.downloaded)))
    items = "".join(
        f'<div class="total {_e(name)}"><dt>{_e(name)}</dt>'
        f"<dd{' class=unknown' if value == _UNKNOWN else ''}>{_e(value)}</dd></div>"
        for name, value in rows
    )
    return f'<dl class="totals">{items}</dl>'


_UNKNOWN = "not recorded"


def _or_unknown(value: int | None) -> str:
    return _UNKNOWN if value is None else str(value)


def _errors(cards: list[Card]) -> str:
    """Every reason a prompt did not complete, once, with the prompts it hit."""
    reasons: defaultdict[tuple[str, str], list[Card]] = defaultdict(list)
    for card in cards:
        if card.status != "completed" and card.error:
            reasons[(card.status, card.error)].append(card)
    if not reasons:
        return ""
    rows = []
    for (status, reason), hit in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
        which = ", ".join(f"#{card.index}" if card.index is not None else "?" for card in hit)
        rows.append(
            f'<li><span class="badge {_status_class(status)}">{_e(status)}</span> '
            f"<b>{len(hit)} &times;</b> <span class=reason>{_e(reason)}</span>"
            f' <span class="which">{_e(which)}</span></li>'
        )
    return (
        '<section class="reasons"><h2>Why prompts did not complete</h2>'
        f"<ul>{''.join(rows)}</ul></section>"
    )


def _card(card: Card, base: Path) -> str:
    index = "" if card.index is None else str(card.index)
    media = _media(card, base)
    facts = [("job", card.job_id), ("model", card.model), *_timings(card)]
    facts_html = "".join(
        f"<dt>{_e(name)}</dt><dd>{_e(value)}</dd>" for name, value in facts if value
    )
    error = f'<p class="error">{_e(card.error)}</p>' if card.error else ""
    return (
        f'<article class="card {_status_class(card.status)}" data-index="{_e(index)}">'
        f"{media}<div class=body>"
        f'<p class=head><span class="index">#{_e(index or "?")}</span> '
        f'<span class="badge {_status_class(card.status)}">{_e(card.status)}</span></p>'
        f'<p class="prompt">{_e(card.prompt)}</p>'
        f"<dl class=facts>{facts_html}</dl>{_links(card, base)}{error}</div></article>"
    )


def _media(card: Card, base: Path) -> str:
    """The video (the local file, else its URL), its thumbnail as the poster; else a note."""
    poster = _http(card.thumbnail_url)
    local = _local(card.path, base)
    source = local or _http(card.video_url)
    if source is None:
        if poster is not None:
            return f'<div class="media"><img src="{_e(poster)}" alt="thumbnail"></div>'
        return '<div class="media none"><span>no video</span></div>'
    poster_attr = f' poster="{_e(poster)}"' if poster else ""
    return (
        f'<div class="media"><video controls preload="none"{poster_attr} '
        f'src="{_e(source)}"></video></div>'
    )


def _links(card: Card, base: Path) -> str:
    """Links to the video: the downloaded file and the URL, whichever there are."""
    links = [
        f'<a href="{_e(url)}">{label}</a>'
        for url, label in ((_local(card.path, base), "file"), (_http(card.video_url), "URL"))
        if url is not None
    ]
    return f'<p class="links">video: {" · ".join(links)}</p>' if links else ""


def _timings(card: Card) -> Iterator[tuple[str, str]]:
    if card.created_at is not None:
        yield "submitted", card.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if card.created_at is not None and card.completed_at is not None:
        yield "took", _duration((card.completed_at - card.created_at).total_seconds())
    if card.started_at is not None and card.created_at is not None:
        yield "waited", _duration((card.started_at - card.created_at).total_seconds())


def _duration(seconds: float) -> str:
    if seconds < 0:
        return "?"
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _http(url: str | None) -> str | None:
    """``url`` if it is an http(s) URL: anything else (``javascript:``, ``data:``) is text."""
    if url is None:
        return None
    text = url.strip()
    if not text.lower().startswith(("https://", "http://")):
        return None
    if any(char.isspace() or not char.isprintable() for char in text):
        return None
    return text


def _local(path: Path | None, base: Path) -> str | None:
    """A downloaded file as a link relative to the page; ``None`` when it is not there."""
    if path is None:
        return None
    try:
        found = path if path.is_absolute() else Path.cwd() / path
        if not found.is_file():
            return None
        relative = os.path.relpath(found.resolve(), base)
    except (OSError, ValueError):  # another drive, a NUL in the path, ...
        return None
    # Quoted segment by segment: a file name is never read as a scheme ("javascript:").
    return "./" + "/".join(quote(part) for part in Path(relative).as_posix().split("/"))


def _status_class(status: str) -> str:
    return status if status in _STATUSES else "other"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="generator" content="{generator}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; \
img-src 'self' file: http: https:; media-src 'self' file: http: https:; \
style-src 'unsafe-inline'">
<title>{title}</title>
<style>{style}</style>
</head>
<body>
{body}
</body>
</html>
"""

_STYLE = """
:root { color-scheme: light; --ok: #1a7f37; --bad: #cf222e; --skip: #9a6700;
  --line: #d8dee4; --muted: #57606a; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
  Roboto, sans-serif; color: #1f2328; background: #f6f8fa; }
header h1 { margin: 0; font-size: 22px; }
.made { margin: 2px 0 12px; color: var(--muted); }
.totals { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 16px; }
.total { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 6px 12px; min-width: 92px; }
.total dt { color: var(--muted); font-size: 12px; }
.total dd { margin: 0; font-weight: 600; font-size: 16px; }
.total.completed dd { color: var(--ok); }
.total.failed dd, .total.errors dd { color: var(--bad); }
.total.skipped dd { color: var(--skip); }
.total dd.unknown { color: var(--muted); font-weight: 400; font-size: 13px; }
.reasons { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 8px 16px; margin-bottom: 16px; }
.reasons h2 { font-size: 15px; margin: 6px 0; }
.reasons ul { margin: 0 0 6px; padding-left: 18px; }
.reasons li { margin: 2px 0; }
.reasons .which { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr));
  gap: 16px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  overflow: hidden; display: flex; flex-direction: column; }
.card.failed, .card.error { border-color: #ffcecb; }
.media { background: #0d1117; aspect-ratio: 16 / 9; display: flex;
  justify-content: center; align-items: center; }
.media video, .media img { width: 100%; height: 100%; object-fit: contain; }
.media.none span { color: #8c959f; }
.links { margin: 6px 0 0; font-size: 12px; color: var(--muted); }
.links a { color: #0969da; }
.body { padding: 10px 12px 12px; }
.head { margin: 0 0 6px; display: flex; gap: 8px; align-items: center; }
.index { color: var(--muted); font-variant-numeric: tabular-nums; }
.badge { font-size: 12px; font-weight: 600; padding: 1px 8px; border-radius: 999px;
  background: #eaeef2; }
.badge.completed { background: #dafbe1; color: var(--ok); }
.badge.failed, .badge.error { background: #ffebe9; color: var(--bad); }
.badge.skipped { background: #fff8c5; color: var(--skip); }
.prompt { margin: 0 0 8px; white-space: pre-wrap; overflow-wrap: anywhere; }
.facts { display: grid; grid-template-columns: auto 1fr; gap: 0 10px; margin: 0;
  font-size: 12px; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; font-family: ui-monospace, monospace; }
.error { margin: 8px 0 0; color: var(--bad); overflow-wrap: anywhere; font-size: 12px; }
"""
