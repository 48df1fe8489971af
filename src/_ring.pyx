# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: freethreading_compatible=False
"""aiouring's native core: the io_uring driver and the hot half of the loop."""

from libc.errno cimport (EIO, ELOOP, EINVAL, ENOSYS, EPERM, ENOMEM, EBUSY, EAGAIN, EINTR,
                         ETIME, EEXIST, EBADF, ENAMETOOLONG, EAFNOSUPPORT)
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t, uintptr_t
from libc.string cimport memset, memcpy, strerror
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from posix.unistd cimport getpid
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF, Py_XDECREF
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release,
                             PyBUF_WRITABLE, PyBUF_SIMPLE)
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.exc cimport PyErr_CheckSignals

from includes.uring cimport *
from includes.system cimport *
from includes.chain cimport *
from includes.bpf_runtime cimport *

from asyncio import Future
from asyncio.base_events import _format_handle as format_handle
from asyncio.format_helpers import (
    _format_callback_source as format_callback_source,
    extract_stack,
)
from asyncio.log import logger
from collections import deque
from os import fsencode, fsdecode
from selectors import _fileobj_to_fd as fileobj_to_fd
from socket import (getaddrinfo as socket_getaddrinfo, socket as socket_socket,
                    socketpair)
from sys import _getframe as sys_getframe
from weakref import WeakKeyDictionary

try:
    from ssl import SSLSocket
except ImportError:      # Python built without ssl
    SSLSocket = None

cdef class LoopCore
cdef class SocketLoop
cdef class ChainLoop

include "ring.pxi"
include "handles.pxi"
include "timers.pxi"
include "loopcore.pxi"
include "addresses.pxi"
include "sockops.pxi"
include "bpfchain.pxi"
include "chainprog.pxi"
include "probe.pxi"
