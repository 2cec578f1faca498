"""Sandbox launcher: applies limits and confinement to itself, then execs the program.

Run as `python -I -S _launch.py CONFIG_JSON -- PROGRAM ARGS...`; standard library only, so it
also runs inside a bwrap sandbox where qd is not importable. Doing this in a separate exec'd
process (not a `preexec_fn`) keeps spawning thread-safe. Steps, each optional per CONFIG:
join a pids cgroup, set rlimits, drop capabilities and switch user, set the parent-death
signal, set no_new_privs, install a seccomp filter, restrict itself with Landlock, exec.
On failure it prints `qd-sandbox: ...` to stderr and exits 125 (setup) or 126/127 (exec).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import sys

PR_SET_PDEATHSIG, PR_SET_SECCOMP, PR_CAPBSET_DROP = 1, 22, 24
PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 38, 47, 4
SECCOMP_MODE_FILTER = 2
LANDLOCK_CREATE, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT = 444, 445, 446
READ_EXEC = 1 | 4 | 8  # EXECUTE | READ_FILE | READ_DIR
FILE_RIGHTS = 1 | 2 | 4 | (1 << 14) | (1 << 15)  # EXECUTE WRITE READ TRUNCATE IOCTL_DEV
DEVICE_RIGHTS = 2 | 4 | (1 << 14) | (1 << 15)

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
_ZEROS = (ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


class Failure(Exception):
    """A setup step failed; the message names it."""


def _check(result: int, step: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise Failure(f"{step}: {os.strerror(err)} (errno {err})")
    return result


def _prctl(option: int, arg: int, step: str) -> None:
    _check(libc.prctl(option, ctypes.c_ulong(arg), *_ZEROS), step)


def join_cgroup(procs_file: str) -> None:
    """Move this process (and so all its future descendants) into a cgroup."""
    with open(procs_file, "w") as handle:
        handle.write(str(os.getpid()))


def set_rlimits(limits: dict[str, list[int]]) -> None:
    """Apply `{"AS": [soft, hard], ...}` (names without the RLIMIT_ prefix)."""
    for name, (soft, hard) in limits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (soft, hard))


def drop_bounding_caps() -> None:
    """Empty the capability bounding and ambient sets (needs CAP_SETPCAP)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as handle:
            last = int(handle.read())
    except (OSError, ValueError):
        last = 63
    for cap in range(last + 1):
        if libc.prctl(PR_CAPBSET_DROP, ctypes.c_ulong(cap), *_ZEROS) < 0:
            if ctypes.get_errno() != errno.EINVAL:
                _check(-1, f"dropping capability {cap} from the bounding set")
    libc.prctl(PR_CAP_AMBIENT, ctypes.c_ulong(PR_CAP_AMBIENT_CLEAR_ALL), *_ZEROS)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]


def clear_caps() -> None:
    """Set the effective, permitted and inheritable capability sets to empty."""
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    _check(libc.capset(ctypes.byref(header), data), "clearing capabilities")


def switch_user(uid: int, gid: int) -> None:
    """Become `uid`/`gid` with no supplementary groups (needs CAP_SETUID and CAP_SETGID)."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(program: bytes) -> None:
    """Install a raw seccomp-BPF program (no_new_privs must already be set)."""
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    mode = ctypes.c_ulong(SECCOMP_MODE_FILTER)
    result = libc.prctl(PR_SET_SECCOMP, mode, ctypes.byref(prog), *_ZEROS[:2])
    _check(result, "installing the seccomp filter")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("fs", "net", "scoped")]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _handled_fs(abi: int) -> int:
    rights = (1 << 13) - 1
    rights |= (1 << 13) if abi >= 2 else 0  # REFER
    rights |= (1 << 14) if abi >= 3 else 0  # TRUNCATE
    rights |= (1 << 15) if abi >= 5 else 0  # IOCTL_DEV
    return rights


def landlock(read: list[str], write: list[str], devices: list[str]) -> None:
    """Restrict this process: read/exec only under `read`, write only under `write`.

    Also (kernel permitting) no TCP bind/connect, no signals or abstract Unix sockets out of
    the domain. Paths that do not exist are skipped.
    """
    abi = libc.syscall(ctypes.c_long(LANDLOCK_CREATE), None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    _check(abi, "Landlock unavailable")
    fs = _handled_fs(abi)
    attr = _RulesetAttr(fs, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _check(
        libc.syscall(ctypes.c_long(LANDLOCK_CREATE), ctypes.byref(attr), ctypes.c_size_t(size),
                     ctypes.c_uint32(0)),
        "creating the Landlock ruleset",
    )  # fmt: skip
    rules = [(p, READ_EXEC) for p in read] + [(p, fs) for p in write]
    rules += [(p, DEVICE_RIGHTS) for p in devices]
    for path, rights in rules:
        _add_rule(ruleset, path, rights & fs)
    restrict = ctypes.c_long(LANDLOCK_RESTRICT)
    _check(libc.syscall(restrict, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "Landlock restrict")
    os.close(ruleset)


def _add_rule(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not os.path.isdir(f"/proc/self/fd/{fd}"):
            rights &= FILE_RIGHTS
        rule = _PathBeneath(rights, fd)
        _check(
            libc.syscall(ctypes.c_long(LANDLOCK_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(1),
                         ctypes.byref(rule), ctypes.c_uint32(0)),
            f"Landlock rule for {path}",
        )  # fmt: skip
    finally:
        os.close(fd)


def setup(config: dict) -> None:
    """Apply every step the config asks for, in a safe order."""
    if config.get("cgroup_procs"):
        join_cgroup(config["cgroup_procs"])
    set_rlimits(config.get("rlimits", {}))
    if config.get("drop_caps"):
        drop_bounding_caps()
    if config.get("uid") is not None:
        switch_user(config["uid"], config["gid"])
    if config.get("drop_caps"):
        clear_caps()
    if config.get("pdeathsig"):  # after switch_user, which would clear it
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL.value, "setting the parent-death signal")
    if config.get("no_new_privs"):
        _prctl(PR_SET_NO_NEW_PRIVS, 1, "setting no_new_privs")
    if config.get("seccomp"):
        install_seccomp(bytes.fromhex(config["seccomp"]))
    if config.get("landlock"):
        landlock(**config["landlock"])


def main(argv: list[str]) -> int:
    """Entry point; returns an exit code only when setup or exec fails."""
    if len(argv) < 4 or argv[2] != "--":
        print("qd-sandbox: usage: _launch.py CONFIG -- PROGRAM [ARGS...]", file=sys.stderr)
        return 125
    try:
        setup(json.loads(argv[1]))
    except (Failure, OSError, ValueError, KeyError, TypeError) as err:
        print(f"qd-sandbox: {err}", file=sys.stderr)
        return 125
    program = argv[3:]
    try:
        os.execvpe(program[0], program, os.environ)
    except OSError as err:
        print(f"qd-sandbox: cannot execute {program[0]!r}: {err.strerror}", file=sys.stderr)
        return 127 if err.errno == errno.ENOENT else 126
    return 125  # pragma: no cover - execvpe does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv))
