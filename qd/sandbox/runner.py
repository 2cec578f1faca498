"""run_sandboxed: one untrusted program in a fresh temp dir, limited, confined, then cleaned up."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from qd.sandbox import bwrap, modes, seccomp
from qd.sandbox.capture import BoundedBuffer, Pump
from qd.sandbox.cgroup import PidsCgroup
from qd.sandbox.limits import MARKER_VAR, SandboxLimits, build_env
from qd.sandbox.procs import kill_marked, pidfd, vm_hwm_kib, wait_gone
from qd.sandbox.result import LAUNCH_PREFIX, Exit, SandboxError, SandboxResult, classify
from qd.sandbox.workdir import Workdir

log = logging.getLogger(__name__)
LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_launch.py")
BWRAP_HELPERS = 2  # bwrap's own processes (monitor and PID-namespace init) in the cgroup
_DEV_WRITABLE = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]


def run_sandboxed(
    argv: Sequence[str],
    files: Mapping[str, bytes | str] | None = None,
    limits: SandboxLimits | None = None,
    *,
    result_file: str | None = "result.json",
    tmp_root: str | os.PathLike[str] | None = None,
    use_cgroup: bool = True,
) -> SandboxResult:
    """Run an untrusted program and report what happened; never leaves a process behind.

    Safe to call from many threads at once: each call has its own temp dir, cgroup and
    process group, and spawning uses no `preexec_fn`.

    Args:
        argv: Program and arguments; relative paths are relative to the temp dir, which is the
            working directory; the program is looked up on the sandbox PATH.
        files: Files to create in the temp dir first (relative name -> content).
        limits: Limits and isolation (defaults: `SandboxLimits()`).
        result_file: Name of the file the program writes its result to, read back into
            `SandboxResult.result`; a clean exit without it is status "error". None: no result.
        tmp_root: Where the temp dir is created (default: the system temp dir).
        use_cgroup: Use a pids cgroup when one is writable (False forces /proc tracking).

    Returns:
        The run's `SandboxResult`.

    Raises:
        SandboxError: Bad argv, file names or result name, no temp dir, or isolation "bwrap"
            requested where bubblewrap does not work. Program failures never raise.
    """
    limits = limits or SandboxLimits()
    program = _check_argv(argv)
    if result_file is not None:
        _check_result_name(result_file)
    mode = modes.resolve(limits.isolation, _probe_bwrap)
    return _run(mode, program, files or {}, limits, result_file, tmp_root, use_cgroup)


@dataclass
class _Launch:
    """Everything needed to start one run's process, and the fds to close after spawning."""

    argv: list[str]
    pass_fds: list[int] = field(default_factory=list)
    info_fd: int | None = None


def _run(
    mode: str,
    program: list[str],
    files: Mapping[str, bytes | str],
    limits: SandboxLimits,
    result_file: str | None,
    tmp_root: str | os.PathLike[str] | None,
    use_cgroup: bool,
) -> SandboxResult:
    as_root = os.geteuid() == 0
    owner = (limits.sandbox_uid, limits.sandbox_gid) if mode == "bwrap" and as_root else None
    workdir = Workdir(tmp_root, owner)
    cgroup = None
    try:
        workdir.write_files(files)
        if use_cgroup:
            extra = BWRAP_HELPERS if mode == "bwrap" else 0
            cgroup = PidsCgroup.create(limits.max_processes + extra)
        token = secrets.token_hex(12)
        env = build_env(limits, workdir.path, token, os.environ)
        launch = _prepare(mode, program, limits, workdir.path, cgroup, as_root)
        outcome = _execute(launch, env, workdir.path, limits, cgroup, mode, token)
        text, truncated = (None, False)
        if result_file is not None:
            text, truncated = workdir.read_result(result_file, limits.result_bytes)
    finally:
        if cgroup is not None:
            cgroup.kill_all()
            cgroup.remove()
        workdir.remove()
    end, out, err, duration, peak = outcome
    status, reason = classify(end, err.text(), limits, result_file, text is not None)
    return SandboxResult(
        status=status, returncode=end.returncode, signal=end.signal, stdout=out.text(),
        stderr=err.text(), stdout_truncated=out.truncated, stderr_truncated=err.truncated,
        duration_s=duration, peak_memory_mb=peak, result=text, result_truncated=truncated,
        reason=reason, isolation=mode,
    )  # fmt: skip


def _prepare(
    mode: str,
    program: list[str],
    limits: SandboxLimits,
    workdir: str,
    cgroup: PidsCgroup | None,
    as_root: bool,
) -> _Launch:
    """Build the launcher command for `mode` (and the fds it inherits)."""
    outer: dict[str, object] = {
        "cgroup_procs": cgroup.procs_file if cgroup else None,
        "rlimits": _rlimits(limits, mode, cgroup is not None, as_root),
        "pdeathsig": True,
    }
    head = [sys.executable, "-I", "-S", LAUNCHER]
    if mode == "process":
        filt = seccomp.build_filter(deny_sockets=True)
        outer.update(drop_caps=as_root, no_new_privs=True, seccomp=filt.hex() if filt else None)
        if modes.landlock_abi() >= 1:
            outer["landlock"] = {
                "read": bwrap.read_paths(limits) + ["/proc", "/dev"],
                "write": [workdir],
                "devices": _DEV_WRITABLE,
            }
        return _Launch(head + [json.dumps(outer), "--"] + program)
    filt = seccomp.build_filter(deny_sockets=False)
    pass_fds = []
    seccomp_fd = None
    if filt is not None:
        seccomp_fd = os.memfd_create("qd-sandbox-seccomp", 0)
        os.write(seccomp_fd, filt)
        os.lseek(seccomp_fd, 0, os.SEEK_SET)
        pass_fds.append(seccomp_fd)
    info_r, info_w = os.pipe()
    pass_fds.append(info_w)
    switch = {"drop_caps": True, "uid": limits.sandbox_uid, "gid": limits.sandbox_gid}
    inner = [sys.executable, "-I", "-S", bwrap.INNER_LAUNCHER]
    inner += [json.dumps(switch if as_root else {}), "--"]  # uniform exec errors
    binary = bwrap.bwrap_binary() or "bwrap"
    command = bwrap.bwrap_argv(
        binary, limits, workdir, info_w, seccomp_fd, LAUNCHER, inner, program, as_root
    )
    return _Launch(head + [json.dumps(outer), "--"] + command, pass_fds, info_r)


def _rlimits(
    limits: SandboxLimits, mode: str, has_cgroup: bool, as_root: bool
) -> dict[str, list[int]]:
    cpu = limits.effective_cpu_s
    result = {
        "AS": [limits.memory_mb << 20] * 2,
        "CPU": [cpu, cpu + 1],
        "FSIZE": [limits.file_size_mb << 20] * 2,
        "CORE": [0, 0],
    }
    uid = limits.sandbox_uid if (mode == "bwrap" and as_root) else os.geteuid()
    if not has_cgroup and uid != 0:  # RLIMIT_NPROC counts every task of the uid
        helpers = BWRAP_HELPERS if mode == "bwrap" and not as_root else 0
        allowed = limits.max_processes + _tasks_of(uid) + helpers
        result["NPROC"] = [allowed, allowed]
    return result


def _tasks_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and os.stat(f"/proc/{entry}").st_uid == uid:
                count += len(os.listdir(f"/proc/{entry}/task"))
        except OSError:
            continue
    return count


def _execute(
    launch: _Launch,
    env: dict[str, str],
    workdir: str,
    limits: SandboxLimits,
    cgroup: PidsCgroup | None,
    mode: str,
    token: str,
) -> tuple[Exit, BoundedBuffer, BoundedBuffer, float, float | None]:
    """Spawn, capture, enforce the timeout, kill the whole tree, reap."""
    out, err = BoundedBuffer(limits.output_bytes), BoundedBuffer(limits.output_bytes)
    info = BoundedBuffer(1 << 16)
    own_fds = [launch.info_fd] if launch.info_fd is not None else []
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            launch.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=workdir, env=env, start_new_session=True,
            pass_fds=launch.pass_fds, close_fds=True,
        )  # fmt: skip
    except OSError as error:
        _close(own_fds)
        return Exit(None, None, setup_error=f"cannot start: {error}"), out, err, 0.0, None
    finally:
        _close(launch.pass_fds)
    assert proc.stdout is not None and proc.stderr is not None
    streams = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    streams.update({fd: info for fd in own_fds})
    child_fd = pidfd(proc.pid)
    own_fds += [child_fd] if child_fd is not None else []
    memory = _MemorySampler(proc.pid, cgroup)
    sampling = cgroup is not None or mode == "process"  # bwrap's child is not the program
    pump = Pump(proc.pid, streams, child_fd, memory.sample if sampling else None)
    exited = False
    try:
        exited = pump.wait(start + limits.timeout_s)
        duration = time.monotonic() - start
    finally:  # the child is still unreaped here, so its PID and group cannot be reused
        pump.read_available()
        init_fd = _bwrap_init(info) if mode == "bwrap" else None
        _terminate(proc.pid, cgroup, mode, token, init_fd)
        proc.returncode = os.waitstatus_to_exitcode(pump.reap())
        pump.drain(timeout_s=1.0)
        pump.close()
        proc.stdout.close()
        proc.stderr.close()
        _close(own_fds)
    end = _decode(proc.returncode, not exited, mode, _info_pid(info) is not None, err)
    return end, out, err, duration, memory.peak_mb()


class _MemorySampler:
    """Tracks the largest VmHWM of the run's processes (the cgroup's members, else the child).

    VmHWM never decreases during a process image's life, so sampling every tick misses only
    peaks reached in a process's last tick before it exits.
    """

    def __init__(self, pid: int, cgroup: PidsCgroup | None) -> None:
        self.pid = pid
        self.cgroup = cgroup
        self.peak_kib = 0

    def sample(self) -> None:
        pids = self.cgroup.pids() if self.cgroup is not None else [self.pid]
        self.peak_kib = max([self.peak_kib] + [vm_hwm_kib(pid) for pid in pids])

    def peak_mb(self) -> float | None:
        return self.peak_kib / 1024 if self.peak_kib else None


def _bwrap_init(info: BoundedBuffer) -> int | None:
    """Open a pidfd of bwrap's PID-namespace init named in the `--info-fd` JSON, if alive.

    The pidfd is kept only if, once opened, the PID is PID 1 of a nested namespace, so a
    reused PID is never waited on.
    """
    pid = _info_pid(info)
    fd = pidfd(pid) if pid is not None else None
    if fd is not None and not _is_namespace_init(pid):  # type: ignore[arg-type]
        os.close(fd)
        return None
    return fd


def _is_namespace_init(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as handle:
            fields = next((line.split()[1:] for line in handle if line.startswith("NSpid:")), [])
    except OSError:
        return False
    return len(fields) >= 2 and fields[-1] == "1"


def _info_pid(info: BoundedBuffer) -> int | None:
    try:
        return int(json.loads(info.text())["child-pid"])
    except (ValueError, KeyError, TypeError):
        return None


def _terminate(
    pid: int, cgroup: PidsCgroup | None, mode: str, token: str, init_fd: int | None
) -> None:
    """SIGKILL everything the run started, wherever it went, and wait until it is gone."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    if cgroup is not None:
        cgroup.kill_all()
    elif mode == "process":
        kill_marked(f"{MARKER_VAR}={token}".encode())
    if init_fd is not None:  # the namespace dies with its init, taking every process inside
        try:
            if not wait_gone(init_fd, 5.0):
                log.warning("bwrap sandbox init did not exit within 5 s")
        finally:
            os.close(init_fd)


def _decode(code: int, timed_out: bool, mode: str, started: bool, err: BoundedBuffer) -> Exit:
    """Exit code (negative: signal) of the direct child -> how the program ended."""
    if timed_out:
        return Exit(None if code < 0 else code, -code if code < 0 else None, timed_out=True)
    if code < 0:
        return Exit(None, -code)
    if mode == "bwrap" and not started:  # bwrap never reported the sandbox as set up
        lines = err.text().strip().splitlines()
        detail = lines[-1] if lines else f"bwrap exited with code {code}"
        return Exit(code, None, setup_error=detail.removeprefix(LAUNCH_PREFIX))
    if mode == "bwrap" and 128 < code <= 128 + 64:  # bwrap reports a fatal signal as 128 + N
        return Exit(None, code - 128)
    return Exit(code, None)


def _close(fds: list[int]) -> None:
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _check_argv(argv: Sequence[str]) -> list[str]:
    program = [str(arg) for arg in argv]
    if not program or not program[0]:
        raise SandboxError("argv must name a program")
    if any("\0" in arg for arg in program):
        raise SandboxError("argv must not contain NUL characters")
    return program


def _check_result_name(name: str) -> None:
    if not name or "/" in name or name in (".", "..") or "\0" in name:
        raise SandboxError(f"result_file must be a plain file name, got {name!r}")


def _probe_bwrap() -> str | None:
    """None when a trivial program runs under bwrap here, else the reason it does not."""
    binary = bwrap.bwrap_binary()
    if binary is None:
        return "bwrap is not installed"
    limits = SandboxLimits(timeout_s=30, isolation="bwrap")
    program = [sys.executable, "-I", "-S", "-c", "print('qd-sandbox-probe')"]
    try:
        result = _run("bwrap", program, {}, limits, None, None, True)
    except (OSError, SandboxError) as error:
        return f"bwrap probe failed: {error}"
    if result.status == "ok" and "qd-sandbox-probe" in result.stdout:
        return None
    detail = result.stderr.strip().splitlines()[-1:] or [result.reason]
    return f"{binary} cannot start a sandbox: {detail[0]}"
