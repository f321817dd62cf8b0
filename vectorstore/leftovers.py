"""Sweeping: deleting the records of versions that never went live (an ingest killed midway).

Which non-live records may go depends on who else could be writing them:

- embedded store: only this process (vectorstore/client.py locks the directory), so every
  non-live record is a leftover except those of this process's own ingests in progress.
  A killed ingest is gone at the next open.
- Chroma server: another process's ingest in progress looks exactly like a leftover (its
  records are written, its version not live yet), and there is no lock to ask. So every
  record carries its ingest run and the time its batch was written; a run in progress
  writes a batch every few seconds, so a run whose newest record is older than
  LEFTOVER_AGE_S is dead. A timestamp on the records rather than a record of runs
  elsewhere: nothing to clean up after a crash, and no extra write per ingest. Clocks of
  the machines sharing a server may differ by far less than that age.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Set

from vectorstore.chroma import delete_ids, not_of_versions, records
from vectorstore.generation import Generation

logger = logging.getLogger(__name__)

# Server mode only: a non-live version whose ingest wrote nothing for this long is a
# leftover of an interrupted ingest (an ingest in progress writes a batch every few seconds).
LEFTOVER_AGE_S = 3600.0


def sweep(generation: Generation, live: list[str], mine: Set[str], sole_writer: bool) -> int:
    """Delete the leftover records of a generation, given the live versions and this
    process's runs in progress (`mine`); returns how many chunks."""
    found = {name: records(collection, not_of_versions(live)) for name, collection in generation.collections().items()}
    newest: dict[str, float] = {}  # run → when it last wrote (a chunk, a sentence vector, a source part)
    for _, metas in found.values():
        for meta in metas:
            run = str(meta["run"])
            newest[run] = max(newest.get(run, 0.0), float(meta["written_at"]))
    if not newest:
        return 0
    cutoff = time.time() - LEFTOVER_AGE_S
    dead = {run for run, at in newest.items() if run not in mine and (sole_writer or at < cutoff)}
    removed: dict[str, int] = {}
    for name, (ids, metas) in found.items():
        doomed = [i for i, m in zip(ids, metas) if str(m["run"]) in dead]
        delete_ids(generation.collections()[name], doomed)
        removed[name] = len(doomed)
    if any(removed.values()):
        logger.info(
            "Removed %d chunks, %d sentence vectors and %d source parts of interrupted ingests",
            removed["chunks"],
            removed["sentences"],
            removed["sources"],
        )
    return removed["chunks"]
