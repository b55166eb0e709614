"""Prompt files and bad input: a clear message and exit code 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import Invoke, read_results

from sora_async.cli._common import UsageError
from sora_async.cli._connect import Connection
from sora_async.cli._inputs import PromptFile
from sora_async.providers import get_provider

FAST = ["--simulate", "--time-scale", "0.002"]


def prompt_file(path: Path, fmt: str = "txt", **params: object) -> PromptFile:
    return PromptFile(
        path,
        fmt,  # type: ignore[arg-type]
        name=path.name,
        params=params,
        validate=get_provider("codefast").validate,
    )


def assert_usage_error(result: object, *fragments: str) -> None:
    exit_code, output = result.exit_code, result.output  # type: ignore[attr-defined]
    assert exit_code == 2, output
    assert "Traceback" not in output
    for fragment in fragments:
        assert fragment in output


def test_text_files_skip_blank_lines_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("\ufeff# heading\nfirst\n\n   \n  # indented comment\nsecond  \n")
    entries = list(prompt_file(path).entries())
    assert [(e.line, e.request.prompt if e.request else None) for e in entries] == [
        (2, "first"),
        (6, "second"),
    ]


def test_prompts_are_read_lazily(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    # A bad byte far past the first read-ahead: the first prompt comes before it is met.
    path.write_bytes(b"first\n" + b"more of the same\n" * 20_000 + b"\xff\n")
    requests = prompt_file(path).requests()
    assert next(requests).prompt == "first"
    with pytest.raises(UsageError, match="not UTF-8"):
        list(requests)


def test_csv_rows_take_their_own_parameters(tmp_path: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("Prompt , aspect_ratio\nwide,16:9\ntall,9:16\nplain,\n")
    source = prompt_file(path, "csv", model="sora-2-portrait")
    first, second, third = (entry for entry in source.entries())
    assert first.problem and "does not match aspect_ratio" in first.problem  # model from flag
    assert second.request is not None and second.request.aspect_ratio == "9:16"
    assert third.request is not None and third.request.model == "sora-2-portrait"


def test_jsonl_problems_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "ok"}\n{"prompt": \n[1, 2]\n{"aspect": "1:1", "prompt": "x"}\n{}\n')
    problems = [(e.line, e.problem) for e in prompt_file(path, "jsonl").entries() if e.problem]
    assert [line for line, _ in problems] == [2, 3, 4, 5]
    assert "not valid JSON" in str(problems[0][1])
    assert "must be a JSON object, not list" in str(problems[1][1])
    assert "aspect" in str(problems[2][1])
    assert problems[3][1] == "has no prompt"


def test_a_missing_file(invoke: Invoke) -> None:
    assert_usage_error(invoke("batch", "nowhere.txt", *FAST), "nowhere.txt: no such file")


def test_an_empty_file(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("# only a comment\n\n")
    assert_usage_error(invoke("batch", "empty.txt", *FAST), "empty.txt: holds no prompts")
    (tmp_path / "empty.csv").write_text("")
    assert_usage_error(invoke("batch", "empty.csv", *FAST), "empty.csv: is empty")
    assert_usage_error(invoke("batch", "-", *FAST, input=""), "standard input: holds no prompts")


def test_a_csv_without_a_prompt_column(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("text,aspect_ratio\na fox,16:9\n")
    assert_usage_error(invoke("batch", "p.csv", *FAST), "p.csv: no 'prompt' column")
    (tmp_path / "q.csv").write_text("prompt,aspect-ratio\na fox,16:9\n")
    assert_usage_error(invoke("batch", "q.csv", *FAST), "unknown column 'aspect-ratio'")


def test_a_malformed_jsonl_line(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.jsonl").write_text('{"prompt": "one"}\n{"prompt": "two"\n{"prompt": "three"}\n')
    result = invoke("batch", "p.jsonl", *FAST, "--out", "r.jsonl")
    assert_usage_error(result, "p.jsonl: line 2: not valid JSON", "--skip-invalid")
    assert not (tmp_path / "r.jsonl").exists()  # nothing ran

    result = invoke("batch", "p.jsonl", *FAST, "--out", "r.jsonl", "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert "p.jsonl: line 2: not valid JSON" in result.stderr and "skipped" in result.stderr
    assert [r["prompt"] for r in read_results(tmp_path / "r.jsonl")] == ["one", "three"]


def test_a_prompt_the_provider_refuses_is_found_before_the_run(
    invoke: Invoke, tmp_path: Path
) -> None:
    (tmp_path / "p.txt").write_text("fine\n" + "x" * 5000 + "\n")
    assert_usage_error(invoke("batch", "p.txt", *FAST), "p.txt: line 2: prompt")
    assert_usage_error(
        invoke("batch", "p.txt", *FAST, "--aspect-ratio", "4:3"), "bad option: --aspect-ratio"
    )


def test_standard_input_with_a_format(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke(
        "batch", "-", *FAST, "--format", "jsonl", "--out", "r.jsonl", input='{"prompt": "a"}\n'
    )
    assert result.exit_code == 0, result.output
    assert read_results(tmp_path / "r.jsonl")[0]["prompt"] == "a"


def test_an_unknown_provider(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a fox\n")
    assert_usage_error(invoke("batch", "p.txt", *FAST, "--provider", "acme"), "acme")


def test_a_missing_key(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a fox\n")
    result = invoke("batch", "p.txt")
    assert_usage_error(result, "no API key", "SORA_API_KEY", "--simulate")
    assert not list(tmp_path.glob("*.sqlite"))  # refused before anything was made
    assert_usage_error(invoke("generate", "a fox"), "no API key")


def test_plain_http_to_another_host_is_refused(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a fox\n")
    args = ["batch", "p.txt", "--api-key", "k", "--base-url", "http://sora.example.com"]
    assert_usage_error(invoke(*args), "clear text", "--allow-insecure")
    assert_usage_error(invoke("quota", *args[2:]), "clear text")
    assert_usage_error(invoke("batch", "p.txt", "--api-key", "k", "--base-url", "ftp://x"), "http")
    assert_usage_error(invoke("batch", "p.txt", *FAST, "--base-url", "https://x"), "--simulate")


@pytest.mark.parametrize(
    ("url", "insecure", "allowed"),
    [
        ("https://sora.example.com", False, True),
        ("http://127.0.0.1:8000", False, True),
        ("http://localhost:8000/v1", False, True),
        ("http://[::1]:8000", False, True),
        ("http://10.0.0.5:8000", False, False),
        ("http://sora.example.com", True, True),
    ],
)
def test_which_base_urls_are_allowed(url: str, insecure: bool, allowed: bool) -> None:
    conn = Connection(base_url=url, api_key="k", allow_insecure=insecure)
    if allowed:
        conn.check()
    else:
        with pytest.raises(UsageError, match="clear text"):
            conn.check()


def test_an_unusable_journal(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("a fox\n")
    (tmp_path / "j.sqlite").write_text("not a database " * 100)
    result = invoke("batch", "p.txt", *FAST, "--journal", "j.sqlite")
    assert_usage_error(result, "j.sqlite is not a usable journal")


def test_read_prompt_file_is_the_batch_reader_for_scripts(tmp_path: Path) -> None:
    from sora_async import InvalidRequestError
    from sora_async.cli import read_prompt_file

    good = tmp_path / "p.jsonl"
    good.write_text('{"prompt": "a fox", "aspect_ratio": "9:16"}\n\n{"prompt": "a boat"}\n')
    prompts = read_prompt_file(good, params={"aspect_ratio": "16:9"})
    assert len(prompts) == 2
    assert [(r.prompt, r.aspect_ratio) for r in prompts] == [("a fox", "9:16"), ("a boat", "16:9")]
    assert [r.prompt for r in prompts] == ["a fox", "a boat"]  # read again, lazily

    bad = tmp_path / "bad.txt"
    bad.write_text("# scenes\na fox\n" + "x" * 3000 + "\n")
    with pytest.raises(InvalidRequestError) as refused:
        read_prompt_file(bad, provider="soravideo")
    assert str(refused.value).startswith(f"prompts: {bad}: line 3: ")
    warned: list[str] = []
    assert (
        len(read_prompt_file(bad, provider="soravideo", skip_invalid=True, warn=warned.append)) == 1
    )
    assert len(warned) == 1
