"""Event loop benchmarks: asyncio vs uvloop vs aiouring, with plain C servers
(c-uring, c-epoll) as the machine's limit where a scenario runs them.

    python -m benchmarks [SCENARIO|GROUP ...] [--quick]
                         [--loops asyncio,uvloop,aiouring,c-uring,c-epoll]
                         [--runs N] [--duration S] [--json PATH] [--plots DIR]
                         [--no-save] [--no-progress] [--dry-run]
    python -m benchmarks sock_echo --loop aiouring
    python -m benchmarks echo files --quick
    python -m benchmarks latency          # tail latency at 50% / 90% of uvloop's peak

Every sample runs in a fresh process; loops are interleaved run by run so
machine noise hits all of them alike. Loops that fail to import, and variants
a machine cannot run, are reported as skipped. Results (every sample and the
machine's facts) go to benchmarks/results/latest.json and plots of ratios,
one per scenario group, and of latency percentiles, next to it. See
benchmarks/harness.py.
"""
