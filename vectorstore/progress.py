"""The one progress callback of a long write, from an admin's upload or `articlebot ingest`
down through the library and the ingest pipeline to the store: each passes it on as it
came, and each reports its own stages.

    progress(stage, done, total)

Stages: "fetching" and "download" (a source read), "reading" (an archive), "cleaning",
"chunking", "embedding" (done of total texts stored: chunks, then sentences), "done".
Counts are 0, 0 where a stage has none. A caller stops the write by raising from it.
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def no_progress(_stage: str, _done: int, _total: int) -> None:
    pass
