# add_reader/add_writer: each watched fd is a one-shot POLL_ADD re-armed each
# time it fires, so a callback that leaves data unread is called again
# (level-triggered, as select/epoll in asyncio). A multishot poll would only
# fire on new wake-ups and stall such callbacks. Polls are submitted at once,
# so they watch the file the fd named when they were made; a watched socket
# object that is closed has its poll cancelled before the next enter (the
# poll would keep the connection open), as epoll forgets a closed file.

from selectors import _fileobj_to_fd as fileobj_to_fd


cdef class FdWatch(Operation):

    cdef int arm(self) except -1:
        io_uring_prep_poll_add(self.owner.loop._ring.sqe_for(self), self.fd, self.events)
        self.owner.loop._ring.submit_now()
        return 0

    cdef int complete(self, int32_t res, uint32_t flags) except -1:
        if not self.active or res == -ECANCELED:
            return 0
        self.arm()
        if not self.handle._cancelled:
            self.owner.loop.ready.append(self.handle)
        return 0


cdef class FdWatches:

    def __cinit__(self):
        self.readers = {}
        self.writers = {}

    cdef object watch(self, dict watches, fileobj, uint32_t events, callback, tuple args):
        cdef int fd = fileobj_to_fd(fileobj)
        cdef FdWatch watch
        if fcntl(fd, F_GETFD) < 0:
            raise OSError(EBADF, os_strerror(EBADF))
        handle = new_handle(self.loop, callback, args, None)
        watch = watches.get(fd)
        if watch is not None:
            watch.handle.cancel()
            watch.handle = handle
            watch.fileobj = fileobj
            return handle
        watch = FdWatch.__new__(FdWatch)
        watch.owner = self
        watch.fd = fd
        watch.fileobj = fileobj
        watch.events = events
        watch.handle = handle
        watch.active = True
        watch.arm()
        watches[fd] = watch
        return handle

    cdef bint unwatch(self, dict watches, fileobj) except -1:
        cdef FdWatch watch = None
        try:
            watch = watches.pop(fileobj_to_fd(fileobj), None)
        except ValueError:
            # A socket object closed since it was registered (fileno() is -1):
            # found by the object, as a selector finds it.
            for fd, candidate in watches.items():
                if (<FdWatch>candidate).fileobj is fileobj:
                    watch = watches.pop(fd)
                    break
            else:
                raise
        if watch is None:
            return False
        watch.active = False
        watch.handle.cancel()
        if not self.loop._closed:
            # Cancel now: the poll holds a reference to the file, and the
            # caller may close the fd expecting the socket to go away.
            self.loop._ring.cancel(watch)
            self.loop._ring.submit_now()
        return True

    cdef int before_enter(self) except -1:
        """Cancels the polls of watched socket objects closed since."""
        cdef FdWatch watch
        for watches in (self.readers, self.writers):
            for watch in (<dict>watches).values():
                if (watch.active and watch.user_data and isinstance(watch.fileobj, SOCKET_TYPE)
                        and socket_object_fd(watch.fileobj) < 0):
                    watch.active = False
                    self.loop._ring.cancel(watch)
        return 0

    cdef int close(self) except -1:
        for watches in (self.readers, self.writers):
            for watch in watches.values():
                (<FdWatch>watch).active = False
            watches.clear()
        return 0
