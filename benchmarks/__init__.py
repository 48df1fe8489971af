"""Event loop benchmarks: asyncio vs uvloop vs aiouring.

    python -m benchmarks [SCENARIO|GROUP ...] [--quick] [--loops asyncio,uvloop,aiouring]
                         [--runs N] [--duration S] [--json PATH] [--plots DIR]
                         [--no-save] [--no-progress] [--dry-run]
    python -m benchmarks sock_echo --loop aiouring
    python -m benchmarks echo files --quick

Every sample runs in a fresh process; loops are interleaved run by run so
machine noise hits all of them alike. Loops that fail to import, and variants
a machine cannot run, are reported as skipped. Results (every sample and the
machine's facts) go to benchmarks/results/latest.json and plots of ratios,
one per scenario group, next to it. See benchmarks/harness.py.
"""
