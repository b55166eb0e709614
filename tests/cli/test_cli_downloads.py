"""``--download DIR`` and ``sora-async download``: whole files, skipped when already there."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from cli_helpers import KEY, Invoke, Serve, one_line_error, read_results, server_args, write_prompts

from sora_async import GenerationRequest
from sora_async._download import safe_filename
from sora_async._journal import request_hash


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
        digest = request_hash(GenerationRequest(prompt=record["prompt"]))
        assert path.name == f"{digest[:8]}-{safe_filename(record['job_id'])}.mp4"
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
    sim, url = serve(api_key=KEY)
    job_id = invoke("generate", "a boat", *server_args(url)).stdout.split()[2].rstrip(":")
    command = ["download", job_id, *server_args(url), "--dest", "out/"]
    assert invoke(*command).exit_code == 0
    saved = tmp_path / "out" / f"{job_id}.mp4"
    stamp = saved.stat().st_mtime_ns
    sim.reset_counters()

    again = invoke(*command)

    assert again.exit_code == 0, again.output
    assert saved.stat().st_mtime_ns == stamp
    # Kept, said so, and nothing asked of the service (not even the job's status).
    assert again.stdout.strip() == f"kept: out/{job_id}.mp4 ({saved.stat().st_size} bytes)"
    assert sim.counters.requests == {}


def test_simulated_batch_downloads(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke(
        "batch", "-", "--simulate", "--time-scale", "0.002", "--out", "r.jsonl",
        "--download", "v", input="one\ntwo\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all(Path(r["path"]).stat().st_size > 0 for r in read_results(tmp_path / "r.jsonl"))


def test_names_survive_moved_and_edited_prompts(
    invoke: Invoke, serve: Serve, tmp_path: Path
) -> None:
    _, url = serve(api_key=KEY)
    prompts = tmp_path / "p.txt"
    prompts.write_text("a red fox\na paper boat\na lighthouse\n")
    command = ["batch", "p.txt", *server_args(url), "--out", "r.jsonl", "--download", "videos"]
    assert invoke(*command).exit_code == 0
    first = {r["prompt"]: Path(r["path"]).name for r in read_results(tmp_path / "r.jsonl")}

    # A new line on top moves every prompt; the boat is edited.
    prompts.write_text("a green hill\na lighthouse\na paper boat at night\na red fox\n")
    again = invoke(*command)

    assert again.exit_code == 0, again.output
    records = read_results(tmp_path / "r.jsonl")
    names = {r["prompt"]: Path(r["path"]).name for r in records}
    # A moved prompt keeps its file; no two files share a prefix (the old index did).
    assert names["a red fox"] == first["a red fox"]
    assert names["a lighthouse"] == first["a lighthouse"]
    files = sorted(p.name for p in (tmp_path / "videos").iterdir())
    assert len({name.split("-")[0] for name in files}) == len(files) == 5
    # The edited prompt's new video has a new name; the old one is told apart from it.
    assert names["a paper boat at night"] != first["a paper boat"]
    assert first["a paper boat"] in files and first["a paper boat"] not in names.values()


def test_a_rerun_without_a_journal_keeps_the_same_jobs_files(
    invoke: Invoke, tmp_path: Path
) -> None:
    # A simulation's journal is in memory: the rerun submits again, and the seeded simulator
    # hands back the same job ids, whose files are already there.
    command = ["batch", "-", "--simulate", "--time-scale", "0.002", "--download", "v"]
    command += ["--concurrency", "1"]  # the same prompts get the same job ids
    assert invoke(*command, "--out", "1.jsonl", input="one\ntwo\n").exit_code == 0
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "v").iterdir()}

    again = invoke(*command, "--out", "2.jsonl", input="one\ntwo\n")

    assert again.exit_code == 0, again.output
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "v").iterdir()} == stamps
    assert sorted(r["path"] for r in read_results(tmp_path / "2.jsonl")) == sorted(
        r["path"] for r in read_results(tmp_path / "1.jsonl")
    )


# -- where a video may go: checked before anything is sent ---------------------------------------

# Paths nobody can write, root included (for root, a chmod'ed folder is no bar): a path
# under a regular file, and /proc, which takes no new files.
UNWRITABLE = ["notes.txt/videos", "notes.txt/clip.mp4"]
if sys.platform == "linux":
    UNWRITABLE += ["/proc/sora-async-videos", "/proc/clip.mp4"]


def _command(name: str, dest: str, url: str, *extra: str) -> list[str]:
    """``name`` saving to ``dest`` against the served simulator at ``url``."""
    if name == "batch":
        return ["batch", "-", *server_args(url), "--download", dest, *extra]
    if name == "generate":
        return ["generate", "a fox", *server_args(url), "--download", dest, *extra]
    return ["download", "some-job", *server_args(url), "--dest", dest, *extra]


@pytest.mark.parametrize("dest", UNWRITABLE)
@pytest.mark.parametrize("name", ["batch", "generate", "download"])
def test_an_unwritable_destination_is_refused_before_any_request(
    invoke: Invoke, serve: Serve, tmp_path: Path, name: str, dest: str
) -> None:
    sim, url = serve(api_key=KEY)
    (tmp_path / "notes.txt").write_text("my notes\n")

    result = invoke(*_command(name, dest, url), input="a fox\n")

    assert result.exit_code == 2, result.output
    option = "--dest" if name == "download" else "--download"
    assert one_line_error(result.stderr).startswith(f"error: {option} {dest}: ")
    assert sim.counters.requests == {}  # nothing sent, nothing spent
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"
    assert not list(tmp_path.glob("*.sqlite"))  # a refused batch starts no journal


def test_batch_refuses_a_file_for_its_folder(invoke: Invoke, serve: Serve, tmp_path: Path) -> None:
    sim, url = serve(api_key=KEY)
    (tmp_path / "notes.txt").write_text("my notes\n")

    result = invoke(*_command("batch", "notes.txt", url), input="a fox\n")

    assert result.exit_code == 2, result.output
    assert one_line_error(result.stderr) == "error: --download notes.txt: is a file, not a folder"
    assert sim.counters.requests == {}
    assert (tmp_path / "notes.txt").read_text() == "my notes\n"


@pytest.mark.parametrize("name", ["generate", "download"])
def test_an_existing_file_is_replaced_only_with_overwrite(
    invoke: Invoke, serve: Serve, tmp_path: Path, name: str
) -> None:
    sim, url = serve(api_key=KEY)
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    command = _command(name, "notes.txt", url)
    if name == "download":
        done = invoke("generate", "a fox", *server_args(url))
        command[1] = done.stdout.split()[2].rstrip(":")  # the finished job's id
        sim.reset_counters()

    refused = invoke(*command)

    assert refused.exit_code == 2, refused.output
    assert one_line_error(refused.stderr) == (
        "error: " + command[-2] + " notes.txt: a file is already there (--overwrite replaces it)"
    )
    assert sim.counters.requests == {}
    assert notes.read_text() == "my notes\n"

    replaced = invoke(*command, "--overwrite")

    assert replaced.exit_code == 0, replaced.output
    assert notes.read_bytes()[4:8] == b"ftyp"  # the video, asked for


def test_a_new_folder_with_a_dot_is_a_folder(invoke: Invoke, serve: Serve, tmp_path: Path) -> None:
    _, url = serve(api_key=KEY)
    result = invoke(*_command("generate", "run.v2/", url))
    assert result.exit_code == 0, result.output
    [saved] = (tmp_path / "run.v2").iterdir()
    assert (
        saved.suffix == ".mp4"
        and result.stdout.splitlines()[-1] == f"saved: {saved.relative_to(tmp_path)}"
    )


def test_a_save_that_fails_after_the_check_is_one_line(
    invoke: Invoke, serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if the folder went away between the check and the save (the check is skipped).
    monkeypatch.setattr(
        "sora_async.cli._app.check_download", lambda *args, **kwargs: None, raising=False
    )
    _, url = serve(api_key=KEY)
    (tmp_path / "notes.txt").write_text("my notes\n")

    result = invoke(*_command("generate", "notes.txt/clip.mp4", url))

    # The library checks the destination again before it sends the download's request.
    assert result.exit_code == 2, result.output
    assert "completed: " in result.stdout  # the URL was shown before the save failed
    assert one_line_error(result.stderr) == "error: dest: notes.txt is a file, not a folder"
