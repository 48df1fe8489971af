# Reading a socket object's fd without calling fileno(): the loop checks the
# sockets it has requests for (and watches) for close() before each enter.

import _socket

cdef extern from *:
    """
    /* The fd field of CPython's socket objects (the first after the object
     * header in every version): read without a method call, so checking
     * many sockets for close() each iteration stays cheap. */
    typedef struct { PyObject_HEAD int sock_fd; } aiouring_socket_object;
    static inline int aiouring_socket_object_fd(PyObject *sock) {
        return ((aiouring_socket_object *)sock)->sock_fd;
    }
    """
    int socket_object_fd "aiouring_socket_object_fd"(object sock)

cdef type SOCKET_TYPE = _socket.socket


cdef inline int current_fd(object sock) except -2:
    """sock's fd now (-1 once closed)."""
    if isinstance(sock, SOCKET_TYPE):
        return socket_object_fd(sock)
    return sock.fileno()
