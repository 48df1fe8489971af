"""HTTP/1.1 keep-alive "hello" server on asyncio.Protocol under
`wrk -t1 -c50` (wrk pinned to the other CPU): requests/s and requests per
server CPU-second, after an unmeasured warm-up run. The plain C servers
(io_uring and epoll) answer the same response alongside, as the machine's
limit."""
import re
import shutil
import subprocess

from .. import limits
from ..procs import LineReader, bench_cpus, cpu_seconds, spawn, stop

METRICS = (("requests_per_s", "requests/s"), ("requests_per_cpu_s", "requests/server-CPU-s"))
SECONDS, QUICK_SECONDS = 2.0, 1.0
OVERHEAD = 1.3          # server start-up and the 1 s wrk warm-up (for --dry-run)
CONNECTIONS = 50
LIMITS = "http"          # the C servers' rows: HTTP mode


def wrk(cpu, port, seconds):
    proc = spawn(["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{max(1, round(seconds))}s",
                  f"http://127.0.0.1:{port}/"], cpu=cpu, stdout=subprocess.PIPE, text=True)
    try:
        out, _ = proc.communicate(timeout=seconds + 30)
    finally:
        stop(proc)
    requests = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
    if not requests or proc.returncode:
        raise RuntimeError(f"wrk failed: {out.strip()[-300:]}")
    elapsed = float(requests.group(2)) / (1000 if requests.group(3) == "ms" else 1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
    if errors:
        raise RuntimeError(f"wrk reported errors: {errors.group(0)}")
    return int(requests.group(1)), elapsed


def run_sample(loop_name, seconds, quick):
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed")
    server_cpu, client_cpu = bench_cpus()
    server = spawn(limits.server_argv(loop_name, ["benchmarks.servers.http_hello"], "http",
                                      2 * seconds + 90),
                   cpu=server_cpu, stdout=subprocess.PIPE)
    try:
        port = LineReader(server.stdout, "http server").readline(30).split()[1]
        wrk(client_cpu, port, 1)                    # warm-up
        cpu0 = cpu_seconds(server.pid)
        requests, elapsed = wrk(client_cpu, port, seconds)
        cpu = cpu_seconds(server.pid) - cpu0
        if server.poll() is not None:
            raise RuntimeError(f"server exited with {server.returncode}")
        return {
            "requests_per_s": requests / elapsed,
            "requests_per_cpu_s": requests / cpu if cpu > 0 else None,
            "requests": requests,
            "elapsed_s": elapsed,
            "server_cpu_s": cpu,
        }
    finally:
        stop(server)
