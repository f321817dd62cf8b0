"""`articlebot eval`: a question set, follow-up conversations, or a SQuAD-layout file,
scored and printed as a summary, a table, or JSON."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click
from tqdm import tqdm

from bot.cli.context import articlebot, to_stderr
from bot.cli.wording import answer_json, answer_text
from bot.evaluation import question_sets, squad
from bot.generation.generator import build_generator
from bot.settings import Settings
from bot.wiring import embeddings_of


@click.command(name="eval")
@click.argument("qa_file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--squad",
    "squad_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A reading-comprehension set in SQuAD layout, run on a temporary store.",
)
@click.option(
    "--followups",
    "followups_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Follow-up conversations (schema: bot/evaluation/question_sets.py), e.g. eval/followups.jsonl.",
)
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
    """Score answers on a question set (schema: eval/README.md), a SQuAD file,
    or follow-up conversations.

    Example usage:

    \b
        articlebot eval eval/dev_qa.jsonl --table
        articlebot eval --squad path/to/cmrc2018_trial.json
        articlebot eval --followups eval/followups.jsonl
    """
    if sum(f is not None for f in (qa_file, squad_file, followups_file)) != 1:
        raise click.UsageError("Give a question set QA_FILE, --squad FILE or --followups FILE.")
    if squad_file is not None:
        _eval_squad(ctx, squad_file, limit, as_json)
    elif followups_file is not None:
        _eval_followups(ctx, followups_file, table, as_json)
    elif qa_file is not None:
        _eval_questions(ctx, qa_file, table, as_json)


def _eval_questions(ctx: click.Context, qa_file: Path, table: bool, as_json: bool) -> None:
    """`eval QA_FILE`: every question asked alone and graded."""
    engine = articlebot(ctx).engine
    questions = question_sets.read_questions(qa_file)
    graded = list(tqdm(question_sets.run(questions, engine.answer), total=len(questions), file=sys.stderr, desc="eval"))
    summary = question_sets.Summary.of(graded)
    if as_json:
        per_question = [
            {"id": g.question.id, "right": g.right, "cites_gold": g.cites_gold, **answer_json(g.answer)} for g in graded
        ]
        click.echo(json.dumps({**asdict(summary), "per_question": per_question}, ensure_ascii=False))
        return
    if table:
        for g in graded:
            mark = "ok " if g.right else "BAD"
            cite = "gold" if g.cites_gold else "    "
            click.echo(
                f"{mark} {cite} {g.question.id:8} {g.answer.latency_ms:5.0f} ms  {g.question.q[:40]}  →  {answer_text(g.answer)[:80]}"
            )
    click.echo("\n".join(summary.lines()))


def _eval_followups(ctx: click.Context, path: Path, table: bool, as_json: bool) -> None:
    """`eval --followups`: each conversation asked turn by turn, its last answer graded
    with and without the conversation."""
    conversations = question_sets.read_conversations(path)
    engine = articlebot(ctx).engine
    history_turns = ctx.obj.history_turns
    graded = list(
        tqdm(
            question_sets.run_followups(conversations, engine.answer, history_turns),
            total=len(conversations),
            file=sys.stderr,
            desc="follow-ups",
        )
    )
    summary = question_sets.FollowUpSummary.of(graded)
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
                "answer": answer_json(g.answer),
                "answer_without_history": answer_text(g.alone.answer),
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
            click.echo(
                f"{marks} {g.conversation.id:5} {g.conversation.question[:30]}  ⇒  {g.answer.understood_as[:50]}  →  {answer_text(g.answer)[:60]}"
            )
    click.echo("\n".join(summary.lines()))


def _eval_squad(ctx: click.Context, path: Path, limit: int | None, as_json: bool) -> None:
    settings: Settings = ctx.obj
    passages = squad.read_squad(path, limit)  # a malformed file fails before the model loads
    embeddings = embeddings_of(settings, to_stderr)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=stage, file=sys.stderr))
        bar.n = done
        bar.refresh()

    generator = build_generator(settings, to_stderr)
    report = squad.run_squad(passages, settings, embeddings, generator=generator, progress=progress)
    for bar in bars.values():
        bar.close()
    click.echo(json.dumps(asdict(report)) if as_json else "\n".join(report.lines()))
