"""``--download DIR`` and ``sora-async download``: whole files, skipped when already there."""

from __future__ import annotations

from pathlib import Path

import httpx
from cli_helpers import KEY, Invoke, Serve, read_results, server_args, write_prompts

from sora_async._client import safe_filename


def test_batch_downloads_land_whole_and_a_rerun_skips_them(
    invoke: Invoke, serve: Serve, tmp_path: Path
) -> None:
    sim, url = serve(api_key=KEY)
    write_prompts(tmp_path / "p.txt", 4)
    command = ["batch", "p.txt", *server_args(url), "--out", "r.jsonl", "--download", "videos"]

    first = invoke(*command)

    assert first.exit_code == 0, first.output
    assert "downloads: 4 saved" in first.stdout
    records = read_results(tmp_path / "r.jsonl")
    for record in records:
        path = Path(record["path"])
        assert path.name == f"{record['index']:05d}-{safe_filename(record['job_id'])}.mp4"
        assert path.read_bytes() == httpx.get(record["video_url"]).content  # whole
        assert record["video_url"].startswith(url)  # the URL stays in the results
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == sorted(
        Path(r["path"]).name for r in records
    )  # no temporary file left behind
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "videos").iterdir()}
    sim.reset_counters()

    again = invoke(*command)

    assert again.exit_code == 0, again.output
    assert sim.counters.submits == 0 and "file" not in sim.counters.requests
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "videos").iterdir()} == stamps
    assert [r["path"] for r in read_results(tmp_path / "r.jsonl")] == [r["path"] for r in records]


def test_a_failed_download_is_retried_then_reported_and_the_url_kept(
    invoke: Invoke, serve: Serve, tmp_path: Path
) -> None:
    sim, url = serve(api_key=KEY)
    # Five failures: the first try and the client's four retries. (A 429's Retry-After is
    # honoured, so the retries are quick; a 5xx would wait the full backoff.)
    sim.inject("429", route="file", times=5, retry_after=1)
    write_prompts(tmp_path / "p.txt", 1)
    command = ["batch", "p.txt", *server_args(url), "--out", "r.jsonl", "--download", "videos"]

    first = invoke(*command)

    assert first.exit_code == 1, first.output
    assert sim.counters.requests["file"] == 5
    [record] = read_results(tmp_path / "r.jsonl")
    assert record["status"] == "completed" and record["video_url"]
    assert record["path"] is None and record["error"].startswith("download failed: ")
    assert "downloads: 0 saved, 1 failed" in first.stdout
    assert not list((tmp_path / "videos").glob("*"))  # no partial file

    again = invoke(*command)  # the job is done: only the download is tried again

    assert again.exit_code == 0, again.output
    assert sim.counters.submits == 1
    [record] = read_results(tmp_path / "r.jsonl")
    assert Path(record["path"]).stat().st_size > 0 and record["error"] is None


def test_download_command_keeps_a_whole_file(invoke: Invoke, serve: Serve, tmp_path: Path) -> None:
    _, url = serve(api_key=KEY)
    job_id = invoke("generate", "a boat", *server_args(url)).stdout.split()[2].rstrip(":")
    command = ["download", job_id, *server_args(url), "--dest", "out/"]
    assert invoke(*command).exit_code == 0
    saved = tmp_path / "out" / f"{job_id}.mp4"
    stamp = saved.stat().st_mtime_ns

    again = invoke(*command)

    assert again.exit_code == 0, again.output
    assert saved.stat().st_mtime_ns == stamp
    assert again.stdout.strip() == f"saved: out/{job_id}.mp4 ({saved.stat().st_size} bytes)"


def test_simulated_batch_downloads(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke(
        "batch", "-", "--simulate", "--time-scale", "0.002", "--out", "r.jsonl",
        "--download", "v", input="one\ntwo\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all(Path(r["path"]).stat().st_size > 0 for r in read_results(tmp_path / "r.jsonl"))
