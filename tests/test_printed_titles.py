"""Titles are printed: one given with `ingest --title` or read from an archive can neither
reach the terminal as an escape sequence nor forge a line of `list`; archived dates are checked."""

from __future__ import annotations

import json

import pytest

from bot.errors import ArchiveError
from tests.processes import MARS, MOON
from tests.test_backup import cli, rewritten, write

FORGED = "\x1b[2J火星\u202e基地\nforged-000000  Forged article  (1 chunk, added 2026-01-01T00:00:00+00:00)"
# What is left of it: printable, on one line, its whitespace single spaces.
CLEANED = "[2J火星基地 forged-000000 Forged article (1 chunk, added 2026-01-01T00:00:00+00:00)"


@pytest.mark.model  # runs articlebot, which loads the model
def test_a_given_title_is_printed_on_one_line_without_control_characters(tmp_path):
    data = tmp_path / "data"
    article = write(tmp_path / "mars.md", MARS)

    ingested = cli(data, "ingest", "--title", FORGED, str(article))
    listed = cli(data, "list")

    assert ingested.exit_code == 0, ingested.output
    assert "\x1b" not in ingested.output + listed.output and "\u202e" not in listed.output
    [sora, line] = listed.stdout.splitlines()  # the default article, then this one
    assert line.split("  ")[1:3] == [CLEANED, "(3 chunks, added " + line.rsplit("added ", 1)[1]]


def test_an_archived_title_is_cleaned_and_a_bad_date_refused(fresh, tmp_path):
    fresh.library.ingest(str(write(tmp_path / "moon.md", MOON)))
    archive = tmp_path / "moon.zip"
    fresh.library.export_archive(archive)

    def with_record(path, **values):
        def edit(content: bytes) -> bytes:
            manifest = json.loads(content)
            manifest["articles"][0]["record"] |= values
            return json.dumps(manifest).encode()

        path.write_bytes(rewritten(archive.read_bytes(), "manifest.json", edit))
        return path

    data = tmp_path / "restored"
    imported = cli(data, "import", str(with_record(tmp_path / "title.zip", title=FORGED)))
    listed = cli(data, "list")
    assert imported.exit_code == 0, imported.output
    assert "\x1b" not in imported.output + listed.output
    assert len(listed.stdout.splitlines()) == 1
    assert listed.stdout.startswith(f"{fresh.library.articles()[0].article_id}  {CLEANED}  (2 chunks, added ")

    with pytest.raises(ArchiveError, match="has no valid ingest date"):
        fresh.library.import_archive(with_record(tmp_path / "date.zip", ingested_at="not-a-date"))
