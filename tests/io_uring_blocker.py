"""A seccomp filter that fails io_uring_setup, as a container runtime's does.

A filter cannot be removed, so only a child process installs it: a test
that needs io_uring to be unavailable runs a fresh interpreter that puts this
folder on sys.path and calls `block(errno)` before anything creates a ring.
"""
import ctypes
import platform
import struct
import sys

# The filter names the system call by its x86_64 number.
SUPPORTED = sys.platform.startswith("linux") and platform.machine() == "x86_64"
IO_URING_SETUP = 425
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


def _statement(code, k):
    return struct.pack("HBBI", code, 0, 0, k)


def _jump(code, k, if_true, if_false):
    return struct.pack("HBBI", code, if_true, if_false, k)


def block(err):
    """From now on io_uring_setup fails with `err` in this process."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    program = (_statement(0x20, 0)                           # ld [nr]
               + _jump(0x15, IO_URING_SETUP, 0, 1)           # jeq io_uring_setup
               + _statement(0x06, 0x00050000 | err)          # ret ERRNO(err)
               + _statement(0x06, 0x7fff0000))               # ret ALLOW
    code = ctypes.create_string_buffer(program)
    header = ctypes.create_string_buffer(
        struct.pack("HxxxxxxQ", len(program) // 8, ctypes.addressof(code)))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(header), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")
