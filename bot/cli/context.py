"""What every command shares: the one-line error group, progress output, and the
application built once per command through `bot.wiring`."""

from __future__ import annotations

import importlib
import sys

import click
from tqdm import tqdm

from bot.settings import Settings
from bot.wiring import Articlebot, build
from vectorstore.errors import ArticlebotError


class Group(click.Group):
    """Turns user-facing errors into one line and a non-zero exit. `serve` is imported when
    it is asked for: the Telegram library is not loaded for a one-shot `ask`."""

    LAZY = {"serve": "bot.cli.serve"}  # command name -> module defining it under that name

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.LAZY and name not in self.commands:
            self.add_command(getattr(importlib.import_module(self.LAZY[name]), name))
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ArticlebotError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)


def to_stderr(message: str) -> None:
    """A progress or status line, on stderr: stdout holds only what a command answers."""
    click.echo(message, err=True)


def counted(n: int, noun: str) -> str:
    """ "1 chunk", "2 chunks": a count with its noun (a regular plural)."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def articlebot(ctx: click.Context, *, check_model: bool = True, seed: bool = True) -> Articlebot:
    """The engine and library, built once per command (model preparation reports its progress)."""
    settings: Settings = ctx.obj
    return build(settings, progress=to_stderr, check_model=check_model, seed=seed)


class Bar:
    """A tqdm bar driven by ingest progress callbacks."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: tqdm | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "embedding":
            if self.bar is None:
                self.bar = tqdm(total=total, desc=f"{self.label}: embedding", unit="text", file=sys.stderr)
            self.bar.n = done
            self.bar.refresh()
        elif stage != "done":
            to_stderr(f"{self.label}: {stage}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
