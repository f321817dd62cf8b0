"""Real processes for the scale-out tests: a `chroma run` server, and articlebot commands.

server = ChromaServer(tmp_path / "server", free_port()); server.start()
with AskProcess(articlebot_env(tmp_path / "data", CHROMA_HOST="127.0.0.1",
                               CHROMA_PORT=str(server.port))) as bot:
    bot.ask("火星基地第一期可以容纳多少名宇航员?")["answer"]
server.stop()
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import MODELS_DIR

BIN = Path(sys.executable).parent  # the venv's bin: `chroma` and `articlebot` live there
START_TIMEOUT_S = 60
ANSWER_TIMEOUT_S = 120  # the first answer includes loading the model

MARS = """火星基地建设计划

一、选址

火星基地将建在乌托邦平原,那里地势平坦。基地第一期可容纳十二名宇航员。

二、能源

基地的主要能源来自一座小型核反应堆,备用能源是太阳能电池板。
"""
MARS_V2 = MARS.replace("十二名宇航员", "四十名宇航员")
MARS_Q = "火星基地第一期可以容纳多少名宇航员?"

MOON = """月球射电望远镜计划

一、位置

望远镜将建在月球背面的一座撞击坑里,那里没有来自地球的无线电干扰。

二、规模

望远镜的天线直径为五公里,由机器人在三年内铺设完成。
"""
MOON_Q = "月球射电望远镜的天线直径是多少?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def articlebot_env(data_dir: Path, **values: str) -> dict[str, str]:
    """The environment of an articlebot process of a test: its data dir, the shared model."""
    return (
        os.environ
        | {
            "ARTICLEBOT_DATA_DIR": str(data_dir),
            "ARTICLEBOT_MODELS_DIR": str(MODELS_DIR),
            "ARTICLEBOT_SEED_CORPUS": "false",
            "HF_HUB_OFFLINE": "1",
        }
        | values
    )


def articlebot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Run one `articlebot` command to its end."""
    return subprocess.run(
        [str(BIN / "articlebot"), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


class ChromaServer:
    """`chroma run` on loopback, from the installed chromadb; restartable on the same port and path."""

    def __init__(self, path: Path, port: int) -> None:
        self.path = path
        self.port = port
        self.process: subprocess.Popen | None = None
        self.log = path.parent / f"chroma-{port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            str(BIN / "chroma"),
            "run",
            "--path",
            str(self.path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        self.process = start_server(command, self.log, f"{self.url}/api/v2/heartbeat", START_TIMEOUT_S)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


def start_server(command: list[str], log: Path, ready_url: str, timeout_s: float) -> subprocess.Popen:
    """Start a server process (output appended to `log`) and return once `ready_url`
    answers 200; if it exits or stays silent for `timeout_s`, stop it and raise with its log."""
    with log.open("ab") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(ready_url, timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError(f"{command} did not answer {ready_url} in {timeout_s} s:\n{log.read_text()}")


def killed_at(script: str, *args: str, env: dict[str, str], cwd: Path, line: str) -> list[str]:
    """Run a Python `script` until it prints a line starting with `line`, then SIGKILL it
    (nothing of it runs on: no cleanup, no atexit); the lines it printed."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    printed = []
    try:
        for out in process.stdout:  # type: ignore[union-attr]
            printed.append(out.strip())
            if out.startswith(line):
                break
    finally:
        process.kill()
        process.wait()
    return printed


def stop_process(process: subprocess.Popen) -> None:
    """Terminate, and kill what does not stop within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class AskProcess:
    """`articlebot ask --json -` kept running: a second bot process that answers on demand."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.stderr = (cwd / f"ask-{time.monotonic_ns()}.log").open("w+")
        self.process = subprocess.Popen(
            [str(BIN / "articlebot"), "ask", "--json", "-"],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def ask(self, question: str, timeout: float = ANSWER_TIMEOUT_S) -> dict[str, Any]:
        """The process's JSON reply to one question (an answer, or {"error": ...})."""
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        poller = select.poll()  # not select(): it fails on descriptors above 1023
        poller.register(self.process.stdout, select.POLLIN)
        ready = poller.poll(timeout * 1000)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stderr.seek(0)
            raise AssertionError(f"no answer from articlebot ask (exit {self.process.poll()}):\n{self.stderr.read()}")
        return json.loads(line)

    def close(self) -> int:
        """End of input: the process exits; returns its status."""
        if self.process.poll() is None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.stderr.close()
        return self.process.returncode

    def __enter__(self) -> AskProcess:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()
