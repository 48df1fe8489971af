# Socket addresses between Python's tuple/str form and struct sockaddr,
# matching what the socket module accepts and returns.

from os import fsencode, fsdecode
from socket import getaddrinfo as socket_getaddrinfo


cdef socklen_t sockaddr_from_python(int family, object address,
                                    sockaddr_storage* storage) except 0:
    """Fills storage from a Python address; returns its length."""
    cdef sockaddr_in* v4 = <sockaddr_in*>storage
    cdef sockaddr_in6* v6 = <sockaddr_in6*>storage
    cdef sockaddr_un* un = <sockaddr_un*>storage
    cdef bytes host, path
    memset(storage, 0, sizeof(sockaddr_storage))
    if family == AF_INET or family == AF_INET6:
        if not isinstance(address, tuple) or len(address) < 2:
            raise TypeError(
                f"{'AF_INET' if family == AF_INET else 'AF_INET6'} address "
                f"must be tuple, not {type(address).__name__}")
        port = address[1]
        if not isinstance(port, int):
            raise TypeError(f"'{type(port).__name__}' object cannot be interpreted as an integer")
        if not 0 <= port <= 65535:
            raise OverflowError("port must be 0-65535.")
        host = address[0].encode('idna') if isinstance(address[0], str) else bytes(address[0])
        if family == AF_INET:
            v4.sin_family = AF_INET
            v4.sin_port = htons(port)
            if inet_pton(AF_INET, host, &v4.sin_addr) != 1:
                return sockaddr_resolved(family, address, storage)
            return sizeof(sockaddr_in)
        v6.sin6_family = AF_INET6
        v6.sin6_port = htons(port)
        if len(address) > 2:
            v6.sin6_flowinfo = htonl(address[2])
        if len(address) > 3:
            v6.sin6_scope_id = address[3]
        if inet_pton(AF_INET6, host, &v6.sin6_addr) != 1:
            return sockaddr_resolved(family, address, storage)
        return sizeof(sockaddr_in6)
    if family == AF_UNIX:
        path = fsencode(address) if isinstance(address, str) else bytes(address)
        if len(path) >= sizeof(un.sun_path):
            raise OSError(ENAMETOOLONG, "AF_UNIX path too long")
        un.sun_family = AF_UNIX
        memcpy(un.sun_path, <char*>path, len(path))
        return <socklen_t>(offsetof_sun_path + len(path))
    raise OSError(EAFNOSUPPORT, f"address family {family} is not supported")


cdef socklen_t sockaddr_resolved(int family, object address,
                                 sockaddr_storage* storage) except 0:
    # Not numeric (a name, or an IPv6 scope): resolve it as socket.sendto()
    # and socket.connect() would, then convert the numeric result.
    infos = socket_getaddrinfo(address[0], address[1], family)
    if not infos:
        raise OSError(EINVAL, f"cannot resolve {address!r}")
    return sockaddr_from_python(family, infos[0][4], storage)


cdef object sockaddr_to_python(const sockaddr* addr, socklen_t length):
    cdef char text[INET6_ADDRSTRLEN + 1]
    cdef const sockaddr_in* v4
    cdef const sockaddr_in6* v6
    cdef const sockaddr_un* un
    cdef Py_ssize_t path_length
    if length == 0:
        return None
    if addr.sa_family == AF_INET:
        v4 = <const sockaddr_in*>addr
        inet_ntop(AF_INET, &v4.sin_addr, text, sizeof(text))
        return (text.decode('ascii'), ntohs(v4.sin_port))
    if addr.sa_family == AF_INET6:
        v6 = <const sockaddr_in6*>addr
        inet_ntop(AF_INET6, &v6.sin6_addr, text, sizeof(text))
        return (text.decode('ascii'), ntohs(v6.sin6_port),
                ntohl(v6.sin6_flowinfo), v6.sin6_scope_id)
    if addr.sa_family == AF_UNIX:
        un = <const sockaddr_un*>addr
        path_length = <Py_ssize_t>length - <Py_ssize_t>offsetof_sun_path
        if path_length <= 0:
            return ''
        if un.sun_path[0] == 0:          # abstract namespace: raw bytes
            return un.sun_path[:path_length]
        return fsdecode(un.sun_path[:strnlen(un.sun_path, path_length)])
    return (addr.sa_family, b'')
