"""Archives and .docx uploads that would unpack to far more than they hold are refused with
one line, before they are unpacked, and change nothing. The bombs are real: members that
truly unpack to hundreds of megabytes (written here in pieces, never whole in memory).

What is refused is refused before anything is embedded, so those tests run over
`hashed_embeddings`; the one that ingests a long .docx and asks about it, over the model."""

from __future__ import annotations

import json
import zipfile
from io import BytesIO
from pathlib import Path

import docx
import pytest

from bot.errors import ArchiveError
from bot.wiring import build
from ingest.errors import SourceTooLargeError
from tests.conftest import make_settings
from tests.processes import MARS, MARS_Q, MOON

MB = 1 << 20


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def library(hashed_fresh, tmp_path):
    """A library with one article; the test checks it is left as it was."""
    hashed_fresh.library.ingest(str(write(tmp_path / "mars.md", MARS)))
    return hashed_fresh.library


@pytest.fixture
def archive(tmp_path, hashed_embeddings) -> Path:
    """A real export of another library: the Moon article."""
    other = build(make_settings(tmp_path / "other", ARTICLEBOT_SEED_CORPUS=False), embeddings=hashed_embeddings)
    other.library.ingest(str(write(tmp_path / "moon.md", MOON)))
    path = tmp_path / "moon.zip"
    other.library.export_archive(path)
    return path


def rebuilt(archive: Path, out: Path, *, bomb: str | None = None, size: int = 0, manifest=None) -> Path:
    """The archive with member `bomb` replaced by `size` zero bytes (streamed), and/or its
    manifest replaced by `manifest(old manifest)` (bytes)."""
    with zipfile.ZipFile(archive) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            if item.filename == bomb:
                with target.open(item.filename, "w", force_zip64=True) as member:
                    for _ in range(size // MB):
                        member.write(bytes(MB))
            elif item.filename == "manifest.json" and manifest is not None:
                target.writestr(item.filename, manifest(json.loads(source.read(item))))
            else:
                target.writestr(item, source.read(item))
    return out


def assert_refused(library, path: Path, message: str) -> None:
    before = library.articles()
    with pytest.raises(ArchiveError, match=message):
        library.import_archive(path)
    assert library.articles() == before
    assert library.store.chunk_count() == sum(r.chunk_count for r in before)


def test_a_chunks_member_that_unpacks_to_hundreds_of_megabytes_is_refused_unread(library, archive, tmp_path):
    bomb = rebuilt(archive, tmp_path / "bomb.zip", bomb="articles/0001/chunks.jsonl", size=400 * MB)
    assert bomb.stat().st_size < 2 * MB

    assert_refused(library, bomb, r"articles/0001/chunks\.jsonl unpacks to 419,430,400 bytes, more than it can hold")


def test_a_source_member_bigger_than_a_source_may_be_is_refused_unread(library, archive, tmp_path):
    bomb = rebuilt(archive, tmp_path / "bomb.zip", bomb="articles/0001/source.md", size=64 * MB)

    assert_refused(library, bomb, r"source\.md unpacks to 67,108,864 bytes")


def test_a_manifest_that_unpacks_to_hundreds_of_megabytes_is_refused_unread(library, archive, tmp_path):
    bomb = rebuilt(archive, tmp_path / "bomb.zip", bomb="manifest.json", size=300 * MB)

    assert_refused(library, bomb, r"manifest\.json unpacks to 314,572,800 bytes")


def test_a_manifest_of_thousands_of_entries_naming_one_member_is_refused(library, archive, tmp_path):
    def repeated(manifest: dict) -> bytes:
        return json.dumps({**manifest, "articles": manifest["articles"] * 20_000}).encode()

    assert_refused(library, rebuilt(archive, tmp_path / "many.zip", manifest=repeated), "20,000 articles, more than")

    def twice(manifest: dict) -> bytes:  # as many entries as the archive holds files for, but one member twice
        first = manifest["articles"][0]
        other = {**first, "record": {**first["record"], "article_id": "moon-2", "source_key": "moon-2"}}
        return json.dumps({**manifest, "articles": [first, other]}).encode()

    twin = rebuilt(archive, tmp_path / "twice.zip", manifest=twice)
    with zipfile.ZipFile(twin, "a") as extra:  # room in the count for the second entry
        extra.writestr("padding-1", b"")
        extra.writestr("padding-2", b"")
    assert_refused(library, twin, "two articles are read from articles/0001/chunks.jsonl")


def test_a_deeply_nested_manifest_is_one_line_not_a_traceback(library, archive, tmp_path):
    nested = rebuilt(archive, tmp_path / "nested.zip", manifest=lambda _: b"[" * 200_000)

    assert_refused(library, nested, "not an articlebot archive")


def test_an_article_of_more_chunks_than_allowed_is_refused(library, archive, tmp_path):
    def huge(manifest: dict) -> bytes:
        entry = manifest["articles"][0]
        return json.dumps({**manifest, "articles": [{**entry, "record": {**entry["record"], "chunk_count": 10**9}}]})

    assert_refused(
        library, rebuilt(archive, tmp_path / "huge.zip", manifest=lambda m: huge(m).encode()), "MAX_CHUNKS_PER_ARTICLE"
    )


def docx_bomb(xml_bytes: int) -> bytes:
    """A real .docx whose document.xml unpacks to about `xml_bytes` (of one repeated paragraph)."""
    document = docx.Document()
    document.add_paragraph("火星基地")
    plain = BytesIO()
    document.save(plain)
    paragraph = b"<w:p><w:r><w:t>" + "火星基地第一期可容纳十二名宇航员。".encode() + b"</w:t></w:r></w:p>"
    out = BytesIO()
    with (
        zipfile.ZipFile(BytesIO(plain.getvalue())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename != "word/document.xml":
                target.writestr(item, data)
                continue
            head, tail = data.split(b"<w:body>", 1)
            with target.open(item.filename, "w", force_zip64=True) as member:
                member.write(head + b"<w:body>")
                piece = paragraph * (MB // len(paragraph))
                for _ in range(xml_bytes // len(piece)):
                    member.write(piece)
                member.write(tail)
    return out.getvalue()


def test_a_docx_that_unpacks_to_hundreds_of_megabytes_is_refused_unread(library):
    before = library.articles()
    bomb = docx_bomb(400 * MB)
    assert len(bomb) < library.settings.max_source_bytes  # under the upload limit

    with pytest.raises(SourceTooLargeError, match=r"bomb\.docx unpacks to 4\d\d,\d{3},\d{3} bytes in \d+ parts"):
        library.ingest_bytes(bomb, "bomb.docx")

    assert library.articles() == before


def test_a_long_real_docx_is_still_ingested(fresh, tmp_path):
    fresh.library.ingest(str(write(tmp_path / "mars.md", MARS)))
    article = docx_bomb(MB)  # 1 MB of document XML, of one paragraph repeated

    result = fresh.library.ingest_bytes(article, "long.docx")

    assert result.status == "new"
    assert "十二名宇航员" in fresh.engine.answer(MARS_Q).text
