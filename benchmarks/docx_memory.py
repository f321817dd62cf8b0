"""What python-docx costs to read a .docx, by how much its document XML unpacks to: the
figure behind `ingest.loaders.MAX_DOCX_UNPACKED_BYTES`. Each size (a .docx of one paragraph
repeated, as the zip-bomb tests make it) is read in a fresh process, which prints its peak
RSS above what it had before reading.

    .venv/bin/python benchmarks/docx_memory.py [MB ...]      (default: 4 8 16 32)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from io import BytesIO
from pathlib import Path

import docx
from speed import vm_hwm_mb  # (this folder is the script's first path)

ROOT = Path(__file__).resolve().parent.parent


def measure(path: Path) -> None:
    """In this process (which built nothing): read the file as the loader does."""
    data = path.read_bytes()
    before = vm_hwm_mb()
    text = "\n\n".join(p.text for p in docx.Document(BytesIO(data)).paragraphs)
    peak = vm_hwm_mb()
    print(
        f"{path.stem:>4} MB of XML ({len(data) >> 10:,} KB packed, {len(text):,} characters): +{peak - before:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[4, 8, 16, 32])
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # the child process's file
    args = parser.parse_args()
    if args.one is not None:
        measure(args.one)
        return
    sys.path.insert(0, str(ROOT))
    from tests.test_zip_bombs import docx_bomb  # here, not in the measuring process: it imports the bot

    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = Path(tmp) / f"{size}.docx"
            path.write_bytes(docx_bomb(size << 20))
            subprocess.run([sys.executable, __file__, "--one", str(path)], check=True)


if __name__ == "__main__":
    main()
