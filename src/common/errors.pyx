# The exceptions the core raises and the errno helpers every component uses.
# They are defined here, in the core, and aiouring.errors re-exports them:
# nothing in the core imports back up into the package.

import asyncio as _asyncio
import errno as _errno
import os as _os


cdef object errno_error(int err):
    """OSError for a -res of a CQE; OSError() picks the subclass (e.g.
    ConnectionResetError) from the errno, as the os module's calls do."""
    return OSError(err, os_strerror(err))


cdef object path_error(int err, object filename, object filename2=None):
    """OSError naming the file(s), as the os module reports them."""
    if filename is None:
        return OSError(err, os_strerror(err))
    if filename2 is None:
        return OSError(err, os_strerror(err), filename)
    return OSError(err, os_strerror(err), filename, None, filename2)


cdef int raise_errno(int err) except -1:
    raise errno_error(err)


def _read_sysctl(name):
    try:
        with open(f"/proc/sys/{name.replace('.', '/')}") as f:
            return f.read().strip()
    except OSError:
        return None


class RingUnavailableError(OSError):
    """io_uring cannot be used on this machine; the message says why and how
    to fix it. Raised when a loop (or a feature probe) sets up a ring.
    ``errno`` is the error io_uring_setup(2) returned."""

    @classmethod
    def from_errno(cls, err):
        return cls(err, cls.explain(err))

    @staticmethod
    def explain(err):
        disabled = _read_sysctl("kernel.io_uring_disabled")
        if err == _errno.EPERM and disabled == "2":
            return ("io_uring is disabled on this machine (sysctl "
                    "kernel.io_uring_disabled=2); enable it with "
                    "'sysctl -w kernel.io_uring_disabled=0'")
        if err == _errno.EPERM and disabled == "1":
            group = _read_sysctl("kernel.io_uring_group")
            return ("io_uring is restricted to privileged processes and to "
                    f"members of group {group} (sysctl kernel.io_uring_disabled=1); "
                    "add this user to that group, or set "
                    "'sysctl -w kernel.io_uring_disabled=0'")
        if err in (_errno.EPERM, _errno.ENOSYS):
            return ("io_uring_setup(2) failed with "
                    f"{_errno.errorcode.get(err, err)}: the kernel has no io_uring "
                    "(CONFIG_IO_URING off, or older than 5.1) or a seccomp filter "
                    "blocks it, as Docker's and containerd's default profiles do; "
                    "allow io_uring_setup, io_uring_enter and io_uring_register in "
                    "the container's seccomp profile (e.g. "
                    "docker run --security-opt seccomp=<profile allowing them>)")
        if err == _errno.ENOMEM:
            return ("io_uring_setup(2) failed with ENOMEM: on kernels before 5.12 "
                    "ring memory counts against RLIMIT_MEMLOCK; raise it "
                    "(ulimit -l, or LimitMEMLOCK= in a systemd unit)")
        if err == _errno.EMFILE or err == _errno.ENFILE:
            return "io_uring_setup(2) failed: too many open files"
        return f"io_uring_setup(2) failed: {_os.strerror(err)}"


cdef int raise_ring_unavailable(int err) except -1:
    raise RingUnavailableError.from_errno(err)


class _Cancelled:
    """The outcome of a linked-chain step that the kernel cancelled (it
    never ran)."""

    def __repr__(self):
        return "aiouring.CANCELLED"

    def __reduce__(self):
        return "CANCELLED"


CANCELLED = _Cancelled()


class ChainError(OSError):
    """A step of a linked chain failed. ``errno`` and ``strerror`` are the
    failing step's; ``step`` is its index, ``step_name`` its builder's name,
    and ``results`` has every step's outcome: its result, an OSError for a
    failed step, or CANCELLED for the steps the failure cancelled."""

    def __init__(self, errno_, strerror, step, step_name, results):
        super().__init__(errno_, strerror)
        self.step = step
        self.step_name = step_name
        self.results = results

    def __str__(self):
        return (f"chain step {self.step} ({self.step_name}) failed: "
                f"[Errno {self.errno}] {self.strerror}")


class ChainTimeoutError(ChainError, TimeoutError):
    """The linked chain's timeout expired; ``step`` is the step it cut short."""


class ChainCancelledError(_asyncio.CancelledError):
    """The task awaiting a linked chain was cancelled; the chain was
    cancelled with it. ``results`` has every step's outcome once the kernel
    was done with the chain (None if the loop could not wait for that)."""

    def __init__(self, results):
        super().__init__()
        self.results = results


class ChainProgramError(Exception):
    """A chain program could not be built, loaded or run as asked. The base
    of aiouring.bpf's BuildError and VerifierError."""


class VerifierError(ChainProgramError):
    """The kernel's BPF verifier rejected a bundle's dispatcher at
    register(): ``log`` (also the exception's text) holds libbpf's messages
    with the verifier log; its last lines say why."""

    def __init__(self, message, log=""):
        super().__init__(message)
        self.log = log


# Public as aiouring.errors' (and aiouring's): tracebacks and reprs say so.
for _error in (RingUnavailableError, ChainError, ChainTimeoutError, ChainCancelledError,
               ChainProgramError, VerifierError, _Cancelled):
    _error.__module__ = "aiouring.errors"
del _error
