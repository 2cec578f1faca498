"""A small seccomp-BPF filter: no user namespaces, io_uring, bpf or keyrings; maybe no sockets."""

from __future__ import annotations

import errno
import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 ip; u64 args[6]  (little-endian hosts only)
_NR, _ARCH, _ARG0_LOW = 0, 4, 16
_LD_ABS, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
CLONE_NEWUSER = 0x10000000
X32_BIT = 0x40000000

# Syscall numbers per machine: arch token and the calls the filter touches.
_TABLES: dict[str, dict[str, int]] = {
    "x86_64": {
        "arch": 0xC000003E, "socket": 41, "clone": 56, "unshare": 272, "clone3": 435,
        "bpf": 321, "perf_event_open": 298, "userfaultfd": 323, "keyctl": 250, "add_key": 248,
        "request_key": 249, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427,
    },
    "aarch64": {
        "arch": 0xC00000B7, "socket": 198, "clone": 220, "unshare": 97, "clone3": 435,
        "bpf": 280, "perf_event_open": 241, "userfaultfd": 282, "keyctl": 219, "add_key": 217,
        "request_key": 218, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427,
    },
}  # fmt: skip
_DENIED = (
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)  # fmt: skip


def supported() -> bool:
    """Whether this machine's architecture has a filter (x86_64 and aarch64)."""
    return _machine() in _TABLES


def build_filter(deny_sockets: bool) -> bytes | None:
    """Compile the filter to raw `struct sock_filter` records (for bwrap --seccomp or prctl).

    The filter returns EPERM for: clone/unshare with CLONE_NEWUSER, bpf, perf_event_open,
    userfaultfd, the keyring calls and io_uring (which could bypass the rest); ENOSYS for
    clone3 (its flags cannot be inspected; libc falls back to clone) and for any other
    syscall ABI (x32, 32-bit compat) whose numbers differ; with `deny_sockets`, EPERM for
    socket() so no network or Unix socket can be opened (socketpair stays allowed).

    Args:
        deny_sockets: Also forbid socket().

    Returns:
        The program, or None on an architecture without a table.
    """
    table = _TABLES.get(_machine())
    if table is None:
        return None
    denied = [table[name] for name in _DENIED] + ([table["socket"]] if deny_sockets else [])
    prog: list[tuple[int, object, object, int]] = [
        (_LD_ABS, 0, 0, _ARCH),
        (_JEQ, 0, "enosys", table["arch"]),
        (_LD_ABS, 0, 0, _NR),
    ]
    if _machine() == "x86_64":
        prog.append((_JGE, "enosys", 0, X32_BIT))
    prog.append((_JEQ, "enosys", 0, table["clone3"]))
    prog += [(_JEQ, "eperm", 0, nr) for nr in denied]
    prog += [(_JEQ, "flags", 0, table["clone"]), (_JEQ, "flags", 0, table["unshare"])]
    prog.append((_RET, 0, 0, _ALLOW))
    labels = {"flags": len(prog)}
    prog += [(_LD_ABS, 0, 0, _ARG0_LOW), (_JSET, "eperm", 0, CLONE_NEWUSER)]
    prog.append((_RET, 0, 0, _ALLOW))
    labels["eperm"] = len(prog)
    prog.append((_RET, 0, 0, _ERRNO | errno.EPERM))
    labels["enosys"] = len(prog)
    prog.append((_RET, 0, 0, _ERRNO | errno.ENOSYS))
    return b"".join(_encode(i, op, labels) for i, op in enumerate(prog))


def _encode(index: int, op: tuple[int, object, object, int], labels: dict[str, int]) -> bytes:
    code, jt, jf, k = op

    def jump(target: object) -> int:
        if isinstance(target, str):
            offset = labels[target] - index - 1
            if not 0 <= offset < 256:
                raise ValueError("seccomp jump out of range")
            return offset
        return int(target)  # type: ignore[call-overload]

    return struct.pack("<HBBI", code, jump(jt), jump(jf), k)


def _machine() -> str:
    machine = platform.machine().lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
