"""The machine's limit: plain C servers (benchmarks/servers/uring_server.c on
io_uring, epoll_server.c on epoll) that scenarios with LIMITS run as rows
next to the loops. They answer like the Python servers (echo, or the HTTP
hello response), take the same --port / --max-seconds and print the same
"ready PORT" line; LIMITS names the mode ("echo" or "http")."""
from . import native
from .procs import python_module

# Row name: the program that serves it.
PROGRAMS = {"c-uring": "uring_server", "c-epoll": "epoll_server"}
NAMES = tuple(PROGRAMS)


def probe(name):
    """(usable, what or why): builds the server; a missing liburing or gcc
    makes its rows skipped, not failed."""
    try:
        native.build(PROGRAMS[name])
    except native.BuildError as e:
        return False, str(e)
    return True, f"plain C ({PROGRAMS[name]}.c)"


def server_argv(variant, python_server, mode, max_seconds):
    """The command that serves one sample: the C server for a limit row,
    else python_server ([module, args...]) on the loop `variant`."""
    if variant in PROGRAMS:
        return [native.build(PROGRAMS[variant]), mode, "--max-seconds", max_seconds]
    return python_module(*python_server, "--loop", variant, "--max-seconds", max_seconds)
