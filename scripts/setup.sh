#!/usr/bin/env bash
# One-command set-up: a virtualenv with a CPU-only torch, articlebot and its test tools,
# then the offline embedding model is built and the default article ingested.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
# Pinned first: an unpinned torch would pull a multi-GB CUDA build.
.venv/bin/pip install --quiet torch==2.13.0
.venv/bin/pip install --quiet -e '.[dev]'
.venv/bin/articlebot prepare
echo "Ready. Try: .venv/bin/articlebot ask \"Sora最长能生成多长的视频?\""
