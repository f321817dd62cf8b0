"""The `articlebot` command line: ingest, list, remove, ask, chat, eval, reindex.

Settings are read once here and passed down. Errors a user can cause end as one line on
standard error and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable

import click
from pydantic import ValidationError

from bot.answering.answer import Answer, Turn
from bot.answering.engine import Engine
from bot.cli.context import Bar, Group, articlebot, say
from bot.cli.evaluation import eval_command
from bot.cli.wording import answer_json, answer_text
from bot.generation.local_model import DEFAULT_LOCAL_MODEL, local_model_path
from bot.settings import Settings
from bot.telegram.cli import serve
from vectorstore.errors import ArticlebotError


@click.group(cls=Group)
@click.pass_context
def main(ctx: click.Context) -> None:
    """articlebot: answers questions about articles, with citations."""
    # No model hub is reachable: fail fast instead of retrying downloads.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        ctx.obj = Settings()
    except ValidationError as exc:
        problem = exc.errors()[0]
        raise click.ClickException(
            f"Bad setting {problem['loc'][0] if problem['loc'] else ''}: {problem['msg']}"
        ) from None


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
    click.echo(f"Model {library.model_name} ready; {len(library.articles())} article(s) in the store.")
    if with_llm:
        settings: Settings = ctx.obj
        local = settings.llm_provider == "local"
        spec = (settings.llm_model if local else None) or DEFAULT_LOCAL_MODEL
        click.echo(f"Chat model ready: {local_model_path(spec, settings.models_dir, progress=say)}")


@main.command(name="list")
@click.pass_context
def list_articles(ctx: click.Context) -> None:
    """List the articles with their ids."""
    records = articlebot(ctx).library.articles()
    if not records:
        click.echo("No articles yet. Add one with `articlebot ingest PATH_OR_URL`.")
    for record in records:
        click.echo(f"{record.article_id}  {record.title}  ({record.chunk_count} chunks, added {record.ingested_at})")


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
    for c in answer.citations:
        section = f" — {c.section}" if c.section else ""
        lines.append(f"  [{c.n}] {c.title}{section}\n      “{c.quote}”")
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
    count = library.reindex(progress=lambda done, total: bar("embedding", done, total))
    bar.close()
    click.echo(f"Re-embedded {count} chunks with {library.model_name}.")


main.add_command(eval_command)
main.add_command(serve)  # the Telegram face: `articlebot serve`
