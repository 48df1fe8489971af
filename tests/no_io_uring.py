"""Run a command under a seccomp filter that refuses io_uring, as Docker's
default profile (and several Kubernetes runtimes') does.

    python tests/no_io_uring.py ENOSYS|EPERM COMMAND [ARG ...]

The filter is a real classic-BPF seccomp program installed with prctl(2):
io_uring_setup, io_uring_enter and io_uring_register fail with the given
errno, every other system call is allowed. Filters survive execve(2), so
COMMAND (and every process it starts) runs without io_uring. Tests use
command() to build such a command line.
"""

import ctypes
import errno
import os
import platform
import struct
import sys

# The io_uring system calls have the same numbers on x86_64 and arm64.
IO_URING_SYSCALLS = (425, 426, 427)     # setup, enter, register
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

SUPPORTED = platform.machine() in AUDIT_ARCH

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
# Classic BPF opcodes: load word (absolute), jump if equal, return.
_LD_W_ABS, _JEQ_K, _RET_K = 0x20, 0x15, 0x06
# Offsets in struct seccomp_data.
_NR, _ARCH = 0, 4


def _insn(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def filter_program(err):
    """The filter as bytes of sock_filter instructions."""
    n = len(IO_URING_SYSCALLS)
    prog = [_insn(_LD_W_ABS, _ARCH),
            # Another ABI's numbers mean other calls: to the ALLOW return.
            _insn(_JEQ_K, AUDIT_ARCH[platform.machine()], 0, n + 1),
            _insn(_LD_W_ABS, _NR)]
    for i, nr in enumerate(IO_URING_SYSCALLS):
        # Jump to the ERRNO return, which follows the comparisons.
        prog.append(_insn(_JEQ_K, nr, n - i, 0))
    prog.append(_insn(_RET_K, _RET_ALLOW))
    prog.append(_insn(_RET_K, _RET_ERRNO | err))
    return b"".join(prog)


def install(err):
    """Installs the filter on this process (and its future children)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    code = ctypes.create_string_buffer(filter_program(err))
    fprog = ctypes.create_string_buffer(
        struct.pack("HxxxxxxQ", len(code.raw) // 8, ctypes.addressof(code)))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER,
                  ctypes.addressof(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def environ(**overrides):
    """os.environ without AIOURING_FALLBACK (a developer may have it set),
    plus overrides."""
    env = {k: v for k, v in os.environ.items() if k != "AIOURING_FALLBACK"}
    env.update(overrides)
    return env


def command(err, *args):
    """A command line that runs args under the filter; err is an errno."""
    return [sys.executable, os.path.abspath(__file__), errno.errorcode[err], *args]


if __name__ == "__main__":
    install(getattr(errno, sys.argv[1]))
    os.execvp(sys.argv[2], sys.argv[2:])
