"""TCP echo over loop.sock_accept/sock_recv/sock_sendall, driven by the C
ping-pong client (CONNS connections, MSG_SIZE messages). Server pinned to one
CPU, client to another; we report echoes/s and echoes per server CPU-second
(utime+stime over the measured window, so an idle-spinning loop pays)."""
import subprocess

from .. import limits, native
from ..procs import LineReader, bench_cpus, cpu_seconds, spawn, stop

METRICS = (("echoes_per_s", "echoes/s"), ("echoes_per_cpu_s", "echoes/server-CPU-s"))
SECONDS, QUICK_SECONDS = 2.0, 1.0
OVERHEAD = 0.8          # server start-up and the warm-up (for --dry-run)
CONNS = 10
MSG_SIZE = 1024

def run_sample(loop_name, seconds, quick):
    return run_echo(["benchmarks.servers.sock_echo"], loop_name, seconds, quick,
                    CONNS, MSG_SIZE)


def run_echo(server_module, loop_name, seconds, quick, conns, msg_size, client_cmd=None,
             warmup=None):
    """One sample: the echo server (server_module = [module, args...] on the
    loop `loop_name`, or the C limit server of that name) pinned to one CPU,
    the client on the other (the C client, or the argv prefix `client_cmd` of
    one that takes the same arguments and prints the same lines); echoes/s
    and per server CPU-second."""
    if warmup is None:
        warmup = 0.3 if quick else 0.5
    server_cpu, client_cpu = bench_cpus()
    client_argv = client_cmd or [native.build("echo_client")]
    server = spawn(limits.server_argv(loop_name, server_module, "echo",
                                      warmup + seconds + 60),
                   cpu=server_cpu, stdout=subprocess.PIPE)
    client = None
    try:
        port = LineReader(server.stdout, "echo server").readline(30).split()[1]
        client = spawn([*client_argv, "127.0.0.1", port, conns, msg_size, warmup, seconds],
                       cpu=client_cpu, stdout=subprocess.PIPE)
        out = LineReader(client.stdout, "echo client")
        if out.readline(warmup + 30) != "start":
            raise RuntimeError("echo client: unexpected output")
        cpu0 = cpu_seconds(server.pid)
        done = out.readline(seconds + 30).split()
        cpu1 = cpu_seconds(server.pid)
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        echoes, elapsed = int(done[1]), float(done[2])
        cpu = cpu1 - cpu0
        return {
            "echoes_per_s": echoes / elapsed,
            "echoes_per_cpu_s": echoes / cpu if cpu > 0 else None,
            "echoes": echoes,
            "elapsed_s": elapsed,
            "server_cpu_s": cpu,
        }
    finally:
        if client is not None:
            stop(client)
        stop(server)
