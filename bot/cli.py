"""The `articlebot` command line: ingest, list, remove, ask, chat, eval, reindex.

Settings are read once here and passed down. Errors a user can cause end as one line on
standard error and exit status 1, never a traceback.
"""

from __future__ import annotations

import json
from dataclasses import asdict
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click
from pydantic import ValidationError
from tqdm import tqdm

from bot import evaluation, squad
from bot.answer import Answer, Turn
from bot.engine import Engine, build_engine
from bot.generation import build_generator
from bot.local_model import DEFAULT_LOCAL_MODEL, local_model_path
from bot.settings import Settings
from bot.telegram.cli import serve
from vectorstore.embeddings import load_embeddings
from vectorstore.errors import ArticlebotError


class _Group(click.Group):
    """Turns user-facing errors into one line and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArticlebotError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


def _say(message: str) -> None:
    click.echo(message, err=True)


def _engine(ctx: click.Context, *, check_model: bool = True) -> Engine:
    """The engine, built once per command (model preparation reports its progress)."""
    settings: Settings = ctx.obj
    return build_engine(settings, progress=_say, check_model=check_model)


class _Bar:
    """A tqdm bar driven by ingest progress callbacks."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "embedding":
            if self.bar is None:
                self.bar = tqdm(total=total, desc=f"{self.label}: embedding", unit="chunk", file=sys.stderr)
            self.bar.n = done
            self.bar.refresh()
        elif stage != "done":
            _say(f"{self.label}: {stage}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


@click.group(cls=_Group)
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
@click.pass_context
def ingest(ctx: click.Context, sources: tuple[str, ...], title: str | None) -> None:
    """Add or replace articles from files (.txt .md .html .pdf .docx) or http(s) URLs.

    Example usage:

        articlebot ingest notes.md https://example.com/post.html
    """
    if title and len(sources) > 1:
        raise click.UsageError("--title applies to a single source.")
    engine = _engine(ctx)
    failed = 0
    for source in sources:
        bar = _Bar(source)
        try:
            result = engine.ingest(source, title=title, progress=bar)
        except ArticlebotError as exc:
            failed += 1
            click.echo(f"Error: {source}: {exc}", err=True)
            continue
        finally:
            bar.close()
        click.echo(result.describe())
    ctx.exit(1 if failed else 0)


@main.command()
@click.option("--llm", "with_llm", is_flag=True,
              help="Also fetch the local chat model (LLM_MODEL when LLM_PROVIDER=local, else the default).")
@click.pass_context
def prepare(ctx: click.Context, with_llm: bool) -> None:
    """Build the embedding model and ingest the default article (run once by set-up)."""
    engine = _engine(ctx)
    click.echo(f"Model {engine.store.embeddings.name} ready; {len(engine.articles())} article(s) in the store.")
    if with_llm:
        settings: Settings = ctx.obj
        local = settings.llm_provider == "local"
        spec = (settings.llm_model if local else None) or DEFAULT_LOCAL_MODEL
        click.echo(f"Chat model ready: {local_model_path(spec, settings.models_dir, progress=_say)}")


@main.command(name="list")
@click.pass_context
def list_articles(ctx: click.Context) -> None:
    """List the articles with their ids."""
    records = _engine(ctx).articles()
    if not records:
        click.echo("No articles yet. Add one with `articlebot ingest PATH_OR_URL`.")
    for record in records:
        click.echo(f"{record.article_id}  {record.title}  ({record.chunk_count} chunks, added {record.ingested_at})")


@main.command()
@click.argument("article_id")
@click.pass_context
def remove(ctx: click.Context, article_id: str) -> None:
    """Remove an article (ids from `articlebot list`)."""
    record = _engine(ctx).remove(article_id)
    click.echo(f"Removed {record.article_id}  {record.title}")


def _render(answer: Answer, with_text: bool = True) -> str:
    lines = [answer.text] if with_text else []
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
        if " ".join(self.shown.split()) == " ".join(answer.text.split()):
            click.echo(_render(answer, with_text=False))
        else:
            click.echo(f"Checked against the sources: {_render(answer)}")
        self.shown = ""


def _ask_lines(engine: Engine, lines: list[str] | object, emit: Callable[[Answer | str], None]) -> None:
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

        articlebot ask "Sora最长能生成多长的视频?"
        printf 'What is Sora?\\nWho made it?\\n' | articlebot ask --json -
    """
    engine = _engine(ctx)
    if question != "-":
        if as_json:
            click.echo(json.dumps(engine.answer(question).to_json(), ensure_ascii=False))
            return
        stream = _Stream()
        stream.finish(engine.answer(question, on_draft=stream))
        return

    def emit(item: Answer | str) -> None:
        if isinstance(item, str):
            item = {"question": None, "error": item}
            click.echo(json.dumps(item, ensure_ascii=False) if as_json else f"Error: {item['error']}")
        else:
            click.echo(json.dumps(item.to_json(), ensure_ascii=False) if as_json else _render(item))
        sys.stdout.flush()

    _ask_lines(engine, sys.stdin, emit)


@main.command()
@click.pass_context
def chat(ctx: click.Context) -> None:
    """A terminal conversation with the bot: follow-up questions work; /reset forgets
    the conversation so far (Ctrl-D to leave)."""
    engine = _engine(ctx)
    titles = ", ".join(r.title for r in engine.articles()) or "none yet"
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


@main.command(name="eval")
@click.argument("qa_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--squad", "squad_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A reading-comprehension set in SQuAD layout, run on a temporary store.")
@click.option("--followups", "followups_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Follow-up conversations (schema: bot/evaluation.py), e.g. eval/followups.jsonl.")
@click.option("--limit", type=int, help="Only the first N passages of --squad.")
@click.option("--table", is_flag=True, help="One line per question (per conversation with --followups).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_context
def eval_command(
    ctx: click.Context,
    qa_file: Path | None,
    squad_file: Path | None,
    followups_file: Path | None,
    limit: int | None,
    table: bool,
    as_json: bool,
) -> None:
    """Score answers on a question set (schema: ../shared/eval/README.md), a SQuAD file,
    or follow-up conversations.

    Example usage:

        articlebot eval ../shared/eval/dev_qa.jsonl --table
        articlebot eval --squad ../shared/benchmarks/cmrc2018_trial.json
        articlebot eval --followups eval/followups.jsonl
    """
    if sum(f is not None for f in (qa_file, squad_file, followups_file)) != 1:
        raise click.UsageError("Give a question set QA_FILE, --squad FILE or --followups FILE.")
    if squad_file is not None:
        _eval_squad(ctx, squad_file, limit, as_json)
        return
    if followups_file is not None:
        _eval_followups(ctx, followups_file, table, as_json)
        return
    engine = _engine(ctx)
    questions = evaluation.read_questions(qa_file)
    engine.warm_up()  # latency is reported for a warm engine, as a running bot has
    engine.answer(questions[0].q)
    graded = list(tqdm(evaluation.run(questions, engine.answer), total=len(questions), file=sys.stderr, desc="eval"))
    summary = evaluation.Summary.of(graded)
    if as_json:
        per_question = [
            {"id": g.question.id, "right": g.right, "cites_gold": g.cites_gold, **g.answer.to_json()} for g in graded
        ]
        click.echo(json.dumps({**asdict(summary), "per_question": per_question}, ensure_ascii=False))
        return
    if table:
        for g in graded:
            mark = "ok " if g.right else "BAD"
            cite = "gold" if g.cites_gold else "    "
            click.echo(f"{mark} {cite} {g.question.id:8} {g.answer.latency_ms:5.0f} ms  {g.question.q[:40]}  →  {g.answer.text[:80]}")
    click.echo("\n".join(summary.lines()))


def _eval_followups(ctx: click.Context, path: Path, table: bool, as_json: bool) -> None:
    """`eval --followups`: each conversation asked turn by turn, its last answer graded
    with and without the conversation."""
    conversations = evaluation.read_conversations(path)
    engine = _engine(ctx)
    engine.warm_up()
    history_turns = ctx.obj.history_turns
    graded = list(
        tqdm(
            evaluation.run_followups(conversations, engine.answer, history_turns),
            total=len(conversations),
            file=sys.stderr,
            desc="follow-ups",
        )
    )
    summary = evaluation.FollowUpSummary.of(graded)
    if as_json:
        per_conversation = [
            {
                "id": g.conversation.id,
                "control": g.conversation.is_control,
                "turns": g.conversation.turns,
                "earlier": [t.question for t in g.earlier],
                "understood_as": g.answer.understood_as,
                "understood": g.understood,
                "right": g.final.right,
                "cites_gold": g.final.cites_gold,
                "right_without_history": g.alone.right,
                "answer": g.answer.to_json(),
                "answer_without_history": g.alone.answer.text,
            }
            for g in graded
        ]
        click.echo(json.dumps({**asdict(summary), "per_conversation": per_conversation}, ensure_ascii=False))
        return
    if table:
        for g in graded:
            marks = " ".join(
                [
                    "ctl" if g.conversation.is_control else "   ",
                    "understood" if g.understood else "MISREAD   ",
                    "ok " if g.final.right else "BAD",
                    "gold" if g.final.cites_gold else "    ",
                    "alone-ok " if g.alone.right else "alone-BAD",
                ]
            )
            click.echo(f"{marks} {g.conversation.id:5} {g.conversation.question[:30]}  ⇒  {g.answer.understood_as[:50]}  →  {g.answer.text[:60]}")
    click.echo("\n".join(summary.lines()))


def _eval_squad(ctx: click.Context, path: Path, limit: int | None, as_json: bool) -> None:
    settings: Settings = ctx.obj
    passages = squad.read_squad(path, limit)  # a malformed file fails before the model loads
    embeddings = load_embeddings(settings.embedding_model, settings.models_dir, _say, settings.embedding_backend)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=stage, file=sys.stderr))
        bar.n = done
        bar.refresh()

    generator = build_generator(settings, _say)
    report = squad.run_squad(passages, settings, embeddings, generator=generator, progress=progress)
    for bar in bars.values():
        bar.close()
    click.echo(json.dumps(asdict(report)) if as_json else "\n".join(report.lines()))


@main.command()
@click.pass_context
def reindex(ctx: click.Context) -> None:
    """Re-embed every article with the current EMBEDDING_MODEL."""
    engine = _engine(ctx, check_model=False)
    bar = _Bar("reindex")
    count = engine.reindex(progress=lambda done, total: bar("embedding", done, total))
    bar.close()
    click.echo(f"Re-embedded {count} chunks with {engine.store.embeddings.name}.")


main.add_command(serve)  # the Telegram face: `articlebot serve`
