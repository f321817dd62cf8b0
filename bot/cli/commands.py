"""The `articlebot` command line: ingest, refresh, list, remove, ask, chat, eval, reindex,
feedback, export, import.

Settings are read once here and passed down. Errors a user can cause end as one line on
standard error and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import click
from pydantic import ValidationError

from bot.answering.answer import Answer, Turn
from bot.answering.engine import Engine
from bot.answering.links import citation_link
from bot.cli.context import Bar, Group, articlebot, counted, to_stderr
from bot.cli.evaluation import eval_command
from bot.cli.wording import UNTRANSLATED, answer_json, answer_text
from bot.feedback import FILE_NAME as FEEDBACK_FILE
from bot.feedback import Feedback, Vote, write_question_set
from bot.generation.local_model import DEFAULT_LOCAL_MODEL, local_model_path
from bot.settings import Settings
from vectorstore.errors import ArticlebotError


@click.group(cls=Group)
@click.pass_context
def main(ctx: click.Context) -> None:
    """articlebot: answers questions about articles, with citations."""
    # No model hub is reachable: fail fast instead of retrying downloads.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        ctx.obj = Settings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise click.ClickException(
            f"Bad setting {problem['loc'][0] if problem['loc'] else ''}: {problem['msg']}"
        ) from None


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """SIGTERM (`kill`, systemd, Docker) ends a command as Ctrl-C does, by an exception,
    not on the spot: an ingest in progress removes the chunks it wrote (the store then
    is as before) and the embedded store's lock is released. `serve` installs its own."""
    raise SystemExit(128 + signum)


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--title", help="Title for the article (one source only).")
@click.option(
    "--replace",
    "replace_id",
    metavar="ID",
    help="Replace this article (ids from `articlebot list`) with the source (one source only).",
)
@click.pass_context
def ingest(ctx: click.Context, sources: tuple[str, ...], title: str | None, replace_id: str | None) -> None:
    """Add or replace articles from files (.txt .md .html .pdf .docx) or http(s) URLs.

    A source replaces the article ingested from the same file path or URL; any other
    source is a new article, even with the same title. --replace ID replaces the article
    ID instead (e.g. a file that moved).

    Example usage:

    \b
        articlebot ingest notes.md https://example.com/post.html
        articlebot ingest --replace notes-3f2a1c ~/new/place/notes.md
    """
    if title and len(sources) > 1:
        raise click.UsageError("--title applies to a single source.")
    if replace_id is not None and len(sources) > 1:
        raise click.UsageError("--replace applies to a single source.")
    library = articlebot(ctx).library
    failed = 0
    for source in sources:
        bar = Bar(source)
        try:
            result = library.ingest(source, title=title, progress=bar, replace=replace_id)
        except ArticlebotError as exc:
            failed += 1
            click.echo(f"Error: {source}: {exc}", err=True)
            continue
        finally:
            bar.close()
        click.echo(result.describe())
    ctx.exit(1 if failed else 0)


@main.command()
@click.argument("article_id", required=False)
@click.pass_context
def refresh(ctx: click.Context, article_id: str | None) -> None:
    """Fetch web-page articles again and replace those whose text changed.

    Every article ingested from an http(s) URL, or only ARTICLE_ID. A page the server
    says is not modified (ETag / Last-Modified), or whose text is the same, is left as it
    is; one that cannot be fetched keeps its old version (and the exit status is 1).
    REFRESH_INTERVAL makes `articlebot serve` do this on a schedule.

    Example usage:

    \b
        articlebot refresh
        articlebot refresh post-3f2a1c
    """
    library = articlebot(ctx).library
    records = library.web_articles(article_id)
    if not records:
        click.echo("No articles from web pages to refresh.")
        return
    failed = 0
    for record in records:
        bar = Bar(record.source)
        try:
            refreshed = library.refresh(record.article_id, progress=bar)
        finally:
            bar.close()
        if refreshed is not None:
            failed += refreshed.status == "failed"
            click.echo(refreshed.describe())
    ctx.exit(1 if failed else 0)


@main.command()
@click.option(
    "--llm",
    "with_llm",
    is_flag=True,
    help="Also fetch the local chat model (LLM_MODEL when LLM_PROVIDER=local, else the default).",
)
@click.pass_context
def prepare(ctx: click.Context, with_llm: bool) -> None:
    """Build the embedding model and ingest the default article (run once by set-up)."""
    library = articlebot(ctx).library
    click.echo(f"Model {library.model_name} ready; {counted(len(library.articles()), 'article')} in the store.")
    if with_llm:
        settings: Settings = ctx.obj
        local = settings.llm_provider in ("local", "auto")
        spec = (settings.llm_model if local else None) or DEFAULT_LOCAL_MODEL
        click.echo(f"Chat model ready: {local_model_path(spec, settings.models_dir, progress=to_stderr)}")


@main.command(name="list")
@click.pass_context
def list_articles(ctx: click.Context) -> None:
    """List the articles with their ids."""
    records = articlebot(ctx).library.articles()
    if not records:
        click.echo("No articles yet. Add one with `articlebot ingest PATH_OR_URL`.")
    for record in records:
        chunks = counted(record.chunk_count, "chunk")
        click.echo(f"{record.article_id}  {record.title}  ({chunks}, added {record.ingested_at})")


@main.command()
@click.argument("article_id")
@click.pass_context
def remove(ctx: click.Context, article_id: str) -> None:
    """Remove an article (ids from `articlebot list`)."""
    record = articlebot(ctx).library.remove(article_id)
    click.echo(f"Removed {record.article_id}  {record.title}")


def _render(answer: Answer, with_text: bool = True) -> str:
    lines = [answer_text(answer)] if with_text else []
    if answer.standalone:
        lines.append(f"  (understood as: {answer.standalone})")
    if answer.untranslated:
        lines.append(f"  ({UNTRANSLATED[answer.language][answer.untranslated]})")
    for c in answer.citations:
        section = f" — {c.section}" if c.section else ""
        link = f"\n      {citation_link(c.url, c.quote)}" if c.url else ""
        lines.append(f"  [{c.n}] {c.title}{section}\n      “{c.quote}”{link}")
    return "\n".join(lines)


class _Stream:
    """Prints a generated answer as it grows, then its checked form and sources.

    The growing text is the model's, unchecked; when checking changed it (a sentence
    dropped or re-cited), the checked answer follows it, marked as such."""

    def __init__(self) -> None:
        self.shown = ""

    def __call__(self, text: str) -> None:
        if text.startswith(self.shown):
            click.echo(text[len(self.shown) :], nl=False)
            sys.stdout.flush()
            self.shown = text

    def finish(self, answer: Answer) -> None:
        if not self.shown:
            click.echo(_render(answer))
            return
        click.echo()
        if " ".join(self.shown.split()) == " ".join(answer_text(answer).split()):
            click.echo(_render(answer, with_text=False))
        else:
            click.echo(f"Checked against the sources: {_render(answer)}")
        self.shown = ""


def _ask_lines(engine: Engine, lines: Iterable[str], emit: Callable[[Answer | str], None]) -> None:
    for line in lines:
        if line.strip():
            try:
                emit(engine.answer(line))
            except ArticlebotError as exc:
                emit(str(exc))


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per answer.")
@click.pass_context
def ask(ctx: click.Context, question: str, as_json: bool) -> None:
    """Answer a question; `-` reads one question per line from standard input.

    Example usage:

    \b
        articlebot ask "Sora最长能生成多长的视频?"
        printf 'What is Sora?\\nWho made it?\\n' | articlebot ask --json -
    """
    engine = articlebot(ctx).engine
    if question != "-":
        if as_json:
            click.echo(json.dumps(answer_json(engine.answer(question)), ensure_ascii=False))
            return
        stream = _Stream()
        stream.finish(engine.answer(question, on_draft=stream))
        return

    def emit(item: Answer | str) -> None:
        if isinstance(item, str):
            error = {"question": None, "error": item}
            click.echo(json.dumps(error, ensure_ascii=False) if as_json else f"Error: {item}")
        else:
            click.echo(json.dumps(answer_json(item), ensure_ascii=False) if as_json else _render(item))
        sys.stdout.flush()

    _ask_lines(engine, sys.stdin, emit)


@main.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """A terminal conversation with the bot: follow-up questions work; /reset forgets
    the conversation so far (Ctrl-D to leave)."""
    bot = articlebot(ctx)
    engine = bot.engine
    titles = ", ".join(r.title for r in bot.library.articles()) or "none yet"
    click.echo(f"Ask about the articles ({titles}). /reset starts over, Ctrl-D leaves.")
    earlier: list[Turn] = []
    stream = _Stream()
    while True:
        try:
            question = click.prompt("you", prompt_suffix="> ")
        except (EOFError, click.Abort):
            click.echo()
            return
        if question.strip() == "/reset":
            earlier.clear()
            click.echo("Forgotten: the next question starts a new conversation.")
            continue
        try:
            answer = engine.answer(question, earlier=earlier, on_draft=stream)
        except ArticlebotError as exc:
            click.echo(str(exc))
            continue
        stream.finish(answer)
        earlier = [*earlier, answer.turn][-ctx.obj.history_turns :]


@main.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Re-embed every article with the current EMBEDDING_MODEL: its chunks and its
    sentences (which also stores the sentence vectors of articles ingested before
    articlebot kept them; answers about those are slower until then)."""
    library = articlebot(ctx, check_model=False).library
    bar = Bar("reindex")
    count = library.reindex(progress=bar)
    bar.close()
    click.echo(f"Re-embedded {counted(count, 'chunk')} with {library.model_name}.")


@main.command()
@click.option(
    "--export",
    "export_to",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every 👎 vote as a question set (JSON lines) that `articlebot eval FILE` reads.",
)
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True, help="How many votes to list.")
@click.pass_context
def feedback(ctx: click.Context, export_to: Path | None, limit: int) -> None:
    """The 👎 votes Telegram users gave answers: list the latest, or export them all.

    The export turns each into a test case for `articlebot eval`: the question, with
    the answer voted down, the reason and the cited article versions beside it. Write
    what a right answer contains into its `expect` (docs/cli.md). Works while the bot
    runs.

    Example usage:

    \b
        articlebot feedback
        articlebot feedback --export eval/feedback.jsonl
    """
    settings: Settings = ctx.obj
    path = settings.data_dir / FEEDBACK_FILE
    store = Feedback(path) if path.is_file() else None  # listing creates nothing
    up, down = store.counts() if store else (0, 0)
    if export_to is None:
        click.echo(f"👎 {down}, 👍 {up}" + ("" if store else f" (no votes yet in {path})"))
        for vote in store.negatives(limit) if store else []:
            click.echo(_vote_lines(vote))
        return
    votes = store.negatives() if store else []
    if not votes:
        click.echo(f"No 👎 votes yet in {path}; nothing written.")
        return
    try:
        count = write_question_set(export_to, votes)
    except OSError as exc:
        raise click.ClickException(f"Cannot write {export_to}: {exc.strerror or exc}") from None
    to_fix = sum(not v.refused for v in votes)
    click.echo(
        f"Wrote {count} question(s) to {export_to}; {to_fix} were answered wrongly: "
        "write what a right answer contains into their `expect` (or set `answerable` to false)."
    )


def _vote_lines(vote: Vote) -> str:
    said = "(refused: the articles don't cover it)" if vote.refused else vote.answer
    return "\n".join(
        [
            f"\n{vote.voted_at}  feedback-{vote.id}",
            f"  Q: {vote.question}",
            f"  A: {said}",
            f"  Why: {vote.reason or '(no reason given)'}",
        ]
    )


@main.command(name="export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def export_articles(ctx: click.Context, file: Path) -> None:
    """Write every article to one archive FILE (a zip), to back up or move the library.

    The archive holds each article's title, source, date, content hash, chunks and
    vectors, and the file or page it was ingested from, as it was read. A file of that
    name is replaced.
    `articlebot import FILE` restores it, here or in another data dir.
    """
    click.echo(articlebot(ctx).library.export_archive(file).describe())


@main.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_articles(ctx: click.Context, file: Path) -> None:
    """Restore the articles of an archive FILE made by `articlebot export`.

    The whole archive is checked first: one that is not an articlebot archive, or is
    damaged or cut short, is an error and changes nothing. Then each article is added,
    replaces the article of the same id or source, or is skipped when unchanged (same
    content hash); they go live together. Articles the archive lacks are kept. Vectors
    are reused when they were made by the current embedding model, else re-embedded.

    Example usage:

    \b
        articlebot export library.zip
        ARTICLEBOT_DATA_DIR=/srv/newbot articlebot import library.zip
    """
    library = articlebot(ctx, seed=False).library  # a new data dir gets the archive's articles only
    bar = Bar(file.name)
    try:
        summary = library.import_archive(file, progress=bar)
    finally:
        bar.close()
    for result in summary.results:
        click.echo(result.describe())
    click.echo(summary.describe())


main.add_command(eval_command)
# `articlebot serve`, the Telegram face: added by Group when asked for (bot/cli/serve.py).
