"""What python-docx costs to read a .docx, by how much its document XML unpacks to: the
figure behind `ingest.loaders.MAX_DOCX_UNPACKED_BYTES`. Each size is read in a fresh
process, which prints its peak RSS above the interpreter's own.

    .venv/bin/python benchmarks/docx_memory.py [MB ...]      (default: 4 8 16 32)
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import zipfile
from io import BytesIO
from pathlib import Path

import docx

PARAGRAPH = "<w:p><w:r><w:t>火星基地第一期可容纳十二名宇航员。</w:t></w:r></w:p>".encode()


def document(xml_bytes: int) -> bytes:
    """A .docx whose document.xml is about `xml_bytes` of one paragraph repeated."""
    plain = BytesIO()
    docx.Document().save(plain)
    out = BytesIO()
    with (
        zipfile.ZipFile(BytesIO(plain.getvalue())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + PARAGRAPH * (xml_bytes // len(PARAGRAPH)))
            target.writestr(item, data)
    return out.getvalue()


def measure(path: Path) -> None:
    """In this process (which built nothing): read the file as the loader does."""
    data = path.read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    text = "\n\n".join(p.text for p in docx.Document(BytesIO(data)).paragraphs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"{path.stem:>4} MB of XML ({len(data) >> 10:,} KB packed, {len(text):,} characters): +{(peak - before) >> 10} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[4, 8, 16, 32])
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # the child process's file
    args = parser.parse_args()
    if args.one is not None:
        measure(args.one)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"{size}.docx"
            path.write_bytes(document(size << 20))
            subprocess.run([sys.executable, __file__, "--one", str(path)], check=True)


if __name__ == "__main__":
    main()
