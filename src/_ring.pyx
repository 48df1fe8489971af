# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: freethreading_compatible=False
"""aiouring's native core: the io_uring driver, the event loop that owns it,
and the components that issue requests on it (see loop.pxd)."""

from libc.errno cimport (EIO, ELOOP, EINVAL, ENOSYS, ENOMEM, EBUSY, EAGAIN, EINTR,
                         ETIME, EEXIST, EBADF, EPIPE, ENAMETOOLONG, EAFNOSUPPORT, EOPNOTSUPP)
from libc.string cimport memset, memcpy, strerror
from cpython.mem cimport PyMem_Malloc, PyMem_Calloc, PyMem_Realloc, PyMem_Free
from posix.unistd cimport getpid
from posix.resource cimport getrlimit, rlimit, RLIMIT_NOFILE
from cpython.ref cimport Py_INCREF, Py_DECREF, Py_XDECREF
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release,
                             PyBuffer_FillInfo, PyBUF_WRITABLE, PyBUF_SIMPLE)
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.exc cimport PyErr_CheckSignals

from asyncio import Future, CancelledError, shield
from asyncio.log import logger
from os import strerror as os_strerror
from warnings import warn

# In dependency order; each component's declarations are in its .pxd.
include "common/errors.pyx"
include "common/constants.pyx"
include "common/buffers.pyx"
include "common/socket_objects.pyx"
include "ring/ring.pyx"
include "ring/registered.pyx"
include "ring/buffer_ring.pyx"
include "ring/probe.pyx"
include "loop/handles.pyx"
include "loop/timers.pyx"
include "loop/wakeup.pyx"
include "loop/watches.pyx"
include "loop/loop.pyx"
include "sockets/addresses.pyx"
include "sockets/sockets.pyx"
include "requests/steps.pyx"
include "transports/transports.pyx"
include "transports/base.pyx"
include "transports/stream.pyx"
include "transports/server.pyx"
include "transports/datagram.pyx"
include "transports/pipe.pyx"
include "transports/process.pyx"
include "files/files.pyx"
include "files/splice.pyx"
include "links/links.pyx"
include "programs/loop_side.pyx"
include "programs/kernel.pyx"
include "programs/programs.pyx"
