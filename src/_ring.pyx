# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: freethreading_compatible=False
"""aiouring's native core: the io_uring driver and the hot half of the loop."""

from libc.errno cimport (EIO, ELOOP, EINVAL, ENOSYS, EPERM, ENOMEM, EBUSY, EAGAIN, EINTR,
                         ETIME, EEXIST, EBADF, ENAMETOOLONG, EAFNOSUPPORT, EOPNOTSUPP)
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t, uintptr_t
from libc.string cimport memset, memcpy, strerror
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from posix.unistd cimport getpid
from posix.resource cimport getrlimit, rlimit, RLIMIT_NOFILE
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF, Py_XDECREF
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release,
                             PyBuffer_FillInfo, PyBUF_WRITABLE, PyBUF_SIMPLE)
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals

from includes.uring cimport *
from includes.system cimport *
from includes.chain cimport *
from includes.bpf_runtime cimport *

from asyncio import Future, CancelledError, InvalidStateError, shield
from asyncio.base_events import _format_handle as format_handle
from asyncio.format_helpers import (
    _format_callback_source as format_callback_source,
    extract_stack,
)
from asyncio.log import logger
from collections import deque
from os import (fsencode, fsdecode, makedev, stat_result,
                strerror as os_strerror, register_at_fork)
from selectors import _fileobj_to_fd as fileobj_to_fd
from socket import (getaddrinfo as socket_getaddrinfo, socket as socket_socket,
                    socketpair)
from sys import _getframe as sys_getframe
from warnings import warn
from weakref import WeakKeyDictionary

try:
    from ssl import SSLSocket
except ImportError:      # Python built without ssl
    SSLSocket = None

cdef class LoopCore
cdef class SocketLoop
cdef class FileLoop
cdef class ChainLoop
cdef class ProgramLoop
cdef class AlignedBuffer
cdef class RegisteredFiles
cdef class RegisteredBuffers

include "ring.pxi"
include "registered.pxi"
include "handles.pxi"
include "timers.pxi"
include "bufring.pxi"
include "loopcore.pxi"
include "addresses.pxi"
include "sockops.pxi"
include "transport_base.pxi"
include "stream_transport.pxi"
include "stream_server.pxi"
include "datagram_transport.pxi"
include "pipe_transport.pxi"
include "process.pxi"
include "sendfile.pxi"
include "fileops.pxi"
include "chains.pxi"
include "bpfchain.pxi"
include "chainprog.pxi"
include "probe.pxi"
