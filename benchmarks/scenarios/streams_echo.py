"""TCP echo server on asyncio streams (start_server, StreamReader/StreamWriter),
1 KiB messages, driven by the C ping-pong client as sock_echo is (10
connections; server and client pinned to their own CPUs; echoes/s and echoes
per server CPU-second)."""
from .sock_echo import METRICS, OVERHEAD, QUICK_SECONDS, SECONDS, run_echo  # noqa: F401

CONNS = 10
MSG_SIZE = 1024


def run_sample(loop_name, seconds, quick):
    return run_echo(["benchmarks.servers.echo", "--kind", "streams"], loop_name,
                    seconds, quick, CONNS, MSG_SIZE)
