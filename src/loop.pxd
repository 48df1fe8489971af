# aiouring's core, table of contents. One extension module (aiouring._ring)
# made of components, each in a folder with a .pxd that declares what it is
# and what the others may use:
#
#   includes/    C declarations: liburing (uring.pxd), libc (system.pxd), the
#                chain programs' C side (programs.pxd)
#   common/      errors and errno helpers, buffer exports, the clock, constants
#   ring/        the ring driver: Operation, Ring (SQEs, one enter per
#                iteration, CQE dispatch), registered files and buffers, the
#                provided buffer ring, kernel probes
#   requests/    the request layer: SQE layouts liburing lacks (prep.pxd) and
#                the typed, immutable steps of linked chains (steps.pxd)
#   loop/        the native event loop (this file's Loop): handles, timers,
#                wake-ups and signals, fd watches
#   sockets/     the sock_* API (SocketRequests), socket addresses
#   transports/  stream, datagram and pipe transports, servers, subprocess
#                exits (Transports)
#   files/       file requests for aiouring.open/aiouring.fs (FileRequests)
#                and the splice pump
#   links/       linked chains: aiouring.chain() (LinkedChains)
#   programs/    chain programs: loop-side driver, program ring in the kernel
#                (ChainPrograms)
#
# The Loop owns one Ring and one of each component; components reach the
# ring and each other only through it. aiouring.Loop (aiouring/loop.py) adds
# asyncio.BaseEventLoop's long tail on top.

from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t, int32_t, int64_t, uintptr_t
from cpython.object cimport PyObject
from includes.uring cimport *
from includes.system cimport *
from includes.programs cimport *

cdef class Operation
cdef class Ring
cdef class RegisteredFiles
cdef class RegisteredBuffers
cdef class AlignedBuffer
cdef class ProvidedBufferRing
cdef class Handle
cdef class TimerHandle
cdef class TimerHeap
cdef class Wakeup
cdef class FdWatches
cdef class Step
cdef class SocketRequests
cdef class Transports
cdef class FileOperation
cdef class FileRequests
cdef class SpliceRequest
cdef class SplicePump
cdef class LinkedChain
cdef class LinkedChains
cdef class ProgramOperation
cdef class ProgramRing
cdef class ChainPrograms


cdef class Loop:
    """The native event loop: the ring, its components, the ready queue and
    the timers."""
    # The ring and the components that issue requests on it.
    cdef readonly Ring _ring
    cdef readonly Wakeup _wakeup
    cdef readonly FdWatches _watches
    cdef readonly SocketRequests _sockets
    cdef readonly Transports _transports
    cdef readonly FileRequests _files
    cdef readonly LinkedChains _links
    cdef readonly ChainPrograms _programs
    # Scheduling.
    cdef list ready
    cdef TimerHeap timers
    # State asyncio.BaseEventLoop's own code reads and writes.
    cdef public bint _closed
    cdef public bint _stopping
    cdef public bint _debug
    cdef public object _thread_id
    cdef public double _clock_resolution
    cdef public double slow_callback_duration
    cdef public object _current_handle
    cdef readonly int _pid
    cdef object __weakref__

    cdef int check_closed(self) except -1
    cdef int check_thread(self) except -1
    cdef int check_callback(self, callback, str method) except -1
    cdef Handle soon(self, object callback, tuple args)
    cdef Handle soon_in(self, object context, object callback, tuple args)
    cdef TimerHandle schedule_timer(self, double when, callback, tuple args,
                                    context, str method)
    cdef int timer_cancelled(self, TimerHandle handle) except -1
    cdef int run_once(self) except -1
    cdef int run_handles(self, list handles) except -1
    cdef int run_handle_debug(self, handle) except -1


include "common/common.pxd"
include "ring/ring.pxd"
include "ring/registered.pxd"
include "ring/buffer_ring.pxd"
include "requests/prep.pxd"
include "requests/steps.pxd"
include "loop/handles.pxd"
include "loop/timers.pxd"
include "loop/wakeup.pxd"
include "loop/watches.pxd"
include "sockets/addresses.pxd"
include "sockets/sockets.pxd"
include "transports/transports.pxd"
include "files/files.pxd"
include "links/links.pxd"
include "programs/programs.pxd"
