"""The `articlebot` command line, run in-process with click's runner against real parts."""

import io
import json
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner
from pypdf import PdfWriter

from bot.cli.commands import main
from tests.processes import articlebot, articlebot_env
from tests.test_answers import CONTRACT_FIELDS

pytestmark = pytest.mark.model  # every test runs `articlebot`, which loads the model


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Run `articlebot ARGS` on a data dir of this test; returns the click Result."""
    monkeypatch.setenv("ARTICLEBOT_DATA_DIR", str(tmp_path / "data"))

    def invoke(*args, input=None):
        return CliRunner().invoke(main, list(args), input=input)

    return invoke


def test_ask_json_prints_one_object_with_the_documented_fields(run):
    result = run("ask", "--json", "Sora最长能生成多长的视频?")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == CONTRACT_FIELDS
    assert "60秒" in data["answer"] and "[1]" in data["answer"]
    assert data["citations"][0]["n"] == 1 and "60秒" in data["citations"][0]["quote"]


def test_ask_json_stdin_answers_one_line_per_question(run):
    questions = "Sora最长能生成多长的视频?\n\nWho is the CEO of Runway?\n许多人认为Sora首先会冲击哪个行业?\n"
    result = run("ask", "--json", "-", input=questions)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["refused"] for line in lines] == [False, True, False]
    assert [line["question"] for line in lines] == [q for q in questions.splitlines() if q]
    assert lines[1]["answer"] == "Sorry, the articles don't say."  # the CLI words the engine's refusal


def test_ask_words_a_refusal_in_the_question_language(run):
    result = run("ask", "法国的首都是哪里?")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "抱歉,现有文章中没有提到这个问题的答案。"


def test_ingest_list_ask_remove_round_trip(run, tmp_path):
    article = tmp_path / "gbk-article.txt"
    article.write_bytes("月球图书馆\n\n月球图书馆收藏了三千本纸质书,全部用真空箱保存。".encode("gbk"))
    added = run("ingest", str(article))
    assert added.exit_code == 0, added.output
    assert "月球图书馆" in added.stdout and "added" in added.stdout
    article_id = added.stdout.split()[0]
    listed = run("list")
    assert article_id in listed.stdout and "Sora很强大" in listed.stdout
    answer = run("ask", "月球图书馆收藏了多少本书?")
    assert "三千本" in answer.stdout
    assert run("ingest", str(article)).stdout.strip().endswith("unchanged, skipped)")
    removed = run("remove", article_id)
    assert removed.exit_code == 0 and article_id in removed.stdout
    assert article_id not in run("list").stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (("ingest", "no-such-file.txt"), "No such file"),
        (("remove", "no-such-id"), "No article with id 'no-such-id'"),
        (("ask", "   "), "There is no question in this message"),
    ],
)
def test_user_errors_print_one_line_and_exit_nonzero(run, monkeypatch, args, message):
    monkeypatch.setenv("ARTICLEBOT_SEED_CORPUS", "false")  # the default article plays no part
    result = run(*args)
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.output + result.stderr


def test_unsupported_and_empty_files_are_refused_and_nothing_is_added(run, tmp_path):
    (tmp_path / "deck.pptx").write_bytes(b"PK\x03\x04junk")
    (tmp_path / "empty.md").write_text("\n \n", encoding="utf-8")
    result = run("ingest", str(tmp_path / "deck.pptx"), str(tmp_path / "empty.md"))
    assert result.exit_code == 1
    assert "supported file types are" in result.stderr
    assert "empty.md contains no text" in result.stderr
    assert len(run("list").stdout.strip().splitlines()) == 1  # only the default article


def test_reingest_says_which_version_it_replaced_and_reindex_counts_chunks(run, tmp_path):
    """The same summary line as the bot's admins get (tests/telegram/test_admin.py)."""
    article = tmp_path / "library.md"
    article.write_text("# 月球图书馆\n\n月球图书馆收藏了三千本纸质书。", encoding="utf-8")
    first = run("ingest", str(article)).stdout.split()
    article.write_text("# 月球图书馆\n\n月球图书馆收藏了五千本纸质书。", encoding="utf-8")
    second = run("ingest", str(article))
    reindexed = run("reindex")
    assert second.exit_code == 0, second.output
    assert re.fullmatch(
        rf"{first[0]}  月球图书馆  \(1 chunk, replaced version [0-9a-f]{{12}} of \d{{4}}-\d\d-\d\dT[\d:]+\+00:00\)\n",
        second.stdout,
    ), second.stdout
    assert re.fullmatch(r"Re-embedded \d+ chunks with \S+\.\n", reindexed.stdout), reindexed.output


def test_two_files_with_the_same_heading_are_two_articles_and_the_second_says_so(run, tmp_path):
    (tmp_path / "monday.md").write_text("# Notes\n\n月球图书馆收藏了三千本纸质书。", encoding="utf-8")
    (tmp_path / "tuesday.md").write_text("# Notes\n\n火星温室每天收获九吨番茄。", encoding="utf-8")
    first = run("ingest", str(tmp_path / "monday.md"))
    second = run("ingest", str(tmp_path / "tuesday.md"))
    assert second.exit_code == 0, second.output
    first_id, second_id = first.stdout.split()[0], second.stdout.split()[0]
    assert (
        second.stdout
        == f"{second_id}  Notes  (1 chunk, added; another article is also titled “Notes” (id {first_id}))\n"
    )
    listed = run("list").stdout
    assert first_id in listed and second_id in listed
    assert "三千本" in run("ask", "月球图书馆收藏了多少本书?").stdout


def test_replace_by_id_replaces_that_article_and_an_unknown_id_changes_nothing(run, tmp_path):
    old, new = tmp_path / "library.md", tmp_path / "library-2.md"
    old.write_text("# 月球图书馆\n\n月球图书馆收藏了三千本纸质书。", encoding="utf-8")
    new.write_text("# 月球图书馆\n\n月球图书馆收藏了五千本纸质书。", encoding="utf-8")
    article_id = run("ingest", str(old)).stdout.split()[0]
    before = run("list").stdout

    unknown = run("ingest", "--replace", "no-such-id", str(new))
    two = run("ingest", "--replace", article_id, str(new), str(old))
    assert unknown.exit_code == 1
    assert unknown.stderr.strip() == f"Error: {new}: No article with id 'no-such-id'. `articlebot list` shows the ids."
    assert two.exit_code == 2 and "--replace applies to a single source" in two.stderr
    assert run("list").stdout == before

    replaced = run("ingest", "--replace", article_id, str(new))
    assert replaced.exit_code == 0, replaced.output
    assert replaced.stdout.startswith(f"{article_id}  月球图书馆  (1 chunk, replaced version ")
    assert replaced.stdout.rstrip().endswith(f" from {old.resolve()})")
    assert len(run("list").stdout.splitlines()) == len(before.splitlines())
    assert "五千本" in run("ask", "月球图书馆收藏了多少本书?").stdout


# `articlebot` in a process where torch and sentence-transformers (the prepare extra) cannot be imported.
WITHOUT_TORCH = (
    "import sys; sys.modules['torch'] = sys.modules['sentence_transformers'] = None; "
    "from bot.cli.commands import main; main()"
)


def test_answers_without_torch_and_says_which_extra_builds_the_model(tmp_path):
    """A built model answers without torch: only building it (once) needs the prepare extra."""

    def ask(**values: str) -> subprocess.CompletedProcess[str]:
        env = articlebot_env(tmp_path / "data", ARTICLEBOT_SEED_CORPUS="true", **values)
        command = [sys.executable, "-c", WITHOUT_TORCH, "ask", "Sora最长能生成多长的视频?"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    answered = ask()
    unbuilt = ask(ARTICLEBOT_MODELS_DIR=str(tmp_path / "models"))

    assert answered.returncode == 0, answered.stderr
    assert "60秒" in answered.stdout
    assert unbuilt.returncode == 1
    assert unbuilt.stderr.splitlines()[-1] == (
        "Error: Building the embedding model (once) needs torch and sentence-transformers, the prepare extra: "
        "pip install torch==2.13.0 -e '.[prepare]' (scripts/setup.sh installs it), then articlebot prepare."
    )


def test_broken_pdfs_get_one_error_line_each_and_nothing_else_is_printed(tmp_path):
    """In a real process, where pypdf's own warnings ("invalid pdf header", "EOF marker not
    found") would reach stderr through Python's last-resort log handler."""
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    whole = io.BytesIO()
    writer.write(whole)
    (tmp_path / "page.pdf").write_text("<html><body><p>A web page saved as .pdf</p></body></html>")
    (tmp_path / "cut.pdf").write_bytes(whole.getvalue()[: len(whole.getvalue()) // 2])
    (tmp_path / "empty.pdf").write_bytes(b"")

    names = ("page.pdf", "cut.pdf", "empty.pdf")
    result = articlebot("ingest", *names, env=articlebot_env(tmp_path / "data"), cwd=tmp_path)

    assert result.returncode == 1
    assert result.stdout == ""
    ingesting = result.stderr[result.stderr.index("page.pdf: fetching") :]  # after any model set-up
    assert ingesting.splitlines() == [
        "page.pdf: fetching",  # the progress of each source, then its one error
        "Error: page.pdf: page.pdf is not a readable PDF (PdfStreamError).",
        "cut.pdf: fetching",
        "Error: cut.pdf: cut.pdf is not a readable PDF (PdfStreamError).",
        "empty.pdf: fetching",
        "Error: empty.pdf: empty.pdf is not a readable PDF (EmptyFileError).",
    ], result.stderr


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://example.com:99999/x", "http://example.com:99999/x has an invalid port (99999)"),
        ("http://127.0.0.1:abc/", "http://127.0.0.1:abc/ has an invalid port (abc)"),
        ("http://127.0.0.1:0/", "http://127.0.0.1:0/ has an invalid port (0)"),
        ("http:///article.html", "http:///article.html has no host name"),
        ("http://exa mple.com/", "http://exa mple.com/ has a space in its host name."),
        ("gopher://example.com/", "Only http(s) URLs and files can be ingested, not gopher://example.com/."),
        ("http://[::1/", "http://[::1/ is not a valid URL"),
    ],
)
def test_a_malformed_url_gets_one_line_saying_what_is_wrong_with_it(run, monkeypatch, url, message):
    monkeypatch.setenv("ARTICLEBOT_SEED_CORPUS", "false")  # the default article plays no part
    result = run("ingest", url)
    assert result.exit_code == 1
    assert result.stdout == ""
    [error] = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert error.startswith(f"Error: {url}: {message}"), error
    assert "resolve" not in result.stderr and "Traceback" not in result.stderr


def test_counts_of_one_are_singular(run, tmp_path, monkeypatch):
    monkeypatch.setenv("ARTICLEBOT_SEED_CORPUS", "false")
    article = tmp_path / "library.md"
    article.write_text("# 月球图书馆\n\n月球图书馆收藏了三千本纸质书。", encoding="utf-8")
    added = run("ingest", str(article))
    listed = run("list")
    reindexed = run("reindex")
    assert added.exit_code == listed.exit_code == reindexed.exit_code == 0, added.output + reindexed.output
    assert re.fullmatch(r"\S+  月球图书馆  \(1 chunk, added \S+\)\n", listed.stdout), listed.stdout
    assert re.fullmatch(r"Re-embedded 1 chunk with \S+\.\n", reindexed.stdout), reindexed.stdout
