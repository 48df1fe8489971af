# Child process exit, watched on the ring: a POLL_ADD on the child's pidfd
# completes when it exits; no watcher thread, no SIGCHLD handler.

import os as py_os
from os import (pidfd_open as os_pidfd_open,
                waitstatus_to_exitcode as os_waitstatus_to_exitcode, WNOHANG as OS_WNOHANG)


cdef class ChildExit(Operation):
    """Reaps one child when its pidfd becomes readable, then calls back."""

    cdef Loop loop
    cdef int pid
    cdef int pidfd
    cdef object callback
    cdef tuple args

    def __cinit__(self):
        self.pidfd = -1

    def __dealloc__(self):
        if self.pidfd >= 0:
            close_fd(self.pidfd)

    cdef int arm(self) except -1:
        io_uring_prep_poll_add(self.loop._ring.sqe_for(self), self.pidfd, POLLIN)
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if res == -ECANCELED or self.pidfd < 0:
            return 0
        try:
            # os.waitpid looked up now: tests and tools patch it.
            pid, status = py_os.waitpid(self.pid, OS_WNOHANG)
        except ChildProcessError:
            # Reaped elsewhere (someone else called waitpid()), as asyncio says.
            logger.warning("child process pid %d exit status already read: "
                           " will report returncode 255", self.pid)
            returncode = 255
        except Exception as exc:
            # Reported, and the process still ends: its wait() gets an answer.
            self.loop.call_exception_handler({
                'message': f'waitpid() of child process {self.pid} failed',
                'exception': exc,
            })
            returncode = 255
        else:
            if pid == 0:
                return self.arm()       # not exited after all
            returncode = os_waitstatus_to_exitcode(status)
        close_fd(self.pidfd)
        self.pidfd = -1
        self.loop.soon(self.callback, self.args + (returncode,))
        return 0
