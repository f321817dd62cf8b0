#!/usr/bin/env bash
# One-command set-up: a virtualenv with a CPU-only torch, articlebot with its prepare extra
# (torch and sentence-transformers: they build the embedding model, once), its test tools
# and the local chat model's runtime (llama.cpp, built without its multimodal library,
# which articlebot never uses); then the offline embedding model is built, the default
# article ingested and the local chat model (verified GGUF, ~1.1 GB, see
# bot/generation/local_model.py) fetched into the models dir (ARTICLEBOT_MODELS_DIR,
# default ~/.articlebot/models), where the tests look. The default LLM_PROVIDER (auto)
# uses it to answer a question in the other language than the article in the asker's.
# --no-llm: leave the chat model out (no build, 1.1 GB less): the bot then quotes articles
# in their own language and says so, and the tests that need the model are skipped.
# (--llm is accepted for older scripts: it is the default.)
set -euo pipefail
cd "$(dirname "$0")/.."

extras=dev,prepare,llm
prepare_flags=--llm
for arg in "$@"; do
    case "$arg" in
        --llm) ;;
        --no-llm) extras=dev,prepare; prepare_flags="" ;;
        *) echo "usage: scripts/setup.sh [--no-llm]" >&2; exit 2 ;;
    esac
done

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# Pinned first: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/pip install --quiet torch==2.13.0
# llama.cpp's multimodal library (a quarter of what its build compiles) is left out.
CMAKE_ARGS="${CMAKE_ARGS:-} -DLLAVA_BUILD=OFF" .venv/bin/pip install --quiet -e ".[$extras]"
.venv/bin/articlebot prepare $prepare_flags
echo "Ready. Try: .venv/bin/articlebot ask \"Sora最长能生成多长的视频?\""
if [ -z "$prepare_flags" ]; then
    echo "Tests: .venv/bin/pytest -q (the chat model's tests skip; scripts/setup.sh without --no-llm adds them)"
fi
