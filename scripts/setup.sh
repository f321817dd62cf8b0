#!/usr/bin/env bash
# One-command set-up: a virtualenv with a CPU-only torch, articlebot with its prepare extra
# (torch and sentence-transformers: they build the embedding model, once) and its test
# tools, then the offline embedding model is built and the default article ingested.
# --llm: also install the generation extra (llama.cpp, LangChain chat clients) and fetch
# the local chat model (verified GGUF, ~1.1 GB, see bot/generation/local_model.py) into the
# models dir (ARTICLEBOT_MODELS_DIR, default ~/.articlebot/models), where the tests look.
# Without it the generation-mode tests are skipped (CI sets up with --llm and runs them).
set -euo pipefail
cd "$(dirname "$0")/.."

extras=dev,prepare
prepare_flags=""
for arg in "$@"; do
    case "$arg" in
        --llm) extras=dev,prepare,llm; prepare_flags=--llm ;;
        *) echo "usage: scripts/setup.sh [--llm]" >&2; exit 2 ;;
    esac
done

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# Pinned first: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/pip install --quiet torch==2.13.0
.venv/bin/pip install --quiet -e ".[$extras]"
.venv/bin/articlebot prepare $prepare_flags
echo "Ready. Try: .venv/bin/articlebot ask \"Sora最长能生成多长的视频?\""
if [ -z "$prepare_flags" ]; then
    echo "Tests: .venv/bin/pytest -q (generation-mode tests skip; scripts/setup.sh --llm adds them)"
fi
