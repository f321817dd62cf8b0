"""Where callbacks run blocking work, keeping the event loop free: reads on the engine's
threads, writes on the one writer thread (`Services.engine_threads`, `Services.writer`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from bot.telegram.services import Context

T = TypeVar("T")


async def _in_thread(executor: Executor, fn: Callable[..., T], *args: Any) -> T:
    return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)


async def in_engine_thread(context: Context, fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking engine or library read on the engine's threads, keeping the event
    loop free."""
    return await _in_thread(context.bot_data.engine_threads, fn, *args)


async def in_writer_thread(context: Context, fn: Callable[..., T], *args: Any) -> T:
    """Run a write (ingest, remove, reindex) on the one writer thread: writes run one at
    a time, and never take the threads that answer questions."""
    return await _in_thread(context.bot_data.writer, fn, *args)
