"""Hostile programs under every isolation variant: right status, and nothing survives.

Each test runs a real program through `run_sandboxed`; the `sandbox` fixture (conftest) then
scans the process table for the test's unique token and fails if any process is left.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from qd.sandbox import modes
from qd.sandbox.cgroup import PidsCgroup, pids_base, sweep_stale
from tests.sandbox.conftest import describe

REPO = Path(__file__).resolve().parents[2]


def test_infinite_loop_times_out(sandbox):
    start = time.monotonic()
    result = sandbox.run("while True: pass", timeout_s=1.0)
    elapsed = time.monotonic() - start
    assert result.status == "timeout", describe(result)
    assert "timeout" in result.reason
    assert 1.0 <= result.duration_s < 3.0
    assert elapsed < 5.0


def test_fork_bomb_is_bounded_and_killed(sandbox, monkeypatch):
    bomb = """
        import os, time
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
    """
    limit = 12
    peak = [0]
    done = threading.Event()

    def count() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], len(sandbox.survivors()))
            time.sleep(0.02)

    if not sandbox.variant.use_cgroup and sandbox.variant.isolation == "process":
        if os.geteuid() == 0:
            pytest.skip("as root without a pids cgroup the process count is unbounded (documented)")
    created = _record_cgroups(monkeypatch)  # other qd processes on the machine make their own
    watcher = threading.Thread(target=count)
    watcher.start()
    try:
        result = sandbox.run(bomb, timeout_s=1.5, max_processes=limit)
    finally:
        done.set()
        watcher.join()
    assert result.status in ("timeout", "killed", "error"), describe(result)
    helpers = 2 if sandbox.variant.isolation == "bwrap" else 0  # bwrap monitor and init
    assert 2 <= peak[0] <= limit + helpers + 2, f"saw {peak[0]} processes"
    assert not any(os.path.exists(path) for path in created)  # removed after the run
    if sandbox.variant.use_cgroup and pids_base() is not None:
        assert len(created) == 1


def test_huge_allocation_is_out_of_memory(sandbox):
    result = sandbox.run("x = bytearray(50 * 2**30)", memory_mb=256)
    assert result.status == "oom", describe(result)
    assert "memory" in result.reason and "MemoryError" in result.reason


def test_segfault_is_a_crash_with_sigsegv(sandbox):
    result = sandbox.run("import ctypes; ctypes.string_at(0)")
    assert result.status == "crashed", describe(result)
    assert result.signal == signal.SIGSEGV
    assert "SIGSEGV" in result.reason


def test_exit_without_result_is_an_error(sandbox):
    result = sandbox.run("import os; print('bye', flush=True); os._exit(0)")
    assert result.status == "error", describe(result)
    assert result.returncode == 0 and result.result is None
    assert "without writing result.json" in result.reason
    assert result.stdout == "bye\n"


def test_ordinary_programs_work_and_their_result_is_read_back(sandbox):
    code = """
        import subprocess, sys, tempfile, threading
        subprocess.run([sys.executable, "-c", "print('child')"], check=True)
        with tempfile.NamedTemporaryFile() as scratch:
            scratch.write(b"scratch")
        worker = threading.Thread(target=lambda: open("result.json", "w").write('{"score": 2.5}'))
        worker.start()
        worker.join()
    """
    result = sandbox.run(code)
    assert result.status == "ok", describe(result)
    assert result.stdout == "child\n"
    assert json.loads(result.result) == {"score": 2.5}
    assert result.peak_memory_mb is None or result.peak_memory_mb < 256


def test_flood_of_output_is_truncated_without_hanging(sandbox):
    flood = """
        import sys
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            sys.stdout.buffer.write(chunk)
        sys.stdout.flush()
        sys.stderr.write("e" * 100000)
        open("result.json", "w").write("{}")
    """
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = sandbox.run(flood, timeout_s=20, output_bytes=65536)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert result.status == "ok", describe(result)
    assert result.stdout_truncated and len(result.stdout) == 65536
    assert result.stderr_truncated and len(result.stderr) == 65536
    assert result.duration_s < 15
    assert grown_mib < 40, f"parent grew by {grown_mib:.0f} MiB"


def test_secrets_in_the_parent_environment_are_invisible(sandbox, monkeypatch):
    secret = f"sk-{sandbox.token}-secret"
    for name in ("OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "MY_PASSWORD"):
        monkeypatch.setenv(name, secret)
    probe = f"""
        import json, os
        seen = {{"key": os.environ.get("OPENAI_API_KEY"), "names": sorted(os.environ)}}
        try:
            seen["parent_environ"] = open("/proc/{os.getpid()}/environ", "rb").read().decode()
        except OSError as error:
            seen["parent_environ"] = type(error).__name__
        json.dump(seen, open("result.json", "w"))
    """
    result = sandbox.run(probe)
    assert result.status == "ok", describe(result)
    seen = json.loads(result.result)
    assert seen["key"] is None
    assert secret not in result.result
    assert seen["parent_environ"] in ("FileNotFoundError", "PermissionError")
    allowed = {"PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONHASHSEED", "HOME", "TMPDIR"}
    allowed |= {"QD_SANDBOX_RUN", "QD_TEST_TAG", "PYTHONDONTWRITEBYTECODE", "PWD"}  # bwrap sets PWD
    assert set(seen["names"]) <= allowed


def test_writes_and_reads_outside_the_temp_dir_do_not_reach_the_host(sandbox, tmp_path):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(f"secret-{sandbox.token}")
    targets = {
        "tmp": f"/tmp/escape-{sandbox.token}",
        "repo": str(REPO / f"escape-{sandbox.token}"),
        "parent": "../escape",
    }
    probe = f"""
        import json, os
        outcome = {{}}
        for label, path in {targets!r}.items():
            try:
                with open(path, "w") as handle:
                    handle.write("pwned")
                outcome[label] = "written"
            except OSError as error:
                outcome[label] = type(error).__name__
        try:
            outcome["read"] = open({str(secret_file)!r}).read()
        except OSError as error:
            outcome["read"] = type(error).__name__
        open("inside.txt", "w").write("fine")
        outcome["inside"] = open("inside.txt").read()
        json.dump(outcome, open("result.json", "w"))
    """
    try:
        result = sandbox.run(probe)
        assert result.status == "ok", describe(result)
        outcome = json.loads(result.result)
        assert outcome["inside"] == "fine"
        assert outcome["read"] in ("FileNotFoundError", "PermissionError")
        assert outcome["repo"] in ("PermissionError", "OSError", "FileNotFoundError")
        if sandbox.variant.isolation == "process":  # Landlock: nothing outside is writable
            assert outcome["tmp"] == "PermissionError" and outcome["parent"] == "PermissionError"
        assert not os.path.exists(targets["tmp"])
        assert not os.path.exists(targets["repo"])
    finally:
        for path in (targets["tmp"], targets["repo"]):
            if os.path.exists(path):
                os.unlink(path)


def test_double_forked_daemon_dies_with_the_run(sandbox):
    daemon = """
        import os, sys, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        time.sleep(0.2)
        open("result.json", "w").write("{}")
    """
    result = sandbox.run(daemon)
    assert result.status == "ok", describe(result)
    assert result.duration_s < 4


def test_daemon_of_a_hanging_program_is_killed_at_the_timeout(sandbox):
    daemon = """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(60)
            os._exit(0)
        time.sleep(60)
    """
    result = sandbox.run(daemon, timeout_s=1.0)
    assert result.status == "timeout", describe(result)


def test_daemon_that_clears_its_environment_is_still_killed(sandbox):
    if sandbox.variant.id == "process-nocgroup":
        pytest.skip("/proc marker tracking cannot see a cleared environment (documented)")
    daemon = """
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                code = "import time; time.sleep(60)"
                os.execve(sys.executable, [sys.executable, "-c", code, sys.argv[1]], {})
            os._exit(0)
        import time; time.sleep(0.3)
        open("result.json", "w").write("{}")
    """
    result = sandbox.run(daemon)
    assert result.status == "ok", describe(result)


def test_network_is_unreachable(sandbox):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    probe = f"""
        import json, socket
        try:
            client = socket.create_connection(("127.0.0.1", {port}), timeout=1)
            outcome = "connected"
        except OSError as error:
            outcome = type(error).__name__
        json.dump(outcome, open("result.json", "w"))
    """
    try:
        result = sandbox.run(probe)
        assert result.status == "ok", describe(result)
        assert json.loads(result.result) in ("ConnectionRefusedError", "PermissionError", "OSError")
        with pytest.raises(BlockingIOError):
            server.accept()
    finally:
        server.close()


def test_cpu_limit_kills_with_sigxcpu(sandbox):
    if not sandbox.variant.use_cgroup and pids_base() is not None:
        pytest.skip("rlimits do not depend on the cgroup; covered by the cgroup variants")
    result = sandbox.run("while True: pass", timeout_s=5.0, cpu_s=1)
    assert result.status == "killed", describe(result)
    assert result.signal == signal.SIGXCPU and "CPU" in result.reason
    assert result.duration_s < 4


def test_file_size_limit_stops_writes(sandbox):
    result = sandbox.run("open('big', 'wb').write(b'x' * (3 << 20))", file_size_mb=1)
    assert result.status == "crashed", describe(result)  # Python ignores SIGXFSZ: EFBIG
    assert "file size limit (1 MiB)" in result.reason


def test_file_size_limit_kills_with_sigxfsz(sandbox):
    code = """
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        open('big', 'wb').write(b'x' * (3 << 20))
    """
    result = sandbox.run(code, file_size_mb=1)
    assert result.status == "killed", describe(result)
    assert result.signal == signal.SIGXFSZ and "file size" in result.reason


def test_peak_memory_is_measured(sandbox):
    if sandbox.variant.id == "bwrap-nocgroup":
        pytest.skip("bwrap without a cgroup does not measure memory (documented)")
    code = """
        import time
        block = bytearray(120 << 20)
        time.sleep(0.3)
        open("result.json", "w").write("{}")
    """
    result = sandbox.run(code, memory_mb=512)
    assert result.status == "ok", describe(result)
    assert 110 < result.peak_memory_mb < 250


def test_no_new_user_namespaces_or_capabilities(sandbox):
    probe = """
        import ctypes, json, os
        libc = ctypes.CDLL(None, use_errno=True)
        rc = libc.unshare(0x10000000)  # CLONE_NEWUSER
        caps = [line.split()[1] for line in open("/proc/self/status") if line.startswith("Cap")]
        json.dump({"unshare": rc, "errno": ctypes.get_errno(), "caps": caps, "uid": os.getuid()},
                  open("result.json", "w"))
    """
    result = sandbox.run(probe)
    assert result.status == "ok", describe(result)
    seen = json.loads(result.result)
    assert seen["unshare"] == -1
    assert seen["caps"][:3] == ["0000000000000000"] * 3  # inheritable, permitted, effective
    if sandbox.variant.isolation == "bwrap" and os.geteuid() == 0:
        assert seen["uid"] == 65534


def test_cannot_signal_the_engine(sandbox):
    if sandbox.variant.isolation == "process" and modes.landlock_abi() < 6:
        pytest.skip("signal scoping needs Landlock ABI 6 (Linux 6.12)")
    probe = f"""
        import json, os
        try:
            os.kill({os.getpid()}, 0)
            outcome = "signalled"
        except OSError as error:
            outcome = type(error).__name__
        json.dump(outcome, open("result.json", "w"))
    """
    result = sandbox.run(probe)
    assert result.status == "ok", describe(result)
    assert json.loads(result.result) in ("ProcessLookupError", "PermissionError")


def test_bwrap_hides_host_processes(sandbox):
    if sandbox.variant.isolation != "bwrap":
        pytest.skip("process mode shares the host PID namespace (documented)")
    probe = """
        import json, os
        json.dump(sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
                  open("result.json", "w"))
    """
    result = sandbox.run(probe)
    assert result.status == "ok", describe(result)
    assert len(json.loads(result.result)) <= 3


def _record_cgroups(monkeypatch) -> list[str]:
    """The paths of the run cgroups the sandbox creates from now on in this process."""
    created: list[str] = []
    original = PidsCgroup.create.__func__

    def create(cls, pids_max):
        cgroup = original(cls, pids_max)
        if cgroup is not None:
            created.append(cgroup.path)
        return cgroup

    monkeypatch.setattr(PidsCgroup, "create", classmethod(create))
    return created


def test_empty_run_cgroups_left_by_dead_processes_are_swept(tmp_path):
    base = tmp_path / "pids"
    base.mkdir()
    stale, fresh, other = base / "qd-sandbox-dead", base / "qd-sandbox-new", base / "user-cg"
    for path in (stale, fresh, other):
        path.mkdir()
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert sweep_stale(str(base)) == 1
    assert not stale.exists() and fresh.exists() and other.exists()
    busy = base / "qd-sandbox-busy"  # rmdir refuses a non-empty directory, as the kernel
    busy.mkdir()                     # refuses a populated cgroup
    (busy / "cgroup.procs").write_text("123\n")
    os.utime(busy, (old, old))
    assert sweep_stale(str(base)) == 0 and busy.exists()
