"""``sora-async report``: one self-contained HTML page of a run, everything in it escaped,
checked as text and in a real browser (headless Chromium)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import anyio
import pytest
from cli_helpers import Invoke

from sora_async import AsyncSoraClient
from sora_async.cli._display import Summary
from sora_async.cli._report import Card, RunTotals, read_results, render_report, write_report
from sora_async.testing import serve_simulator

ROOT = Path(__file__).resolve().parents[2]

# Prompts are the user's text, errors and URLs the server's: none of it may become markup.
HOSTILE = [
    "<script>document.body.setAttribute('data-pwned', 'script')</script>",
    "\"><img src=x onerror=\"document.body.setAttribute('data-pwned', 'img')\">",
    "' onmouseover='alert(1)' data-x='",
    "</article></main><h1>injected</h1>",
    "a storm & a <b>bold</b> sea",
]


@dataclass
class Page:
    """What an HTML parser (or a browser's DOM dump) sees in a page."""

    tags: Counter[str] = field(default_factory=Counter)
    urls: list[str] = field(default_factory=list)
    handlers: list[str] = field(default_factory=list)
    cards: list[dict[str, str]] = field(default_factory=list)
    prompts: list[str] = field(default_factory=list)
    body: dict[str, str] = field(default_factory=dict)


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._in_prompt = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        self.page.tags[tag] += 1
        self.page.urls += [values[name] for name in ("src", "href", "poster") if name in values]
        self.page.handlers += [name for name in values if name.startswith("on")]
        if tag == "article":
            self.page.cards.append(values)
        if tag == "body":
            self.page.body = values
        self._in_prompt = tag == "p" and values.get("class") == "prompt"
        if self._in_prompt:
            self.page.prompts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_prompt = False

    def handle_data(self, data: str) -> None:
        if self._in_prompt:
            self.page.prompts[-1] += data


def parse(html: str) -> Page:
    reader = _Reader()
    reader.feed(html)
    return reader.page


def assert_nothing_injected(page: Page) -> None:
    assert page.tags["script"] == 0
    assert page.tags["h1"] == 1  # the page's own title; the prompt's <h1> is text
    assert page.handlers == []
    assert "data-pwned" not in page.body
    for url in page.urls:
        assert url.startswith(("./", "http://", "https://")), url


def hostile_cards(tmp_path: Path) -> list[Card]:
    evil_file = tmp_path / "videos" / "javascript:alert(3).mp4"
    evil_file.parent.mkdir()
    evil_file.write_bytes(b"\x00\x00\x00\x18ftypisom")
    return [
        Card(
            index=i,
            prompt=prompt,
            status=["completed", "failed", "error", 'completed" onclick="x'][i % 4],
            job_id=f"<b>job {i}</b>",
            video_url=["javascript:alert(1)", "JAVASCRIPT:alert(1)", " data:text/html,x"][i % 3],
            path=evil_file if i == 0 else None,
            thumbnail_url="javascript:alert(2)",
            error=None if i % 4 == 0 else "</p><script>alert('error')</script>",
        )
        for i, prompt in enumerate(HOSTILE)
    ]


# -- the page as text ---------------------------------------------------------------------------


def test_everything_on_the_page_is_escaped(tmp_path: Path) -> None:
    cards = hostile_cards(tmp_path)
    html = render_report(cards, RunTotals.counted(cards), base=tmp_path, title="<i>run</i>")
    page = parse(html)
    assert_nothing_injected(page)
    assert [card["data-index"] for card in page.cards] == ["0", "1", "2", "3", "4"]
    assert page.prompts == HOSTILE  # every prompt shown whole, as text
    # The only link is the local file, its name quoted: never a javascript: URL.
    assert page.urls == ["./videos/javascript%3Aalert%283%29.mp4"] * 2
    assert "<title>&lt;i&gt;run&lt;/i&gt;</title>" in html
    assert {card["class"] for card in page.cards} == {
        "card completed",
        "card failed",
        "card error",
        "card other",
    }


def test_the_page_needs_no_network_and_runs_no_script(tmp_path: Path) -> None:
    html = render_report(hostile_cards(tmp_path), RunTotals(), base=tmp_path)
    assert "default-src 'none'" in html  # scripts are refused even if one slipped in
    assert "script-src" not in html
    for remote in ("cdn", "googleapis", "<link", "@import", "url("):
        assert remote not in html


def test_errors_are_grouped_by_reason(tmp_path: Path) -> None:
    cards = [
        Card(0, "a", "failed", error="Content policy violation"),
        Card(1, "b", "completed"),
        Card(2, "c", "failed", error="Content policy violation"),
        Card(3, "d", "skipped", error="skipped: daily limit reached"),
    ]
    html = render_report(cards, RunTotals.counted(cards), base=tmp_path)
    reasons = html.split('<section class="reasons">')[1].split("</section>")[0]
    assert reasons.count("<li>") == 2
    assert "<b>2 &times;</b> <span class=reason>Content policy violation</span>" in reasons
    assert "#0, #2" in reasons


def test_videos_are_the_downloaded_files_relative_to_the_page_else_their_urls(
    tmp_path: Path,
) -> None:
    (tmp_path / "run" / "videos").mkdir(parents=True)
    (tmp_path / "run" / "videos" / "a b.mp4").write_bytes(b"mp4")
    cards = [
        Card(
            0,
            "kept",
            "completed",
            video_url="https://cdn.example/0.mp4",
            path=tmp_path / "run" / "videos" / "a b.mp4",
            thumbnail_url="https://cdn.example/0.png",
        ),
        Card(
            1,
            "gone",
            "completed",
            video_url="https://cdn.example/1.mp4",
            path=tmp_path / "run" / "videos" / "missing.mp4",
        ),
        Card(2, "failed", "failed", error="no"),
    ]
    page = parse(render_report(cards, RunTotals(), base=tmp_path / "pages"))
    assert page.urls == [
        "./../run/videos/a%20b.mp4",  # the video
        "https://cdn.example/0.png",  # its poster
        "./../run/videos/a%20b.mp4",  # the links: the file, the URL
        "https://cdn.example/0.mp4",
        "https://cdn.example/1.mp4",  # the file is not there: the URL
        "https://cdn.example/1.mp4",
    ]
    assert page.tags["video"] == 2


def test_cards_and_totals_from_a_batchs_items() -> None:
    async def run() -> tuple[list[Card], RunTotals]:
        async with AsyncSoraClient.simulated(provider="soravideo", time_scale=0.002) as client:
            result = await client.generate_batch(["a fox", "a crow"])
            summary = Summary(total=2, counts=Counter(item.status for item in result.items))
            summary.requests_sent, summary.quota = client.requests_sent, client.quota
        return [Card.from_item(item) for item in result.items], RunTotals.from_summary(summary)

    cards, totals = anyio.run(run)
    assert [card.status for card in cards] == ["completed", "completed"]
    assert all(card.thumbnail_url and card.created_at and card.completed_at for card in cards)
    assert (totals.completed, totals.requests_sent is not None, totals.quota is not None) == (
        2,
        True,
        True,
    )
    assert RunTotals.from_record(totals.record()["summary"]) == totals


# -- the command --------------------------------------------------------------------------------


def test_report_of_a_simulated_batch(invoke: Invoke, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("# a run\na red fox\na paper boat\n", encoding="utf-8")
    ran = invoke(
        "batch", str(prompts), "--simulate", "--time-scale", "0.002", "--out", "results.jsonl",
        "--download", "videos",
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    made = invoke("report", "results.jsonl", "-o", "pages/report.html")
    assert made.exit_code == 0, made.output
    assert made.output.strip() == "report: pages/report.html (2 prompts)"
    html = (tmp_path / "pages" / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert [card["data-index"] for card in page.cards] == ["0", "1"]
    assert page.prompts == ["a red fox", "a paper boat"]
    local = sorted({url for url in page.urls if url.startswith("./")})
    assert len(local) == 2
    for url in local:  # each link reaches its downloaded file from the page's folder
        assert (tmp_path / "pages" / url).resolve().is_file()
    assert "not recorded" in html  # requests and quota: the results file has no summary


def test_a_summary_line_gives_the_runs_totals(invoke: Invoke, tmp_path: Path) -> None:
    records = [
        {"index": 1, "prompt": "b", "status": "failed", "error": "no"},
        {"index": 0, "prompt": "a", "status": "completed", "video_url": "https://e.com/a.mp4"},
        RunTotals(completed=1, failed=1, requests_sent=7, quota="12/20 left today").record(),
    ]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert invoke("report", "results.jsonl").exit_code == 0
    html = (tmp_path / "results.html").read_text(encoding="utf-8")
    assert "<dt>requests</dt><dd>7</dd>" in html
    assert "<dd>12/20 left today</dd>" in html
    cards, totals = read_results(tmp_path / "results.jsonl")
    assert [card.index for card in cards] == [0, 1]  # in prompt order
    assert totals is not None and totals.requests_sent == 7


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "holds no results"),
        ('{"index": 0}\nnot json\n', "line 2: not valid JSON"),
        ("[1, 2]\n", "line 1: must be a JSON object"),
    ],
)
def test_a_bad_results_file_is_a_usage_error(
    invoke: Invoke, tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "results.jsonl").write_text(content, encoding="utf-8")
    done = invoke("report", "results.jsonl")
    assert done.exit_code == 2
    assert message in done.output
    assert not (tmp_path / "results.html").exists()


def test_a_file_that_is_not_a_report_is_never_replaced(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text('{"index": 0, "prompt": "a", "status": "completed"}\n')
    (tmp_path / "notes.html").write_text("my notes", encoding="utf-8")
    refused = invoke("report", "results.jsonl", "-o", "notes.html")
    assert refused.exit_code == 2
    assert "--overwrite" in refused.output
    assert (tmp_path / "notes.html").read_text(encoding="utf-8") == "my notes"
    # Its own report is replaced on a rerun; the user's file only when asked.
    assert invoke("report", "results.jsonl", "-o", "report.html").exit_code == 0
    assert invoke("report", "results.jsonl", "-o", "report.html").exit_code == 0
    assert invoke("report", "results.jsonl", "-o", "notes.html", "--overwrite").exit_code == 0
    assert "data-index" in (tmp_path / "notes.html").read_text(encoding="utf-8")


# -- in a real browser --------------------------------------------------------------------------

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(
            "the report's browser test needs Chromium: on Debian or Ubuntu, "
            "`apt-get install -y chromium` (then `chromium` must be on PATH)"
        )
    return found


def browse(page: Path, tmp_path: Path, *args: str) -> str:
    """Run headless Chromium on ``page`` with ``args``; its standard output."""
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def simulated_run(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    """A report page of a run on a served simulator (thumbnails it serves over 127.0.0.1),
    with downloads, a failure and hostile prompts; and how many prompts it has."""
    prompts = [
        "A paper boat sailing down a rainy street at dusk, cinematic",
        "A red fox walking through fresh snow at dawn",
        "A lighthouse in a storm, waves crashing",
        "Time-lapse of clouds rolling over a mountain ridge",
        *HOSTILE[:2],
    ]
    with serve_simulator(
        provider="soravideo", time_scale=0.002, fail_prompts_containing="storm"
    ) as server:

        async def run() -> list[Card]:
            # Polls as often as the simulator's time scale makes a job move (the default
            # 3 s gap is for real jobs that take minutes).
            async with AsyncSoraClient(
                provider="soravideo",
                base_url=server.url,
                api_key=server.api_key,
                poll_interval=0.01,
                max_poll_interval=0.1,
            ) as client:
                result = await client.generate_batch(prompts)
                cards = []
                for item in result.items:
                    path = None
                    if item.job is not None and item.status == "completed":
                        path = await client.download(item.job, tmp_path / "videos")
                    cards.append(Card.from_item(item, path=path))
                summary = Summary(
                    total=len(prompts), counts=Counter(item.status for item in result.items)
                )
                summary.requests_sent, summary.quota = client.requests_sent, client.quota
                summary.downloaded = sum(card.path is not None for card in cards)
                write_report(tmp_path / "report.html", cards, RunTotals.from_summary(summary))
                return cards

        anyio.run(run)
        yield tmp_path / "report.html", len(prompts)


def test_the_page_in_a_real_browser(simulated_run: tuple[Path, int], tmp_path: Path) -> None:
    report, count = simulated_run
    shot = artifact_dir() / "report.png"
    shot.unlink(missing_ok=True)  # the one this run takes, not an earlier one
    # One browser run: the DOM it built and a screenshot of the same page.
    dom = browse(
        report,
        tmp_path,
        "--dump-dom",
        f"--screenshot={shot}",
        "--window-size=1200,1000",
        "--virtual-time-budget=3000",
    )
    page = parse(dom)
    # One card per prompt, after the browser has parsed, laid out and run what it would.
    assert len(page.cards) == count
    assert sorted(card["data-index"] for card in page.cards) == [str(i) for i in range(count)]
    assert page.prompts[-2:] == HOSTILE[:2]
    assert_nothing_injected(page)
    assert sum(card["class"] == "card failed" for card in page.cards) == 1
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("SORA_UPDATE_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "report.png")


def artifact_dir() -> Path:
    """Where tests keep what a person may want to look at: SORA_TEST_ARTIFACTS or build/."""
    folder = Path(os.environ.get("SORA_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_the_readme_shows_the_page_as_the_test_saw_it() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "![" in readme and "docs/report.png" in readme
    shot = ROOT / "docs" / "report.png"
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert shot.stat().st_size < 300_000


def test_batch_writes_the_report_of_its_run(invoke: Invoke, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a red fox\na paper boat\n", encoding="utf-8")
    ran = invoke(
        "batch", str(prompts), "--simulate", "--time-scale", "0.002", "--provider", "soravideo",
        "--download", "videos", "--report", "pages/report.html",
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert ran.stdout.splitlines()[-1] == "report: pages/report.html (2 prompts)"
    html = (tmp_path / "pages" / "report.html").read_text(encoding="utf-8")
    page = parse(html)
    assert [card["data-index"] for card in page.cards] == ["0", "1"]
    assert page.prompts == ["a red fox", "a paper boat"]
    # The run's own totals (no results file needed), the thumbnails and the timings.
    assert "<dt>requests</dt><dd>" in html and "not recorded" not in html
    assert sum(url.endswith(".png") for url in page.urls) == 2
    assert "took" in html or "waited" in html
    for url in {u for u in page.urls if u.startswith("./")}:
        assert (tmp_path / "pages" / url).resolve().is_file()


def test_batch_refuses_a_report_over_a_users_file_before_the_run(
    invoke: Invoke, tmp_path: Path
) -> None:
    (tmp_path / "notes.html").write_text("mine", encoding="utf-8")
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    ran = invoke("batch", "p.txt", "--simulate", "--report", "notes.html")
    assert ran.exit_code == 2
    assert ran.stderr.strip() == (
        "error: --report notes.html: a file that is not a report is already there; "
        "choose another path or move it"
    )
    assert ran.stdout == ""  # refused before the run
    assert (tmp_path / "notes.html").read_text(encoding="utf-8") == "mine"


def test_results_lines_carry_what_the_report_shows(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a fox\n", encoding="utf-8")
    ran = invoke(
        "batch", "p.txt", "--simulate", "--time-scale", "0.002", "--provider", "soravideo",
        "--out", "r.jsonl",
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    [record] = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert record["thumbnail_url"].endswith(".png")
    assert record["created_at"] and record["completed_at"]
    [card], _ = read_results(tmp_path / "r.jsonl")
    assert card.thumbnail_url == record["thumbnail_url"] and card.completed_at is not None
