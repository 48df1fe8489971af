# Socket addresses between Python's tuple/str form and struct sockaddr.

cdef socklen_t sockaddr_from_python(int family, object address,
                                    sockaddr_storage* storage) except 0
cdef object sockaddr_to_python(const sockaddr* addr, socklen_t length)
