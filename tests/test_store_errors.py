"""A store that cannot be used: one `Error:` line naming the path and what to do, no traceback.

Real `articlebot` processes on a real embedded store: a data dir that is a file, a 0-byte
or missing database next to a store's index files (refused, never recreated and re-seeded),
a damaged database, and, where this process may mount a tmpfs (root), a full disk and a
read-only one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import MARS, articlebot, articlebot_env
from vectorstore.client import SQLITE_FILE

pytestmark = pytest.mark.model  # every test runs `articlebot`, which loads the model


def one_error_line(result: subprocess.CompletedProcess, *names: Path) -> str:
    """The run failed with exactly one `Error:` line on stderr that names every one of `names`."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr
    for name in names:
        assert str(name) in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> Path:
    """A data dir whose store holds one article (made once; tests work on copies)."""
    root = tmp_path_factory.mktemp("stored")
    article = root / "mars.md"
    article.write_text(MARS, encoding="utf-8")
    result = articlebot("ingest", str(article), env=articlebot_env(root / "data"), cwd=root)
    assert result.returncode == 0, result.stderr
    return root / "data"


@pytest.fixture
def copy_of_stored(stored: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(stored, data)
    (data / "chroma" / "articlebot.lock").unlink(missing_ok=True)
    return data


def snapshot(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_size for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_data_dir_that_is_a_file(tmp_path):
    data = tmp_path / "data"
    data.write_text("not a directory")
    line = one_error_line(articlebot("list", env=articlebot_env(data), cwd=tmp_path), data)
    assert "is a file, not a directory" in line and "ARTICLEBOT_DATA_DIR" in line
    assert data.read_text() == "not a directory"


@pytest.mark.parametrize("command", [("list",), ("ask", "火星基地第一期可以容纳多少名宇航员?")])
def test_a_0_byte_database_is_refused_not_recreated_and_reseeded(copy_of_stored, tmp_path, command):
    chroma = copy_of_stored / "chroma"
    (chroma / SQLITE_FILE).write_bytes(b"")
    before = snapshot(chroma)
    env = articlebot_env(copy_of_stored, ARTICLEBOT_SEED_CORPUS="true")
    line = one_error_line(articlebot(*command, env=env, cwd=tmp_path), chroma / SQLITE_FILE)
    assert "0 bytes" in line and "backup" in line and "delete that directory" in line
    assert snapshot(chroma) == before | {"articlebot.lock": snapshot(chroma)["articlebot.lock"]}
    assert (chroma / SQLITE_FILE).stat().st_size == 0  # nothing recreated, nothing seeded


def test_a_missing_database_next_to_index_files_is_refused(copy_of_stored, tmp_path):
    chroma = copy_of_stored / "chroma"
    (chroma / SQLITE_FILE).unlink()
    env = articlebot_env(copy_of_stored, ARTICLEBOT_SEED_CORPUS="true")
    line = one_error_line(articlebot("list", env=env, cwd=tmp_path), chroma / SQLITE_FILE)
    assert "missing" in line
    assert not (chroma / SQLITE_FILE).exists()


def test_deleting_the_store_directory_starts_over(copy_of_stored, tmp_path):
    """What the message advises: the empty database is gone with its directory, and a new store opens."""
    chroma = copy_of_stored / "chroma"
    (chroma / SQLITE_FILE).write_bytes(b"")
    shutil.rmtree(chroma)
    result = articlebot("list", env=articlebot_env(copy_of_stored), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "No articles yet" in result.stdout


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database(copy_of_stored, tmp_path, damage):
    database = copy_of_stored / "chroma" / SQLITE_FILE
    if damage == "garbage":
        database.write_bytes(os.urandom(64 * 1024))
    else:
        os.truncate(database, database.stat().st_size // 2)
    damaged = database.read_bytes()
    line = one_error_line(articlebot("list", env=articlebot_env(copy_of_stored), cwd=tmp_path), database)
    assert "is damaged" in line and "backup" in line
    assert database.read_bytes() == damaged


# -- a full disk, a read-only one: a tmpfs, when this process may mount one ----------------------


@pytest.fixture
def tmpfs(tmp_path) -> Iterator[Path]:
    mount_point = tmp_path / f"fs-{uuid.uuid4().hex[:8]}"
    mount_point.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk(tmpfs, tmp_path):
    data = tmpfs / "data"
    line = one_error_line(articlebot("list", env=articlebot_env(data), cwd=tmp_path), data / "chroma")
    assert "is full" in line
    # Once there is room, the store that could not be created is created (it held nothing).
    subprocess.run(["mount", "-o", "remount,size=2m", str(tmpfs)], check=True)
    result = articlebot("list", env=articlebot_env(data), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_a_read_only_disk(tmpfs, tmp_path):
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    data = tmpfs / "data"
    line = one_error_line(articlebot("list", env=articlebot_env(data), cwd=tmp_path), data / "chroma")
    assert "cannot be written" in line and "Read-only file system" in line
