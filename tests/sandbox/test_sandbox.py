"""Sandbox building blocks: limits, environment, classification, files, modes, the pool."""

from __future__ import annotations

import json
import logging
import sys
import time

import pytest
from pydantic import ValidationError

from qd.sandbox import (
    SandboxError,
    SandboxJob,
    SandboxLimits,
    SandboxPool,
    modes,
    run_sandboxed,
    seccomp,
)
from qd.sandbox.limits import MARKER_VAR, build_env
from qd.sandbox.result import Exit, classify
from tests.sandbox.conftest import describe, scan


def test_limit_defaults_are_sane():
    limits = SandboxLimits()
    assert limits.isolation == "auto" and limits.timeout_s == 10
    assert limits.effective_cpu_s == 11
    assert SandboxLimits(timeout_s=2.5).effective_cpu_s == 4
    assert SandboxLimits(cpu_s=3).effective_cpu_s == 3
    assert "PATH" in limits.env_allow and "HOME" not in limits.env_allow


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 3}, "Extra inputs are not permitted"),
        ({"env_allow": ("OPENAI_API_KEY",)}, "looks like a secret"),
        ({"env_allow": ("GITHUB_TOKEN",)}, "looks like a secret"),
        ({"env_allow": ("AWS_REGION",)}, "looks like a secret"),
        ({"env_set": {"MY_SECRET": "x"}}, "looks like a secret"),
        ({"env_allow": ("HOME",)}, "set by the sandbox itself"),
        ({"env_allow": ("BAD-NAME",)}, "not a valid environment variable name"),
        ({"read_only_paths": ("data",)}, "not an absolute path"),
        ({"timeout_s": 0}, "greater than 0"),
        ({"memory_mb": 1}, "greater than or equal to 64"),
        ({"isolation": "docker"}, "'auto', 'bwrap' or 'process'"),
    ],
)
def test_bad_limits_are_rejected(options, message):
    with pytest.raises(ValidationError, match=message):
        SandboxLimits(**options)


def test_environment_is_scrubbed_to_the_allow_list():
    parent = {
        "PATH": "/usr/bin",
        "LANG": "C.UTF-8",
        "OPENAI_API_KEY": "sk-1",
        "ANTHROPIC_API_KEY": "sk-2",
        "HOME": "/root",
        "SSH_AUTH_SOCK": "/run/agent",
        "PYTHONPATH": "/evil",
    }
    env = build_env(SandboxLimits(), "/tmp/w", "tok", parent)
    assert env["PATH"] == "/usr/bin" and env["LANG"] == "C.UTF-8"
    assert env["HOME"] == env["TMPDIR"] == "/tmp/w" and env[MARKER_VAR] == "tok"
    assert env["OMP_NUM_THREADS"] == "1"
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SSH_AUTH_SOCK", "PYTHONPATH"):
        assert name not in env
    assert build_env(SandboxLimits(), "/w", "t", {})["PATH"] == "/usr/local/bin:/usr/bin:/bin"


LIMITS = SandboxLimits(memory_mb=128, file_size_mb=2, cpu_s=3)


@pytest.mark.parametrize(
    ("end", "stderr", "result", "expected"),
    [
        (Exit(0, None), "", True, ("ok", "exited with code 0")),
        (Exit(0, None), "", False, ("error", "without writing result.json")),
        (Exit(None, 9, timed_out=True), "", False, ("timeout", "wall-clock timeout after 10 s")),
        (Exit(None, None, setup_error="bad"), "", False, ("error", "sandbox setup failed: bad")),
        (Exit(1, None), "x\nMemoryError\n", False, ("oom", "memory limit (128 MiB")),
        (Exit(None, 6), "std::bad_alloc", False, ("oom", "memory limit")),
        (Exit(None, 11), "", False, ("crashed", "killed by SIGSEGV")),
        (Exit(None, 24), "", False, ("killed", "CPU time limit (3 s per process)")),
        (Exit(None, 25), "", False, ("killed", "file size limit (2 MiB)")),
        (Exit(None, 9), "", False, ("killed", "SIGKILL from outside")),
        (Exit(2, None), "oops\nValueError: no\n", True, ("crashed", "code 2: ValueError: no")),
        (Exit(1, None), "OSError: File too large", False, ("crashed", "file size limit")),
        (Exit(127, None), "qd-sandbox: cannot execute 'x'", False, ("error", "cannot execute")),
        (Exit(125, None), "qd-sandbox: Landlock", False, ("error", "setup failed: Landlock")),
        (Exit(127, None), "sh: x: not found", False, ("crashed", "exited with code 127")),
    ],
)
def test_classification(end, stderr, result, expected):
    status, reason = classify(end, stderr, LIMITS.model_copy(update={"timeout_s": 10}),
                              "result.json", result)  # fmt: skip
    assert status == expected[0] and expected[1] in reason, reason


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../x", "", "."])
def test_file_names_must_stay_inside(name):
    with pytest.raises(SandboxError):
        run_sandboxed(["true"], {name: "x"}, SandboxLimits(isolation="process"))


def test_bad_arguments_raise():
    with pytest.raises(SandboxError, match="argv"):
        run_sandboxed([], limits=SandboxLimits(isolation="process"))
    with pytest.raises(SandboxError, match="plain file name"):
        run_sandboxed(["true"], result_file="out/r.json")


def test_files_are_written_and_nested(tmp_path):
    files = {"pkg/mod.py": "VALUE = 41\n", "main.py": b"import sys, pkg.mod as m\n"
             b"open('result.json', 'w').write(str(m.VALUE + 1))\n"}  # fmt: skip
    result = run_sandboxed([sys.executable, "main.py"], files,
                           SandboxLimits(isolation="process"), tmp_root=tmp_path)  # fmt: skip
    assert result.status == "ok", describe(result)
    assert result.result == "42"
    assert list(tmp_path.iterdir()) == []  # temp dir removed


@pytest.mark.parametrize("isolation", ["process", "auto"])
def test_missing_program_is_an_error(isolation):
    result = run_sandboxed(["qd-no-such-program"], limits=SandboxLimits(isolation=isolation))
    assert result.status == "error", describe(result)
    assert "cannot execute 'qd-no-such-program'" in result.reason


def test_result_symlink_is_not_followed():
    code = "import os; os.symlink('/etc/hostname', 'result.json')"
    for isolation in ("process", "auto"):
        result = run_sandboxed([sys.executable, "-c", code],
                               limits=SandboxLimits(isolation=isolation))  # fmt: skip
        assert result.status == "error" and result.result is None, describe(result)


def test_oversized_result_is_truncated_and_flagged():
    code = "open('result.json', 'w').write('x' * 5000)"
    limits = SandboxLimits(isolation="process", result_bytes=1000)
    result = run_sandboxed([sys.executable, "-c", code], limits=limits)
    assert result.ok and result.result == "x" * 1000 and result.result_truncated


def test_seccomp_filter_compiles_to_whole_instructions():
    if not seccomp.supported():
        pytest.skip("no seccomp table for this architecture")
    plain, strict = seccomp.build_filter(False), seccomp.build_filter(True)
    assert len(plain) % 8 == 0 and len(strict) == len(plain) + 8


def test_explicit_bwrap_without_bwrap_raises_and_auto_falls_back(monkeypatch, caplog):
    monkeypatch.setattr(modes, "_cache", {})
    monkeypatch.setattr(modes, "_warned", set())
    with pytest.raises(SandboxError, match="unavailable here: not installed"):
        modes.resolve("bwrap", lambda: "not installed")
    with caplog.at_level(logging.WARNING, logger="qd.sandbox.modes"):
        assert modes.resolve("auto", lambda: "not installed") == "process"
        assert modes.resolve("auto", lambda: "not installed") == "process"
    fallbacks = [r for r in caplog.records if "falling back to process" in r.getMessage()]
    assert len(fallbacks) == 1


def test_pool_runs_in_parallel_and_keeps_order():
    limits = SandboxLimits(timeout_s=5.0, memory_mb=256)
    tag = "qdpool" + str(time.time_ns())
    sleeper = "import time, sys; time.sleep(0.5); open('result.json', 'w').write(sys.argv[1])"
    sleeper += f"  # {tag}"
    jobs = [SandboxJob([sys.executable, "-c", sleeper, str(i)], limits=limits) for i in range(4)]
    busy = limits.model_copy(update={"timeout_s": 1.0})
    jobs.append(SandboxJob([sys.executable, "-c", f"while True: pass #{tag}"], limits=busy))
    jobs.append(SandboxJob([sys.executable, "-c", "import os; os.abort()"], limits=limits))
    start = time.monotonic()
    with SandboxPool(max_workers=6) as pool:
        results = pool.map(jobs)
    elapsed = time.monotonic() - start
    assert [r.status for r in results] == ["ok"] * 4 + ["timeout", "crashed"], results
    assert [r.result for r in results[:4]] == ["0", "1", "2", "3"]
    assert results[5].reason == "killed by SIGABRT"
    assert elapsed < 4 * 0.5, f"not parallel: {elapsed:.2f} s"
    assert scan(tag) == []


def test_many_threads_do_not_mix_up_runs():
    limits = SandboxLimits(timeout_s=10, memory_mb=256)
    code = "import json, os, sys; json.dump([sys.argv[1], os.getcwd()], open('result.json', 'w'))"
    jobs = [SandboxJob([sys.executable, "-c", code, f"job{i}"], limits=limits) for i in range(12)]
    with SandboxPool(max_workers=4) as pool:
        results = pool.map(jobs)
    seen = [json.loads(r.result) for r in results]
    assert [s[0] for s in seen] == [f"job{i}" for i in range(12)]
    assert len({s[1] for s in seen}) == 12  # every run had its own temp dir
