"""Downloads and the user's files: nothing replaced unless asked, no request when the file
is there, distinct names for distinct jobs, folders recognised by the string given."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from core_support import simulated

from sora_async import InvalidRequestError
from sora_async._download import check_dest, safe_filename

pytestmark = pytest.mark.anyio

NOTES = b"my notes, not a video"


def sent(client: object) -> int:
    simulator = client.simulator  # type: ignore[attr-defined]
    assert simulator is not None
    return int(simulator.counters.total)


async def test_a_file_of_the_users_is_refused_before_any_request(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(NOTES)
    async with simulated("codefast") as client:
        job = await client.generate("a fox")
        before = sent(client)
        for target in (job, job.id):
            with pytest.raises(InvalidRequestError, match="overwrite=True") as caught:
                await client.download(target, notes)
            assert caught.value.field == "dest"
        assert sent(client) == before
    assert notes.read_bytes() == NOTES


async def test_overwrite_replaces_a_named_file(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(NOTES)
    async with simulated("codefast") as client:
        job = await client.generate("a fox")
        path = await client.download(job, clip, overwrite=True)
    assert path == clip and clip.read_bytes()[4:8] == b"ftyp"


async def test_an_earlier_download_is_kept_without_a_request(tmp_path: Path) -> None:
    async with simulated("codefast") as client:
        job = await client.generate("a fox")
        first = await client._download(job, tmp_path, variant="video", overwrite=False)
        first.path.write_bytes(NOTES)  # whatever is there now, of another size
        before = sent(client)
        again = await client._download(job.id, tmp_path, variant="video", overwrite=False)
        assert sent(client) == before
    assert (first.outcome, again.outcome) == ("saved", "kept")
    assert again.path == first.path and first.path.read_bytes() == NOTES


async def test_ids_that_clean_to_one_name_get_two_files(tmp_path: Path) -> None:
    async with simulated("codefast") as client:
        job = await client.generate("a fox")
        paths = [
            await client.download(job.model_copy(update={"id": job_id}), tmp_path)
            for job_id in ("a/b", "a_b", "a:b")
        ]
    assert len(set(paths)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert len({safe_filename(i) for i in ("a/b", "a_b", "a:b", "a b", "a\\b")}) == 5


@pytest.mark.parametrize("folder", ["run.v2/", "run.v2" + os.sep, "out", "already-there.d"])
async def test_which_dest_is_a_folder(folder: str, tmp_path: Path) -> None:
    (tmp_path / "already-there.d").mkdir()
    dest = str(tmp_path / folder) + (os.sep if folder.endswith(("/", os.sep)) else "")
    async with simulated("codefast") as client:
        one = await client.generate("a fox")
        two = await client.generate("a crow")
        paths = [await client.download(job, dest) for job in (one, two)]
    assert paths[0] != paths[1]
    assert all(p.parent == Path(dest) and p.suffix == ".mp4" for p in paths)


async def test_a_file_path_in_a_new_folder_is_made(tmp_path: Path) -> None:
    async with simulated("openai") as client:
        job = await client.generate("a fox")
        path = await client.download(job, tmp_path / "new" / "deeper" / "clip.mp4")
    assert path == tmp_path / "new" / "deeper" / "clip.mp4" and path.stat().st_size > 0


@pytest.mark.parametrize("dest", ["notes.txt/clip.mp4", "notes.txt/sub/"])
async def test_a_folder_that_is_a_file_is_refused_before_any_request(
    dest: str, tmp_path: Path
) -> None:
    (tmp_path / "notes.txt").write_bytes(NOTES)
    async with simulated("codefast") as client:
        job = await client.generate("a fox")
        before = sent(client)
        with pytest.raises(InvalidRequestError, match="not a folder"):
            await client.download(job, str(tmp_path / dest))
        assert sent(client) == before


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write in: a locked one, or (as root) /proc/sys."""
    if os.name == "posix" and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        return locked
    proc = Path("/proc/sys")
    if proc.is_dir() and not os.access(proc, os.W_OK):
        return proc
    pytest.skip("no folder this process cannot write in")


async def test_a_read_only_folder_is_refused_before_any_request(tmp_path: Path) -> None:
    folder = unwritable_folder(tmp_path)
    async with simulated("codefast") as client:
        job = await client.generate("a fox")
        before = sent(client)
        for dest in (folder, folder / "clip.mp4", folder / "new" / "clip.mp4"):
            with pytest.raises(InvalidRequestError, match="cannot write"):
                await client.download(job, dest)
        assert sent(client) == before


async def test_a_link_at_the_target_is_never_written_through(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(NOTES)
    async with simulated("codefast") as client:
        job = await client.generate("a fox")
        named = tmp_path / "clip.mp4"
        named.symlink_to(notes)
        with pytest.raises(InvalidRequestError, match="exists"):
            await client.download(job, named)
        derived = tmp_path / "videos" / f"{safe_filename(job.id)}.mp4"
        derived.parent.mkdir()
        derived.symlink_to(notes)
        kept = await client._download(job, derived.parent, variant="video", overwrite=False)
    assert kept.outcome == "kept"
    assert notes.read_bytes() == NOTES


def test_check_dest_for_a_caller_without_a_job(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(NOTES)
    with pytest.raises(InvalidRequestError, match="overwrite=True"):
        check_dest(notes)
    check_dest(notes, overwrite=True)
    check_dest(tmp_path / "videos/")
    check_dest(str(tmp_path) + "/run.v2/")
    with pytest.raises(InvalidRequestError, match="not a folder"):
        check_dest(str(notes) + "/")


def test_a_file_that_appears_during_a_download_is_not_replaced(tmp_path: Path) -> None:
    from sora_async._download import Target, _place

    partial = tmp_path / ".clip.mp4.part"
    partial.write_bytes(b"the new video")
    target = tmp_path / "clip.mp4"
    target.write_bytes(NOTES)
    assert _place(partial, Target(target, named_by_user=False), False) is False
    with pytest.raises(InvalidRequestError, match="appeared"):
        _place(partial, Target(target, named_by_user=True), False)
    assert target.read_bytes() == NOTES
    assert _place(partial, Target(target, named_by_user=True), True) is True
    assert target.read_bytes() == b"the new video"
